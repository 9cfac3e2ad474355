import Testing
@testable import SparseConv

/// The named edge cases of the foundation issue, shared by every path's tests.
enum EdgeCases {
    static let base = ConvolutionTester()

    /// (name, case) pairs valid for a general (dense) convolution.
    static let general: [(String, ConvolutionTester)] = [
        ("1x1", base.channels(8).kernel(1).input(7)),
        ("1x1 odd channels", base.inChannels(13).outChannels(19).kernel(1).input(5, 9)),
        ("3x3", base.channels(16).kernel(3).padding(1).input(12)),
        ("5x5", base.inChannels(6).outChannels(10).kernel(5).padding(2).input(11)),
        ("7x7", base.inChannels(3).outChannels(8).kernel(7).padding(3).stride(2).input(17)),
        ("11x11 stride 4", base.inChannels(3).outChannels(12).kernel(11).stride(4).input(35)),
        ("stride 2", base.channels(12).kernel(3).stride(2).padding(1).input(15)),
        ("asymmetric padding", base.inChannels(5).outChannels(7).kernel(3).padding(Padding(top: 0, left: 2, bottom: 1, right: 0)).input(9, 10)),
        ("rectangular kernel", base.channels(6).kernel(1, 5).padding(Padding(top: 0, left: 2, bottom: 0, right: 2)).input(6, 11)),
        ("dilation 2", base.channels(8).kernel(3).padding(2).dilation(2).input(13)),
        ("dilation 4", base.channels(8).kernel(3).padding(4).dilation(4).input(16)),
        ("groups 2", base.inChannels(8).outChannels(12).groups(2).kernel(3).padding(1).input(9)),
        ("groups 32", base.channels(64).groups(32).kernel(3).padding(1).input(10)),
        ("depthwise", base.channels(16).groups(16).kernel(3).padding(1).input(11)),
        ("tiny 1x1 input", base.channels(8).kernel(3).padding(1).input(1)),
        ("tiny 2x3 input", base.inChannels(5).outChannels(9).kernel(3).padding(1).input(2, 3)),
        ("7x7 input", base.channels(17).kernel(3).padding(1).input(7)),
        ("channels off the vector width", base.inChannels(19).outChannels(23).kernel(3).padding(1).input(10)),
        ("batch 3", base.channels(8).kernel(3).padding(1).input(9).batch(3)),
        ("no bias", base.channels(8).kernel(3).padding(1).input(9).bias(false)),
        ("relu", base.channels(8).kernel(3).padding(1).input(9).activation(.relu)),
        ("relu6", base.channels(8).kernel(3).padding(1).input(9).activation(.relu6)),
        ("wide output", base.inChannels(4).outChannels(40).kernel(3).padding(1).input(5, 70)),
        ("large K", base.inChannels(160).outChannels(20).kernel(3).padding(1).input(6)),
        // deeper than the direct engine takes: the GEMM's channel vectors
        ("deep 3x3", base.inChannels(40).outChannels(48).kernel(3).padding(1).input(9, 11)),
        ("1x1 small image, many filters", base.inChannels(24).outChannels(48).kernel(1).input(9, 11)),
        ("deep stride 2, odd filters", base.inChannels(36).outChannels(47).kernel(3).stride(2).padding(1).input(13).activation(.relu6)),
    ]

    /// A seeded random sweep over the whole feature set.
    static func randomCases(count: Int, seed: UInt64, maxGroups: Int = 4) -> [ConvolutionTester] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { index in
            let groups = [1, 1, 2, maxGroups].randomElement(using: &g)!
            let k = (Int.random(in: 1...5, using: &g), Int.random(in: 1...5, using: &g))
            let d = (Int.random(in: 1...2, using: &g), Int.random(in: 1...2, using: &g))
            let minH = d.0 * (k.0 - 1) + 1, minW = d.1 * (k.1 - 1) + 1
            return base
                .inChannels(groups * Int.random(in: 1...9, using: &g))
                .outChannels(groups * Int.random(in: 1...9, using: &g))
                .groups(groups)
                .kernel(k.0, k.1)
                .dilation(d.0, d.1)
                .stride(Int.random(in: 1...3, using: &g), Int.random(in: 1...3, using: &g))
                .padding(Padding(top: Int.random(in: 0...2, using: &g), left: Int.random(in: 0...2, using: &g),
                                 bottom: Int.random(in: 0...2, using: &g), right: Int.random(in: 0...2, using: &g)))
                .input(Int.random(in: minH...(minH + 12), using: &g), Int.random(in: minW...(minW + 12), using: &g))
                .batch(Int.random(in: 1...2, using: &g))
                .bias(Bool.random(using: &g))
                .activation(Activation.allCases.randomElement(using: &g)!)
                .seed(seed &* 1000 &+ UInt64(index))
        }
    }
}

