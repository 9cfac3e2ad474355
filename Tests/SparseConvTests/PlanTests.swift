import Foundation
import Testing
@testable import SparseConv

/// Whole models through the planner and executor against the layer-by-layer reference.
@Suite struct PlanTests {
    /// Zoo models at input sizes small enough for the reference executor.
    static let models: [(Zoo, Int?)] = [
        (.lenet5, nil), (.cifarDilated, nil), (.cifarLargeKernel, nil), (.cifarCascade, nil),
        (.resnet18, 64), (.resnet50, 64), (.mobilenetV1, 64), (.mobilenetV2, 64), (.shufflenetV1, 96),
        (.seResNetBlock, nil),
    ]

    static func check(_ model: Model, batch: Int = 1, mode: Planner.Mode = .estimate, label: String,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let input = try Tensor.random(shape: [batch] + model.inputShape, seed: 42)
        let expected = try ReferenceExecutor.run(model, input: input)
        let plan = try Planner(mode: mode, threads: 2).plan(model, batch: batch)
        let output = try plan.run(input)
        let error = try output.normalizedError(to: expected)
        #expect(error <= 1e-3, "\(label): normalized error \(error)\n\(plan)", sourceLocation: sourceLocation)
    }

    @Test(arguments: models.map(\.0))
    func denseZooModelMatchesReference(zoo: Zoo) throws {
        let size = Self.models.first { $0.0 == zoo }!.1
        try Self.check(try zoo.model(seed: 3, inputSize: size), label: "\(zoo) dense")
    }

    @Test(arguments: models.map(\.0), Granularity.allCases)
    func prunedZooModelMatchesReference(zoo: Zoo, granularity: Granularity) throws {
        let size = Self.models.first { $0.0 == zoo }!.1
        let model = try zoo.model(seed: 4, inputSize: size)
        let (pruned, masks) = try model.pruned(PruningOptions(granularity: granularity, sparsity: 0.8, scope: .global))
        #expect(!masks.isEmpty)
        let plan = try Planner(mode: .estimate, threads: 2).plan(pruned)
        // The planner sees the zeros: it finds the granularity that generated them (or a coarser one they happen to fit).
        for layer in plan.layers where layer.spec != nil && masks[layer.name] != nil && layer.sparsity > 0.5 {
            #expect(layer.granularity.map { $0 >= granularity } ?? false, "\(zoo) \(layer.name) detected \(String(describing: layer.granularity))")
        }
        try Self.check(pruned, label: "\(zoo) pruned 80% \(granularity)")
    }

    @Test func batchAndMeasureModeAgreeWithReference() throws {
        let model = try Zoo.cifarCascade.model(seed: 5)
        let (pruned, _) = try model.pruned(PruningOptions(granularity: .block1x2, sparsity: 0.9))
        try Self.check(pruned, batch: 3, mode: .measure, label: "cascade block1x2 batch 3 measure")
    }

    @Test func batchNormFoldingAndFusionPreserveOutputs() throws {
        let model = try Zoo.mobilenetV2.model(seed: 6, inputSize: 64)
        let prepared = try model.prepared()
        #expect(!prepared.nodes.contains { if case .batchNorm = $0.operation { true } else { false } })
        #expect(prepared.nodes.count < model.nodes.count)
        let input = try Tensor.random(shape: [1] + model.inputShape, seed: 7)
        let a = try ReferenceExecutor.run(model, input: input)
        let b = try ReferenceExecutor.run(prepared, input: input)
        #expect(try b.normalizedError(to: a) <= 1e-4)
    }

    @Test func denseModelPlansDensePaths() throws {
        let plan = try Planner(mode: .estimate).plan(try Zoo.mobilenetV1.model(inputSize: 64))
        for layer in plan.layers where layer.spec != nil {
            #expect([ExecutionPath.dense, .depthwise, .grouped].contains(layer.path!), "\(layer.name) → \(layer.path!)")
        }
        #expect(plan.description.contains("depthwise"))
    }

