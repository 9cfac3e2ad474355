import Testing
@testable import SparseConv

@Suite struct ZooTests {
    /// Parameter counts (torchvision's convention). VGG-16, ResNet-18/50 and
    /// MobileNet v2 are torchvision's own figures; the rest are documented in `Zoo`.
    static let expectedParameters: [Zoo: Int] = [
        .lenet5: 61_706,
        .alexnet: 60_209_960,
        .vgg16: 138_357_544,
        .resnet18: 11_689_512,
        .resnet50: 25_557_032,
        .mobilenetV1: 4_231_976,
        .mobilenetV2: 3_504_872,
        .shufflenetV1: 1_865_728,
        .seResNetBlock: 74_564,
        .cifarDilated: 113_482,
        .cifarLargeKernel: 637_770,
        .cifarCascade: 335_434,
    ]

    /// The large models several tests inspect, built once (tens of millions of
    /// weights each) and shared; seed 1 and the default input.
    static let shared: [Zoo: Result<Model, any Error>] = Dictionary(uniqueKeysWithValues:
        [Zoo.alexnet, .resnet18, .resnet50].map { zoo in (zoo, Result { try zoo.model() }) })

    static func model(_ zoo: Zoo) throws -> Model {
        try shared[zoo]?.get() ?? zoo.model()
    }

    static func outputShape(_ zoo: Zoo) -> [Int] {
        switch zoo {
        case .lenet5, .cifarDilated, .cifarLargeKernel, .cifarCascade: return [10]
        case .seResNetBlock: return [64, 56, 56]
        default: return [1000]
        }
    }

    static func convolutions(_ model: Model) -> [(name: String, layer: ConvolutionLayer)] {
        model.nodes.compactMap { node in
            if case .convolution(let layer) = node.operation { return (node.name, layer) }
            return nil
        }
    }

    /// VGG-16 allocates 550 MB of weights, so it is built once, in its own test.
    @Test(arguments: Zoo.allCases.filter { $0 != .vgg16 })
    func buildsWithItsParameterCountAndOutput(zoo: Zoo) throws {
        let model = try Self.model(zoo)
        #expect(model.name == zoo.rawValue)
        #expect(model.inputShape == zoo.defaultInputShape)
        #expect(model.shapes[model.outputName] == Self.outputShape(zoo))
        #expect(model.parameterCount == Self.expectedParameters[zoo], "\(zoo): \(model.parameterCount)")
    }

    @Test func vgg16MatchesTorchvision() throws {
        let model = try Zoo.vgg16.model()
        #expect(model.parameterCount == 138_357_544)
        #expect(model.shapes[model.outputName] == [1000])
        #expect(model.shapes["features.30"] == [512, 7, 7])
        // At 224 torchvision's adaptive pool is the identity and is left out.
        #expect(model.node(named: "avgpool") == nil)
        #expect(Self.convolutions(model).count == 13)
        // The weights are He-initialized: fc1's spread matches sqrt(2 / 25088).
        guard case .fullyConnected(let fc1) = model.node(named: "classifier.0")?.operation else {
            Issue.record("classifier.0 is not fully connected"); return
        }
        #expect(fc1.weight.shape == [4096, 25088])
        // A million samples pin the spread to well under 1%; all 102 M would be slow unoptimized.
        let std = fc1.weight.withUnsafeBufferPointer { buffer in
            let sample = buffer.prefix(1 << 20)
            return (sample.reduce(0) { $0 + Double($1) * Double($1) } / Double(sample.count)).squareRoot()
        }
        #expect(abs(std / (2.0 / 25088).squareRoot() - 1) < 0.01)
    }

