import Foundation

/// Decodes ONNX `TensorProto`s (initializers and `Constant` values) into
/// SparseConv tensors, from any of the encodings exporters use: `raw_data`,
/// the typed repeated fields, or an external data file next to the model.
///
/// Every size is checked against the bytes actually present before anything
/// is allocated, so a file that declares huge dimensions with little data is
/// rejected instead of exhausting memory.
final class ONNXTensorDecoder {
    /// Elements one tensor may hold: 2³² floats (16 GiB) is beyond any model this library runs.
    static let maximumElements = 1 << 32

    /// Where `location` of external data is resolved; nil when the model came from memory.
    let directory: String?
    private var files: [String: FileHandle] = [:]
    /// Bytes of float tensors decoded so far: the model's weights together must
    /// fit the memory limit, not only each one alone.
    private(set) var decodedBytes = 0

    init(directory: String?) { self.directory = directory }

    deinit { for handle in files.values { try? handle.close() } }

    /// `dims` as Ints, with the element count.
    func shape(of tensor: Onnx_TensorProto, _ context: String) throws -> (dims: [Int], count: Int) {
        var count = 1
        var dims: [Int] = []
        for dim in tensor.dims {
            guard dim >= 0, dim <= Int64(Self.maximumElements) else {
                throw SparseConvError.invalidSpec("\(context): dimension \(dim) out of range in \(tensor.dims)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= Self.maximumElements else {
                throw SparseConvError.invalidSpec("\(context): dimensions \(tensor.dims) hold too many elements")
            }
            count = product
            dims.append(Int(dim))
        }
        return (dims, count)
    }

    /// A float tensor (float32, or float64 converted) of shape `dims` (`[1]` for a scalar).
    func floats(_ tensor: Onnx_TensorProto, _ context: String) throws -> (dims: [Int], tensor: Tensor) {
        let (dims, count) = try shape(of: tensor, context)
        guard count > 0 else { throw SparseConvError.invalidSpec("\(context): tensor \(tensor.dims) is empty") }
        let type = Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType))
        guard type == .float || type == .double else {
            throw SparseConvError.unsupported("\(context): data type \(Self.typeName(tensor.dataType)); only float32 and float64 weights are supported")
        }
        let bytes = try ResourceLimits.checkAllocation(elements: count, elementSize: MemoryLayout<Float>.stride, "\(context): tensor \(tensor.dims)")
        let total = try ResourceLimits.sum(decodedBytes, bytes, "\(context): the model's weights")
        try ResourceLimits.checkAllocation(bytes: total, "\(context): the model's weights up to this tensor")
        decodedBytes = total
        // The data is found and its size checked before the tensor is allocated.
        let stored = try rawBytes(tensor, elementSize: type == .float ? 4 : 8, count: count, context)
        if stored == nil {
            let values = type == .float ? tensor.floatData.count : tensor.doubleData.count
            guard values == count else {
                throw SparseConvError.invalidSpec("\(context): \(type == .float ? "float_data" : "double_data") holds \(values) values, dimensions \(tensor.dims) need \(count)")
            }
        }
        // Every branch below writes all `count` elements, so the storage is not zeroed first.
        let result = try Tensor(shape: dims.isEmpty ? [1] : dims, fillingEveryElement: { out in
            if let stored {
                stored.withUnsafeBytes { raw in Self.convert(raw, isDouble: type == .double, into: out) }
            } else if type == .float {
                tensor.floatData.withUnsafeBufferPointer { values in
                    out.baseAddress!.update(from: values.baseAddress!, count: count)
                }
            } else {
                tensor.doubleData.withUnsafeBufferPointer { values in
                    for i in 0..<count { out[i] = Float(values[i]) }
                }
            }
        })
        return (dims, result)
    }

    /// Little-endian float32 or float64 bytes (exactly `out.count` values) into `out`.
    static func convert(_ raw: UnsafeRawBufferPointer, isDouble: Bool, into out: UnsafeMutableBufferPointer<Float>) {
        guard let destination = out.baseAddress, !out.isEmpty else { return }
        if !isDouble {
            #if _endian(little)
            // The host order is ONNX's, so the weights are one bulk copy: for
            // VGG-16 this is 528 MiB, where a per-element loop cost a third of the load.
            UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress!, byteCount: 4 * out.count)
            #else
            for i in 0..<out.count {
                out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        } else {
            for i in 0..<out.count {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        }
    }

    /// An integer tensor (int64 or int32), e.g. a Reshape target or Unsqueeze axes.
    func integers(_ tensor: Onnx_TensorProto, _ context: String) throws -> [Int64] {
        let (_, count) = try shape(of: tensor, context)
        guard count <= 1 << 16 else { throw SparseConvError.invalidSpec("\(context): \(count) integers where a short list is expected") }
        let type = Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType))
        guard type == .int64 || type == .int32 else {
            throw SparseConvError.invalidSpec("\(context): expected int64 values, got \(Self.typeName(tensor.dataType))")
        }
        if let bytes = try rawBytes(tensor, elementSize: type == .int64 ? 8 : 4, count: count, context) {
            return bytes.withUnsafeBytes { raw in
                (0..<count).map { i in
                    type == .int64 ? Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                        : Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                }
            }
        }
        let values = type == .int64 ? tensor.int64Data : tensor.int32Data.map(Int64.init)
        guard values.count == count else {
            throw SparseConvError.invalidSpec("\(context): holds \(values.count) integers, dimensions \(tensor.dims) need \(count)")
        }
        return values
    }

    /// The bytes of `raw_data` or of the external file, checked to be exactly
    /// `count` elements; nil when the values are in a typed field instead.
    private func rawBytes(_ tensor: Onnx_TensorProto, elementSize: Int, count: Int, _ context: String) throws -> Data? {
        let expected = count * elementSize  // count ≤ 2³², no overflow
        if tensor.dataLocation == .external {
            let bytes = try external(tensor, expected: expected, context)
            return bytes
        }
        guard tensor.hasRawData else { return nil }
        guard tensor.rawData.count == expected else {
            throw SparseConvError.invalidSpec("\(context): raw_data has \(tensor.rawData.count) bytes, dimensions \(tensor.dims) need \(expected)")
        }
        return tensor.rawData
    }

    /// Reads external data: `location` relative to the model's directory,
    /// optional `offset` and `length`.
    private func external(_ tensor: Onnx_TensorProto, expected: Int, _ context: String) throws -> Data {
        var entries: [String: String] = [:]
        for entry in tensor.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw SparseConvError.invalidSpec("\(context): external data without a location")
        }
        // Like onnx.checker: a model may only point at files beside or below it.
        let components = location.split(separator: "/", omittingEmptySubsequences: false)
        guard !location.hasPrefix("/"), !location.contains("\\"), !components.contains("..") else {
            throw SparseConvError.invalidSpec("\(context): external data location '\(location)' is outside the model's directory")
        }
        guard let directory else {
            throw SparseConvError.invalidArgument("\(context): external data '\(location)' needs the model's directory (load the model from its file)")
        }
        func number(_ key: String) throws -> Int? {
            guard let text = entries[key] else { return nil }
            guard let value = Int(text), value >= 0 else {
                throw SparseConvError.invalidSpec("\(context): external data \(key) '\(text)' is not a byte count")
            }
            return value
        }
        let offset = try number("offset") ?? 0
        let length = try number("length") ?? expected
        guard length == expected else {
            throw SparseConvError.invalidSpec("\(context): external data length \(length) bytes, dimensions \(tensor.dims) need \(expected)")
        }
        let path = URL(fileURLWithPath: directory).appendingPathComponent(location).path
        let handle: FileHandle
        if let open = files[path] {
            handle = open
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else {
                throw SparseConvError.invalidArgument("\(context): cannot open external data file '\(path)'")
            }
            files[path] = opened
            handle = opened
        }
        do {
            let size = try handle.seekToEnd()
            guard offset <= size, UInt64(length) <= size - UInt64(offset) else {
                throw SparseConvError.invalidSpec("\(context): external data '\(location)' has \(size) bytes, needs \(length) at offset \(offset)")
            }
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: length) ?? Data()
            guard data.count == length else {
                throw SparseConvError.invalidSpec("\(context): external data '\(location)' ended early")
            }
            return data
        } catch let error as SparseConvError {
            throw error
        } catch {
            throw SparseConvError.invalidArgument("\(context): cannot read external data '\(path)': \(error.localizedDescription)")
        }
    }

    static func typeName(_ raw: Int32) -> String {
        if let type = Onnx_TensorProto.DataType(rawValue: Int(raw)) { return "\(type)" }
        return "type \(raw)"
    }
}
