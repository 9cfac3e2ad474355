import Foundation

/// The checks and conversions behind `sparse-prune`'s command line, in the
/// library so that they are tested without running the program.
public enum PruneRequest {
    /// Convolution names that `pattern` selects: the node with exactly that
    /// name if there is one, else every convolution whose whole name matches
    /// `pattern` as a regular expression, in model order.
    /// - Throws: `.invalidArgument` for an invalid regular expression or one
    ///   that selects no convolution (a typo must not silently prune nothing).
    public static func convolutions(matching pattern: String, in model: Model, option: String = "--layer") throws -> [String] {
        let names = model.nodes.compactMap { node -> String? in
            if case .convolution = node.operation { return node.name } else { return nil }
        }
        if names.contains(pattern) { return [pattern] }
        let regex: NSRegularExpression
        do { regex = try NSRegularExpression(pattern: pattern) } catch {
            throw SparseConvError.invalidArgument("\(option) '\(pattern)' is neither a convolution name nor a valid regular expression")
        }
        let matched = names.filter { name in
            let whole = NSRange(name.startIndex..<name.endIndex, in: name)
            return regex.firstMatch(in: name, options: [.anchored], range: whole).map { $0.range == whole } ?? false
        }
        guard !matched.isEmpty else {
            let known = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", …" : "")
            throw SparseConvError.invalidArgument("\(option) '\(pattern)' matches no convolution (convolutions: \(known))")
        }
        return matched
    }

    /// A fraction in [0, 1] from text ("0.9"); `what` names it in the error.
    public static func fraction(_ text: String, what: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0, value <= 1 else {
            throw SparseConvError.invalidArgument("\(what) must be a number in [0, 1], got '\(text)'")
        }
        return value
    }

    /// `NAME_OR_REGEX=SPARSITY`, split at the last `=` (a regex may contain `=`).
    public static func layerOverride(_ text: String) throws -> (pattern: String, sparsity: Double) {
        guard let equals = text.lastIndex(of: "="), equals != text.startIndex else {
            throw SparseConvError.invalidArgument("--layer takes NAME_OR_REGEX=SPARSITY, got '\(text)'")
        }
        let pattern = String(text[..<equals])
        return (pattern, try fraction(String(text[text.index(after: equals)...]), what: "sparsity of --layer '\(pattern)'"))
    }

    /// A comma-separated list of sparsities ("0.5,0.7,0.9"), each in [0, 1].
    public static func sparsities(_ text: String) throws -> [Double] {
        let values = try text.split(separator: ",").map { try fraction(String($0), what: "--sparsities entry") }
        guard !values.isEmpty else { throw SparseConvError.invalidArgument("--sparsities is empty") }
        return values
    }

    /// Pruning options from command-line values, with patterns resolved
    /// against the model's convolutions. Later `--layer` entries win over
    /// earlier ones for a convolution both select.
    /// - Throws: `.invalidArgument` for a sparsity or minimum density outside
    ///   [0, 1] and for patterns that select nothing.
    public static func options(for model: Model, granularity: Granularity, sparsity: Double, scope: PruningOptions.Scope = .layer,
                               norm: PruningNorm = .l1, layers: [String] = [], exclude: [String] = [],
                               keepFirst: Bool = true, pruneDepthwise: Bool = false, minimumDensity: Double = 0) throws -> PruningOptions {
        guard sparsity >= 0, sparsity <= 1 else {
            throw SparseConvError.invalidArgument("--sparsity must be in [0, 1], got \(sparsity)")
        }
        guard minimumDensity >= 0, minimumDensity <= 1 else {
            throw SparseConvError.invalidArgument("--min-density must be in [0, 1], got \(minimumDensity)")
        }
        var overrides: [String: Double] = [:]
        for text in layers {
            let (pattern, value) = try layerOverride(text)
            for name in try convolutions(matching: pattern, in: model) { overrides[name] = value }
        }
        var excluded: Set<String> = []
        for pattern in exclude { excluded.formUnion(try convolutions(matching: pattern, in: model, option: "--exclude")) }
        return PruningOptions(granularity: granularity, sparsity: sparsity, scope: scope, norm: norm, overrides: overrides,
                              excluded: excluded, minimumDensity: minimumDensity, keepFirst: keepFirst, pruneDepthwise: pruneDepthwise)
    }

    /// Refuses an output that is the input file (by path or by identity,
    /// e.g. a hard link or symlink) and an existing output without `force`.
    /// Checked before any work so that a refusal writes nothing.
    public static func checkOutput(_ output: String, input: String?, force: Bool) throws {
        guard !output.isEmpty else { throw SparseConvError.invalidArgument("the output path is empty") }
        let files = FileManager.default
        if let input {
            let a = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path
            let b = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
            var sameFile = a == b
            if !sameFile, let x = try? files.attributesOfItem(atPath: a), let y = try? files.attributesOfItem(atPath: b),
               let xi = x[.systemFileNumber] as? Int, let yi = y[.systemFileNumber] as? Int,
               let xd = x[.systemNumber] as? Int, let yd = y[.systemNumber] as? Int {
                sameFile = xi == yi && xd == yd
            }
            if sameFile { throw SparseConvError.invalidArgument("the output '\(output)' is the input file; choose another path") }
        }
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: output, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw SparseConvError.invalidArgument("the output '\(output)' is a directory") }
            if !force { throw SparseConvError.invalidArgument("'\(output)' exists; pass --force to overwrite it") }
        }
    }

    /// Writes `data` atomically (temporary file beside `path`, then rename).
    public static func write(_ data: Data, to path: String, what: String) throws {
        try AtomicFile.write(data, to: path, what: what)
    }
}
