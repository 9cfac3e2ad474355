import ArgumentParser
import CommandLineSupport
import Foundation
import SparseConv

@main
struct SparseRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse-run",
        abstract: "Runs an ONNX model (or a zoo model) through SparseConv's planner and executor.",
        discussion: """
            Loads MODEL.onnx (or --zoo NAME), plans it for the input's batch, runs it --repeat times and \
            prints the median latency; writes the output to --output as .npy. Without --input the input is \
            seeded random. With --export the model is written as ONNX instead of being run. Errors print one \
            line, `error: ...`, and exit non-zero.

            Examples:
              sparse-run resnet18.onnx --input x.npy --output y.npy --threads 4 --show-plan
              sparse-run --zoo mobilenetV2 --input-shape 1,3,96,96 --plan measure --wisdom wisdom.json --repeat 20
              sparse-run --zoo resnet18 --input-shape 1,3,64,64 --export resnet18.onnx
            """)

    @Argument(help: "The ONNX model file (or use --zoo).")
    var model: String?

    @Option(help: "A built-in model instead of a file: \(Zoo.allCases.map(\.rawValue).joined(separator: ", ")).")
    var zoo: String?

    @Option(help: "N,C,H,W: the input shape (batch and size for --zoo; overrides the file's declared shape).")
    var inputShape: String?

    @Option(help: "Input tensor (.npy, float32 NCHW). Default: seeded random of the model's input shape.")
    var input: String?

    @Option(help: "Where to write the output tensor (.npy).")
    var output: String?

    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0

    @Option(help: "Planning mode: estimate (cost model) or measure (time the candidate paths).")
    var plan: String = "estimate"

    @Option(help: "Wisdom file: timings reused by --plan measure and saved back after planning.")
    var wisdom: String?

    @Flag(help: "Print the plan: the path chosen for every convolution.")
    var showPlan = false

    @Flag(help: "Time every step on its own over the --repeat runs and print where the time goes.")
    var profile = false
    @Flag(help: "Print what the ONNX importer folded at load time, removed and fused.")
    var verbose = false

    @Option(name: .customLong("repeat"), help: "Timed runs; the median is reported.")
    var repetitions: Int = 1

    @Option(help: "Seed of the random input (and of the zoo model's weights).")
    var seed: UInt64 = 1

    @Option(help: "Write the model as ONNX to this file instead of running it.")
    var export: String?

    @OptionGroup var memoryLimit: MemoryLimitOption

    mutating func validate() throws {
        guard (model == nil) != (zoo == nil) else { throw ValidationError("give either MODEL.onnx or --zoo NAME") }
        if let zoo, Zoo(rawValue: zoo) == nil {
            throw ValidationError("unknown zoo model '\(zoo)' (known: \(Zoo.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard Planner.Mode(rawValue: plan) != nil else { throw ValidationError("--plan takes estimate or measure, got '\(plan)'") }
        guard threads >= 0 else { throw ValidationError("--threads must be ≥ 0") }
        guard repetitions >= 1, repetitions <= 1_000_000 else { throw ValidationError("--repeat must be in 1...1000000") }
        _ = try parsedInputShape()
    }

    func parsedInputShape() throws -> [Int]? {
        guard let inputShape else { return nil }
        let parts = inputShape.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--input-shape takes N,C,H,W (four positive integers), got '\(inputShape)'")
        }
        return parts.compactMap { $0 }
    }

    /// The model, and for a file how long reading its bytes took.
    func loadModel() throws -> (model: Model, readMilliseconds: Double?) {
        let shape = try parsedInputShape()
        if let model {
            let (loaded, timing) = try Model.loadONNX(file: model, inputShape: shape)
            return (loaded, timing.readSeconds * 1e3)
        }
        guard let name = zoo, let entry = Zoo(rawValue: name) else { throw ValidationError("unknown zoo model") }
        if let shape {
            guard shape[1] == entry.defaultInputShape[0], shape[2] == shape[3] else {
                throw ValidationError("\(name) takes \(entry.defaultInputShape[0]) channels and a square input; --input-shape \(inputShape ?? "") does not fit")
            }
        }
        return (try entry.model(seed: seed, inputSize: shape?[2]), nil)
    }

    func run() throws {
        try memoryLimit.apply()
        // A run overwrites its outputs (no --force), so it must at least never overwrite what it reads.
        let reads = [model, input, wisdom].compactMap { $0 }
        for written in [output, export].compactMap({ $0 }) {
            for read in reads.isEmpty ? [nil] : reads.map(Optional.some) { try PruneRequest.checkOutput(written, input: read, force: true) }
        }
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let (model, readMilliseconds) = try loadModel()
        let loadMilliseconds = Self.milliseconds(since: loadStart)
        // Reading depends on the disk and the page cache, decoding on us: both are shown.
        let loaded = "loaded in \(Self.format(loadMilliseconds)) ms" + (readMilliseconds.map { " (file read \(Self.format($0)) ms)" } ?? "")
        if verbose, let summary = model.importSummary { print(summary) }
        if let export {
            let writeStart = DispatchTime.now().uptimeNanoseconds
            try model.writeONNX(to: export)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: export)[.size] as? Int) ?? nil
            print("wrote \(export)\(bytes.map { " (\($0) bytes)" } ?? ""): \(model.nodes.count) nodes, \(model.parameterCount) parameters; \(loaded), written in \(Self.format(Self.milliseconds(since: writeStart))) ms")
            return
        }

        let tensor: Tensor
        if let input {
            tensor = try NumPy.read(contentsOf: input)
            guard tensor.shape.count == 4, Array(tensor.shape.dropFirst()) == model.inputShape else {
                throw SparseConvError.shapeMismatch(what: "input \(input) (model '\(model.name)' takes [N, \(model.inputShape.map(String.init).joined(separator: ", "))])",
                                                    expected: [tensor.shape.first ?? 1] + model.inputShape, actual: tensor.shape)
            }
        } else {
            let batch = try parsedInputShape()?[0] ?? 1
            tensor = try Tensor.random(shape: [batch] + model.inputShape, seed: seed)
        }

        let store = wisdom.map { Wisdom(contentsOf: $0) }
        if let diagnostic = store?.loadDiagnostic { warn(diagnostic) }
        let mode = Planner.Mode(rawValue: plan) ?? .estimate
        let planned = try Planner(mode: mode, threads: threads, wisdom: store).plan(model, batch: tensor.shape[0])
        // Saved right after planning so the timings survive a failing run.
        if let store, mode == .measure { try store.save() }
        if showPlan { print(planned, terminator: "") }

        let context = try planned.makeContext()
        var result = try Tensor(shape: planned.outputShape)
        var milliseconds: [Double] = []
        for _ in 0..<repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            try planned.run(tensor, into: &result, context: context)
            milliseconds.append(Self.milliseconds(since: start))
        }
        milliseconds.sort()
        let median = milliseconds.count % 2 == 1 ? milliseconds[milliseconds.count / 2]
            : (milliseconds[milliseconds.count / 2 - 1] + milliseconds[milliseconds.count / 2]) / 2
        print("\(model.name): output \(result.shape), median \(Self.format(median)) ms over \(repetitions) run(s), batch \(tensor.shape[0]), \(planned.threads) thread(s), \(mode.rawValue) plan; model \(loaded)")
        if profile { printProfile(try planned.profile(tensor, repetitions: repetitions), plan: planned) }
        if let output {
            try NumPy.write(result, to: output)  // atomic: temporary file, then rename
        }
    }

    /// Every step in execution order (measured next to the planner's
    /// expectation), then the time per kind of step.
    func printProfile(_ timings: [StepTiming], plan: Plan) {
        let total = max(timings.reduce(0) { $0 + $1.milliseconds }, 1e-9)
        var expected: [String: Double] = [:]
        for layer in plan.layers { expected[layer.name] = layer.expectedMilliseconds }
        print("profile: median ms per step, each timed on its own (sum \(Self.format(total)) ms)")
        print("  \("step".padding(toLength: 28, withPad: " ", startingAt: 0)) \("kind (path)".padding(toLength: 28, withPad: " ", startingAt: 0)) \("expected".leftPadded(9)) \("measured".leftPadded(9))  share")
        for timing in timings {
            let what = timing.path.map { "\(timing.kind) (\($0.rawValue))" } ?? timing.kind
            print("  \(timing.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(what.padding(toLength: 28, withPad: " ", startingAt: 0)) \((expected[timing.name].map(Self.format) ?? "-").leftPadded(9)) \(Self.format(timing.milliseconds).leftPadded(9))  \(String(format: "%5.1f", timing.milliseconds / total * 100))%")
        }
        var byKind: [String: (Double, Int)] = [:]
        for timing in timings {
            let key = timing.path.map { "\(timing.kind) (\($0.rawValue))" } ?? timing.kind
            byKind[key, default: (0, 0)].0 += timing.milliseconds
            byKind[key, default: (0, 0)].1 += 1
        }
        print("  per kind:")
        for (kind, (ms, count)) in byKind.sorted(by: { $0.value.0 > $1.value.0 }) {
            print("  \(kind.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(count).leftPadded(4)) steps \(Self.format(ms).leftPadded(9)) ms  \(String(format: "%5.1f", ms / total * 100))%")
        }
    }

    static func milliseconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func format(_ milliseconds: Double) -> String { String(format: "%.3f", milliseconds) }

    func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// One line, `error: ...`, and a non-zero status for every failure;
    /// OpenMP threads bound one per core unless the environment says otherwise.
    static func main() {
        Runtime.bindThreadsToCores()
        mainWithOneLineErrors()
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
