import Foundation
import SwiftProtobuf
import Testing
@testable import SparseConv

/// The fast ONNX load path (ONNXModelDecoding's raw_data sharing and the bulk
/// weight copy) must be indistinguishable from decoding with swift-protobuf
/// alone, on good files and bad ones.
@Suite struct ONNXLoadTests {
    static let directory = ONNXImportTests.directory

    /// The model both ways; nil where that way throws.
    static func bothWays(_ data: Data) -> (fast: Onnx_ModelProto?, plain: Onnx_ModelProto?) {
        (try? ONNXModelDecoding.decode(data), try? Onnx_ModelProto(serializedBytes: data))
    }

    static func fixtureData(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    @Test func everyFixtureDecodesAsSwiftProtobufDecodesIt() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".onnx") }
            + FileManager.default.contentsOfDirectory(atPath: Self.directory.appendingPathComponent("malformed").path)
                .filter { $0.hasSuffix(".onnx") }.map { "malformed/\($0)" }
        #expect(names.count > 20)
        for name in names {
            let (fast, plain) = Self.bothWays(try Self.fixtureData(name))
            #expect(fast == plain, "\(name)")
        }
    }

    @Test func initializersShareTheFilesBytes() throws {
        let data = try Zoo.cifarDilated.model(seed: 3).onnxData()
        let proto = try ONNXModelDecoding.decode(data)
        #expect(proto == (try Onnx_ModelProto(serializedBytes: data)))
        let large = proto.graph.initializer.filter { $0.rawData.count >= 64 }
        #expect(!large.isEmpty)
        // A slice of the file keeps the file's indices; a copy starts at 0.
        for tensor in large {
            #expect(tensor.rawData.startIndex > 0, "\(tensor.name) was copied")
        }
        // Also when the model's bytes are themselves a slice of a larger buffer.
        let framed = Data([1, 2, 3]) + data + Data([4])
        let inner = framed[3..<(3 + data.count)]
        #expect((try ONNXModelDecoding.decode(inner)) == proto)
    }

    @Test func cutsAndCorruptionsFailOrDecodeAsSwiftProtobufDoes() throws {
        let whole = try Self.fixtureData("resnet_tiny.onnx")
        for length in stride(from: 0, to: whole.count, by: 13) {
            let (fast, plain) = Self.bothWays(whole.prefix(length))
            #expect(fast == plain, "cut at \(length)")
        }
        for position in stride(from: 0, to: whole.count, by: 17) {
            var corrupt = whole
            corrupt[position] = corrupt[position] &+ 0x41
            let (fast, plain) = Self.bothWays(corrupt)
            #expect(fast == plain, "byte \(position) changed")
        }
    }

    // MARK: Hand-made wire format

    static func lengthDelimited(_ field: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var bytes = [field << 3 | 2]
        ONNXModelDecoding.appendVarint(UInt64(payload.count), to: &bytes)
        return bytes + payload
    }

    /// A model whose graph holds one initializer: `tensor`'s bytes followed by `extra`.
    static func model(tensor: Onnx_TensorProto, extra: [UInt8]) throws -> Data {
        let tensorBytes: [UInt8] = try tensor.serializedBytes() + extra
        let graph = lengthDelimited(5, tensorBytes) + lengthDelimited(2, Array("g".utf8))  // initializer, name
        return Data(lengthDelimited(7, graph))
    }

    static let weight: Onnx_TensorProto = {
        var tensor = Onnx_TensorProto()
        tensor.name = "w"
        tensor.dims = [2]
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.rawData = Data([0, 0, 128, 63, 0, 0, 0, 64])  // 1, 2
        return tensor
    }()

    @Test func aRepeatedRawDataFieldKeepsTheLastAsSwiftProtobufDoes() throws {
        let data = try Self.model(tensor: Self.weight, extra: Self.lengthDelimited(9, [0, 0, 64, 64, 0, 0, 128, 64]))
        let (fast, plain) = Self.bothWays(data)
        #expect(fast != nil && fast == plain)
        #expect(fast.map { [UInt8]($0.graph.initializer[0].rawData) } == [0, 0, 64, 64, 0, 0, 128, 64])
    }

    @Test(arguments: [
        ("raw_data as a varint", [0x48, 0x05]),
        ("a truncated tag", [0x80]),
        ("a truncated varint", [0x38, 0xFF]),
        ("a length past the end", [0x4A, 0x7F, 0x00]),
        ("a length that overflows", [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ("an eleven-byte varint", [0x38, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x01]),
        ("field number 0", [0x02, 0x00]),
        ("a group", [0x0B, 0x0C]),
        ("wire type 7", [0x0F]),
        ("a truncated fixed64", [0x09, 0x01, 0x02]),
        ("an unknown field", [0xF8, 0x07, 0x01, 0xFD, 0x07, 1, 2, 3, 4]),
    ] as [(String, [UInt8])])
    func oddTensorBytesDecodeAsSwiftProtobufDoes(what: String, extra: [UInt8]) throws {
        let (fast, plain) = Self.bothWays(try Self.model(tensor: Self.weight, extra: extra))
        #expect(fast == plain, "\(what)")
    }

    @Test func twoGraphFieldsMergeWithTheirInitializersInOrder() throws {
        var second = Self.weight
        second.name = "v"
        second.rawData = Data([0, 0, 64, 64, 0, 0, 128, 64])
        let first: [UInt8] = Array(try Self.model(tensor: Self.weight, extra: []))
        let data = Data(first + Array(try Self.model(tensor: second, extra: [])))
        let (fast, plain) = Self.bothWays(data)
        #expect(fast != nil && fast == plain)
        #expect(fast?.graph.initializer.map(\.name) == ["w", "v"])
    }

    // MARK: Tensor encodings

    @Test func everyEncodingOfAWeightGivesTheSameTensor() throws {
        let values: [Float] = (0..<210).map { Float($0) * 0.37 - 31 } + [.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var base = Onnx_TensorProto()
        base.name = "w"
        base.dims = [2, Int64(values.count / 2)]
        func floatBytes() -> Data { Data(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }) }
        func doubleBytes() -> Data { Data(values.flatMap { withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init) }) }

        var raw = base
        raw.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        raw.rawData = floatBytes()
        var typed = raw
        typed.clearRawData()
        typed.floatData = values
        var unaligned = raw
        unaligned.rawData = (Data([9]) + floatBytes()).dropFirst()  // a slice at an odd address, like one of the file
        var double = base
        double.dataType = Int32(Onnx_TensorProto.DataType.double.rawValue)
        double.rawData = doubleBytes()
        var doubleTyped = double
        doubleTyped.clearRawData()
        doubleTyped.doubleData = values.map(Double.init)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sparseconv-load-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try (Data([1, 2, 3]) + floatBytes()).write(to: folder.appendingPathComponent("w.bin"))
        var external = raw
        external.clearRawData()
        external.dataLocation = .external
        external.externalData = [("location", "w.bin"), ("offset", "3")].map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }

        let decoder = ONNXTensorDecoder(directory: folder.path)
        for (what, tensor) in [("raw_data", raw), ("float_data", typed), ("unaligned raw_data", unaligned),
                               ("float64 raw_data", double), ("double_data", doubleTyped), ("external data", external)] {
            let decoded = try decoder.floats(tensor, what)
            #expect(decoded.dims == [2, values.count / 2], "\(what)")
            #expect(decoded.tensor.scalars.map(\.bitPattern) == values.map(\.bitPattern), "\(what)")
        }
    }

    @Test func loadTimingCoversTheRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sparseconv-load-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("m.onnx").path
        let model = try Zoo.cifarDilated.model(seed: 4)
        try model.writeONNX(to: path)
        let (loaded, timing) = try Model.loadONNX(file: path)
        #expect(timing.readSeconds > 0 && timing.readSeconds <= timing.totalSeconds)
        #expect(try loaded.onnxData() == (try Model(onnxFile: path).onnxData()))
        #expect(loaded.parameterCount == model.parameterCount)
        #expect(throws: SparseConvError.self) { try Model.loadONNX(file: folder.appendingPathComponent("none.onnx").path) }
    }
}
