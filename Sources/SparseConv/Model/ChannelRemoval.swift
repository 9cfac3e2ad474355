/// Physically removing channels that are provably zero ("thinning").
///
/// Channel pruning (``Model/pruned(_:)`` with `.channel`) only writes zeros:
/// a removed filter's weights, bias and batch-norm entries. This pass turns
/// those zeros into a smaller model: it finds every channel that is exactly
/// zero for *any* input, then drops the ones whose removal every consumer can
/// follow, shrinking the producing convolution's output channels and bias,
/// the batch norms and depthwise convolutions on the way, and the input
/// channels of the convolutions and fully connected layers that read them.
///
/// Exactness is the rule (DESIGN.md, channel pruning): a channel is removed
/// only where it is zero in the original model, so the thinned model computes
/// the same function (up to float summation order). Concretely:
/// - after a sigmoid (or softmax, or anything with `f(0) ≠ 0`) nothing is zero;
/// - a batch norm keeps a zero channel zero only when its offset
///   `shift - mean·scale/√(var+ε)` is zero;
/// - an add removes a channel only when it is zero in both operands, and
///   both operands and the sum drop the same channels;
/// - a channel-scale (squeeze-excitation) drops a channel only when its gate
///   drops it too, which a sigmoid gate never does;
/// - channel shuffles, grouped (not depthwise) convolutions, fully connected
///   outputs, the model's input and its output keep all their channels;
/// - at least one channel of every tensor is kept, so no layer becomes empty.
///
/// Non-finite weights are never treated as zero; a zero weight is assumed to
/// contribute zero (activations are finite).
public struct ChannelRemoval: Sendable {
    /// The thinned model (same node names, same graph, smaller tensors).
    public let model: Model
    /// Channels removed from each node's output, by node name, ascending.
    /// Nodes without removed channels are absent.
    public let removedChannels: [String: [Int]]

    /// Total channels removed from convolution outputs.
    public var removedFilterCount: Int {
        removedChannels.reduce(0) { total, entry in
            guard let node = model.node(named: entry.key), case .convolution = node.operation else { return total }
            return total + entry.value.count
        }
    }
}

extension Model {
    /// Channels of each node's output (and of `Model.inputName`) that are
    /// exactly zero whatever the input, by propagating structural zeros forward.
    ///
    /// Feature maps `[C, H, W]` report channels; 1-D values report features.
    public func provablyZeroChannels() -> [String: Set<Int>] {
        var dead: [String: Set<Int>] = [Model.inputName: []]
        for node in nodes {
            let shape = shapes[node.name]!
            let inputs = node.inputs.map { dead[$0] ?? [] }
            var result: Set<Int> = []
            switch node.operation {
            case .convolution(let conv):
                let inPerGroup = conv.weight.shape[1]
                let outPerGroup = conv.outChannels / max(conv.groups, 1)
                let perFilter = conv.weight.count / max(conv.outChannels, 1)
                let taps = conv.kernelSize.height * conv.kernelSize.width
                conv.weight.withUnsafeBufferPointer { w in
                    for o in 0..<conv.outChannels {
                        if let bias = conv.bias, bias[o] != 0 { continue }
                        let group = o / max(outPerGroup, 1)
                        var zero = true
                        scan: for i in 0..<perFilter {
                            let value = w[o * perFilter + i]
                            if value == 0 { continue }
                            let channel = group * inPerGroup + i / taps
                            if !value.isFinite || !inputs[0].contains(channel) { zero = false; break scan }
                        }
                        if zero { result.insert(o) }
                    }
                }
            case .batchNorm(let bn):
                let (a, b) = bn.affine
                for c in 0..<bn.channels where b[c] == 0 && a[c].isFinite && (a[c] == 0 || inputs[0].contains(c)) {
                    result.insert(c)
                }
            case .relu, .relu6, .maxPool, .averagePool, .globalAveragePool, .leakyRelu, .prelu, .tanh, .hardSwish, .silu:
                // f(0) = 0: a zero channel stays zero.
                result = inputs[0]
            case .channelSelect(let indices):
                for (k, c) in indices.enumerated() where inputs[0].contains(c) { result.insert(k) }
            case .clip(let low, let high):
                if low <= 0 && high >= 0 { result = inputs[0] }
            case .flatten:
                // 1-D input: plane 1, features map to themselves.
                let inShape = shapes[node.inputs[0]]!
                let plane = inShape.dropFirst().reduce(1, *)
                for c in inputs[0] { for k in 0..<plane { result.insert(c * plane + k) } }
            case .add:
                result = inputs[0].intersection(inputs[1])
            case .concat:
                var offset = 0
                for (index, input) in node.inputs.enumerated() {
                    for c in inputs[index] { result.insert(c + offset) }
                    offset += shapes[input]![0]
                }
            case .channelShuffle(let groups):
                // Output channel j reads input channel (j % g) * (C / g) + j / g.
                let c = shape[0], perGroup = c / groups
                for j in 0..<c where inputs[0].contains((j % groups) * perGroup + j / groups) { result.insert(j) }
            case .channelScale:
                result = inputs[0].union(inputs[1])
            case .fullyConnected(let fc):
                fc.weight.withUnsafeBufferPointer { w in
                    for o in 0..<fc.outFeatures {
                        if let bias = fc.bias, bias[o] != 0 { continue }
                        var zero = true
                        for i in 0..<fc.inFeatures {
                            let value = w[o * fc.inFeatures + i]
                            if value != 0 && (!value.isFinite || !inputs[0].contains(i)) { zero = false; break }
                        }
                        if zero { result.insert(o) }
                    }
                }
            case .sigmoid, .softmax, .hardSigmoid:
                break
            }
            dead[node.name] = result
        }
        return dead
    }

