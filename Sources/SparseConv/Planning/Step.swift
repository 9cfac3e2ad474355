/// Pooling geometry with sizes resolved for one input.
struct PoolGeometry: Sendable {
    let channels: Int, height: Int, width: Int
    let outHeight: Int, outWidth: Int
    let layer: PoolLayer
}

/// What one step of a plan computes, with everything resolved at plan time.
enum StepKernel: @unchecked Sendable {
    // @unchecked: Conv2D and FullyConnectedLayer are immutable.
    case convolution(Conv2D)
    /// y = x·a[c] + b[c] (standalone batch norm).
    case affine(multiplier: [Float], offset: [Float], spatial: Int)
    case activation(LayerOperation, count: Int)
    case maxPool(PoolGeometry)
    case averagePool(PoolGeometry)
    case globalAveragePool(channels: Int, spatial: Int)
    /// a + b, then the fused activation (nil: none).
    case add(count: Int, activation: sc_activation?)
    /// Channels of each input, as the C kernel takes them (converted at plan time).
    case concat(channels: [Int32], spatial: Int)
    case channelShuffle(channels: Int, groups: Int, spatial: Int)
    case channelScale(channels: Int, spatial: Int)
    case fullyConnected(FullyConnectedLayer)
    case copy(count: Int)
    case softmax(columns: Int)
    case prelu(slopes: [Float], channels: Int, spatial: Int)
    case channelSelect(indices: [Int], inChannels: Int, spatial: Int)
}

/// One step: a kernel reading values and writing one value.
struct Step: Sendable {
    let name: String
    let kernel: StepKernel
    let inputs: [Int]
    let output: Int
}

import CSparseConv

extension StepKernel {
    /// A short name for error messages (the payloads can be large).
    var kindName: String {
        switch self {
        case .convolution: "convolution"
        case .affine: "affine"
        case .activation: "activation"
        case .maxPool: "max pool"
        case .averagePool: "average pool"
        case .globalAveragePool: "global average pool"
        case .add: "add"
        case .concat: "concat"
        case .channelShuffle: "channel shuffle"
        case .channelScale: "channel scale"
        case .fullyConnected: "fully connected"
        case .copy: "copy"
        case .softmax: "softmax"
        case .prelu: "prelu"
        case .channelSelect: "channel select"
        }
    }

