/// Channel pruning across residual adds.
///
/// An add keeps a channel alive while any of its operands is nonzero there, so
/// filters pruned independently in the convolutions feeding a chain of adds
/// (every ResNet stage) leave almost no channel that can be removed. The
/// convolutions whose outputs meet at adds form one group, and channel
/// pruning removes the same channels from all of them.
extension Model {
    /// A set of convolutions whose output channels meet at residual adds.
    struct ResidualChannelGroup {
        /// The convolutions, in model order.
        var convolutions: [String]
        /// False when an add operand comes from something that cannot be
        /// pruned along (the model input, a concat, a sigmoid, ...): then no
        /// channel of the group can become an exact zero through pruning alone.
        var closed: Bool
    }

    /// The groups of convolutions meeting at adds, found by walking each add
    /// operand back through layers that keep a zero channel zero (batch norm
    /// once its entries are zeroed with the filter, ReLU, ReLU6, max pooling)
    /// to a convolution or to another add (whose group joins this one).
    func residualChannelGroups() -> [ResidualChannelGroup] {
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.name, $0) })
        // Union-find over add nodes.
        var parent = [Int: Int]()
        func root(_ a: Int) -> Int {
            var a = a
            while let p = parent[a], p != a { a = p }
            return a
        }
        enum Source { case convolution(Int), add(Int), other }
        func source(of name: String) -> Source {
            var current = name
            while let i = index[current] {
                switch nodes[i].operation {
                case .convolution: return .convolution(i)
                case .add: return .add(i)
                case .batchNorm, .relu, .relu6, .maxPool: current = nodes[i].inputs[0]
                default: return .other
                }
            }
            return .other  // the model input
        }
        var members = [Int: [Int]]()
        var open = Set<Int>()
        for (i, node) in nodes.enumerated() {
            guard case .add = node.operation else { continue }
            parent[i] = parent[i] ?? i
            for operand in node.inputs {
                switch source(of: operand) {
                case .convolution(let c): members[i, default: []].append(c)
                case .add(let a):
                    parent[a] = parent[a] ?? a
                    let (ra, ri) = (root(a), root(i))
                    if ra != ri { parent[ra] = ri }
                case .other: open.insert(i)
                }
            }
        }
        var groups = [Int: (convolutions: Set<Int>, closed: Bool)]()
        for add in parent.keys {
            let r = root(add)
            var group = groups[r] ?? ([], true)
            group.convolutions.formUnion(members[add] ?? [])
            if open.contains(add) { group.closed = false }
            groups[r] = group
        }
        return groups.keys.sorted().map { r in
            let g = groups[r]!
            return ResidualChannelGroup(convolutions: g.convolutions.sorted().map { nodes[$0].name }, closed: g.closed)
        }
    }

    /// Channel masks made consistent across each closed residual group whose
    /// convolutions are all being pruned: every member removes the same
    /// channels, as many as its members removed on average (rounded), chosen
    /// by the lowest joint score — the sum over members of each filter's score
    /// divided by that member's mean filter score, so layers of different
    /// weight scales count alike; ties go to the lower channel.
    func coordinatingResidualChannels(_ masks: [String: PruningMask], norm: PruningNorm) -> [String: PruningMask] {
        var result = masks
        for group in residualChannelGroups() where group.closed && group.convolutions.count > 1 {
            let groupMasks = group.convolutions.compactMap { masks[$0] }
            guard groupMasks.count == group.convolutions.count,
                  let channels = groupMasks.first?.spec.outChannels,
                  groupMasks.allSatisfy({ $0.spec.outChannels == channels && $0.granularity == .channel }) else { continue }
            var joint = [Double](repeating: 0, count: channels)
            var removedTotal = 0
            for (name, mask) in zip(group.convolutions, groupMasks) {
                guard case .convolution(let conv)? = node(named: name)?.operation else { continue }
                let perFilter = mask.spec.weightCount / channels
                let scores = conv.weight.withUnsafeBufferPointer { w in
                    (0..<channels).map { PruningMask.score(of: PruningUnit(start: $0 * perFilter, count: perFilter, step: 1), in: w, norm: norm) }
                }
                let finite = scores.filter(\.isFinite)
                let mean = finite.isEmpty ? 1 : max(finite.reduce(0, +) / Double(finite.count), .leastNormalMagnitude)
                for c in 0..<channels { joint[c] += scores[c].isNaN ? .infinity : scores[c] / mean }
                removedTotal += mask.removedFilters.count
            }
            let count = Int((Double(removedTotal) / Double(groupMasks.count)).rounded())
            let removed = Set((0..<channels).sorted { (joint[$0], $0) < (joint[$1], $1) }.prefix(count))
            for (name, mask) in zip(group.convolutions, groupMasks) {
                let perFilter = mask.spec.weightCount / channels
                let keep = (0..<mask.spec.weightCount).map { !removed.contains($0 / perFilter) }
                result[name] = PruningMask(unchecked: mask.spec, .channel, keep)
            }
        }
        return result
    }
}
