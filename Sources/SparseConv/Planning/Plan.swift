import Synchronization

/// What the planner decided for one layer.
public struct LayerChoice: Sendable {
    public let name: String
    /// The operation kind ("conv", "maxpool", ...).
    public let kind: String
    /// The convolution shape, for convolutions.
    public let spec: Conv2DSpec?
    /// The granularity the weights' zeros fit, nil when dense.
    public let granularity: Granularity?
    /// Fraction of the layer's weights that are zero.
    public let sparsity: Double
    /// The chosen execution path, for convolutions.
    public let path: ExecutionPath?
    /// Expected (estimate mode) or measured (measure mode) milliseconds.
    public let expectedMilliseconds: Double
    /// Every candidate considered with its time, fastest first.
    public let candidates: [(path: ExecutionPath, milliseconds: Double)]
}

/// Intermediate buffers and scratch memory for one run of a plan at a time.
///
/// A plan run through the same context allocates nothing. Give each thread
/// that runs a plan its own context (`Plan.run(_:)` does this for you).
public final class ExecutionContext: @unchecked Sendable {
    // @unchecked: a context is used by one run at a time; the plan's pool hands
    // it from one thread to the next under a lock.
    let buffers: [UnsafeMutablePointer<Float>]
    let workspace: Workspace

    init(slotSizes: [Int], workspaceBytes: Int) throws {
        var buffers: [UnsafeMutablePointer<Float>] = []
        for size in slotSizes {
            guard let raw = sc_aligned_alloc_checked(count: size) else {
                for buffer in buffers { sc_aligned_free(buffer) }
                throw SparseConvError.outOfMemory("plan buffer of \(size) floats")
            }
            buffers.append(raw)
        }
        self.buffers = buffers
        workspace = Workspace()
        try workspace.reserve(workspaceBytes)
    }

    deinit { for buffer in buffers { sc_aligned_free(buffer) } }
}

import CSparseConv

func sc_aligned_alloc_checked(count: Int) -> UnsafeMutablePointer<Float>? {
    let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
    guard !overflow, let raw = sc_aligned_alloc(bytes) else { return nil }
    return raw.bindMemory(to: Float.self, capacity: max(count, 1))
}