    /// The profile runs the same steps as `run`: one timing per step, in
    /// order, and it leaves the plan's results unchanged.
    @Test func profileTimesEveryStepInOrder() throws {
        let plan = try Planner(mode: .estimate, threads: 2).plan(try Zoo.lenet5.model(seed: 3))
        let x = try Tensor.random(shape: plan.inputShape, seed: 4)
        let before = try plan.run(x)
        let timings = try plan.profile(x, repetitions: 3)
        #expect(timings.map(\.name) == plan.steps.map(\.name))
        #expect(timings.allSatisfy { $0.milliseconds.isFinite && $0.milliseconds >= 0 })
        #expect(timings.contains { $0.path != nil })
        #expect(try plan.run(x).scalars == before.scalars)
        #expect(throws: SparseConvError.self) { try plan.profile(x, repetitions: 0) }
        #expect(throws: SparseConvError.self) { try plan.profile(try Tensor(shape: [1, 1, 8, 8]), repetitions: 1) }
    }

    @Test func planRunsConcurrentlyWithSeparateInputs() async throws {
        let (model, _) = try Zoo.resnet18.model(seed: 8, inputSize: 64).pruned(PruningOptions(granularity: .kernel, sparsity: 0.7))
        let plan = try Planner(mode: .estimate, threads: 1).plan(model)
        let inputs = try (0..<8).map { try Tensor.random(shape: plan.inputShape, seed: UInt64(100 + $0)) }
        let serial = try inputs.map { try plan.run($0) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
            for (index, input) in inputs.enumerated() { group.addTask { (index, try plan.run(input)) } }
            var results = [Tensor?](repeating: nil, count: inputs.count)
            for try await (index, output) in group { results[index] = output }
            return results.map { $0! }
        }
        #expect(concurrent == serial)
    }

    @Test func runningWithAContextIsRepeatable() throws {
        let plan = try Planner().plan(try Zoo.cifarDilated.model())
        let context = try plan.makeContext()
        let input = try Tensor.random(shape: plan.inputShape, seed: 1)
        var first = try Tensor(shape: plan.outputShape), second = first
        try plan.run(input, into: &first, context: context)
        try plan.run(input, into: &second, context: context)
        #expect(first == second)
        var wrong = try Tensor(shape: [1, 3])
        #expect(throws: SparseConvError.self) { try plan.run(input, into: &wrong, context: context) }
        #expect(throws: SparseConvError.self) { try plan.run(try Tensor(shape: [1, 3, 31, 32]), into: &first, context: context) }
    }

    @Test func buffersAreReusedAcrossLayers() throws {
        let plan = try Planner().plan(try Zoo.cifarCascade.model())
        let sum = plan.steps.reduce(0) { $0 + plan.model.shapes[$1.name]!.reduce(1, *) }
        #expect(plan.slotSizes.reduce(0, +) < sum / 2)
    }

    @Test func wisdomRoundTripsAndSurvivesCorruption() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparseconv-wisdom-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("wisdom.json").path
        let (model, _) = try Zoo.lenet5.model().pruned(PruningOptions(granularity: .element, sparsity: 0.9))
        let wisdom = Wisdom(contentsOf: path)
        #expect(wisdom.loadDiagnostic == nil && wisdom.count == 0)
        let plan = try Planner(mode: .measure, wisdom: wisdom).plan(model)
        #expect(wisdom.count > 0)
        try wisdom.save()
        let reloaded = Wisdom(contentsOf: path)
        #expect(reloaded.count == wisdom.count)
        let again = try Planner(mode: .measure, wisdom: reloaded).plan(model)
        #expect(again.layers.map(\.path) == plan.layers.map(\.path))
        #expect(again.layers.map(\.expectedMilliseconds) == plan.layers.map(\.expectedMilliseconds))
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
        let corrupt = Wisdom(contentsOf: path)
        #expect(corrupt.loadDiagnostic != nil && corrupt.count == 0)
        _ = try Planner(mode: .measure, wisdom: corrupt).plan(model)
        try Data(#"{"format":"sparseconv-wisdom","version":999,"entries":{"x":1}}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(Wisdom(contentsOf: path).count == 0)
    }
}

@Suite struct ModelGraphTests {
    static func conv(_ out: Int, _ inC: Int, k: Int = 3) throws -> LayerOperation {
        .convolution(try ConvolutionLayer(weight: Tensor.random(shape: [out, inC, k, k], seed: 1), padding: Padding(k / 2)))
    }

