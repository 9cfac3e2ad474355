import Foundation

/// Everything one pruning run produced: the zeroed model, the masks, and —
/// for channel pruning — the thinned model with dead channels removed.
public struct PruningResult: Sendable {
    /// The model as given.
    public let original: Model
    /// The pruned model with the original shapes: pruned weights are zeros.
    public let zeroed: Model
    /// The mask of every pruned convolution, by node name.
    public let masks: [String: PruningMask]
    /// For channel granularity: the zero channels physically removed.
    public let removal: ChannelRemoval?

    /// The model to write: the thinned one for channel pruning, else the zeroed one.
    public var output: Model { removal?.model ?? zeroed }
}

extension Model {
    /// Magnitude-prunes the model (``pruned(_:)``) and, for channel
    /// granularity, removes the filters that became exactly zero together with
    /// everything that depends on them (``removingZeroChannels()``).
    /// - Throws: what ``pruned(_:)`` throws.
    public func pruning(_ options: PruningOptions) throws -> PruningResult {
        let (zeroed, masks) = try pruned(options)
        let removal = options.granularity == .channel ? try zeroed.removingZeroChannels() : nil
        return PruningResult(original: self, zeroed: zeroed, masks: masks, removal: removal)
    }

    /// The model truncated to `node` and what it depends on, with `node` as output.
    func prefix(upTo node: String) throws -> Model {
        var needed: Set<String> = [node]
        for candidate in nodes.reversed() where needed.contains(candidate.name) {
            for input in candidate.inputs { needed.insert(input) }
        }
        var copy = try Model(name: name, inputShape: inputShape, nodes: nodes.filter { needed.contains($0.name) }, output: node)
        copy.parameterNames = parameterNames
        return copy
    }

    /// Runs the model on `input` with an estimate plan (no timing).
    public func evaluate(_ input: Tensor, threads: Int = 0) throws -> Tensor {
        try Planner(mode: .estimate, threads: threads).plan(self, batch: input.shape.first ?? 1).run(input)
    }

    /// The output of each named node on `input`, computed by running the
    /// model truncated to that node (so each value is exactly what the full
    /// model computes there, before any fusion with later nodes).
    public func outputs(of names: [String], on input: Tensor, threads: Int = 0) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in names { result[name] = try prefix(upTo: name).evaluate(input, threads: threads) }
        return result
    }

    /// A seeded probe input `[1, C, H, W]`, uniform in [-1, 1]: the fixed
    /// input on which reports and sensitivity measure output errors.
    public func probeInput(seed: UInt64 = 0x5eed) throws -> Tensor {
        try Tensor.random(shape: [1] + inputShape, seed: seed)
    }
}

extension Tensor {
    /// `‖self − reference‖₂ / ‖reference‖₂`: 0 when equal, infinity when
    /// the reference is all zero and `self` is not (or NaNs disagree).
    public func relativeError(to reference: Tensor) throws -> Double {
        guard shape == reference.shape else {
            throw SparseConvError.shapeMismatch(what: "comparison", expected: reference.shape, actual: shape)
        }
        var difference = 0.0, norm = 0.0
        let a = scalars, b = reference.scalars
        for index in a.indices {
            if a[index].isNaN != b[index].isNaN { return .infinity }
            if a[index].isNaN { continue }
            let d = Double(a[index]) - Double(b[index])
            difference += d * d
            norm += Double(b[index]) * Double(b[index])
        }
        if difference == 0 { return 0 }
        return norm > 0 ? (difference / norm).squareRoot() : .infinity
    }
}

