import Foundation
import SwiftProtobuf

extension Model {
    /// Operators (default domain) that ``init(onnxFile:inputShape:)`` imports.
    ///
    /// Reshape, Transpose, Unsqueeze and Squeeze are accepted only in the
    /// shapes CNN exporters produce: the reshape-transpose-reshape channel
    /// shuffle, a flatten to `[N, -1]`, adding or removing unit axes (an SE
    /// gate going back to `[N, C, 1, 1]`), and tf2onnx's NCHW→NHWC→NCHW
    /// Transpose pairs, which cancel. A zero Pad is taken into the padding of
    /// the Conv or pooling after it.
    ///
    /// Shape arithmetic (Shape, Gather, Slice, Cast, Range, …) is evaluated
    /// while loading when its inputs are known then; the same operators on
    /// activations are accepted where they mean a layer (Gather, Slice and
    /// Split along channels; Add, Sub, Mul, Div by a per-channel constant).
    public static let supportedONNXOperators: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant", "ConstantOfShape",
        "Conv", "Div", "Dropout", "Equal", "Expand", "Flatten", "Floor", "Gather", "Gemm", "GlobalAveragePool",
        "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "MatMul", "Max", "MaxPool", "Min", "Mul",
        "Neg", "PRelu", "Pad", "Range", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Size",
        "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where",
    ]

    /// Opset versions of the default ONNX domain the importer accepts.
    public static let supportedONNXOpsets: ClosedRange<Int> = 7...23

    /// Loads a convolutional network from an ONNX file.
    ///
    /// The graph must have one float input `[N, C, H, W]` and one output. Node
    /// names become model node names (a nameless node takes its output's
    /// name), and every weight keeps its initializer name in
    /// ``parameterNames`` so ``writeONNX(to:)`` writes it back under that name.
    /// Pruned weights are ordinary zeros; the planner, and
    /// ``detectedPruning()``, find the granularity they fit.
    ///
    /// Weights may be float32 or float64 (converted), in `raw_data`, in the
    /// typed fields or in external data files beside the model. NaN or
    /// infinite weights are accepted and propagate to the outputs that read
    /// them, as in onnxruntime.
    ///
    /// ```swift
    /// let model = try Model(onnxFile: "resnet18.onnx")
    /// let plan = try Planner(mode: .estimate).plan(model, batch: 1)
    /// let y = try plan.run(try NumPy.read(contentsOf: "x.npy"))
    /// ```
    /// - Parameters:
    ///   - path: the `.onnx` file.
    ///   - inputShape: `[C, H, W]` or `[N, C, H, W]` (N is ignored: the batch is
    ///     chosen when planning) overriding the declared input shape; needed
    ///     when the file leaves C, H or W symbolic.
    /// - Throws: `SparseConvError.unsupported` naming every unsupported
    ///   operator with its node (checked before anything else is decoded);
    ///   `.invalidSpec` for a corrupt or truncated file, inconsistent
    ///   initializers, a missing initializer, a cycle or a shape error;
    ///   `.invalidArgument` when the file or its external data cannot be read.
    public init(onnxFile path: String, inputShape: [Int]? = nil) throws {
        self = try Model.loadONNX(file: path, inputShape: inputShape).model
    }

    /// Loads a convolutional network from the bytes of an ONNX file; see
    /// ``init(onnxFile:inputShape:)``.
    /// - Parameter externalDataDirectory: where external data files are
    ///   looked up (nil: a model with external data is rejected).
    public init(onnxData data: Data, inputShape: [Int]? = nil, externalDataDirectory: String? = nil) throws {
        self = try ONNXImporter.importModel(data: data, source: "ONNX data", directory: externalDataDirectory,
                                            fallbackName: "onnx", inputShape: inputShape)
    }

    /// The pruning pattern that the zeros of each convolution's weights fit
    /// (``PruningMask/detect(weight:spec:)``), by node name; dense
    /// convolutions (no zero weights) are absent.
    public func detectedPruning() throws -> [String: PruningMask] {
        var result: [String: PruningMask] = [:]
        for node in nodes {
            guard case .convolution(let conv) = node.operation, let spec = try convolutionSpec(of: node) else { continue }
            if let mask = try PruningMask.detect(weight: conv.weight, spec: spec) { result[node.name] = mask }
        }
        return result
    }
}

/// What the importer did to an ONNX graph beyond translating node for node.
public struct ONNXImportSummary: Sendable, Equatable, CustomStringConvertible {
    /// Nodes of the ONNX graph.
    public var onnxNodes = 0
    /// Opset of the default domain.
    public var opset = 0
    /// Nodes of the imported model.
    public var modelNodes = 0
    /// Nodes evaluated while loading (shape arithmetic, constants), by operator.
    public var folded: [String: Int] = [:]
    /// Nodes that compute nothing at run time (Identity, Dropout, a zero Pad
    /// taken into the padding of the next layer, Transposes that cancel), by operator.
    public var removed: [String: Int] = [:]
    /// Groups of ONNX nodes that became one model node, by pattern.
    public var fused: [String: Int] = [:]

    public init() {}

    public var description: String {
        func list(_ counts: [String: Int]) -> String {
            counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        }
        return """
            ONNX opset \(opset): \(onnxNodes) nodes imported as \(modelNodes) model nodes
              folded at load time: \(list(folded))
              removed: \(list(removed))
              fused: \(list(fused))
            """
    }
}

/// Turns a decoded ONNX graph into `Node`s.
///
/// Shapes are tracked per ONNX tensor twice: as the model will infer them
/// (`shape`) and as ONNX sees them without the batch (`onnxShape`). They
/// differ only after a reshape that adds or drops unit axes, which the model
/// does not need as a node (a `[C]` gate scales channels as well as `[C, 1, 1]`).
struct ONNXImporter {
    struct Value {
        var node: String
        var shape: [Int]
        var onnxShape: [Int]
        /// A constant-zero Pad not yet applied: the next convolution or pooling takes it as padding.
        var pendingPad: Padding? = nil
        /// The data is the model's NCHW `shape`, but ONNX sees it transposed to
        /// NHWC (`onnxShape` is `[H, W, C]`): tf2onnx wraps every convolution in
        /// a Transpose pair, and the pairs cancel.
        var nhwc = false
    }

    let graph: Onnx_GraphProto
    let opset: Int
    let modelName: String
    let decoder: ONNXTensorDecoder
    var constants: [String: Onnx_TensorProto] = [:]
    var values: [String: Value] = [:]
    var nodes: [Node] = []
    /// Model shape of each model node's output.
    var nodeShapes: [String: [Int]] = [:]
    var usedNames: Set<String> = [Model.inputName]
    var parameterNames: [String: [String]] = [:]
    /// How many node inputs and graph outputs read each tensor.
    var readers: [String: Int] = [:]
    /// ONNX node index producing each tensor.
    var producer: [String: Int] = [:]
    /// Nodes already folded into an earlier one (bias Add, shuffle Transpose/Reshape).
    var absorbed: Set<Int> = []
    /// Tensors computed at load time, at each of `ConstantFolder.probeBatches`.
    var folded: [String: (StaticTensor, StaticTensor)] = [:]
    /// ONNX nodes already imported (some ahead of the topological order: see `foldAhead`).
    var imported: Set<Int> = []
    var summary = ONNXImportSummary()

    static func importModel(data: Data, source: String, directory: String?, fallbackName: String,
                            inputShape: [Int]?) throws -> Model {
        // Decoding copies the file's tensors into memory, so a file over the limit is refused unread.
        try ResourceLimits.checkAllocation(bytes: data.count, "\(source) (\(data.count) bytes)")
        let proto: Onnx_ModelProto
        do {
            proto = try ONNXModelDecoding.decode(data)
        } catch {
            throw SparseConvError.invalidSpec("\(source) is not a valid ONNX model (truncated or corrupt protobuf: \(error))")
        }
        let name = proto.graph.name.isEmpty ? fallbackName : proto.graph.name
        let graph = proto.graph
        try checkOperators(graph, model: name)
        let defaultDomain = proto.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let opset = defaultDomain.map(\.version).max() else {
            throw SparseConvError.invalidSpec("ONNX model '\(name)' imports no opset of the default domain")
        }
        guard Model.supportedONNXOpsets.contains(Int(opset)) else {
            throw SparseConvError.unsupported("ONNX model '\(name)' uses opset \(opset); supported: \(Model.supportedONNXOpsets)")
        }
        var importer = ONNXImporter(graph: graph, opset: Int(opset), modelName: name,
                                    decoder: ONNXTensorDecoder(directory: directory))
        return try importer.run(inputShape: inputShape)
    }

