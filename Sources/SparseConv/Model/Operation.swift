/// Hyperparameters and weights of a convolution inside a model. Unlike
/// `Conv2DSpec` it does not fix the input size: a model infers it.
public struct ConvolutionLayer: Sendable, Equatable {
    public var outChannels: Int
    public var kernelSize: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: Padding
    public var dilation: (height: Int, width: Int)
    public var groups: Int
    /// OIHW `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
    public var weight: Tensor
    public var bias: [Float]?
    /// Fused when the model is prepared (a following ReLU/ReLU6 moves here).
    public var activation: Activation

    public init(weight: Tensor, bias: [Float]? = nil, stride: (height: Int, width: Int) = (1, 1),
                padding: Padding = .zero, dilation: (height: Int, width: Int) = (1, 1), groups: Int = 1,
                activation: Activation = .none) throws {
        guard weight.shape.count == 4 else {
            throw SparseConvError.invalidSpec("convolution weight must be OIHW (4-D), got shape \(weight.shape)")
        }
        if let bias, bias.count != weight.shape[0] {
            throw SparseConvError.shapeMismatch(what: "convolution bias", expected: [weight.shape[0]], actual: [bias.count])
        }
        outChannels = weight.shape[0]
        kernelSize = (weight.shape[2], weight.shape[3])
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    /// The full spec for an input of `channels × height × width`.
    public func spec(inChannels: Int, height: Int, width: Int) throws -> Conv2DSpec {
        let spec = try Conv2DSpec(inChannels: inChannels, outChannels: outChannels, inputSize: (height, width),
                                  kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation,
                                  groups: groups)
        guard spec.weightShape == weight.shape else {
            throw SparseConvError.shapeMismatch(what: "convolution weight for \(inChannels) input channels",
                                                expected: spec.weightShape, actual: weight.shape)
        }
        return spec
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.outChannels == b.outChannels && a.kernelSize == b.kernelSize && a.stride == b.stride && a.padding == b.padding
            && a.dilation == b.dilation && a.groups == b.groups && a.weight == b.weight && a.bias == b.bias
            && a.activation == b.activation
    }
}

/// Inference-time batch normalization: `y = (x - mean) / sqrt(variance + epsilon) * scale + shift`.
public struct BatchNormLayer: Sendable, Equatable {
    public var scale: [Float], shift: [Float], mean: [Float], variance: [Float]
    public var epsilon: Float

    public init(scale: [Float], shift: [Float], mean: [Float], variance: [Float], epsilon: Float = 1e-5) throws {
        let n = scale.count
        guard n > 0, shift.count == n, mean.count == n, variance.count == n else {
            throw SparseConvError.shapeMismatch(what: "batch norm parameters", expected: [n],
                                                actual: [shift.count, mean.count, variance.count])
        }
        guard epsilon >= 0, variance.allSatisfy({ $0 + epsilon > 0 || $0.isNaN }) else {
            throw SparseConvError.invalidArgument("batch norm variance + epsilon must be positive")
        }
        self.scale = scale; self.shift = shift; self.mean = mean; self.variance = variance; self.epsilon = epsilon
    }

    public var channels: Int { scale.count }

    /// Per-channel multiplier and offset: `y = x * a + b`.
    public var affine: (multiplier: [Float], offset: [Float]) {
        var a = [Float](repeating: 0, count: channels), b = a
        for c in 0..<channels {
            let inv = 1 / (variance[c] + epsilon).squareRoot()
            a[c] = scale[c] * inv
            b[c] = shift[c] - mean[c] * a[c]
        }
        return (a, b)
    }
}

/// Max or average pooling window.
public struct PoolLayer: Sendable, Equatable {
    public var kernelSize: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: Padding
    /// For average pooling: whether padded zeros count in the divisor (ONNX `count_include_pad`).
    public var countIncludePad: Bool
    /// Whether the output size rounds up (ONNX `ceil_mode`).
    public var ceilMode: Bool
    /// Spacing of the window's taps (ONNX MaxPool `dilations`); max pooling only.
    public var dilation: (height: Int, width: Int)

    public init(kernelSize: (height: Int, width: Int), stride: (height: Int, width: Int)? = nil, padding: Padding = .zero,
                countIncludePad: Bool = false, ceilMode: Bool = false, dilation: (height: Int, width: Int) = (1, 1)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
        self.dilation = dilation
    }

    /// The extent the window spans: `(kernel - 1) · dilation + 1`.
    public var span: (height: Int, width: Int) {
        ((kernelSize.height - 1) * dilation.height + 1, (kernelSize.width - 1) * dilation.width + 1)
    }

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(kernelSize: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: Padding(padding))
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernelSize == b.kernelSize && a.stride == b.stride && a.padding == b.padding
            && a.countIncludePad == b.countIncludePad && a.ceilMode == b.ceilMode && a.dilation == b.dilation
    }

