import CSparseConv

/// An element-wise function fused into the end of a convolution.
public enum Activation: String, Sendable, Hashable, Codable, CaseIterable {
    case none
    /// `max(x, 0)`
    case relu
    /// `min(max(x, 0), 6)`
    case relu6

    var cValue: sc_activation {
        switch self {
        case .none: return SC_ACTIVATION_NONE
        case .relu: return SC_ACTIVATION_RELU
        case .relu6: return SC_ACTIVATION_RELU6
        }
    }
}

/// How a convolution is computed. Each path has its own packed weight format.
public enum ExecutionPath: String, Sendable, Hashable, Codable, CaseIterable {
    /// Any convolution: packed GEMM over implicit im2col.
    case dense
    /// `groups == inChannels == outChannels`: a direct stencil per channel.
    case depthwise
    /// `groups > 1`: per-group GEMMs in one parallel loop.
    case grouped
    /// 1×2 blocks (one weight position in output channels 2j, 2j+1) kept or removed.
    case block1x2
    /// Whole kernels (one output/input channel pair) kept or removed.
    case kernel
    /// Whole filters removed; the rest runs as a smaller dense convolution.
    case channel
    /// Any weight kept or removed (unstructured).
    case element

    var cValue: sc_path {
        switch self {
        case .dense: return SC_PATH_DENSE
        case .depthwise: return SC_PATH_DEPTHWISE
        case .grouped: return SC_PATH_GROUPED
        case .block1x2: return SC_PATH_BLOCK1X2
        case .kernel: return SC_PATH_KERNEL
        case .channel: return SC_PATH_CHANNEL
        case .element: return SC_PATH_ELEMENT
        }
    }

    /// Whether the path skips pruned weights.
    public var isSparse: Bool { ![.dense, .depthwise, .grouped].contains(self) }

    /// The dense path that suits a shape: depthwise, grouped or dense.
    public static func denseDefault(for spec: Conv2DSpec) -> ExecutionPath {
        spec.isDepthwise ? .depthwise : spec.groups > 1 ? .grouped : .dense
    }
}

/// Reusable scratch memory for running convolutions without allocating.
///
/// A workspace grows to the largest size asked of it. It is not safe to use
/// one workspace from two runs at the same time; give each thread its own.
public final class Workspace {
    private(set) var pointer: UnsafeMutableRawPointer?
    /// Bytes currently reserved.
    public private(set) var capacity: Int = 0

    public init() {}

    /// Ensures at least `bytes` are available.
    public func reserve(_ bytes: Int) throws {
        guard bytes > capacity else { return }
        try ResourceLimits.checkAllocation(bytes: bytes, "a convolution workspace")
        guard let fresh = sc_aligned_alloc(bytes) else { throw SparseConvError.outOfMemory("workspace of \(bytes) bytes") }
        sc_aligned_free(pointer)
        pointer = fresh
        capacity = bytes
    }

    deinit { sc_aligned_free(pointer) }
}

/// A convolution layer packed for one execution path: spec, weights, optional
/// bias and fused activation.
///
/// Packing happens once, in the initializer; calls only compute. The object is
/// immutable and may be called from several threads at once (each call uses
/// its own workspace and output).
///
/// ```swift
/// let spec = try Conv2DSpec(inChannels: 16, outChannels: 32, inputSize: 28, kernelSize: 3, padding: 1)
/// let weight = try Tensor.random(shape: spec.weightShape, seed: 1)
/// let conv = try Conv2D(spec: spec, weight: weight, bias: nil, activation: .relu)
/// let y = try conv(try Tensor.random(shape: spec.inputShape(batch: 1), seed: 2))
/// ```
public final class Conv2D: @unchecked Sendable {
    // @unchecked: `handle` points to an immutable C operator whose runs are
    // thread-safe with separate workspaces and outputs (see sparseconv.h).
    public let spec: Conv2DSpec
    public let activation: Activation
    public let path: ExecutionPath
    /// The instruction-set variant the kernels run.
    public let instructionSet: InstructionSet
    private let handle: OpaquePointer

