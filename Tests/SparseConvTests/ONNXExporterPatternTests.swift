import CSparseConv
import Foundation
import Testing
@testable import SparseConv

/// Graphs shaped as PyTorch's two exporters and tf2onnx write them
/// (Fixtures/onnx/make_exporter_fixtures.py; goldens from ONNX Runtime): shape
/// arithmetic folded at load time, layout round trips cancelled, Pads taken
/// into padding, and the activations, selections and reductions they use.
@Suite struct ONNXExporterPatternTests {
    static let directory = ONNXImportTests.directory.appendingPathComponent("exporters")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let fixtures = ["torch_script", "torch_dynamo", "tf2onnx_nhwc", "shufflenet_v2", "activations", "pools",
                           "shape_arithmetic", "constant_first"]

    static func load(_ name: String) throws -> (model: Model, input: Tensor, golden: Tensor) {
        (try Model(onnxFile: path("\(name).onnx")), try NumPy.read(contentsOf: path("\(name).input.npy")),
         try NumPy.read(contentsOf: path("\(name).output.npy")))
    }

    static func run(_ model: Model, _ input: Tensor) throws -> Tensor {
        try Planner(mode: .estimate, threads: 2).plan(model, batch: input.shape[0]).run(input)
    }

    /// The golden's shape is ONNX's; ours may differ in unit axes only.
    static func error(_ output: Tensor, _ golden: Tensor) throws -> Float {
        try output.reshaped(golden.shape).normalizedError(to: golden)
    }

    @Test(arguments: fixtures)
    func fixtureMatchesOnnxRuntime(name: String) throws {
        let (model, input, golden) = try Self.load(name)
        let error = try Self.error(try Self.run(model, input), golden)
        #expect(error <= 1e-4, "\(name): normalized error \(error)")
        // The layer-by-layer reference agrees too: the new layers' semantics, not only their kernels.
        let reference = try ReferenceExecutor.run(model, input: input)
        #expect(try Self.error(reference, golden) <= 1e-4, "\(name): reference disagrees with ONNX Runtime")
    }

    /// Shape arithmetic was folded at two probe batches: the model runs any batch.
    @Test(arguments: fixtures)
    func foldedModelsRunOtherBatchSizes(name: String) throws {
        let (model, input, golden) = try Self.load(name)
        let perImage = input.count / input.shape[0], perOutput = golden.count / golden.shape[0]
        let single = try Tensor(shape: [1] + Array(input.shape.dropFirst()), scalars: Array(input.scalars[perImage...]))
        let expected = try Tensor(shape: [1] + Array(golden.shape.dropFirst()), scalars: Array(golden.scalars[perOutput...]))
        #expect(try Self.error(try Self.run(model, single), expected) <= 1e-4)
    }

    /// Export writes the new layers back in forms ONNX Runtime runs and our importer reads.
    @Test(arguments: fixtures)
    func exportRoundTrips(name: String) throws {
        let (model, input, golden) = try Self.load(name)
        let reloaded = try Model(onnxData: try model.onnxData())
        #expect(Set(reloaded.nodes.map(\.name)).isSuperset(of: model.nodes.map(\.name)))
        #expect(try Self.error(try Self.run(reloaded, input), golden) <= 1e-4)
    }

    @Test func torchScriptFlattenIsFoldedAway() throws {
        let model = try Model(onnxFile: Self.path("torch_script.onnx"))
        let summary = try #require(model.importSummary)
        for op in ["Shape", "Gather", "Unsqueeze", "Concat", "Constant"] {
            #expect(summary.folded[op, default: 0] >= 1, "\(op) not folded: \(summary)")
        }
        #expect(summary.removed["Identity"] == 1)
        // Only real layers remain: 5 convolutions, 4 ReLUs, 2 adds, 2 poolings, fc (which flattens itself).
        #expect(model.nodes.count == 14, "\(model.nodes.map(\.name))")
        #expect(model.node(named: "/flatten/Reshape") == nil)
        #expect(model.inputShape == [3, 16, 16])
        #expect("\(summary)".contains("folded at load time: Concat ×1"))
    }

