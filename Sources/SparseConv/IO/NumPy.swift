// Foundation is used only to read and write files; the format itself is
// decoded by hand so that every malformed input ends in a thrown error.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes single tensors in NumPy's `.npy` format.
///
/// Use it to feed inputs to a model, save outputs and compare against golden
/// data produced by NumPy or PyTorch (`np.save("x.npy", t.numpy())`).
///
/// ## Layout
/// An `.npy` file is the 6-byte magic `\x93NUMPY`, a major and a minor version
/// byte, the header length (little-endian `UInt16` in version 1.0, `UInt32` in
/// 2.0 and 3.0), a header dictionary such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with
/// spaces and a newline, and then the elements in row-major (C) order.
///
/// - Reading accepts versions 1.0, 2.0 and 3.0, little-endian (`<`, or `=`/`|`/no
///   prefix on a little-endian host) `float32`, `float64` and `float16` data in
///   C order. `float64` and `float16` are converted to `Float` (rounding to
///   nearest for `float64`). A 0-d array (shape `()`) is read as shape `[1]`,
///   because a `Tensor` has at least one dimension.
/// - Writing produces exactly what `np.save` writes for a C-contiguous
///   `float32` array: version 1.0 (2.0 only if the header needs more than
///   65535 bytes), header padded so that the data starts at a multiple of 64 bytes.
///
/// Everything else fails with a ``SparseConvError``, never a crash: big-endian
/// data, Fortran-order arrays, other dtypes (`<i4`, `|u1`, structured, ...),
/// arrays with a zero extent, malformed headers, truncated or over-long data,
/// and shapes whose element count overflows.
///
/// ```swift
/// let input = try NumPy.read(contentsOf: "input.npy")      // e.g. [1, 3, 224, 224]
/// let output = try conv(input)
/// try NumPy.write(output, to: "output.npy")                 // np.load("output.npy")
/// ```
public enum NumPy {
    /// Reads a tensor from an `.npy` file.
    ///
    /// - Parameter path: the file to read.
    /// - Returns: the array as a `float32` tensor of the same shape (`[1]` for a 0-d array).
    /// - Throws: `SparseConvError.invalidArgument` when the file cannot be read or
    ///   is not a well-formed `.npy` file, `.unsupported` for valid arrays this
    ///   reader does not handle (dtype, byte order, Fortran order, version),
    ///   `.sizeOverflow` when the shape's element count overflows,
    ///   `.outOfMemory` when the file or the tensor is larger than
    ///   ``ResourceLimits`` allows. Messages name the file.
    public static func read(contentsOf path: String) throws -> Tensor {
        // The whole file is read into memory, so its size is checked before reading.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int {
            do {
                try ResourceLimits.checkAllocation(bytes: size, "the file (\(size) bytes)")
            } catch let error as SparseConvError {
                throw annotate(error, path: path)
            }
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SparseConvError.invalidArgument("npy: cannot read '\(path)': \(error.localizedDescription)")
        }
        do {
            return try data.withUnsafeBytes { try decode($0) }
        } catch let error as SparseConvError {
            throw annotate(error, path: path)
        }
    }

    /// Decodes a tensor from the bytes of an `.npy` file.
    ///
    /// - Parameter data: the complete file contents.
    /// - Returns: the array as a `float32` tensor of the same shape (`[1]` for a 0-d array).
    /// - Throws: as ``read(contentsOf:)``.
    public static func read(data: [UInt8]) throws -> Tensor {
        try data.withUnsafeBytes { try decode($0) }
    }

    /// Writes a tensor to an `.npy` file, replacing it atomically.
    ///
    /// The bytes go to a temporary file in the destination's directory, which
    /// is then renamed over `path`, so readers never see a half-written file
    /// and a failed write leaves any previous file intact.
    ///
    /// - Parameters:
    ///   - tensor: the tensor to save as a C-order `<f4` array of the same shape.
    ///   - path: the destination; its directory must exist.
    /// - Throws: `SparseConvError.invalidArgument` when the file cannot be written.
    public static func write(_ tensor: Tensor, to path: String) throws {
        try AtomicFile.write(Data(encode(tensor)), to: path, what: "npy")
    }

    /// Encodes a tensor as the bytes of an `.npy` file.
    ///
    /// The result is byte-for-byte what `np.save` writes for the same
    /// `float32` array, including the spare header space NumPy reserves for
    /// growing the first axis.
    ///
    /// - Parameter tensor: the tensor to encode as a C-order `<f4` array.
    /// - Returns: the complete file contents.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': \(pythonTuple(tensor.shape)), }"
        // NumPy leaves room for the first extent to grow to 21 digits so that
        // appending along axis 0 can rewrite the header in place.
        dictionary += String(repeating: " ", count: max(0, growthDigits - String(tensor.shape[0]).count))
        let headerLength = dictionary.utf8.count + 1  // + the final newline
        var version: UInt8 = 1
        var prefixLength = magic.count + 2 + 2
        var padding = alignment - (prefixLength + headerLength) % alignment
        if headerLength + padding > Int(UInt16.max) {
            version = 2
            prefixLength = magic.count + 2 + 4
            padding = alignment - (prefixLength + headerLength) % alignment
        }
        let paddedLength = headerLength + padding
        let dataLength = tensor.count * MemoryLayout<Float>.size

        var bytes: [UInt8] = []
        bytes.reserveCapacity(prefixLength + paddedLength + dataLength)
        bytes += magic
        bytes += [version, 0]
        let lengthBytes = version == 1 ? 2 : 4
        for index in 0..<lengthBytes { bytes.append(UInt8(truncatingIfNeeded: paddedLength >> (8 * index))) }
        bytes += dictionary.utf8
        bytes += repeatElement(UInt8(ascii: " "), count: padding)
        bytes.append(UInt8(ascii: "\n"))
        tensor.withUnsafeBufferPointer { scalars in
            if hostIsLittleEndian {
                bytes += UnsafeRawBufferPointer(scalars)
            } else {
                for value in scalars {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
                }
            }
        }
        return bytes
    }

    // MARK: - Decoding

    /// `\x93NUMPY`.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// NumPy aligns the start of the data to this many bytes.
    static let alignment = 64
    /// NumPy's GROWTH_AXIS_MAX_DIGITS.
    static let growthDigits = 21
    /// Headers longer than this are rejected before parsing. NumPy's own limit
    /// is 10 000 characters; this one is looser but still bounds the work.
    static let maxHeaderLength = 1 << 20
    static let hostIsLittleEndian = UInt16(1).littleEndian == 1

    /// The element types that can be converted to `Float`.
    enum Element {
        case float16, float32, float64

        var size: Int {
            switch self {
            case .float16: 2
            case .float32: 4
            case .float64: 8
            }
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> Tensor {
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            if bytes.count < magic.count, bytes.elementsEqual(magic.prefix(bytes.count)) {
                throw SparseConvError.invalidArgument("npy: truncated file (\(bytes.count) bytes)")
            }
            throw SparseConvError.invalidArgument("npy: not an .npy file (missing the \\x93NUMPY magic)")
        }
        guard bytes.count >= magic.count + 2 else {
            throw SparseConvError.invalidArgument("npy: truncated file (\(bytes.count) bytes, no version)")
        }
        let major = bytes[magic.count], minor = bytes[magic.count + 1]
        guard minor == 0, (1...3).contains(major) else {
            throw SparseConvError.unsupported("npy: format version \(major).\(minor) (only 1.0, 2.0 and 3.0 are read)")
        }
        let lengthBytes = major == 1 ? 2 : 4
        let headerStart = magic.count + 2 + lengthBytes
        guard bytes.count >= headerStart else {
            throw SparseConvError.invalidArgument("npy: truncated file (\(bytes.count) bytes, no header length)")
        }
        var headerLength = 0
        for index in 0..<lengthBytes { headerLength |= Int(bytes[magic.count + 2 + index]) << (8 * index) }
        guard headerLength <= maxHeaderLength else {
            throw SparseConvError.invalidArgument("npy: header length \(headerLength) exceeds \(maxHeaderLength) bytes")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw SparseConvError.invalidArgument(
                "npy: truncated header (\(headerLength) bytes announced, \(bytes.count - headerStart) present)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[headerStart..<headerStart + headerLength])
        // Versions 1.0 and 2.0 store the header in Latin-1, 3.0 in UTF-8.
        let text = try major == 3 ? decodeUTF8(headerBytes) : decodeLatin1(headerBytes)
        let header = try NumPyHeader(parsing: text)

        let element = try parseDescr(header.descr)
        if header.fortranOrder {
            throw SparseConvError.unsupported(
                "npy: Fortran-order (column-major) arrays are not read; save np.ascontiguousarray(a) instead")
        }
        if let negative = header.shape.first(where: { $0 < 0 }) {
            throw NumPyHeader.malformed("negative extent \(negative) in shape \(pythonTuple(header.shape))")
        }
        if header.shape.contains(0) {
            throw SparseConvError.invalidArgument(
                "npy: the array of shape \(pythonTuple(header.shape)) is empty; a Tensor needs every extent ≥ 1")
        }
        let shape = header.shape.isEmpty ? [1] : header.shape
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw SparseConvError.sizeOverflow("npy: shape \(pythonTuple(header.shape)) has too many elements")
            }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: element.size)
        guard !overflow else {
            throw SparseConvError.sizeOverflow("npy: shape \(pythonTuple(header.shape)) has too many bytes")
        }
        // Checked before allocating, so an absurd shape cannot allocate more
        // than the file itself holds.
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        guard available >= byteCount else {
            throw SparseConvError.invalidArgument(
                "npy: truncated data: shape \(pythonTuple(header.shape)) of '\(header.descr)' needs \(byteCount) bytes, "
                + "the file has \(available)")
        }
        guard available == byteCount else {
            throw SparseConvError.invalidArgument(
                "npy: \(available - byteCount) unexpected bytes after the array data (one array per file)")
        }

        var tensor = try Tensor(shape: shape)
        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<dataStart + byteCount])
        tensor.withUnsafeMutableBufferPointer { out in
            switch element {
            case .float32 where hostIsLittleEndian:
                UnsafeMutableRawBufferPointer(out).copyMemory(from: data)
            case .float32:
                for index in 0..<count {
                    let bits = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
                    out[index] = Float(bitPattern: bits)
                }
            case .float64:
                for index in 0..<count {
                    let bits = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
                    out[index] = Float(Double(bitPattern: bits))
                }
            case .float16:
                for index in 0..<count {
                    let bits = UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
                    out[index] = floatFromHalf(bits)
                }
            }
        }
        return tensor
    }

    /// Maps a dtype string such as `<f4` to an element type.
    static func parseDescr(_ descr: String) throws -> Element {
        var code = Substring(descr)
        var littleEndian = hostIsLittleEndian
        if let order = code.first, "<>=|".contains(order) {
            code = code.dropFirst()
            // '=' is native and '|' "not applicable"; NumPy reads both as native.
            if order == "<" { littleEndian = true }
            if order == ">" { littleEndian = false }
        }
        let element: Element
        switch code {
        case "f2": element = .float16
        case "f4": element = .float32
        case "f8": element = .float64
        default:
            throw SparseConvError.unsupported(
                "npy: dtype '\(descr)' (only float16, float32 and float64 are read; convert with a.astype('<f4'))")
        }
        guard littleEndian else {
            throw SparseConvError.unsupported(
                "npy: big-endian data ('\(descr)'); convert with a.astype('<f\(element.size)')")
        }
        return element
    }

    /// IEEE 754 binary16 to binary32, exactly (every half is representable).
    /// Written out because `Float16` is unavailable on some platforms (Intel macOS).
    static func floatFromHalf(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:  // infinity or NaN, keeping the payload
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:  // zero or subnormal: mantissa × 2^-24
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
    }

    static func decodeLatin1(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: bytes.lazy.map { Unicode.Scalar($0) })
        return String(scalars)
    }

    static func decodeUTF8(_ bytes: UnsafeRawBufferPointer) throws -> String {
        var scalars = String.UnicodeScalarView()
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return String(scalars)
            case .error: throw NumPyHeader.malformed("the version 3.0 header is not valid UTF-8")
            }
        }
    }

    /// A shape as Python writes a tuple: `()`, `(3,)`, `(2, 3)`.
    static func pythonTuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Puts the file name into a decoding error's message.
    private static func annotate(_ error: SparseConvError, path: String) -> SparseConvError {
        func tagged(_ message: String) -> String {
            let body = message.hasPrefix("npy: ") ? message.dropFirst(5) : Substring(message)
            return "npy: '\(path)': \(body)"
        }
        switch error {
        case .invalidArgument(let message): return .invalidArgument(tagged(message))
        case .unsupported(let message): return .unsupported(tagged(message))
        case .sizeOverflow(let message): return .sizeOverflow(tagged(message))
        case .outOfMemory(let message): return .outOfMemory(tagged(message))
        default: return error
        }
    }
}
