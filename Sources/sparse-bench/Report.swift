import Foundation
import SparseConv

/// Text renderings of the results.
enum Report {
    /// The whole report in table form: machine line, then each section's
    /// tables and its computed conclusion.
    static func text(_ sections: [SectionResult], machine: MachineInfo, wallSeconds: Double) -> String {
        var out = "sparse-bench — \(machine.line)\n"
        for section in sections {
            out += "\n== \(section.title) ==\n"
            for table in section.tables { out += table + "\n" }
            if !section.conclusion.isEmpty { out += "→ \(section.conclusion)\n" }
            out += "(section: \(fixed(section.seconds, 1)) s)\n"
        }
        out += "\n(\(machine.cpu), \(machine.isa), \(machine.threads) thread(s); wall time \(fixed(wallSeconds, 1)) s)\n"
        return out
    }

    /// Aligns rows into columns; the first `left` columns are left-aligned
    /// (names), the rest right-aligned (numbers).
    static func grid(_ rows: [[String]], left: Int = 1) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        var lines: [String] = []
        for (index, row) in rows.enumerated() {
            let cells = header.indices.map { column -> String in
                let cell = column < row.count ? row[column] : ""
                let pad = String(repeating: " ", count: max(0, widths[column] - cell.count))
                return column < left ? cell + pad : pad + cell
            }
            lines.append(cells.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }

    /// The per-measurement layer table (question 1's raw data).
    static func layerTable(_ records: [Record]) -> String {
        var rows: [[String]] = [["layer", "shape", "path", "sparsity", "ms", "eff GF/s", "useful GF/s", "vs dense", "efficiency"]]
        for r in records {
            rows.append([r.layer ?? "", r.shape.map(shapeText) ?? "", r.path ?? "", percent(r.sparsity), fixed(r.ms, 4),
                         r.effective_gflops.map { fixed($0, 1) } ?? "", r.useful_gflops.map { fixed($0, 1) } ?? "",
                         r.speedup_vs_dense.map { fixed($0, 2) + "×" } ?? "", r.efficiency.map { fixed($0, 2) } ?? ""])
        }
        return grid(rows, left: 3)
    }

    static func shapeText(_ s: Record.Shape) -> String {
        "\(s.c_in)→\(s.c_out) \(s.kh)×\(s.kw) @\(s.h)" + (s.stride > 1 ? " s\(s.stride)" : "")
            + (s.dilation > 1 ? " d\(s.dilation)" : "") + (s.groups > 1 ? " g\(s.groups)" : "")
    }

    /// One CSV line per record. The first 22 columns are the original layout;
    /// columns added later are appended so old readers keep working.
    static func csv(_ records: [Record]) -> String {
        var lines = ["layer,family,path,granularity,sparsity,threads,batch,ms,effective_gflops,useful_gflops,speedup_vs_dense,efficiency,c_in,c_out,h,w,kh,kw,stride,pad,dilation,groups,section,model,variant,parameters,isa"]
        func opt(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        for r in records {
            let s = r.shape
            let shapeFields = s.map { s in [s.c_in, s.c_out, s.h, s.w, s.kh, s.kw, s.stride, s.pad, s.dilation, s.groups].map(String.init) }
                ?? Array(repeating: "", count: 10)
            let fields: [String] = [r.layer ?? "", r.family ?? "", r.path ?? "", r.granularity, "\(r.sparsity)", "\(r.threads)",
                                    "\(r.batch)", "\(r.ms)", opt(r.effective_gflops), opt(r.useful_gflops),
                                    opt(r.speedup_vs_dense), opt(r.efficiency)]
                + shapeFields + [r.section, r.model ?? "", r.variant ?? "", r.parameters.map(String.init) ?? "", r.isa]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func csvField(_ text: String) -> String {
        text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    static func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
    static func percent1(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
    static func times(_ value: Double) -> String { String(format: value < 10 ? "%.2f×" : "%.1f×", value) }
    static func count(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// A progress line on stderr, only when stderr is a terminal (a redirected or
/// piped run must stay clean). Sections announce how many items they will
/// time; the remaining time is extrapolated from the items done so far.
final class Progress {
    let enabled = isatty(STDERR_FILENO) != 0
    let start = Date()
    private var total = 0
    private var done = 0

    /// Adds `items` to the work still to come.
    func plan(_ items: Int) { total += items }

    /// Marks one item as started.
    func step(_ section: String, _ label: String) {
        defer { done += 1 }
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let remaining = done > 0 ? elapsed / Double(done) * Double(max(0, total - done)) : 0
        let line = String(format: "\r[%@ %d/%d] %@  elapsed %.0fs, ~%.0fs left\u{1B}[K", section, done + 1, max(total, done + 1),
                          label, elapsed, remaining)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
