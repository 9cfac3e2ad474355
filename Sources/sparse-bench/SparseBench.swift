import ArgumentParser
import Foundation
import SparseConv

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

/// What a run measures, and how long it may take.
enum Suite: String, ExpressibleByArgument, CaseIterable {
    /// All five questions with short timings: a few minutes on 2 cores.
    case `default`
    /// Question 1 only, every catalog layer, full timings.
    case layers
    /// Question 5 only (whole models), full timings.
    case models
    /// All five questions with full timings.
    case questions
    /// Tiny shapes through every section (CI smoke test, pair with --verify).
    case quick

    /// Minimum timed repetitions and seconds per measurement unless given.
    /// The default suite trades precision for a few minutes in total: a
    /// median of 3 after 2 warm-ups is stable to a few percent on layers of
    /// ≥ 0.1 ms, and the conclusions compare ratios far larger than that.
    var timing: (repetitions: Int, minTime: Double) {
        switch self {
        case .default: return (3, 0.02)
        case .quick: return (3, 0.005)
        case .layers, .models, .questions: return (10, 0.2)
        }
    }

    var sections: Set<String> {
        switch self {
        case .layers: return [LayerSection.id]
        case .models: return [ModelSection.id]
        case .default, .questions, .quick:
            return [LayerSection.id, BudgetSection.id, GroupsSection.id, CifarSection.id, ModelSection.id]
        }
    }
}

@main
struct SparseBench: ParsableCommand {
    /// Binds OpenMP's threads one per core (unless OMP_PROC_BIND or
    /// OMP_PLACES is set) before anything starts the runtime: unbound, some
    /// processes ran their threads on one core throughout, so a whole run
    /// measured at half speed.
    static func main() {
        Runtime.bindThreadsToCores()
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "sparse-bench",
        abstract: "Times every convolution path of SparseConv side by side, on layers and whole models.",
        discussion: """
            Answers the five questions of DESIGN.md, each in its own section ending in a conclusion computed from \
            the measurements: (1) speedup and efficiency per granularity and sparsity, (2) pruned vs grouped vs \
            depthwise-separable at an equal parameter budget, (3) grouped time vs groups, (4) the CIFAR nets at \
            equal parameters, (5) whole models dense vs pruned with the planner's choices.

            Times are medians after warm-up; effective GFLOP/s = dense-equivalent FLOPs / time, useful GFLOP/s = \
            FLOPs on stored weights / time. --layers restricts the run to layer sections (1-3) and --zoo to model \
            sections (4-5) unless both are given. Build with -c release for figures.
            """)

    @Option(help: "Which suite: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite = .default
    @Option(help: "Only layers whose name contains this substring (sections 1-3).")
    var layers: String?
    @Option(help: "Comma-separated granularities: element, block1x2, kernel, channel.")
    var granularity: String = "block1x2,element,kernel,channel"
    @Option(help: "Comma-separated sparsities (default: 0.5,0.75,0.9,0.95 for layers, 0.5,0.75,0.9 for models).")
    var sparsities: String?
    @Option(help: "Comma-separated zoo models for section 5 (default: resnet50, mobilenetV1, vgg16 and the CIFAR nets; 'all' for the whole zoo).")
    var zoo: String?
    @Option(help: "An ONNX model file to time in section 5: as it is (its zeros are its pruning) against its dense plan.")
    var model: String?
    @Option(help: "Batch size.")
    var batch: Int = 1
    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0
    @Option(help: "Minimum timed repetitions per measurement (default: 3 for default/quick, 10 otherwise).")
    var repetitions: Int?
    @Option(help: "Minimum seconds of timed runs per measurement (default: 0.02 for default, 0.2 for full suites).")
    var minTime: Double?
    @Option(help: "Planner mode for models: estimate (cost model) or measure (time the candidates).")
    var plan: Planner.Mode = .estimate
    @Option(help: "How section 5 prunes whole models: global (one magnitude threshold across layers) or layer (every layer to the sparsity).")
    var scope: PruningOptions.Scope = .global
    @Flag(help: "Print each model plan's per-layer table: shape, zeros, chosen path, expected ms and share.")
    var showPlans = false
    @Flag(help: "Check every path against the reference convolution (models: against their all-dense plan) before timing it.")
    var verify = false
    @Option(help: "Output format: table, csv or json.")
    var format: OutputFormat = .table
    @Option(help: "Write the report to this file instead of standard output.")
    var output: String?
    @Option(help: "Also draw the figures into this SVG file.")
    var plot: String?
    @Option(help: "Also write the records as JSON into this file (one run, table on stdout and JSON for scripts).")
    var json: String?
    @Flag(help: "Print the built-in layer list as JSON and exit.")
    var listLayers = false

    static func parseList<T>(_ text: String, _ what: String, _ parse: (String) -> T?) throws -> [T] {
        try text.split(separator: ",").map { item in
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let value = parse(trimmed) else { throw ValidationError("\(what): cannot read '\(trimmed)'") }
            return value
        }
    }

    static func zooModel(_ name: String) -> Zoo? {
        Zoo.allCases.first { $0.rawValue.lowercased() == name.lowercased() }
    }

    var granularityList: [Granularity] {
        get throws { try Self.parseList(granularity, "--granularity (element, block1x2, kernel, channel)") { Granularity(rawValue: $0) } }
    }

    var sparsityList: [Double]? {
        get throws {
            try sparsities.map { text in
                try Self.parseList(text, "--sparsities (numbers in [0, 1])") { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } }
            }
        }
    }

