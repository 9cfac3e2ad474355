import Foundation
import SwiftProtobuf

extension Model {
    /// The model as the bytes of an ONNX file (opset 13, IR version 7) that
    /// onnxruntime runs unchanged.
    ///
    /// The input is `input` `[N, C, H, W]` with a symbolic batch `N`; every
    /// node keeps its name, and its output tensor is named after it. Weights
    /// are float32 `raw_data` initializers named as ``parameterNames`` records
    /// (what the model was imported with), otherwise `<node>.weight`,
    /// `<node>.bias` and, for batch norm, `<node>.running_mean` /
    /// `<node>.running_var`. Operations ONNX spells with several nodes get
    /// helper nodes named after them: a fused activation
    /// (`<node>.activation`), the channel shuffle's reshape-transpose-reshape
    /// (`<node>.reshape`, `<node>.transpose`, then `<node>` itself), the
    /// flatten before a fully connected layer on a feature map
    /// (`<node>.flatten`), and the reshape of a `[N, C]` gate to `[N, C, 1, 1]`
    /// (`<node>.gate`). ``init(onnxFile:inputShape:)`` reads all of these back.
    ///
    /// - Throws: `SparseConvError.sizeOverflow` when the weights exceed the
    ///   2 GiB a protobuf can hold.
    public func onnxData() throws -> Data {
        var exporter = ONNXExporter(model: self)
        let proto = try exporter.export()
        do {
            return try proto.serializedData()
        } catch {
            throw SparseConvError.sizeOverflow("model '\(name)' cannot be serialized as ONNX: \(error)")
        }
    }

    /// Writes the model as an ONNX file (see ``onnxData()``). The file is
    /// written to a temporary name beside `path` and renamed, so readers never
    /// see a partial file and a failed write leaves any previous file intact.
    /// - Throws: `SparseConvError.invalidArgument` when the file cannot be written.
    public func writeONNX(to path: String) throws {
        try AtomicFile.write(try onnxData(), to: path, what: "ONNX")
    }
}

struct ONNXExporter {
    let model: Model
    var graph = Onnx_GraphProto()
    /// Tensor and initializer names in use: ONNX wants them all distinct.
    var taken: Set<String> = []

    init(model: Model) {
        self.model = model
        taken.insert(Model.inputName)
        for node in model.nodes { taken.insert(node.name) }
    }

    mutating func export() throws -> Onnx_ModelProto {
        graph.name = model.name
        graph.input = [Self.valueInfo(Model.inputName, shape: model.inputShape)]
        for node in model.nodes { try export(node) }
        graph.output = [Self.valueInfo(model.outputName, shape: model.shapes[model.outputName] ?? [])]
        var proto = Onnx_ModelProto()
        proto.irVersion = 7
        proto.producerName = "SparseConv"
        proto.producerVersion = "1"
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = 13
        proto.opsetImport = [opset]
        proto.graph = graph
        return proto
    }

