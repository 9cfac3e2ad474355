import Foundation

/// Builds a ``Model`` layer by layer with seeded random weights, tracking the
/// shape of every node so that each layer's input channels (and its weight
/// shape) follow from what came before.
///
/// Every method adds one node, makes it the current node and returns its name;
/// by default a node reads the current node, and `from:` names another input
/// (a residual shortcut, a branch). Weights are He-initialized (normal with
/// standard deviation `sqrt(2 / fanIn)`, `fanIn = inChannels / groups × kh × kw`),
/// biases are small and random, and batch norms get random but sane statistics
/// (scale and variance near 1, shift and mean near 0) so that folding a batch
/// norm into its convolution changes the numbers and is really tested. The same
/// seed and the same sequence of calls give identical weights.
///
/// ```swift
/// var b = ModelBuilder(name: "tiny", inputShape: [3, 32, 32], seed: 7)
/// try b.conv("conv1", out: 16, kernel: 3, padding: 1)
/// try b.batchNorm("bn1")
/// let stem = try b.relu("relu1")
/// try b.conv("conv2", out: 16, kernel: 3, padding: 1)
/// try b.batchNorm("bn2")
/// try b.add("add", stem, b.current)
/// try b.globalAveragePool("pool")
/// try b.flatten("flatten")
/// try b.fullyConnected("fc", out: 10)
/// let model = try b.build()   // output: [10]
/// ```
public struct ModelBuilder: Sendable {
    /// The model's name.
    public let name: String
    /// `[channels, height, width]` of one input image.
    public let inputShape: [Int]
    /// The nodes added so far, in the order they were added.
    public private(set) var nodes: [Node] = []
    /// The node (or ``Model/inputName``) that the next layer reads by default.
    public private(set) var current: String = Model.inputName
    private var shapes: [String: [Int]]
    private var generator: SeededGenerator

    /// Starts an empty model.
    /// - Parameters:
    ///   - name: the model's name.
    ///   - inputShape: `[channels, height, width]` of one image.
    ///   - seed: seeds every weight the builder draws.
    public init(name: String, inputShape: [Int], seed: UInt64) {
        self.name = name
        self.inputShape = inputShape
        shapes = [Model.inputName: inputShape]
        generator = SeededGenerator(seed: seed)
    }

    /// The per-image output shape of a node (default: the current node).
    public func shape(of node: String? = nil) -> [Int]? { shapes[node ?? current] }

    /// The per-image shape of the current node.
    public var currentShape: [Int] { shapes[current]! }

    /// Finishes the model.
    /// - Parameter output: the output node (default: the last node added).
    /// - Throws: what ``Model/init(name:inputShape:nodes:output:)`` throws.
    public func build(output: String? = nil) throws -> Model {
        try Model(name: name, inputShape: inputShape, nodes: nodes, output: output ?? current)
    }

    // MARK: Layers with weights

    /// Adds a convolution with He-initialized weights (square kernel, equal
    /// stride, padding and dilation on both axes).
    /// - Parameters:
    ///   - name: the node's name.
    ///   - out: output channels.
    ///   - kernel: kernel height and width.
    ///   - stride: step along both axes.
    ///   - padding: zeros on every side.
    ///   - dilation: spacing of the kernel taps.
    ///   - groups: channel groups (the input channels for a depthwise convolution).
    ///   - bias: whether the convolution has a (small, random) bias.
    ///   - input: the node it reads (default: the current node).
    /// - Returns: `name`.
    /// - Throws: `SparseConvError.invalidSpec` naming the node when the
    ///   convolution does not fit its input.
    @discardableResult
    public mutating func conv(_ name: String, out: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                              dilation: Int = 1, groups: Int = 1, bias: Bool = false,
                              from input: String? = nil) throws -> String {
        let source = try inputShape(for: name, from: input)
        guard source.count == 3, out >= 1, kernel >= 1, groups >= 1, source[0] % groups == 0 else {
            throw SparseConvError.invalidSpec("model '\(self.name)', node '\(name)': a \(kernel)×\(kernel) convolution to \(out) channels in \(groups) groups cannot read shape \(source)")
        }
        let fanIn = source[0] / groups * kernel * kernel
        let weight = try Self.heNormal(shape: [out, source[0] / groups, kernel, kernel], fanIn: fanIn,
                                       using: &generator)
        let layer = try ConvolutionLayer(weight: weight, bias: bias ? smallValues(out) : nil,
                                         stride: (stride, stride), padding: Padding(padding),
                                         dilation: (dilation, dilation), groups: groups)
        return try append(Node(name, .convolution(layer), inputs: [input ?? current]))
    }

