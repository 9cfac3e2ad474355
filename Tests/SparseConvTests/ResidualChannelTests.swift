import Testing
@testable import SparseConv

/// Channel pruning across residual adds: the convolutions meeting at adds
/// remove the same channels, so the adds' channels die and can be removed.
@Suite struct ResidualChannelTests {
    @Test func resnetStagesFormClosedGroups() throws {
        let model = try Zoo.resnet50.model(seed: 1, inputSize: 64)
        let groups = model.residualChannelGroups()
        // One group per stage; every stage's first block has a downsample convolution.
        #expect(groups.count == 4)
        #expect(groups.allSatisfy { $0.closed })
        let stage1 = try #require(groups.first { $0.convolutions.contains("layer1.0.downsample.0") })
        #expect(Set(stage1.convolutions) == ["layer1.0.conv3", "layer1.0.downsample.0", "layer1.1.conv3", "layer1.2.conv3"])
        // ResNet-18's first stage adds the max-pooled stem: its group holds the stem
        // convolution, which pruning keeps dense by default, so that stage is left alone.
        let resnet18 = try Zoo.resnet18.model(seed: 1, inputSize: 64)
        let stem = try #require(resnet18.residualChannelGroups().first { $0.convolutions.contains("layer1.0.conv2") })
        #expect(stem.convolutions == ["conv1", "layer1.0.conv2", "layer1.1.conv2"])
        let (_, masks) = try resnet18.pruned(PruningOptions(granularity: .channel, sparsity: 0.5))
        #expect(masks["conv1"] == nil)
        #expect(masks["layer1.0.conv2"]!.removedFilters != masks["layer1.1.conv2"]!.removedFilters)
    }

    @Test(arguments: [PruningOptions.Scope.layer, .global])
    func membersRemoveTheSameChannelsAndTheAddsThin(scope: PruningOptions.Scope) throws {
        let model = try Zoo.resnet50.model(seed: 2, inputSize: 64)
        // He-initialized 1×1 convolutions have the largest weights, so the global threshold
        // reaches the residual groups only at high sparsity.
        let target = scope == .layer ? 0.5 : 0.8
        let (pruned, masks) = try model.pruned(PruningOptions(granularity: .channel, sparsity: target, scope: scope))
        var removedInGroups = 0
        for group in model.residualChannelGroups() where group.closed {
            let removed = group.convolutions.map { masks[$0]!.removedFilters }
            #expect(Set(removed).count == 1, "\(group.convolutions)")
            // Per layer every member removes half its filters; globally the shared ranking decides.
            if scope == .layer { #expect(removed[0].count == masks[group.convolutions[0]]!.spec.outChannels / 2) }
            removedInGroups += removed[0].count
        }
        #expect(removedInGroups > 0)
        let kept = masks.values.reduce(0) { $0 + $1.keptWeights }, all = masks.values.reduce(0) { $0 + $1.spec.weightCount }
        #expect(abs(1 - Double(kept) / Double(all) - target) < 0.01)
        // The stage outputs are now exactly zero in those channels: thinning removes them
        // through the adds, and the thinned model computes the same function.
        let thinned = try pruned.removingZeroChannels()
        let stage1 = masks["layer1.0.conv3"]!.removedFilters.count
        #expect(thinned.model.shapes["layer1.2.add"]?[0] == 256 - stage1)
        #expect(thinned.removedChannels.count > 0)
        let input = try Tensor.random(shape: [1] + model.inputShape, seed: 3)
        let a = try Planner(threads: 2).plan(pruned).run(input)
        let b = try Planner(threads: 2).plan(thinned.model).run(input)
        #expect(try b.normalizedError(to: a) <= 1e-4)
        #expect(thinned.model.parameterCount < pruned.parameterCount)
    }
}
