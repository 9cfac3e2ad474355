import ArgumentParser
import Foundation
import SparseConv

/// Everything a section needs to time things the same way: the options that
/// apply to every measurement, and shared helpers for layers and models.
struct Bench {
    let threads: Int
    let batch: Int
    let timer: Timer
    let verify: Bool
    let granularities: [Granularity]
    let planMode: Planner.Mode
    /// How whole models are pruned in section 5 (global: one threshold).
    var pruningScope: PruningOptions.Scope = .global
    /// Print every model plan's per-layer table (Plan's description) in the report.
    var showPlans = false
    let progress: Progress

    /// Normalized error allowed for one convolution against `Reference.conv2d`
    /// (DESIGN.md's quality bar).
    static let layerTolerance: Float = 1e-4
    /// For a whole model against its all-dense plan: rounding differences of
    /// tens of layers compound (residual adds grow ResNet-50's activations
    /// into the hundreds), so one order of magnitude looser than a layer.
    static let modelTolerance: Float = 1e-3

    // MARK: Convolutions

    /// A packed convolution with the data to run it and what it was checked against.
    struct Timed {
        let conv: Conv2D
        let ms: Double
        let verifiedError: Double?
    }

    /// Packs `weight` for `path` (or the mask's path), optionally verifies it
    /// against the reference convolution, then times it. Returns nil when the
    /// path cannot run the shape (e.g. a sparse path on a depthwise layer).
    func timeConvolution(_ name: String, spec: Conv2DSpec, weight: Tensor, bias: [Float], input: Tensor,
                         mask: PruningMask? = nil, path: ExecutionPath? = nil) throws -> Timed? {
        let conv: Conv2D
        do {
            if let mask {
                conv = try Conv2D(spec: spec, weight: weight, bias: bias, mask: mask, path: path)
            } else {
                conv = try Conv2D(spec: spec, weight: weight, bias: bias, path: path)
            }
        } catch SparseConvError.unsupported {
            return nil
        }
        var out = try Tensor(shape: spec.outputShape(batch: batch))
        let workspace = Workspace()
        try workspace.reserve(try conv.workspaceSize(batch: batch, threads: threads))
        var verified: Double?
        if verify {
            // A removed filter takes its bias along (DESIGN.md), on every path.
            var referenceBias = bias
            if let mask, mask.granularity == .channel { for o in mask.removedFilters { referenceBias[o] = 0 } }
            let expected = try Reference.conv2d(spec, input: input, weight: weight, bias: referenceBias)
            try conv.run(input, into: &out, workspace: workspace, threads: threads)
            let error = try out.normalizedError(to: expected)
            guard error <= Self.layerTolerance else {
                throw ValidationError("VERIFY FAILED: \(name) path \(conv.path.rawValue): normalized error \(error) > \(Self.layerTolerance)")
            }
            verified = Double(error)
        }
        let ms = try timer.medianMilliseconds { try conv.run(input, into: &out, workspace: workspace, threads: threads) }
        return Timed(conv: conv, ms: ms, verifiedError: verified)
    }

    /// Random weights, bias and input for a shape (fixed seeds: every run and
    /// every path sees the same numbers).
    func data(for spec: Conv2DSpec, seed: UInt64 = 7) throws -> (weight: Tensor, bias: [Float], input: Tensor) {
        (try Tensor.random(shape: spec.weightShape, seed: seed),
         try Tensor.random(shape: [spec.outChannels], seed: seed + 1).scalars,
         try Tensor.random(shape: spec.inputShape(batch: batch), seed: seed + 2))
    }

    /// The fastest dense path of a shape (grouped and depthwise shapes have a
    /// specialized one, but the general path is sometimes faster).
    func timeBestDense(_ name: String, spec: Conv2DSpec, weight: Tensor, bias: [Float], input: Tensor) throws -> [Timed] {
        var paths: [ExecutionPath] = [.dense]
        if spec.groups > 1 { paths.append(.grouped) }
        if spec.isDepthwise { paths.append(.depthwise) }
        return try paths.compactMap { try timeConvolution(name, spec: spec, weight: weight, bias: bias, input: input, path: $0) }
    }

    /// A record for one convolution measurement.
    func layerRecord(section: String, layer: String, family: String?, spec: Conv2DSpec, timed: Timed, granularity: String,
                     sparsity: Double, density: Double, denseMs: Double?) -> Record {
        var r = Record(section: section, granularity: granularity, sparsity: sparsity, threads: threads, batch: batch, ms: timed.ms)
        r.layer = layer
        r.family = family
        r.path = timed.conv.path.rawValue
        r.effective_gflops = spec.flops * Double(batch) / timed.ms / 1e6
        r.useful_gflops = timed.conv.usefulFlops * Double(batch) / timed.ms / 1e6
        r.speedup_vs_dense = denseMs.map { $0 / timed.ms }
        r.efficiency = r.speedup_vs_dense.map { $0 * density }
        r.verified_error = timed.verifiedError
        r.isa = timed.conv.instructionSet.rawValue
        r.shape = Record.shape(spec)
        r.parameters = timed.conv.storedWeights
        return r
    }

