import Foundation
import SparseConv

/// Question 2: at an equal parameter budget, which is faster — a pruned
/// standard convolution, a grouped convolution (groups ≈ 1/d), or a
/// depthwise-separable replacement?
struct BudgetSection {
    static let id = "q2-budget"
    let bench: Bench
    /// Standard convolutions with inChannels == outChannels (so that grouped
    /// and depthwise-separable replacements keep the shape).
    let layers: [BenchLayer]
    let groupCounts: [Int]

    var items: Int { layers.count }

    struct Point {
        let layer: String
        let budget: String
        let density: Double
        let parameters: Int
        var denseMs: Double
        var pruned: [(granularity: String, ms: Double)] = []
        var grouped: (groups: Int, ms: Double, exact: Bool)?
        var separable: Double?
    }

    func run() throws -> SectionResult {
        var records: [Record] = []
        var points: [Point] = []
        for layer in layers {
            bench.progress.step("budget", layer.name)
            let (r, p) = try measure(layer)
            records += r
            points += p
        }
        return SectionResult(id: Self.id, title: "2. Equal parameter budget: pruned vs grouped vs depthwise-separable",
                             records: records, tables: [Self.table(points)], conclusion: Self.conclusion(points))
    }

    func measure(_ layer: BenchLayer) throws -> ([Record], [Point]) {
        let spec = layer.spec
        let c = spec.inChannels, k = spec.kernelHeight, weights = spec.weightCount
        let (weight, bias, input) = try bench.data(for: spec)
        var records: [Record] = []
        guard let dense = try bench.timeBestDense(layer.name, spec: spec, weight: weight, bias: bias, input: input)
            .min(by: { $0.ms < $1.ms }) else { return ([], []) }
        var denseRecord = bench.layerRecord(section: Self.id, layer: layer.name, family: layer.family, spec: spec, timed: dense,
                                            granularity: "dense", sparsity: 0, density: 1, denseMs: dense.ms)
        denseRecord.variant = "dense standard"
        records.append(denseRecord)

        // Budgets: 1/g of the weights for each group count, and the weights of
        // a depthwise k×k + pointwise 1×1 pair (no biases: weights only).
        let separableWeights = c * k * k + c * c
        var budgets: [(name: String, density: Double, groups: Int, exact: Bool, separable: Bool)] =
            groupCounts.filter { c % $0 == 0 && $0 > 1 }.map { ("1/\($0)", 1 / Double($0), $0, true, false) }
        let separableDensity = Double(separableWeights) / Double(weights)
        // The group count nearest to 1/d (geometrically) that divides the channels.
        let nearest = (0...12).map { 1 << $0 }.filter { c % $0 == 0 }
            .min { abs(log(Double($0) * separableDensity)) < abs(log(Double($1) * separableDensity)) }!
        budgets.append(("dw-sep", separableDensity, nearest, false, true))

        var points: [Point] = []
        for budget in budgets {
            var point = Point(layer: layer.name, budget: budget.name, density: budget.density,
                              parameters: Int((budget.density * Double(weights)).rounded()), denseMs: dense.ms)
            let sparsity = 1 - budget.density
            for granularity in bench.granularities {
                let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: granularity, sparsity: sparsity)
                let pruned = try mask.apply(to: weight)
                guard let timed = try bench.timeConvolution(layer.name, spec: spec, weight: pruned, bias: bias, input: input,
                                                            mask: mask) else { continue }
                var r = bench.layerRecord(section: Self.id, layer: layer.name, family: layer.family, spec: spec, timed: timed,
                                          granularity: granularity.rawValue, sparsity: mask.sparsity, density: mask.density,
                                          denseMs: dense.ms)
                r.variant = "pruned \(budget.name)"
                records.append(r)
                point.pruned.append((granularity.rawValue, timed.ms))
            }
            // The grouped replacement: same channels and kernel, g groups.
            let groupedSpec = try Conv2DSpec(inChannels: c, outChannels: c, inputSize: spec.inputHeight, kernelSize: k,
                                             stride: spec.strideHeight, padding: spec.padding.top,
                                             dilation: spec.dilationHeight, groups: budget.groups)
            let g = try bench.data(for: groupedSpec, seed: 17)
            if let timed = try bench.timeBestDense("\(layer.name) g\(budget.groups)", spec: groupedSpec, weight: g.weight,
                                                   bias: g.bias, input: input).min(by: { $0.ms < $1.ms }) {
                var r = bench.layerRecord(section: Self.id, layer: layer.name, family: "grouped", spec: groupedSpec, timed: timed,
                                          granularity: "dense", sparsity: 1 - 1 / Double(budget.groups),
                                          density: 1 / Double(budget.groups), denseMs: dense.ms)
                r.variant = "grouped g=\(budget.groups) \(budget.name)"
                records.append(r)
                point.grouped = (budget.groups, timed.ms, budget.exact)
            }
            if budget.separable {
                // Depthwise k×k then pointwise 1×1, timed separately and added
                // (each has its own dense fast path; the 1×1 reads what the
                // depthwise wrote, so the sum is what a model would spend).
                let dwSpec = try Conv2DSpec(inChannels: c, outChannels: c, inputSize: spec.inputHeight, kernelSize: k,
                                            stride: spec.strideHeight, padding: spec.padding.top,
                                            dilation: spec.dilationHeight, groups: c)
                let pwSpec = try Conv2DSpec(inChannels: c, outChannels: c, inputSize: dwSpec.outputHeight, kernelSize: 1)
                let dw = try bench.data(for: dwSpec, seed: 27), pw = try bench.data(for: pwSpec, seed: 37)
                if let dwTimed = try bench.timeBestDense("\(layer.name) dw", spec: dwSpec, weight: dw.weight, bias: dw.bias,
                                                         input: input).min(by: { $0.ms < $1.ms }),
                   let pwTimed = try bench.timeConvolution("\(layer.name) pw", spec: pwSpec, weight: pw.weight, bias: pw.bias,
                                                           input: pw.input, path: .dense) {
                    let ms = dwTimed.ms + pwTimed.ms
                    var r = Record(section: Self.id, granularity: "dense", sparsity: sparsity, threads: bench.threads,
                                   batch: bench.batch, ms: ms)
                    r.layer = layer.name
                    r.family = "depthwise-separable"
                    r.variant = "depthwise-separable (\(dwTimed.conv.path.rawValue) \(Report.fixed(dwTimed.ms, 4)) ms + pointwise \(Report.fixed(pwTimed.ms, 4)) ms)"
                    r.path = "\(dwTimed.conv.path.rawValue)+\(pwTimed.conv.path.rawValue)"
                    r.effective_gflops = spec.flops * Double(bench.batch) / ms / 1e6
                    r.useful_gflops = (dwSpec.flops + pwSpec.flops) * Double(bench.batch) / ms / 1e6
                    r.speedup_vs_dense = dense.ms / ms
                    r.efficiency = dense.ms / ms * separableDensity
                    r.verified_error = [dwTimed.verifiedError, pwTimed.verifiedError].compactMap { $0 }.max()
                    r.shape = Record.shape(dwSpec)
                    r.parameters = separableWeights
                    records.append(r)
                    point.separable = ms
                }
            }
            points.append(point)
        }
        return (records, points)
    }

    static func table(_ points: [Point]) -> String {
        var rows: [[String]] = [["layer", "budget", "weights", "dense ms", "best pruned", "ms", "grouped", "ms", "dw-sep ms", "fastest"]]
        for p in points {
            let best = p.pruned.min { $0.ms < $1.ms }
            rows.append([p.layer, "\(p.budget) (\(Report.percent1(p.density)))", Report.count(p.parameters), Report.fixed(p.denseMs, 3),
                         best?.granularity ?? "", best.map { Report.fixed($0.ms, 3) } ?? "",
                         p.grouped.map { "g=\($0.groups)" + ($0.exact ? "" : " (≈)") } ?? "",
                         p.grouped.map { Report.fixed($0.ms, 3) } ?? "", p.separable.map { Report.fixed($0, 3) } ?? "",
                         fastest(p)?.name ?? ""])
        }
        return Report.grid(rows, left: 2)
    }

    static func fastest(_ p: Point) -> (name: String, ms: Double)? {
        var options: [(String, Double)] = []
        if let best = p.pruned.min(by: { $0.ms < $1.ms }) { options.append(("pruned \(best.granularity)", best.ms)) }
        if let g = p.grouped { options.append(("grouped", g.ms)) }
        if let s = p.separable { options.append(("depthwise-separable", s)) }
        return options.min { $0.1 < $1.1 }
    }

    static func conclusion(_ points: [Point]) -> String {
        guard !points.isEmpty else { return "Q2: nothing measured." }
        var wins: [String: Int] = [:]
        for p in points { if let f = fastest(p) { wins[f.name.hasPrefix("pruned") ? "pruned" : f.name, default: 0] += 1 } }
        let ranking = wins.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.key) \($0.value)/\(points.count)" }.joined(separator: ", ")
        // How the best pruned conv compares with the grouped one at the same budget.
        let ratios = points.compactMap { p -> Double? in
            guard let g = p.grouped, g.exact, let best = p.pruned.map(\.ms).min() else { return nil }
            return g.ms / best
        }
        let separable = points.compactMap { p -> Double? in
            guard let s = p.separable, let best = p.pruned.map(\.ms).min() else { return nil }
            return s / best
        }
        var text = "Q2: fastest at equal budget — \(ranking)"
        if let r = median(ratios) {
            text += "; grouped takes \(Report.fixed(r, 2))× the best pruned conv's time (median)"
        }
        if let s = median(separable) {
            text += "; depthwise-separable takes \(Report.fixed(s, 2))× (median)"
        }
        return text + "."
    }
}

