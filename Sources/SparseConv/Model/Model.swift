/// A convolutional network: a graph of named nodes with one input, shapes
/// inferred and checked when the model is built.
///
/// Shapes exclude the batch: the input is `[channels, height, width]`; node
/// outputs are `[C, H, W]` for feature maps and `[features]` after flatten or
/// a fully connected layer. Nodes may be given in any order; they are stored
/// in a topological order, and a cycle, a dangling input or a shape error is
/// reported with the node's name.
///
/// ```swift
/// let model = try Model(name: "tiny", inputShape: [3, 32, 32], nodes: [
///     Node("conv1", .convolution(try ConvolutionLayer(weight: w, padding: Padding(1))), inputs: [Model.inputName]),
///     Node("relu1", .relu, inputs: ["conv1"]),
///     Node("pool", .globalAveragePool, inputs: ["relu1"]),
/// ])
/// ```
public struct Model: Sendable {
    /// The name by which nodes refer to the model's input.
    public static let inputName = "input"
    /// Nodes a model may hold: beyond this a file is rejected as hostile.
    public static let maximumNodes = 100_000

    public var name: String
    /// `[channels, height, width]` of one image.
    public let inputShape: [Int]
    /// Topologically ordered.
    public let nodes: [Node]
    /// The node whose output is the model's output.
    public let outputName: String
    /// Per-image output shape of every node, and of `inputName`.
    public let shapes: [String: [Int]]
    /// ONNX initializer names of each node's parameters, by node name, in the order of
    /// the ONNX operator's inputs (convolution and fully connected: weight,
    /// bias; batch norm: scale, shift, mean, variance). Filled by the ONNX
    /// importer so that an exported model keeps the initializer names it was
    /// loaded with; nodes without an entry get `<node>.weight`-style names.
    public var parameterNames: [String: [String]] = [:]
    /// What the ONNX importer folded, removed and fused; nil for models not read from ONNX.
    public var importSummary: ONNXImportSummary? = nil