    /// Output extent along one axis, or nil when the window never fits.
    static func outputExtent(_ input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, ceil: Bool) -> Int? {
        let span = input + padBefore + padAfter - kernel
        guard span >= 0, stride >= 1, kernel >= 1 else { return nil }
        var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        // ONNX/PyTorch: the last window must start inside the input or left padding.
        if ceil, (out - 1) * stride >= input + padBefore { out -= 1 }
        return out
    }
}

/// A fully connected layer: `y = W x + b`, `W` of shape `[outFeatures, inFeatures]`.
public struct FullyConnectedLayer: Sendable, Equatable {
    public var weight: Tensor
    public var bias: [Float]?

    public init(weight: Tensor, bias: [Float]? = nil) throws {
        guard weight.shape.count == 2 else {
            throw SparseConvError.invalidSpec("fully connected weight must be [out, in], got \(weight.shape)")
        }
        if let bias, bias.count != weight.shape[0] {
            throw SparseConvError.shapeMismatch(what: "fully connected bias", expected: [weight.shape[0]], actual: [bias.count])
        }
        self.weight = weight
        self.bias = bias
    }

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }
}

/// What a node of a model computes.
public enum LayerOperation: Sendable, Equatable {
    case convolution(ConvolutionLayer)
    case batchNorm(BatchNormLayer)
    case relu
    case relu6
    case sigmoid
    /// Clamp to [min, max] (ONNX Clip with other bounds than ReLU6's).
    case clip(min: Float, max: Float)
    case maxPool(PoolLayer)
    case averagePool(PoolLayer)
    case globalAveragePool
    /// Element-wise sum of two same-shape inputs (residual add).
    case add
    /// Concatenation along channels of any number of inputs.
    case concat
    /// ShuffleNet's channel shuffle: `[N, g, C/g, H, W]` transposed to `[N, C/g, g, H, W]`.
    case channelShuffle(groups: Int)
    /// Per-channel scale: input 0 `[N, C, H, W]` times input 1 `[N, C, 1, 1]` (squeeze-excitation).
    case channelScale
    case fullyConnected(FullyConnectedLayer)
    /// `[N, ...]` to `[N, product]`.
    case flatten
    /// Softmax over the last axis.
    case softmax
    /// `x < 0 ? alpha·x : x`.
    case leakyRelu(alpha: Float)
    /// `x < 0 ? slope[c]·x : x` with one slope per channel (or one for all).
    case prelu(slopes: [Float])
    case tanh
    /// `max(0, min(1, alpha·x + beta))`.
    case hardSigmoid(alpha: Float, beta: Float)
    /// `x · max(0, min(1, x/6 + 1/2))` (MobileNet v3).
    case hardSwish
    /// `x · sigmoid(x)` (SiLU / Swish: EfficientNet).
    case silu
    /// Output channel k is input channel `indices[k]` (ONNX Split, Slice or
    /// Gather along channels: ShuffleNet v2's channel split).
    case channelSelect(indices: [Int])

    /// A short name for messages and plan descriptions.
    public var kindName: String {
        switch self {
        case .convolution: return "conv"
        case .batchNorm: return "batchnorm"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .sigmoid: return "sigmoid"
        case .clip: return "clip"
        case .maxPool: return "maxpool"
        case .averagePool: return "avgpool"
        case .globalAveragePool: return "globalavgpool"
        case .add: return "add"
        case .concat: return "concat"
        case .channelShuffle: return "shuffle"
        case .channelScale: return "scale"
        case .fullyConnected: return "fc"
        case .flatten: return "flatten"
        case .softmax: return "softmax"
        case .leakyRelu: return "leakyrelu"
        case .prelu: return "prelu"
        case .tanh: return "tanh"
        case .hardSigmoid: return "hardsigmoid"
        case .hardSwish: return "hardswish"
        case .silu: return "silu"
        case .channelSelect: return "select"
        }
    }

    /// Inputs the operation takes (nil = one or more).
    var arity: Int? {
        switch self {
        case .add, .channelScale: return 2
        case .concat: return nil
        default: return 1
        }
    }
}

/// One named node of a model graph.
public struct Node: Sendable, Equatable {
    public var name: String
    public var operation: LayerOperation
    /// Names of the nodes (or `Model.inputName`) whose outputs feed this one.
    public var inputs: [String]

    public init(_ name: String, _ operation: LayerOperation, inputs: [String]) {
        self.name = name
        self.operation = operation
        self.inputs = inputs
    }
}