/// Question 3: is a grouped convolution really `groups` times cheaper, or
/// does memory traffic eat the saving?
struct GroupsSection {
    static let id = "q3-groups"
    let bench: Bench
    let layers: [BenchLayer]
    /// Group counts; 0 stands for depthwise (groups = channels).
    let groupCounts: [Int]

    var items: Int { layers.count }

    struct Row { let layer: String; let groups: Int; let isDepthwise: Bool; let path: String; let ms: Double; let speedup: Double; let gflops: Double }

    func run() throws -> SectionResult {
        var records: [Record] = []
        var rows: [Row] = []
        for layer in layers {
            bench.progress.step("groups", layer.name)
            let base = layer.spec
            var baseMs: Double?
            for requested in groupCounts {
                let groups = requested == 0 ? base.inChannels : requested
                guard base.inChannels % groups == 0, base.outChannels % groups == 0 else { continue }
                let spec = try Conv2DSpec(inChannels: base.inChannels, outChannels: base.outChannels, inputSize: base.inputHeight,
                                          kernelSize: base.kernelHeight, stride: base.strideHeight, padding: base.padding.top,
                                          dilation: base.dilationHeight, groups: groups)
                let (weight, bias, input) = try bench.data(for: spec)
                guard let best = try bench.timeBestDense(layer.name, spec: spec, weight: weight, bias: bias, input: input)
                    .min(by: { $0.ms < $1.ms }) else { continue }
                if groups == 1 { baseMs = best.ms }
                guard let baseMs else { continue }
                var r = bench.layerRecord(section: Self.id, layer: layer.name, family: "grouped", spec: spec, timed: best,
                                          granularity: "dense", sparsity: 1 - 1 / Double(groups), density: 1 / Double(groups),
                                          denseMs: baseMs)
                r.variant = spec.isDepthwise ? "depthwise g=\(groups)" : "g=\(groups)"
                records.append(r)
                rows.append(Row(layer: layer.name, groups: groups, isDepthwise: spec.isDepthwise, path: best.conv.path.rawValue, ms: best.ms,
                                speedup: baseMs / best.ms, gflops: spec.flops * Double(bench.batch) / best.ms / 1e6))
            }
        }
        var table: [[String]] = [["layer", "groups", "path", "ms", "vs g=1", "ideal", "efficiency", "GF/s"]]
        for r in rows {
            table.append([r.layer, "\(r.groups)", r.path, Report.fixed(r.ms, 4), Report.times(r.speedup), Report.times(Double(r.groups)),
                          Report.fixed(r.speedup / Double(r.groups), 2), Report.fixed(r.gflops, 1)])
        }
        return SectionResult(id: Self.id, title: "3. Grouped convolution time vs groups (ideal: time / groups)",
                             records: records, tables: [Report.grid(table, left: 1)], conclusion: Self.conclusion(rows))
    }

