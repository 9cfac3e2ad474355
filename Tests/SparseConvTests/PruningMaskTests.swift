import Testing
@testable import SparseConv

@Suite struct PruningMaskTests {
    static let spec = try! Conv2DSpec(inChannels: 6, outChannels: 10, inputSize: 8, kernelSize: 3, padding: 1, groups: 2)

    @Test(arguments: Granularity.allCases, [0.0, 0.3, 0.5, 0.75, 0.9, 0.97, 1.0])
    func magnitudeHitsRequestedSparsity(granularity: Granularity, sparsity: Double) throws {
        let weight = try Tensor.random(shape: Self.spec.weightShape, seed: 3)
        let mask = try PruningMask.magnitude(weight: weight, spec: Self.spec, granularity: granularity, sparsity: sparsity)
        // Documented rounding: removed weights within half a unit of the target.
        let units = PruningUnits(spec: Self.spec, granularity: granularity).all
        let largest = units.map(\.count).max()!
        let target = sparsity * Double(Self.spec.weightCount)
        #expect(abs(Double(mask.prunedWeights) - target) <= Double(largest) / 2 + 1e-9, "\(granularity) \(sparsity)")
        if sparsity == 0 { #expect(mask.prunedWeights == 0) }
        if sparsity == 1 { #expect(mask.keptWeights == 0) }
        // The mask is valid at its granularity, and detection recovers it.
        #expect(throws: Never.self) { try PruningMask(spec: Self.spec, granularity: granularity, keep: mask.keep) }
        if sparsity > 0, sparsity < 1 {
            let detected = try PruningMask.detect(weight: try mask.apply(to: weight), spec: Self.spec)
            #expect(detected?.granularity == granularity)
            #expect(detected?.keep == mask.keep)
        }
    }

    @Test func magnitudeRemovesTheSmallestUnits() throws {
        let spec = try Conv2DSpec(inChannels: 1, outChannels: 4, inputSize: 3, kernelSize: 1)
        let weight = try Tensor(shape: spec.weightShape, scalars: [0.5, -0.1, 2, -0.3])
        let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: 0.5)
        #expect(mask.keep == [true, false, true, false])
        // Block 1×2 ranks pairs by their mean: (0.5, 0.1) → 0.3, (2, 0.3) → 1.15.
        let block = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .block1x2, sparsity: 0.5)
        #expect(block.keep == [false, false, true, true])
        // L2 ranks by root mean square.
        let l2 = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: 0.25, norm: .l2)
        #expect(l2.keep == [true, false, true, true])
    }

    @Test func tiesBreakByUnitOrder() throws {
        let spec = try Conv2DSpec(inChannels: 2, outChannels: 3, inputSize: 3, kernelSize: 1)
        let weight = try Tensor(shape: spec.weightShape, repeating: 1)
        let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: 0.5)
        #expect(mask.keep == [false, false, false, true, true, true])
        let again = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: 0.5)
        #expect(again == mask)
    }

    @Test func nanWeightsArePrunedLast() throws {
        let spec = try Conv2DSpec(inChannels: 1, outChannels: 4, inputSize: 3, kernelSize: 1)
        let weight = try Tensor(shape: spec.weightShape, scalars: [.nan, 0.1, 5, 0.2])
        let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: 0.75)
        #expect(mask.keep == [true, false, false, false])
    }

    @Test func halfBlocksAreUnitsOfOneWeight() throws {
        // 3 outputs per group: pair (0,1) and half block (2) in each group.
        let spec = try Conv2DSpec(inChannels: 2, outChannels: 6, inputSize: 3, kernelSize: 1, groups: 2)
        let units = PruningUnits(spec: spec, granularity: .block1x2).all
        #expect(units == [[0, 1], [2], [3, 4], [5]])
        // Weight layout: o*1 + 0 (one input channel per group, 1×1).
        #expect(units.map(\.count).reduce(0, +) == spec.weightCount)
    }

    @Test func invalidMasksThrow() throws {
        let spec = try Conv2DSpec(inChannels: 2, outChannels: 4, inputSize: 4, kernelSize: 3)
        var keep = [Bool](repeating: true, count: spec.weightCount)
        keep[0] = false  // one weight of a kernel, a block and a filter
        #expect(throws: Never.self) { try PruningMask(spec: spec, granularity: .element, keep: keep) }
        for granularity in [Granularity.block1x2, .kernel, .channel] {
            #expect(throws: SparseConvError.self) { try PruningMask(spec: spec, granularity: granularity, keep: keep) }
        }
        #expect(throws: SparseConvError.self) { try PruningMask(spec: spec, granularity: .element, keep: [true]) }
        let weight = try Tensor(shape: spec.weightShape)
        for bad in [-0.1, 1.5, Double.nan] {
            #expect(throws: SparseConvError.self) {
                try PruningMask.magnitude(weight: weight, spec: spec, granularity: .element, sparsity: bad)
            }
        }
        #expect(throws: SparseConvError.self) {
            try PruningMask.magnitude(weight: Tensor(shape: [1, 2, 3, 3]), spec: spec, granularity: .element, sparsity: 0.5)
        }
    }

    @Test func detectionPrefersTheMostRegularGranularity() throws {
        let spec = try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 5, kernelSize: 3)
        let dense = try Tensor.random(shape: spec.weightShape, seed: 9)
        #expect(try PruningMask.detect(weight: dense, spec: spec) == nil)
        // Zero one whole filter: channel, even though it also fits every finer granularity.
        var w = dense
        for i in 0..<36 { w[flat: 36 + i] = 0 }
        #expect(try PruningMask.detect(weight: w, spec: spec)?.granularity == .channel)
        // Plus one whole kernel: kernel.
        for i in 0..<9 { w[flat: i] = 0 }
        #expect(try PruningMask.detect(weight: w, spec: spec)?.granularity == .kernel)
        // Plus a stray zero: element.
        w[flat: 100] = 0
        #expect(try PruningMask.detect(weight: w, spec: spec)?.granularity == .element)
    }
}
