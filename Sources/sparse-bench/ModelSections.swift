import Foundation
import SparseConv

/// Question 5 (and the "models" suite): whole models dense versus globally
/// magnitude-pruned at each granularity, end to end through the planner, and
/// which path the planner picked per layer.
struct ModelSection {
    static let id = "q5-models"
    let bench: Bench
    let models: [Zoo]
    /// Target sparsities per model (the default suite gives the ImageNet
    /// models fewer: pruning and planning one of them takes seconds).
    let sparsities: (Zoo) -> [Double]
    /// ONNX files (`--model`), timed as they are (their zeros are their
    /// pruning) against the same model planned with dense paths only.
    var files: [String] = []

    var items: Int { files.count * 2 + models.reduce(0) { $0 + 1 + sparsities($1).count * bench.granularities.count } }

    func run() throws -> SectionResult {
        var records: [Record] = []
        var plans: [String] = []
        for file in files {
            let name = URL(fileURLWithPath: file).lastPathComponent
            bench.progress.step("models", "\(name) (loading)")
            let model = try Model(onnxFile: file)
            let dense = try bench.timeModel(model, allowSparsePaths: false)
            var denseRecord = bench.modelRecord(section: Self.id, model: name, timed: dense, granularity: "dense", denseMs: dense.ms)
            denseRecord.target_sparsity = 0
            records.append(denseRecord)
            bench.progress.step("models", "\(name) (as pruned)")
            let asIs = try bench.timeModel(model)
            let detected = try model.detectedPruning().values.map(\.granularity)
            // The most common granularity among the pruned convolutions names the record.
            let label = Granularity.allCases.max { a, b in detected.filter { $0 == a }.count < detected.filter { $0 == b }.count }
            records.append(bench.modelRecord(section: Self.id, model: name, timed: asIs,
                                             granularity: detected.isEmpty ? "file" : label!.rawValue, denseMs: dense.ms))
            if bench.showPlans { plans.append(asIs.plan.description) }
        }
        for zoo in models {
            bench.progress.step("models", "\(zoo.rawValue) (building)")
            let model = try zoo.model(seed: 1)
            let dense = try bench.timeModel(model)
            var denseRecord = bench.modelRecord(section: Self.id, model: zoo.rawValue, timed: dense, granularity: "dense", denseMs: dense.ms)
            denseRecord.target_sparsity = 0
            records.append(denseRecord)
            if bench.showPlans { plans.append(dense.plan.description) }
            for granularity in bench.granularities {
                for sparsity in sparsities(zoo) {
                    bench.progress.step("models", "\(zoo.rawValue) \(granularity.rawValue) \(Report.percent(sparsity))")
                    // Magnitude pruning (global by default) with the default skip
                    // rules: the first convolution and depthwise convolutions stay dense.
                    let options = PruningOptions(granularity: granularity, sparsity: sparsity, scope: bench.pruningScope)
                    let clock = ContinuousClock()
                    let pruneStart = clock.now
                    var pruned = try model.pruned(options).model
                    // Channel pruning as users get it from sparse-prune: the
                    // pruned filters and what depends on them removed physically
                    // wherever that is exact, not just zeroed.
                    if granularity == .channel { pruned = try pruned.removingZeroChannels().model }
                    let pruneSeconds = (clock.now - pruneStart).seconds
                    let timed = try bench.timeModel(pruned)
                    var r = bench.modelRecord(section: Self.id, model: zoo.rawValue, timed: timed, granularity: granularity.rawValue,
                                              denseMs: dense.ms, original: granularity == .channel ? dense : nil)
                    r.target_sparsity = sparsity
                    r.prune_seconds = pruneSeconds
                    r.pruning_scope = bench.pruningScope.rawValue
                    records.append(r)
                    if bench.showPlans { plans.append("\(granularity.rawValue) \(Report.percent(sparsity)): " + timed.plan.description) }
                }
            }
        }
        return SectionResult(id: Self.id, title: "5. Whole models, batch \(bench.batch): dense vs \(bench.pruningScope == .global ? "globally" : "per-layer") pruned (planner: \(bench.planMode.rawValue) mode)",
                             records: records, tables: [Self.table(records)] + plans, conclusion: Self.conclusion(records))
    }

    /// "block1x2 48, dense 5": layers per chosen path, most used first.
    static func pathCounts(_ r: Record) -> String {
        (r.paths ?? []).filter { $0.path != "other" }.sorted { $0.layers > $1.layers }
            .map { "\($0.path) \($0.layers)" }.joined(separator: ", ")
    }

