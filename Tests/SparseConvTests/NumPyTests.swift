import Foundation
import Testing
@testable import SparseConv

/// `.npy` reading and writing against files written by NumPy
/// (Fixtures/npy/make_npy_fixtures.py), and every way a file can be bad.
@Suite struct NumPyTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SparseConvTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Fixtures/npy")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    /// The array every f4_v*.npy fixture holds.
    static let f32 = try! Tensor(shape: [2, 3], scalars: [0.5, -1.25, 3.0, 1e-3, 65504, -0.0])

    /// Builds an .npy file around an arbitrary header, so malformed ones can be tried.
    static func npy(_ header: String, version: UInt8 = 1, data: [UInt8] = [UInt8](repeating: 0, count: 24),
                    headerBytes: [UInt8]? = nil) -> [UInt8] {
        let body = headerBytes ?? Array(header.utf8)
        var bytes: [UInt8] = NumPy.magic + [version, 0]
        if version == 1 {
            bytes += [UInt8(body.count & 0xFF), UInt8(body.count >> 8)]
        } else {
            bytes += (0..<4).map { UInt8(truncatingIfNeeded: body.count >> (8 * $0)) }
        }
        return bytes + body + data
    }

    static func bitsEqual(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    // MARK: Reading NumPy's files

    @Test(arguments: ["f4_v1.npy", "f4_v2.npy", "f4_v3.npy"])
    func readsFloat32InEveryVersion(name: String) throws {
        let tensor = try NumPy.read(contentsOf: Self.fixture(name))
        #expect(tensor.shape == [2, 3])
        #expect(Self.bitsEqual(tensor.scalars, Self.f32.scalars))  // including the sign of -0.0
        #expect(try NumPy.read(data: Self.fixtureBytes(name)) == tensor)
    }

    @Test func readsOtherShapes() throws {
        let vector = try NumPy.read(contentsOf: Self.fixture("f4_1d.npy"))
        #expect(vector.shape == [5])
        #expect(vector.scalars == [-2, -1, 0, 1, 2])

        let nchw = try NumPy.read(contentsOf: Self.fixture("f4_4d.npy"))
        #expect(nchw.shape == [1, 2, 3, 4])
        #expect(nchw.scalars == (0..<24).map { Float($0) / 8 })
        #expect(nchw[0, 1, 2, 3] == 23.0 / 8)

        // A 0-d array becomes shape [1]: a Tensor has at least one dimension.
        let scalar = try NumPy.read(contentsOf: Self.fixture("f4_scalar.npy"))
        #expect(scalar.shape == [1])
        #expect(scalar.scalars == [7.5])
    }

    @Test func keepsSpecialFloat32Values() throws {
        let values = try NumPy.read(contentsOf: Self.fixture("f4_special.npy")).scalars
        #expect(Self.bitsEqual(values, [.infinity, -.infinity, .nan, Float(bitPattern: 1), -.greatestFiniteMagnitude]))
    }

    @Test func convertsFloat64ToNearestFloat() throws {
        let tensor = try NumPy.read(contentsOf: Self.fixture("f8.npy"))
        #expect(tensor.shape == [2, 2])
        // 1e300 overflows to infinity and 1e-50 underflows to zero, as in a.astype(np.float32).
        #expect(tensor.scalars == [Float(1.0 / 3.0), -2.5, .infinity, 0])
    }

    @Test func convertsFloat16Exactly() throws {
        let values = try NumPy.read(contentsOf: Self.fixture("f2.npy")).scalars
        // 6e-8 is stored as the smallest half subnormal, 2^-24.
        #expect(Self.bitsEqual(values, [1, -2, 0.5, 65504, 0x1p-24, -0.0, .infinity, .nan]))
    }

    @Test func halfConversionMatchesTheStandardLibrary() {
        #if !(os(macOS) && arch(x86_64))  // Float16 is unavailable on Intel Macs
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = NumPy.floatFromHalf(bits)
            if expected.isNaN {
                #expect(actual.isNaN)
            } else if actual.bitPattern != expected.bitPattern {
                Issue.record("half \(String(bits, radix: 16)): \(actual) != \(expected)")
                return
            }
        }
        #endif
    }

    // MARK: Writing

    @Test func encodeIsByteIdenticalToNumPy() throws {
        #expect(NumPy.encode(Self.f32) == (try Self.fixtureBytes("f4_v1.npy")))
        let nchw = try NumPy.read(contentsOf: Self.fixture("f4_4d.npy"))
        #expect(NumPy.encode(nchw) == (try Self.fixtureBytes("f4_4d.npy")))
        let vector = try NumPy.read(contentsOf: Self.fixture("f4_1d.npy"))
        #expect(NumPy.encode(vector) == (try Self.fixtureBytes("f4_1d.npy")))
    }

    @Test func encodedHeaderIsAlignedTo64Bytes() throws {
        for shape in [[1], [7], [123_456_789], [2, 3], [1, 64, 56, 56], [1, 1, 1, 1, 1, 1, 1, 1]] {
            let bytes = NumPy.encode(try Tensor(shape: shape.map { min($0, 3) }))
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            #expect((10 + headerLength) % 64 == 0)
            #expect(bytes[10 + headerLength - 1] == UInt8(ascii: "\n"))
        }
    }

    @Test func switchesToVersion2ForHugeHeaders() throws {
        // 30 000 dimensions of 1 make a header longer than UInt16 can count.
        let tensor = try Tensor(shape: [Int](repeating: 1, count: 30_000), scalars: [4.5])
        let bytes = NumPy.encode(tensor)
        #expect(bytes[6] == 2 && bytes[7] == 0)
        let headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        #expect((12 + headerLength) % 64 == 0)
        #expect(try NumPy.read(data: bytes) == tensor)
    }

    @Test func roundTripsThroughAFile() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sparseconv-npy-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("x.npy").path

        for (seed, shape) in [[5], [3, 7], [2, 3, 4, 5], [1, 16, 9, 9]].enumerated() {
            let tensor = try Tensor.random(shape: shape, seed: UInt64(seed), in: -1e6...1e6)
            try NumPy.write(tensor, to: path)  // replaces the previous file
            let read = try NumPy.read(contentsOf: path)
            #expect(read == tensor)
            #expect(read.shape == shape)
        }
        // No temporary files are left beside the result.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["x.npy"])
    }

    @Test func writeToAMissingDirectoryThrows() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("sparseconv-no-such-dir-\(UInt64.random(in: 0 ... .max))/x.npy").path
        #expect(throws: SparseConvError.self) { try NumPy.write(Self.f32, to: path) }
    }

    // MARK: Rejected files

    @Test func unsupportedFixturesThrow() throws {
        for name in ["big_endian.npy", "fortran.npy", "int32.npy"] {
            let error = #expect(throws: SparseConvError.self) { try NumPy.read(contentsOf: Self.fixture(name)) }
            guard case .unsupported(let message)? = error else {
                Issue.record("\(name): expected .unsupported, got \(String(describing: error))")
                continue
            }
            #expect(message.contains(name), "the message names the file: \(message)")
        }
        for name in ["truncated.npy", "empty.npy"] {
            let error = #expect(throws: SparseConvError.self) { try NumPy.read(contentsOf: Self.fixture(name)) }
            guard case .invalidArgument? = error else {
                Issue.record("\(name): expected .invalidArgument, got \(String(describing: error))")
                continue
            }
        }
        #expect(throws: SparseConvError.self) { try NumPy.read(contentsOf: Self.fixture("no-such-file.npy")) }
        #expect(throws: SparseConvError.self) { try NumPy.read(contentsOf: Self.fixtures.path) }  // a directory
    }

    @Test func everyTruncationThrows() throws {
        let whole = try Self.fixtureBytes("f4_v1.npy")
        for length in 0..<whole.count {
            #expect(throws: SparseConvError.self, "cut at \(length)") { try NumPy.read(data: Array(whole[..<length])) }
        }
        #expect(throws: SparseConvError.self) { try NumPy.read(data: whole + [0]) }  // trailing byte
    }

    static let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

    @Test func tolerantOfWhatNumPyAccepts() throws {
        let expected = try Tensor(shape: [2, 3])
        for header in [
            Self.good,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n",  // no trailing comma
            "{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}",  // any key order, double quotes
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",  // Python 2 longs
            "{'descr':'<f4','fortran_order':False,'shape':( 2 ,3 , )}   \n",
            "{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3), }",  // native order
            "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3), }",
        ] {
            #expect(try NumPy.read(data: Self.npy(header)) == expected, "\(header)")
        }
        #expect(try NumPy.read(data: Self.npy(Self.good, version: 2)) == expected)
        #expect(try NumPy.read(data: Self.npy(Self.good, version: 3)) == expected)
    }

    @Test(arguments: [
        // Not a dictionary, or not valid Python.
        "", "   ", "[1, 2]", "{", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3), }",
        "{descr: '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3x), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2., 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': 2*3, }",
        // Wrong keys.
        "{'descr': '<f4', 'fortran_order': False, }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        // Wrong value types.
        "{'descr': 4, 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, '3'), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, (3,)), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3), }",
        // Supported syntax, unsupported content.
        "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<f', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f16', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }",
        // Sizes: more than the data, overflowing, unrepresentable.
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1048576), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 2), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",  // fewer than the data: trailing bytes
    ])
    func malformedHeadersThrow(header: String) {
        #expect(throws: SparseConvError.self) { try NumPy.read(data: Self.npy(header)) }
    }

    @Test func malformedPreamblesThrow() {
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("bad magic", Array("\u{92}NUMPY".utf8) + Self.npy(Self.good).dropFirst(6)),
            ("not npy", Array("PK\u{3}\u{4} a zip file, perhaps an .npz".utf8)),
            ("magic only", NumPy.magic),
            ("no length", NumPy.magic + [1, 0, 0x3B]),
            ("version 4.0", Self.npy(Self.good, version: 4)),
            ("version 0.0", Self.npy(Self.good, version: 0)),
            ("version 1.1", { var b = Self.npy(Self.good); b[7] = 1; return b }()),
            ("length past the end", { var b = Self.npy(Self.good, data: []); b[8] = 0xFF; return b }()),
            ("v2 length past the end", { var b = Self.npy(Self.good, version: 2); b[11] = 0x7F; return b }()),
            ("v3 invalid UTF-8", Self.npy("", version: 3, headerBytes: Array(Self.good.utf8) + [0xC3, 0x28])),
            ("deep nesting", Self.npy(String(repeating: "(", count: 10_000) + String(repeating: ")", count: 10_000))),
        ]
        for (name, bytes) in cases {
            #expect(throws: SparseConvError.self, "\(name)") { try NumPy.read(data: bytes) }
        }
    }

    @Test func latin1HeadersAreDecoded() throws {
        // A Latin-1 byte in a v1 header is a character, not invalid UTF-8; the
        // header still fails, but on its content.
        let header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'caf".utf8) + [0xE9]
            + Array("': 1}".utf8)
        let error = #expect(throws: SparseConvError.self) { try NumPy.read(data: Self.npy("", headerBytes: header)) }
        #expect(String(describing: error).contains("café"))
    }
}
