import Foundation
import SwiftProtobuf
import Testing
@testable import SparseConv

/// The generated ONNX protobuf types (Sources/SparseConv/IO/ONNX/onnx.pb.swift)
/// decode a model written by `onnx.helper` (Fixtures/onnx/make_proto_fixture.py).
@Suite struct ONNXProtoTests {
    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SparseConvTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Fixtures/onnx/tiny_conv.onnx")

    static func fixtureBytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: fixture)) }

    /// W[o, i, h, w] as the fixture script defines it.
    static func expectedWeight(_ o: Int, _ i: Int, _ h: Int, _ w: Int) -> Float {
        o == 0 && i == 1 ? 0 : Float(o * 100 + i * 10 + h * 3 + w - 4)
    }

    @Test func decodesTheModelHeader() throws {
        let model = try Onnx_ModelProto(serializedBytes: Self.fixtureBytes())
        #expect(model.irVersion == 7)
        #expect(model.producerName == "sparseconv-fixture")
        #expect(model.opsetImport.count == 1)
        #expect(model.opsetImport.first?.domain == "")
        #expect(model.opsetImport.first?.version == 13)
        #expect(model.graph.name == "tiny_conv")
    }

    @Test func decodesTheConvNode() throws {
        let graph = try Onnx_ModelProto(serializedBytes: Self.fixtureBytes()).graph
        #expect(graph.node.count == 1)
        let node = try #require(graph.node.first)
        #expect(node.opType == "Conv")
        #expect(node.name == "conv1")
        #expect(!node.hasDomain)
        #expect(node.input == ["X", "conv1.weight", "conv1.bias"])
        #expect(node.output == ["Y"])

        let attributes = Dictionary(uniqueKeysWithValues: node.attribute.map { ($0.name, $0) })
        #expect(attributes.keys.sorted() == ["dilations", "group", "kernel_shape", "pads", "strides"])
        #expect(attributes["kernel_shape"]?.type == .ints)
        #expect(attributes["kernel_shape"]?.ints == [3, 3])
        #expect(attributes["pads"]?.ints == [1, 1, 1, 1])
        #expect(attributes["strides"]?.ints == [1, 1])
        #expect(attributes["dilations"]?.ints == [1, 1])
        #expect(attributes["group"]?.type == .int)
        #expect(attributes["group"]?.i == 1)
        // proto2 presence: `group` sets `i`, not `f`.
        #expect(attributes["group"]?.hasI == true)
        #expect(attributes["group"]?.hasF == false)
    }

    @Test func decodesInitializersInBothEncodings() throws {
        let graph = try Onnx_ModelProto(serializedBytes: Self.fixtureBytes()).graph
        #expect(graph.initializer.map(\.name) == ["conv1.weight", "conv1.bias"])

        let weight = graph.initializer[0]
        #expect(weight.dims == [3, 2, 3, 3])
        #expect(weight.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue))
        #expect(weight.hasRawData)
        #expect(weight.floatData.isEmpty)
        #expect(weight.rawData.count == 3 * 2 * 3 * 3 * 4)
        // raw_data is little-endian float32 in row-major (OIHW) order.
        let raw = [UInt8](weight.rawData)
        var values: [Float] = []
        for offset in stride(from: 0, to: raw.count, by: 4) {
            let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[offset + $1]) << (8 * $1) }
            values.append(Float(bitPattern: bits))
        }
        var expected: [Float] = []
        for o in 0..<3 { for i in 0..<2 { for h in 0..<3 { for w in 0..<3 {
            expected.append(Self.expectedWeight(o, i, h, w))
        } } } }
        #expect(values == expected)

        let bias = graph.initializer[1]
        #expect(bias.dims == [3])
        #expect(bias.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue))
        #expect(!bias.hasRawData)
        #expect(bias.floatData == [0.5, -1.0, 2.25])
    }

    @Test func decodesInputAndOutputShapes() throws {
        let graph = try Onnx_ModelProto(serializedBytes: Self.fixtureBytes()).graph
        func dims(_ info: Onnx_ValueInfoProto) -> [Int64] { info.type.tensorType.shape.dim.map(\.dimValue) }
        #expect(graph.input.map(\.name) == ["X"])
        #expect(graph.output.map(\.name) == ["Y"])
        #expect(dims(graph.input[0]) == [1, 2, 5, 5])
        #expect(dims(graph.output[0]) == [1, 3, 5, 5])
        #expect(graph.input[0].type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue))
    }

    @Test func reencodesToTheSameModel() throws {
        let model = try Onnx_ModelProto(serializedBytes: Self.fixtureBytes())
        let bytes: [UInt8] = try model.serializedBytes()
        #expect(try Onnx_ModelProto(serializedBytes: bytes) == model)
    }

    @Test func truncatedOrGarbageBytesThrow() throws {
        let whole = try Self.fixtureBytes()
        // Protobuf has no end marker, so a cut between top-level fields would
        // decode as a smaller model; these cuts fall inside the graph field
        // (the middle of the file) and inside the last field (opset_import).
        for length in [whole.count / 2, whole.count / 3, whole.count - 1, whole.count - 2] {
            #expect(throws: (any Error).self, "cut at \(length)") {
                try Onnx_ModelProto(serializedBytes: Array(whole[..<length]))
            }
        }
        #expect(throws: (any Error).self) { try Onnx_ModelProto(serializedBytes: [UInt8](repeating: 0xFF, count: 16)) }
    }
}
