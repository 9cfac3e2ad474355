import Foundation
import SparseConv

/// Question 1: for one convolution pruned to sparsity s at each granularity,
/// how much faster than the dense path is it, and how close to the ideal 1/d?
struct LayerSection {
    static let id = "q1-layers"
    let bench: Bench
    let layers: [BenchLayer]
    let sparsities: [Double]

    var items: Int { layers.count }

    func run() throws -> SectionResult {
        var records: [Record] = []
        for layer in layers {
            bench.progress.step("layers", layer.name)
            records += try measure(layer)
        }
        return SectionResult(id: Self.id, title: "1. Speedup and efficiency per granularity and sparsity (single layers)",
                             records: records, tables: [Report.layerTable(records), Self.summaryTable(records)],
                             conclusion: Self.conclusion(records))
    }

    /// Times the dense paths that suit the layer, then every granularity at
    /// every sparsity. The baseline of the speedups is the fastest dense path.
    func measure(_ layer: BenchLayer) throws -> [Record] {
        let spec = layer.spec
        let (weight, bias, input) = try bench.data(for: spec)
        let dense = try bench.timeBestDense(layer.name, spec: spec, weight: weight, bias: bias, input: input)
        let denseMs = dense.map(\.ms).min()
        var records = dense.map {
            bench.layerRecord(section: Self.id, layer: layer.name, family: layer.family, spec: spec, timed: $0,
                              granularity: "dense", sparsity: 0, density: 1, denseMs: denseMs)
        }
        // Depthwise layers have no two output channels sharing an input: they stay dense.
        guard !spec.isDepthwise else { return records }
        for sparsity in sparsities {
            for granularity in bench.granularities {
                let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: granularity, sparsity: sparsity)
                let pruned = try mask.apply(to: weight)
                guard let timed = try bench.timeConvolution(layer.name, spec: spec, weight: pruned, bias: bias, input: input,
                                                            mask: mask) else { continue }
                var r = bench.layerRecord(section: Self.id, layer: layer.name, family: layer.family, spec: spec, timed: timed,
                                          granularity: granularity.rawValue, sparsity: mask.sparsity, density: mask.density,
                                          denseMs: denseMs)
                // Coarse units cannot hit every target exactly (channel: whole
                // filters); summaries group by what was asked.
                r.target_sparsity = sparsity
                records.append(r)
            }
        }
        return records
    }

    /// Median speedup and efficiency over a family's layers per granularity
    /// and requested sparsity.
    static func familyMedians(_ records: [Record]) -> [(family: String, granularity: String, sparsity: Double, speedup: Double, efficiency: Double)] {
        var groups: [String: [Record]] = [:]
        var order: [String] = []
        for r in records where r.granularity != "dense" {
            let key = "\(r.family ?? "")|\(r.granularity)|\(Int(((r.target_sparsity ?? r.sparsity) * 1000).rounded()))"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        return order.compactMap { key in
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let rs = groups[key]!
            guard let speedup = median(rs.compactMap(\.speedup_vs_dense)),
                  let efficiency = median(rs.compactMap(\.efficiency)) else { return nil }
            return (parts[0], parts[1], Double(parts[2])! / 1000, speedup, efficiency)
        }
    }

    static func summaryTable(_ records: [Record]) -> String {
        let medians = familyMedians(records)
        let sparsities = Array(Set(medians.map(\.sparsity))).sorted()
        guard !sparsities.isEmpty else { return "(no sparse measurements)" }
        var rows: [[String]] = [["family", "granularity"] + sparsities.map { "\(Report.percent($0)): speedup (eff)" }]
        var seen = Set<String>()
        for m in medians where seen.insert("\(m.family)|\(m.granularity)").inserted {
            var row = [m.family, m.granularity]
            for s in sparsities {
                if let cell = medians.first(where: { $0.family == m.family && $0.granularity == m.granularity && $0.sparsity == s }) {
                    row.append("\(Report.times(cell.speedup)) (\(Report.fixed(cell.efficiency, 2)))")
                } else {
                    row.append("")
                }
            }
            rows.append(row)
        }
        return "Median over each family's layers; speedup vs the fastest dense path, efficiency = speedup × density (ideal 1.00):\n"
            + Report.grid(rows, left: 2)
    }

    /// At the sparsity closest to 90 %: the best granularity per family, the
    /// spread of their speedups and efficiencies, and from which sparsity the
    /// sparse paths pay off.
    static func conclusion(_ records: [Record]) -> String {
        let medians = familyMedians(records)
        guard let target = Set(medians.map(\.sparsity)).min(by: { abs($0 - 0.9) < abs($1 - 0.9) }) else {
            return "Q1: no sparse measurements (dense paths only)."
        }
        let families = Array(Set(medians.map(\.family))).sorted()
        var best: [(family: String, granularity: String, speedup: Double, efficiency: Double)] = []
        for family in families {
            if let b = medians.filter({ $0.family == family && $0.sparsity == target }).max(by: { $0.speedup < $1.speedup }) {
                best.append((family, b.granularity, b.speedup, b.efficiency))
            }
        }
        guard let top = best.max(by: { $0.speedup < $1.speedup }), let bottom = best.min(by: { $0.speedup < $1.speedup }) else {
            return "Q1: no sparse measurements."
        }
        // Which granularity wins most families at the target sparsity.
        var wins: [String: Int] = [:]
        for b in best { wins[b.granularity, default: 0] += 1 }
        let winner = wins.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!
        // The lowest sparsity at which some sparse path beats dense, per family.
        let lowest = Set(medians.map(\.sparsity)).min()!
        let payingAtLowest = families.filter { f in medians.contains { $0.family == f && $0.sparsity == lowest && $0.speedup > 1 } }
        let meanEfficiency = best.map(\.efficiency).reduce(0, +) / Double(best.count)
        return "Q1: at \(Report.percent(target)) sparsity the best granularity gives \(Report.times(top.speedup)) (\(top.family), \(top.granularity)) "
            + "down to \(Report.times(bottom.speedup)) (\(bottom.family), \(bottom.granularity)) vs ideal \(Report.times(1 / (1 - target))); "
            + "\(winner.key) wins \(winner.value)/\(best.count) families; mean efficiency of the best path \(Report.fixed(meanEfficiency, 2)); "
            + "at \(Report.percent(lowest)) a sparse path already beats dense in \(payingAtLowest.count)/\(families.count) families."
    }
}