    @Test func sameSeedSameModelDifferentSeedDifferent() throws {
        for zoo in [Zoo.lenet5, .mobilenetV2, .shufflenetV1, .seResNetBlock, .cifarLargeKernel] {
            let a = try zoo.model(seed: 5), b = try zoo.model(seed: 5), c = try zoo.model(seed: 6)
            #expect(a.nodes == b.nodes, "\(zoo)")
            #expect(a.nodes.map(\.name) == c.nodes.map(\.name))
            // Every layer with weights differs under another seed.
            for (x, y) in zip(a.nodes, c.nodes) {
                switch (x.operation, y.operation) {
                case (.convolution(let p), .convolution(let q)): #expect(p.weight != q.weight, "\(zoo) \(x.name)")
                case (.fullyConnected(let p), .fullyConnected(let q)): #expect(p.weight != q.weight, "\(zoo) \(x.name)")
                case (.batchNorm(let p), .batchNorm(let q)): #expect(p != q, "\(zoo) \(x.name)")
                default: #expect(x.operation == y.operation)
                }
            }
        }
        // The input size changes shapes, never weights.
        let small = try Zoo.mobilenetV2.model(seed: 5, inputSize: 96)
        #expect(small.nodes == (try Zoo.mobilenetV2.model(seed: 5)).nodes)
    }

    @Test func batchNormStatisticsAreRandomButSane() throws {
        let model = try Self.model(.resnet18)
        var count = 0
        for node in model.nodes {
            guard case .batchNorm(let bn) = node.operation else { continue }
            count += 1
            #expect(bn.scale.allSatisfy { (0.9...1.1).contains($0) })
            #expect(bn.variance.allSatisfy { (0.9...1.1).contains($0) })
            #expect(bn.shift.allSatisfy { abs($0) <= 0.1 } && bn.mean.allSatisfy { abs($0) <= 0.1 })
            // Not the identity: folding must change the convolution.
            #expect(Set(bn.scale).count > bn.channels / 2 && bn.mean.contains { $0 != 0 })
        }
        #expect(count == 20)
    }

    @Test func heNormalHasTheRightSpread() throws {
        var generator = SeededGenerator(seed: 11)
        let fanIn = 576
        let t = try ModelBuilder.heNormal(shape: [64, 64, 3, 3], fanIn: fanIn, using: &generator)
        let values = t.scalars.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        let expected = (2.0 / Double(fanIn)).squareRoot()
        #expect(abs(mean) < 0.02 * expected)
        #expect(abs(std / expected - 1) < 0.02)
        // Normal, not uniform: about 68% within one standard deviation, some beyond three.
        let within = values.filter { abs($0) < expected }.count
        #expect(abs(Double(within) / Double(values.count) - 0.6827) < 0.01)
        #expect(values.contains { abs($0) > 3 * expected })
        #expect(values.allSatisfy { $0.isFinite })
        // An odd count fills the last element too.
        var g2 = SeededGenerator(seed: 1)
        let odd = try ModelBuilder.heNormal(shape: [3, 3, 1, 1], fanIn: 9, using: &g2)
        #expect(odd.scalars.allSatisfy { $0 != 0 })
    }

