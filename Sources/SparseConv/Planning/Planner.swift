import CSparseConv

/// Turns a model and a batch size into an immutable `Plan`, choosing for
/// every convolution the fastest execution path — as FFTW's planner does, by
/// a cost model (`.estimate`) or by timing the candidates (`.measure`).
///
/// A plan never prefers a sparse path that is not expected (or measured) to
/// beat the layer's dense path.
///
/// ```swift
/// let wisdom = Wisdom(contentsOf: "wisdom.json")
/// let plan = try Planner(mode: .measure, threads: 2, wisdom: wisdom).plan(model, batch: 1)
/// try wisdom.save()
/// ```
public struct Planner: Sendable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// A cost model from FLOPs, stored weights and kernel rates measured by sparse-bench.
        case estimate
        /// Time the candidate paths of every convolution on this machine.
        case measure
    }

    public var mode: Mode
    /// Threads per run (0 = all cores).
    public var threads: Int
    /// Timings to reuse and extend in measure mode.
    public var wisdom: Wisdom?
    /// Consider sparse paths (false: the all-dense plan, for comparisons).
    public var allowSparsePaths: Bool

    public init(mode: Mode = .estimate, threads: Int = 0, wisdom: Wisdom? = nil, allowSparsePaths: Bool = true) {
        self.mode = mode
        self.threads = threads
        self.wisdom = wisdom
        self.allowSparsePaths = allowSparsePaths
    }

    /// Plans `model` (prepared first: batch norm folded, activations fused).
    /// - Throws: `.invalidArgument` for a batch below 1 or a bad thread count,
    ///   or whatever packing a convolution throws.
    public func plan(_ model: Model, batch: Int = 1) throws -> Plan {
        guard batch >= 1, batch <= 65_536 else { throw SparseConvError.invalidArgument("batch must be in 1...65536, got \(batch)") }
        let threadCount = Int(try checkedThreads(threads)) == 0 ? Runtime.defaultThreads : threads
        let prepared = try model.prepared()
        var valueIndex: [String: Int] = [Model.inputName: 0]
        // Every value is sized (overflow-checked, against the memory limit) before
        // any weights are packed, so an oversized batch fails fast and allocates nothing.
        let floatSize = MemoryLayout<Float>.stride
        var valueSizes = [try ResourceLimits.checkAllocation(shape: [batch] + prepared.inputShape, elementSize: floatSize,
                                                             "the input of model '\(model.name)' at batch \(batch)")]
        for node in prepared.nodes {
            valueSizes.append(try ResourceLimits.checkAllocation(shape: [batch] + prepared.shapes[node.name]!, elementSize: floatSize,
                                                                 "the output of node '\(node.name)' at batch \(batch)"))
        }
        var steps: [Step] = []
        var layers: [LayerChoice] = []
        var consumers: [String: Int] = [prepared.outputName: 1]
        for node in prepared.nodes { for input in node.inputs { consumers[input, default: 0] += 1 } }
        for node in prepared.nodes {
            // A ReLU/ReLU6 that is an add's only consumer runs inside the add
            // (residual blocks): one pass over the tensor instead of two.
            if node.inputs.count == 1, consumers[node.inputs[0]] == 1, let last = steps.last,
               last.output == valueIndex[node.inputs[0]], case .add(let count, .none) = last.kernel,
               let activation: sc_activation = node.operation == .relu ? SC_ACTIVATION_RELU
                   : node.operation == .relu6 ? SC_ACTIVATION_RELU6 : nil {
                steps[steps.count - 1] = Step(name: last.name, kernel: .add(count: count, activation: activation),
                                              inputs: last.inputs, output: last.output)
                valueIndex[node.name] = last.output
                continue
            }
            let inputShapes = node.inputs.map { prepared.shapes[$0]! }
            let outputShape = prepared.shapes[node.name]!
            let output = steps.count + 1
            valueIndex[node.name] = output
            let (kernel, choice) = try makeKernel(node, prepared: prepared, inputShapes: inputShapes, outputShape: outputShape,
                                                  batch: batch, threads: threadCount)
            steps.append(Step(name: node.name, kernel: kernel, inputs: node.inputs.map { valueIndex[$0]! }, output: output))
            layers.append(choice)
        }
        return try Plan(model: prepared, batch: batch, threads: threadCount, mode: mode, layers: layers, steps: steps,
                        valueSizes: valueSizes, outputValue: valueIndex[prepared.outputName]!)
    }

    private func makeKernel(_ node: Node, prepared: Model, inputShapes: [[Int]], outputShape: [Int], batch: Int,
                            threads: Int) throws -> (StepKernel, LayerChoice) {
        let count = outputShape.reduce(1, *)
        func other(_ kernel: StepKernel, bytesMoved: Int) -> (StepKernel, LayerChoice) {
            // Memory-bound layers: about 10 GB/s per thread, plus a fixed cost.
            let ms = 0.002 + Double(bytesMoved * batch) / (10e6 * Double(threads))
            return (kernel, LayerChoice(name: node.name, kind: node.operation.kindName, spec: nil, granularity: nil, sparsity: 0,
                                        path: nil, expectedMilliseconds: ms, candidates: []))
        }
        let inBytes = inputShapes.reduce(0) { $0 + $1.reduce(1, *) } * 4
        let traffic = inBytes + count * 4
        switch node.operation {
        case .convolution(let conv):
            let spec = try prepared.convolutionSpec(of: node)!
            return try chooseConvolution(node.name, conv, spec: spec, batch: batch, threads: threads)
        case .batchNorm(let bn):
            let (a, b) = bn.affine
            return other(.affine(multiplier: a, offset: b, spatial: count / bn.channels), bytesMoved: traffic)
        case .relu, .relu6, .sigmoid, .clip, .leakyRelu, .tanh, .hardSigmoid, .hardSwish, .silu:
            return other(.activation(node.operation, count: count), bytesMoved: traffic)
        case .prelu(let slopes):
            return other(.prelu(slopes: slopes, channels: outputShape[0], spatial: count / outputShape[0]), bytesMoved: traffic)
        case .channelSelect(let indices):
            let s = inputShapes[0]
            return other(.channelSelect(indices: indices, inChannels: s[0], spatial: s[1] * s[2]), bytesMoved: traffic)
        case .maxPool(let pool), .averagePool(let pool):
            let s = inputShapes[0]
            let geometry = PoolGeometry(channels: s[0], height: s[1], width: s[2], outHeight: outputShape[1],
                                        outWidth: outputShape[2], layer: pool)
            if case .maxPool = node.operation { return other(.maxPool(geometry), bytesMoved: traffic) }
            return other(.averagePool(geometry), bytesMoved: traffic)
        case .globalAveragePool:
            let s = inputShapes[0]
            return other(.globalAveragePool(channels: s[0], spatial: s[1] * s[2]), bytesMoved: traffic)
        case .add:
            return other(.add(count: count, activation: nil), bytesMoved: traffic)
        case .concat:
            return other(.concat(channels: inputShapes.map { Int32($0[0]) }, spatial: outputShape[1] * outputShape[2]), bytesMoved: traffic)
        case .channelShuffle(let groups):
            return other(.channelShuffle(channels: outputShape[0], groups: groups, spatial: outputShape[1] * outputShape[2]),
                         bytesMoved: traffic)
        case .channelScale:
            return other(.channelScale(channels: outputShape[0], spatial: outputShape[1] * outputShape[2]), bytesMoved: traffic)
        case .fullyConnected(let fc):
            return other(.fullyConnected(fc), bytesMoved: fc.weight.count * 4 + traffic)
        case .flatten:
            return other(.copy(count: count), bytesMoved: traffic)
        case .softmax:
            return other(.softmax(columns: outputShape.last!), bytesMoved: traffic)
        }
    }

    /// Candidate paths for one convolution, the choice, and its packed operator.
    private func chooseConvolution(_ name: String, _ conv: ConvolutionLayer, spec: Conv2DSpec, batch: Int,
                                   threads: Int) throws -> (StepKernel, LayerChoice) {
        let denseDefault = ExecutionPath.denseDefault(for: spec)
        let zeros = conv.weight.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        let sparsity = Double(zeros) / Double(spec.weightCount)
        let detected = zeros > 0 ? try PruningMask.detect(weight: conv.weight, spec: spec) : nil
        var candidates: [ExecutionPath] = [denseDefault]
        if denseDefault != .dense, spec.groups > 1 { candidates.append(.dense) }
        if denseDefault == .depthwise { candidates.append(.grouped) }
        if allowSparsePaths, zeros > 0, !spec.isDepthwise || zeros * 2 >= spec.weightCount {
            candidates += [.channel, .kernel, .block1x2, .element]
        }
        let structure = "zeros=\(zeros)|\(detected?.granularity.rawValue ?? "dense")|\(fingerprint(conv.weight))"
        var estimates: [(path: ExecutionPath, ms: Double)] = candidates.map { path in
            (path, CostModel.milliseconds(path: path, spec: spec, weight: conv.weight, batch: batch, threads: threads))
        }
        estimates.sort { $0.ms < $1.ms }
        var timed: [(path: ExecutionPath, milliseconds: Double)] = []
        var operators: [ExecutionPath: Conv2D] = [:]
        func build(_ path: ExecutionPath) throws -> Conv2D? {
            if let existing = operators[path] { return existing }
            do {
                let op = try Conv2D(spec: spec, weight: conv.weight, bias: conv.bias, activation: conv.activation, path: path)
                operators[path] = op
                return op
            } catch SparseConvError.unsupported { return nil }
        }
        switch mode {
        case .estimate:
            timed = estimates.map { ($0.path, $0.ms) }
        case .measure:
            // Time the dense path and the sparse paths the cost model finds within 3× of the best.
            let best = estimates.first!.ms
            let shortlist = estimates.filter { $0.path == denseDefault || $0.ms <= 3 * best }.map(\.path)
            for path in shortlist {
                let key = Wisdom.key(spec: spec, structure: structure, path: path, batch: batch, threads: threads)
                if let known = wisdom?.milliseconds(for: key) { timed.append((path, known)); continue }
                guard let op = try build(path) else { continue }
                let ms = try Self.time(op, batch: batch, threads: threads)
                wisdom?.record(ms, for: key)
                timed.append((path, ms))
            }
            timed.sort { $0.milliseconds < $1.milliseconds }
        }
        // Never slower than dense: a sparse path must beat the dense default to be chosen.
        let denseMs = timed.first { $0.path == denseDefault }?.milliseconds ?? .infinity
        var chosen = denseDefault
        var chosenMs = denseMs
        for candidate in timed where candidate.milliseconds < chosenMs {
            if try build(candidate.path) != nil { chosen = candidate.path; chosenMs = candidate.milliseconds; break }
        }
        guard let op = try build(chosen) ?? build(.dense) else {
            throw SparseConvError.unsupported("no path can run convolution '\(name)' \(spec)")
        }
        let choice = LayerChoice(name: name, kind: "conv", spec: spec, granularity: detected?.granularity, sparsity: sparsity,
                                 path: op.path, expectedMilliseconds: chosenMs.isFinite ? chosenMs : 0, candidates: timed)
        return (.convolution(op), choice)
    }

    /// Median of a few runs after one warm-up, at least ~20 ms of timing.
    static func time(_ op: Conv2D, batch: Int, threads: Int) throws -> Double {
        let input = try Tensor.random(shape: op.spec.inputShape(batch: batch), seed: 1)
        var output = try Tensor(shape: op.spec.outputShape(batch: batch))
        let workspace = Workspace()
        try op.run(input, into: &output, workspace: workspace, threads: threads)
        var samples: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while samples.count < 3 || (samples.count < 50 && clock.now - start < .milliseconds(20)) {
            let t0 = clock.now
            try op.run(input, into: &output, workspace: workspace, threads: threads)
            let elapsed = clock.now - t0
            samples.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// A cheap hash of the zero pattern, so wisdom for one pruned layer is not
    /// reused for another with the same count of zeros.
    private func fingerprint(_ weight: Tensor) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        weight.withUnsafeBufferPointer { w in
            for index in w.indices where w[index] == 0 {
                hash = (hash ^ UInt64(index)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }
}

/// Expected time of a convolution path: FLOPs it performs over a rate per
/// thread, plus a fixed cost. The rates are medians sparse-bench measured for
/// each path: on a Zen 5 machine for AVX-512, on a Zen 3 machine for AVX2
/// (scalar code is scaled from AVX2); measure mode replaces them with timings.
enum CostModel {
    /// Useful GFLOP/s per thread of a path at density ≥ 0.5 (sparse paths
    /// slow down as rows get shorter: see `densityFactor`).
    static func rate(_ path: ExecutionPath, spec: Conv2DSpec, isa: InstructionSet = Runtime.instructionSet) -> Double {
        let perGroupDepth = Double(spec.inChannelsPerGroup * spec.kernelHeight * spec.kernelWidth)
        switch isa {
        case .avx512:
            switch path {
            case .dense: return spec.groups == 1 ? 230 : 230 * min(1, perGroupDepth / 288)
            case .grouped: return 230 * min(1, perGroupDepth / 144) + 10
            case .depthwise: return 60
            case .channel: return 200
            case .kernel: return 130
            case .block1x2: return 140
            case .element: return 90
            }
        case .avx2, .scalar:
            // Zen 3, 2 threads, medians over the ResNet-50 and MobileNet pointwise
            // layers of `sparse-bench --suite layers`: dense, and the sparse paths
            // at 50 %. Retuned after the dense channel vectors (dense 75 -> 87).
            let scale = isa == .scalar ? 0.11 : 1
            let rate: Double = switch path {
            case .dense: spec.groups == 1 ? 87 : 87 * min(1, perGroupDepth / 288)
            case .grouped: 75 * min(1, perGroupDepth / 144) + 5
            case .depthwise: 27
            case .channel: 80
            // 3x3 and up: the row-reuse microkernel with banded copies (72 at 50 %,
            // ResNet-50 3x3 layers); 1x1 runs on the element engine.
            case .kernel: spec.kernelHeight * spec.kernelWidth == 1 ? 31 : 72
            case .block1x2: 65
            case .element: 40
            }
            return rate * scale
        }
    }

    /// Sparse paths lose efficiency as density falls (fewer nonzeros per row
    /// to pay for a row's setup and stores): measured on AVX2, block 1×2
    /// keeps about 85 % of its rate at 75 % sparsity, 75 % at 90 %, 65 % at
    /// 95 %. (The AVX-512 rates are medians over those sparsities already.)
    static func densityFactor(_ path: ExecutionPath, density: Double, isa: InstructionSet = Runtime.instructionSet) -> Double {
        guard path.isSparse, path != .channel, isa != .avx512 else { return 1 }
        return min(1, 0.62 + 0.76 * max(density, 0))
    }

    static func milliseconds(path: ExecutionPath, spec: Conv2DSpec, weight: Tensor, batch: Int, threads: Int) -> Double {
        let stored = storedWeights(path: path, spec: spec, weight: weight)
        let flops = 2 * Double(stored) * Double(spec.outputHeight * spec.outputWidth * batch)
        let density = Double(stored) / Double(max(spec.weightCount, 1))
        let fixed = 0.004 + (path.isSparse ? 0.003 : 0)
        return fixed + flops / (rate(path, spec: spec) * densityFactor(path, density: density) * Double(threads) * 1e6)
    }

    /// Weights a path would multiply for these zeros (what it stores).
    static func storedWeights(path: ExecutionPath, spec: Conv2DSpec, weight: Tensor) -> Int {
        guard path.isSparse else { return spec.weightCount }
        let granularity = Granularity.allCases.first { $0.path == path }!
        return weight.withUnsafeBufferPointer { w in
            var stored = 0
            for unit in PruningUnits(spec: spec, granularity: granularity) where unit.contains(where: { w[$0] != 0 }) {
                stored += unit.count
            }
            return stored
        }
    }
}
