import Foundation
import Testing
@testable import SparseConv

/// `sparse-prune`'s library side: pruning whole models at every granularity
/// and scope, channel removal, reports, sensitivity and the command-line checks.
@Suite struct SparsePruneTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx")

    /// Small models: zoo entries at small inputs and the ONNX fixtures.
    // ResNet-18 (11 M weights) is left to the channel tests: element units of
    // every weight at both scopes would dominate the suite's time.
    static let modelNames = ["zoo:cifarCascade", "zoo:mobilenetV2", "zoo:shufflenetV1", "zoo:seResNetBlock",
                             "resnet_tiny", "mobilenet_tiny", "se_block", "shufflenet_tiny", "conv_variants", "bn_fold"]

    static func load(_ name: String) throws -> Model {
        if name.hasPrefix("zoo:"), let zoo = Zoo(rawValue: String(name.dropFirst(4))) {
            return try zoo.model(seed: 3, inputSize: zoo == .seResNetBlock ? 12 : 32)
        }
        return try Model(onnxFile: fixtures.appendingPathComponent("\(name).onnx").path)
    }

    static func convolutionNames(_ model: Model) -> [String] {
        model.nodes.compactMap { node in
            if case .convolution = node.operation { return node.name } else { return nil }
        }
    }

    static func weight(_ model: Model, _ name: String) -> Tensor? {
        guard let node = model.node(named: name), case .convolution(let conv) = node.operation else { return nil }
        return conv.weight
    }

    /// The largest unit of a granularity in a layer: the rounding rule keeps
    /// the removed count within half of it of the target.
    static func unitSize(_ spec: Conv2DSpec, _ granularity: Granularity) -> Int {
        switch granularity {
        case .element: return 1
        case .block1x2: return spec.outChannelsPerGroup > 1 ? 2 : 1
        case .kernel: return spec.kernelHeight * spec.kernelWidth
        case .channel: return spec.weightCount / spec.outChannels
        }
    }

    @Test(arguments: modelNames, PruningOptions.Scope.allCases)
    func everyGranularityReachesItsTargetAndRoundTrips(name: String, scope: PruningOptions.Scope) throws {
        let model = try Self.load(name)
        let probe = try model.probeInput()
        for granularity in Granularity.allCases {
            let options = PruningOptions(granularity: granularity, sparsity: 0.7, scope: scope)
            let result = try model.pruning(options)
            // Achieved sparsity: per layer (or over the pool, for global scope)
            // within half a unit of sparsity × weights (PruningMask.magnitude's rounding).
            var removed = 0, total = 0, largestUnit = 0
            for (layer, mask) in result.masks {
                let spec = mask.spec
                let unit = Self.unitSize(spec, granularity)
                if scope == .layer {
                    let target = 0.7 * Double(spec.weightCount)
                    #expect(abs(Double(mask.prunedWeights) - target) <= Double(unit) / 2 + 1e-9, "\(name) \(layer) \(granularity)")
                }
                removed += mask.prunedWeights; total += spec.weightCount; largestUnit = max(largestUnit, unit)
                // Zeros really are where the mask says.
                let w = try #require(Self.weight(result.zeroed, layer)).scalars
                #expect(mask.keep.indices.allSatisfy { mask.keep[$0] || w[$0] == 0 })
            }
            if scope == .global, granularity == .channel {
                // A channel of convolutions meeting at residual adds is one unit of the global ranking.
                for group in model.residualChannelGroups() where group.closed {
                    let size = group.convolutions.compactMap { result.masks[$0] }.reduce(0) { $0 + $1.spec.weightCount / $1.spec.outChannels }
                    largestUnit = max(largestUnit, size)
                }
            }
            if scope == .global, total > 0 {
                #expect(abs(Double(removed) - 0.7 * Double(total)) <= Double(largestUnit) / 2 + 1e-9, "\(name) \(granularity)")
            }
            // The written model loads back and computes what was written.
            let data = try result.output.onnxData()
            let back = try Model(onnxData: data)
            #expect(back.shapes[back.outputName] == result.output.shapes[result.output.outputName])
            let y = try result.output.evaluate(probe)
            #expect(try back.evaluate(probe).normalizedError(to: y) <= 1e-5, "\(name) \(granularity)")
            // Removal (channel) never changes the function of the zeroed model.
            if let removal = result.removal {
                #expect(try y.normalizedError(to: result.zeroed.evaluate(probe)) <= 1e-4, "\(name)")
                #expect(removal.model.parameterCount <= result.zeroed.parameterCount)
            }
        }
    }

    @Test(arguments: ["zoo:cifarCascade", "zoo:resnet18", "zoo:mobilenetV2", "resnet_tiny", "mobilenet_tiny"])
    func channelRemovalShrinksModelsWithoutChangingOutputs(name: String) throws {
        let model = try Self.load(name)
        let result = try model.pruning(PruningOptions(granularity: .channel, sparsity: 0.5))
        let removal = try #require(result.removal)
        #expect(removal.removedFilterCount > 0, "\(name): nothing removed")
        #expect(removal.model.parameterCount < result.zeroed.parameterCount)
        #expect(try result.output.onnxData().count < result.zeroed.onnxData().count)
        let probe = try model.probeInput(seed: 11)
        #expect(try removal.model.evaluate(probe).normalizedError(to: result.zeroed.evaluate(probe)) <= 1e-4)
        // Each removed conv output channel was a pruned (or dependent) zero channel.
        let dead = result.zeroed.provablyZeroChannels()
        for (node, channels) in removal.removedChannels { #expect(Set(channels).isSubset(of: dead[node] ?? [])) }
    }

    /// A residual add keeps a channel unless both branches drop it; a sigmoid
    /// turns a zero channel into 0.5, which nothing may drop.
    @Test func removalStopsAtAddsAndSigmoids() throws {
        var b = ModelBuilder(name: "deps", inputShape: [3, 8, 8], seed: 5)
        try b.conv("stem", out: 8, kernel: 3, padding: 1)
        try b.conv("a", out: 8, kernel: 3, padding: 1, from: "stem")
        try b.conv("b", out: 8, kernel: 1, from: "stem")
        try b.add("sum", "a", "b")
        try b.conv("c", out: 8, kernel: 1, from: "sum")
        try b.sigmoid("gate", from: "c")
        try b.conv("d", out: 4, kernel: 1, from: "gate")
        try b.globalAveragePool("pool", from: "d")
        let model = try b.build()
        func zeroing(_ model: Model, _ filters: [String: [Int]]) throws -> Model {
            var replacements: [String: LayerOperation] = [:]
            for (name, channels) in filters {
                guard case .convolution(var conv) = model.node(named: name)!.operation else { continue }
                let per = conv.weight.count / conv.outChannels
                conv.weight.withUnsafeMutableBufferPointer { w in for o in channels { for i in 0..<per { w[o * per + i] = 0 } } }
                replacements[name] = .convolution(conv)
            }
            return try model.replacing(replacements)
        }
        // Branches disagree: only channel 1 (zero in both) goes; c's zero channel 0 stays (sigmoid).
        let zeroed = try zeroing(model, ["a": [0, 1], "b": [1, 2], "c": [0]])
        let removal = try zeroed.removingZeroChannels()
        #expect(removal.removedChannels["sum"] == [1])
        #expect(removal.removedChannels["a"] == [1] && removal.removedChannels["b"] == [1])
        #expect(removal.removedChannels["c"] == nil)
        let probe = try model.probeInput()
        #expect(try removal.model.evaluate(probe).normalizedError(to: zeroed.evaluate(probe)) <= 1e-5)
        // Everything pruned: one channel is kept so no layer becomes empty.
        let all = try zeroing(model, ["stem": Array(0..<8)])
        let kept = try all.removingZeroChannels()
        #expect(kept.removedChannels["stem"]?.count == 7)
        #expect(try kept.model.evaluate(probe).normalizedError(to: all.evaluate(probe)) <= 1e-5)
    }

    /// A depthwise channel that reads a pruned filter goes with it, so
    /// MobileNet blocks thin down to the depthwise layer and past it.
    @Test func channelPruningFollowsDepthwiseLayers() throws {
        let model = try Zoo.mobilenetV2.model(seed: 2, inputSize: 32)
        let result = try model.pruning(PruningOptions(granularity: .channel, sparsity: 0.5))
        let removal = try #require(result.removal)
        let depthwise = model.nodes.filter { node in
            guard case .convolution(let c) = node.operation else { return false }
            return c.groups > 1 && c.weight.shape[1] == 1
        }.map(\.name)
        #expect(depthwise.contains { removal.removedChannels[$0] != nil })
    }

    @Test(arguments: Granularity.allCases)
    func excludedAndFirstLayersAreUntouched(granularity: Granularity) throws {
        let model = try Self.load("zoo:cifarCascade")
        let names = Self.convolutionNames(model)
        let excluded = names[3]
        let options = try PruneRequest.options(for: model, granularity: granularity, sparsity: 0.8, exclude: [excluded])
        let result = try model.pruning(options)
        for name in [names[0], excluded] {
            #expect(result.masks[name] == nil)
            #expect(Self.weight(result.zeroed, name) == Self.weight(model, name), "\(name)")
            // Output channels are never removed from a dense layer.
            #expect(Self.weight(result.output, name)?.shape[0] == Self.weight(model, name)?.shape[0])
        }
        let noKeep = try model.pruned(PruningOptions(granularity: granularity, sparsity: 0.8, keepFirst: false))
        #expect(noKeep.masks[names[0]] != nil)
    }

    @Test(arguments: Granularity.allCases)
    func pruningIsDeterministic(granularity: Granularity) throws {
        let model = try Self.load("zoo:mobilenetV2")
        let options = PruningOptions(granularity: granularity, sparsity: 0.6, scope: .global, pruneDepthwise: true)
        let a = try model.pruning(options).output.onnxData()
        let b = try Self.load("zoo:mobilenetV2").pruning(options).output.onnxData()
        #expect(a == b)
    }

    @Test func commandLineChecksRefuseBadRequests() throws {
        let model = try Self.load("zoo:cifarCascade")
        let names = Self.convolutionNames(model)
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 1.5) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: -0.1) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: .nan) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, minimumDensity: 2) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: ["nope=0.5"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: ["\(names[1])=1.2"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: ["\(names[1])"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: ["zz.*=0.5"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: ["(=0.5"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, exclude: ["nope"]) }
        #expect(throws: SparseConvError.self) { try PruneRequest.sparsities("0.5,abc") }
        // A regex selects every convolution whose whole name matches.
        let options = try PruneRequest.options(for: model, granularity: .element, sparsity: 0.5, layers: [".*=0.25", "\(names[2])=0.9"])
        #expect(options.overrides.count == names.count)
        #expect(options.overrides[names[2]] == 0.9 && options.overrides[names[0]] == 0.25)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-prune-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.onnx").path
        let output = directory.appendingPathComponent("out.onnx").path
        try model.writeONNX(to: input)
        try PruneRequest.checkOutput(output, input: input, force: false)
        #expect(throws: SparseConvError.self) { try PruneRequest.checkOutput(input, input: input, force: true) }
        #expect(throws: SparseConvError.self) { try PruneRequest.checkOutput(directory.path + "/./in.onnx", input: input, force: true) }
        try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: input)
        #expect(throws: SparseConvError.self) { try PruneRequest.checkOutput(output, input: input, force: true) }
        try FileManager.default.removeItem(atPath: output)
        try Data([1]).write(to: URL(fileURLWithPath: output))
        #expect(throws: SparseConvError.self) { try PruneRequest.checkOutput(output, input: input, force: false) }
        try PruneRequest.checkOutput(output, input: input, force: true)
        #expect(throws: SparseConvError.self) { try PruneRequest.checkOutput(directory.path, input: input, force: true) }
        // Malformed models throw, never crash.
        #expect(throws: SparseConvError.self) { try Model(onnxFile: Self.fixtures.appendingPathComponent("malformed/truncated.onnx").path) }
    }

    @Test func reportCountsAndSerializes() throws {
        let model = try Self.load("zoo:resnet18")
        let options = PruningOptions(granularity: .channel, sparsity: 0.5)
        let result = try model.pruning(options)
        let report = try PruningReport(result: result, options: options, probe: try model.probeInput(),
                                       fileBytesBefore: try model.onnxData().count, fileBytesAfter: try result.output.onnxData().count)
        #expect(report.layers.count == Self.convolutionNames(model).count)
        #expect(report.parametersAfter < report.parametersBefore && report.macsAfter < report.macsBefore)
        #expect(report.fileBytesAfter! < report.fileBytesBefore!)
        #expect(abs(report.achievedSparsity - 0.5) < 0.05)
        #expect(report.layers[0].granularity == "dense" && report.layers[0].outputError == 0)
        #expect(report.layers.contains { ($0.outputError ?? 0) > 0 })
        let decoded = try JSONDecoder().decode(PruningReport.self, from: try report.jsonData())
        #expect(decoded.layers.map(\.name) == report.layers.map(\.name))
        #expect(report.table.contains("total"))
    }

    @Test func sensitivityAndInspection() throws {
        let model = try Self.load("zoo:cifarCascade")
        let analysis = try SensitivityAnalysis(model: model, granularity: .kernel, sparsities: [0, 0.5, 0.9], probe: try model.probeInput())
        #expect(analysis.points.count == Self.convolutionNames(model).count * 3)
        #expect(analysis.points.filter { $0.sparsity == 0 }.allSatisfy { $0.error == 0 })
        #expect(analysis.points.filter { $0.sparsity == 0.9 }.allSatisfy { $0.error > 0 })
        #expect(analysis.csv.split(separator: "\n").count == analysis.points.count + 1)
        #expect(analysis.svg.hasPrefix("<svg") && analysis.svg.contains("polyline"))
        #expect(throws: SparseConvError.self) { try SensitivityAnalysis(model: model, granularity: .kernel, sparsities: [2], probe: try model.probeInput()) }

        let pruned = try Model(onnxFile: Self.fixtures.appendingPathComponent("pruned_channel.onnx").path)
        let inspection = try PruningInspection(model: pruned)
        #expect(inspection.layers.contains { $0.granularity == .channel })
        let written = try model.pruning(PruningOptions(granularity: .block1x2, sparsity: 0.9)).output
        let seen = try PruningInspection(model: try Model(onnxData: try written.onnxData()))
        #expect(seen.layers.dropFirst().allSatisfy { $0.granularity == .block1x2 && abs($0.sparsity - 0.9) < 0.01 })
    }
}
