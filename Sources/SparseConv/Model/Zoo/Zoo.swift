/// The built-in model zoo: well-known convolutional networks built in Swift
/// with seeded random weights, so every program and test has a model to run
/// without a file.
///
/// The architectures follow the papers and torchvision (node names are
/// torchvision's module paths where there is one), dropout is omitted
/// (inference), and the outputs are logits (no softmax). The weights are
/// random, so the predictions mean nothing; batch-norm statistics are random
/// too rather than measured, so activations grow by about √2 per residual add
/// (ResNet-50's logits are in the hundreds), which float32 carries easily.
/// The models exist to be timed, pruned and compared across execution paths.
/// Parameter counts use torchvision's convention (``Model/parameterCount``):
///
/// | Model | Input | Parameters |
/// |---|---|---|
/// | `lenet5` | 1×32×32 | 61,706 |
/// | `alexnet` (groups = 2 in conv2, conv4, conv5) | 3×224×224 | 60,209,960 |
/// | `vgg16` | 3×224×224 | 138,357,544 (= torchvision) |
/// | `resnet18` | 3×224×224 | 11,689,512 (= torchvision) |
/// | `resnet50` | 3×224×224 | 25,557,032 (= torchvision) |
/// | `mobilenetV1` | 3×224×224 | 4,231,976 |
/// | `mobilenetV2` | 3×224×224 | 3,504,872 (= torchvision) |
/// | `shufflenetV1` (g = 3, 1×) | 3×224×224 | 1,865,728 |
/// | `seResNetBlock` | 64×56×56 | 74,564 |
/// | `cifarDilated` | 3×32×32 | 113,482 |
/// | `cifarLargeKernel` | 3×32×32 | 637,770 |
/// | `cifarCascade` | 3×32×32 | 335,434 |
///
/// ```swift
/// let model = try Zoo.resnet50.model(seed: 42)
/// model.inputShape          // [3, 224, 224]
/// model.shapes[model.outputName]  // [1000]
/// let small = try Zoo.mobilenetV2.model(inputSize: 96)
/// ```
public enum Zoo: String, CaseIterable, Sendable {
    /// LeNet-5 (LeCun et al. 1998) with ReLU: conv 5×5 6, average pool, conv 5×5 16,
    /// average pool (LeCun's subsampling), fully connected 120, 84, 10. Input
    /// 1×32×32 only. 61,706 parameters.
    case lenet5
    /// AlexNet with torchvision's channel counts (64, 192, 384, 256, 256) and
    /// first convolution (11×11, stride 4, padding 2), but with the original
    /// two-GPU split of Krizhevsky et al. 2012: conv2, conv4 and conv5 have
    /// `groups = 2`. 60,209,960 parameters (torchvision's ungrouped AlexNet has
    /// 61,100,840).
    case alexnet
    /// VGG-16 without batch norm, exactly torchvision's `vgg16`: 138,357,544
    /// parameters (550 MB of weights).
    case vgg16
    /// ResNet-18, exactly torchvision's `resnet18`: 11,689,512 parameters.
    case resnet18
    /// ResNet-50 v1.5 (stride on the bottleneck's 3×3 convolution), exactly
    /// torchvision's `resnet50`: 25,557,032 parameters.
    case resnet50
    /// MobileNet v1 (Howard et al. 2017), width 1.0: a 3×3 stride-2 convolution
    /// and 13 depthwise-separable blocks, each convolution followed by batch
    /// norm and ReLU; global average pooling and FC 1000. 4,231,976 parameters,
    /// the usual figure with batch norm (4,210,088 without).
    case mobilenetV1
    /// MobileNet v2 (Sandler et al. 2018), width 1.0, exactly torchvision's
    /// `mobilenet_v2`: inverted residuals with ReLU6 and linear bottlenecks,
    /// 3,504,872 parameters.
    case mobilenetV2
    /// ShuffleNet v1 (Zhang et al. 2018), the paper's 1× model with g = 3:
    /// grouped 1×1 convolutions, channel shuffle, depthwise 3×3, and an
    /// average-pool-and-concatenate shortcut where the stride is 2 (PyTorch's
    /// `count_include_pad` average pooling). 1,865,728 parameters: Megvii's
    /// reference implementation, whose classifier has no bias, has 1,000 fewer.
    case shufflenetV1
    /// One ResNet basic block (64 channels) with squeeze-excitation
    /// (reduction 16) on a 64×56×56 input; the output is the block's feature
    /// map. The SE layers are fully connected layers with biases on the pooled
    /// vector, and the gate scales the second batch norm's output before the
    /// residual add (Hu et al. 2018). 74,564 parameters.
    case seResNetBlock
    /// CIFAR-10: four 3×3 convolutions of 64 channels with dilations 1, 2, 4, 8
    /// (padding = dilation, so every layer stays 32×32; receptive field 31),
    /// each followed by batch norm and ReLU, then global average pooling and
    /// FC 10. 113,482 parameters (convolutions: 112,320).
    ///
    /// The three CIFAR nets are the comparison of dilation, large kernels and
    /// depth at an equal parameter budget: their convolutions hold 112,320
    /// (dilated), 636,608 (large kernel) and 333,504 (cascade) weights, so the
    /// large-kernel net pruned to about 82% sparsity, or the cascade to about
    /// 66%, has the dilated net's budget.
    case cifarDilated
    /// CIFAR-10: as ``cifarDilated`` with kernels 3, 5, 7, 9 (padding k/2, no
    /// dilation; receptive field 21). 637,770 parameters (convolutions: 636,608).
    case cifarLargeKernel
    /// CIFAR-10: ten 3×3 convolutions of 64 channels with batch norm and ReLU
    /// (receptive field 21), global average pooling, FC 10. 335,434 parameters
    /// (convolutions: 333,504).
    case cifarCascade

