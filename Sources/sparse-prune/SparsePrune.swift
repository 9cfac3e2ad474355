import ArgumentParser
import CommandLineSupport
import Foundation
import SparseConv

extension Granularity: ExpressibleByArgument {}
extension PruningOptions.Scope: ExpressibleByArgument {}
extension PruningNorm: ExpressibleByArgument {}

@main
struct SparsePrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse-prune",
        abstract: "Magnitude-prunes an ONNX model (or a zoo model) and writes the pruned model as ONNX.",
        discussion: """
            The default subcommand prunes; `inspect` shows the sparsity already in a model; `sensitivity` \
            prunes each convolution alone at several sparsities and records the model's output error. \
            Channel pruning also removes the pruned filters physically where that is exact. Errors print \
            one line, `error: ...`, exit non-zero and write nothing.

            Examples:
              sparse-prune resnet18.onnx -o pruned.onnx --granularity block1x2 --sparsity 0.9 --report r.json
              sparse-prune --zoo resnet18 --input-size 64 -o r.onnx --granularity channel --sparsity 0.5 --bench
              sparse-prune inspect pruned.onnx
              sparse-prune sensitivity resnet18.onnx --granularity kernel --sparsities 0.5,0.7,0.9 --plot s.svg
            """,
        subcommands: [Prune.self, Inspect.self, Sensitivity.self],
        defaultSubcommand: Prune.self)

    /// One line, `error: ...`, and a non-zero status for every failure.
    static func main() { mainWithOneLineErrors() }
}

/// Where the model comes from: a file or the zoo.
struct ModelSource: ParsableArguments {
    @Argument(help: "The ONNX model file (or use --zoo).")
    var model: String?

    @Option(help: "A built-in model instead of a file: \(Zoo.allCases.map(\.rawValue).joined(separator: ", ")).")
    var zoo: String?

    @Option(help: "Input height and width for --zoo (default: the model's own).")
    var inputSize: Int?

    @Option(help: "Seed of the zoo model's weights.")
    var seed: UInt64 = 1

    @OptionGroup var memoryLimit: MemoryLimitOption