    private mutating func export(_ node: Node) throws {
        let name = node.name
        let stored = model.parameterNames[name] ?? []
        func parameterName(_ position: Int, _ suffix: String) -> String {
            position < stored.count && !stored[position].isEmpty ? stored[position] : "\(name).\(suffix)"
        }
        switch node.operation {
        case .convolution(let conv):
            var inputs = [node.inputs[0], addInitializer(parameterName(0, "weight"), conv.weight)]
            if let bias = conv.bias { inputs.append(addInitializer(parameterName(1, "bias"), bias)) }
            let output = conv.activation == .none ? name : unique("\(name).preactivation")
            append("Conv", name, inputs, output, [
                .ints("kernel_shape", [conv.kernelSize.height, conv.kernelSize.width]),
                .ints("strides", [conv.stride.height, conv.stride.width]),
                .ints("pads", [conv.padding.top, conv.padding.left, conv.padding.bottom, conv.padding.right]),
                .ints("dilations", [conv.dilation.height, conv.dilation.width]),
                .int("group", conv.groups),
            ])
            switch conv.activation {
            case .none: break
            case .relu: append("Relu", unique("\(name).activation"), [output], name)
            case .relu6: appendClip(unique("\(name).activation"), output, name, 0, 6)
            }
        case .batchNorm(let bn):
            let inputs = [node.inputs[0],
                          addInitializer(parameterName(0, "weight"), bn.scale),
                          addInitializer(parameterName(1, "bias"), bn.shift),
                          addInitializer(parameterName(2, "running_mean"), bn.mean),
                          addInitializer(parameterName(3, "running_var"), bn.variance)]
            append("BatchNormalization", name, inputs, name, [.float("epsilon", bn.epsilon)])
        case .relu:
            append("Relu", name, node.inputs, name)
        case .relu6:
            appendClip(name, node.inputs[0], name, 0, 6)
        case .clip(let low, let high):
            appendClip(name, node.inputs[0], name, low, high)
        case .sigmoid:
            append("Sigmoid", name, node.inputs, name)
        case .maxPool(let pool), .averagePool(let pool):
            var attributes: [Attribute] = [
                .ints("kernel_shape", [pool.kernelSize.height, pool.kernelSize.width]),
                .ints("strides", [pool.stride.height, pool.stride.width]),
                .ints("pads", [pool.padding.top, pool.padding.left, pool.padding.bottom, pool.padding.right]),
                .int("ceil_mode", pool.ceilMode ? 1 : 0),
            ]
            let isMax: Bool
            if case .maxPool = node.operation { isMax = true } else { isMax = false }
            if !isMax { attributes.append(.int("count_include_pad", pool.countIncludePad ? 1 : 0)) }
            if pool.dilation != (1, 1) { attributes.append(.ints("dilations", [pool.dilation.height, pool.dilation.width])) }
            append(isMax ? "MaxPool" : "AveragePool", name, node.inputs, name, attributes)
        case .globalAveragePool:
            append("GlobalAveragePool", name, node.inputs, name)
        case .add:
            append("Add", name, node.inputs, name)
        case .concat:
            append("Concat", name, node.inputs, name, [.int("axis", 1)])
        case .channelShuffle(let groups):
            let shape = model.shapes[node.inputs[0]] ?? []
            guard shape.count == 3 else { throw SparseConvError.invalidSpec("channel shuffle '\(name)' needs a feature map") }
            let grouped = unique("\(name).grouped"), transposed = unique("\(name).transposed")
            let split = addInitializer(unique("\(name).grouped_shape"), int64: [0, groups, shape[0] / groups, shape[1], shape[2]])
            let merged = addInitializer(unique("\(name).shape"), int64: [0, shape[0], shape[1], shape[2]])
            append("Reshape", unique("\(name).reshape"), [node.inputs[0], split], grouped)
            append("Transpose", unique("\(name).transpose"), [grouped], transposed, [.ints("perm", [0, 2, 1, 3, 4])])
            append("Reshape", name, [transposed, merged], name)
        case .channelScale:
            var gate = node.inputs[1]
            if (model.shapes[gate] ?? []).count == 1 {
                // A [N, C] gate would broadcast against W, not C: make it [N, C, 1, 1].
                let shape = addInitializer(unique("\(name).gate_shape"), int64: [0, -1, 1, 1])
                let reshaped = unique("\(name).gate")
                append("Reshape", reshaped, [gate, shape], reshaped)
                gate = reshaped
            }
            append("Mul", name, [node.inputs[0], gate], name)
        case .fullyConnected(let fc):
            var input = node.inputs[0]
            if (model.shapes[input] ?? []).count != 1 {
                // Gemm takes [N, K]: the model's fully connected layer flattens implicitly.
                let flat = unique("\(name).flatten")
                append("Flatten", flat, [input], flat, [.int("axis", 1)])
                input = flat
            }
            var inputs = [input, addInitializer(parameterName(0, "weight"), fc.weight)]
            if let bias = fc.bias { inputs.append(addInitializer(parameterName(1, "bias"), bias)) }
            append("Gemm", name, inputs, name, [.int("transB", 1)])
        case .flatten:
            append("Flatten", name, node.inputs, name, [.int("axis", 1)])
        case .softmax:
            append("Softmax", name, node.inputs, name, [.int("axis", -1)])
        case .leakyRelu(let alpha):
            append("LeakyRelu", name, node.inputs, name, [.float("alpha", alpha)])
        case .prelu(let slopes):
            // [C, 1, 1] broadcasts against [N, C, H, W] per channel; a single slope as [1].
            let rank = (model.shapes[node.inputs[0]] ?? []).count
            let dims = slopes.count == 1 ? [1] : [slopes.count] + Array(repeating: 1, count: max(rank - 1, 0))
            let slope = slopes.withUnsafeBufferPointer { addInitializer(parameterName(0, "slope"), dims: dims, values: $0) }
            append("PRelu", name, [node.inputs[0], slope], name)
        case .tanh:
            append("Tanh", name, node.inputs, name)
        case let .hardSigmoid(alpha, beta):
            append("HardSigmoid", name, node.inputs, name, [.float("alpha", alpha), .float("beta", beta)])
        case .hardSwish:
            // Opset 13 has no HardSwish: written as PyTorch writes it there, x · HardSigmoid(x).
            let gate = unique("\(name).gate")
            append("HardSigmoid", gate, node.inputs, gate, [.float("alpha", 1 / 6), .float("beta", 0.5)])
            append("Mul", name, [node.inputs[0], gate], name)
        case .silu:
            let gate = unique("\(name).sigmoid")
            append("Sigmoid", gate, node.inputs, gate)
            append("Mul", name, [node.inputs[0], gate], name)
        case .channelSelect(let indices):
            let list = addInitializer(unique("\(name).indices"), int64: indices)
            append("Gather", name, [node.inputs[0], list], name, [.int("axis", 1)])
        }
    }