    /// `[channels, height, width]` of the input the model is defined for.
    public var defaultInputShape: [Int] {
        switch self {
        case .lenet5: return [1, 32, 32]
        case .seResNetBlock: return [64, 56, 56]
        case .cifarDilated, .cifarLargeKernel, .cifarCascade: return [3, 32, 32]
        case .alexnet, .vgg16, .resnet18, .resnet50, .mobilenetV1, .mobilenetV2, .shufflenetV1: return [3, 224, 224]
        }
    }

    /// A one-line description for listings.
    public var summary: String {
        switch self {
        case .lenet5: return "LeNet-5, 1×32×32, 10 classes"
        case .alexnet: return "AlexNet with grouped conv2/conv4/conv5, 224×224, 1000 classes"
        case .vgg16: return "VGG-16 (torchvision, no batch norm), 224×224, 1000 classes"
        case .resnet18: return "ResNet-18 (torchvision), 224×224, 1000 classes"
        case .resnet50: return "ResNet-50 v1.5 (torchvision), 224×224, 1000 classes"
        case .mobilenetV1: return "MobileNet v1 1.0, depthwise separable, 224×224, 1000 classes"
        case .mobilenetV2: return "MobileNet v2 1.0 (torchvision), 224×224, 1000 classes"
        case .shufflenetV1: return "ShuffleNet v1 1× g=3, group conv + channel shuffle, 224×224, 1000 classes"
        case .seResNetBlock: return "one ResNet basic block with squeeze-excitation, 64×56×56"
        case .cifarDilated: return "CIFAR-10, four 3×3 convs with dilations 1-2-4-8"
        case .cifarLargeKernel: return "CIFAR-10, four convs with kernels 3-5-7-9"
        case .cifarCascade: return "CIFAR-10, ten 3×3 convs"
        }
    }

    /// Builds the model with seeded random weights.
    ///
    /// Models that end in global average pooling accept any input size. The
    /// others have a classifier of fixed width: LeNet-5 needs 32; AlexNet and
    /// VGG-16 need an input whose last feature map is a multiple of 6 (AlexNet)
    /// or 7 (VGG-16) on a side — 223...254 and 415...446 for AlexNet, 224...255
    /// and 448...479 for VGG-16 — because torchvision's adaptive average
    /// pooling is then an ordinary average pool (or nothing at the default).
    ///
    /// ```swift
    /// let a = try Zoo.cifarDilated.model(seed: 1)
    /// let b = try Zoo.cifarDilated.model(seed: 1)   // identical weights
    /// let big = try Zoo.resnet18.model(inputSize: 320)
    /// ```
    /// - Parameters:
    ///   - seed: seeds every weight and batch-norm statistic; the same seed
    ///     gives the same model.
    ///   - inputSize: the input height and width (default: ``defaultInputShape``'s).
    /// - Throws: `SparseConvError.invalidArgument` for an input size the model
    ///   cannot take, `.outOfMemory` when the weights cannot be allocated.
    public func model(seed: UInt64 = 1, inputSize: Int? = nil) throws -> Model {
        let defaultShape = defaultInputShape
        let size = inputSize ?? defaultShape[1]
        guard size >= 1, size <= 8192 else {
            throw SparseConvError.invalidArgument("\(rawValue): input size must be in 1...8192, got \(size)")
        }
        var b = ModelBuilder(name: rawValue, inputShape: [defaultShape[0], size, size], seed: seed)
        switch self {
        case .lenet5: try Self.lenet5(&b)
        case .alexnet: try Self.alexnet(&b)
        case .vgg16: try Self.vgg16(&b)
        case .resnet18: try Self.resnet(&b, bottleneck: false, blocks: [2, 2, 2, 2])
        case .resnet50: try Self.resnet(&b, bottleneck: true, blocks: [3, 4, 6, 3])
        case .mobilenetV1: try Self.mobilenetV1(&b)
        case .mobilenetV2: try Self.mobilenetV2(&b)
        case .shufflenetV1: try Self.shufflenetV1(&b, groups: 3)
        case .seResNetBlock: try Self.seResNetBlock(&b)
        case .cifarDilated: try Self.cifar(&b, kernels: [3, 3, 3, 3], dilations: [1, 2, 4, 8])
        case .cifarLargeKernel: try Self.cifar(&b, kernels: [3, 5, 7, 9], dilations: [1, 1, 1, 1])
        case .cifarCascade: try Self.cifar(&b, kernels: Array(repeating: 3, count: 10), dilations: Array(repeating: 1, count: 10))
        }
        return try b.build()
    }

