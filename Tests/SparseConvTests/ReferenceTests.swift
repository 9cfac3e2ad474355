import Testing
@testable import SparseConv

/// The oracle itself must be right: checked by hand and against an
/// independent Swift implementation.
@Suite struct ReferenceTests {
    @Test func handComputedSmallCase() throws {
        // 1 channel 3×3 input, 2×2 kernel, stride 1, no padding.
        let spec = try Conv2DSpec(inChannels: 1, outChannels: 1, inputSize: 3, kernelSize: 2)
        let input = try Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let weight = try Tensor(shape: [1, 1, 2, 2], scalars: [1, 0, 0, -1])
        let y = try Reference.conv2d(spec, input: input, weight: weight, bias: [0.5])
        #expect(y.shape == [1, 1, 2, 2])
        let expected: [Float] = [-3.5, -3.5, -3.5, -3.5]  // x[i] - x[i+4] + 0.5
        #expect(y.scalars == expected)
    }

    @Test func paddingStrideDilationByHand() throws {
        // 1×1 input padded by 1 on each side, 3×3 kernel of ones: the single output sees the input once.
        let spec = try Conv2DSpec(inChannels: 1, outChannels: 1, inputSize: 1, kernelSize: 3, padding: 1)
        let y = try Reference.conv2d(spec, input: Tensor(shape: [1, 1, 1, 1], scalars: [2]),
                                     weight: Tensor(shape: [1, 1, 3, 3], repeating: 1))
        #expect(y.scalars == [2])
        // Dilation 2 on a 5×5 ramp picks the corners and centre lines.
        let spec2 = try Conv2DSpec(inChannels: 1, outChannels: 1, inputSize: 5, kernelSize: 2, dilation: 2)
        let ramp = try Tensor(shape: [1, 1, 5, 5], scalars: (0..<25).map(Float.init))
        let y2 = try Reference.conv2d(spec2, input: ramp, weight: Tensor(shape: [1, 1, 2, 2], scalars: [1, 0, 0, 0]))
        #expect(y2.shape == [1, 1, 3, 3])
        #expect(y2.scalars == [0, 1, 2, 5, 6, 7, 10, 11, 12])
        // Activations clamp.
        let y3 = try Reference.conv2d(spec, input: Tensor(shape: [1, 1, 1, 1], scalars: [9]),
                                      weight: Tensor(shape: [1, 1, 3, 3], repeating: 1), activation: .relu6)
        #expect(y3.scalars == [6])
    }

    /// An independent, deliberately naive Swift convolution.
    static func naive(_ s: Conv2DSpec, _ x: Tensor, _ w: Tensor, _ b: [Float]?) throws -> Tensor {
        let n = x.shape[0]
        var y = try Tensor(shape: s.outputShape(batch: n))
        let cin = s.inChannelsPerGroup, cout = s.outChannelsPerGroup
        for i in 0..<n { for o in 0..<s.outChannels { for oy in 0..<s.outputHeight { for ox in 0..<s.outputWidth {
            var acc = Double(b?[o] ?? 0)
            let g = o / cout
            for c in 0..<cin { for ky in 0..<s.kernelHeight { for kx in 0..<s.kernelWidth {
                let iy = oy * s.strideHeight - s.padding.top + ky * s.dilationHeight
                let ix = ox * s.strideWidth - s.padding.left + kx * s.dilationWidth
                guard iy >= 0, iy < s.inputHeight, ix >= 0, ix < s.inputWidth else { continue }
                acc += Double(w[o, c, ky, kx]) * Double(x[i, g * cin + c, iy, ix])
            } } }
            y[i, o, oy, ox] = Float(acc)
        } } } }
        return y
    }

    @Test(arguments: 0..<12)
    func agreesWithNaiveSwift(seed: Int) throws {
        var g = SeededGenerator(seed: UInt64(seed))
        let groups = [1, 1, 2, 3].randomElement(using: &g)!
        let spec = try Conv2DSpec(
            inChannels: groups * Int.random(in: 1...3, using: &g), outChannels: groups * Int.random(in: 1...3, using: &g),
            inputSize: (Int.random(in: 5...9, using: &g), Int.random(in: 5...9, using: &g)),
            kernelSize: (Int.random(in: 1...3, using: &g), Int.random(in: 1...3, using: &g)),
            stride: (Int.random(in: 1...2, using: &g), Int.random(in: 1...2, using: &g)),
            padding: Padding(top: Int.random(in: 0...2, using: &g), left: Int.random(in: 0...2, using: &g),
                             bottom: Int.random(in: 0...2, using: &g), right: Int.random(in: 0...2, using: &g)),
            dilation: (Int.random(in: 1...2, using: &g), Int.random(in: 1...2, using: &g)), groups: groups)
        let x = try Tensor.random(shape: spec.inputShape(batch: 2), seed: UInt64(seed) + 1)
        let w = try Tensor.random(shape: spec.weightShape, seed: UInt64(seed) + 2)
        let b = try Tensor.random(shape: [spec.outChannels], seed: UInt64(seed) + 3).scalars
        let expected = try Self.naive(spec, x, w, b)
        let actual = try Reference.conv2d(spec, input: x, weight: w, bias: b)
        #expect(try actual.normalizedError(to: expected) <= 1e-6, "\(spec)")
    }
}
