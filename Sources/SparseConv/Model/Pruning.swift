/// Which layers of a model to prune, and how hard.
public struct PruningOptions: Sendable {
    /// Each layer pruned to the target, or one magnitude threshold across layers.
    public enum Scope: String, Sendable, Codable, CaseIterable { case layer, global }

    public var granularity: Granularity
    /// Target fraction of weights removed, in [0, 1].
    public var sparsity: Double
    public var scope: Scope
    public var norm: PruningNorm
    /// Per-layer sparsity overriding the target (convolution node names).
    public var overrides: [String: Double]
    /// Layers left dense (convolution node names).
    public var excluded: Set<String>
    /// No layer keeps less than this fraction of its weights (unless overridden).
    public var minimumDensity: Double
    /// Keep the first convolution dense (it sees the raw image and is cheap).
    public var keepFirst: Bool
    /// Prune depthwise convolutions too (off by default: they have few weights
    /// and no 1×2 blocks).
    public var pruneDepthwise: Bool

    public init(granularity: Granularity, sparsity: Double, scope: Scope = .layer, norm: PruningNorm = .l1,
                overrides: [String: Double] = [:], excluded: Set<String> = [], minimumDensity: Double = 0,
                keepFirst: Bool = true, pruneDepthwise: Bool = false) {
        self.granularity = granularity
        self.sparsity = sparsity
        self.scope = scope
        self.norm = norm
        self.overrides = overrides
        self.excluded = excluded
        self.minimumDensity = minimumDensity
        self.keepFirst = keepFirst
        self.pruneDepthwise = pruneDepthwise
    }
}

extension Model {
    /// Convolution nodes the options allow to prune, in model order.
    func prunableConvolutions(_ options: PruningOptions) throws -> [(node: Node, spec: Conv2DSpec)] {
        var result: [(Node, Conv2DSpec)] = []
        var first = true
        for node in nodes {
            guard let spec = try convolutionSpec(of: node) else { continue }
            defer { first = false }
            if options.excluded.contains(node.name) { continue }
            if options.overrides[node.name] == nil {
                if first && options.keepFirst { continue }
                if spec.isDepthwise && !options.pruneDepthwise { continue }
            }
            result.append((node, spec))
        }
        return result
    }

    /// A copy of the model with convolution weights magnitude-pruned; the
    /// original is untouched. Pruned weights become zeros, and the masks are
    /// returned by node name.
    ///
    /// With `.layer` scope every prunable convolution reaches the target (or its
    /// override). With `.global` scope one score threshold is shared by all
    /// prunable convolutions without an override, so the total removed weights
    /// reach the target, no layer dropping below `minimumDensity`.
    ///
    /// Channel granularity follows dependencies: the convolutions whose outputs
    /// meet at residual adds remove the same channels — with `.layer` scope as
    /// many as each removes alone, with `.global` scope by ranking each channel
    /// of the group (all its filters together) as one unit — and a removed
    /// filter takes its bias, batch-norm entries and the matching channel of a
    /// depthwise convolution reading it along.
    /// - Throws: `.invalidArgument` for sparsities outside [0, 1], a minimum
    ///   density outside [0, 1], or an override naming no convolution.
    public func pruned(_ options: PruningOptions) throws -> (model: Model, masks: [String: PruningMask]) {
        func checkFraction(_ value: Double, _ what: String) throws {
            guard value >= 0, value <= 1 else { throw SparseConvError.invalidArgument("\(what) must be in [0, 1], got \(value)") }
        }
        try checkFraction(options.sparsity, "sparsity")
        try checkFraction(options.minimumDensity, "minimum density")
        for (name, value) in options.overrides {
            try checkFraction(value, "sparsity of '\(name)'")
            guard let node = node(named: name), case .convolution = node.operation else {
                throw SparseConvError.invalidArgument("override names no convolution: '\(name)'")
            }
        }
        let candidates = try prunableConvolutions(options)
        var masks: [String: PruningMask] = [:]
        var globalPool: [(node: Node, spec: Conv2DSpec)] = []
        for (node, spec) in candidates {
            guard case .convolution(let conv) = node.operation else { continue }
            if let override = options.overrides[node.name] {
                masks[node.name] = try PruningMask.magnitude(weight: conv.weight, spec: spec, granularity: options.granularity,
                                                             sparsity: override, norm: options.norm)
            } else if options.scope == .layer {
                let target = min(options.sparsity, 1 - options.minimumDensity)
                masks[node.name] = try PruningMask.magnitude(weight: conv.weight, spec: spec, granularity: options.granularity,
                                                             sparsity: target, norm: options.norm)
            } else {
                globalPool.append((node, spec))
            }
        }
        if !globalPool.isEmpty {
            masks.merge(try globalMasks(globalPool, options)) { a, _ in a }
        }
        if options.granularity == .channel, options.scope == .layer {
            // Filters feeding a chain of residual adds go together, or the adds keep every
            // channel alive. (Global scope ranks a group's channel as one unit instead.)
            masks = coordinatingResidualChannels(masks, norm: options.norm)
        }
        var replacements: [String: LayerOperation] = [:]
        // Sorted so that the result never depends on dictionary order.
        for name in masks.keys.sorted() {
            let mask = masks[name]!
            guard case .convolution(var conv) = (replacements[name] ?? node(named: name)!.operation) else { continue }
            conv.weight = try mask.apply(to: conv.weight)
            replacements[name] = .convolution(conv)
            if options.granularity == .channel {
                // A removed filter takes its bias and batch-norm entries along, so
                // its output channel is exactly zero (DESIGN.md, channel pruning).
                zeroChannels(Set(mask.removedFilters), producedBy: name, in: &replacements, excluded: options.excluded)
            }
        }
        return (try replacing(replacements), masks)
    }