    @Test func architecturesHaveTheirDefiningShapes() throws {
        let resnet50 = try Self.model(.resnet50)
        let convs = Self.convolutions(resnet50)
        #expect(convs.count == 53)  // 1 + 16 blocks × 3 + 4 downsamples
        #expect(resnet50.shapes["layer4.2.relu"] == [2048, 7, 7])
        #expect(resnet50.shapes["maxpool"] == [64, 56, 56])
        // v1.5: the stride sits on the 3×3 convolution.
        let conv2 = convs.first { $0.name == "layer2.0.conv2" }!.layer
        let conv1 = convs.first { $0.name == "layer2.0.conv1" }!.layer
        #expect(conv2.stride == (2, 2) && conv1.stride == (1, 1))
        #expect(convs.allSatisfy { $0.layer.bias == nil })

        let alexnet = try Self.model(.alexnet)
        let grouped = Self.convolutions(alexnet).filter { $0.layer.groups == 2 }.map(\.name)
        #expect(grouped == ["features.3", "features.8", "features.10"])
        #expect(alexnet.shapes["features.0"] == [64, 55, 55])
        #expect(alexnet.shapes["features.12"] == [256, 6, 6])

        let mobilenetV1 = try Zoo.mobilenetV1.model()
        #expect(Self.convolutions(mobilenetV1).count == 27)
        #expect(Self.convolutions(mobilenetV1).filter { $0.layer.groups > 1 }.count == 13)
        #expect(mobilenetV1.shapes["block13.pw.relu"] == [1024, 7, 7])

        let mobilenetV2 = try Zoo.mobilenetV2.model()
        #expect(Self.convolutions(mobilenetV2).count == 52)
        #expect(mobilenetV2.nodes.filter { $0.operation == .add }.count == 10)
        #expect(mobilenetV2.nodes.filter { $0.operation == .relu6 }.count == 35)
        #expect(mobilenetV2.shapes["features.18.2"] == [1280, 7, 7])

        let shufflenet = try Zoo.shufflenetV1.model()
        #expect(shufflenet.shapes["stage2.3.relu"] == [240, 28, 28])
        #expect(shufflenet.shapes["stage3.7.relu"] == [480, 14, 14])
        #expect(shufflenet.shapes["stage4.3.relu"] == [960, 7, 7])
        #expect(shufflenet.nodes.filter { $0.operation == .channelShuffle(groups: 3) }.count == 16)
        #expect(shufflenet.nodes.filter { $0.operation == .concat }.count == 3)
        let ungrouped = Self.convolutions(shufflenet).filter { $0.layer.groups == 1 && $0.layer.kernelSize == (1, 1) }
        #expect(ungrouped.map(\.name) == ["stage2.0.gconv1"])

        let se = try Zoo.seResNetBlock.model()
        #expect(se.shapes["se.fc1"] == [4])
        #expect(se.shapes["se.sigmoid"] == [64])
        #expect(se.node(named: "se.scale")?.inputs == ["bn2", "se.sigmoid"])

        for (zoo, kernels, dilations) in [(Zoo.cifarDilated, [3, 3, 3, 3], [1, 2, 4, 8]),
                                          (.cifarLargeKernel, [3, 5, 7, 9], [1, 1, 1, 1]),
                                          (.cifarCascade, [Int](repeating: 3, count: 10), [Int](repeating: 1, count: 10))] {
            let model = try zoo.model()
            let layers = Self.convolutions(model).map(\.layer)
            #expect(layers.map(\.kernelSize.height) == kernels)
            #expect(layers.map(\.dilation.height) == dilations)
            #expect(layers.allSatisfy { $0.outChannels == 64 })
            for index in layers.indices { #expect(model.shapes["conv\(index + 1)"] == [64, 32, 32]) }
        }
    }

    @Test func inputSizesWhereTheClassifierFits() throws {
        let resnet = try Zoo.resnet50.model(inputSize: 128)
        #expect(resnet.inputShape == [3, 128, 128])
        #expect(resnet.shapes["layer4.2.relu"] == [2048, 4, 4])
        #expect(resnet.shapes[resnet.outputName] == [1000])
        for (zoo, size) in [(Zoo.resnet18, 97), (.mobilenetV1, 160), (.mobilenetV2, 96), (.shufflenetV1, 64),
                            (.seResNetBlock, 14), (.cifarDilated, 64), (.cifarLargeKernel, 8), (.cifarCascade, 1)] {
            let model = try zoo.model(inputSize: size)
            #expect(model.inputShape == [zoo.defaultInputShape[0], size, size])
            #expect(model.shapes[model.outputName]?.first == Self.outputShape(zoo).first, "\(zoo) at \(size)")
        }
        // AlexNet at twice the feature map: torchvision's adaptive pool is a 2×2 average pool.
        let alexnet = try Zoo.alexnet.model(inputSize: 416)
        #expect(alexnet.shapes["features.12"] == [256, 12, 12])
        #expect(alexnet.shapes["avgpool"] == [256, 6, 6])
        #expect(alexnet.parameterCount == Self.expectedParameters[.alexnet])

        // Rejected before any classifier weights are allocated, with the reason.
        for (zoo, size) in [(Zoo.vgg16, 200), (.vgg16, 300), (.alexnet, 224 + 32), (.lenet5, 28), (.resnet18, 0),
                            (.cifarCascade, -3), (.resnet50, 100_000)] {
            #expect(throws: SparseConvError.self, "\(zoo) at \(size)") { try zoo.model(inputSize: size) }
        }
        do {
            _ = try Zoo.vgg16.model(inputSize: 64)
            Issue.record("vgg16 at 64 should throw")
        } catch SparseConvError.invalidArgument(let message) {
            #expect(message.contains("multiple of 7"))
        }
    }

    @Test func builderReportsMistakesAtTheLayer() throws {
        var b = ModelBuilder(name: "t", inputShape: [6, 8, 8], seed: 1)
        try b.conv("c1", out: 4, kernel: 3, padding: 1, groups: 2)
        #expect(b.currentShape == [4, 8, 8])
        #expect(throws: SparseConvError.self) { try b.conv("c1", out: 4, kernel: 1) }  // duplicate
        #expect(throws: SparseConvError.self) { try b.conv("c2", out: 4, kernel: 1, groups: 3) }
        #expect(throws: SparseConvError.self) { try b.conv("c3", out: 4, kernel: 9) }  // larger than the input
        #expect(throws: SparseConvError.self) { try b.relu("r", from: "nowhere") }
        #expect(throws: SparseConvError.self) { try b.add("a", "c1", Model.inputName) }  // 4 vs 6 channels
        #expect(throws: SparseConvError.self) { try b.squeezeExcitation("se", reduction: 0) }
        // Failed calls add nothing; the builder goes on from the last good node.
        #expect(b.nodes.map(\.name) == ["c1"] && b.current == "c1")
        try b.batchNorm("bn")
        try b.relu("relu")
        try b.conv("c4", out: 4, kernel: 1, bias: true, from: "c1")
        try b.add("sum", "relu", "c4")
        try b.flatten("flat")
        try b.fullyConnected("fc", out: 3)
        try b.softmax("softmax")
        let model = try b.build()
        #expect(model.outputName == "softmax" && model.shapes["softmax"] == [3])
        #expect(model.parameterCount == 6 * 4 * 9 / 2 + 2 * 4 + 4 * 4 + 4 + 256 * 3 + 3)
    }
}

extension ZooTests {
    /// The seeded weights give signals that neither vanish nor blow up: He
    /// initialization keeps the scale through plain layers, and residual adds
    /// grow it by about √2 each (batch norm's statistics are random, not
    /// measured, so it does not renormalize) — hundreds at ResNet-50's logits,
    /// harmless in float32. Small inputs keep the reference executor quick.
    @Test func activationsNeitherVanishNorExplode() throws {
        for (zoo, size) in [(Zoo.lenet5, 32), (.resnet18, 32), (.mobilenetV1, 32), (.mobilenetV2, 32), (.shufflenetV1, 32),
                            (.seResNetBlock, 8), (.cifarDilated, 16), (.cifarLargeKernel, 16), (.cifarCascade, 16)] {
            let model = try zoo.model(seed: 2, inputSize: size)
            let input = try Tensor.random(shape: [1] + model.inputShape, seed: 9)
            let output = try ReferenceExecutor.run(model, input: input).scalars
            let mean = output.reduce(0, +) / Float(output.count)
            let spread = (output.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(output.count)).squareRoot()
            #expect(output.allSatisfy { $0.isFinite && abs($0) < 10_000 }, "\(zoo)")
            #expect(spread > 0.01, "\(zoo): outputs barely differ (spread \(spread))")
        }
    }
}