    // MARK: Architectures

    private static func lenet5(_ b: inout ModelBuilder) throws {
        try b.conv("conv1", out: 6, kernel: 5, bias: true)
        try b.relu("relu1")
        try b.avgPool("pool1", kernel: 2)
        try b.conv("conv2", out: 16, kernel: 5, bias: true)
        try b.relu("relu2")
        try b.avgPool("pool2", kernel: 2)
        // The classifier is 400 wide: only a 32×32 input leaves 16×5×5.
        guard b.currentShape == [16, 5, 5] else {
            throw SparseConvError.invalidArgument("lenet5 takes a 32×32 input only, got \(b.inputShape[1])×\(b.inputShape[2])")
        }
        try b.flatten("flatten")
        try b.fullyConnected("fc1", out: 120)
        try b.relu("relu3")
        try b.fullyConnected("fc2", out: 84)
        try b.relu("relu4")
        try b.fullyConnected("fc3", out: 10)
    }

    private static func alexnet(_ b: inout ModelBuilder) throws {
        try b.conv("features.0", out: 64, kernel: 11, stride: 4, padding: 2, bias: true)
        try b.relu("features.1")
        try b.maxPool("features.2", kernel: 3, stride: 2)
        try b.conv("features.3", out: 192, kernel: 5, padding: 2, groups: 2, bias: true)
        try b.relu("features.4")
        try b.maxPool("features.5", kernel: 3, stride: 2)
        try b.conv("features.6", out: 384, kernel: 3, padding: 1, bias: true)
        try b.relu("features.7")
        try b.conv("features.8", out: 256, kernel: 3, padding: 1, groups: 2, bias: true)
        try b.relu("features.9")
        try b.conv("features.10", out: 256, kernel: 3, padding: 1, groups: 2, bias: true)
        try b.relu("features.11")
        try b.maxPool("features.12", kernel: 3, stride: 2)
        try adaptiveAveragePool(&b, "avgpool", to: 6, valid: "224 or 416")
        try b.flatten("flatten")
        try b.fullyConnected("classifier.1", out: 4096)
        try b.relu("classifier.2")
        try b.fullyConnected("classifier.4", out: 4096)
        try b.relu("classifier.5")
        try b.fullyConnected("classifier.6", out: 1000)
    }

    private static func vgg16(_ b: inout ModelBuilder) throws {
        // torchvision's configuration "D": channels, nil for a 2×2 max pool.
        let configuration: [Int?] = [64, 64, nil, 128, 128, nil, 256, 256, 256, nil,
                                     512, 512, 512, nil, 512, 512, 512, nil]
        var index = 0  // torchvision's `features.<index>` numbering
        for channels in configuration {
            if let channels {
                try b.conv("features.\(index)", out: channels, kernel: 3, padding: 1, bias: true)
                try b.relu("features.\(index + 1)")
                index += 2
            } else {
                try b.maxPool("features.\(index)", kernel: 2, stride: 2)
                index += 1
            }
        }
        try adaptiveAveragePool(&b, "avgpool", to: 7, valid: "224 or 448")
        try b.flatten("flatten")
        try b.fullyConnected("classifier.0", out: 4096)
        try b.relu("classifier.1")
        try b.fullyConnected("classifier.3", out: 4096)
        try b.relu("classifier.4")
        try b.fullyConnected("classifier.6", out: 1000)
    }