    static func conclusion(_ rows: [Row]) -> String {
        guard rows.contains(where: { $0.groups > 1 }) else { return "Q3: nothing measured." }
        // Efficiency (speedup / groups) per group count, median over layers;
        // depthwise rows pool together although their group counts differ.
        func label(_ r: Row) -> String { r.isDepthwise ? "depthwise" : "g=\(r.groups)" }
        var order: [String] = []
        var byLabel: [String: [Row]] = [:]
        for r in rows.sorted(by: { $0.groups < $1.groups }) where r.groups > 1 {
            if byLabel[label(r)] == nil { order.append(label(r)) }
            byLabel[label(r), default: []].append(r)
        }
        let efficiency = order.map { ($0, median(byLabel[$0]!.map { $0.speedup / Double($0.groups) })!) }
        let parts = efficiency.map { "\($0.0) \(Report.fixed($0.1, 2))" }.joined(separator: ", ")
        let worst = efficiency.min { $0.1 < $1.1 }!
        let verdict = efficiency.allSatisfy({ $0.1 >= 0.8 }) ? "nearly — " : efficiency.allSatisfy({ $0.1 >= 0.5 }) ? "partly — " : "no — "
        let base = median(rows.filter { $0.groups == 1 }.map(\.gflops)) ?? 0
        let worstRate = median(byLabel[worst.0]!.map(\.gflops))!
        return "Q3: \(verdict)efficiency vs the ideal 1/groups (median over layers): \(parts); the worst, \(worst.0), "
            + "runs at \(Report.fixed(worstRate, 1)) GFLOP/s against \(Report.fixed(base, 1)) for g=1"
            + (worst.1 < 0.8 ? ": fewer FLOPs per byte moved, so memory traffic eats that part of the saving." : ".")
    }
}