/// An immutable execution plan of a model for one batch size and thread
/// count: the execution path and packed weights of every convolution, and
/// the intermediate buffers, assigned so that values whose lifetimes do not
/// overlap share memory.
///
/// Running a plan allocates nothing per call once a context exists, and a
/// plan may run from several threads at once (each call uses its own
/// context). Create plans with `Planner`.
///
/// ```swift
/// let plan = try Planner(mode: .estimate).plan(try Zoo.resnet50.model())
/// print(plan)                         // per-layer paths and expected times
/// let y = try plan.run(x)             // x: [1, 3, 224, 224]
/// ```
public final class Plan: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; the context
    // pool is protected by a Mutex, and each run has its own context.
    /// The prepared model (batch norm folded, activations fused) that the plan runs.
    public let model: Model
    public let batch: Int
    public let threads: Int
    public let mode: Planner.Mode
    /// Per-node decisions, in execution order.
    public let layers: [LayerChoice]

    let steps: [Step]
    let slotSizes: [Int]
    let valueSlots: [Int]       // value id → slot (value 0 = the model input, slot -1)
    let outputValue: Int
    let workspaceBytes: Int
    public let inputShape: [Int]
    public let outputShape: [Int]
    private let pool = Mutex<[ExecutionContext]>([])

    init(model: Model, batch: Int, threads: Int, mode: Planner.Mode, layers: [LayerChoice], steps: [Step],
         valueSizes: [Int], outputValue: Int) throws {
        self.model = model
        self.batch = batch
        self.threads = threads
        self.mode = mode
        self.layers = layers
        self.steps = steps
        self.outputValue = outputValue
        inputShape = [batch] + model.inputShape
        outputShape = [batch] + model.shapes[model.outputName]!
        (slotSizes, valueSlots) = Plan.assignSlots(steps: steps, valueSizes: valueSizes, outputValue: outputValue)
        var bytes = 0
        for step in steps { if case .convolution(let conv) = step.kernel { bytes = max(bytes, try conv.workspaceSize(batch: batch, threads: threads)) } }
        workspaceBytes = bytes
        // A context holds all of these at once; a plan whose context cannot fit is refused here, not at the first run.
        var total = workspaceBytes
        for size in slotSizes {
            total = try ResourceLimits.sum(total, try ResourceLimits.checkAllocation(elements: size, elementSize: MemoryLayout<Float>.stride, "a plan buffer"),
                                           "the buffers of a plan for '\(model.name)'")
        }
        try ResourceLimits.checkAllocation(bytes: total, "one execution context of the plan for '\(model.name)' at batch \(batch)")
    }

    /// Greedy interval colouring: a value's slot is free again after its last reader ran.
    static func assignSlots(steps: [Step], valueSizes: [Int], outputValue: Int) -> ([Int], [Int]) {
        var lastUse = [Int](repeating: -1, count: valueSizes.count)
        for (index, step) in steps.enumerated() { for value in step.inputs { lastUse[value] = index } }
        lastUse[outputValue] = steps.count   // read by the caller at the end
        var slotSizes: [Int] = []
        var valueSlots = [Int](repeating: -1, count: valueSizes.count)
        var free: [Int] = []
        for (index, step) in steps.enumerated() {
            let need = valueSizes[step.output]
            // Best fit among free slots, growing the largest one if none fits.
            let fitting = free.filter { slotSizes[$0] >= need }.min { slotSizes[$0] < slotSizes[$1] }
            let slot: Int
            if let fitting {
                slot = fitting
            } else if let largest = free.max(by: { slotSizes[$0] < slotSizes[$1] }) {
                slot = largest
                slotSizes[slot] = need
            } else {
                slot = slotSizes.count
                slotSizes.append(need)
            }
            free.removeAll { $0 == slot }
            valueSlots[step.output] = slot
            // Inputs whose last reader is this step release their slots (after the step, so never aliased with its output).
            for value in Set(step.inputs) where value != 0 && lastUse[value] == index { free.append(valueSlots[value]) }
            if lastUse[step.output] < 0 { free.append(slot) }  // dead value: slot reusable right away
        }
        return (slotSizes, valueSlots)
    }

    /// Total expected milliseconds of the layers.
    public var expectedMilliseconds: Double { layers.reduce(0) { $0 + $1.expectedMilliseconds } }

    /// Bytes of intermediate buffers one context holds.
    public var bufferBytes: Int { slotSizes.reduce(0, +) * MemoryLayout<Float>.stride + workspaceBytes }

    /// A fresh context for `run(_:into:context:)`.
    public func makeContext() throws -> ExecutionContext {
        try ExecutionContext(slotSizes: slotSizes, workspaceBytes: workspaceBytes)
    }

    /// Runs the model on `input` (`[batch, C, H, W]`) and returns its output.
    /// Safe to call from several threads at once.
    public func run(_ input: Tensor) throws -> Tensor {
        let context = try pool.withLock { $0.popLast() } ?? makeContext()
        defer { pool.withLock { $0.append(context) } }
        var output = try Tensor(shape: outputShape)
        try run(input, into: &output, context: context)
        return output
    }

    /// Runs the model into a caller-provided output without allocating.
    /// - Parameters:
    ///   - input: `[batch, C, H, W]` as `inputShape`.
    ///   - output: shaped as `outputShape`.
    ///   - context: used by one run at a time.
    public func run(_ input: Tensor, into output: inout Tensor, context: ExecutionContext) throws {
        guard input.shape == inputShape else {
            throw SparseConvError.shapeMismatch(what: "model input", expected: inputShape, actual: input.shape)
        }
        guard output.shape == outputShape else {
            throw SparseConvError.shapeMismatch(what: "model output", expected: outputShape, actual: output.shape)
        }
        guard context.buffers.count == slotSizes.count, context.workspace.capacity >= workspaceBytes else {
            throw SparseConvError.invalidArgument("the execution context belongs to another plan")
        }
        try execute(input, context: context, eachStep: { _, run in try run() }, finish: { result in
            output.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: result, count: $0.count) }
        })
    }

    /// Runs every step once in order. `eachStep(index, run)` must call `run`
    /// (profiling times it); `finish` sees the output value before the
    /// input's storage is released.
    private func execute(_ input: Tensor, context: ExecutionContext,
                         eachStep: (Int, () throws -> Void) throws -> Void,
                         finish: (UnsafePointer<Float>) -> Void) throws {
        let threadCount = Int32(threads)
        try input.withUnsafeBufferPointer { inputBuffer in
            func pointer(_ value: Int) -> UnsafeMutablePointer<Float> {
                value == 0 ? UnsafeMutablePointer(mutating: inputBuffer.baseAddress!) : context.buffers[valueSlots[value]]
            }
            for (index, step) in steps.enumerated() {
                // The operand pointers live on the stack: a run allocates nothing.
                try withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: step.inputs.count) { inputs in
                    for (slot, value) in step.inputs.enumerated() { inputs[slot] = UnsafePointer(pointer(value)) }
                    try eachStep(index) {
                        try step.kernel.run(batch: batch, inputs: UnsafeBufferPointer(inputs), output: pointer(step.output),
                                            context: context, threads: threadCount)
                    }
                }
            }
            finish(UnsafePointer(pointer(outputValue)))
        }
    }
}