    /// Rejects every operator outside the supported set at once, so a user
    /// sees the whole list rather than one failure per attempt.
    static func checkOperators(_ graph: Onnx_GraphProto, model: String) throws {
        var unsupported: [String] = []
        let supported = Set(Model.supportedONNXOperators)
        for (index, node) in graph.node.enumerated() {
            let defaultDomain = node.domain.isEmpty || node.domain == "ai.onnx"
            if !defaultDomain || !supported.contains(node.opType) {
                let op = defaultDomain ? node.opType : "\(node.domain).\(node.opType)"
                let label = node.name.isEmpty ? "#\(index)" : "'\(node.name)'"
                unsupported.append("\(op) (node \(label))")
            }
        }
        guard unsupported.isEmpty else {
            throw SparseConvError.unsupported("ONNX model '\(model)' uses operators SparseConv does not support: \(unsupported.joined(separator: ", ")). Supported: \(Model.supportedONNXOperators.joined(separator: ", "))")
        }
    }

    // MARK: Graph

    mutating func run(inputShape requested: [Int]?) throws -> Model {
        guard !graph.node.isEmpty else { throw fail("the graph has no nodes") }
        guard graph.node.count <= Model.maximumNodes else {
            throw fail("the graph has \(graph.node.count) nodes (limit \(Model.maximumNodes))")
        }
        for tensor in graph.initializer {
            guard !tensor.name.isEmpty else { throw fail("an initializer has no name") }
            constants[tensor.name] = tensor
        }
        if !graph.sparseInitializer.isEmpty { throw SparseConvError.unsupported("ONNX model '\(modelName)': sparse initializers") }

        let realInputs = graph.input.filter { constants[$0.name] == nil }
        guard realInputs.count == 1, let input = realInputs.first else {
            throw fail("expected one graph input besides initializers, found \(realInputs.map(\.name))")
        }
        let shape = try Self.inputShape(input, requested: requested, model: modelName)
        values[input.name] = Value(node: Model.inputName, shape: shape, onnxShape: shape)
        nodeShapes[Model.inputName] = shape

        guard graph.output.count == 1, let output = graph.output.first else {
            throw fail("expected one graph output, found \(graph.output.map(\.name))")
        }
        let order = try topologicalOrder(graphInput: input.name)
        for node in graph.node { for name in node.input where !name.isEmpty { readers[name, default: 0] += 1 } }
        readers[output.name, default: 0] += 1

        for index in order where !absorbed.contains(index) && !imported.contains(index) {
            try importNode(index)
        }
        guard let result = values[output.name] else {
            throw fail("graph output '\(output.name)' is not computed by any node")
        }
        guard result.node != Model.inputName else { throw fail("the graph output is its input: nothing to compute") }
        var model = try Model(name: modelName, inputShape: shape, nodes: nodes, output: result.node)
        model.parameterNames = parameterNames
        summary.onnxNodes = graph.node.count
        summary.opset = opset
        summary.modelNodes = nodes.count
        model.importSummary = summary
        return model
    }

    /// `[C, H, W]` from the declared input type, or from the caller.
    static func inputShape(_ input: Onnx_ValueInfoProto, requested: [Int]?, model: String) throws -> [Int] {
        guard case .tensorType(let type)? = input.type.value else {
            throw SparseConvError.invalidSpec("ONNX model '\(model)': input '\(input.name)' is not a tensor")
        }
        if type.hasElemType, type.elemType != Int32(Onnx_TensorProto.DataType.float.rawValue) {
            throw SparseConvError.unsupported("ONNX model '\(model)': input '\(input.name)' is \(ONNXTensorDecoder.typeName(type.elemType)), not float32")
        }
        var shape: [Int]
        if let requested {
            guard requested.count == 3 || requested.count == 4 else {
                throw SparseConvError.invalidArgument("input shape must be [C, H, W] or [N, C, H, W], got \(requested)")
            }
            shape = Array(requested.suffix(3))
        } else {
            let dims = type.shape.dim
            guard type.hasShape, dims.count == 4 else {
                throw SparseConvError.invalidSpec("ONNX model '\(model)': input '\(input.name)' must be declared [N, C, H, W] (or pass an input shape); it has \(type.hasShape ? "\(dims.count)" : "no") dimensions")
            }
            shape = []
            for dim in dims.dropFirst() {
                guard case .dimValue(let value)? = dim.value, value >= 1 else {
                    throw SparseConvError.invalidSpec("ONNX model '\(model)': input '\(input.name)' has a symbolic or invalid C, H or W; pass an input shape")
                }
                shape.append(value > Int64(Int32.max) ? Int(Int32.max) + 1 : Int(value))
            }
        }
        // Bounded here so that no later size computation can overflow.
        let limit = 1 << 20
        guard shape.allSatisfy({ $0 >= 1 && $0 <= limit }), shape.reduce(1, *) <= 1 << 31 else {
            throw SparseConvError.invalidSpec("ONNX model '\(model)': input shape \(shape) is out of range (each extent 1...\(limit), at most 2³¹ elements per image)")
        }
        return shape
    }

    /// Orders the ONNX nodes so producers come first, rejecting duplicate
    /// outputs, inputs nothing provides, and cycles.
    mutating func topologicalOrder(graphInput: String) throws -> [Int] {
        for (index, node) in graph.node.enumerated() {
            for output in node.output where !output.isEmpty {
                guard producer.updateValue(index, forKey: output) == nil, output != graphInput, constants[output] == nil else {
                    throw fail("tensor '\(output)' is produced twice (node \(label(index)))")
                }
            }
        }
        var pending = [Int](repeating: 0, count: graph.node.count)
        var consumers = [[Int]](repeating: [], count: graph.node.count)
        for (index, node) in graph.node.enumerated() {
            for input in node.input where !input.isEmpty {
                if let source = producer[input] {
                    pending[index] += 1
                    consumers[source].append(index)
                } else if input != graphInput && constants[input] == nil {
                    throw fail("node \(label(index)) (\(node.opType)) reads '\(input)', which no node, initializer or graph input provides")
                }
            }
        }
        var ready = (0..<graph.node.count).filter { pending[$0] == 0 }
        var cursor = 0
        while cursor < ready.count {
            for consumer in consumers[ready[cursor]] {
                pending[consumer] -= 1
                if pending[consumer] == 0 { ready.append(consumer) }
            }
            cursor += 1
        }
        guard ready.count == graph.node.count else {
            let stuck = (0..<graph.node.count).filter { pending[$0] > 0 }.prefix(5).map { label($0) }
            throw fail("the graph has a cycle through nodes \(stuck.joined(separator: ", "))")
        }
        return ready
    }

    // MARK: Nodes

    mutating func importNode(_ index: Int) throws {
        imported.insert(index)
        let node = graph.node[index]
        let context = "node \(label(index)) (\(node.opType))"
        do {
            try importNode(node, index: index)
        } catch let error as SparseConvError {
            switch error {
            case .invalidSpec(let message) where message.hasPrefix("ONNX model"): throw error
            case .unsupported(let message) where message.hasPrefix("ONNX model"): throw error
            case .invalidSpec(let message): throw fail("\(context): \(message)")
            case .unsupported(let message): throw SparseConvError.unsupported("ONNX model '\(modelName)', \(context): \(message)")
            case .outOfMemory(let message): throw SparseConvError.outOfMemory("ONNX model '\(modelName)', \(context): \(message)")
            default: throw fail("\(context): \(error)")
            }
        }
    }

