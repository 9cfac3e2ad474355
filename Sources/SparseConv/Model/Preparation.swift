extension Model {
    /// The model as it is executed: each batch norm that directly follows a
    /// convolution (and is that convolution's only consumer) folded into its
    /// weights and bias, and each ReLU/ReLU6 that is a convolution's only
    /// consumer fused into it. Names of the surviving nodes are kept; consumers
    /// of a removed node read the node it was folded into.
    ///
    /// Folding is exact up to float rounding: `w' = w·a`, `b' = b·a + c` with
    /// `a = scale/√(var+ε)`, `c = shift - mean·a`. A standalone batch norm (e.g.
    /// after an add) stays a per-channel affine layer.
    public func prepared() throws -> Model {
        var consumers: [String: Int] = [:]
        for node in nodes { for input in node.inputs { consumers[input, default: 0] += 1 } }
        consumers[outputName, default: 0] += 1  // the output is consumed by the caller

        var byName: [String: Node] = [:]
        for node in nodes { byName[node.name] = node }
        var alias: [String: String] = [:]   // removed node → node that now produces its value
        var result: [Node] = []
        var position: [String: Int] = [:]

        func resolve(_ name: String) -> String {
            var name = name
            while let next = alias[name] { name = next }
            return name
        }

        for var node in nodes {
            node.inputs = node.inputs.map(resolve)
            if node.inputs.count == 1, let producerIndex = position[node.inputs[0]],
               case .convolution(var conv) = result[producerIndex].operation,
               consumers[node.inputs[0], default: 0] == 1 {
                let producer = result[producerIndex]
                switch node.operation {
                case .batchNorm(let bn) where conv.activation == .none && bn.channels == conv.outChannels:
                    let (a, c) = bn.affine
                    var weight = conv.weight
                    let perFilter = weight.count / conv.outChannels
                    weight.withUnsafeMutableBufferPointer { w in
                        for o in 0..<conv.outChannels { for i in 0..<perFilter { w[o * perFilter + i] *= a[o] } }
                    }
                    var bias = [Float](repeating: 0, count: conv.outChannels)
                    for o in 0..<conv.outChannels { bias[o] = (conv.bias?[o] ?? 0) * a[o] + c[o] }
                    conv.weight = weight
                    conv.bias = bias
                    result[producerIndex] = Node(producer.name, .convolution(conv), inputs: producer.inputs)
                    alias[node.name] = producer.name
                    consumers[producer.name] = consumers[node.name, default: 0]
                    continue
                case .relu where conv.activation == .none, .relu6 where conv.activation == .none:
                    conv.activation = node.operation == .relu ? .relu : .relu6
                    result[producerIndex] = Node(producer.name, .convolution(conv), inputs: producer.inputs)
                    alias[node.name] = producer.name
                    consumers[producer.name] = consumers[node.name, default: 0]
                    continue
                default:
                    break
                }
            }
            position[node.name] = result.count
            result.append(node)
        }
        return try Model(name: name, inputShape: inputShape, nodes: result, output: resolve(outputName))
    }
}