    /// Share of the planner's expected time spent in sparse paths.
    static func sparseShare(_ r: Record) -> Double {
        (r.paths ?? []).filter { ExecutionPath(rawValue: $0.path)?.isSparse == true }.reduce(0) { $0 + $1.share }
    }

    static func table(_ records: [Record]) -> String {
        var rows: [[String]] = [["model", "pruning", "conv zeros", "ms", "vs dense", "eff GF/s", "useful GF/s", "conv layers per path",
                                 "time in sparse paths"]]
        for r in records {
            let config = r.granularity == "dense" ? "dense" : "\(r.granularity) \(Report.percent(r.target_sparsity ?? r.sparsity))"
            rows.append([r.model ?? "", config, Report.percent1(r.sparsity), Report.fixed(r.ms, 3),
                         r.speedup_vs_dense.map(Report.times) ?? "", r.effective_gflops.map { Report.fixed($0, 1) } ?? "",
                         r.useful_gflops.map { Report.fixed($0, 1) } ?? "", pathCounts(r), Report.percent(sparseShare(r))])
        }
        return Report.grid(rows, left: 2)
    }

    /// At the highest target sparsity: the best granularity per model and its
    /// speedup, and how much of the time the planner put on sparse paths.
    static func conclusion(_ records: [Record]) -> String {
        let pruned = records.filter { $0.granularity != "dense" }
        guard let top = pruned.compactMap(\.target_sparsity).max() else { return "Q5: dense models only (no sparsities)." }
        let atTop = pruned.filter { $0.target_sparsity == top }
        var models: [String] = []
        for r in records where !models.contains(r.model ?? "") { models.append(r.model ?? "") }
        let best = models.compactMap { m in atTop.filter { $0.model == m }.max { ($0.speedup_vs_dense ?? 0) < ($1.speedup_vs_dense ?? 0) } }
        guard !best.isEmpty else { return "Q5: no pruned models measured." }
        let list = best.map { "\($0.model ?? "") \(Report.times($0.speedup_vs_dense ?? 0)) (\($0.granularity))" }.joined(separator: ", ")
        let slower = pruned.filter { ($0.speedup_vs_dense ?? 1) < 0.97 }.count
        let share = atTop.map(sparseShare).reduce(0, +) / Double(atTop.count)
        return "Q5: at \(Report.percent(top)) \(atTop.first?.pruning_scope ?? "global") sparsity (ideal \(Report.times(1 / (1 - top)))) the best granularity speeds up \(list); "
            + "the planner put \(Report.percent(share)) of the expected time on sparse paths there; "
            + "\(slower)/\(pruned.count) pruned configurations ran more than 3 % slower than dense."
    }
}

/// Question 4: dilated versus large-kernel versus pruned 3×3 cascade at equal
/// parameters — the three CIFAR networks, dense and pruned to the same
/// number of nonzero convolution weights.
struct CifarSection {
    static let id = "q4-cifar"
    let bench: Bench
    static let nets: [Zoo] = [.cifarDilated, .cifarLargeKernel, .cifarCascade]

    var items: Int { Self.nets.count * (1 + 3 * bench.granularities.count) }

    /// A parameter budget: nonzero convolution weights every net is pruned to.
    struct Budget { let name: String; let weights: Int }

    /// Convolution weights of a model, and those of its first convolution
    /// (which global pruning keeps dense by default, so it is a floor).
    static func convWeights(_ model: Model) -> (total: Int, first: Int) {
        var total = 0, first = 0
        for node in model.nodes {
            guard case .convolution(let conv) = node.operation else { continue }
            if total == 0 { first = conv.weight.count }
            total += conv.weight.count
        }
        return (total, first)
    }

    /// The global sparsity (over the prunable weights) that leaves `budget`
    /// nonzero weights in all, or nil when the net has fewer weights than
    /// the budget or more in its dense first layer.
    static func sparsity(toReach budget: Int, total: Int, first: Int) -> Double? {
        guard budget <= total, budget >= first, total > first else { return nil }
        return 1 - Double(budget - first) / Double(total - first)
    }

