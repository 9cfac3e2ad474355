import Testing
@testable import SparseConv

/// NaN and infinity in inputs and weights: no crash, no hang, and they reach
/// exactly the outputs the documented arithmetic says.
@Suite struct NumericalHygieneTests {
    /// Each path with a convolution it runs; sparse paths get 50 % of their units zeroed.
    static let cases: [(ExecutionPath, ConvolutionTester)] = [
        (.dense, ConvolutionTester().channels(8).sparsity(0.5, .element)),
        (.element, ConvolutionTester().channels(8).sparsity(0.5, .element)),
        (.block1x2, ConvolutionTester().channels(8).sparsity(0.5, .block1x2)),
        (.kernel, ConvolutionTester().channels(8).sparsity(0.5, .kernel)),
        (.channel, ConvolutionTester().channels(8).sparsity(0.5, .channel)),
        (.depthwise, ConvolutionTester().channels(8).groups(8)),
        (.grouped, ConvolutionTester().channels(8).groups(2)),
    ]

    /// Which outputs read input position (c, y, x) through a weight that is
    /// computed with: every weight on dense paths (0 × NaN is NaN, as IEEE
    /// says), only kept weights on sparse paths (pruned weights are absent).
    static func reached(_ spec: Conv2DSpec, _ weight: Tensor, sparse: Bool, at position: (Int, Int, Int)) throws -> [Bool] {
        var indicator = try Tensor(shape: spec.inputShape(batch: 1))
        indicator[0, position.0, position.1, position.2] = 1
        var links = weight
        links.withUnsafeMutableBufferPointer { w in
            for index in w.indices { w[index] = (sparse && w[index] == 0) ? 0 : 1 }
        }
        return try Reference.conv2d(spec, input: indicator, weight: links).scalars.map { $0 > 0 }
    }

    @Test(arguments: cases.map(\.0), [Float.nan, .infinity, -.infinity])
    func nonFiniteInputsReachExactlyTheOutputsThatReadThem(path: ExecutionPath, value: Float) throws {
        let tester = try #require(Self.cases.first { $0.0 == path }?.1)
        let spec = try tester.spec()
        let weight = try tester.weights(for: spec)
        let bias = try Tensor.random(shape: [spec.outChannels], seed: 5).scalars
        var input = try Tensor.random(shape: spec.inputShape(batch: 1), seed: 6)
        let position = (3, 4, 5)
        input[0, position.0, position.1, position.2] = value
        let sparse = [ExecutionPath.element, .block1x2, .kernel, .channel].contains(path)
        let expected = try Self.reached(spec, weight, sparse: sparse, at: position)
        #expect(expected.contains(true) && expected.contains(false))
        for isa in InstructionSet.allCases where isa.isSupported {
            let conv = try Conv2D(spec: spec, weight: weight, bias: bias, path: path, instructionSet: isa)
            for threads in [1, 2] {
                let output = try conv(input, threads: threads).scalars
                // One non-finite input times finite weights: ±inf or NaN exactly where it is read.
                #expect(output.map { !$0.isFinite } == expected, "\(path) \(isa) threads=\(threads) input \(value)")
                if value.isNaN { #expect(output.map(\.isNaN) == expected, "\(path) \(isa) threads=\(threads)") }
            }
        }
    }

    /// The activation fused into a convolution is max(x, 0), which maps NaN to
    /// 0 (IEEE 754-2008 maxNum); the planner fuses a ReLU that follows a
    /// convolution, so a model's NaN becomes 0 there where ONNX Runtime keeps
    /// NaN. Pinned so that changing it is a decision, not an accident.
    @Test func fusedReluMapsNaNToZero() throws {
        let tester = ConvolutionTester().channels(8)
        let spec = try tester.spec()
        let weight = try tester.weights(for: spec)
        var input = try Tensor.random(shape: spec.inputShape(batch: 1), seed: 6)
        input[0, 3, 4, 5] = .nan
        let reached = try Self.reached(spec, weight, sparse: false, at: (3, 4, 5))
        func zeroWhereReached(_ output: [Float]) -> Bool {
            zip(output, reached).allSatisfy { value, read in read ? value == 0 : value.isFinite && value >= 0 }
        }
        #expect(zeroWhereReached(try Conv2D(spec: spec, weight: weight, activation: .relu, path: .dense)(input).scalars))
        let model = try Model(name: "relu", inputShape: Array(spec.inputShape(batch: 1).dropFirst()), nodes: [
            Node("conv", .convolution(try ConvolutionLayer(weight: weight)), inputs: [Model.inputName]),
            Node("relu", .relu, inputs: ["conv"]),
        ])
        #expect(zeroWhereReached(try model.evaluate(input).scalars))
    }

    /// Magnitude pruning ranks a NaN weight above every number and an
    /// infinite one above every finite one: both are kept, at layer and global scope.
    @Test(arguments: PruningOptions.Scope.allCases)
    func nonFiniteWeightsAreKeptByMagnitudePruning(scope: PruningOptions.Scope) throws {
        let model = try Zoo.cifarCascade.model(seed: 4)
        let convolutions = model.nodes.compactMap { node -> (String, ConvolutionLayer)? in
            if case .convolution(let conv) = node.operation { return (node.name, conv) } else { return nil }
        }
        let (name, layer) = convolutions[2]
        var conv = layer
        conv.weight.withUnsafeMutableBufferPointer { w in
            w[0] = .nan
            w[7] = -.infinity
            w[11] = 0   // a zero next to them is still pruned first
        }
        let poisoned = try model.replacing([name: .convolution(conv)])
        let result = try poisoned.pruning(PruningOptions(granularity: .element, sparsity: 0.9, scope: scope))
        let mask = try #require(result.masks[name])
        #expect(mask.keep[0] && mask.keep[7] && !mask.keep[11])
        guard case .convolution(let pruned)? = result.zeroed.node(named: name)?.operation else {
            Issue.record("\(name) is no longer a convolution")
            return
        }
        #expect(pruned.weight[flat: 0].isNaN && pruned.weight[flat: 7] == -.infinity && pruned.weight[flat: 11] == 0)
        // The pruned model still plans and runs (the fused ReLU after it maps the NaN to 0).
        let output = try result.output.evaluate(try poisoned.probeInput())
        #expect(output.shape == [1] + result.output.shapes[result.output.outputName]!)
    }
}