    func validate() throws {
        guard (model == nil) != (zoo == nil) else { throw ValidationError("give either MODEL.onnx or --zoo NAME") }
        if let zoo, Zoo(rawValue: zoo) == nil {
            throw ValidationError("unknown zoo model '\(zoo)' (known: \(Zoo.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if inputSize != nil && zoo == nil { throw ValidationError("--input-size applies to --zoo models only") }
    }

    func load() throws -> Model {
        try memoryLimit.apply()
        if let model { return try Model(onnxFile: model) }
        guard let name = zoo, let entry = Zoo(rawValue: name) else { throw ValidationError("unknown zoo model") }
        return try entry.model(seed: seed, inputSize: inputSize)
    }

    /// Bytes of the input file, or of the zoo model exported as ONNX.
    func bytes(of loaded: Model) throws -> Int {
        if let model, let size = (try? FileManager.default.attributesOfItem(atPath: model))?[.size] as? Int { return size }
        return try loaded.onnxData().count
    }
}

/// Progress on stderr, only when it is a terminal and only once an
/// operation has run for more than a second (short runs stay quiet).
final class Progress {
    private let start = DispatchTime.now().uptimeNanoseconds
    private let enabled = isatty(STDERR_FILENO) == 1
    private var shown = false

    func update(_ message: String) {
        guard enabled, DispatchTime.now().uptimeNanoseconds - start > 1_000_000_000 else { return }
        shown = true
        FileHandle.standardError.write(Data("\r\u{1B}[K\(message)".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Prune a model and write it (the default subcommand).")

    @OptionGroup var source: ModelSource

    @Option(name: [.short, .customLong("output")], help: "Where to write the pruned model (.onnx).")
    var output: String

    @Option(help: "element, block1x2, kernel or channel.")
    var granularity: Granularity

    @Option(help: "Target fraction of weights removed, in [0, 1].")
    var sparsity: Double

    @Option(help: "layer (each convolution to the target) or global (one threshold).")
    var scope: PruningOptions.Scope = .layer

    @Option(help: "l1 (mean |w|) or l2 (root mean square) ranking.")
    var norm: PruningNorm = .l1

    @Option(name: .customLong("layer"), help: "NAME_OR_REGEX=SPARSITY: a per-layer sparsity (repeatable).")
    var layers: [String] = []

    @Option(help: "NAME_OR_REGEX: leave these convolutions dense (repeatable).")
    var exclude: [String] = []

    @Flag(inversion: .prefixedNo, help: "Keep the first convolution dense.")
    var keepFirst = true

    @Flag(help: "Prune depthwise convolutions too.")
    var pruneDepthwise = false

    @Option(help: "No layer keeps less than this fraction of its weights.")
    var minDensity: Double = 0

    @Option(help: "Write the report as JSON to this file (replaced if it exists).")
    var report: String?

    @Flag(help: "Plan the dense and pruned models (measure mode) and compare per-layer latency.")
    var bench = false

    @Option(help: "Threads for evaluation and --bench (0 = all cores).")
    var threads: Int = 0

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be ≥ 0") }
    }

    func run() throws {
        // Every check that can refuse runs before anything is written.
        try PruneRequest.checkOutput(output, input: source.model, force: force)
        if let report { try PruneRequest.checkOutput(report, input: source.model, force: true) }
        if report == output { throw SparseConvError.invalidArgument("--report and --output name the same file") }
        let progress = Progress()
        let model = try source.load()
        let options = try PruneRequest.options(
            for: model, granularity: granularity, sparsity: sparsity, scope: scope, norm: norm, layers: layers,
            exclude: exclude, keepFirst: keepFirst, pruneDepthwise: pruneDepthwise, minimumDensity: minDensity)
        progress.update("pruning \(model.name)…")
        let result = try model.pruning(options)
        let data = try result.output.onnxData()
        // The written bytes must load back: a file we cannot read is never written.
        _ = try Model(onnxData: data)
        let summary = try PruningReport(result: result, options: options, probe: try model.probeInput(), threads: threads,
                                        fileBytesBefore: try source.bytes(of: model), fileBytesAfter: data.count,
                                        progress: progress.update)
        let json = try report.map { _ in try summary.jsonData() }
        progress.finish()
        try PruneRequest.write(data, to: output, what: "pruned model")
        if let report, let json { try PruneRequest.write(json, to: report, what: "report") }
        print(summary.table, terminator: "")
        print("wrote \(output)")
        if bench { try runBench(result, summary, progress) }
    }

    func runBench(_ result: PruningResult, _ summary: PruningReport, _ progress: Progress) throws {
        progress.update("planning the dense model (measure)…")
        let densePlan = try Planner(mode: .measure, threads: threads).plan(result.original, batch: 1)
        progress.update("planning the pruned model (measure)…")
        let prunedPlan = try Planner(mode: .measure, threads: threads).plan(result.output, batch: 1)
        let probe = try result.original.probeInput()
        func median(_ plan: Plan) throws -> Double {
            var times: [Double] = []
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try plan.run(probe)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            return times.sorted()[2]
        }
        progress.update("timing…")
        let denseTotal = try median(densePlan), prunedTotal = try median(prunedPlan)
        progress.finish()
        let pruned = Dictionary(prunedPlan.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let sparsity = Dictionary(summary.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [[String]] = [["layer", "dense ms", "pruned ms", "speedup", "path"]]
        var warnings: [String] = []
        for layer in densePlan.layers where layer.spec != nil {
            guard let after = pruned[layer.name] else { continue }
            let speedup = layer.expectedMilliseconds / max(after.expectedMilliseconds, 1e-9)
            rows.append([layer.name, String(format: "%.3f", layer.expectedMilliseconds), String(format: "%.3f", after.expectedMilliseconds),
                         String(format: "%.2f×", speedup), after.path?.rawValue ?? "-"])
            if let row = sparsity[layer.name], row.sparsity > 0, speedup < 1.05 {
                warnings.append("\(layer.name): \(row.granularity) pruning at \(String(format: "%.0f", row.sparsity * 100))% gives no speedup (\(String(format: "%.2f", speedup))×, path \(after.path?.rawValue ?? "-"))")
            }
        }
        rows.append(["total (run)", String(format: "%.3f", denseTotal), String(format: "%.3f", prunedTotal),
                     String(format: "%.2f×", denseTotal / max(prunedTotal, 1e-9)), ""])
        print(PruningReport.render(rows), terminator: "")
        for message in warnings { warn(message) }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each convolution's sparsity and the granularity its zeros fit; writes nothing.")

    @OptionGroup var source: ModelSource

    func run() throws {
        let model = try source.load()
        print(try PruningInspection(model: model).table, terminator: "")
        if let summary = model.importSummary { print(summary) }
    }
}

struct Sensitivity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune each convolution alone at each sparsity; record the model's relative output error.")

    @OptionGroup var source: ModelSource

    @Option(help: "element, block1x2, kernel or channel.")
    var granularity: Granularity

    @Option(help: "Comma-separated sparsities, e.g. 0.5,0.7,0.9,0.95.")
    var sparsities: String = "0.5,0.7,0.9,0.95"

    @Option(help: "l1 or l2 ranking.")
    var norm: PruningNorm = .l1

    @Option(help: "Write the measurements as CSV to this file.")
    var csv: String?

    @Option(help: "Write an SVG plot (error vs sparsity per layer) to this file.")
    var plot: String?

    @Option(help: "Probe input (.npy, [1, C, H, W]); default a seeded random one.")
    var input: String?

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    func run() throws {
        let values = try PruneRequest.sparsities(sparsities)
        let reads = [source.model, input].compactMap { $0 }
        for path in [csv, plot].compactMap({ $0 }) {
            for read in reads.isEmpty ? [nil] : reads.map(Optional.some) { try PruneRequest.checkOutput(path, input: read, force: true) }
        }
        let model = try source.load()
        let probe: Tensor
        if let input {
            probe = try NumPy.read(contentsOf: input)
            guard probe.shape == [1] + model.inputShape else {
                throw SparseConvError.shapeMismatch(what: "probe input \(input)", expected: [1] + model.inputShape, actual: probe.shape)
            }
        } else {
            probe = try model.probeInput()
        }
        let progress = Progress()
        let analysis = try SensitivityAnalysis(model: model, granularity: granularity, sparsities: values, norm: norm,
                                               probe: probe, threads: threads, progress: progress.update)
        progress.finish()
        var rows: [[String]] = [["layer"] + values.map { String(format: "%g", $0) }]
        for layer in analysis.layers {
            rows.append([layer] + analysis.points.filter { $0.layer == layer }.map { $0.error.isFinite ? String(format: "%.2e", $0.error) : "inf" })
        }
        print("relative output error, \(granularity.rawValue) pruning of one layer at a time")
        print(PruningReport.render(rows), terminator: "")
        if let csv { try PruneRequest.write(Data(analysis.csv.utf8), to: csv, what: "CSV") }
        if let plot { try PruneRequest.write(Data(analysis.svg.utf8), to: plot, what: "plot") }
    }
}