    // MARK: Building blocks

    enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)

        var proto: Onnx_AttributeProto {
            var attribute = Onnx_AttributeProto()
            switch self {
            case let .int(name, value):
                attribute.name = name; attribute.type = .int; attribute.i = Int64(value)
            case let .ints(name, values):
                attribute.name = name; attribute.type = .ints; attribute.ints = values.map { Int64($0) }
            case let .float(name, value):
                attribute.name = name; attribute.type = .float; attribute.f = value
            }
            return attribute
        }
    }

    private mutating func append(_ op: String, _ name: String, _ inputs: [String], _ output: String, _ attributes: [Attribute] = []) {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = name
        node.input = inputs
        node.output = [output]
        node.attribute = attributes.map(\.proto)
        graph.node.append(node)
    }

    /// Clip with opset-13 bound inputs; an infinite bound is left out.
    private mutating func appendClip(_ name: String, _ input: String, _ output: String, _ low: Float, _ high: Float) {
        let lowName = low == -.infinity ? "" : addInitializer(unique("\(name).min"), scalar: low)
        let highName = high == .infinity ? "" : addInitializer(unique("\(name).max"), scalar: high)
        var inputs = [input, lowName, highName]
        while inputs.last == "" { inputs.removeLast() }
        append("Clip", name, inputs, output)
    }

    /// `preferred` if no tensor or initializer has it yet, else the first free `preferred_k`.
    private mutating func unique(_ preferred: String) -> String {
        var name = preferred, suffix = 1
        while taken.contains(name) { name = "\(preferred)_\(suffix)"; suffix += 1 }
        taken.insert(name)
        return name
    }

    private mutating func addInitializer(_ name: String, _ tensor: Tensor) -> String {
        tensor.withUnsafeBufferPointer { addInitializer(name, dims: tensor.shape, values: $0) }
    }

    private mutating func addInitializer(_ name: String, _ values: [Float]) -> String {
        values.withUnsafeBufferPointer { addInitializer(name, dims: [values.count], values: $0) }
    }

    private mutating func addInitializer(_ name: String, scalar: Float) -> String {
        [scalar].withUnsafeBufferPointer { addInitializer(name, dims: [], values: $0) }
    }

    private mutating func addInitializer(_ preferred: String, dims: [Int], values: UnsafeBufferPointer<Float>) -> String {
        // A name shared by two nodes (tied weights) gets a suffixed copy: ONNX names must be distinct.
        let name = unique(preferred)
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.dims = dims.map { Int64($0) }
        var bytes = Data(count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            // ONNX raw_data is little-endian whatever the host.
            for (i, value) in values.enumerated() { raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        tensor.rawData = bytes
        graph.initializer.append(tensor)
        return name
    }

    private mutating func addInitializer(_ name: String, int64 values: [Int]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(values.count)]
        tensor.int64Data = values.map { Int64($0) }
        graph.initializer.append(tensor)
        return name
    }

    static func valueInfo(_ name: String, shape: [Int]) -> Onnx_ValueInfoProto {
        var type = Onnx_TypeProto.Tensor()
        type.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        var dims = [batch]
        for extent in shape {
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(extent)
            dims.append(dim)
        }
        type.shape.dim = dims
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = type
        return info
    }
}