    private mutating func importNode(_ node: Onnx_NodeProto, index: Int) throws {
        if ConstantFolder.operators.contains(node.opType), try fold(node) {
            summary.folded[node.opType, default: 0] += 1
            return
        }
        // A constant first operand (Add(c, x), as some converters write it): Add
        // and Mul commute, and Sub(c, x) is x·(−1) + c; the rest of the importer
        // sees the activation first. Div(c, x) is a reciprocal, not an affine map.
        var node = node
        var negated = false
        if ["Add", "Mul", "Sub", "Div"].contains(node.opType), node.input.count == 2,
           constants[node.input[0]] != nil, constants[node.input[1]] == nil {
            guard node.opType != "Div" else {
                throw SparseConvError.unsupported("Div of a constant by a tensor (a reciprocal of the activations)")
            }
            node.input.swapAt(0, 1)
            negated = node.opType == "Sub"
        }
        let attributes = Attributes(node)
        switch node.opType {
        case "Constant":
            guard node.output.count == 1 else { throw SparseConvError.invalidSpec("expects one output") }
            var tensor: Onnx_TensorProto
            if let value = attributes["value"], value.hasT {
                tensor = value.t
            } else if let value = attributes["value_float"] {
                tensor = Onnx_TensorProto()
                tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
                tensor.floatData = [value.f]
            } else if let value = attributes["value_floats"] {
                tensor = Onnx_TensorProto()
                tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
                tensor.dims = [Int64(value.floats.count)]
                tensor.floatData = value.floats
            } else if let value = attributes["value_int"] {
                tensor = Onnx_TensorProto()
                tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
                tensor.int64Data = [value.i]
            } else if let value = attributes["value_ints"] {
                tensor = Onnx_TensorProto()
                tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
                tensor.dims = [Int64(value.ints.count)]
                tensor.int64Data = value.ints
            } else {
                throw SparseConvError.unsupported("only tensor, float and int constants")
            }
            tensor.name = node.output[0]
            constants[node.output[0]] = tensor
            summary.folded["Constant", default: 0] += 1
            return
        case "Identity", "Dropout":
            try onlyFirstOutputUsed(node)
            // PyTorch exports shared weights as Identity of an initializer.
            if let first = node.input.first, let tensor = constants[first] {
                constants[try output(node)] = tensor
                if let known = folded[first] { folded[try output(node)] = known }
            } else if let first = node.input.first, let known = folded[first] {
                folded[try output(node)] = known
            } else {
                values[try output(node)] = try activation(node, 0)
            }
            summary.removed[node.opType, default: 0] += 1
            return
        default:
            break
        }

        let layoutFree: Set<String> = ["Relu", "Sigmoid", "Clip", "LeakyRelu", "Tanh", "HardSigmoid", "HardSwish", "Add", "Mul",
                                       "Sub", "Div", "Concat", "ReduceMean", "ReduceMax", "Flatten", "Reshape", "Squeeze",
                                       "Unsqueeze", "Split", "Slice", "Gather", "Pad", "Transpose"]
        let x = try activation(node, 0, allowNHWC: layoutFree.contains(node.opType),
                               allowPad: ["Conv", "MaxPool", "AveragePool", "Transpose"].contains(node.opType))
        if node.opType == "Split" { return try importSplit(node, index: index, x) }
        if node.opType == "Pad" || node.opType == "Transpose" { return try importLayoutNode(node, x) }
        var name = modelNodeName(node, index: index)
        let operation: LayerOperation
        var inputs = [x.node]
        var onnxShape: [Int]? = nil
        var outputTensor = try output(node)
        // Element-wise operations keep the input's layout; the others say otherwise below.
        var outputNHWC = x.nhwc
        let channelAxis = x.nhwc ? 3 : 1
        let rank = x.onnxShape.count + 1
        try onlyFirstOutputUsed(node)

        switch node.opType {
        case "Conv":
            let weight = try floatConstant(node, 1, "weight")
            guard weight.dims.count == 4 else {
                throw SparseConvError.unsupported("only 2-D convolutions (4-D weights); weight '\(node.input[1])' has shape \(weight.dims)")
            }
            let bias = try optionalBias(node, 2, count: weight.dims[0])
            let kernel = (weight.dims[2], weight.dims[3])
            if let declared = try attributes.ints("kernel_shape"), declared != [kernel.0, kernel.1] {
                throw SparseConvError.invalidSpec("kernel_shape \(declared) disagrees with weight shape \(weight.dims)")
            }
            let stride = try attributes.pair("strides", default: 1)
            let dilation = try attributes.pair("dilations", default: 1)
            let padding = try combined(try Self.padding(attributes, input: x.shape, kernel: kernel, stride: stride, dilation: dilation),
                                       x.pendingPad, attributes)
            let layer = try ConvolutionLayer(weight: weight.tensor, bias: bias?.values, stride: stride, padding: padding,
                                             dilation: dilation, groups: try attributes.int("group", default: 1))
            operation = .convolution(layer)
            parameterNames[name] = [node.input[1]] + (bias.map { [$0.name] } ?? [])
        case "BatchNormalization":
            if try attributes.int("training_mode", default: 0) != 0 {
                throw SparseConvError.unsupported("training_mode = 1 (only inference batch norm)")
            }
            let channels = x.shape.first ?? 0
            var parameters: [[Float]] = []
            for (position, role) in ["scale", "B", "mean", "var"].enumerated() {
                let tensor = try floatConstant(node, position + 1, role)
                guard tensor.tensor.count == channels else {
                    throw SparseConvError.shapeMismatch(what: "batch norm \(role) '\(node.input[position + 1])'", expected: [channels], actual: tensor.dims)
                }
                parameters.append(tensor.tensor.scalars)
            }
            let epsilon = try attributes.float("epsilon", default: 1e-5)
            operation = .batchNorm(try BatchNormLayer(scale: parameters[0], shift: parameters[1], mean: parameters[2],
                                                      variance: parameters[3], epsilon: epsilon))
            parameterNames[name] = Array(node.input[1...4])
        case "Relu":
            operation = .relu
        case "Sigmoid":
            if let mul = selfGatingMul(node) {
                try absorbGatingMul(mul, fusing: "Sigmoid·Mul (SiLU)", output: &outputTensor, name: &name)
                operation = .silu
            } else {
                operation = .sigmoid
            }
        case "HardSigmoid":
            let alpha = try attributes.float("alpha", default: 0.2), beta = try attributes.float("beta", default: 0.5)
            if abs(alpha - 1 / 6) < 1e-6, beta == 0.5, let mul = selfGatingMul(node) {
                try absorbGatingMul(mul, fusing: "HardSigmoid·Mul (HardSwish)", output: &outputTensor, name: &name)
                operation = .hardSwish
            } else {
                operation = .hardSigmoid(alpha: alpha, beta: beta)
            }
        case "HardSwish":
            operation = .hardSwish
        case "Tanh":
            operation = .tanh
        case "LeakyRelu":
            operation = .leakyRelu(alpha: try attributes.float("alpha", default: 0.01))
        case "PRelu":
            let slope = try floatConstant(node, 1, "slope")
            guard let slopes = perChannel(slope.dims, slope.tensor.scalars, x) else {
                throw SparseConvError.unsupported("PRelu slope '\(node.input[1])' of shape \(slope.dims); only one slope or one per channel")
            }
            operation = .prelu(slopes: slopes)
            parameterNames[name] = [node.input[1]]
        case "ReduceMean", "ReduceMax":
            let keep = try attributes.int("keepdims", default: 1) != 0
            let raw: [Int64]?
            if opset < 18 {
                raw = attributes["axes"]?.ints
            } else if node.input.count > 1, !node.input[1].isEmpty {
                raw = try integerConstant(node, 1)
            } else {
                raw = nil
            }
            let spatial: Set<Int> = x.nhwc ? [1, 2] : [2, 3]
            guard rank == 4, let raw, Set(raw.map { Int($0 < 0 ? $0 + 4 : $0) }) == spatial, raw.count == 2 else {
                throw SparseConvError.unsupported("\(node.opType) over axes \(raw.map { "\($0)" } ?? "all") of [N, \(x.onnxShape)]; only over the spatial axes (global pooling)")
            }
            operation = node.opType == "ReduceMean" ? .globalAveragePool
                : .maxPool(PoolLayer(kernelSize: (x.shape[1], x.shape[2])))
            let c = x.shape[0]
            onnxShape = keep ? (x.nhwc ? [1, 1, c] : [c, 1, 1]) : [c]
            outputNHWC = keep && x.nhwc
        case "GlobalMaxPool":
            guard x.shape.count == 3 else { throw SparseConvError.unsupported("GlobalMaxPool of [N, \(x.onnxShape)]") }
            operation = .maxPool(PoolLayer(kernelSize: (x.shape[1], x.shape[2])))
        case "Clip":
            var low = -Float.infinity, high = Float.infinity
            if opset < 11 {
                low = try attributes.float("min", default: low)
                high = try attributes.float("max", default: high)
            } else {
                if let value = try optionalScalar(node, 1) { low = value }
                if let value = try optionalScalar(node, 2) { high = value }
            }
            if low == 0 && high == 6 {
                operation = .relu6
            } else if low == 0 && high == .infinity {
                operation = .relu
            } else {
                operation = .clip(min: low, max: high)
            }
        case let op where ["Add", "Mul", "Sub", "Div"].contains(op) && node.input.count == 2 && constants[node.input[1]] != nil:
            let c = try floatConstant(node, 1, "operand")
            guard let vector = perChannel(c.dims, c.tensor.scalars, x) else {
                throw SparseConvError.unsupported("\(node.opType) by constant '\(node.input[1])' of shape \(c.dims); only a scalar or one value per channel")
            }
            let channels = x.shape[0]
            let values = vector.count == 1 ? Array(repeating: vector[0], count: channels) : vector
            var scale = Array(repeating: Float(1), count: channels), shift = Array(repeating: Float(0), count: channels)
            switch node.opType {
            case "Add": shift = values
            case "Sub" where negated:
                scale = Array(repeating: -1, count: channels)
                shift = values
            case "Sub": shift = values.map { -$0 }
            case "Mul": scale = values
            default: scale = values.map { 1 / $0 }
            }
            // mean 0, variance 1, epsilon 0: the batch norm is exactly x·scale + shift.
            operation = .batchNorm(try BatchNormLayer(scale: scale, shift: shift, mean: Array(repeating: 0, count: channels),
                                                      variance: Array(repeating: 1, count: channels), epsilon: 0))
            summary.fused["\(node.opType) by a constant (channel affine)", default: 0] += 1
        case "Add":
            let y = try activation(node, 1, role: "Add with a constant operand is supported only as the bias of MatMul", allowNHWC: true)
            guard y.nhwc == x.nhwc else { throw SparseConvError.unsupported("Add of an NHWC and an NCHW tensor") }
            operation = .add
            inputs.append(y.node)
        case "Mul":
            let y = try activation(node, 1, role: "Mul with a constant operand is not supported; Mul is a per-channel scale")
            // Either operand may be the gate; ONNX broadcasting makes Mul commutative.
            func isGate(_ gate: Value, for map: Value) -> Bool {
                map.onnxShape.count == 3 && gate.onnxShape == [map.onnxShape[0], 1, 1]
            }
            if isGate(y, for: x) {
                inputs = [x.node, y.node]
            } else if isGate(x, for: y) {
                inputs = [y.node, x.node]
                onnxShape = y.onnxShape
            } else {
                throw SparseConvError.unsupported("Mul only as a per-channel scale [N, C, H, W] × [N, C, 1, 1]; operands are [N, \(x.onnxShape)] and [N, \(y.onnxShape)]")
            }
            operation = .channelScale
        case "Concat":
            var axis = try attributes.int("axis", default: nil, allowNegative: true)
            if axis < 0 { axis += x.onnxShape.count + 1 }
            guard axis == channelAxis else { throw SparseConvError.unsupported("Concat along axis \(axis); only channels (axis \(channelAxis))") }
            var shapes = [x.shape]
            for position in 1..<node.input.count {
                let value = try activation(node, position, allowNHWC: true)
                guard value.nhwc == x.nhwc else { throw SparseConvError.unsupported("Concat of NHWC and NCHW tensors") }
                inputs.append(value.node)
                shapes.append(value.shape)
            }
            guard shapes.allSatisfy({ $0.count == 3 }) else {
                throw SparseConvError.unsupported("Concat of feature maps only, got \(shapes.map { [-1] + $0 })")
            }
            operation = .concat
        case "MaxPool", "AveragePool":
            let dilation = try attributes.pair("dilations", default: 1)
            guard dilation == (1, 1) || node.opType == "MaxPool" else {
                throw SparseConvError.unsupported("dilated average pooling")
            }
            guard let kernelList = try attributes.ints("kernel_shape"), kernelList.count == 2 else {
                throw SparseConvError.unsupported("pooling needs a 2-D kernel_shape")
            }
            let kernel = (kernelList[0], kernelList[1])
            let stride = try attributes.pair("strides", default: 1)
            let own = try Self.padding(attributes, input: x.shape, kernel: kernel, stride: stride, dilation: dilation)
            var countIncludePad = try attributes.int("count_include_pad", default: 0) != 0
            if x.pendingPad != nil {
                // Zeros from a Pad are values: they count in an average, and win a max only over negative inputs.
                if node.opType == "MaxPool" {
                    guard isNonNegative(x.node) else {
                        throw SparseConvError.unsupported("a zero Pad before MaxPool is exact only on non-negative input (after ReLU); here it is not")
                    }
                } else {
                    guard countIncludePad || own == .zero else {
                        throw SparseConvError.unsupported("a zero Pad before AveragePool with its own padding and count_include_pad = 0")
                    }
                    countIncludePad = true
                }
            }
            let pool = PoolLayer(kernelSize: kernel, stride: stride, padding: try combined(own, x.pendingPad, attributes),
                                 countIncludePad: countIncludePad,
                                 ceilMode: try attributes.int("ceil_mode", default: 0) != 0, dilation: dilation)
            operation = node.opType == "MaxPool" ? .maxPool(pool) : .averagePool(pool)
        case "GlobalAveragePool":
            operation = .globalAveragePool
        case "Flatten":
            var axis = try attributes.int("axis", default: 1, allowNegative: true)
            if axis < 0 { axis += x.onnxShape.count + 1 }
            // Axes between the batch and `axis` that are all 1 leave the batch alone: the same as axis 1.
            guard axis >= 1, axis <= x.onnxShape.count, x.onnxShape[..<(axis - 1)].allSatisfy({ $0 == 1 }) else {
                throw SparseConvError.unsupported("Flatten with axis \(axis) of [N, \(x.onnxShape)] folds image extents into the batch")
            }
            if x.nhwc {
                guard x.shape.count == 3, x.shape[1] * x.shape[2] == 1 else {
                    throw SparseConvError.unsupported("Flatten of an NHWC feature map larger than 1×1 (the element order differs from NCHW)")
                }
                outputNHWC = false
            }
            if x.shape.count == 1 && x.onnxShape.count == 1 {
                values[outputTensor] = x
                return
            }
            operation = .flatten
        case "Reshape", "Unsqueeze", "Squeeze":
            if x.nhwc {
                guard x.shape.count == 3, x.shape[1] * x.shape[2] == 1 else {
                    throw SparseConvError.unsupported("\(node.opType) of an NHWC feature map larger than 1×1 (the element order differs from NCHW)")
                }
            }
            let target = try reshapeTarget(node, attributes, input: x)
            if node.opType == "Reshape", let shuffle = try channelShuffle(node, target: target, input: x) {
                operation = .channelShuffle(groups: shuffle.groups)
                // The pattern's last Reshape is what exporters (and ours) name after the shuffle.
                usedNames.remove(name)
                name = modelNodeName(graph.node[shuffle.last], index: shuffle.last)
                outputTensor = try output(graph.node[shuffle.last])
            } else if target.filter({ $0 != 1 }) == x.onnxShape.filter({ $0 != 1 }) {
                // Only unit axes change: the data order is the same, so no node is needed.
                values[outputTensor] = Value(node: x.node, shape: x.shape, onnxShape: target, nhwc: x.nhwc && target.count == 3)
                return
            } else if target.count == 1 {
                operation = .flatten
                outputNHWC = false
            } else {
                throw SparseConvError.unsupported("\(node.opType) from [N, \(x.onnxShape)] to [N, \(target)]; only flattening, unit axes, and the reshape-transpose-reshape channel shuffle")
            }
        case "Slice":
            let starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?
            if opset < 10 {
                starts = attributes["starts"]?.ints ?? []
                ends = attributes["ends"]?.ints ?? []
                axes = attributes["axes"]?.ints
                steps = nil
            } else {
                starts = try integerConstant(node, 1)
                ends = try integerConstant(node, 2)
                axes = node.input.count > 3 && !node.input[3].isEmpty ? try integerConstant(node, 3) : nil
                steps = node.input.count > 4 && !node.input[4].isEmpty ? try integerConstant(node, 4) : nil
            }
            let axisList = (axes ?? (0..<Int64(starts.count)).map { $0 }).map { Int($0 < 0 ? $0 + Int64(rank) : $0) }
            guard starts.count == ends.count, axisList.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
                throw SparseConvError.invalidSpec("Slice starts, ends, axes and steps differ in length")
            }
            let full = [1] + x.onnxShape
            var picked: [Int]? = nil
            for (k, axis) in axisList.enumerated() {
                guard axis >= 0, axis < rank else { throw SparseConvError.invalidSpec("Slice axis \(axis) out of range") }
                let unsupported = SparseConvError.unsupported("Slice along axis \(axis) of [N, \(x.onnxShape)]; only along channels")
                // The batch axis has no extent here: only "all of it" is accepted, without listing its indices
                // (a fuzzed end of 2^31 - 2 made that list take minutes).
                if axis == 0 {
                    guard starts[k] == 0, (steps?[k] ?? 1) == 1, ends[k] >= Int64(Int32.max) else { throw unsupported }
                    continue
                }
                let indices = try ConstantFolder.sliceIndices(extent: full[axis], start: starts[k], end: ends[k], step: steps?[k] ?? 1)
                if axis == channelAxis && rank == 4 {
                    picked = indices
                } else if indices != Array(0..<full[axis]) {
                    throw unsupported
                }
            }
            guard let picked else {
                values[outputTensor] = x   // selects everything
                summary.removed["Slice", default: 0] += 1
                return
            }
            operation = .channelSelect(indices: picked)
        case "Gather":
            var axis = try attributes.int("axis", default: 0, allowNegative: true)
            if axis < 0 { axis += rank }
            let tensor = try constant(node, 1, "indices")
            let dims = try decoder.shape(of: tensor, "indices").dims
            let raw = try integerConstant(node, 1)
            guard rank == 4, axis == channelAxis, dims.count == 1 else {
                throw SparseConvError.unsupported("Gather along axis \(axis) of [N, \(x.onnxShape)] with \(dims.count)-D indices; only a list of channels")
            }
            let channels = x.shape[0]
            operation = .channelSelect(indices: try raw.map { index in
                guard index >= -Int64(channels), index < Int64(channels) else {
                    throw SparseConvError.invalidSpec("Gather index \(index) out of range for \(channels) channels")
                }
                return Int(index < 0 ? index + Int64(channels) : index)
            })
        case "Gemm":
            guard try attributes.int("transA", default: 0) == 0 else { throw SparseConvError.unsupported("Gemm with transA = 1") }
            var weight = try floatConstant(node, 1, "B")
            guard weight.dims.count == 2 else { throw SparseConvError.invalidSpec("B '\(node.input[1])' must be 2-D, got \(weight.dims)") }
            if try attributes.int("transB", default: 0) == 0 { weight.tensor = try Self.transposed(weight.tensor) }
            let alpha = try attributes.float("alpha", default: 1)
            let beta = try attributes.float("beta", default: 1)
            if alpha != 1 { weight.tensor.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= alpha } } }
            let outFeatures = weight.tensor.shape[0]
            var bias = try optionalBias(node, 2, count: outFeatures, broadcast: true)
            if beta != 1, var b = bias { b.values = b.values.map { $0 * beta }; bias = b }
            operation = .fullyConnected(try FullyConnectedLayer(weight: weight.tensor, bias: bias?.values))
            parameterNames[name] = [node.input[1]] + (bias.map { [$0.name] } ?? [])
        case "MatMul":
            guard x.onnxShape.count == 1 else {
                throw SparseConvError.unsupported("MatMul of a [N, \(x.onnxShape)] activation; only [N, K] × [K, M] classifiers")
            }
            let weight = try floatConstant(node, 1, "B")
            guard weight.dims.count == 2 else { throw SparseConvError.invalidSpec("B '\(node.input[1])' must be 2-D, got \(weight.dims)") }
            var bias: [Float]? = nil
            var names = [node.input[1]]
            // MatMul followed by its only reader, an Add of a constant vector, is Gemm split in two.
            if readers[outputTensor] == 1, let addIndex = graph.node.indices.first(where: { graph.node[$0].opType == "Add" && graph.node[$0].input.contains(outputTensor) }) {
                let add = graph.node[addIndex]
                if add.input.count == 2, let other = add.input.first(where: { $0 != outputTensor }), let stored = constants[other] {
                    let values = try decoder.floats(stored, "bias '\(other)'")
                    guard values.tensor.count == weight.dims[1] || values.tensor.count == 1 else {
                        throw SparseConvError.shapeMismatch(what: "MatMul bias '\(other)'", expected: [weight.dims[1]], actual: values.dims)
                    }
                    bias = values.tensor.count == 1 ? Array(repeating: values.tensor[flat: 0], count: weight.dims[1]) : values.tensor.scalars
                    names.append(other)
                    absorbed.insert(addIndex)
                    outputTensor = try output(add)
                }
            }
            operation = .fullyConnected(try FullyConnectedLayer(weight: try Self.transposed(weight.tensor), bias: bias))
            parameterNames[name] = names
        case "Softmax":
            let rank = x.onnxShape.count + 1
            var axis = try attributes.int("axis", default: opset < 13 ? 1 : -1, allowNegative: true)
            if axis < 0 { axis += rank }
            // Before opset 13 Softmax flattens from `axis` on: the last axis if the rest is all ones.
            let lastAxis = axis == rank - 1 || (opset < 13 && axis >= 1 && axis < rank && x.onnxShape[(axis - 1)...].dropLast().allSatisfy { $0 == 1 })
            guard lastAxis, x.shape == x.onnxShape else {
                throw SparseConvError.unsupported("Softmax over axis \(axis) of [N, \(x.onnxShape)]; only the last axis")
            }
            operation = .softmax
        default:
            throw SparseConvError.unsupported("operator \(node.opType)")
        }

        let shape = try ShapeInference.outputShape(of: operation, inputs: try inputs.map { input in
            guard let shape = nodeShapes[input] else { throw SparseConvError.invalidSpec("internal: no shape for '\(input)'") }
            return shape
        })
        nodes.append(Node(name, operation, inputs: inputs))
        nodeShapes[name] = shape
        let nhwcShape = outputNHWC && shape.count == 3 ? [shape[1], shape[2], shape[0]] : shape
        values[outputTensor] = Value(node: name, shape: shape, onnxShape: onnxShape ?? nhwcShape, nhwc: outputNHWC && shape.count == 3)
    }

    /// Split along channels: one channel-selection node per output.
    private mutating func importSplit(_ node: Onnx_NodeProto, index: Int, _ x: Value) throws {
        let attributes = Attributes(node)
        let rank = x.onnxShape.count + 1
        var axis = try attributes.int("axis", default: 0, allowNegative: true)
        if axis < 0 { axis += rank }
        guard rank == 4, axis == (x.nhwc ? 3 : 1) else {
            throw SparseConvError.unsupported("Split along axis \(axis) of [N, \(x.onnxShape)]; only along channels")
        }
        let channels = x.shape[0], parts = node.output.count
        var sizes: [Int]
        if opset < 13, let list = attributes["split"]?.ints {
            sizes = list.map { Int($0) }
        } else if opset >= 13, node.input.count > 1, !node.input[1].isEmpty {
            sizes = try integerConstant(node, 1).map { Int(clamping: $0) }
        } else {
            // Equal parts; with opset 18's num_outputs the last part may be smaller.
            let count = try attributes.int("num_outputs", default: parts)
            let each = (channels + count - 1) / count
            sizes = (0..<count).map { min(each, channels - $0 * each) }
        }
        guard sizes.count == parts, sizes.allSatisfy({ $0 >= 1 }), sizes.reduce(0, +) == channels else {
            throw SparseConvError.invalidSpec("Split of \(channels) channels into \(sizes) for \(parts) outputs")
        }
        let base = modelNodeName(node, index: index)
        var offset = 0
        for (part, size) in sizes.enumerated() {
            defer { offset += size }
            let tensor = node.output[part]
            guard !tensor.isEmpty, readers[tensor, default: 0] > 0 else { continue }
            var name = part == 0 ? base : "\(base).\(part)"
            var suffix = 1
            while part > 0 && usedNames.contains(name) { name = "\(base).\(part)_\(suffix)"; suffix += 1 }
            usedNames.insert(name)
            let operation = LayerOperation.channelSelect(indices: Array(offset..<(offset + size)))
            let shape = try ShapeInference.outputShape(of: operation, inputs: [x.shape])
            nodes.append(Node(name, operation, inputs: [x.node]))
            nodeShapes[name] = shape
            values[tensor] = Value(node: name, shape: shape, onnxShape: x.nhwc ? [shape[1], shape[2], shape[0]] : shape, nhwc: x.nhwc)
        }
    }

    /// Pad and Transpose change how ONNX sees a tensor, not the data the
    /// next layer reads: a zero Pad waits to become that layer's padding, and
    /// a Transpose to NHWC waits for the Transpose back.
    private mutating func importLayoutNode(_ node: Onnx_NodeProto, _ x: Value) throws {
        let attributes = Attributes(node)
        let outputTensor = try output(node)
        try onlyFirstOutputUsed(node)
        if node.opType == "Transpose" {
            let perm = attributes["perm"]?.ints.map { Int($0) }
            if x.shape.count == 3, !x.nhwc, x.onnxShape.count == 3, perm == [0, 2, 3, 1] {
                values[outputTensor] = Value(node: x.node, shape: x.shape, onnxShape: [x.shape[1], x.shape[2], x.shape[0]],
                                             pendingPad: x.pendingPad, nhwc: true)
            } else if x.nhwc, perm == [0, 3, 1, 2] {
                values[outputTensor] = Value(node: x.node, shape: x.shape, onnxShape: x.shape, pendingPad: x.pendingPad, nhwc: false)
            } else if x.node == Model.inputName, perm == [0, 3, 1, 2] {
                throw SparseConvError.unsupported("the graph input is NHWC (transposed to NCHW here); SparseConv takes NCHW input: export with the input as NCHW (tf2onnx --inputs-as-nchw)")
            } else {
                throw SparseConvError.unsupported("Transpose with perm \(perm.map { "\($0)" } ?? "reversed") of [N, \(x.onnxShape)]; only the channel shuffle and NCHW↔NHWC pairs that cancel")
            }
            summary.removed["Transpose", default: 0] += 1
            return
        }
        let mode = attributes.string("mode") ?? "constant"
        guard mode == "constant" || mode.isEmpty else { throw SparseConvError.unsupported("Pad mode '\(mode)'; only constant zero padding") }
        let pads: [Int64]
        var value: Float = 0
        if opset < 11 {
            pads = attributes["pads"]?.ints ?? []
            value = try attributes.float("value", default: 0)
        } else {
            pads = try integerConstant(node, 1)
            if let given = try optionalScalar(node, 2) { value = given }
        }
        var full = pads
        if opset >= 18, node.input.count > 3, !node.input[3].isEmpty {
            // Pads for the listed axes only: spread them over all four.
            let axes = try integerConstant(node, 3).map { Int($0 < 0 ? $0 + 4 : $0) }
            guard pads.count == 2 * axes.count, axes.allSatisfy({ $0 >= 0 && $0 < 4 }) else { throw SparseConvError.invalidSpec("Pad axes \(axes) and pads \(pads)") }
            full = Array(repeating: 0, count: 8)
            for (k, axis) in axes.enumerated() { full[axis] = pads[k]; full[axis + 4] = pads[k + axes.count] }
        }
        guard value == 0 else { throw SparseConvError.unsupported("Pad with value \(value); only zero padding") }
        let (h, w) = x.nhwc ? (1, 2) : (2, 3)
        let other = x.nhwc ? [0, 3] : [0, 1]
        guard x.shape.count == 3, full.count == 8, other.allSatisfy({ full[$0] == 0 && full[$0 + 4] == 0 }),
              full.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
            throw SparseConvError.unsupported("Pad \(full) of [N, \(x.onnxShape)]; only non-negative padding of height and width")
        }
        var padding = x.pendingPad ?? .zero
        padding.top += Int(full[h]); padding.left += Int(full[w]); padding.bottom += Int(full[h + 4]); padding.right += Int(full[w + 4])
        var padded = x
        padded.pendingPad = padding
        padded.onnxShape = x.nhwc ? [x.shape[1] + padding.top + padding.bottom, x.shape[2] + padding.left + padding.right, x.shape[0]]
            : [x.shape[0], x.shape[1] + padding.top + padding.bottom, x.shape[2] + padding.left + padding.right]
        values[outputTensor] = padded
        summary.removed["Pad", default: 0] += 1
    }

    /// A layer's own padding plus that of a zero Pad before it.
    private func combined(_ own: Padding, _ pending: Padding?, _ attributes: Attributes) throws -> Padding {
        guard let pending else { return own }
        let mode = attributes.string("auto_pad") ?? "NOTSET"
        guard mode == "NOTSET" || mode == "VALID" || mode.isEmpty else {
            throw SparseConvError.unsupported("a Pad before a layer with auto_pad \(mode)")
        }
        return Padding(top: own.top + pending.top, left: own.left + pending.left, bottom: own.bottom + pending.bottom,
                       right: own.right + pending.right)
    }

    /// Whether a model node's output is never negative (for finite input), so
    /// that padding it with zeros cannot change a maximum.
    private func isNonNegative(_ name: String) -> Bool {
        guard let node = nodes.last(where: { $0.name == name }) else { return false }
        switch node.operation {
        case .relu, .relu6, .sigmoid, .hardSigmoid: return true
        case .clip(let low, _): return low >= 0
        case .maxPool, .averagePool, .globalAveragePool, .channelShuffle, .channelSelect: return isNonNegative(node.inputs[0])
        case .concat: return node.inputs.allSatisfy(isNonNegative)
        case .convolution(let conv): return conv.activation != .none
        default: return false
        }
    }

    /// One value per channel, from a constant that broadcasts against the
    /// activation `x` only along its channel axis (or a single value).
    private func perChannel(_ dims: [Int], _ values: [Float], _ x: Value) -> [Float]? {
        if values.count == 1 { return values }
        let rank = x.onnxShape.count + 1
        guard dims.count <= rank else { return nil }
        let padded = Array(repeating: 1, count: rank - dims.count) + dims
        let channelAxis = rank == 4 ? (x.nhwc ? 3 : 1) : 1
        guard padded.enumerated().allSatisfy({ $0.offset == channelAxis || $0.element == 1 }),
              padded[channelAxis] == x.shape[0] else { return nil }
        return values
    }

    /// The Mul that multiplies `node`'s output by `node`'s own input, when it is that output's only reader.
    /// Takes the gating Mul (node `mul`) into the activation being imported: the
    /// fused node produces the Mul's output and is named after the Mul, as the
    /// exporter writes it back.
    private mutating func absorbGatingMul(_ mul: Int, fusing pattern: String, output outputTensor: inout String,
                                          name: inout String) throws {
        absorbed.insert(mul)
        outputTensor = try output(graph.node[mul])
        usedNames.remove(name)
        name = modelNodeName(graph.node[mul], index: mul)
        summary.fused[pattern, default: 0] += 1
    }

    private func selfGatingMul(_ node: Onnx_NodeProto) -> Int? {
        guard let out = node.output.first, let source = node.input.first, readers[out] == 1, let index = reader(of: out) else { return nil }
        let mul = graph.node[index]
        guard mul.opType == "Mul", mul.input.count == 2, Set(mul.input) == Set([source, out]), source != out else { return nil }
        return index
    }

    // MARK: Patterns

    /// Matches `Reshape [N, g, C/g, H, W] → Transpose (0, 2, 1, 3, 4) →
    /// Reshape [N, C, H, W]` starting at `node`; absorbs the other two nodes.
    private mutating func channelShuffle(_ node: Onnx_NodeProto, target: [Int], input: Value) throws -> (groups: Int, last: Int)? {
        let shape = input.onnxShape
        guard shape.count == 3, target.count == 4, target[0] * target[1] == shape[0], Array(target[2...]) == Array(shape[1...]),
              let first = node.output.first, readers[first] == 1,
              let transposeIndex = reader(of: first), graph.node[transposeIndex].opType == "Transpose",
              Attributes(graph.node[transposeIndex])["perm"]?.ints == [0, 2, 1, 3, 4],
              let transposed = graph.node[transposeIndex].output.first, readers[transposed] == 1,
              let reshapeIndex = reader(of: transposed), graph.node[reshapeIndex].opType == "Reshape"
        else { return nil }
        let second = graph.node[reshapeIndex]
        let transposedShape = [target[1], target[0]] + Array(target[2...])
        let back = try reshapeTarget(second, Attributes(second), input: Value(node: "", shape: transposedShape, onnxShape: transposedShape))
        guard back == shape else { return nil }
        absorbed.insert(transposeIndex)
        absorbed.insert(reshapeIndex)
        return (target[0], reshapeIndex)
    }

    /// The per-image shape a Reshape, Unsqueeze or Squeeze produces.
    private mutating func reshapeTarget(_ node: Onnx_NodeProto, _ attributes: Attributes, input: Value) throws -> [Int] {
        let full = [1] + input.onnxShape  // batch as 1: only the per-image extents matter
        func axes() throws -> [Int]? {
            let raw: [Int64]?
            if opset < 13 {
                raw = attributes["axes"]?.ints
            } else if node.input.count > 1, !node.input[1].isEmpty {
                raw = try integerConstant(node, 1)
            } else {
                raw = nil
            }
            return raw?.map { Int($0) }
        }
        switch node.opType {
        case "Unsqueeze":
            guard let axes = try axes(), !axes.isEmpty, axes.count <= 8 else { throw SparseConvError.invalidSpec("Unsqueeze needs axes") }
            let rank = full.count + axes.count
            let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            guard normalized.count == axes.count, normalized.allSatisfy({ $0 >= 1 && $0 < rank }) else {
                throw SparseConvError.invalidSpec("Unsqueeze axes \(axes) invalid for rank \(full.count)")
            }
            var result: [Int] = []
            var source = full.makeIterator()
            for axis in 0..<rank { result.append(normalized.contains(axis) ? 1 : source.next() ?? 1) }
            return Array(result.dropFirst())
        case "Squeeze":
            let normalized = try axes().map { Set($0.map { $0 < 0 ? $0 + full.count : $0 }) }
            var result: [Int] = []
            for (axis, extent) in full.enumerated() {
                let drop = normalized.map { $0.contains(axis) } ?? (extent == 1 && axis > 0)
                if drop {
                    guard axis > 0, extent == 1 else { throw SparseConvError.unsupported("Squeeze of axis \(axis) (extent \(extent))") }
                } else {
                    result.append(extent)
                }
            }
            return Array(result.dropFirst())
        default:
            let requested = try reshapeConstant(node)
            let allowZero = try Attributes(node).int("allowzero", default: 0) != 0
            guard requested.count >= 2, requested.count <= 8 else {
                throw SparseConvError.unsupported("Reshape to \(requested); the target must keep the batch axis")
            }
            // The first extent is the batch, whatever the exporter wrote there.
            var target: [Int] = []
            var inferred: Int? = nil
            for (position, value) in requested.enumerated().dropFirst() {
                if value == 0 && !allowZero {
                    guard position < full.count else { throw SparseConvError.invalidSpec("Reshape copies axis \(position), input has \(full.count)") }
                    target.append(full[position])
                } else if value == -1 {
                    guard inferred == nil, requested[0] != -1 else { throw SparseConvError.invalidSpec("Reshape target \(requested) has more than one -1") }
                    inferred = target.count
                    target.append(1)
                } else {
                    guard value >= 1, value <= 1 << 31 else { throw SparseConvError.invalidSpec("Reshape target \(requested) has extent \(value)") }
                    target.append(Int(value))
                }
            }
            let count = input.onnxShape.reduce(1, *)
            var known = 1
            for extent in target {
                let (product, overflow) = known.multipliedReportingOverflow(by: extent)
                guard !overflow else { throw SparseConvError.invalidSpec("Reshape target \(requested) overflows") }
                known = product
            }
            if let inferred {
                guard count % known == 0 else { throw SparseConvError.invalidSpec("Reshape of [N, \(input.onnxShape)] to \(requested)") }
                target[inferred] = count / known
            } else if known != count {
                throw SparseConvError.invalidSpec("Reshape of [N, \(input.onnxShape)] (\(count) per image) to \(requested)")
            }
            return target
        }
    }

    // MARK: Helpers

    private func fail(_ message: String) -> SparseConvError {
        .invalidSpec("ONNX model '\(modelName)': \(message)")
    }

    private func label(_ index: Int) -> String {
        let node = graph.node[index]
        return node.name.isEmpty ? "#\(index)" : "'\(node.name)'"
    }

    private func reader(of tensor: String) -> Int? {
        graph.node.indices.first { graph.node[$0].input.contains(tensor) }
    }

    /// A unique model node name: the ONNX node's, else its output's.
    private mutating func modelNodeName(_ node: Onnx_NodeProto, index: Int) -> String {
        var base = node.name.isEmpty ? (node.output.first ?? "") : node.name
        if base.isEmpty { base = "\(node.opType)_\(index)" }
        var name = base
        var suffix = 1
        while usedNames.contains(name) { name = "\(base)_\(suffix)"; suffix += 1 }
        usedNames.insert(name)
        return name
    }

    private func output(_ node: Onnx_NodeProto) throws -> String {
        guard let first = node.output.first, !first.isEmpty else { throw SparseConvError.invalidSpec("has no output") }
        return first
    }

    /// Batch norm's running statistics, Dropout's mask and MaxPool's indices
    /// exist only in training graphs; reading them is not supported.
    private func onlyFirstOutputUsed(_ node: Onnx_NodeProto) throws {
        for extra in node.output.dropFirst() where !extra.isEmpty && readers[extra, default: 0] > 0 {
            throw SparseConvError.unsupported("output '\(extra)' (only the first output of \(node.opType) may be used)")
        }
    }

    private func activation(_ node: Onnx_NodeProto, _ position: Int, role: String? = nil, allowNHWC: Bool = false,
                            allowPad: Bool = false) throws -> Value {
        guard position < node.input.count, !node.input[position].isEmpty else {
            throw SparseConvError.invalidSpec("input \(position) is missing")
        }
        let name = node.input[position]
        if let value = values[name] {
            if value.nhwc && !allowNHWC {
                throw SparseConvError.unsupported("'\(name)' is in NHWC layout (transposed from NCHW and not back) where \(node.opType) needs NCHW")
            }
            if value.pendingPad != nil && !allowPad {
                throw SparseConvError.unsupported("the Pad producing '\(name)' can be folded only into a following Conv, AveragePool, or MaxPool of a non-negative input, not into \(node.opType)")
            }
            return value
        }
        if constants[name] != nil {
            throw SparseConvError.unsupported(role ?? "input \(position) '\(name)' is a constant where an activation is expected")
        }
        throw SparseConvError.invalidSpec("input '\(name)' is not computed by a supported node")
    }

    private mutating func constant(_ node: Onnx_NodeProto, _ position: Int, _ role: String) throws -> Onnx_TensorProto {
        guard position < node.input.count, !node.input[position].isEmpty else {
            throw SparseConvError.invalidSpec("\(role) (input \(position)) is missing")
        }
        if constants[node.input[position]] == nil && folded[node.input[position]] == nil { try foldAhead(node.input[position]) }
        guard let tensor = constants[node.input[position]] else {
            if folded[node.input[position]] != nil {
                throw SparseConvError.unsupported("\(role) '\(node.input[position])' depends on the batch size")
            }
            throw SparseConvError.unsupported("\(role) '\(node.input[position])' must be an initializer or Constant, not computed")
        }
        return tensor
    }

    /// A Reshape target: a constant, or shape arithmetic whose only
    /// batch-dependent extent is the batch itself, in front (what
    /// `x.view(x.size(0), -1)` exports to).
    private mutating func reshapeConstant(_ node: Onnx_NodeProto) throws -> [Int64] {
        if node.input.count > 1, constants[node.input[1]] == nil, folded[node.input[1]] == nil { try foldAhead(node.input[1]) }
        guard node.input.count > 1, let (first, second) = folded[node.input[1]] else { return try integerConstant(node, 1) }
        let a = try first.integerValues("Reshape shape"), b = try second.integerValues("Reshape shape")
        guard a.count == b.count, a.count >= 1, a.dropFirst() == b.dropFirst(),
              a[0] == b[0] || (a[0] == Int64(ConstantFolder.probeBatches.0) && b[0] == Int64(ConstantFolder.probeBatches.1)) else {
            throw SparseConvError.unsupported("Reshape target '\(node.input[1])' mixes the batch size into other extents; only [N, ...] targets are supported")
        }
        return a
    }

    // MARK: Constant folding

    /// The value of a tensor known at load time, at both probe batches.
    private mutating func staticValue(_ name: String) throws -> (StaticTensor, StaticTensor)? {
        if let known = folded[name] { return known }
        guard let tensor = constants[name] else { return nil }
        let type = Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType))
        let dims = try decoder.shape(of: tensor, "'\(name)'").dims
        let value: StaticTensor
        switch type {
        case .int64, .int32:
            value = try StaticTensor.integers(try decoder.integers(tensor, "'\(name)'"), dims: dims)
        case .float, .double:
            let count = try ConstantFolder.checkedCount(dims)
            value = count == 0 ? try StaticTensor(dims: dims, values: .floats([]))
                : try StaticTensor(dims: dims, values: .floats(try decoder.floats(tensor, "'\(name)'").tensor.scalars))
        default:
            throw SparseConvError.unsupported("constant '\(name)' of type \(ONNXTensorDecoder.typeName(tensor.dataType)) in shape arithmetic")
        }
        folded[name] = (value, value)
        return (value, value)
    }

    /// Evaluates `node` now if everything it reads is known at load time
    /// (Shape and Size need only their input's shape); false otherwise.
    private mutating func fold(_ node: Onnx_NodeProto) throws -> Bool {
        guard node.output.count == 1, let outputName = node.output.first, !outputName.isEmpty else { return false }
        var first: [StaticTensor?] = [], second: [StaticTensor?] = []
        if node.opType == "Shape" || node.opType == "Size" {
            guard let name = node.input.first else { throw SparseConvError.invalidSpec("input 0 is missing") }
            let dims: ([Int], [Int])
            if let value = values[name] {
                guard value.pendingPad == nil else { return false }
                dims = ([ConstantFolder.probeBatches.0] + value.onnxShape, [ConstantFolder.probeBatches.1] + value.onnxShape)
            } else if let known = try staticValue(name) {
                dims = (known.0.dims, known.1.dims)
            } else {
                return false
            }
            let attributes = Attributes(node)
            func shapeTensor(_ dims: [Int]) throws -> StaticTensor {
                if node.opType == "Size" { return try StaticTensor.integers([Int64(dims.reduce(1, *))], dims: []) }
                let rank = Int64(dims.count)
                let start = attributes["start"]?.i ?? 0, end = attributes["end"]?.hasI == true ? attributes["end"]!.i : rank
                let picks = try ConstantFolder.sliceIndices(extent: dims.count, start: start, end: end, step: 1)
                return try StaticTensor.integers(picks.map { Int64(dims[$0]) })
            }
            store(outputName, (try shapeTensor(dims.0), try shapeTensor(dims.1)))
            return true
        }
        for name in node.input {
            if name.isEmpty { first.append(nil); second.append(nil); continue }
            guard let known = try staticValue(name) else { return false }
            first.append(known.0)
            second.append(known.1)
        }
        guard !first.isEmpty || node.opType == "Constant" else { return false }
        store(outputName, (try ConstantFolder.evaluate(node, opset: opset, inputs: first),
                           try ConstantFolder.evaluate(node, opset: opset, inputs: second)))
        return true
    }

    /// Folds the subgraph producing `tensor` now, if it is shape arithmetic
    /// whose inputs are known. The topological order may put it after the
    /// layer that needs it (a shuffle's second Reshape target is computed
    /// from the first Reshape's input, but sorted after it).
    private mutating func foldAhead(_ tensor: String, depth: Int = 0) throws {
        // Exporters' shape chains are a few nodes long; the bound keeps a hostile chain off the stack.
        guard depth < 64, let index = producer[tensor], !imported.contains(index), !absorbed.contains(index) else { return }
        let node = graph.node[index]
        guard node.opType == "Constant" || node.opType == "Identity" || ConstantFolder.operators.contains(node.opType) else { return }
        for (position, input) in node.input.enumerated() where !input.isEmpty && constants[input] == nil && folded[input] == nil {
            if (node.opType == "Shape" || node.opType == "Size") && position == 0 && values[input] != nil { continue }
            try foldAhead(input, depth: depth + 1)
            guard constants[input] != nil || folded[input] != nil else { return }
        }
        try importNode(index)
    }

    /// Records a folded tensor; one that does not depend on the batch also
    /// becomes an ordinary constant, usable as weights or attributes.
    private mutating func store(_ name: String, _ value: (StaticTensor, StaticTensor)) {
        folded[name] = value
        guard value.0 == value.1 else { return }
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = value.0.dims.map { Int64($0) }
        switch value.0.values {
        case .integers(let v):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            tensor.int64Data = v
        case .floats(let v):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensor.floatData = v
        }
        constants[name] = tensor
    }

    private mutating func floatConstant(_ node: Onnx_NodeProto, _ position: Int, _ role: String) throws -> (dims: [Int], tensor: Tensor) {
        let tensor = try constant(node, position, role)
        return try decoder.floats(tensor, "\(role) '\(tensor.name)'")
    }

    private mutating func integerConstant(_ node: Onnx_NodeProto, _ position: Int) throws -> [Int64] {
        let tensor = try constant(node, position, "shape")
        return try decoder.integers(tensor, "'\(tensor.name)'")
    }

    private mutating func optionalBias(_ node: Onnx_NodeProto, _ position: Int, count: Int, broadcast: Bool = false) throws -> (name: String, values: [Float])? {
        guard position < node.input.count, !node.input[position].isEmpty else { return nil }
        let bias = try floatConstant(node, position, "bias")
        if broadcast && bias.tensor.count == 1 { return (node.input[position], Array(repeating: bias.tensor[flat: 0], count: count)) }
        guard bias.tensor.count == count, bias.dims.filter({ $0 != 1 }).count <= 1 else {
            throw SparseConvError.shapeMismatch(what: "bias '\(node.input[position])'", expected: [count], actual: bias.dims)
        }
        return (node.input[position], bias.tensor.scalars)
    }

    private mutating func optionalScalar(_ node: Onnx_NodeProto, _ position: Int) throws -> Float? {
        guard position < node.input.count, !node.input[position].isEmpty else { return nil }
        let value = try floatConstant(node, position, "bound")
        guard value.tensor.count == 1 else { throw SparseConvError.invalidSpec("Clip bound '\(node.input[position])' is not a scalar") }
        return value.tensor[flat: 0]
    }

    static func transposed(_ matrix: Tensor) throws -> Tensor {
        let rows = matrix.shape[0], columns = matrix.shape[1]
        var result = try Tensor(shape: [columns, rows])
        matrix.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for r in 0..<rows { for c in 0..<columns { target[c * rows + r] = source[r * columns + c] } }
            }
        }
        return result
    }

    /// Explicit `pads` (top, left, bottom, right) or the padding `auto_pad` implies for this input.
    static func padding(_ attributes: Attributes, input: [Int], kernel: (Int, Int), stride: (Int, Int),
                        dilation: (Int, Int)) throws -> Padding {
        let mode = attributes.string("auto_pad") ?? "NOTSET"
        switch mode {
        case "NOTSET", "":
            guard let pads = try attributes.ints("pads") else { return .zero }
            guard pads.count == 4 else { throw SparseConvError.unsupported("pads \(pads); only 2-D (4 values)") }
            return Padding(top: pads[0], left: pads[1], bottom: pads[2], right: pads[3])
        case "VALID":
            return .zero
        case "SAME_UPPER", "SAME_LOWER":
            guard input.count == 3, stride.0 >= 1, stride.1 >= 1 else { throw SparseConvError.invalidSpec("auto_pad needs a feature map input and strides ≥ 1") }
            func split(_ extent: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
                let out = (extent + s - 1) / s
                let total = max(0, (out - 1) * s + (k - 1) * d + 1 - extent)
                // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the start.
                return mode == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
            }
            let (top, bottom) = split(input[1], kernel.0, stride.0, dilation.0)
            let (left, right) = split(input[2], kernel.1, stride.1, dilation.1)
            return Padding(top: top, left: left, bottom: bottom, right: right)
        default:
            throw SparseConvError.unsupported("auto_pad '\(mode)'")
        }
    }
}