/// Per-convolution and total figures of a pruning run, as `sparse-prune`
/// prints them and writes them with `--report` (JSON).
public struct PruningReport: Codable, Sendable, Equatable {
    /// One convolution.
    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        /// `Conv2DSpec.description` of the original convolution.
        public var shape: String
        /// The granularity it was pruned at, or "dense" when left alone.
        public var granularity: String
        /// Fraction of the original weights that are zero after pruning.
        public var sparsity: Double
        /// Output channels physically removed (channel granularity).
        public var removedChannels: Int
        /// Nonzero weights plus bias entries, before and after.
        public var parametersBefore: Int, parametersAfter: Int
        /// MACs per image on nonzero weights, before and after (thinned shapes).
        public var macsBefore: Int, macsAfter: Int
        /// Relative L2 error of this layer's output on the probe input, pruned vs original.
        public var outputError: Double?
    }

    public var model: String
    public var granularity: String
    public var targetSparsity: Double
    public var scope: String
    public var layers: [Layer]
    /// Over all convolutions.
    public var parametersBefore: Int, parametersAfter: Int
    public var macsBefore: Int, macsAfter: Int
    /// All parameters of the model (convolutions, batch norms, fully connected), nonzero only.
    public var modelParametersBefore: Int, modelParametersAfter: Int
    /// Zero weights / weights over the pruned convolutions.
    public var achievedSparsity: Double
    /// Relative L2 error of the model output on the probe input.
    public var outputError: Double?
    public var fileBytesBefore: Int?, fileBytesAfter: Int?

    /// Builds the report; with a `probe` input it also measures output errors
    /// (this runs every convolution's prefix of the model twice, so it costs
    /// about `layers²/2` layer evaluations).
    public init(result: PruningResult, options: PruningOptions, probe: Tensor?, threads: Int = 0,
                fileBytesBefore: Int? = nil, fileBytesAfter: Int? = nil, progress: ((String) -> Void)? = nil) throws {
        let original = result.original, output = result.output
        model = original.name
        granularity = options.granularity.rawValue
        targetSparsity = options.sparsity
        scope = options.scope.rawValue
        func nonzero(_ t: Tensor) -> Int { t.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        func biasCount(_ c: ConvolutionLayer) -> Int { c.bias?.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } ?? 0 }
        var rows: [Layer] = []
        var zeros = 0, prunedWeights = 0
        let convNames = original.nodes.compactMap { node -> String? in
            if case .convolution = node.operation { return node.name } else { return nil }
        }
        var errors: [String: Double] = [:]
        var finalError: Double?
        if let probe {
            for (index, name) in convNames.enumerated() {
                progress?("output error \(index + 1)/\(convNames.count): \(name)")
                let before = try original.prefix(upTo: name).evaluate(probe, threads: threads)
                let after = try result.zeroed.prefix(upTo: name).evaluate(probe, threads: threads)
                errors[name] = try after.relativeError(to: before)
            }
            finalError = try output.evaluate(probe, threads: threads).relativeError(to: original.evaluate(probe, threads: threads))
        }
        for name in convNames {
            guard let before = original.node(named: name), case .convolution(let a) = before.operation,
                  let zeroedNode = result.zeroed.node(named: name), case .convolution(let z) = zeroedNode.operation,
                  let afterNode = output.node(named: name), case .convolution(let b) = afterNode.operation,
                  let specBefore = try original.convolutionSpec(of: before),
                  let specAfter = try output.convolutionSpec(of: afterNode) else { continue }
            let zeroCount = a.weight.count - nonzero(z.weight)
            if result.masks[name] != nil { zeros += zeroCount; prunedWeights += a.weight.count }
            rows.append(Layer(
                name: name, shape: specBefore.description,
                granularity: result.masks[name]?.granularity.rawValue ?? (z.weight == a.weight ? "dense" : "dependent"),
                sparsity: Double(zeroCount) / Double(max(a.weight.count, 1)),
                removedChannels: result.removal?.removedChannels[name]?.count ?? 0,
                parametersBefore: nonzero(a.weight) + biasCount(a), parametersAfter: nonzero(b.weight) + biasCount(b),
                macsBefore: nonzero(a.weight) * specBefore.outputHeight * specBefore.outputWidth,
                macsAfter: nonzero(b.weight) * specAfter.outputHeight * specAfter.outputWidth,
                outputError: errors[name]))
        }
        layers = rows
        parametersBefore = rows.reduce(0) { $0 + $1.parametersBefore }
        parametersAfter = rows.reduce(0) { $0 + $1.parametersAfter }
        macsBefore = rows.reduce(0) { $0 + $1.macsBefore }
        macsAfter = rows.reduce(0) { $0 + $1.macsAfter }
        modelParametersBefore = original.nonzeroParameterCount
        modelParametersAfter = output.nonzeroParameterCount
        achievedSparsity = prunedWeights > 0 ? Double(zeros) / Double(prunedWeights) : 0
        outputError = finalError
        self.fileBytesBefore = fileBytesBefore
        self.fileBytesAfter = fileBytesAfter
    }

    /// The report as pretty-printed JSON with sorted keys (infinite errors as "inf").
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try encoder.encode(self) } catch {
            throw SparseConvError.invalidArgument("cannot encode the report: \(error)")
        }
    }

    /// The stdout table: one row per convolution, then totals and file sizes.
    public var table: String {
        var rows: [[String]] = [["layer", "shape", "granularity", "sparsity", "params", "MACs", "out err"]]
        for l in layers {
            rows.append([l.name, l.shape, l.granularity + (l.removedChannels > 0 ? " (-\(l.removedChannels) ch)" : ""),
                         Self.percent(l.sparsity), "\(Self.count(l.parametersBefore)) → \(Self.count(l.parametersAfter))",
                         "\(Self.count(l.macsBefore)) → \(Self.count(l.macsAfter))", l.outputError.map(Self.error) ?? "-"])
        }
        rows.append(["total", "", granularity + " " + scope, Self.percent(achievedSparsity),
                     "\(Self.count(parametersBefore)) → \(Self.count(parametersAfter))",
                     "\(Self.count(macsBefore)) → \(Self.count(macsAfter))", outputError.map(Self.error) ?? "-"])
        var text = Self.render(rows)
        text += "model parameters (nonzero): \(Self.count(modelParametersBefore)) → \(Self.count(modelParametersAfter))\n"
        if let before = fileBytesBefore, let after = fileBytesAfter {
            text += "file size: \(Self.count(before))B → \(Self.count(after))B\n"
        }
        return text
    }

    static func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
    static func error(_ value: Double) -> String { value.isFinite ? String(format: "%.2e", value) : "inf" }
    /// 1234567 → "1.23M": compact, fixed rules, so tables stay narrow.
    static func count(_ value: Int) -> String {
        let v = Double(value)
        if value >= 1_000_000_000 { return String(format: "%.2fG", v / 1e9) }
        if value >= 1_000_000 { return String(format: "%.2fM", v / 1e6) }
        if value >= 10_000 { return String(format: "%.1fk", v / 1e3) }
        return "\(value)"
    }

    /// A text table: left-aligned first column, right-aligned others, two
    /// spaces between (the style of every `sparse-prune` table).
    public static func render(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }
}