    /// Packs a convolution.
    /// - Parameters:
    ///   - spec: the validated shape.
    ///   - weight: OIHW weights, shape `spec.weightShape`; pruned weights are zeros.
    ///   - bias: `outChannels` values, or nil.
    ///   - activation: fused after the bias.
    ///   - path: the execution path; by default the dense path that suits the shape.
    ///     A sparse path keeps a weight iff it is nonzero, at its granularity,
    ///     unless `keep` says otherwise.
    ///   - keep: optional per-weight keep flags (OIHW, `true` = kept), e.g. from a
    ///     `PruningMask`; overrides the nonzero test for sparse paths.
    ///   - instructionSet: force a variant (tests use this); nil picks the best.
    /// - Throws: `.shapeMismatch` for wrong weight or bias sizes, `.unsupported`
    ///   when the path cannot run this shape or the CPU lacks the instruction set.
    public init(spec: Conv2DSpec, weight: Tensor, bias: [Float]? = nil, activation: Activation = .none,
                path: ExecutionPath? = nil, keep: [Bool]? = nil, instructionSet: InstructionSet? = nil) throws {
        guard weight.shape == spec.weightShape else {
            throw SparseConvError.shapeMismatch(what: "convolution weight", expected: spec.weightShape, actual: weight.shape)
        }
        if let bias, bias.count != spec.outChannels {
            throw SparseConvError.shapeMismatch(what: "convolution bias", expected: [spec.outChannels], actual: [bias.count])
        }
        if let keep, keep.count != spec.weightCount {
            throw SparseConvError.shapeMismatch(what: "keep mask", expected: spec.weightShape, actual: [keep.count])
        }
        let chosenPath = path ?? ExecutionPath.denseDefault(for: spec)
        if let instructionSet, !instructionSet.isSupported {
            throw SparseConvError.unsupported("this CPU has no \(instructionSet.rawValue) (best: \(Runtime.instructionSet.rawValue))")
        }
        var desc = spec.cDescriptor
        var op: OpaquePointer?
        let maskBytes: [UInt8]? = keep.map { $0.map { $0 ? 1 : 0 } }
        let status: sc_status = weight.withUnsafeBufferPointer { weights in
            func create(_ mask: UnsafePointer<UInt8>?, _ biasPointer: UnsafePointer<Float>?) -> sc_status {
                sc_conv_op_create(chosenPath.cValue, &desc, weights.baseAddress, mask, biasPointer,
                                  activation.cValue, instructionSet?.cValue ?? SC_ISA_AUTO, &op)
            }
            func withMask(_ biasPointer: UnsafePointer<Float>?) -> sc_status {
                if let maskBytes { return maskBytes.withUnsafeBufferPointer { create($0.baseAddress, biasPointer) } }
                return create(nil, biasPointer)
            }
            if let bias { return bias.withUnsafeBufferPointer { withMask($0.baseAddress) } }
            return withMask(nil)
        }
        if status == SC_UNSUPPORTED {
            throw SparseConvError.unsupported("the \(chosenPath.rawValue) path cannot run \(spec)")
        }
        try SparseConvError.check(status, "packing \(chosenPath.rawValue) convolution \(spec)")
        guard let op else { throw SparseConvError.unsupported("the \(chosenPath.rawValue) path returned no operator") }
        handle = op
        self.spec = spec
        self.activation = activation
        self.path = chosenPath
        self.instructionSet = InstructionSet(sc_conv_op_isa(op))
    }

    /// Packs a pruned convolution for the sparse path of the mask's granularity
    /// (or another `path`, e.g. dense, to compare).
    /// - Parameters:
    ///   - weight: OIHW weights; pruned ones should already be zero (`mask.apply(to:)`).
    ///   - mask: which weights are kept; its spec must equal `spec`.
    public convenience init(spec: Conv2DSpec, weight: Tensor, bias: [Float]? = nil, activation: Activation = .none,
                            mask: PruningMask, path: ExecutionPath? = nil, instructionSet: InstructionSet? = nil) throws {
        guard mask.spec == spec else {
            throw SparseConvError.shapeMismatch(what: "pruning mask (its convolution differs)", expected: spec.weightShape,
                                                actual: mask.spec.weightShape)
        }
        let chosen = path ?? mask.granularity.path
        var effectiveBias = bias
        if chosen == .channel, var b = bias {
            // A removed filter takes its bias with it (DESIGN.md): the C path writes zeros.
            for o in mask.removedFilters { b[o] = 0 }
            effectiveBias = b
        }
        try self.init(spec: spec, weight: weight, bias: effectiveBias, activation: activation, path: chosen,
                      keep: chosen.isSparse ? mask.keep : nil, instructionSet: instructionSet)
    }

    deinit { sc_conv_op_destroy(handle) }

    /// Weights the path multiplies (nonzeros at its granularity; every weight for dense paths).
    public var storedWeights: Int { Int(sc_conv_op_stored_weights(handle)) }
    /// Bytes of packed weights and indices.
    public var packedBytes: Int { Int(sc_conv_op_packed_bytes(handle)) }
    /// Fraction of the spec's weights that the path multiplies.
    public var density: Double { Double(storedWeights) / Double(spec.weightCount) }
    /// Floating-point operations actually performed per image (2 per stored weight per output pixel).
    public var usefulFlops: Double { 2 * Double(storedWeights) * Double(spec.outputHeight * spec.outputWidth) }

    /// Output channels the operator writes as exact zeros (filters removed by the channel path).
    public var deadOutputChannels: [Int] {
        var flags = [UInt8](repeating: 0, count: spec.outChannels)
        _ = flags.withUnsafeMutableBufferPointer { sc_conv_op_dead_output_channels(handle, $0.baseAddress) }
        return flags.indices.filter { flags[$0] != 0 }
    }