/// A node's attributes by name, with range-checked accessors.
struct Attributes {
    private let byName: [String: Onnx_AttributeProto]

    init(_ node: Onnx_NodeProto) {
        var byName: [String: Onnx_AttributeProto] = [:]
        for attribute in node.attribute { byName[attribute.name] = attribute }
        self.byName = byName
    }

    subscript(name: String) -> Onnx_AttributeProto? { byName[name] }

    /// Attribute integers are bounded so that no size computation downstream can overflow.
    static let limit: Int64 = 1 << 24

    func int(_ name: String, default value: Int?, allowNegative: Bool = false) throws -> Int {
        guard let attribute = byName[name] else {
            guard let value else { throw SparseConvError.invalidSpec("attribute '\(name)' is required") }
            return value
        }
        guard attribute.hasI || attribute.type == .int else { throw SparseConvError.invalidSpec("attribute '\(name)' is not an integer") }
        guard attribute.i <= Self.limit, attribute.i >= (allowNegative ? -Self.limit : 0) else {
            throw SparseConvError.invalidSpec("attribute '\(name)' = \(attribute.i) is out of range")
        }
        return Int(attribute.i)
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let attribute = byName[name] else { return nil }
        guard attribute.ints.count <= 16, attribute.ints.allSatisfy({ $0 >= 0 && $0 <= Self.limit }) else {
            throw SparseConvError.invalidSpec("attribute '\(name)' = \(attribute.ints) is out of range")
        }
        return attribute.ints.map { Int($0) }
    }

    func pair(_ name: String, default value: Int) throws -> (Int, Int) {
        guard let list = try ints(name) else { return (value, value) }
        guard list.count == 2 else { throw SparseConvError.unsupported("\(name) \(list); only 2-D (two values)") }
        return (list[0], list[1])
    }

    func float(_ name: String, default value: Float) throws -> Float {
        guard let attribute = byName[name] else { return value }
        guard attribute.hasF || attribute.type == .float else { throw SparseConvError.invalidSpec("attribute '\(name)' is not a float") }
        return attribute.f
    }

    func string(_ name: String) -> String? {
        byName[name].map { String(decoding: $0.s, as: UTF8.self) }
    }
}