    /// Runs one step through the C layer kernels (sparseconv_layers.h):
    /// vectorized per ISA and parallel over `threads` where the work is large
    /// enough to pay for a parallel region.
    /// - Parameter inputs: one non-nil pointer per operand.
    func run(batch: Int, inputs: UnsafeBufferPointer<UnsafePointer<Float>?>, output: UnsafeMutablePointer<Float>,
             context: ExecutionContext, threads: Int32) throws {
        let x = inputs[0]!
        let n = Int32(batch)
        let status: sc_status
        switch self {
        case .convolution(let conv):
            try conv.run(batch: batch, input: x, output: output, workspace: context.workspace, threads: threads)
            return
        case let .affine(a, b, spatial):
            status = a.withUnsafeBufferPointer { m in
                b.withUnsafeBufferPointer { o in
                    sc_channel_affine(n, Int32(a.count), Int64(spatial), x, m.baseAddress, o.baseAddress,
                                      SC_ACTIVATION_NONE, output, threads)
                }
            }
        case let .activation(operation, count):
            let total = Int64(count * batch)
            switch operation {
            case .relu: status = sc_activation_apply(total, x, output, SC_UNARY_RELU, 0, 0, threads)
            case .relu6: status = sc_activation_apply(total, x, output, SC_UNARY_RELU6, 0, 0, threads)
            case .sigmoid: status = sc_activation_apply(total, x, output, SC_UNARY_SIGMOID, 0, 0, threads)
            case let .clip(lo, hi): status = sc_activation_apply(total, x, output, SC_UNARY_CLIP, lo, hi, threads)
            case .leakyRelu(let alpha): status = sc_activation_apply(total, x, output, SC_UNARY_LEAKY_RELU, alpha, 0, threads)
            case let .hardSigmoid(alpha, beta):
                status = sc_activation_apply(total, x, output, SC_UNARY_HARD_SIGMOID, alpha, beta, threads)
            case .hardSwish: status = sc_activation_apply(total, x, output, SC_UNARY_HARD_SWISH, 0, 0, threads)
            case .tanh: status = sc_activation_apply(total, x, output, SC_UNARY_TANH, 0, 0, threads)
            case .silu: status = sc_activation_apply(total, x, output, SC_UNARY_SILU, 0, 0, threads)
            default: status = sc_activation_apply(total, x, output, SC_UNARY_IDENTITY, 0, 0, threads)
            }
        case .maxPool(let g) where g.layer.dilation != (1, 1):
            // Dilated pooling is rare (no torchvision model uses it): a plain loop, not a C kernel.
            Self.dilatedMaxPool(g, batch: batch, x, output)
            return
        case .maxPool(let g), .averagePool(let g):
            let p = g.layer
            let isMax: Bool = if case .maxPool = self { true } else { false }
            let geometry = (Int32(g.channels), Int32(g.height), Int32(g.width), Int32(p.kernelSize.height), Int32(p.kernelSize.width),
                            Int32(p.stride.height), Int32(p.stride.width))
            status = isMax
                ? sc_max_pool2d(n, geometry.0, geometry.1, geometry.2, geometry.3, geometry.4, geometry.5, geometry.6,
                                Int32(p.padding.top), Int32(p.padding.left), Int32(p.padding.bottom), Int32(p.padding.right),
                                Int32(g.outHeight), Int32(g.outWidth), x, output, threads)
                : sc_avg_pool2d(n, geometry.0, geometry.1, geometry.2, geometry.3, geometry.4, geometry.5, geometry.6,
                                Int32(p.padding.top), Int32(p.padding.left), Int32(p.padding.bottom), Int32(p.padding.right),
                                Int32(g.outHeight), Int32(g.outWidth), p.countIncludePad ? 1 : 0, x, output, threads)
        case let .globalAveragePool(channels, spatial):
            status = sc_global_avg_pool(n, Int32(channels), Int64(spatial), x, output, threads)
        case let .add(count, activation):
            status = sc_add(Int64(count * batch), x, inputs[1]!, activation ?? SC_ACTIVATION_NONE, output, threads)
        case let .concat(channels, spatial):
            status = channels.withUnsafeBufferPointer { c in
                sc_concat_channels(n, Int32(inputs.count), inputs.baseAddress, c.baseAddress, Int64(spatial), output, threads)
            }
        case let .channelShuffle(channels, groups, spatial):
            status = sc_channel_shuffle(n, Int32(channels), Int32(groups), Int64(spatial), x, output, threads)
        case let .channelScale(channels, spatial):
            status = sc_channel_scale(n, Int32(channels), Int64(spatial), x, inputs[1]!, output, threads)
        case .fullyConnected(let fc):
            status = fc.weight.withUnsafeBufferPointer { w in
                if let bias = fc.bias {
                    return bias.withUnsafeBufferPointer { b in
                        sc_fully_connected(n, Int32(fc.inFeatures), Int32(fc.outFeatures), x, w.baseAddress, b.baseAddress,
                                           SC_ACTIVATION_NONE, output, threads)
                    }
                }
                return sc_fully_connected(n, Int32(fc.inFeatures), Int32(fc.outFeatures), x, w.baseAddress, nil,
                                          SC_ACTIVATION_NONE, output, threads)
            }
        case .copy(let count):
            output.update(from: x, count: count * batch)
            return
        case .softmax(let columns):
            status = sc_softmax(Int64(batch), Int64(columns), x, output, threads)
        case let .prelu(slopes, channels, spatial):
            // Rare in CNNs and memory-bound: a plain loop the compiler vectorizes is enough.
            for image in 0..<batch {
                for channel in 0..<channels {
                    let slope = slopes.count == 1 ? slopes[0] : slopes[channel]
                    let base = (image * channels + channel) * spatial
                    for i in base..<(base + spatial) { output[i] = x[i] < 0 ? slope * x[i] : x[i] }
                }
            }
            return
        case let .channelSelect(indices, inChannels, spatial):
            for image in 0..<batch {
                for (k, channel) in indices.enumerated() {
                    (output + (image * indices.count + k) * spatial).update(from: x + (image * inChannels + channel) * spatial, count: spatial)
                }
            }
            return
        }
        try SparseConvError.check(status, "running a \(kindName) step")
    }

    /// Max over the taps inside the input; NaN wins, as in the C kernel.
    static func dilatedMaxPool(_ g: PoolGeometry, batch: Int, _ x: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        let p = g.layer
        for plane in 0..<(batch * g.channels) {
            let source = x + plane * g.height * g.width, target = output + plane * g.outHeight * g.outWidth
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    var best = -Float.infinity
                    for ky in 0..<p.kernelSize.height {
                        let iy = oy * p.stride.height - p.padding.top + ky * p.dilation.height
                        guard iy >= 0, iy < g.height else { continue }
                        for kx in 0..<p.kernelSize.width {
                            let ix = ox * p.stride.width - p.padding.left + kx * p.dilation.width
                            guard ix >= 0, ix < g.width else { continue }
                            let value = source[iy * g.width + ix]
                            if !best.isNaN && !(value <= best) { best = value }
                        }
                    }
                    target[oy * g.outWidth + ox] = best
                }
            }
        }
    }
}
