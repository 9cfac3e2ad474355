import Foundation
import Testing
@testable import SparseConv

/// ONNX import and export: the fixtures of Fixtures/onnx/make_fixtures.py
/// (golden outputs from onnxruntime, committed so no Python is needed here),
/// malformed files, and export → re-import round trips of the zoo.
@Suite struct ONNXImportTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SparseConvTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Fixtures/onnx")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let fixtures = [
        "resnet_tiny", "mobilenet_tiny", "shufflenet_tiny", "se_block", "conv_variants", "clip_opset10",
        "clip_constant", "bn_fold", "pruned_element", "pruned_block1x2", "pruned_kernel", "pruned_channel",
        "external_data", "float64_weights", "nan_weights", "reshape_flatten",
    ]

    /// Imports a fixture and runs its input through an estimate plan on 2 threads.
    static func run(_ name: String) throws -> (model: Model, output: Tensor, golden: Tensor) {
        let model = try Model(onnxFile: path("\(name).onnx"))
        let input = try NumPy.read(contentsOf: path("\(name).input.npy"))
        let golden = try NumPy.read(contentsOf: path("\(name).output.npy"))
        let plan = try Planner(mode: .estimate, threads: 2).plan(model, batch: input.shape[0])
        return (model, try plan.run(input), golden)
    }

    @Test(arguments: fixtures)
    func fixtureMatchesOnnxRuntime(name: String) throws {
        let (_, output, golden) = try Self.run(name)
        let error = try output.normalizedError(to: golden)
        #expect(error <= 1e-4, "\(name): normalized error \(error)")
    }

    @Test func nanWeightsPropagate() throws {
        let (_, output, golden) = try Self.run("nan_weights")
        #expect(golden.scalars.contains { $0.isNaN })
        #expect(output.scalars.map(\.isNaN) == golden.scalars.map(\.isNaN))
    }

    @Test func namesArePreserved() throws {
        let model = try Model(onnxFile: Self.path("resnet_tiny.onnx"))
        let names = Set(model.nodes.map(\.name))
        for expected in ["conv1", "bn1", "layer1.add", "layer2.downsample.0", "avgpool", "flatten", "fc"] {
            #expect(names.contains(expected), "missing node \(expected)")
        }
        // Identity and Dropout are not nodes: their readers read their input.
        #expect(!names.contains("identity") && !names.contains("dropout"))
        #expect(model.parameterNames["conv1"] == ["conv1.weight"])
        #expect(model.parameterNames["bn1"] == ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"])
        #expect(model.parameterNames["fc"] == ["fc.weight", "fc.bias"])
        #expect(model.outputName == "fc")
        #expect(model.inputShape == [3, 16, 16])
    }

    @Test func patternsBecomeSingleNodes() throws {
        let shuffle = try Model(onnxFile: Self.path("shufflenet_tiny.onnx"))
        #expect(shuffle.node(named: "unit0.shuffle")?.operation == .channelShuffle(groups: 3))
        #expect(shuffle.node(named: "unit0.shuffle.transpose") == nil)
        let mobile = try Model(onnxFile: Self.path("mobilenet_tiny.onnx"))
        #expect(mobile.node(named: "conv0.relu6")?.operation == .relu6)
        guard case .fullyConnected(let fc)? = mobile.node(named: "classifier.matmul")?.operation else {
            Issue.record("MatMul + Add did not become a fully connected layer"); return
        }
        #expect(fc.weight.shape == [10, 24] && fc.bias?.count == 10)
        #expect(mobile.node(named: "classifier.add") == nil)
        let se = try Model(onnxFile: Self.path("se_block.onnx"))
        #expect(se.node(named: "se1.scale")?.operation == .channelScale)
        #expect(se.node(named: "se2.scale")?.inputs.first == "conv2")
        let clips = try Model(onnxFile: Self.path("clip_opset10.onnx"))
        #expect(clips.node(named: "clamp")?.operation == .clip(min: -0.5, max: 0.75))
        #expect(clips.node(named: "relu6")?.operation == .relu6)
    }

    @Test(arguments: [("pruned_element", Granularity.element), ("pruned_block1x2", .block1x2),
                      ("pruned_kernel", .kernel), ("pruned_channel", .channel)])
    func prunedFixturesDetectTheirGranularity(name: String, granularity: Granularity) throws {
        let model = try Model(onnxFile: Self.path("\(name).onnx"))
        let detected = try model.detectedPruning()
        #expect(detected["conv1"] == nil)  // dense
        #expect(detected["conv2"]?.granularity == granularity)
        #expect(detected["conv3"]?.granularity == granularity)
        let plan = try Planner(mode: .estimate, threads: 2).plan(model)
        #expect(plan.layers.first { $0.name == "conv2" }?.granularity == granularity)
    }

    @Test func inputShapeOverride() throws {
        let model = try Model(onnxFile: Self.path("resnet_tiny.onnx"), inputShape: [1, 3, 24, 20])
        #expect(model.inputShape == [3, 24, 20])
        #expect(model.shapes[model.outputName] == [10])
        #expect(throws: SparseConvError.self) { try Model(onnxFile: Self.path("resnet_tiny.onnx"), inputShape: [4, 16, 16]) }
    }

    @Test func externalDataNeedsADirectory() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.path("external_data.onnx")))
        #expect(throws: SparseConvError.self) { try Model(onnxData: data) }
        let model = try Model(onnxData: data, externalDataDirectory: Self.directory.path)
        #expect(model.nodes.count > 10)
    }

    // MARK: Malformed input

    @Test(arguments: ["truncated", "garbage", "wrong_initializer_size", "missing_initializer", "cyclic",
                      "huge_input_dims", "huge_initializer_dims", "external_outside_directory",
                      "missing_external_file", "unsupported_op", "slice_batch_axis"])
    func malformedFileThrows(name: String) throws {
        let error = #expect(throws: SparseConvError.self) {
            try Model(onnxFile: Self.path("malformed/\(name).onnx"))
        }
        #expect(error.map { "\($0)".count > 20 } ?? false)
    }

    @Test func malformedMessagesSayWhatIsWrong() throws {
        func message(_ name: String) -> String {
            do {
                _ = try Model(onnxFile: Self.path("malformed/\(name).onnx"))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("wrong_initializer_size").contains("conv1.weight"))
        #expect(message("missing_initializer").contains("conv1.weight"))
        #expect(message("cyclic").contains("cycle"))
        #expect(message("truncated").contains("truncated or corrupt"))
        #expect(message("external_outside_directory").contains("outside"))
        #expect(throws: SparseConvError.self) { try Model(onnxFile: Self.path("malformed/no_such_file.onnx")) }
    }

    @Test func unsupportedOperatorsAreAllNamed() throws {
        do {
            _ = try Model(onnxFile: Self.path("malformed/unsupported_op.onnx"))
            Issue.record("expected an error")
        } catch let error as SparseConvError {
            guard case .unsupported(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("LpNormalization (node 'norm1')"), "\(message)")
            #expect(message.contains("Resize (node 'upsample')"), "\(message)")
            #expect(message.contains("Supported: ") && message.contains("Conv"), "\(message)")
        }
    }

    @Test func everyTruncationThrows() throws {
        // Every prefix of a valid file must fail cleanly (or, rarely, parse as a
        // smaller valid protobuf and then fail the graph checks) — never crash.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.path("se_block.onnx")))
        for length in stride(from: 0, to: bytes.count, by: 97) {
            #expect(throws: SparseConvError.self) { try Model(onnxData: bytes.prefix(length)) }
        }
    }

    // MARK: Export

    /// Zoo models at small input sizes (AlexNet and VGG-16 are left to
    /// Scripts/check-onnxruntime.sh: their classifiers are hundreds of MB).
    static let zoo: [(Zoo, Int?)] = [
        (.lenet5, nil), (.resnet18, 64), (.resnet50, 64), (.mobilenetV1, 64), (.mobilenetV2, 64),
        (.shufflenetV1, 64), (.seResNetBlock, 16), (.cifarDilated, nil), (.cifarLargeKernel, nil), (.cifarCascade, nil),
    ]

    @Test(arguments: zoo.map(\.0))
    func zooRoundTripIsIdentical(zoo: Zoo) throws {
        let size = Self.zoo.first { $0.0 == zoo }?.1
        let model = try zoo.model(seed: 7, inputSize: size)
        let reloaded = try Model(onnxData: try model.onnxData())
        #expect(reloaded.inputShape == model.inputShape)
        #expect(reloaded.outputName == model.outputName)
        // Every node keeps its name (export may add helper nodes, never rename).
        let names = Set(reloaded.nodes.map(\.name))
        #expect(model.nodes.allSatisfy { names.contains($0.name) })
        let input = try Tensor.random(shape: [2] + model.inputShape, seed: 11)
        let a = try Planner(mode: .estimate, threads: 2).plan(model, batch: 2).run(input)
        let b = try Planner(mode: .estimate, threads: 2).plan(reloaded, batch: 2).run(input)
        #expect(a.shape == b.shape)
        let difference = try b.normalizedError(to: a)
        #expect(a.scalars == b.scalars, "\(zoo): normalized difference \(difference)")
    }

    @Test(arguments: ["resnet_tiny", "shufflenet_tiny", "se_block", "mobilenet_tiny", "conv_variants", "pruned_block1x2"])
    func importedModelRoundTripsWithItsNames(name: String) throws {
        let model = try Model(onnxFile: Self.path("\(name).onnx"))
        let reloaded = try Model(onnxData: try model.onnxData())
        #expect(reloaded.parameterNames.filter { model.parameterNames[$0.key] != nil } == model.parameterNames)
        let input = try NumPy.read(contentsOf: Self.path("\(name).input.npy"))
        let golden = try NumPy.read(contentsOf: Self.path("\(name).output.npy"))
        let output = try Planner(mode: .estimate, threads: 2).plan(reloaded, batch: input.shape[0]).run(input)
        #expect(try output.normalizedError(to: golden) <= 1e-4)
    }

    @Test func writeONNXIsAtomicAndReadable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparseconv-onnx-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.onnx").path
        let model = try Zoo.cifarDilated.model(seed: 1)
        try model.writeONNX(to: path)
        try model.writeONNX(to: path)  // replaces
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.onnx"])
        #expect(try Model(onnxFile: path).nodes.count == model.nodes.count)
        #expect(throws: SparseConvError.self) { try model.writeONNX(to: directory.appendingPathComponent("missing/model.onnx").path) }
    }

    @Test func preparedModelsExportFusedActivations() throws {
        let model = try Zoo.mobilenetV2.model(seed: 2, inputSize: 32).prepared()
        let reloaded = try Model(onnxData: try model.onnxData())
        let input = try Tensor.random(shape: [1] + model.inputShape, seed: 5)
        let a = try Planner(mode: .estimate, threads: 2).plan(model).run(input)
        let b = try Planner(mode: .estimate, threads: 2).plan(reloaded).run(input)
        #expect(try b.normalizedError(to: a) <= 1e-6)
    }
}