    /// torchvision's `AdaptiveAvgPool2d(target)` where it is an ordinary
    /// average pool: a feature map whose side is a multiple of `target`. At
    /// exactly `target` it is the identity and no node is added. Checked before
    /// the classifier's weights (hundreds of megabytes) are allocated.
    private static func adaptiveAveragePool(_ b: inout ModelBuilder, _ name: String, to target: Int, valid: String) throws {
        let shape = b.currentShape
        guard shape[1] == shape[2], shape[1] >= target, shape[1] % target == 0 else {
            throw SparseConvError.invalidArgument("\(b.name) needs an input whose last feature map is a multiple of \(target) on a side (e.g. \(valid)); input \(b.inputShape[1])×\(b.inputShape[2]) gives \(shape[1])×\(shape[2])")
        }
        if shape[1] > target { try b.avgPool(name, kernel: shape[1] / target) }
    }

    private static func resnet(_ b: inout ModelBuilder, bottleneck: Bool, blocks: [Int]) throws {
        try b.conv("conv1", out: 64, kernel: 7, stride: 2, padding: 3)
        try b.batchNorm("bn1")
        try b.relu("relu")
        try b.maxPool("maxpool", kernel: 3, stride: 2, padding: 1)
        var inChannels = 64
        for (stage, count) in blocks.enumerated() {
            let width = 64 << stage
            let outChannels = bottleneck ? 4 * width : width
            for block in 0..<count {
                let prefix = "layer\(stage + 1).\(block)"
                let stride = stage > 0 && block == 0 ? 2 : 1
                let input = b.current
                if bottleneck {
                    try b.conv("\(prefix).conv1", out: width, kernel: 1)
                    try b.batchNorm("\(prefix).bn1")
                    try b.relu("\(prefix).relu1")
                    try b.conv("\(prefix).conv2", out: width, kernel: 3, stride: stride, padding: 1)
                    try b.batchNorm("\(prefix).bn2")
                    try b.relu("\(prefix).relu2")
                    try b.conv("\(prefix).conv3", out: outChannels, kernel: 1)
                    try b.batchNorm("\(prefix).bn3")
                } else {
                    try b.conv("\(prefix).conv1", out: width, kernel: 3, stride: stride, padding: 1)
                    try b.batchNorm("\(prefix).bn1")
                    try b.relu("\(prefix).relu1")
                    try b.conv("\(prefix).conv2", out: width, kernel: 3, padding: 1)
                    try b.batchNorm("\(prefix).bn2")
                }
                let residual = b.current
                var shortcut = input
                if stride != 1 || inChannels != outChannels {
                    try b.conv("\(prefix).downsample.0", out: outChannels, kernel: 1, stride: stride, from: input)
                    shortcut = try b.batchNorm("\(prefix).downsample.1")
                }
                try b.add("\(prefix).add", residual, shortcut)
                try b.relu("\(prefix).relu")
                inChannels = outChannels
            }
        }
        try b.globalAveragePool("avgpool")
        try b.flatten("flatten")
        try b.fullyConnected("fc", out: 1000)
    }

