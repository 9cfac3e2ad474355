import Testing
@testable import SparseConv

/// Builds one convolution case with chained setters, runs a path on every
/// instruction set this CPU has and on 1 and 2 threads (or the counts set),
/// and compares with the reference convolution.
///
/// The error measure is the normalized error: max |out - ref| / max |ref|,
/// required ≤ 1e-4.
struct ConvolutionTester {
    var inChannels = 4
    var outChannels = 4
    var inputSize = (height: 8, width: 8)
    var kernelSize = (height: 3, width: 3)
    var stride = (height: 1, width: 1)
    var padding = Padding.zero
    var dilation = (height: 1, width: 1)
    var groups = 1
    var batch = 1
    var hasBias = true
    var activation = Activation.none
    /// Fraction of weights zeroed, and the granularity of the zeroing.
    var sparsity = 0.0
    var granularity = ExecutionPath.element
    var seed: UInt64 = 1
    /// Thread counts each instruction set runs on.
    var threadCounts = [1, 2]

    static let tolerance: Float = 1e-4

    func inChannels(_ v: Int) -> Self { var c = self; c.inChannels = v; return c }
    func outChannels(_ v: Int) -> Self { var c = self; c.outChannels = v; return c }
    func channels(_ v: Int) -> Self { inChannels(v).outChannels(v) }
    func input(_ h: Int, _ w: Int) -> Self { var c = self; c.inputSize = (h, w); return c }
    func input(_ s: Int) -> Self { input(s, s) }
    func kernel(_ h: Int, _ w: Int) -> Self { var c = self; c.kernelSize = (h, w); return c }
    func kernel(_ k: Int) -> Self { kernel(k, k) }
    func stride(_ h: Int, _ w: Int) -> Self { var c = self; c.stride = (h, w); return c }
    func stride(_ s: Int) -> Self { stride(s, s) }
    func padding(_ p: Padding) -> Self { var c = self; c.padding = p; return c }
    func padding(_ p: Int) -> Self { padding(Padding(p)) }
    func dilation(_ h: Int, _ w: Int) -> Self { var c = self; c.dilation = (h, w); return c }
    func dilation(_ d: Int) -> Self { dilation(d, d) }
    func groups(_ g: Int) -> Self { var c = self; c.groups = g; return c }
    func batch(_ n: Int) -> Self { var c = self; c.batch = n; return c }
    func bias(_ b: Bool) -> Self { var c = self; c.hasBias = b; return c }
    func activation(_ a: Activation) -> Self { var c = self; c.activation = a; return c }
    func sparsity(_ s: Double, _ g: ExecutionPath) -> Self { var c = self; c.sparsity = s; c.granularity = g; return c }
    func seed(_ s: UInt64) -> Self { var c = self; c.seed = s; return c }
    func threads(_ counts: [Int]) -> Self { var c = self; c.threadCounts = counts; return c }

    func spec() throws -> Conv2DSpec {
        try Conv2DSpec(inChannels: inChannels, outChannels: outChannels, inputSize: inputSize, kernelSize: kernelSize,
                       stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    /// Weights with `sparsity` of them zeroed at `granularity` by a seeded random choice of units.
    func weights(for spec: Conv2DSpec) throws -> Tensor {
        var weight = try Tensor.random(shape: spec.weightShape, seed: seed &+ 100)
        guard sparsity > 0 else { return weight }
        let units = TestMasks.units(of: spec, granularity: granularity)
        let prunedCount = Int((sparsity * Double(units.count)).rounded())
        var generator = SeededGenerator(seed: seed &+ 200)
        let pruned = units.shuffled(using: &generator).prefix(prunedCount)
        weight.withUnsafeMutableBufferPointer { w in
            for unit in pruned { for index in unit { w[index] = 0 } }
        }
        return weight
    }

    /// Runs `path` on every supported ISA and on each of `threadCounts` (1 and 2
    /// unless set); records failures.
    func test(_ path: ExecutionPath, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let spec = try spec()
        let weight = try weights(for: spec)
        let bias: [Float]? = hasBias ? try Tensor.random(shape: [spec.outChannels], seed: seed &+ 300).scalars : nil
        let input = try Tensor.random(shape: spec.inputShape(batch: batch), seed: seed &+ 400)
        let expected = try Reference.conv2d(spec, input: input, weight: weight, bias: bias, activation: activation)
        for isa in InstructionSet.allCases where isa.isSupported {
            let conv = try Conv2D(spec: spec, weight: weight, bias: bias, activation: activation, path: path, instructionSet: isa)
            for threads in threadCounts {
                let output = try conv(input, threads: threads)
                let error = try output.normalizedError(to: expected)
                #expect(error <= Self.tolerance,
                        "\(path) \(isa) threads=\(threads) batch=\(batch) \(spec) sparsity=\(sparsity) \(granularity) bias=\(hasBias) \(activation): normalized error \(error)",
                        sourceLocation: sourceLocation)
            }
        }
    }
}

/// Units of each granularity as lists of OIHW flat weight indices, so tests
/// can zero weights without depending on the library's own mask code.
enum TestMasks {
    static func units(of spec: Conv2DSpec, granularity: ExecutionPath) -> [[Int]] {
        let cin = spec.inChannelsPerGroup, kh = spec.kernelHeight, kw = spec.kernelWidth
        let taps = kh * kw
        func index(_ o: Int, _ c: Int, _ t: Int) -> Int { (o * cin + c) * taps + t }
        switch granularity {
        case .channel:
            return (0..<spec.outChannels).map { o in (0..<(cin * taps)).map { o * cin * taps + $0 } }
        case .kernel:
            return (0..<spec.outChannels).flatMap { o in (0..<cin).map { c in (0..<taps).map { index(o, c, $0) } } }
        case .block1x2:
            var result: [[Int]] = []
            let perGroup = spec.outChannelsPerGroup
            for g in 0..<spec.groups {
                for pair in stride(from: 0, to: perGroup, by: 2) {
                    let o = g * perGroup + pair
                    for c in 0..<cin {
                        for t in 0..<taps {
                            result.append(pair + 1 < perGroup ? [index(o, c, t), index(o + 1, c, t)] : [index(o, c, t)])
                        }
                    }
                }
            }
            return result
        default:
            return (0..<spec.weightCount).map { [$0] }
        }
    }
}