    public init(name: String, inputShape: [Int], nodes: [Node], output: String? = nil) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 && $0 <= Int(Int32.max) }) else {
            throw SparseConvError.invalidSpec("model '\(name)': input shape must be [channels, height, width] with positive extents, got \(inputShape)")
        }
        guard !nodes.isEmpty else { throw SparseConvError.invalidSpec("model '\(name)' has no nodes") }
        guard nodes.count <= Self.maximumNodes else {
            throw SparseConvError.invalidSpec("model '\(name)' has \(nodes.count) nodes (limit \(Self.maximumNodes))")
        }
        self.name = name
        self.inputShape = inputShape
        self.nodes = try Self.topologicalOrder(nodes, model: name)
        let outputName = output ?? nodes.last!.name
        guard self.nodes.contains(where: { $0.name == outputName }) else {
            throw SparseConvError.invalidSpec("model '\(name)': output '\(outputName)' is not a node")
        }
        self.outputName = outputName
        try ResourceLimits.checkAllocation(shape: inputShape, elementSize: MemoryLayout<Float>.stride, "model '\(name)': its input \(inputShape) for one image")
        var shapes: [String: [Int]] = [Self.inputName: inputShape]
        for node in self.nodes {
            let inputs = node.inputs.map { shapes[$0]! }
            do {
                let shape = try ShapeInference.outputShape(of: node.operation, inputs: inputs)
                // One image's activation must fit, or no plan of this model ever could;
                // checking here also keeps every later product of these extents from overflowing.
                try ResourceLimits.checkAllocation(shape: shape, elementSize: MemoryLayout<Float>.stride, "its output \(shape) for one image")
                shapes[node.name] = shape
            } catch SparseConvError.outOfMemory(let message) {
                throw SparseConvError.outOfMemory("model '\(name)', node '\(node.name)': \(message)")
            } catch let error as SparseConvError {
                throw SparseConvError.invalidSpec("model '\(name)', node '\(node.name)' (\(node.operation.kindName)): \(error)")
            }
        }
        self.shapes = shapes
    }

    /// Orders nodes so every input comes before its consumers (Kahn's algorithm),
    /// rejecting duplicate names, unknown inputs, wrong input counts and cycles.
    static func topologicalOrder(_ nodes: [Node], model: String) throws -> [Node] {
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            guard node.name != inputName, !node.name.isEmpty else {
                throw SparseConvError.invalidSpec("model '\(model)': node name '\(node.name)' is reserved or empty")
            }
            guard index.updateValue(i, forKey: node.name) == nil else {
                throw SparseConvError.invalidSpec("model '\(model)': two nodes are named '\(node.name)'")
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            if let arity = node.operation.arity, node.inputs.count != arity {
                throw SparseConvError.invalidSpec("model '\(model)', node '\(node.name)': \(node.operation.kindName) takes \(arity) input(s), got \(node.inputs.count)")
            }
            guard !node.inputs.isEmpty else {
                throw SparseConvError.invalidSpec("model '\(model)', node '\(node.name)' has no inputs")
            }
            for input in node.inputs where input != inputName {
                guard let producer = index[input] else {
                    throw SparseConvError.invalidSpec("model '\(model)', node '\(node.name)': unknown input '\(input)'")
                }
                pending[i] += 1
                consumers[producer].append(i)
            }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        var cursor = 0
        while cursor < ready.count {
            let i = ready[cursor]
            cursor += 1
            order.append(nodes[i])
            for consumer in consumers[i] {
                pending[consumer] -= 1
                if pending[consumer] == 0 { ready.append(consumer) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.prefix(5).map { nodes[$0].name }
            throw SparseConvError.invalidSpec("model '\(model)': the graph has a cycle through \(stuck.joined(separator: ", "))")
        }
        return order
    }

    /// The node named `name`.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// The per-image input shape `[C, H, W]` seen by a node's first input.
    public func inputShape(of node: Node) -> [Int] { shapes[node.inputs[0]]! }

    /// The convolution spec of a convolution node.
    public func convolutionSpec(of node: Node) throws -> Conv2DSpec? {
        guard case .convolution(let conv) = node.operation else { return nil }
        let s = inputShape(of: node)
        return try conv.spec(inChannels: s[0], height: s[1], width: s[2])
    }

    /// Learnable parameters as torchvision counts them: convolution and fully
    /// connected weights and biases, batch-norm scale and shift (running
    /// statistics are buffers, not parameters).
    public var parameterCount: Int {
        nodes.reduce(0) { total, node in
            switch node.operation {
            case .convolution(let c): return total + c.weight.count + (c.bias?.count ?? 0)
            case .batchNorm(let b): return total + 2 * b.channels
            case .fullyConnected(let f): return total + f.weight.count + (f.bias?.count ?? 0)
            default: return total
            }
        }
    }

    /// Parameters that are not zero (after pruning, the ones that remain).
    public var nonzeroParameterCount: Int {
        nodes.reduce(0) { total, node in
            switch node.operation {
            case .convolution(let c):
                return total + c.weight.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } + (c.bias?.count ?? 0)
            case .batchNorm(let b): return total + 2 * b.channels
            case .fullyConnected(let f):
                return total + f.weight.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } + (f.bias?.count ?? 0)
            default: return total
            }
        }
    }

    /// Multiply-accumulates per image of every convolution and fully connected
    /// node: dense, and counting only nonzero weights.
    public func macsPerLayer() throws -> [(name: String, dense: Int, nonzero: Int)] {
        try nodes.compactMap { node in
            switch node.operation {
            case .convolution(let c):
                let spec = try convolutionSpec(of: node)!
                let pixels = spec.outputHeight * spec.outputWidth
                let nonzero = c.weight.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                return (node.name, spec.macs, nonzero * pixels)
            case .fullyConnected(let f):
                return (node.name, f.weight.count, f.weight.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
            default: return nil
            }
        }
    }

    /// A copy with some nodes' operations replaced (same graph).
    public func replacing(_ replacements: [String: LayerOperation]) throws -> Model {
        let updated = nodes.map { node -> Node in
            var node = node
            if let op = replacements[node.name] { node.operation = op }
            return node
        }
        var copy = try Model(name: name, inputShape: inputShape, nodes: updated, output: outputName)
        copy.parameterNames = parameterNames
        return copy
    }
}

/// Output shapes of each operation from its input shapes (batch excluded).
enum ShapeInference {
    static func outputShape(of operation: LayerOperation, inputs: [[Int]]) throws -> [Int] {
        func featureMap(_ shape: [Int]) throws -> (c: Int, h: Int, w: Int) {
            guard shape.count == 3 else { throw SparseConvError.invalidSpec("expects a [C, H, W] feature map, got \(shape)") }
            return (shape[0], shape[1], shape[2])
        }
        switch operation {
        case .convolution(let conv):
            let x = try featureMap(inputs[0])
            let spec = try conv.spec(inChannels: x.c, height: x.h, width: x.w)
            return [spec.outChannels, spec.outputHeight, spec.outputWidth]
        case .batchNorm(let bn):
            guard inputs[0].count >= 1, inputs[0][0] == bn.channels else {
                throw SparseConvError.shapeMismatch(what: "batch norm channels", expected: [bn.channels], actual: [inputs[0].first ?? 0])
            }
            return inputs[0]
        case .relu, .relu6, .sigmoid, .clip, .softmax, .leakyRelu, .tanh, .hardSigmoid, .hardSwish, .silu:
            return inputs[0]
        case .prelu(let slopes):
            guard slopes.count == 1 || (inputs[0].count >= 1 && slopes.count == inputs[0][0]) else {
                throw SparseConvError.shapeMismatch(what: "PRelu slopes", expected: [inputs[0].first ?? 0], actual: [slopes.count])
            }
            return inputs[0]
        case .channelSelect(let indices):
            let x = try featureMap(inputs[0])
            guard !indices.isEmpty, indices.allSatisfy({ $0 >= 0 && $0 < x.c }) else {
                throw SparseConvError.invalidSpec("channel selection \(indices.prefix(8)) out of range for \(x.c) channels")
            }
            return [indices.count, x.h, x.w]
        case .maxPool(let pool), .averagePool(let pool):
            let x = try featureMap(inputs[0])
            guard pool.dilation.height >= 1, pool.dilation.width >= 1 else {
                throw SparseConvError.invalidSpec("pooling dilation \(pool.dilation) must be at least 1")
            }
            if case .averagePool = operation, pool.dilation != (1, 1) {
                throw SparseConvError.unsupported("dilated average pooling")
            }
            guard let oh = PoolLayer.outputExtent(x.h, kernel: pool.span.height, stride: pool.stride.height,
                                                  padBefore: pool.padding.top, padAfter: pool.padding.bottom, ceil: pool.ceilMode),
                  let ow = PoolLayer.outputExtent(x.w, kernel: pool.span.width, stride: pool.stride.width,
                                                  padBefore: pool.padding.left, padAfter: pool.padding.right, ceil: pool.ceilMode),
                  oh >= 1, ow >= 1 else {
                throw SparseConvError.invalidSpec("pooling window \(pool.kernelSize) does not fit input \(x.h)×\(x.w)")
            }
            guard pool.padding.top < pool.kernelSize.height, pool.padding.left < pool.kernelSize.width,
                  pool.padding.bottom < pool.kernelSize.height, pool.padding.right < pool.kernelSize.width else {
                throw SparseConvError.invalidSpec("pooling padding must be smaller than the window")
            }
            return [x.c, oh, ow]
        case .globalAveragePool:
            let x = try featureMap(inputs[0])
            return [x.c, 1, 1]
        case .add:
            guard inputs[0] == inputs[1] else {
                throw SparseConvError.shapeMismatch(what: "add operands", expected: inputs[0], actual: inputs[1])
            }
            return inputs[0]
        case .concat:
            let first = try featureMap(inputs[0])
            var channels = 0
            for shape in inputs {
                let x = try featureMap(shape)
                guard x.h == first.h, x.w == first.w else {
                    throw SparseConvError.shapeMismatch(what: "concat spatial size", expected: [first.h, first.w], actual: [x.h, x.w])
                }
                channels += x.c
            }
            return [channels, first.h, first.w]
        case .channelShuffle(let groups):
            let x = try featureMap(inputs[0])
            guard groups >= 1, x.c % groups == 0 else {
                throw SparseConvError.invalidSpec("channel shuffle: \(x.c) channels not divisible by \(groups) groups")
            }
            return inputs[0]
        case .channelScale:
            let x = try featureMap(inputs[0])
            guard inputs[1] == [x.c, 1, 1] || inputs[1] == [x.c] else {
                throw SparseConvError.shapeMismatch(what: "channel scale", expected: [x.c, 1, 1], actual: inputs[1])
            }
            return inputs[0]
        case .fullyConnected(let fc):
            let features = inputs[0].reduce(1, *)
            guard features == fc.inFeatures else {
                throw SparseConvError.shapeMismatch(what: "fully connected input features", expected: [fc.inFeatures], actual: [features])
            }
            return [fc.outFeatures]
        case .flatten:
            return [inputs[0].reduce(1, *)]
        }
    }
}