    // MARK: Models

    /// A planned and timed model.
    struct TimedModel {
        let plan: Plan
        let ms: Double
        let verifiedError: Double?
        /// Convolution weights, and those that are nonzero.
        let convWeights: Int
        let convNonzeros: Int
        /// Multiply-accumulates per image, dense and on nonzero weights (convolutions and FC).
        let denseMacs: Int
        let nonzeroMacs: Int
        let planSeconds: Double
    }

    /// Plans `model`, optionally checks the plan against the model's all-dense
    /// plan (whose dense kernels the layer tests check against the reference),
    /// and times it with a preallocated context: no allocation per run.
    /// Plans (with or without the sparse paths) and times one model.
    func timeModel(_ model: Model, allowSparsePaths: Bool = true) throws -> TimedModel {
        let clock = ContinuousClock()
        let planStart = clock.now
        let plan = try Planner(mode: planMode, threads: threads, allowSparsePaths: allowSparsePaths).plan(model, batch: batch)
        let planSeconds = (clock.now - planStart).seconds
        let input = try Tensor.random(shape: plan.inputShape, seed: 11)
        var output = try Tensor(shape: plan.outputShape)
        let context = try plan.makeContext()
        var verified: Double?
        if verify {
            let densePlan = try Planner(mode: .estimate, threads: threads, allowSparsePaths: false).plan(model, batch: batch)
            let expected = try densePlan.run(input)
            try plan.run(input, into: &output, context: context)
            let error = try output.normalizedError(to: expected)
            guard error <= Self.modelTolerance else {
                throw ValidationError("VERIFY FAILED: model \(model.name): plan output differs from the dense plan by \(error) > \(Self.modelTolerance)")
            }
            verified = Double(error)
        }
        let ms = try timer.medianMilliseconds { try plan.run(input, into: &output, context: context) }
        var convWeights = 0, convNonzeros = 0
        for node in model.nodes {
            guard case .convolution(let conv) = node.operation else { continue }
            convWeights += conv.weight.count
            convNonzeros += conv.weight.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        }
        let macs = try model.macsPerLayer()
        return TimedModel(plan: plan, ms: ms, verifiedError: verified, convWeights: convWeights, convNonzeros: convNonzeros,
                          denseMacs: macs.reduce(0) { $0 + $1.dense }, nonzeroMacs: macs.reduce(0) { $0 + $1.nonzero }, planSeconds: planSeconds)
    }

    /// A record for one whole-model measurement, with the planner's choices.
    /// - Parameter original: the unpruned model's timing, when `timed` ran a
    ///   physically thinned model: sparsity and effective GFLOP/s are then
    ///   counted against the original's weights and MACs.
    func modelRecord(section: String, model: String, timed: TimedModel, granularity: String, denseMs: Double?,
                     original: TimedModel? = nil) -> Record {
        let weights = original?.convWeights ?? timed.convWeights
        let sparsity = weights > 0 ? 1 - Double(timed.convNonzeros) / Double(weights) : 0
        var r = Record(section: section, granularity: granularity, sparsity: sparsity, threads: threads, batch: batch, ms: timed.ms)
        r.model = model
        r.input_shape = timed.plan.inputShape
        r.effective_gflops = 2 * Double((original?.denseMacs ?? timed.denseMacs) * batch) / timed.ms / 1e6
        r.useful_gflops = 2 * Double(timed.nonzeroMacs * batch) / timed.ms / 1e6
        r.speedup_vs_dense = denseMs.map { $0 / timed.ms }
        r.efficiency = r.speedup_vs_dense.map { $0 * (1 - sparsity) }
        r.verified_error = timed.verifiedError
        r.parameters = timed.convNonzeros
        r.plan_mode = timed.plan.mode.rawValue
        r.plan_seconds = timed.planSeconds
        r.paths = Self.pathShares(timed.plan)
        r.plan_layers = timed.plan.layers.map {
            Record.PlannedLayer(name: $0.name, kind: $0.kind, path: $0.path?.rawValue, sparsity: $0.sparsity, ms: $0.expectedMilliseconds)
        }
        return r
    }

    /// The planner's choices summarized: layers per path and share of the
    /// expected time, convolutions by path and everything else as "other".
    static func pathShares(_ plan: Plan) -> [Record.PathShare] {
        var layers: [String: Int] = [:], ms: [String: Double] = [:]
        for choice in plan.layers {
            let key = choice.path?.rawValue ?? "other"
            layers[key, default: 0] += 1
            ms[key, default: 0] += choice.expectedMilliseconds
        }
        let total = max(plan.expectedMilliseconds, 1e-12)
        let order = ExecutionPath.allCases.map(\.rawValue) + ["other"]
        return order.compactMap { key in
            guard let count = layers[key] else { return nil }
            return Record.PathShare(path: key, layers: count, ms: ms[key]!, share: ms[key]! / total)
        }
    }
}