    /// Scratch bytes one call needs for this batch size and thread count.
    public func workspaceSize(batch: Int, threads: Int = 0) throws -> Int {
        guard batch >= 1, batch <= Int(Int32.max) else { throw SparseConvError.invalidArgument("batch must be ≥ 1, got \(batch)") }
        let bytes = sc_conv_op_workspace_size(handle, Int32(batch), try checkedThreads(threads))
        guard bytes != Int.max, bytes < Int.max else { throw SparseConvError.sizeOverflow("workspace for batch \(batch)") }
        return Int(bytes)
    }

    /// Runs the convolution and returns a new output tensor.
    /// - Parameters:
    ///   - input: NCHW `[batch, inChannels, inputHeight, inputWidth]`.
    ///   - threads: 0 for all cores.
    public func callAsFunction(_ input: Tensor, threads: Int = 0) throws -> Tensor {
        let batch = try checkedBatch(input)
        var output = try Tensor(shape: spec.outputShape(batch: batch))
        try run(input, into: &output, workspace: Workspace(), threads: threads)
        return output
    }

    /// Runs the convolution into a caller-provided output, without allocating
    /// when `workspace` is already large enough.
    /// - Parameters:
    ///   - input: NCHW `[batch, inChannels, inputHeight, inputWidth]`.
    ///   - output: NCHW `[batch, outChannels, outputHeight, outputWidth]`; overwritten.
    ///   - workspace: scratch memory, grown if needed; reuse it across calls.
    ///   - threads: 0 for all cores.
    public func run(_ input: Tensor, into output: inout Tensor, workspace: Workspace, threads: Int = 0) throws {
        let batch = try checkedBatch(input)
        guard output.shape == spec.outputShape(batch: batch) else {
            throw SparseConvError.shapeMismatch(what: "convolution output", expected: spec.outputShape(batch: batch), actual: output.shape)
        }
        let threadCount = try checkedThreads(threads)
        try workspace.reserve(try workspaceSize(batch: batch, threads: threads))
        let status = input.withUnsafeBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                sc_conv_op_run(handle, Int32(batch), inputBuffer.baseAddress, outputBuffer.baseAddress,
                               workspace.pointer, workspace.capacity, threadCount)
            }
        }
        try SparseConvError.check(status, "running \(path.rawValue) convolution \(spec)")
    }

    /// Runs on raw buffers already checked by the caller (the plan executor).
    func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
             workspace: Workspace, threads: Int32) throws {
        let status = sc_conv_op_run(handle, Int32(batch), input, output, workspace.pointer, workspace.capacity, threads)
        try SparseConvError.check(status, "running \(path.rawValue) convolution \(spec)")
    }

    private func checkedBatch(_ input: Tensor) throws -> Int {
        guard input.shape.count == 4, input.shape[1] == spec.inChannels,
              input.shape[2] == spec.inputHeight, input.shape[3] == spec.inputWidth else {
            throw SparseConvError.shapeMismatch(what: "convolution input", expected: spec.inputShape(batch: input.shape.first ?? 1), actual: input.shape)
        }
        guard input.shape[0] <= Int(Int32.max) else { throw SparseConvError.sizeOverflow("batch \(input.shape[0])") }
        return input.shape[0]
    }
}

/// The plain reference convolution every path is checked against.
public enum Reference {
    /// A serial, obviously-correct convolution (double accumulation).
    /// - Parameters:
    ///   - input: NCHW `[batch, inChannels, inputHeight, inputWidth]`.
    ///   - weight: OIHW `spec.weightShape`.
    ///   - bias: `outChannels` values or nil.
    public static func conv2d(_ spec: Conv2DSpec, input: Tensor, weight: Tensor, bias: [Float]? = nil,
                              activation: Activation = .none) throws -> Tensor {
        guard weight.shape == spec.weightShape else {
            throw SparseConvError.shapeMismatch(what: "convolution weight", expected: spec.weightShape, actual: weight.shape)
        }
        guard input.shape.count == 4, Array(input.shape.dropFirst()) == Array(spec.inputShape().dropFirst()) else {
            throw SparseConvError.shapeMismatch(what: "convolution input", expected: spec.inputShape(), actual: input.shape)
        }
        if let bias, bias.count != spec.outChannels {
            throw SparseConvError.shapeMismatch(what: "convolution bias", expected: [spec.outChannels], actual: [bias.count])
        }
        let batch = input.shape[0]
        var output = try Tensor(shape: spec.outputShape(batch: batch))
        var desc = spec.cDescriptor
        let status = input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    if let bias {
                        return bias.withUnsafeBufferPointer { b in
                            sc_conv2d_reference(&desc, Int32(batch), x.baseAddress, w.baseAddress, b.baseAddress, activation.cValue, y.baseAddress)
                        }
                    }
                    return sc_conv2d_reference(&desc, Int32(batch), x.baseAddress, w.baseAddress, nil, activation.cValue, y.baseAddress)
                }
            }
        }
        try SparseConvError.check(status, "reference convolution \(spec)")
        return output
    }
}