    @Test func dynamoPatterns() throws {
        let model = try Model(onnxFile: Self.path("torch_dynamo.onnx"))
        #expect(model.node(named: "mul")?.operation == .silu)
        #expect(model.node(named: "sigmoid") == nil)
        #expect(model.node(named: "hardswish")?.operation == .hardSwish)
        // A HardSigmoid gating another tensor is a gate, not a HardSwish.
        #expect(model.node(named: "hardsigmoid")?.operation == .hardSigmoid(alpha: 1.0 / 6, beta: 0.5))
        #expect(model.node(named: "mul_1")?.operation == .channelScale)
        #expect(model.node(named: "mean")?.operation == .globalAveragePool)
        #expect(model.node(named: "clamp")?.operation == .relu6)
        #expect(model.importSummary?.fused["Sigmoid·Mul (SiLU)"] == 1)
    }

    @Test func tf2onnxTransposesCancelAndPadFolds() throws {
        let model = try Model(onnxFile: Self.path("tf2onnx_nhwc.onnx"))
        let summary = try #require(model.importSummary)
        #expect(summary.removed["Transpose"] == 7)
        #expect(summary.removed["Pad"] == 1)
        guard case .convolution(let conv)? = model.node(named: "model/conv2d_1/Conv2D")?.operation else {
            Issue.record("no convolution"); return
        }
        #expect(conv.padding == Padding(1))
        #expect(model.node(named: "model/concatenate/concat")?.operation == .concat)
        #expect(model.node(named: "model/gap/Mean")?.operation == .globalAveragePool)
        guard case .batchNorm(let bn)? = model.node(named: "model/bn/mul")?.operation else {
            Issue.record("Mul by a [C] constant in NHWC is not a per-channel scale"); return
        }
        #expect(bn.channels == 8)
    }

    @Test func shuffleNetV2ChannelSplit() throws {
        let model = try Model(onnxFile: Self.path("shufflenet_v2.onnx"))
        #expect(model.node(named: "/stage2/0/Split")?.operation == .channelSelect(indices: Array(0..<8)))
        #expect(model.node(named: "/stage2/0/Split.1")?.operation == .channelSelect(indices: Array(8..<16)))
        #expect(model.node(named: "/stage2/1/Slice_1")?.operation == .channelSelect(indices: Array(8..<16)))
        #expect(model.node(named: "/stage2/0/shuffle/Reshape_1")?.operation == .channelShuffle(groups: 2))
        #expect(model.node(named: "/select/Gather")?.operation == .channelSelect(indices: [15, 0, 3, 3, 7, 12]))
    }

    @Test func activationsAndPools() throws {
        let activations = try Model(onnxFile: Self.path("activations.onnx"))
        #expect(activations.node(named: "leaky")?.operation == .leakyRelu(alpha: 0.1))
        #expect(activations.node(named: "hardswish/Mul")?.operation == .hardSwish)
        #expect(activations.node(named: "reducemax")?.operation == .maxPool(PoolLayer(kernelSize: (12, 12))))
        // Standalone batch norm after a concat stays a layer when prepared.
        guard case .batchNorm? = try activations.prepared().node(named: "bn_after_concat")?.operation else {
            Issue.record("standalone batch norm vanished"); return
        }
        let pools = try Model(onnxFile: Self.path("pools.onnx"))
        guard case .maxPool(let max)? = pools.node(named: "maxpool_ceil")?.operation,
              case .averagePool(let average)? = pools.node(named: "avgpool_pad")?.operation else {
            Issue.record("pools missing"); return
        }
        #expect(max.padding == Padding(top: 1, left: 0, bottom: 1, right: 2) && max.ceilMode)
        guard case .maxPool(let dilated)? = pools.node(named: "maxpool_dilated")?.operation else { Issue.record("no dilated pool"); return }
        #expect(dilated.dilation == (2, 2))
        #expect(average.padding == Padding(1) && average.countIncludePad)
    }

