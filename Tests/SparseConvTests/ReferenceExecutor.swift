@testable import SparseConv
import Foundation

/// Runs an (unprepared) model node by node with the reference convolution and
/// deliberately plain Swift for everything else: the oracle for whole models.
/// Batch norm is applied as written (not folded) so folding is checked too.
enum ReferenceExecutor {
    static func run(_ model: Model, input: Tensor) throws -> Tensor {
        let batch = input.shape[0]
        var values: [String: Tensor] = [Model.inputName: input]
        for node in model.nodes {
            let xs = node.inputs.map { values[$0]! }
            let x = xs[0]
            let outShape = [batch] + model.shapes[node.name]!
            var y = try Tensor(shape: outShape)
            switch node.operation {
            case .convolution(let conv):
                let spec = try model.convolutionSpec(of: node)!
                y = try Reference.conv2d(spec, input: x, weight: conv.weight, bias: conv.bias, activation: conv.activation)
            case .batchNorm(let bn):
                let spatial = x.count / (batch * bn.channels)
                for i in 0..<x.count {
                    let c = (i / spatial) % bn.channels
                    let normalized = (Double(x[flat: i]) - Double(bn.mean[c])) / (Double(bn.variance[c]) + Double(bn.epsilon)).squareRoot()
                    y[flat: i] = Float(normalized * Double(bn.scale[c]) + Double(bn.shift[c]))
                }
            case .relu: y = try map(x) { max($0, 0) }
            case .relu6: y = try map(x) { min(max($0, 0), 6) }
            case .sigmoid: y = try map(x) { Float(1 / (1 + Foundation.exp(-Double($0)))) }
            case let .clip(lo, hi): y = try map(x) { min(max($0, lo), hi) }
            case .leakyRelu(let alpha): y = try map(x) { $0 < 0 ? alpha * $0 : $0 }
            case .tanh: y = try map(x) { Float(Foundation.tanh(Double($0))) }
            case let .hardSigmoid(alpha, beta): y = try map(x) { min(max(alpha * $0 + beta, 0), 1) }
            case .hardSwish: y = try map(x) { $0 * min(max($0 / 6 + 0.5, 0), 1) }
            case .silu: y = try map(x) { Float(Double($0) / (1 + Foundation.exp(-Double($0)))) }
            case .prelu(let slopes):
                let channels = x.shape[1], spatial = x.count / (batch * channels)
                for i in 0..<x.count {
                    let slope = slopes.count == 1 ? slopes[0] : slopes[(i / spatial) % channels]
                    y[flat: i] = x[flat: i] < 0 ? slope * x[flat: i] : x[flat: i]
                }
            case .channelSelect(let indices):
                let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
                for n in 0..<batch { for (k, channel) in indices.enumerated() { for p in 0..<hw {
                    y[flat: (n * indices.count + k) * hw + p] = x[flat: (n * c + channel) * hw + p]
                } } }
            case .maxPool(let p) where p.dilation != (1, 1):
                let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
                for n in 0..<batch { for ch in 0..<c { for oy in 0..<outShape[2] { for ox in 0..<outShape[3] {
                    var taps: [Float] = []
                    for ky in 0..<p.kernelSize.height { for kx in 0..<p.kernelSize.width {
                        let iy = oy * p.stride.height - p.padding.top + ky * p.dilation.height
                        let ix = ox * p.stride.width - p.padding.left + kx * p.dilation.width
                        if iy >= 0 && iy < h && ix >= 0 && ix < w { taps.append(x[n, ch, iy, ix]) }
                    } }
                    y[n, ch, oy, ox] = taps.contains { $0.isNaN } ? .nan : taps.max() ?? -.infinity
                } } } }
            case .maxPool(let p), .averagePool(let p):
                let isMax: Bool = if case .maxPool = node.operation { true } else { false }
                let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
                for n in 0..<batch { for ch in 0..<c { for oy in 0..<outShape[2] { for ox in 0..<outShape[3] {
                    let ys = oy * p.stride.height - p.padding.top, xs0 = ox * p.stride.width - p.padding.left
                    let ye = min(ys + p.kernelSize.height, h + p.padding.bottom), xe = min(xs0 + p.kernelSize.width, w + p.padding.right)
                    var best = -Float.infinity, sum = 0.0, n0 = 0
                    for iy in ys..<ye { for ix in xs0..<xe where iy >= 0 && iy < h && ix >= 0 && ix < w {
                        best = max(best, x[n, ch, iy, ix]); sum += Double(x[n, ch, iy, ix]); n0 += 1
                    } }
                    let divisor = p.countIncludePad ? (ye - ys) * (xe - xs0) : n0
                    y[n, ch, oy, ox] = isMax ? best : Float(sum / Double(divisor))
                } } } }
            case .globalAveragePool:
                let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
                for n in 0..<batch { for ch in 0..<c {
                    var sum = 0.0
                    for i in 0..<hw { sum += Double(x[flat: (n * c + ch) * hw + i]) }
                    y[flat: n * c + ch] = Float(sum / Double(hw))
                } }
            case .add:
                for i in 0..<x.count { y[flat: i] = x[flat: i] + xs[1][flat: i] }
            case .concat:
                let hw = outShape[2] * outShape[3]
                for n in 0..<batch {
                    var channel = 0
                    for part in xs {
                        for i in 0..<(part.shape[1] * hw) { y[flat: (n * outShape[1] + channel) * hw + i] = part[flat: n * part.shape[1] * hw + i] }
                        channel += part.shape[1]
                    }
                }
            case .channelShuffle(let groups):
                let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
                for n in 0..<batch { for ch in 0..<c {
                    let g = ch / (c / groups), i = ch % (c / groups)
                    for p in 0..<hw { y[flat: (n * c + i * groups + g) * hw + p] = x[flat: (n * c + ch) * hw + p] }
                } }
            case .channelScale:
                let c = x.shape[1], hw = x.count / (batch * c)
                for i in 0..<x.count { y[flat: i] = x[flat: i] * xs[1][flat: i / hw] }
            case .fullyConnected(let fc):
                for n in 0..<batch { for o in 0..<fc.outFeatures {
                    var acc = Double(fc.bias?[o] ?? 0)
                    for i in 0..<fc.inFeatures { acc += Double(fc.weight[flat: o * fc.inFeatures + i]) * Double(x[flat: n * fc.inFeatures + i]) }
                    y[flat: n * fc.outFeatures + o] = Float(acc)
                } }
            case .flatten:
                y = try x.reshaped(outShape)
            case .softmax:
                let cols = outShape.last!
                for r in 0..<(x.count / cols) {
                    let row = (0..<cols).map { Double(x[flat: r * cols + $0]) }
                    let m = row.max()!
                    let e = row.map { Foundation.exp($0 - m) }
                    let s = e.reduce(0, +)
                    for i in 0..<cols { y[flat: r * cols + i] = Float(e[i] / s) }
                }
            }
            values[node.name] = y
        }
        return values[model.outputName]!
    }

    static func map(_ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
        try Tensor(shape: x.shape, scalars: x.scalars.map(f))
    }
}
