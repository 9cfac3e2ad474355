/// The unit a pruning mask keeps or removes. See DESIGN.md, "Vocabulary".
public enum Granularity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// One weight (unstructured, fine-grained).
    case element
    /// One weight position (input channel, tap) in output channels 2j and 2j+1
    /// of the same group; an odd last output channel of a group is a half block.
    case block1x2
    /// One whole kernelH × kernelW kernel: an (output channel, input channel) pair.
    case kernel
    /// One whole filter: an output channel with all its weights and its bias.
    case channel

    /// From least to most regular; detection tries the most regular first.
    private var regularity: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.regularity < rhs.regularity }

    /// The sparse execution path that skips units of this granularity.
    public var path: ExecutionPath {
        switch self {
        case .element: return .element
        case .block1x2: return .block1x2
        case .kernel: return .kernel
        case .channel: return .channel
        }
    }
}

/// How magnitude pruning scores a unit: the mean (not the sum, so half blocks
/// compete fairly with full ones) of its weights' magnitudes.
public enum PruningNorm: String, Sendable, Hashable, Codable, CaseIterable {
    /// Mean absolute value.
    case l1
    /// Root mean square.
    case l2
}

/// Which weights of one convolution survive pruning, at one granularity.
///
/// The mask has the weight's OIHW shape and is constant within each unit of
/// its granularity. Sparsity counts weights, not units; the structural zero
/// completing a half block is not a weight and is never counted.
///
/// ```swift
/// let mask = try PruningMask.magnitude(weight: w, spec: spec, granularity: .block1x2, sparsity: 0.9)
/// let conv = try Conv2D(spec: spec, weight: try mask.apply(to: w), mask: mask)   // runs the block 1×2 path
/// ```
public struct PruningMask: Sendable, Hashable {
    public let spec: Conv2DSpec
    public let granularity: Granularity
    /// One flag per weight, OIHW order: `true` = kept.
    public let keep: [Bool]

    /// Creates a mask from per-weight flags and checks that it is constant within every unit.
    /// - Throws: `.shapeMismatch` when `keep` does not have one flag per weight,
    ///   `.invalidArgument` naming the first unit that mixes kept and pruned weights.
    public init(spec: Conv2DSpec, granularity: Granularity, keep: [Bool]) throws {
        guard keep.count == spec.weightCount else {
            throw SparseConvError.shapeMismatch(what: "pruning mask", expected: spec.weightShape, actual: [keep.count])
        }
        for (number, unit) in PruningUnits(spec: spec, granularity: granularity).enumerated() {
            let first = keep[unit[0]]
            if unit.contains(where: { keep[$0] != first }) {
                throw SparseConvError.invalidArgument(
                    "mask is not constant within \(granularity.rawValue) unit \(number) (weights \(unit.prefix(4))…): not a \(granularity.rawValue) mask")
            }
        }
        self.spec = spec
        self.granularity = granularity
        self.keep = keep
    }

    /// A mask that keeps every weight.
    public static func dense(spec: Conv2DSpec, granularity: Granularity = .element) -> PruningMask {
        PruningMask(unchecked: spec, granularity, [Bool](repeating: true, count: spec.weightCount))
    }

    init(unchecked spec: Conv2DSpec, _ granularity: Granularity, _ keep: [Bool]) {
        self.spec = spec
        self.granularity = granularity
        self.keep = keep
    }

    /// Weights kept.
    public var keptWeights: Int { keep.reduce(0) { $0 + ($1 ? 1 : 0) } }
    /// Weights removed.
    public var prunedWeights: Int { keep.count - keptWeights }
    /// Fraction of weights removed, in [0, 1].
    public var sparsity: Double { Double(prunedWeights) / Double(keep.count) }
    /// Fraction of weights kept, `1 - sparsity`.
    public var density: Double { 1 - sparsity }

    /// Output channels whose whole filter is removed.
    public var removedFilters: [Int] {
        let perFilter = spec.weightCount / spec.outChannels
        return (0..<spec.outChannels).filter { o in !keep[(o * perFilter)..<((o + 1) * perFilter)].contains(true) }
    }

    /// The weights with every pruned one set to zero.
    public func apply(to weight: Tensor) throws -> Tensor {
        guard weight.shape == spec.weightShape else {
            throw SparseConvError.shapeMismatch(what: "weights to mask", expected: spec.weightShape, actual: weight.shape)
        }
        var result = weight
        result.withUnsafeMutableBufferPointer { w in
            for index in keep.indices where !keep[index] { w[index] = 0 }
        }
        return result
    }