    /// Removes every channel that is provably zero and that all of its
    /// consumers can drop; see ``ChannelRemoval`` for the exact rules.
    ///
    /// The result computes the same outputs as `self` (to float rounding) on
    /// any finite input, with fewer parameters and MACs. Parameter names are kept.
    /// - Throws: `SparseConvError` only if the thinned graph fails to build,
    ///   which would be a bug in this pass.
    public func removingZeroChannels() throws -> ChannelRemoval {
        let dead = provablyZeroChannels()
        var removable: [String: Set<Int>] = [:]
        for (name, set) in dead { removable[name] = set }
        removable[Model.inputName] = []
        removable[outputName] = []

        func channels(_ name: String) -> Int { shapes[name]![0] }
        // Shrinks removable sets until every node's constraint holds; sets
        // only shrink, so this terminates.
        var changed = true
        func restrict(_ name: String, to allowed: Set<Int>) {
            let current = removable[name] ?? []
            let next = current.intersection(allowed)
            if next.count != current.count { removable[name] = next; changed = true }
        }
        func equalize(_ names: [String]) {
            var common = removable[names[0]] ?? []
            for name in names.dropFirst() { common.formIntersection(removable[name] ?? []) }
            for name in names { restrict(name, to: common) }
        }
        while changed {
            changed = false
            for node in nodes {
                let out = node.name
                switch node.operation {
                case .convolution(let conv):
                    let input = node.inputs[0]
                    let inChannels = channels(input)
                    if conv.groups == 1 {
                        break  // input channels drop freely (weight columns), outputs within `dead`
                    } else if conv.groups == inChannels && conv.outChannels == inChannels && conv.weight.shape[1] == 1 {
                        equalize([input, out])   // depthwise: channel c reads only channel c
                    } else {
                        restrict(input, to: []); restrict(out, to: [])
                    }
                case .batchNorm, .relu, .relu6, .clip, .maxPool, .averagePool, .globalAveragePool, .leakyRelu, .tanh, .hardSwish, .silu:
                    equalize([node.inputs[0], out])
                case .add:
                    equalize([node.inputs[0], node.inputs[1], out])
                case .channelScale:
                    // The gate is [C, 1, 1] or [C]: its channels are its features.
                    equalize([node.inputs[0], node.inputs[1], out])
                case .concat:
                    var offset = 0
                    var union: Set<Int> = []
                    for input in node.inputs {
                        let slice = Set((removable[out] ?? []).filter { $0 >= offset && $0 < offset + channels(input) }.map { $0 - offset })
                        restrict(input, to: slice)
                        for c in removable[input] ?? [] { union.insert(c + offset) }
                        offset += channels(input)
                    }
                    restrict(out, to: union)
                case .flatten:
                    let input = node.inputs[0]
                    let inShape = shapes[input]!
                    let plane = inShape.dropFirst().reduce(1, *)
                    let outSet = removable[out] ?? []
                    let whole = Set((removable[input] ?? []).filter { c in (0..<plane).allSatisfy { outSet.contains(c * plane + $0) } })
                    restrict(input, to: whole)
                    var expanded: Set<Int> = []
                    for c in removable[input] ?? [] { for k in 0..<plane { expanded.insert(c * plane + k) } }
                    restrict(out, to: expanded)
                case .fullyConnected:
                    restrict(out, to: [])   // input features drop freely (weight columns)
                case .sigmoid, .softmax, .channelShuffle, .hardSigmoid, .prelu, .channelSelect:
                    restrict(node.inputs[0], to: []); restrict(out, to: [])
                }
            }
            // Never empty a tensor: keep its first channel (feature) if all would go.
            for (name, set) in removable where !set.isEmpty && set.count >= channels(name) {
                var kept = set
                kept.remove(kept.min()!)
                if name != Model.inputName, let producer = node(named: name), case .flatten = producer.operation,
                   let plane = shapes[producer.inputs[0]]?.dropFirst().reduce(1, *), plane > 1 {
                    // A flatten can only lose whole channels: release the first channel's features.
                    let first = set.min()! / plane
                    kept.subtract((first * plane)..<((first + 1) * plane))
                }
                removable[name] = kept
                changed = true
            }
        }

        // Rebuild each node with its slices.
        func keptIndices(_ name: String, count: Int) -> [Int] {
            let removed = removable[name] ?? []
            return (0..<count).filter { !removed.contains($0) }
        }
        var rebuilt: [Node] = []
        for node in nodes {
            var node = node
            switch node.operation {
            case .convolution(var conv):
                let input = node.inputs[0]
                let keepOut = keptIndices(node.name, count: conv.outChannels)
                let inPerGroup = conv.weight.shape[1]
                let keepIn = conv.groups == 1 ? keptIndices(input, count: inPerGroup) : Array(0..<inPerGroup)
                if keepOut.count != conv.outChannels || keepIn.count != inPerGroup {
                    let taps = conv.kernelSize.height * conv.kernelSize.width
                    let source = conv.weight.scalars
                    var values: [Float] = []
                    values.reserveCapacity(keepOut.count * keepIn.count * taps)
                    for o in keepOut { for c in keepIn {
                        let start = (o * inPerGroup + c) * taps
                        values.append(contentsOf: source[start..<(start + taps)])
                    } }
                    let isDepthwise = conv.groups > 1
                    conv = try ConvolutionLayer(
                        weight: try Tensor(shape: [keepOut.count, keepIn.count, conv.kernelSize.height, conv.kernelSize.width], scalars: values),
                        bias: conv.bias.map { bias in keepOut.map { bias[$0] } }, stride: conv.stride, padding: conv.padding,
                        dilation: conv.dilation, groups: isDepthwise ? keepOut.count : conv.groups, activation: conv.activation)
                    node.operation = .convolution(conv)
                }
            case .batchNorm(let bn):
                let keep = keptIndices(node.name, count: bn.channels)
                if keep.count != bn.channels {
                    node.operation = .batchNorm(try BatchNormLayer(scale: keep.map { bn.scale[$0] }, shift: keep.map { bn.shift[$0] },
                                                                   mean: keep.map { bn.mean[$0] }, variance: keep.map { bn.variance[$0] },
                                                                   epsilon: bn.epsilon))
                }
            case .fullyConnected(let fc):
                let input = node.inputs[0]
                let inShape = shapes[input]!
                // A feature map read directly: features are channel-major, plane by plane.
                let plane = inShape.count == 3 ? inShape[1] * inShape[2] : 1
                let removed = removable[input] ?? []
                let keepIn = (0..<fc.inFeatures).filter { !removed.contains($0 / plane) }
                if keepIn.count != fc.inFeatures {
                    let source = fc.weight.scalars
                    var values: [Float] = []
                    values.reserveCapacity(fc.outFeatures * keepIn.count)
                    for o in 0..<fc.outFeatures { for i in keepIn { values.append(source[o * fc.inFeatures + i]) } }
                    node.operation = .fullyConnected(try FullyConnectedLayer(
                        weight: try Tensor(shape: [fc.outFeatures, keepIn.count], scalars: values), bias: fc.bias))
                }
            default:
                break
            }
            rebuilt.append(node)
        }
        var thinned = try Model(name: name, inputShape: inputShape, nodes: rebuilt, output: outputName)
        thinned.parameterNames = parameterNames
        var report: [String: [Int]] = [:]
        for (name, set) in removable where !set.isEmpty && name != Model.inputName { report[name] = set.sorted() }
        return ChannelRemoval(model: thinned, removedChannels: report)
    }
}