    private static func mobilenetV1(_ b: inout ModelBuilder) throws {
        try b.conv("conv0", out: 32, kernel: 3, stride: 2, padding: 1)
        try b.batchNorm("conv0.bn")
        try b.relu("conv0.relu")
        // (output channels, stride) of the 13 depthwise-separable blocks.
        let blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                      (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
        for (index, (channels, stride)) in blocks.enumerated() {
            let prefix = "block\(index + 1)"
            let inChannels = b.currentShape[0]
            try b.conv("\(prefix).dw", out: inChannels, kernel: 3, stride: stride, padding: 1, groups: inChannels)
            try b.batchNorm("\(prefix).dw.bn")
            try b.relu("\(prefix).dw.relu")
            try b.conv("\(prefix).pw", out: channels, kernel: 1)
            try b.batchNorm("\(prefix).pw.bn")
            try b.relu("\(prefix).pw.relu")
        }
        try b.globalAveragePool("avgpool")
        try b.flatten("flatten")
        try b.fullyConnected("fc", out: 1000)
    }

    private static func mobilenetV2(_ b: inout ModelBuilder) throws {
        try b.conv("features.0.0", out: 32, kernel: 3, stride: 2, padding: 1)
        try b.batchNorm("features.0.1")
        try b.relu6("features.0.2")
        // torchvision's inverted residual settings: expansion t, channels c, repeats n, stride s.
        let settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                        (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        var inChannels = 32
        var index = 1
        for (expansion, channels, repeats, firstStride) in settings {
            for repeat_ in 0..<repeats {
                let prefix = "features.\(index).conv"
                let stride = repeat_ == 0 ? firstStride : 1
                let hidden = inChannels * expansion
                let input = b.current
                var layer = 0
                if expansion != 1 {
                    try b.conv("\(prefix).0.0", out: hidden, kernel: 1)
                    try b.batchNorm("\(prefix).0.1")
                    try b.relu6("\(prefix).0.2")
                    layer = 1
                }
                try b.conv("\(prefix).\(layer).0", out: hidden, kernel: 3, stride: stride, padding: 1, groups: hidden)
                try b.batchNorm("\(prefix).\(layer).1")
                try b.relu6("\(prefix).\(layer).2")
                // The projection is linear: no activation after its batch norm.
                try b.conv("\(prefix).\(layer + 1)", out: channels, kernel: 1)
                try b.batchNorm("\(prefix).\(layer + 2)")
                if stride == 1 && inChannels == channels {
                    try b.add("features.\(index).add", b.current, input)
                }
                inChannels = channels
                index += 1
            }
        }
        try b.conv("features.\(index).0", out: 1280, kernel: 1)
        try b.batchNorm("features.\(index).1")
        try b.relu6("features.\(index).2")
        try b.globalAveragePool("avgpool")
        try b.flatten("flatten")
        try b.fullyConnected("classifier.1", out: 1000)
    }

    private static func shufflenetV1(_ b: inout ModelBuilder, groups: Int) throws {
        try b.conv("conv1", out: 24, kernel: 3, stride: 2, padding: 1)
        try b.batchNorm("conv1.bn")
        try b.relu("conv1.relu")
        try b.maxPool("maxpool", kernel: 3, stride: 2, padding: 1)
        // Output channels and units of stages 2-4 for g = 3 at 1× (Table 1).
        let stages = [(240, 4), (480, 8), (960, 4)]
        var inChannels = 24
        for (stage, (outChannels, units)) in stages.enumerated() {
            let bottleneck = outChannels / 4
            for unit in 0..<units {
                let prefix = "stage\(stage + 2).\(unit)"
                let stride = unit == 0 ? 2 : 1
                let input = b.current
                // At stride 2 the shortcut is concatenated, so the branch adds only the new channels.
                let branchChannels = stride == 2 ? outChannels - inChannels : outChannels
                // The paper leaves stage 2's first pointwise layer ungrouped: its input has only 24 channels.
                let firstGroups = stage == 0 && unit == 0 ? 1 : groups
                try b.conv("\(prefix).gconv1", out: bottleneck, kernel: 1, groups: firstGroups)
                try b.batchNorm("\(prefix).bn1")
                try b.relu("\(prefix).relu1")
                try b.channelShuffle("\(prefix).shuffle", groups: groups)
                try b.conv("\(prefix).dwconv", out: bottleneck, kernel: 3, stride: stride, padding: 1, groups: bottleneck)
                try b.batchNorm("\(prefix).bn2")
                try b.conv("\(prefix).gconv2", out: branchChannels, kernel: 1, groups: groups)
                let branch = try b.batchNorm("\(prefix).bn3")
                if stride == 2 {
                    let shortcut = try b.avgPool("\(prefix).shortcut", kernel: 3, stride: 2, padding: 1, from: input)
                    try b.concat("\(prefix).concat", [shortcut, branch])
                } else {
                    try b.add("\(prefix).add", branch, input)
                }
                try b.relu("\(prefix).relu")
                inChannels = outChannels
            }
        }
        try b.globalAveragePool("avgpool")
        try b.flatten("flatten")
        try b.fullyConnected("fc", out: 1000)
    }

    private static func seResNetBlock(_ b: inout ModelBuilder) throws {
        let input = b.current
        try b.conv("conv1", out: 64, kernel: 3, padding: 1)
        try b.batchNorm("bn1")
        try b.relu("relu1")
        try b.conv("conv2", out: 64, kernel: 3, padding: 1)
        try b.batchNorm("bn2")
        let excited = try b.squeezeExcitation("se", reduction: 16)
        try b.add("add", excited, input)
        try b.relu("relu")
    }

    private static func cifar(_ b: inout ModelBuilder, kernels: [Int], dilations: [Int]) throws {
        for (index, (kernel, dilation)) in zip(kernels, dilations).enumerated() {
            // "Same" padding keeps 32×32 all the way: the nets differ only in how they see context.
            try b.conv("conv\(index + 1)", out: 64, kernel: kernel, padding: dilation * (kernel - 1) / 2, dilation: dilation)
            try b.batchNorm("bn\(index + 1)")
            try b.relu("relu\(index + 1)")
        }
        try b.globalAveragePool("avgpool")
        try b.flatten("flatten")
        try b.fullyConnected("fc", out: 10)
    }
}
