import Foundation
import SparseConv

/// Hand-written SVG figures (no dependencies): speedup vs sparsity per
/// granularity with the ideal 1/density line, one panel per layer family; a
/// grouped-convolution panel (speedup vs groups against the ideal); and for
/// models a per-layer time breakdown as stacked bars coloured by path.
enum Plot {
    static let width = 960.0
    static let colors: [String: String] = [
        "block1x2": "#1f77b4", "element": "#ff7f0e", "kernel": "#2ca02c", "channel": "#d62728",
        "dense": "#7f7f7f", "grouped": "#9467bd", "depthwise": "#8c564b", "other": "#d0d0d0",
    ]

    static func svg(_ sections: [SectionResult], machine: MachineInfo) -> String {
        var body = ""
        var y = 10.0
        body += text(10, y + 14, "sparse-bench — \(machine.cpu), \(machine.isa), \(machine.threads) thread(s), Swift \(machine.swift_build)",
                     size: 14, weight: "bold")
        y += 30
        var panels: [(String, (Double, Double) -> String)] = []
        if let layers = sections.first(where: { $0.id == LayerSection.id }) {
            let medians = LayerSection.familyMedians(layers.records)
            for family in orderedUnique(medians.map(\.family)) {
                let series = Dictionary(grouping: medians.filter { $0.family == family }, by: \.granularity)
                    .mapValues { $0.map { (x: $0.sparsity, y: $0.speedup) }.sorted { $0.x < $1.x } }
                panels.append(("\(family): speedup vs sparsity", { x, y in
                    speedupPanel(x: x, y: y, series: series, xs: (0.4, 1.0), ideal: { 1 / (1 - $0) }, xLabel: "sparsity",
                                 xTick: { Report.percent($0) }, ticks: [0.5, 0.75, 0.9])
                }))
            }
        }
        if let groups = sections.first(where: { $0.id == GroupsSection.id }) {
            // One line per layer: x = log2(groups), y = speedup vs groups = 1.
            var series: [String: [(x: Double, y: Double)]] = [:]
            for r in groups.records { if let s = r.speedup_vs_dense, let g = r.shape?.groups { series[r.layer ?? "", default: []].append((log2(Double(g)), s)) } }
            let maxX = series.values.flatMap { $0.map(\.x) }.max() ?? 5
            panels.append(("grouped conv: speedup vs groups", { x, y in
                speedupPanel(x: x, y: y, series: series, xs: (0, maxX + 0.3), ideal: { pow(2, $0) }, xLabel: "groups",
                             xTick: { "\(Int(pow(2, $0).rounded()))" }, ticks: Array(stride(from: 0.0, through: maxX, by: maxX > 6 ? 2 : 1)))
            }))
        }
        let panelWidth = 310.0, panelHeight = 230.0
        for (index, panel) in panels.enumerated() {
            let px = 10 + Double(index % 3) * (panelWidth + 10), py = y + Double(index / 3) * (panelHeight + 10)
            body += "<g transform=\"translate(\(f(px)),\(f(py)))\">" + text(0, 12, panel.0, size: 12, weight: "bold")
                + panel.1(panelWidth, panelHeight) + "</g>\n"
        }
        if !panels.isEmpty {
            y += Double((panels.count + 2) / 3) * (panelHeight + 10)
            body += legend(x: 10, y: y, keys: ["block1x2", "element", "kernel", "channel"], extra: [("ideal 1/density", "#000", true)])
            y += 30
        }
        for id in [CifarSection.id, ModelSection.id] {
            guard let section = sections.first(where: { $0.id == id }), !section.records.isEmpty else { continue }
            let (svg, height) = modelBars(section, y: y)
            body += svg
            y += height
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(y + 10))" viewBox="0 0 \(f(width)) \(f(y + 10))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            \(body)</svg>

            """
    }

    /// A log-scale speedup panel (0.25× to 64×) with a line per series, the
    /// ideal curve dashed and the break-even line at 1×.
    static func speedupPanel(x: Double, y: Double, series: [String: [(x: Double, y: Double)]], xs: (Double, Double),
                             ideal: (Double) -> Double, xLabel: String, xTick: (Double) -> String, ticks: [Double]) -> String {
        let left = 40.0, top = 20.0, w = x - left - 10, h = y - top - 30
        let lo = log2(0.25), hi = log2(64.0)
        func px(_ v: Double) -> Double { left + (v - xs.0) / (xs.1 - xs.0) * w }
        func py(_ v: Double) -> Double { top + h - (log2(min(max(v, 0.25), 64)) - lo) / (hi - lo) * h }
        var out = "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"none\" stroke=\"#999\"/>"
        for v in [0.25, 1, 4, 16, 64] {
            out += "<line x1=\"\(f(left))\" x2=\"\(f(left + w))\" y1=\"\(f(py(v)))\" y2=\"\(f(py(v)))\" stroke=\"\(v == 1 ? "#666" : "#eee")\"/>"
            out += text(left - 4, py(v) + 4, v < 1 ? "¼×" : "\(Int(v))×", size: 10, anchor: "end")
        }
        for t in ticks { out += text(px(t), top + h + 14, xTick(t), size: 10, anchor: "middle") }
        out += text(left + w / 2, top + h + 27, xLabel, size: 10, anchor: "middle")
        let samples = stride(from: xs.0, through: xs.1 - 0.01, by: (xs.1 - xs.0) / 40).map { ($0, ideal($0)) }
        out += polyline(samples.map { (px($0.0), py($0.1)) }, color: "#000", dashed: true)
        for (index, (name, points)) in series.sorted(by: { $0.key < $1.key }).enumerated() {
            let color = colors[name] ?? palette(name)
            out += polyline(points.map { (px($0.x), py($0.y)) }, color: color, dashed: false)
            for p in points { out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"\(color)\"/>" }
            // Series without a legend colour (layer names) are named in the panel's corner.
            if colors[name] == nil { out += text(left + 4, top + 11 + Double(index) * 10, name, size: 8).replacingOccurrences(of: "<text ", with: "<text fill=\"\(color)\" ") }
        }
        return out
    }

    /// Stacked bars, one per configuration, as long as its measured time
    /// (one scale per model) and split by the planner's per-layer estimates,
    /// scaled to that total, coloured by the chosen path.
    static func modelBars(_ section: SectionResult, y: Double) -> (String, Double) {
        let title = section.id == ModelSection.id ? "Whole models" : "CIFAR nets at equal parameters"
        var out = text(10, y + 14, "\(title): measured time split by the planner's per-layer estimates, coloured by path",
                       size: 12, weight: "bold")
        var row = y + 26
        let labelWidth = 230.0, barWidth = width - labelWidth - 130
        for model in orderedUnique(section.records.compactMap(\.model)) {
            let records = section.records.filter { $0.model == model }
            let scale = records.map(\.ms).max() ?? 1
            for r in records {
                let label = "\(model) " + (r.granularity == "dense" ? "dense" : "\(r.granularity) \(Report.percent(r.target_sparsity ?? r.sparsity))")
                out += text(10, row + 9, label, size: 9)
                let layers = r.plan_layers ?? []
                let expected = max(layers.reduce(0) { $0 + $1.ms }, 1e-12)
                var x = labelWidth
                for layer in layers {
                    let w = layer.ms / expected * r.ms / scale * barWidth
                    out += "<rect x=\"\(f(x))\" y=\"\(f(row))\" width=\"\(f(max(w, 0)))\" height=\"10\" fill=\"\(colors[layer.path ?? "other"] ?? "#ccc")\">"
                        + "<title>\(escape(layer.name)) \(layer.path ?? layer.kind) \(Report.fixed(layer.ms, 3)) ms expected</title></rect>"
                    x += w
                }
                out += text(labelWidth + barWidth + 8, row + 9,
                            "\(Report.fixed(r.ms, 2)) ms" + (r.speedup_vs_dense.map { " (\(Report.times($0)))" } ?? ""), size: 9)
                row += 13
            }
            row += 6
        }
        out += legend(x: 10, y: row, keys: ["dense", "grouped", "depthwise", "block1x2", "element", "kernel", "channel", "other"], extra: [])
        return (out, row - y + 30)
    }

    static func legend(x: Double, y: Double, keys: [String], extra: [(String, String, Bool)]) -> String {
        var out = "", cx = x
        for key in keys {
            out += "<rect x=\"\(f(cx))\" y=\"\(f(y + 4))\" width=\"12\" height=\"8\" fill=\"\(colors[key]!)\"/>" + text(cx + 16, y + 12, key, size: 10)
            cx += 22 + Double(key.count) * 6.5
        }
        for (label, color, dashed) in extra {
            out += "<line x1=\"\(f(cx))\" x2=\"\(f(cx + 16))\" y1=\"\(f(y + 8))\" y2=\"\(f(y + 8))\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")/>"
                + text(cx + 20, y + 12, label, size: 10)
            cx += 26 + Double(label.count) * 6.5
        }
        return out
    }

    static func polyline(_ points: [(Double, Double)], color: String, dashed: Bool) -> String {
        guard points.count > 1 else { return "" }
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dashed ? " stroke-dasharray=\"4 3\"" : "") points=\""
            + points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>"
    }

    static func text(_ x: Double, _ y: Double, _ content: String, size: Int, anchor: String = "start", weight: String = "normal") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\">\(escape(content))</text>"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A stable colour for names without a fixed one (layer names in the groups panel).
    static func palette(_ name: String) -> String {
        let choices = ["#17becf", "#bcbd22", "#e377c2", "#1f77b4", "#ff7f0e"]
        return choices[Int(name.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xffff }) % choices.count]
    }

    static func orderedUnique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
