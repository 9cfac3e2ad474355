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
    case add(count: Int)
    case concat(channels: [Int], spatial: Int)
    case channelShuffle(channels: Int, groups: Int, spatial: Int)
    case channelScale(channels: Int, spatial: Int)
    case fullyConnected(FullyConnectedLayer)
    case copy(count: Int)
    case softmax(columns: Int)
}

/// One step: a kernel reading values and writing one value.
struct Step: Sendable {
    let name: String
    let kernel: StepKernel
    let inputs: [Int]
    let output: Int
}

extension StepKernel {
    func run(batch: Int, inputs: [UnsafePointer<Float>], output: UnsafeMutablePointer<Float>,
             context: ExecutionContext, threads: Int32) throws {
        switch self {
        case .convolution(let conv):
            try conv.run(batch: batch, input: inputs[0], output: output, workspace: context.workspace, threads: threads)
        case let .affine(a, b, spatial):
            LayerKernels.affine(batch: batch, multiplier: a, offset: b, spatial: spatial, input: inputs[0], output: output)
        case let .activation(operation, count):
            LayerKernels.activation(operation, count: count * batch, input: inputs[0], output: output)
        case .maxPool(let g):
            LayerKernels.pool(g, batch: batch, max: true, input: inputs[0], output: output)
        case .averagePool(let g):
            LayerKernels.pool(g, batch: batch, max: false, input: inputs[0], output: output)
        case let .globalAveragePool(channels, spatial):
            LayerKernels.globalAveragePool(rows: batch * channels, spatial: spatial, input: inputs[0], output: output)
        case .add(let count):
            let n = count * batch
            for i in 0..<n { output[i] = inputs[0][i] + inputs[1][i] }
        case let .concat(channels, spatial):
            let total = channels.reduce(0, +)
            for n in 0..<batch {
                var offset = n * total * spatial
                for (input, c) in zip(inputs, channels) {
                    (output + offset).update(from: input + n * c * spatial, count: c * spatial)
                    offset += c * spatial
                }
            }
        case let .channelShuffle(channels, groups, spatial):
            let perGroup = channels / groups
            for n in 0..<batch {
                let base = n * channels * spatial
                for g in 0..<groups {
                    for i in 0..<perGroup {
                        (output + base + (i * groups + g) * spatial).update(from: inputs[0] + base + (g * perGroup + i) * spatial, count: spatial)
                    }
                }
            }
        case let .channelScale(channels, spatial):
            for row in 0..<(batch * channels) {
                let s = inputs[1][row]
                for i in 0..<spatial { output[row * spatial + i] = inputs[0][row * spatial + i] * s }
            }
        case .fullyConnected(let fc):
            LayerKernels.fullyConnected(fc, batch: batch, input: inputs[0], output: output)
        case .copy(let count):
            output.update(from: inputs[0], count: count * batch)
        case .softmax(let columns):
            LayerKernels.softmax(rows: batch, columns: columns, input: inputs[0], output: output)
        }
    }
}

/// Plain implementations of the non-convolution layers.
enum LayerKernels {
    static func affine(batch: Int, multiplier: [Float], offset: [Float], spatial: Int,
                       input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let channels = multiplier.count
        for n in 0..<batch {
            for c in 0..<channels {
                let base = (n * channels + c) * spatial
                let a = multiplier[c], b = offset[c]
                for i in 0..<spatial { output[base + i] = input[base + i] * a + b }
            }
        }
    }

    static func activation(_ operation: LayerOperation, count: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        switch operation {
        case .relu: for i in 0..<count { let x = input[i]; output[i] = x > 0 ? x : (x.isNaN ? x : 0) }
        case .relu6: for i in 0..<count { let x = input[i]; output[i] = x.isNaN ? x : min(max(x, 0), 6) }
        case .sigmoid: for i in 0..<count { output[i] = 1 / (1 + (-input[i]).exponential) }
        case let .clip(lo, hi): for i in 0..<count { let x = input[i]; output[i] = x.isNaN ? x : min(max(x, lo), hi) }
        default: output.update(from: input, count: count)
        }
    }

    static func pool(_ g: PoolGeometry, batch: Int, max isMax: Bool, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let p = g.layer
        for plane in 0..<(batch * g.channels) {
            let x = input + plane * g.height * g.width
            let y = output + plane * g.outHeight * g.outWidth
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let y0 = oy * p.stride.height - p.padding.top, x0 = ox * p.stride.width - p.padding.left
                    let y1 = min(y0 + p.kernelSize.height, g.height + p.padding.bottom)
                    let x1 = min(x0 + p.kernelSize.width, g.width + p.padding.right)
                    var best = -Float.infinity, sum: Float = 0, valid = 0
                    for iy in max(y0, 0)..<min(y1, g.height) {
                        for ix in max(x0, 0)..<min(x1, g.width) {
                            let v = x[iy * g.width + ix]
                            if v > best || v.isNaN { best = v }
                            sum += v
                            valid += 1
                        }
                    }
                    let divisor = p.countIncludePad ? (y1 - y0) * (x1 - x0) : valid
                    y[oy * g.outWidth + ox] = isMax ? best : (divisor > 0 ? sum / Float(divisor) : 0)
                }
            }
        }
    }

    static func globalAveragePool(rows: Int, spatial: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            var sum: Float = 0
            for i in 0..<spatial { sum += input[r * spatial + i] }
            output[r] = sum / Float(spatial)
        }
    }

    static func fullyConnected(_ fc: FullyConnectedLayer, batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        fc.weight.withUnsafeBufferPointer { w in
            for n in 0..<batch {
                for o in 0..<fc.outFeatures {
                    var acc: Float = fc.bias?[o] ?? 0
                    let row = w.baseAddress! + o * fc.inFeatures
                    let x = input + n * fc.inFeatures
                    for i in 0..<fc.inFeatures { acc += row[i] * x[i] }
                    output[n * fc.outFeatures + o] = acc
                }
            }
        }
    }

    static func softmax(rows: Int, columns: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let x = input + r * columns, y = output + r * columns
            var m = -Float.infinity
            for i in 0..<columns { m = max(m, x[i]) }
            var sum: Float = 0
            for i in 0..<columns { y[i] = (x[i] - m).exponential; sum += y[i] }
            for i in 0..<columns { y[i] /= sum }
        }
    }
}

extension Float {
    /// e^self through the C library (Foundation-free).
    var exponential: Float { Float(sc_expf_bridge(self)) }
}

import CSparseConv

@inline(__always) func sc_expf_bridge(_ x: Float) -> Float {
    #if canImport(Glibc)
    return Glibc.expf(x)
    #else
    return Foundation.exp(x)
    #endif
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