    /// Adds inference-time batch normalization over the input's channels, with
    /// seeded statistics: scale and variance in 1 ± 0.1, shift and mean in ±0.1.
    /// - Parameters:
    ///   - name: the node's name.
    ///   - input: the node it reads (default: the current node).
    /// - Returns: `name`.
    @discardableResult
    public mutating func batchNorm(_ name: String, from input: String? = nil) throws -> String {
        let channels = try inputShape(for: name, from: input)[0]
        let scale = uniform(channels, 0.9...1.1), shift = uniform(channels, -0.1...0.1)
        let mean = uniform(channels, -0.1...0.1), variance = uniform(channels, 0.9...1.1)
        let layer = try BatchNormLayer(scale: scale, shift: shift, mean: mean, variance: variance)
        return try append(Node(name, .batchNorm(layer), inputs: [input ?? current]))
    }

    /// Adds a fully connected layer with He-initialized weights and a small
    /// random bias. Its input may be any shape; it reads the flattened values.
    /// - Parameters:
    ///   - name: the node's name.
    ///   - out: output features.
    ///   - bias: whether the layer has a bias.
    ///   - input: the node it reads (default: the current node).
    /// - Returns: `name`.
    @discardableResult
    public mutating func fullyConnected(_ name: String, out: Int, bias: Bool = true,
                                        from input: String? = nil) throws -> String {
        let features = try inputShape(for: name, from: input).reduce(1, *)
        guard out >= 1 else {
            throw SparseConvError.invalidSpec("model '\(self.name)', node '\(name)': fully connected output must be ≥ 1, got \(out)")
        }
        let weight = try Self.heNormal(shape: [out, features], fanIn: features, using: &generator)
        let layer = try FullyConnectedLayer(weight: weight, bias: bias ? smallValues(out) : nil)
        return try append(Node(name, .fullyConnected(layer), inputs: [input ?? current]))
    }

    // MARK: Layers without weights

