import Testing
@testable import SparseConv

/// Every sparse path against the reference convolution at every sparsity of
/// the issue, on the foundation's edge cases plus sparse-specific ones.
@Suite struct SparsePathTests {
    static let sparsities = [0.0, 0.5, 0.9, 0.97, 1.0]
    static let sparseGranularities: [ExecutionPath] = [.element, .block1x2, .kernel, .channel]

    /// Cases that matter for sparse formats on top of the general list.
    static let extra: [(String, ConvolutionTester)] = [
        ("half blocks: odd outputs per group", EdgeCases.base.inChannels(6).outChannels(15).groups(3).kernel(3).padding(1).input(8)),
        ("half block: 1 output", EdgeCases.base.inChannels(7).outChannels(1).kernel(3).padding(1).input(9)),
        ("odd input channels 1x1", EdgeCases.base.inChannels(33).outChannels(17).kernel(1).input(9, 7)),
        ("1x1 stride 2", EdgeCases.base.inChannels(16).outChannels(24).kernel(1).stride(2).input(11)),
        ("3x3 stride 2 wide", EdgeCases.base.inChannels(8).outChannels(10).kernel(3).stride(2).padding(1).input(9, 40)),
        ("many channels", EdgeCases.base.inChannels(96).outChannels(64).kernel(3).padding(1).input(10)),
        // AVX2 pair rows with 2 blocks or more per input channel (sparsity 0 and 0.5) on
        // more than 256 outputs walk these input channels in chunks too (81, 15); on Zen 4,
        // element rows at 90 % and above run here in 16-lane tiles of 8 (3 tiles), chunked
        ("pair rows in input-channel chunks", EdgeCases.base.inChannels(96).outChannels(11).kernel(3).padding(1).input(18, 20)),
        // AVX2 element rows split these input channels into uneven chunks (89, 89, 22)
        ("input-channel chunks", EdgeCases.base.inChannels(200).outChannels(9).kernel(3).padding(1).input(7)),
        // 220-float planes in two bands, dense enough: copied into planes on vector boundaries
        ("1x1 copied planes", EdgeCases.base.inChannels(400).outChannels(96).kernel(1).input(20, 11)),
        // read in place; two bands of 7 rows would end off vector boundaries: one band, rows split
        ("1x1 one band, 14x14", EdgeCases.base.inChannels(448).outChannels(24).kernel(1).input(14)),
        // read in place in bands of 6 or 10 rows and a short last one (2 or 6 rows): on
        // Zen 5 two threads each walk half of the tiles and take the other half's last
        // ones when done (batch 3: the halves meet inside the second image); at sparsity
        // 0 and 0.5 Zen 5 walks their element-wise rows in input-channel chunks
        ("1x1 in place, a short last band", EdgeCases.base.inChannels(128).outChannels(12).kernel(1).input(56)),
        ("1x1 in place, a short last band, batch 3", EdgeCases.base.inChannels(96).outChannels(7).kernel(1).input(56).batch(3)),
        // 56 rows in 8 bands of 7 (equal, for the threads), not 5 bands of 10 and one of 6
        ("bands of equal rows", EdgeCases.base.inChannels(64).outChannels(8).kernel(3).padding(1).input(56)),
        // rows share min(left, right) = 1 zero column with the next row's left padding
        ("shared padding columns, unequal sides", EdgeCases.base.inChannels(9).outChannels(11).kernel(3).padding(Padding(top: 1, left: 2, bottom: 2, right: 1)).input(8, 13)),
        // 3x3 at 14x14: 14 16-lane vectors, which Zen 4 runs as one tile of 14 pair rows, unchunked
        ("one 14-vector tile", EdgeCases.base.inChannels(40).outChannels(13).kernel(3).padding(1).input(14)),
        ("dilated 3x3 d2 no padding", EdgeCases.base.channels(12).kernel(3).dilation(2).input(14)),
        ("rectangular stride", EdgeCases.base.channels(10).kernel(3, 2).stride(2, 1).padding(Padding(top: 1, left: 0, bottom: 0, right: 1)).input(10, 9)),
        // channel path: the kept filters run as dense rows of up to 6 channels
        // (stride 1, more than 256 outputs), written into their own planes;
        // 53 vectors of 22-wide rows, the last tile 3 vectors with 2 real lanes
        ("channel dense rows, odd vector count", EdgeCases.base.inChannels(10).outChannels(23).kernel(3).padding(1).input(19, 21)),
        // one band, a pair and a single row, so two threads split it by vectors; rows of 4
        // (3 shared padding columns) under a 7-wide kernel: taps reach 2 rows down
        ("vector slices, taps past the next row", EdgeCases.base.inChannels(8).outChannels(3).kernel(7).padding(3).input(60, 1)),
        // 256 channels at 14x38: bands of 4 rows of 39, the last one 2 rows (5
        // vectors), which Zen 4's dense tiles of 3 cut into tiles of 2 and 3
        ("channel dense rows, a last band of 5 vectors", EdgeCases.base.inChannels(256).outChannels(64).kernel(3).padding(1).input(14, 38)),
        ("channel dense rows, 5x5 dilated", EdgeCases.base.inChannels(7).outChannels(13).kernel(5).dilation(2).padding(4).input(18)),
        // 3x3 at 7x7, 7x6 and 4x5: Zen 4 runs the kept filters as 8-lane
        // dense rows that two threads split tile-major, each tile's last vector stored exactly
        ("channel dense rows, 7x7 split tile-major", EdgeCases.base.inChannels(24).outChannels(40).kernel(3).padding(1).input(7)),
        ("channel dense rows, 7x6", EdgeCases.base.inChannels(9).outChannels(26).kernel(3).padding(1).input(7, 6)),
        ("channel dense rows, 4x5", EdgeCases.base.inChannels(5).outChannels(13).kernel(3).padding(1).input(4, 5)),
        // kernel-level at 85 % sparsity and up copies several of a thread's row bands
        // at once (512 KiB of source rows): 160 channels of 64-float rows fit 12 rows,
        // so the 16-lane bands of 4 output rows go in pairs, each thread's last pair short
        ("kernel-level bands copied in groups", EdgeCases.base.inChannels(160).outChannels(16).kernel(3).padding(1).input(56)),
        // Zen 5 runs whole rows of 1x1 layers from aligned loads shifted into place
        // (single_aligned, pair_aligned): 169-float planes put the positions at all 16
        // offsets from a 64-byte boundary, and a 161-channel image ends 9 floats off
        // one, so each image of the batch starts its tiles at another offset (0, 9, 2;
        // the sums do not depend on it, the masked loads' bounds do)
        ("aligned loads: 1x1 13x13, every offset, batch 3", EdgeCases.base.inChannels(161).outChannels(21).kernel(1).input(13).batch(3)),
    ]