    /// Magnitude pruning of one layer.
    ///
    /// Units are ranked by their score (`norm` of their weights, a mean);
    /// the lowest go first, ties broken by unit order (lower output channel,
    /// then input channel, then tap first), so the result is deterministic.
    /// A unit whose score is NaN ranks above every number: it is pruned last.
    ///
    /// Rounding: with `T = sparsity × weightCount`, units are removed in rank
    /// order while removing the next one brings the removed-weight count
    /// closer to `T` (or equally close). With units of equal size `u` this
    /// removes `⌊T/u + ½⌋` units. Sparsity 0 keeps everything, 1 removes everything.
    /// - Throws: `.invalidArgument` when `sparsity` is outside [0, 1] or NaN,
    ///   `.shapeMismatch` for weights of the wrong shape.
    public static func magnitude(weight: Tensor, spec: Conv2DSpec, granularity: Granularity, sparsity: Double,
                                 norm: PruningNorm = .l1) throws -> PruningMask {
        guard sparsity >= 0, sparsity <= 1 else {
            throw SparseConvError.invalidArgument("sparsity must be in [0, 1], got \(sparsity)")
        }
        guard weight.shape == spec.weightShape else {
            throw SparseConvError.shapeMismatch(what: "weights to prune", expected: spec.weightShape, actual: weight.shape)
        }
        let units = PruningUnits(spec: spec, granularity: granularity)
        let scores = weight.withUnsafeBufferPointer { w in units.map { score(of: $0, in: w, norm: norm) } }
        // Key (is NaN, score, unit index): a strict total order, NaN last.
        let order = units.indices.sorted { a, b in
            let sa = scores[a], sb = scores[b]
            if sa.isNaN != sb.isNaN { return sb.isNaN }
            if !sa.isNaN, sa != sb { return sa < sb }
            return a < b
        }
        let target = sparsity * Double(spec.weightCount)
        var keep = [Bool](repeating: true, count: spec.weightCount)
        var removed = 0.0
        for unitIndex in order {
            let size = Double(units[unitIndex].count)
            guard 2 * removed + size <= 2 * target else { break }
            for index in units[unitIndex] { keep[index] = false }
            removed += size
        }
        return PruningMask(unchecked: spec, granularity, keep)
    }

    /// The mean magnitude of a unit's weights under `norm`.
    static func score(of unit: PruningUnit, in weights: UnsafeBufferPointer<Float>, norm: PruningNorm) -> Double {
        var sum = 0.0
        switch norm {
        case .l1: for index in unit { sum += Double(abs(weights[index])) }
            return sum / Double(unit.count)
        case .l2: for index in unit { sum += Double(weights[index]) * Double(weights[index]) }
            return (sum / Double(unit.count)).squareRoot()
        }
    }

    /// The most regular granularity that the zeros of `weight` fit (channel →
    /// kernel → block 1×2 → element), with the mask that keeps the nonzero units.
    /// Zeros fit a granularity when every zero weight lies in a unit that is
    /// entirely zero. Returns nil when the weights have no zeros at all.
    public static func detect(weight: Tensor, spec: Conv2DSpec) throws -> PruningMask? {
        guard weight.shape == spec.weightShape else {
            throw SparseConvError.shapeMismatch(what: "weights to inspect", expected: spec.weightShape, actual: weight.shape)
        }
        let values = weight.scalars
        guard values.contains(0) else { return nil }
        for granularity in Granularity.allCases.reversed() {
            var keep = [Bool](repeating: true, count: values.count)
            var fits = true
            for unit in PruningUnits(spec: spec, granularity: granularity) {
                let zeros = unit.reduce(0) { $0 + (values[$1] == 0 ? 1 : 0) }
                if zeros == unit.count {
                    for index in unit { keep[index] = false }
                } else if zeros > 0 {
                    fits = false
                    break
                }
            }
            if fits { return PruningMask(unchecked: spec, granularity, keep) }
        }
        return nil  // unreachable: every zero is an all-zero element unit
    }
}

/// One pruning unit: the OIHW flat indices `start, start + step, …` (`count`
/// of them). Every granularity's unit has this shape (a 1×2 block's partner is
/// one filter further on), so units are computed, never stored.
struct PruningUnit: Sequence {
    let start: Int, count: Int, step: Int
    func makeIterator() -> StrideToIterator<Int> {
        stride(from: start, to: start + count * step, by: step).makeIterator()
    }
    var underestimatedCount: Int { count }
    subscript(position: Int) -> Int { start + position * step }
}

/// The units of a granularity in rank tie-break order (output channel or
/// pair, then input channel, then tap), as a random-access collection whose
/// elements are computed from their position: pruning a 25 M-weight model
/// element-wise allocates nothing per unit.
struct PruningUnits: RandomAccessCollection {
    let spec: Conv2DSpec
    let granularity: Granularity
    private let cin: Int, taps: Int, perGroup: Int, pairsPerGroup: Int

    init(spec: Conv2DSpec, granularity: Granularity) {
        self.spec = spec
        self.granularity = granularity
        cin = spec.inChannelsPerGroup
        taps = spec.kernelHeight * spec.kernelWidth
        perGroup = spec.outChannelsPerGroup
        pairsPerGroup = (perGroup + 1) / 2
    }

    /// Every unit's indices materialized: for inspection and tests of small layers.
    var all: [[Int]] { map { Array($0) } }

    var startIndex: Int { 0 }
    var endIndex: Int {
        switch granularity {
        case .element: return spec.weightCount
        case .channel: return spec.outChannels
        case .kernel: return spec.outChannels * cin
        case .block1x2: return spec.groups * pairsPerGroup * cin * taps
        }
    }

    subscript(position: Int) -> PruningUnit {
        switch granularity {
        case .element:
            return PruningUnit(start: position, count: 1, step: 1)
        case .channel:
            return PruningUnit(start: position * cin * taps, count: cin * taps, step: 1)
        case .kernel:
            return PruningUnit(start: position * taps, count: taps, step: 1)
        case .block1x2:
            // Pairs restart at each group's first output channel; an odd last
            // channel of a group is a half block of one weight.
            let t = position % taps, c = (position / taps) % cin, pair = position / (taps * cin)
            let j = pair % pairsPerGroup, o = (pair / pairsPerGroup) * perGroup + 2 * j
            return PruningUnit(start: (o * cin + c) * taps + t, count: 2 * j + 1 < perGroup ? 2 : 1, step: cin * taps)
        }
    }
}
