import Foundation
import SparseConv

/// Text renderings of the records.
enum Report {
    static func table(_ records: [Record], machine: MachineInfo) -> String {
        var lines: [String] = []
        lines.append("sparse-bench — CPU: \(machine.cpu), ISA: \(machine.isa), cores: \(machine.cores), threads: \(machine.threads), OpenMP: \(machine.openmp ? "yes" : "NO (serial)"), Swift build: \(machine.swift_build)")
        lines.append("")
        let header = ["layer", "shape", "path", "sparsity", "ms", "eff GF/s", "useful GF/s", "vs dense", "efficiency"]
        var rows: [[String]] = [header]
        for r in records {
            let s = r.shape
            let shape = "\(s.c_in)→\(s.c_out) \(s.kh)×\(s.kw) @\(s.h)" + (s.stride > 1 ? " s\(s.stride)" : "")
                + (s.dilation > 1 ? " d\(s.dilation)" : "") + (s.groups > 1 ? " g\(s.groups)" : "")
            rows.append([r.layer, shape, r.path, percent(r.sparsity), fixed(r.ms, 4), fixed(r.effective_gflops, 1),
                         fixed(r.useful_gflops, 1), r.speedup_vs_dense.map { fixed($0, 2) + "×" } ?? "",
                         r.efficiency.map { fixed($0, 2) } ?? ""])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column < 3 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csv(_ records: [Record]) -> String {
        var lines = ["layer,family,path,granularity,sparsity,threads,batch,ms,effective_gflops,useful_gflops,speedup_vs_dense,efficiency,c_in,c_out,h,w,kh,kw,stride,pad,dilation,groups"]
        for r in records {
            let s = r.shape
            let fields: [String] = [r.layer, r.family, r.path, r.granularity, "\(r.sparsity)", "\(r.threads)", "\(r.batch)",
                                    "\(r.ms)", "\(r.effective_gflops)", "\(r.useful_gflops)",
                                    r.speedup_vs_dense.map { "\($0)" } ?? "", r.efficiency.map { "\($0)" } ?? "",
                                    "\(s.c_in)", "\(s.c_out)", "\(s.h)", "\(s.w)", "\(s.kh)", "\(s.kw)", "\(s.stride)",
                                    "\(s.pad)", "\(s.dilation)", "\(s.groups)"]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
    static func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
}

/// A progress line on stderr, only when stderr is a terminal.
final class Progress {
    let total: Int
    let enabled = isatty(STDERR_FILENO) != 0
    let start = Date()

    init(total: Int) { self.total = total }

    func update(index: Int, label: String) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let remaining = index > 0 ? elapsed / Double(index) * Double(total - index) : 0
        let line = String(format: "\r[%d/%d] %@  elapsed %.0fs, ~%.0fs left\u{1B}[K", index + 1, total, label, elapsed, remaining)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
