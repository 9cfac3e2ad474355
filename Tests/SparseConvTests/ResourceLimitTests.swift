import Foundation
import Testing
@testable import SparseConv

/// Models, tensors, `.npy` files, wisdom and plans whose declared sizes need
/// more memory than the limit are refused before anything that size is allocated.
///
/// Limits here are task-local (`withMemoryLimit`) so that the suite's other
/// tests, running in parallel, keep the default.
@Suite struct ResourceLimitTests {
    static let onnx = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx")
    static let npy = onnx.deletingLastPathComponent().appendingPathComponent("npy")

    /// The thrown error's text when it is `.outOfMemory`; nil for anything else (or no error).
    static func outOfMemoryMessage(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch SparseConvError.outOfMemory(let message) {
            return message
        } catch {
            return nil
        }
    }

    @Test func byteCountsParse() throws {
        #expect(try ResourceLimits.parseByteCount("1024") == 1024)
        #expect(try ResourceLimits.parseByteCount("512M") == 512 << 20)
        #expect(try ResourceLimits.parseByteCount("8G") == 8 << 30)
        #expect(try ResourceLimits.parseByteCount("2gib") == 2 << 30)
        #expect(try ResourceLimits.parseByteCount(" 3KB ") == 3 << 10)
        #expect(try ResourceLimits.parseByteCount("1T") == 1 << 40)
        for bad in ["", "M", "abc", "0", "-1", "1.5G", "12X", "99999999999999999999", "9999999999T"] {
            #expect(throws: SparseConvError.self, "'\(bad)'") { try ResourceLimits.parseByteCount(bad) }
        }
    }

    @Test func scopedLimitWinsAndDefaultIsAFractionOfMemory() throws {
        let physical = try #require(ResourceLimits.physicalMemory)
        #expect(ResourceLimits.defaultMemoryLimit == Int(Double(physical) * ResourceLimits.defaultFractionOfPhysicalMemory))
        #expect(try ResourceLimits.withMemoryLimit(12345) { try ResourceLimits.effectiveMemoryLimit() } == 12345)
        // Nested scopes: the innermost wins and the outer one comes back.
        try ResourceLimits.withMemoryLimit(1 << 30) { () throws in
            #expect(try ResourceLimits.withMemoryLimit(100) { try ResourceLimits.effectiveMemoryLimit() } == 100)
            #expect(try ResourceLimits.effectiveMemoryLimit() == 1 << 30)
        }
    }