    /// Zeroes the bias of channels `removed` of convolution `name`, the
    /// entries of a batch norm that is its only reader, and — following the
    /// dependency — the same channels of a depthwise convolution reached
    /// through channel-wise layers that map 0 to 0 (batch norm, ReLU, ReLU6).
    ///
    /// Why the depthwise channel goes too: it reads nothing but the removed
    /// channel, so it is part of the same structural unit (as in DepGraph /
    /// Torch-Pruning); keeping it would leave a constant (its batch-norm
    /// shift) that blocks physically removing the channel. Layers named in
    /// `excluded` are never modified.
    private func zeroChannels(_ removed: Set<Int>, producedBy name: String, in replacements: inout [String: LayerOperation],
                              excluded: Set<String>) {
        guard !removed.isEmpty else { return }
        func operation(_ name: String) -> LayerOperation { replacements[name] ?? node(named: name)!.operation }
        func onlyReader(of name: String) -> Node? {
            guard name != outputName else { return nil }
            let readers = nodes.filter { $0.inputs.contains(name) }
            return readers.count == 1 ? readers[0] : nil
        }
        guard case .convolution(var conv) = operation(name) else { return }
        if var bias = conv.bias {
            for o in removed where o < bias.count { bias[o] = 0 }
            conv.bias = bias
            replacements[name] = .convolution(conv)
        }
        var current = name
        while let reader = onlyReader(of: current), !excluded.contains(reader.name) {
            switch operation(reader.name) {
            case .batchNorm(var bn) where bn.channels == conv.outChannels:
                for o in removed { bn.scale[o] = 0; bn.shift[o] = 0 }
                replacements[reader.name] = .batchNorm(bn)
            case .relu, .relu6:
                break
            case .convolution(var next) where next.groups == conv.outChannels && next.outChannels == conv.outChannels
                && next.groups > 1 && next.weight.shape[1] == 1:
                let perFilter = next.weight.count / next.outChannels
                next.weight.withUnsafeMutableBufferPointer { w in
                    for o in removed { for i in 0..<perFilter { w[o * perFilter + i] = 0 } }
                }
                replacements[reader.name] = .convolution(next)
                zeroChannels(removed, producedBy: reader.name, in: &replacements, excluded: excluded)
                return
            default:
                return
            }
            current = reader.name
        }
    }

