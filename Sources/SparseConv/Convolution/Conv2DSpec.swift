import CSparseConv

/// Zero padding on each side of the input, as ONNX allows (asymmetric).
public struct Padding: Sendable, Hashable, Codable, CustomStringConvertible {
    public var top: Int, left: Int, bottom: Int, right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }

    /// The same padding on all four sides.
    public init(_ all: Int) { self.init(top: all, left: all, bottom: all, right: all) }

    /// No padding.
    public static let zero = Padding(0)

    public var isSymmetric: Bool { top == bottom && left == right && top == left }

    public var description: String { isSymmetric ? "\(top)" : "(\(top),\(left),\(bottom),\(right))" }
}

/// The shape of one 2-D convolution: channels, input size, kernel, stride,
/// padding, dilation and groups. Validated when created, so an existing spec is
/// always runnable.
///
/// The output size is
/// `out = (in + padBefore + padAfter - dilation·(kernel-1) - 1) / stride + 1`.
///
/// ```swift
/// // ResNet-50's 3×3 convolution at 56×56
/// let spec = try Conv2DSpec(inChannels: 64, outChannels: 64, inputSize: (56, 56),
///                           kernelSize: (3, 3), padding: Padding(1))
/// spec.outputHeight  // 56
/// ```
public struct Conv2DSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    public let inChannels: Int
    public let outChannels: Int
    public let inputHeight: Int
    public let inputWidth: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideHeight: Int
    public let strideWidth: Int
    public let dilationHeight: Int
    public let dilationWidth: Int
    public let padding: Padding
    public let groups: Int
    /// Computed at construction.
    public let outputHeight: Int
    public let outputWidth: Int

    /// Creates and validates a convolution shape.
    /// - Parameters:
    ///   - inChannels: input channels, divisible by `groups`.
    ///   - outChannels: output channels (filters), divisible by `groups`.
    ///   - inputSize: input (height, width).
    ///   - kernelSize: (height, width) of each kernel.
    ///   - stride: (vertical, horizontal) step, default (1, 1).
    ///   - padding: zeros added around the input, default none.
    ///   - dilation: spacing between kernel taps, default (1, 1).
    ///   - groups: channel groups; `groups == inChannels == outChannels` is depthwise.
    /// - Throws: `SparseConvError.invalidSpec` naming the offending field, or
    ///   `.sizeOverflow` when the sizes cannot be represented.
    public init(inChannels: Int, outChannels: Int, inputSize: (height: Int, width: Int),
                kernelSize: (height: Int, width: Int), stride: (height: Int, width: Int) = (1, 1),
                padding: Padding = .zero, dilation: (height: Int, width: Int) = (1, 1),
                groups: Int = 1) throws {
        func positive(_ value: Int, _ name: String) throws {
            guard value >= 1 else { throw SparseConvError.invalidSpec("\(name) must be ≥ 1, got \(value)") }
            guard value <= Int(Int32.max) else { throw SparseConvError.sizeOverflow("\(name) = \(value)") }
        }
        try positive(inChannels, "inChannels")
        try positive(outChannels, "outChannels")
        try positive(inputSize.height, "input height")
        try positive(inputSize.width, "input width")
        try positive(kernelSize.height, "kernel height")
        try positive(kernelSize.width, "kernel width")
        try positive(stride.height, "stride height")
        try positive(stride.width, "stride width")
        try positive(dilation.height, "dilation height")
        try positive(dilation.width, "dilation width")
        try positive(groups, "groups")
        for (value, name) in [(padding.top, "top"), (padding.left, "left"), (padding.bottom, "bottom"), (padding.right, "right")] {
            guard value >= 0 else { throw SparseConvError.invalidSpec("padding \(name) must be ≥ 0, got \(value)") }
            guard value <= Int(Int32.max) else { throw SparseConvError.sizeOverflow("padding \(name) = \(value)") }
        }
        guard inChannels % groups == 0 else {
            throw SparseConvError.invalidSpec("inChannels \(inChannels) is not divisible by groups \(groups)")
        }
        guard outChannels % groups == 0 else {
            throw SparseConvError.invalidSpec("outChannels \(outChannels) is not divisible by groups \(groups)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        inputHeight = inputSize.height
        inputWidth = inputSize.width
        kernelHeight = kernelSize.height
        kernelWidth = kernelSize.width
        strideHeight = stride.height
        strideWidth = stride.width
        dilationHeight = dilation.height
        dilationWidth = dilation.width
        self.padding = padding
        self.groups = groups

        // Sizes are < 2^31 each, so these Int (64-bit) products cannot overflow.
        let effectiveKernelH = dilation.height * (kernelSize.height - 1) + 1
        let effectiveKernelW = dilation.width * (kernelSize.width - 1) + 1
        let spanH = inputSize.height + padding.top + padding.bottom
        let spanW = inputSize.width + padding.left + padding.right
        guard spanH >= effectiveKernelH, spanW >= effectiveKernelW else {
            throw SparseConvError.invalidSpec(
                "output would be empty: padded input \(spanH)×\(spanW) is smaller than the dilated kernel \(effectiveKernelH)×\(effectiveKernelW)")
        }
        outputHeight = (spanH - effectiveKernelH) / stride.height + 1
        outputWidth = (spanW - effectiveKernelW) / stride.width + 1

        var cDesc = Self.makeDesc(inChannels, outChannels, groups, inputSize, kernelSize, stride, dilation, padding)
        var oh: Int32 = 0, ow: Int32 = 0
        let status = sc_conv_desc_output_size(&cDesc, &oh, &ow)
        if status == SC_SIZE_OVERFLOW {
            throw SparseConvError.sizeOverflow("convolution \(inChannels)→\(outChannels) at \(inputSize.height)×\(inputSize.width): per-image tensors must hold fewer than 2^31 elements")
        }
        try SparseConvError.check(status, "convolution description")
        guard Int(oh) == outputHeight, Int(ow) == outputWidth else {
            throw SparseConvError.invalidSpec("inconsistent output size")
        }
    }

    /// A square-kernel convenience: the same value for height and width.
    public init(inChannels: Int, outChannels: Int, inputSize: Int, kernelSize: Int, stride: Int = 1,
                padding: Int = 0, dilation: Int = 1, groups: Int = 1) throws {
        try self.init(inChannels: inChannels, outChannels: outChannels, inputSize: (inputSize, inputSize),
                      kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                      padding: Padding(padding), dilation: (dilation, dilation), groups: groups)
    }

    private static func makeDesc(_ inC: Int, _ outC: Int, _ groups: Int, _ input: (height: Int, width: Int),
                                 _ kernel: (height: Int, width: Int), _ stride: (height: Int, width: Int),
                                 _ dilation: (height: Int, width: Int), _ padding: Padding) -> sc_conv_desc {
        sc_conv_desc(in_channels: Int32(inC), out_channels: Int32(outC), groups: Int32(groups),
                     in_h: Int32(input.height), in_w: Int32(input.width),
                     kernel_h: Int32(kernel.height), kernel_w: Int32(kernel.width),
                     stride_h: Int32(stride.height), stride_w: Int32(stride.width),
                     dilation_h: Int32(dilation.height), dilation_w: Int32(dilation.width),
                     pad_top: Int32(padding.top), pad_left: Int32(padding.left),
                     pad_bottom: Int32(padding.bottom), pad_right: Int32(padding.right))
    }

    var cDescriptor: sc_conv_desc {
        Self.makeDesc(inChannels, outChannels, groups, (inputHeight, inputWidth), (kernelHeight, kernelWidth),
                      (strideHeight, strideWidth), (dilationHeight, dilationWidth), padding)
    }

    /// Input channels seen by each filter.
    public var inChannelsPerGroup: Int { inChannels / groups }
    /// Filters in each group.
    public var outChannelsPerGroup: Int { outChannels / groups }
    /// `groups == inChannels == outChannels`.
    public var isDepthwise: Bool { groups > 1 && groups == inChannels && groups == outChannels }
    /// OIHW: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
    public var weightShape: [Int] { [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth] }
    /// Number of weights.
    public var weightCount: Int { outChannels * inChannelsPerGroup * kernelHeight * kernelWidth }
    /// NCHW input shape for a batch.
    public func inputShape(batch: Int = 1) -> [Int] { [batch, inChannels, inputHeight, inputWidth] }
    /// NCHW output shape for a batch.
    public func outputShape(batch: Int = 1) -> [Int] { [batch, outChannels, outputHeight, outputWidth] }
    /// Multiply-accumulates of the dense convolution per image.
    public var macs: Int { weightCount * outputHeight * outputWidth }
    /// Floating-point operations (2 per multiply-accumulate) of the dense convolution per image.
    public var flops: Double { 2 * Double(macs) }

    public var description: String {
        var text = "\(inChannels)→\(outChannels) \(kernelHeight)×\(kernelWidth) @\(inputHeight)×\(inputWidth)"
        if strideHeight != 1 || strideWidth != 1 { text += " s\(strideHeight == strideWidth ? "\(strideHeight)" : "\(strideHeight)×\(strideWidth)")" }
        if padding != .zero { text += " p\(padding)" }
        if dilationHeight != 1 || dilationWidth != 1 { text += " d\(dilationHeight == dilationWidth ? "\(dilationHeight)" : "\(dilationHeight)×\(dilationWidth)")" }
        if groups != 1 { text += " g\(groups)" }
        return text
    }

    // Codable through a validating decoder so a decoded spec is as valid as a constructed one.
    private enum CodingKeys: String, CodingKey {
        case inChannels, outChannels, inputHeight, inputWidth, kernelHeight, kernelWidth
        case strideHeight, strideWidth, dilationHeight, dilationWidth, padding, groups
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(inChannels: c.decode(Int.self, forKey: .inChannels),
                      outChannels: c.decode(Int.self, forKey: .outChannels),
                      inputSize: (c.decode(Int.self, forKey: .inputHeight), c.decode(Int.self, forKey: .inputWidth)),
                      kernelSize: (c.decode(Int.self, forKey: .kernelHeight), c.decode(Int.self, forKey: .kernelWidth)),
                      stride: (c.decode(Int.self, forKey: .strideHeight), c.decode(Int.self, forKey: .strideWidth)),
                      padding: c.decode(Padding.self, forKey: .padding),
                      dilation: (c.decode(Int.self, forKey: .dilationHeight), c.decode(Int.self, forKey: .dilationWidth)),
                      groups: c.decode(Int.self, forKey: .groups))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inChannels, forKey: .inChannels); try c.encode(outChannels, forKey: .outChannels)
        try c.encode(inputHeight, forKey: .inputHeight); try c.encode(inputWidth, forKey: .inputWidth)
        try c.encode(kernelHeight, forKey: .kernelHeight); try c.encode(kernelWidth, forKey: .kernelWidth)
        try c.encode(strideHeight, forKey: .strideHeight); try c.encode(strideWidth, forKey: .strideWidth)
        try c.encode(dilationHeight, forKey: .dilationHeight); try c.encode(dilationWidth, forKey: .dilationWidth)
        try c.encode(padding, forKey: .padding); try c.encode(groups, forKey: .groups)
    }
}