    var zooList: [Zoo] {
        get throws {
            guard let zoo else {
                return suite == .quick ? [.cifarDilated] : [.resnet50, .mobilenetV1, .vgg16, .cifarDilated, .cifarLargeKernel, .cifarCascade]
            }
            if zoo.lowercased() == "all" { return Zoo.allCases }
            return try Self.parseList(zoo, "--zoo (\(Zoo.allCases.map(\.rawValue).joined(separator: ", ")))", Self.zooModel)
        }
    }

    /// One JSON array, one record per measurement, each with its machine.
    static func json(_ records: [Record], machine: MachineInfo) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stamped = records.map { record -> Record in
            var record = record
            record.machine = machine
            return record
        }
        return String(decoding: try encoder.encode(stamped), as: UTF8.self) + "\n"
    }

    mutating func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be ≥ 0") }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1") }
        guard (repetitions ?? 1) >= 1 else { throw ValidationError("--repetitions must be ≥ 1") }
        guard (minTime ?? 0) >= 0 else { throw ValidationError("--min-time must be ≥ 0") }
        _ = try granularityList
        _ = try sparsityList
        _ = try zooList
        if let model, !FileManager.default.isReadableFile(atPath: model) {
            throw ValidationError("--model \(model): no readable file there")
        }
        if let plot, !plot.lowercased().hasSuffix(".svg") { throw ValidationError("--plot takes a .svg file name, got '\(plot)'") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let threadCount = threads == 0 ? Runtime.defaultThreads : threads
        let machine = MachineInfo.current(threads: threadCount)
        let quick = suite == .quick
        let filter: (BenchLayer) -> Bool = { layer in layers.map { layer.name.contains($0) } ?? true }
        let catalog = (quick ? LayerCatalog.quick : LayerCatalog.all).filter(filter)
        if listLayers {
            try write(String(decoding: try JSONEncoder().encode(catalog.map(shapeRecord)), as: UTF8.self) + "\n")
            return
        }
        if !BuildInfo.isOptimized {
            FileHandle.standardError.write(Data("""
                WARNING: sparse-bench was built without optimization (debug). The C kernels are optimized \
                either way, but per-call Swift overhead is inflated: use `swift run -c release sparse-bench` for figures.

                """.utf8))
        }

        // Which sections run: the suite's, narrowed by --layers / --zoo.
        var sections = suite.sections
        if layers != nil && zoo == nil { sections.subtract([CifarSection.id, ModelSection.id]) }
        if (zoo != nil || model != nil) && layers == nil { sections.subtract([LayerSection.id, BudgetSection.id, GroupsSection.id]) }
        if model != nil && zoo == nil { sections.remove(CifarSection.id) }
        // A file alone times that file; with --zoo too, both.
        let models = model != nil && zoo == nil ? [] : try zooList
        if zoo != nil && !models.contains(where: CifarSection.nets.contains) { sections.remove(CifarSection.id) }

        let timing = suite.timing
        let bench = Bench(threads: threadCount, batch: batch,
                          timer: Timer(repetitions: repetitions ?? timing.repetitions, minTime: minTime ?? timing.minTime),
                          verify: verify, granularities: try granularityList, planMode: plan, pruningScope: scope, showPlans: showPlans,
                          progress: Progress())
        let requested = try sparsityList
        let layerSection = LayerSection(bench: bench, layers: catalog, sparsities: requested ?? [0.5, 0.75, 0.9, 0.95])
        let budgetSection = BudgetSection(bench: bench, layers: (quick ? LayerCatalog.quickBudget : LayerCatalog.budget).filter(filter),
                                          groupCounts: [2, 4, 8])
        let groupsSection = GroupsSection(bench: bench, layers: (quick ? LayerCatalog.quickGroups : LayerCatalog.groups).filter(filter),
                                          groupCounts: [1, 2, 4, 8, 32, 0])
        let cifarSection = CifarSection(bench: bench)
        // Global pruning and planning of a 15–25 M-weight ImageNet model take
        // 10–40 s per configuration (library cost, mostly Model.pruned), so the
        // default suite prunes those at 90 % only; the CIFAR nets and the
        // models/questions suites get the full 50/75/90 % grid.
        var modelSection = ModelSection(bench: bench, models: models) { zoo in
            if let requested { return requested }
            if quick { return [0.5, 0.9] }
            let small = zoo.defaultInputShape[1] <= 64
            return suite == .default && !small ? [0.9] : [0.5, 0.75, 0.9]
        }
        if let model {
            modelSection.files = [model]
            sections.insert(ModelSection.id)
        }

        // Announce the work for the progress line, then run in question order.
        let plan: [(id: String, items: Int, run: () throws -> SectionResult)] = [
            (LayerSection.id, layerSection.items, layerSection.run),
            (BudgetSection.id, budgetSection.items, budgetSection.run),
            (GroupsSection.id, groupsSection.items, groupsSection.run),
            (CifarSection.id, cifarSection.items, cifarSection.run),
            (ModelSection.id, modelSection.items, modelSection.run),
        ].filter { sections.contains($0.id) && $0.items > 0 }
        guard !plan.isEmpty else {
            throw ValidationError("nothing to run: no layer matches --layers \(layers ?? "") in the \(suite.rawValue) suite")
        }
        for section in plan { bench.progress.plan(section.items) }
        var results: [SectionResult] = []
        for section in plan {
            let sectionStart = clock.now
            var result = try section.run()
            result.seconds = (clock.now - sectionStart).seconds
            results.append(result)
        }
        bench.progress.finish()

        let wall = (clock.now - started).seconds
        let records = results.flatMap(\.records)
        switch format {
        case .table: try write(Report.text(results, machine: machine, wallSeconds: wall))
        case .csv: try write(Report.csv(records))
        case .json: try write(try Self.json(records, machine: machine))
        }
        if let json {
            try Data(try Self.json(records, machine: machine).utf8).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
        if let plot {
            try Data(Plot.svg(results, machine: machine).utf8).write(to: URL(fileURLWithPath: plot), options: .atomic)
        }
        if format != .table {
            // The conclusions still belong to the run; JSON/CSV stay machine-readable on stdout.
            FileHandle.standardError.write(Data((results.map(\.conclusion).joined(separator: "\n") + "\n").utf8))
        }
    }

    func write(_ text: String) throws {
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            print(text, terminator: "")
        }
    }

    func shapeRecord(_ layer: BenchLayer) -> [String: String] {
        let s = Record.shape(layer.spec)
        return ["layer": layer.name, "family": layer.family,
                "spec": "\(s.c_in),\(s.c_out),\(s.h),\(s.w),\(s.kh),\(s.kw),\(s.stride),\(s.pad),\(s.dilation),\(s.groups)"]
    }
}

extension Planner.Mode: ExpressibleByArgument {}
extension PruningOptions.Scope: ExpressibleByArgument {}