    static var allCases: [(String, ConvolutionTester)] { EdgeCases.general + extra }

    @Test(arguments: sparseGranularities, sparsities)
    func edgeCasesAtSparsity(path: ExecutionPath, sparsity: Double) throws {
        for (_, tester) in Self.allCases {
            try tester.sparsity(sparsity, path).test(path)
        }
    }

    @Test(arguments: sparseGranularities)
    func randomizedSweep(path: ExecutionPath) throws {
        var g = SeededGenerator(seed: 77)
        for tester in EdgeCases.randomCases(count: 24, seed: 30, maxGroups: 6) {
            try tester.sparsity(Self.sparsities.randomElement(using: &g)!, path).test(path)
        }
    }

    /// Sparse paths read the keep mask, not only the zeros: a kept weight that
    /// happens to be zero and a pruned one that is not zero both behave as masked.
    /// 48 input channels at 20x20 and 90 %: the element-wise path runs pair
    /// rows on Zen 5 (element.c), where a pruned partner's nonzero weight must
    /// not leak in.
    @Test(arguments: sparseGranularities, [(8, 9, 0.6), (48, 20, 0.9)])
    func explicitMaskWins(path: ExecutionPath, shape: (Int, Int, Double)) throws {
        let spec = try Conv2DSpec(inChannels: shape.0, outChannels: 9, inputSize: shape.1, kernelSize: 3, padding: 1)
        let granularity = Granularity.allCases.first { $0.path == path }!
        let raw = try Tensor.random(shape: spec.weightShape, seed: 5)
        let mask = try PruningMask.magnitude(weight: raw, spec: spec, granularity: granularity, sparsity: shape.2)
        let pruned = try mask.apply(to: raw)
        let input = try Tensor.random(shape: spec.inputShape(batch: 2), seed: 6)
        let bias = try Tensor.random(shape: [spec.outChannels], seed: 7).scalars
        var referenceBias = bias
        if path == .channel { for o in mask.removedFilters { referenceBias[o] = 0 } }
        let expected = try Reference.conv2d(spec, input: input, weight: pruned, bias: referenceBias, activation: .relu)
        // Feed the unpruned weights: the mask alone must remove the pruned ones.
        let conv = try Conv2D(spec: spec, weight: raw, bias: bias, activation: .relu, mask: mask)
        #expect(conv.path == path)
        #expect(try conv(input).normalizedError(to: expected) <= ConvolutionTester.tolerance)
        #expect(conv.storedWeights <= spec.weightCount)
        if path != .block1x2 { #expect(conv.storedWeights == mask.keptWeights) }
    }

    @Test func channelPathReportsDeadChannelsAndWritesExactZeros() throws {
        let spec = try Conv2DSpec(inChannels: 6, outChannels: 10, inputSize: 7, kernelSize: 3, padding: 1)
        var keep = [Bool](repeating: true, count: spec.weightCount)
        let perFilter = spec.weightCount / spec.outChannels
        for o in [1, 4, 9] { for i in 0..<perFilter { keep[o * perFilter + i] = false } }
        let mask = try PruningMask(spec: spec, granularity: .channel, keep: keep)
        let weight = try mask.apply(to: Tensor.random(shape: spec.weightShape, seed: 1))
        let bias = [Float](repeating: 0.5, count: 10)
        let conv = try Conv2D(spec: spec, weight: weight, bias: bias, mask: mask)
        #expect(conv.deadOutputChannels == [1, 4, 9])
        #expect(mask.removedFilters == [1, 4, 9])
        let y = try conv(Tensor.random(shape: spec.inputShape(batch: 1), seed: 2))
        for o in [1, 4, 9] { for i in 0..<49 { #expect(y[flat: o * 49 + i] == 0) } }
        #expect(y[flat: 0] != 0)
    }

    /// Without a channel mask a zero filter keeps its bias (e.g. kernel pruning that
    /// happened to empty a filter): the channel path writes activation(bias), not zero.
    @Test func channelPathKeepsTheBiasOfAZeroFilterGivenNoMask() throws {
        let spec = try Conv2DSpec(inChannels: 3, outChannels: 4, inputSize: 5, kernelSize: 3, padding: 1)
        var weight = try Tensor.random(shape: spec.weightShape, seed: 3)
        let perFilter = spec.weightCount / spec.outChannels
        weight.withUnsafeMutableBufferPointer { w in for o in [1, 2] { for i in 0..<perFilter { w[o * perFilter + i] = 0 } } }
        let bias: [Float] = [0.1, 0.7, -0.4, 0.2]
        let conv = try Conv2D(spec: spec, weight: weight, bias: bias, activation: .relu, path: .channel)
        // Filter 1 is the constant relu(0.7) = 0.7; filter 2 is relu(-0.4) = 0, an exact zero.
        #expect(conv.deadOutputChannels == [2])
        let y = try conv(Tensor.random(shape: spec.inputShape(batch: 2), seed: 4))
        for n in 0..<2 {
            for i in 0..<25 {
                #expect(y[flat: (n * 4 + 1) * 25 + i] == 0.7)
                #expect(y[flat: (n * 4 + 2) * 25 + i] == 0)
            }
        }
        // Every filter removed: no inner operator, still the constants.
        let empty = try Conv2D(spec: spec, weight: Tensor(shape: spec.weightShape), bias: bias, activation: .relu6, path: .channel)
        #expect(empty.deadOutputChannels == [2])
        let z = try empty(Tensor.random(shape: spec.inputShape(batch: 1), seed: 5))
        #expect(z[flat: 0] == 0.1 && z[flat: 25] == 0.7 && z[flat: 50] == 0 && z[flat: 75] == 0.2)
    }

    @Test func blockPathCountsHalfBlocksAsSingleWeights() throws {
        // 3 outputs: one full pair and a half block; keep everything.
        let spec = try Conv2DSpec(inChannels: 2, outChannels: 3, inputSize: 4, kernelSize: 1)
        let weight = try Tensor(shape: spec.weightShape, repeating: 1)
        let conv = try Conv2D(spec: spec, weight: weight, mask: .dense(spec: spec, granularity: .block1x2))
        #expect(conv.storedWeights == 6)
    }
}