    /// One threshold over every unit of every layer in the pool.
    private func globalMasks(_ pool: [(node: Node, spec: Conv2DSpec)], _ options: PruningOptions) throws -> [String: PruningMask] {
        // One 16-byte key per unit, sorted as integers: a non-negative score's
        // bit pattern orders like the score, NaN maps past every number (pruned
        // last), and the ordinal (layer order, then unit order) breaks ties —
        // the same order as per-layer pruning, at a fraction of the cost of
        // comparing structs with a closure (ResNet-50 has 23 M element units).
        struct Key: Comparable {
            let score: UInt64, ordinal: Int
            static func < (a: Key, b: Key) -> Bool { (a.score, a.ordinal) < (b.score, b.ordinal) }
        }
        func key(_ score: Double, _ ordinal: Int) -> Key { Key(score: score.isNaN ? .max : score.bitPattern, ordinal: ordinal) }
        // Channel pruning: a channel of convolutions meeting at residual adds is
        // one unit of the ranking (their filters together, scored over all their
        // weights), so the adds' channels die whole.
        let layerOf = Dictionary(uniqueKeysWithValues: pool.enumerated().map { ($1.node.name, $0) })
        let groups: [[Int]] = options.granularity != .channel ? [] : residualChannelGroups().compactMap { group in
            guard group.closed, group.convolutions.count > 1 else { return nil }
            let layers = group.convolutions.compactMap { layerOf[$0] }
            guard layers.count == group.convolutions.count,
                  Set(layers.map { pool[$0].spec.outChannels }).count == 1 else { return nil }
            return layers
        }
        let grouped = Set(groups.joined())
        var keys: [Key] = []
        var unitLists: [PruningUnits] = []
        var firstOrdinal: [Int] = []
        var totalWeights = 0
        for (layer, entry) in pool.enumerated() {
            guard case .convolution(let conv) = entry.node.operation else { continue }
            let list = PruningUnits(spec: entry.spec, granularity: options.granularity)
            firstOrdinal.append(keys.count)
            unitLists.append(list)
            totalWeights += entry.spec.weightCount
            if grouped.contains(layer) { continue }  // ranked with its group below
            keys.reserveCapacity(keys.count + list.count)
            conv.weight.withUnsafeBufferPointer { w in
                for unit in list { keys.append(key(PruningMask.score(of: unit, in: w, norm: options.norm), keys.count)) }
            }
        }
        // Group units after every layer's: (group, channel), ordinal groupBase + i.
        let groupBase = keys.count
        var groupUnits: [(group: Int, channel: Int)] = []
        for (g, layers) in groups.enumerated() {
            let channels = pool[layers[0]].spec.outChannels
            var sums = [Double](repeating: 0, count: channels), sizes = 0
            for layer in layers {
                guard case .convolution(let conv) = pool[layer].node.operation else { continue }
                let units = unitLists[layer]
                sizes += units[0].count
                conv.weight.withUnsafeBufferPointer { w in
                    for c in 0..<channels {
                        let mean = PruningMask.score(of: units[c], in: w, norm: options.norm), size = Double(units[c].count)
                        sums[c] += options.norm == .l1 ? mean * size : mean * mean * size
                    }
                }
            }
            for c in 0..<channels {
                let mean = sums[c] / Double(sizes)
                keys.append(key(options.norm == .l1 ? mean : mean.squareRoot(), groupBase + groupUnits.count))
                groupUnits.append((g, c))
            }
        }
        keys.sort()
        let target = options.sparsity * Double(totalWeights)
        var removedPerLayer = [Int](repeating: 0, count: pool.count)
        let capPerLayer = pool.map { Int((Double($0.spec.weightCount) * (1 - options.minimumDensity)).rounded(.down)) }
        var keep = pool.map { [Bool](repeating: true, count: $0.spec.weightCount) }
        var removed = 0.0
        for key in keys {
            if key.ordinal >= groupBase {
                let (g, c) = groupUnits[key.ordinal - groupBase]
                let members = groups[g].map { (layer: $0, unit: unitLists[$0][c]) }
                let size = members.reduce(0) { $0 + $1.unit.count }
                guard 2 * removed + Double(size) <= 2 * target else { break }
                guard members.allSatisfy({ removedPerLayer[$0.layer] + $0.unit.count <= capPerLayer[$0.layer] }) else { continue }
                for (layer, unit) in members {
                    for index in unit { keep[layer][index] = false }
                    removedPerLayer[layer] += unit.count
                }
                removed += Double(size)
                continue
            }
            // The layer holding this ordinal: the last whose first ordinal is ≤ it.
            var lo = 0, hi = firstOrdinal.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if firstOrdinal[mid] <= key.ordinal { lo = mid } else { hi = mid - 1 }
            }
            let layer = lo, unit = unitLists[layer][key.ordinal - firstOrdinal[layer]]
            guard 2 * removed + Double(unit.count) <= 2 * target else { break }
            guard removedPerLayer[layer] + unit.count <= capPerLayer[layer] else { continue }
            for index in unit { keep[layer][index] = false }
            removedPerLayer[layer] += unit.count
            removed += Double(unit.count)
        }
        var masks: [String: PruningMask] = [:]
        for (layer, entry) in pool.enumerated() {
            masks[entry.node.name] = PruningMask(unchecked: entry.spec, options.granularity, keep[layer])
        }
        return masks
    }
}