    @Test func shapeArithmeticFolds() throws {
        let model = try Model(onnxFile: Self.path("shape_arithmetic.onnx"))
        let summary = try #require(model.importSummary)
        for op in ["Range", "Cast", "Size", "Div", "Mul", "ConstantOfShape", "Squeeze", "Expand", "Shape"] {
            #expect(summary.folded[op, default: 0] >= 1, "\(op) not folded: \(summary)")
        }
        #expect(model.node(named: "select_even")?.operation == .channelSelect(indices: [0, 2, 4, 6, 8]))
        #expect(model.node(named: "clip")?.operation == .clip(min: 0.25, max: 2))
    }

    // MARK: Rejected graphs

    static func message(_ name: String) -> (error: SparseConvError?, text: String) {
        do {
            _ = try Model(onnxFile: path("rejected/\(name).onnx"))
            return (nil, "no error")
        } catch let error as SparseConvError {
            return (error, "\(error)")
        } catch {
            return (nil, "\(error)")
        }
    }

    @Test func outOfScopeOperatorsAreAllNamedUpFront() throws {
        let (error, text) = Self.message("out_of_scope")
        guard case .unsupported? = error else { Issue.record("expected unsupported, got \(text)"); return }
        for expected in ["If (node 'branch')", "Loop (node 'loop')", "QLinearConv (node 'qconv')",
                         "DequantizeLinear (node 'dequant')", "ai.onnx.preview.training.Gradient (node 'grad')"] {
            #expect(text.contains(expected), "\(text)")
        }
    }

    @Test(arguments: [("bn_training", "training_mode"), ("pad_maxpool_signed", "non-negative"),
                      ("batch_mixing_reshape", "batch"), ("nhwc_input", "inputs-as-nchw"),
                      ("reciprocal_div", "reciprocal")])
    func rejectedGraphsSayWhy(name: String, reason: String) throws {
        let (error, text) = Self.message(name)
        #expect(error != nil, "\(name): \(text)")
        #expect(text.contains(reason), "\(name): \(text)")
    }

    // MARK: The evaluator and the kernels

    static func node(_ op: String, _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.attribute = attributes
        return node
    }