    /// Adds a ReLU. Returns `name`.
    @discardableResult
    public mutating func relu(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .relu, inputs: [input ?? current]))
    }

    /// Adds a ReLU6 (`min(max(x, 0), 6)`). Returns `name`.
    @discardableResult
    public mutating func relu6(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .relu6, inputs: [input ?? current]))
    }

    /// Adds a logistic sigmoid. Returns `name`.
    @discardableResult
    public mutating func sigmoid(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .sigmoid, inputs: [input ?? current]))
    }

    /// Adds max pooling with a square window. Returns `name`.
    /// - Parameters:
    ///   - kernel: window height and width.
    ///   - stride: step (default: the window).
    ///   - padding: padding on every side (smaller than the window).
    @discardableResult
    public mutating func maxPool(_ name: String, kernel: Int, stride: Int? = nil, padding: Int = 0,
                                 from input: String? = nil) throws -> String {
        let pool = PoolLayer(kernel: kernel, stride: stride, padding: padding)
        return try append(Node(name, .maxPool(pool), inputs: [input ?? current]))
    }

    /// Adds average pooling with a square window. Returns `name`.
    /// - Parameters:
    ///   - kernel: window height and width.
    ///   - stride: step (default: the window).
    ///   - padding: padding on every side (smaller than the window).
    ///   - countIncludePad: whether padded zeros count in the divisor (PyTorch's
    ///     `AvgPool2d` default is `true`).
    @discardableResult
    public mutating func avgPool(_ name: String, kernel: Int, stride: Int? = nil, padding: Int = 0,
                                 countIncludePad: Bool = true, from input: String? = nil) throws -> String {
        let pool = PoolLayer(kernelSize: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: Padding(padding),
                             countIncludePad: countIncludePad)
        return try append(Node(name, .averagePool(pool), inputs: [input ?? current]))
    }

    /// Adds global average pooling (`[C, H, W]` to `[C, 1, 1]`). Returns `name`.
    @discardableResult
    public mutating func globalAveragePool(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .globalAveragePool, inputs: [input ?? current]))
    }

    /// Adds the element-wise sum of two same-shape nodes. Returns `name`.
    @discardableResult
    public mutating func add(_ name: String, _ a: String, _ b: String) throws -> String {
        try append(Node(name, .add, inputs: [a, b]))
    }

    /// Adds a concatenation along channels. Returns `name`.
    @discardableResult
    public mutating func concat(_ name: String, _ inputs: [String]) throws -> String {
        try append(Node(name, .concat, inputs: inputs))
    }

    /// Adds ShuffleNet's channel shuffle with `groups` groups. Returns `name`.
    @discardableResult
    public mutating func channelShuffle(_ name: String, groups: Int, from input: String? = nil) throws -> String {
        try append(Node(name, .channelShuffle(groups: groups), inputs: [input ?? current]))
    }

    /// Adds a per-channel scale: the feature map `input` times the per-channel
    /// factors of `scale` (shape `[C]` or `[C, 1, 1]`). Returns `name`.
    @discardableResult
    public mutating func channelScale(_ name: String, _ input: String, by scale: String) throws -> String {
        try append(Node(name, .channelScale, inputs: [input, scale]))
    }

    /// Adds a flatten to `[features]`. Returns `name`.
    @discardableResult
    public mutating func flatten(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .flatten, inputs: [input ?? current]))
    }

    /// Adds a softmax over the last axis. Returns `name`.
    @discardableResult
    public mutating func softmax(_ name: String, from input: String? = nil) throws -> String {
        try append(Node(name, .softmax, inputs: [input ?? current]))
    }

    // MARK: Blocks

    /// Adds a squeeze-excitation block (Hu et al. 2018) on a feature map:
    /// global average pooling, a fully connected layer reducing the channels
    /// by `reduction`, ReLU, one restoring them, sigmoid, and the feature map
    /// scaled channel by channel. Nodes are named `prefix.pool`, `prefix.fc1`,
    /// `prefix.relu`, `prefix.fc2`, `prefix.sigmoid` and `prefix.scale`.
    /// - Parameters:
    ///   - prefix: the block's name prefix.
    ///   - reduction: the channel reduction ratio (16 in the paper); the
    ///     squeezed width is `max(1, channels / reduction)`.
    ///   - input: the feature map (default: the current node).
    /// - Returns: the name of the scaled feature map.
    @discardableResult
    public mutating func squeezeExcitation(_ prefix: String, reduction: Int = 16,
                                           from input: String? = nil) throws -> String {
        let features = input ?? current
        let channels = try inputShape(for: "\(prefix).pool", from: features)[0]
        guard reduction >= 1 else {
            throw SparseConvError.invalidSpec("model '\(name)', block '\(prefix)': reduction must be ≥ 1, got \(reduction)")
        }
        try globalAveragePool("\(prefix).pool", from: features)
        try fullyConnected("\(prefix).fc1", out: max(1, channels / reduction))
        try relu("\(prefix).relu")
        try fullyConnected("\(prefix).fc2", out: channels)
        let gate = try sigmoid("\(prefix).sigmoid")
        return try channelScale("\(prefix).scale", features, by: gate)
    }

    // MARK: Internals

    /// Appends a node after inferring its shape, so a mistake is reported at
    /// the layer that makes it rather than when the model is finished.
    private mutating func append(_ node: Node) throws -> String {
        guard shapes[node.name] == nil, node.name != Model.inputName, !node.name.isEmpty else {
            throw SparseConvError.invalidSpec("model '\(name)': node name '\(node.name)' is empty, reserved or already used")
        }
        var inputShapes: [[Int]] = []
        for input in node.inputs {
            guard let shape = shapes[input] else {
                throw SparseConvError.invalidSpec("model '\(name)', node '\(node.name)': unknown input '\(input)'")
            }
            inputShapes.append(shape)
        }
        if let arity = node.operation.arity, inputShapes.count != arity {
            throw SparseConvError.invalidSpec("model '\(name)', node '\(node.name)': \(node.operation.kindName) takes \(arity) input(s), got \(inputShapes.count)")
        }
        guard !inputShapes.isEmpty else {
            throw SparseConvError.invalidSpec("model '\(name)', node '\(node.name)' has no inputs")
        }
        do {
            shapes[node.name] = try ShapeInference.outputShape(of: node.operation, inputs: inputShapes)
        } catch let error as SparseConvError {
            throw SparseConvError.invalidSpec("model '\(name)', node '\(node.name)' (\(node.operation.kindName)): \(error)")
        }
        nodes.append(node)
        current = node.name
        return node.name
    }

    private func inputShape(for node: String, from input: String?) throws -> [Int] {
        guard let shape = shapes[input ?? current] else {
            throw SparseConvError.invalidSpec("model '\(name)', node '\(node)': unknown input '\(input ?? current)'")
        }
        return shape
    }

    private mutating func uniform(_ count: Int, _ range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &generator) }
    }

    /// Biases are small but nonzero so that a path that drops a bias fails.
    private mutating func smallValues(_ count: Int) -> [Float] { uniform(count, -0.05...0.05) }

    /// A tensor of normal values with standard deviation `sqrt(2 / fanIn)`
    /// (He et al. 2015), drawn by Box–Muller from one 64-bit draw per pair.
    ///
    /// Written as a tight loop over raw storage because VGG-16 draws 138 M of
    /// them and test builds are unoptimized.
    static func heNormal(shape: [Int], fanIn: Int, using generator: inout SeededGenerator) throws -> Tensor {
        var tensor = try Tensor(shape: shape)
        let std = (2 / Float(max(fanIn, 1))).squareRoot()
        tensor.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let count = buffer.count
            let unit: Float = 1.0 / 16_777_216  // 2^-24: 24 random bits make a Float in [0, 1)
            let twoPi = 2 * Float.pi
            var i = 0
            while i < count {
                let bits = generator.next()
                // u1 in (0, 1] so the logarithm is finite; u2 in [0, 1).
                let u1 = Float(bits >> 40 &+ 1) * unit
                let u2 = Float((bits >> 8) & 0xFF_FFFF) * unit
                let radius = std * (-2 * log(u1)).squareRoot()
                let angle = twoPi * u2
                base[i] = radius * cos(angle)
                if i + 1 < count { base[i + 1] = radius * sin(angle) }
                i += 2
            }
        }
        return tensor
    }
}