@Suite struct DensePathTests {
    @Test(arguments: EdgeCases.general.map(\.0))
    func denseEdgeCase(name: String) throws {
        let tester = EdgeCases.general.first { $0.0 == name }!.1
        try tester.test(.dense)
    }

    @Test(arguments: EdgeCases.general.filter { (try? $0.1.spec().groups) ?? 1 > 1 }.map(\.0))
    func groupedEdgeCase(name: String) throws {
        try EdgeCases.general.first { $0.0 == name }!.1.test(.grouped)
    }

    @Test(arguments: 0..<3)
    func denseRandomSweep(part: Int) throws {
        for tester in EdgeCases.randomCases(count: 16, seed: UInt64(10 + part)) { try tester.test(.dense) }
    }

    @Test func groupedRandomSweep() throws {
        for tester in EdgeCases.randomCases(count: 24, seed: 20, maxGroups: 8) where tester.groups > 1 {
            try tester.test(.grouped)
        }
    }

    /// The channel-vector GEMM's units (a tile of filters, a block of
    /// pixels) shared out among 2, 3 and 5 threads, whose shares start and end
    /// inside an image's or a group's run and which take each other's last
    /// units (AVX2); more than one block of pixels in the second case.
    @Test func channelVectorUnitsSharedOutAmongThreads() throws {
        try EdgeCases.base.inChannels(32).outChannels(96).groups(2).kernel(3).padding(1).input(10).batch(3)
            .threads([2, 3, 5]).test(.dense)
        try EdgeCases.base.inChannels(16).outChannels(80).kernel(3).padding(1).input(21, 19).batch(2)
            .activation(.relu).threads([2, 3]).test(.dense)
    }

    @Test func groupedResNeXtAndAlexNetShapes() throws {
        try EdgeCases.base.channels(128).groups(32).kernel(3).padding(1).input(14).test(.grouped)
        try EdgeCases.base.channels(96).groups(2).kernel(3).padding(1).input(13).test(.grouped)
        try EdgeCases.base.inChannels(64).outChannels(128).groups(8).kernel(1).input(9).test(.grouped)
    }
}

@Suite struct DepthwisePathTests {
    static let cases: [(String, ConvolutionTester)] = [
        ("3x3", EdgeCases.base.channels(16).groups(16).kernel(3).padding(1).input(12)),
        ("3x3 stride 2", EdgeCases.base.channels(24).groups(24).kernel(3).padding(1).stride(2).input(15)),
        ("5x5", EdgeCases.base.channels(8).groups(8).kernel(5).padding(2).input(13)),
        ("5x5 stride 2 asymmetric", EdgeCases.base.channels(8).groups(8).kernel(5).stride(2).padding(Padding(top: 1, left: 2, bottom: 2, right: 1)).input(14)),
        ("7x7", EdgeCases.base.channels(5).groups(5).kernel(7).padding(3).input(9)),
        ("dilation 2", EdgeCases.base.channels(8).groups(8).kernel(3).padding(2).dilation(2).input(10)),
        ("dilation 4", EdgeCases.base.channels(8).groups(8).kernel(3).padding(4).dilation(4).input(17)),
        ("1x1", EdgeCases.base.channels(9).groups(9).kernel(1).input(6)),
        ("tiny 1x1 input", EdgeCases.base.channels(16).groups(16).kernel(3).padding(1).input(1)),
        ("tiny 2x3 input", EdgeCases.base.channels(16).groups(16).kernel(3).padding(1).input(2, 3)),
        ("wide rows", EdgeCases.base.channels(3).groups(3).kernel(3).padding(1).input(4, 67)),
        ("no padding", EdgeCases.base.channels(32).groups(32).kernel(3).input(7)),
        ("batch 3", EdgeCases.base.channels(12).groups(12).kernel(3).padding(1).input(8).batch(3)),
        ("no bias", EdgeCases.base.channels(12).groups(12).kernel(3).padding(1).input(8).bias(false)),
        ("relu6", EdgeCases.base.channels(12).groups(12).kernel(3).padding(1).input(8).activation(.relu6)),
        ("relu", EdgeCases.base.channels(12).groups(12).kernel(3).padding(1).input(8).activation(.relu)),
        ("rectangular 3x1 stride 1x2", EdgeCases.base.channels(6).groups(6).kernel(3, 1).stride(1, 2).padding(Padding(top: 1, left: 0, bottom: 1, right: 0)).input(9, 11)),
    ]

    @Test(arguments: cases.map(\.0))
    func depthwiseCase(name: String) throws {
        try Self.cases.first { $0.0 == name }!.1.test(.depthwise)
    }

    @Test func depthwiseAlsoRunsOnTheGeneralPaths() throws {
        try Self.cases[1].1.test(.dense)
        try Self.cases[1].1.test(.grouped)
    }
}