    func run() throws -> SectionResult {
        var models: [Zoo: Model] = [:]
        var sizes: [Zoo: (total: Int, first: Int)] = [:]
        for net in Self.nets {
            let model = try net.model(seed: 1)
            models[net] = model
            sizes[net] = Self.convWeights(model)
        }
        // The budgets: the dilated net's dense weights (the smallest net),
        // and the cascade at 25 % / the large-kernel net at 15 % sparsity,
        // with the sparsities that bring the other nets to the same count.
        let cascade = sizes[.cifarCascade]!, large = sizes[.cifarLargeKernel]!
        let budgets = [
            Budget(name: "dilated dense", weights: sizes[.cifarDilated]!.total),
            Budget(name: "cascade @25%", weights: cascade.first + Int((0.75 * Double(cascade.total - cascade.first)).rounded())),
            Budget(name: "large-kernel @15%", weights: large.first + Int((0.85 * Double(large.total - large.first)).rounded())),
        ]
        var records: [Record] = []
        var denseMs: [Zoo: Double] = [:]
        for net in Self.nets {
            bench.progress.step("cifar", "\(net.rawValue) dense")
            let timed = try bench.timeModel(models[net]!)
            denseMs[net] = timed.ms
            var r = bench.modelRecord(section: Self.id, model: net.rawValue, timed: timed, granularity: "dense", denseMs: timed.ms)
            r.variant = "dense"
            r.target_sparsity = 0
            records.append(r)
        }
        var rows: [[String]] = [["budget", "net", "target sparsity", "nonzero weights", "best granularity", "ms", "vs own dense",
                                 "vs dilated dense"]]
        var summaries: [(budget: String, net: String, sparsity: Double, granularity: String, ms: Double)] = []
        for budget in budgets {
            for net in Self.nets {
                let size = sizes[net]!
                guard let sparsity = Self.sparsity(toReach: budget.weights, total: size.total, first: size.first) else {
                    rows.append([budget.name, net.rawValue, "n/a: > \(Report.count(size.total))", "", "", "", "", ""])
                    continue
                }
                var candidates: [Record] = []
                if sparsity < 1e-9 {
                    var r = records.first { $0.model == net.rawValue && $0.variant == "dense" }!
                    r.variant = "budget \(budget.name)"
                    candidates.append(r)
                } else {
                    for granularity in bench.granularities {
                        bench.progress.step("cifar", "\(net.rawValue) \(granularity.rawValue) \(Report.percent(sparsity))")
                        let options = PruningOptions(granularity: granularity, sparsity: sparsity, scope: .global)
                        let timed = try bench.timeModel(try models[net]!.pruned(options).model)
                        var r = bench.modelRecord(section: Self.id, model: net.rawValue, timed: timed, granularity: granularity.rawValue,
                                                  denseMs: denseMs[net])
                        r.variant = "budget \(budget.name)"
                        r.target_sparsity = sparsity
                        candidates.append(r)
                    }
                    records += candidates
                }
                guard let best = candidates.min(by: { $0.ms < $1.ms }) else { continue }
                summaries.append((budget.name, net.rawValue, sparsity, best.granularity, best.ms))
                rows.append([budget.name, net.rawValue, Report.percent1(sparsity), Report.count(best.parameters ?? 0), best.granularity,
                             Report.fixed(best.ms, 3), Report.times(denseMs[net]! / best.ms),
                             Report.times(denseMs[.cifarDilated]! / best.ms)])
            }
        }
        return SectionResult(id: Self.id, title: "4. CIFAR nets at equal parameters: dilated vs large kernel vs pruned 3×3 cascade",
                             records: records, tables: [Report.grid(rows, left: 2)],
                             conclusion: Self.conclusion(budgets[0], summaries.filter { $0.budget == budgets[0].name }))
    }

    static func conclusion(_ budget: Budget, _ rows: [(budget: String, net: String, sparsity: Double, granularity: String, ms: Double)]) -> String {
        guard let fastest = rows.min(by: { $0.ms < $1.ms }), let slowest = rows.max(by: { $0.ms < $1.ms }) else {
            return "Q4: nothing measured."
        }
        let list = rows.sorted { $0.ms < $1.ms }.map { r in
            "\(r.net)" + (r.sparsity > 0 ? " pruned to \(Report.percent(r.sparsity)) (\(r.granularity))" : " dense") + " \(Report.fixed(r.ms, 3)) ms"
        }.joined(separator: " < ")
        return "Q4: at \(Report.count(budget.weights)) nonzero conv weights: \(list); the fastest (\(fastest.net)) is "
            + "\(Report.times(slowest.ms / fastest.ms)) faster than the slowest."
    }
}