    @Test func tensorsOverTheLimitAreRefused() throws {
        let message = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(4096) { _ = try Tensor(shape: [32, 33]) } }
        #expect(message?.contains("memory limit of 4096 bytes") == true, "\(message ?? "no error")")
        // Exactly at the limit is allowed.
        let atLimit = try ResourceLimits.withMemoryLimit(4096) { try Tensor(shape: [32, 32]) }
        #expect(atLimit.count == 1024)
        // Shapes whose byte count overflows are an overflow, not a wrap-around.
        #expect(throws: SparseConvError.sizeOverflow("a shape [4611686018427387904, 4]: shape [4611686018427387904, 4]")) {
            try ResourceLimits.checkAllocation(shape: [1 << 62, 4], elementSize: 4, "a shape [4611686018427387904, 4]")
        }
        #expect(throws: SparseConvError.self) { try ResourceLimits.checkAllocation(elements: 1 << 62, elementSize: 4, "x") }
    }

    @Test func onnxFilesAndTheirWeightsAreCheckedAgainstTheLimit() throws {
        // A file larger than the limit is refused before it is parsed.
        let file = Self.onnx.appendingPathComponent("resnet_tiny.onnx").path
        let fileSize = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        let tooSmall = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(fileSize - 1) { _ = try Model(onnxFile: file) } }
        #expect(tooSmall?.contains(file) == true, "\(tooSmall ?? "no error")")

        // external_data.onnx is a 5.9 KB file whose weights (21.6 KB, the largest
        // 9.2 KB) live in another file: each tensor fits 12 000 bytes, all of them do not.
        let external = Self.onnx.appendingPathComponent("external_data.onnx").path
        let total = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(12_000) { _ = try Model(onnxFile: external) } }
        #expect(total?.contains("the model's weights") == true, "\(total ?? "no error")")
        #expect(total?.contains("layer2.conv2") == true, "\(total ?? "no error")")
        let model = try ResourceLimits.withMemoryLimit(64_000) { try Model(onnxFile: external) }
        #expect(model.nodes.count > 10)
    }

    @Test func npyFilesOverTheLimitAreRefusedBeforeReading() throws {
        let path = Self.npy.appendingPathComponent("f4_4d.npy").path
        let message = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(100) { _ = try NumPy.read(contentsOf: path) } }
        #expect(message?.contains("f4_4d.npy") == true, "\(message ?? "no error")")
        // From memory: the decoded tensor is what must fit.
        let bytes = NumPy.encode(try Tensor(shape: [100, 100], repeating: 1))
        let decoded = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(39_999) { _ = try NumPy.read(data: bytes) } }
        #expect(decoded?.contains("10000 elements") == true, "\(decoded ?? "no error")")
        #expect(try ResourceLimits.withMemoryLimit(40_000) { try NumPy.read(data: bytes) }.shape == [100, 100])
    }

    @Test func modelsWhoseActivationsCannotFitAreRefused() throws {
        let weight = try Tensor.random(shape: [64, 3, 3, 3], seed: 1)
        let conv = LayerOperation.convolution(try ConvolutionLayer(weight: weight, padding: Padding(1)))
        func build() throws -> Model {
            try Model(name: "wide", inputShape: [3, 64, 64], nodes: [Node("conv", conv, inputs: [Model.inputName])])
        }
        // The conv's output for one image is 64 × 64 × 64 floats = 1 MiB.
        let message = Self.outOfMemoryMessage { try ResourceLimits.withMemoryLimit(1 << 20 - 1) { _ = try build() } }
        #expect(message?.contains("node 'conv'") == true, "\(message ?? "no error")")
        #expect(try ResourceLimits.withMemoryLimit(1 << 20) { try build() }.shapes["conv"] == [64, 64, 64])
        // Input extents whose product overflows are reported, not wrapped.
        #expect(throws: SparseConvError.self) {
            try Model(name: "huge", inputShape: [1 << 30, 1 << 30, 1 << 30], nodes: [Node("relu", .relu, inputs: [Model.inputName])])
        }
    }

    @Test func plansWhoseBuffersCannotFitAreRefusedBeforePacking() throws {
        let model = try Zoo.cifarCascade.model(seed: 1)
        let single = try Planner(mode: .estimate, threads: 1).plan(model, batch: 1)
        let limit = 8 * single.bufferBytes
        let fits = try ResourceLimits.withMemoryLimit(limit) { try Planner(mode: .estimate, threads: 1).plan(model, batch: 1) }
        _ = try fits.run(try Tensor.random(shape: fits.inputShape, seed: 2))
        let message = Self.outOfMemoryMessage {
            try ResourceLimits.withMemoryLimit(limit) { _ = try Planner(mode: .estimate, threads: 1).plan(model, batch: 256) }
        }
        #expect(message?.contains("at batch 256") == true, "\(message ?? "no error")")
    }

    @Test func wisdomOverTheLimitIsIgnoredWithADiagnostic() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wisdom-limit-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wisdom.json").path
        let json = #"{"format": "sparseconv-wisdom", "version": 1, "entries": {"a": 1.5, "b": -1, "c": 2}}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        #expect(Wisdom(contentsOf: path).count == 2)
        #expect(Wisdom(jsonData: Data(json.utf8)).count == 2)
        let limited = ResourceLimits.withMemoryLimit(10) { Wisdom(contentsOf: path) }
        #expect(limited.count == 0)
        #expect(limited.loadDiagnostic?.contains("memory limit") == true, "\(limited.loadDiagnostic ?? "no diagnostic")")
        let corrupt = Wisdom(jsonData: Data("[[[[".utf8))
        #expect(corrupt.count == 0 && corrupt.loadDiagnostic != nil)
    }
}