    @Test func shapeErrorsNameTheLayer() throws {
        #expect {
            try Model(name: "bad", inputShape: [3, 8, 8], nodes: [
                Node("c1", try Self.conv(4, 3), inputs: [Model.inputName]),
                Node("c2", try Self.conv(4, 5), inputs: ["c1"]),
            ])
        } throws: { error in "\(error)".contains("c2") }
        #expect(throws: SparseConvError.self) {
            try Model(name: "cycle", inputShape: [3, 8, 8], nodes: [
                Node("a", .relu, inputs: ["b"]), Node("b", .relu, inputs: ["a"]),
            ])
        }
        #expect(throws: SparseConvError.self) {
            try Model(name: "dangling", inputShape: [3, 8, 8], nodes: [Node("a", .relu, inputs: ["nowhere"])])
        }
        #expect(throws: SparseConvError.self) {
            try Model(name: "dup", inputShape: [3, 8, 8], nodes: [Node("a", .relu, inputs: [Model.inputName]), Node("a", .relu, inputs: ["a"])])
        }
        #expect(throws: SparseConvError.self) {
            try Model(name: "add", inputShape: [3, 8, 8], nodes: [
                Node("c", try Self.conv(4, 3), inputs: [Model.inputName]), Node("a", .add, inputs: ["c", Model.inputName]),
            ])
        }
    }

    @Test func nodesInAnyOrderAreSorted() throws {
        let model = try Model(name: "order", inputShape: [3, 8, 8], nodes: [
            Node("r", .relu, inputs: ["c"]), Node("c", try Self.conv(4, 3), inputs: [Model.inputName]),
        ], output: "r")
        #expect(model.nodes.map(\.name) == ["c", "r"])
        #expect(model.shapes["r"] == [4, 8, 8])
    }

    @Test func parameterAndMacCounts() throws {
        let model = try Model(name: "count", inputShape: [3, 8, 8], nodes: [
            Node("c", try Self.conv(4, 3), inputs: [Model.inputName]),
            Node("g", .globalAveragePool, inputs: ["c"]), Node("f", .flatten, inputs: ["g"]),
            Node("fc", .fullyConnected(try FullyConnectedLayer(weight: Tensor(shape: [10, 4], repeating: 1), bias: [Float](repeating: 0, count: 10))), inputs: ["f"]),
        ])
        #expect(model.parameterCount == 4 * 3 * 9 + 40 + 10)
        let macs = try model.macsPerLayer()
        #expect(macs[0].dense == 4 * 3 * 9 * 64 && macs[1].dense == 40)
    }

    @Test func prunedModelLeavesTheOriginalAndSkipsFirstAndDepthwise() throws {
        let model = try Zoo.mobilenetV1.model(inputSize: 64)
        let before = model.nonzeroParameterCount
        let (pruned, masks) = try model.pruned(PruningOptions(granularity: .element, sparsity: 0.9))
        #expect(model.nonzeroParameterCount == before)
        #expect(pruned.nonzeroParameterCount < before / 3)
        let convs = model.nodes.filter { if case .convolution = $0.operation { true } else { false } }
        #expect(masks[convs[0].name] == nil)
        for node in convs { if let spec = try model.convolutionSpec(of: node), spec.isDepthwise { #expect(masks[node.name] == nil) } }
        // Global scope reaches the total target over the pruned layers, respecting the minimum density.
        let (_, global) = try model.pruned(PruningOptions(granularity: .element, sparsity: 0.9, scope: .global, minimumDensity: 0.05))
        let kept = global.values.reduce(0) { $0 + $1.keptWeights }, total = global.values.reduce(0) { $0 + $1.spec.weightCount }
        #expect(abs(1 - Double(kept) / Double(total) - 0.9) < 0.01)
        for mask in global.values { #expect(mask.density >= 0.05 - 1e-9) }
        // A minimum density above 1 - target caps every layer, so the total stops at the cap.
        let (_, capped) = try model.pruned(PruningOptions(granularity: .element, sparsity: 0.9, scope: .global, minimumDensity: 0.2))
        let cappedKept = capped.values.reduce(0) { $0 + $1.keptWeights }
        #expect(abs(1 - Double(cappedKept) / Double(total) - 0.8) < 0.01)
        for mask in capped.values { #expect(mask.density >= 0.2 - 1e-9) }
        #expect(throws: SparseConvError.self) { try model.pruned(PruningOptions(granularity: .element, sparsity: 1.5)) }
        #expect(throws: SparseConvError.self) { try model.pruned(PruningOptions(granularity: .element, sparsity: 0.5, overrides: ["nope": 0.5])) }
    }
}