    static func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name; attribute.type = .ints; attribute.ints = values
        return attribute
    }

    static func int(_ name: String, _ value: Int64) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name; attribute.type = .int; attribute.i = value
        return attribute
    }

    @Test func folderFollowsOnnxSemantics() throws {
        let shape = try StaticTensor.integers([2, 6, 5, 4])
        func run(_ op: String, _ inputs: [StaticTensor?], _ attributes: [Onnx_AttributeProto] = [], opset: Int = 13) throws -> StaticTensor {
            try ConstantFolder.evaluate(Self.node(op, attributes), opset: opset, inputs: inputs)
        }
        // Slice backwards with clamping, as ONNX Runtime does.
        #expect(try run("Slice", [shape, try .integers([-1]), try .integers([-100]), try .integers([0]), try .integers([-2])]).values
            == .integers([4, 6]))
        #expect(try run("Slice", [shape, try .integers([1]), try .integers([Int64.max])]).values == .integers([6, 5, 4]))
        // Gather of a 2-D index tensor along axis 0.
        let gathered = try run("Gather", [shape, try .integers([0, 3, -1, 1], dims: [2, 2])])
        #expect(gathered.dims == [2, 2] && gathered.values == .integers([2, 4, 4, 6]))
        // Broadcasting integer division truncates; division by zero is an error, not a crash.
        let matrix = try StaticTensor.integers([7, -7, 9, 12], dims: [2, 2])
        #expect(try run("Div", [matrix, try .integers([2, 3])]).values == .integers([3, -2, 4, 4]))
        #expect(throws: SparseConvError.self) { try run("Div", [matrix, try .integers([0])]) }
        #expect(throws: SparseConvError.self) { try run("Mul", [try .integers([Int64.max]), try .integers([2])]) }
        // Where/Equal as exporters write `-1 if dim == 0 else dim`.
        let isZero = try run("Equal", [try .integers([0, 3]), try .integers([0])])
        #expect(try run("Where", [isZero, try .integers([-1]), try .integers([0, 3])]).values == .integers([-1, 3]))
        #expect(try run("Range", [try .integers([10], dims: []), try .integers([1], dims: []), try .integers([-3], dims: [])]).values
            == .integers([10, 7, 4]))
        #expect(try run("Transpose", [matrix], [Self.ints("perm", [1, 0])]).values == .integers([7, 9, -7, 12]))
        #expect(try run("Unsqueeze", [try .integers([5], dims: [])], [Self.ints("axes", [0])], opset: 11).dims == [1])
        // Hostile sizes are refused before anything is allocated.
        #expect(throws: SparseConvError.self) { try run("ConstantOfShape", [try .integers([1 << 20, 1 << 20])]) }
        #expect(throws: SparseConvError.self) { try run("Expand", [try .integers([1]), try .integers([1 << 30])]) }
        #expect(throws: SparseConvError.self) { try run("Concat", [shape, matrix], [Self.int("axis", 0)]) }
    }

    /// The new element-wise kernels against double precision, over a range that
    /// reaches both the series and the exponential branches of tanh.
    @Test func activationKernelsMatchDoublePrecision() throws {
        let count = 1000
        let input = (0..<count).map { Float($0 - count / 2) * 0.021 } + [0, -0.0, 1e-6, -1e-6, 80, -80, .nan]
        // Transcendental ones to a relative 2e-6; the piecewise-linear ones to float rounding of their inputs.
        let cases: [(sc_unary, Float, Float, Bool, (Double) -> Double)] = [
            (SC_UNARY_TANH, 0, 0, true, { Foundation.tanh($0) }),
            (SC_UNARY_SILU, 0, 0, true, { $0 / (1 + Foundation.exp(-$0)) }),
            (SC_UNARY_LEAKY_RELU, 0.1, 0, false, { $0 < 0 ? Double(Float(0.1)) * $0 : $0 }),
            (SC_UNARY_HARD_SIGMOID, 0.2, 0.5, false, { min(max(Double(Float(0.2)) * $0 + 0.5, 0), 1) }),
            (SC_UNARY_HARD_SWISH, 0, 0, false, { $0 * min(max($0 / 6 + 0.5, 0), 1) }),
        ]
        for (kind, a, b, relative, reference) in cases {
            var output = [Float](repeating: 0, count: input.count)
            let status = sc_activation_apply(Int64(input.count), input, &output, kind, a, b, 2)
            #expect(status == SC_OK)
            for (x, y) in zip(input, output) {
                if x.isNaN { #expect(y.isNaN, "\(kind) of NaN is \(y)"); continue }
                let expected = reference(Double(x))
                let tolerance = relative ? 2e-6 * abs(expected) + 1e-37 : 3e-7 * max(abs(Double(x)), 1)
                #expect(abs(Double(y) - expected) <= tolerance, "\(kind)(\(x)) = \(y), expected \(expected)")
            }
        }
        var output = [Float](repeating: 0, count: 4)
        #expect(sc_activation_apply(4, [1, 2, 3, 4], &output, SC_UNARY_LEAKY_RELU, .nan, 0, 1) == SC_INVALID_ARGUMENT)
        #expect(sc_activation_apply(4, [1, 2, 3, 4], &output, sc_unary(rawValue: 10), 0, 0, 1) == SC_INVALID_ARGUMENT)
    }
}