/// Measured time of one step of a plan.
public struct StepTiming: Sendable {
    public let name: String
    /// The step's kind ("convolution", "add", "max pool", ...).
    public let kind: String
    /// The chosen path, for convolutions.
    public let path: ExecutionPath?
    /// Median milliseconds over the profiled runs.
    public let milliseconds: Double
}

extension Plan {
    /// Runs the plan `repetitions` times (after one warm-up run) timing every
    /// step on its own, and returns each step's median: where a model's time
    /// actually goes, next to the planner's expectation in `layers`.
    public func profile(_ input: Tensor, repetitions: Int = 10) throws -> [StepTiming] {
        guard repetitions >= 1 else { throw SparseConvError.invalidArgument("profile needs at least one repetition") }
        guard input.shape == inputShape else {
            throw SparseConvError.shapeMismatch(what: "model input", expected: inputShape, actual: input.shape)
        }
        let context = try makeContext()
        var samples = [[Double]](repeating: [], count: steps.count)
        let clock = ContinuousClock()
        for run in 0...repetitions {   // run 0 warms up
            try execute(input, context: context, eachStep: { index, step in
                let start = clock.now
                try step()
                let (seconds, attoseconds) = (clock.now - start).components
                if run > 0 { samples[index].append((Double(seconds) + Double(attoseconds) * 1e-18) * 1e3) }
            }, finish: { _ in })
        }
        let pathByName = Dictionary(layers.compactMap { layer in layer.path.map { (layer.name, $0) } }, uniquingKeysWith: { a, _ in a })
        return steps.enumerated().map { index, step in
            let sorted = samples[index].sorted()
            return StepTiming(name: step.name, kind: step.kernel.kindName, path: pathByName[step.name],
                              milliseconds: sorted[sorted.count / 2])
        }
    }
}

extension Plan: CustomStringConvertible {
    /// A table: per layer name, shape, granularity and sparsity, chosen path, expected ms, share of total.
    public var description: String {
        let total = max(expectedMilliseconds, 1e-9)
        var rows: [[String]] = [["layer", "shape", "zeros fit", "sparsity", "path", "ms", "share"]]
        var otherMs = 0.0
        for layer in layers {
            guard let spec = layer.spec, let path = layer.path else { otherMs += layer.expectedMilliseconds; continue }
            rows.append([layer.name, spec.description, layer.granularity?.rawValue ?? "dense",
                         String(format1: layer.sparsity * 100) + "%", path.rawValue,
                         String(format3: layer.expectedMilliseconds),
                         String(format1: layer.expectedMilliseconds / total * 100) + "%"])
        }
        rows.append(["(other layers)", "", "", "", "", String(format3: otherMs), String(format1: otherMs / total * 100) + "%"])
        rows.append(["total", "", "", "", "", String(format3: expectedMilliseconds), "100%"])
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        var text = "Plan for \(model.name), batch \(batch), \(threads) thread(s), \(mode.rawValue) mode, \(Runtime.instructionSet.rawValue)\n"
        for row in rows {
            text += row.enumerated().map { c, cell in
                c >= 3 ? String(repeating: " ", count: widths[c] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[c] - cell.count)
            }.joined(separator: "  ") + "\n"
        }
        return text
    }
}

extension String {
    init(format1 value: Double) { self = Self.fixed(value, 1) }
    init(format3 value: Double) { self = Self.fixed(value, 3) }

    /// Fixed-point formatting without Foundation.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let integer = Int(rounded / scale)
        var fraction = String(Int(rounded.truncatingRemainder(dividingBy: scale)))
        while fraction.count < digits { fraction = "0" + fraction }
        return (value < 0 && rounded > 0 ? "-" : "") + "\(integer)" + (digits > 0 ? "." + fraction : "")
    }
}
