import ArgumentParser
import Foundation
import SparseConv

/// One timing: a layer run through one path at one sparsity.
struct Record: Codable {
    struct Shape: Codable {
        let c_in, c_out, h, w, kh, kw, stride, pad, dilation, groups: Int
        let padding: [Int]  // top, left, bottom, right
    }
    let layer: String
    let family: String
    let path: String
    let granularity: String
    let sparsity: Double
    let threads: Int
    let batch: Int
    let ms: Double
    let effective_gflops: Double
    let useful_gflops: Double
    let speedup_vs_dense: Double?
    let efficiency: Double?
    let verified_error: Double?
    let isa: String
    let shape: Shape
    /// The machine and build the figure came from, so records compare across machines.
    var machine: MachineInfo?
}

/// The machine and build a run's numbers came from.
struct MachineInfo: Codable {
    let cpu: String
    let isa: String
    let cores: Int
    let threads: Int
    let openmp: Bool
    let swift_build: String
    let kernels_build: String

    static func current(threads: Int) -> MachineInfo {
        MachineInfo(cpu: Runtime.cpuName, isa: Runtime.instructionSet.rawValue,
                    cores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                    openmp: Runtime.openMPEnabled, swift_build: Runtime.isOptimizedBuild ? "release" : "debug",
                    kernels_build: "-O3")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }
enum Suite: String, ExpressibleByArgument, CaseIterable { case `default`, layers, quick }

@main
struct SparseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse-bench",
        abstract: "Times every convolution path of SparseConv side by side on real layer shapes.",
        discussion: """
            Reports the median time after warm-up, effective GFLOP/s (dense-equivalent FLOPs / time) \
            and useful GFLOP/s (FLOPs on stored weights / time). Build with -c release for timings.
            """)

    @Option(help: "Which suite: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite = .default
    @Option(help: "Only layers whose name contains this substring.")
    var layers: String?
    @Option(help: "Threads (0 = all cores).")
    var threads: Int = 0
    @Option(help: "Batch size.")
    var batch: Int = 1
    @Option(help: "Minimum timed repetitions per measurement.")
    var repetitions: Int = 10
    @Option(help: "Minimum seconds of timed runs per measurement.")
    var minTime: Double = 0.2
    @Flag(help: "Check every path against the reference convolution before timing it.")
    var verify = false
    @Option(help: "Output format: table, csv or json.")
    var format: OutputFormat = .table
    @Option(help: "Write the report to this file instead of standard output.")
    var output: String?
    @Option(help: "Comma-separated sparsities for the sparse paths (empty: dense paths only).")
    var sparsities: String = "0.5,0.75,0.9,0.95"
    @Option(help: "Comma-separated granularities: element, block1x2, kernel, channel.")
    var granularity: String = "block1x2,element,kernel,channel"
    @Flag(help: "Print the built-in layer list as JSON and exit.")
    var listLayers = false

    var sparsityList: [Double] {
        sparsities.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }
    var granularityList: [Granularity] {
        granularity.split(separator: ",").compactMap { Granularity(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    mutating func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be ≥ 0") }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be ≥ 1") }
        guard minTime >= 0 else { throw ValidationError("--min-time must be ≥ 0") }
        for item in sparsities.split(separator: ",") {
            guard let value = Double(item.trimmingCharacters(in: .whitespaces)), value >= 0, value <= 1 else {
                throw ValidationError("--sparsities takes numbers in [0, 1], got '\(item)'")
            }
        }
        for item in granularity.split(separator: ",") where Granularity(rawValue: item.trimmingCharacters(in: .whitespaces)) == nil {
            throw ValidationError("unknown granularity '\(item)' (element, block1x2, kernel, channel)")
        }
    }

    func run() throws {
        let threadCount = threads == 0 ? Runtime.defaultThreads : threads
        let machine = MachineInfo.current(threads: threadCount)
        var selected = suite == .quick ? LayerCatalog.quick : LayerCatalog.all
        if let layers { selected = selected.filter { $0.name.contains(layers) } }
        if listLayers {
            try emit(selected.map { shapeRecord($0) }, machine: nil)
            return
        }
        guard !selected.isEmpty else { throw ValidationError("no layer matches --layers \(layers ?? "")") }
        if !Runtime.isOptimizedBuild {
            FileHandle.standardError.write(Data("""
                WARNING: sparse-bench was built without optimization (debug). The C kernels are optimized \
                either way, but per-call Swift overhead is inflated: use `swift run -c release sparse-bench` for figures.

                """.utf8))
        }
        let timer = Timer(repetitions: repetitions, minTime: minTime)
        var records: [Record] = []
        let progress = Progress(total: selected.count)
        for (index, layer) in selected.enumerated() {
            progress.update(index: index, label: layer.name)
            records += try measure(layer, timer: timer, threads: threadCount)
        }
        progress.finish()
        try emit(records, machine: machine)
    }

    /// Times the dense path that suits the layer (and, for grouped/depthwise
    /// shapes, the general dense path too, so the fast paths show their gain).
    func measure(_ layer: BenchLayer, timer: Timer, threads: Int) throws -> [Record] {
        let spec = layer.spec
        let weight = try Tensor.random(shape: spec.weightShape, seed: 7)
        let bias = try Tensor.random(shape: [spec.outChannels], seed: 8).scalars
        let input = try Tensor.random(shape: spec.inputShape(batch: batch), seed: 9)
        let expected = verify ? try Reference.conv2d(spec, input: input, weight: weight, bias: bias) : nil
        var paths: [ExecutionPath] = [.dense]
        if spec.groups > 1 { paths.append(.grouped) }
        if spec.isDepthwise { paths.append(.depthwise) }
        var records: [Record] = []
        var denseMs: Double?
        for path in paths {
            let conv: Conv2D
            do { conv = try Conv2D(spec: spec, weight: weight, bias: bias, path: path) } catch SparseConvError.unsupported {
                continue
            }
            let (ms, verified) = try time(conv, layer: layer, input: input, expected: expected, timer: timer, threads: threads)
            if path == .dense { denseMs = ms }
            records.append(record(layer, path: path, granularity: "dense", sparsity: 0, ms: ms,
                                  usefulFlops: conv.usefulFlops * Double(batch), denseMs: denseMs,
                                  density: 1, verified: verified, isa: conv.instructionSet, threads: threads))
        }
        // Depthwise layers have no two output channels sharing an input: they stay dense.
        guard !spec.isDepthwise else { return records }
        for sparsity in sparsityList {
            for granularity in granularityList {
                let mask = try PruningMask.magnitude(weight: weight, spec: spec, granularity: granularity, sparsity: sparsity)
                let pruned = try mask.apply(to: weight)
                let conv = try Conv2D(spec: spec, weight: pruned, bias: bias, mask: mask)
                let reference = verify ? try Reference.conv2d(spec, input: input, weight: pruned,
                                                              bias: granularity == .channel ? zeroed(bias, mask.removedFilters) : bias) : nil
                let (ms, verified) = try time(conv, layer: layer, input: input, expected: reference, timer: timer, threads: threads)
                records.append(record(layer, path: conv.path, granularity: granularity.rawValue, sparsity: mask.sparsity,
                                      ms: ms, usefulFlops: conv.usefulFlops * Double(batch), denseMs: denseMs,
                                      density: mask.density, verified: verified, isa: conv.instructionSet, threads: threads))
            }
        }
        return records
    }

    func zeroed(_ bias: [Float], _ channels: [Int]) -> [Float] {
        var result = bias
        for c in channels { result[c] = 0 }
        return result
    }

    /// Optionally verifies, then times one packed convolution.
    func time(_ conv: Conv2D, layer: BenchLayer, input: Tensor, expected: Tensor?, timer: Timer,
              threads: Int) throws -> (ms: Double, verified: Double?) {
        var out = try Tensor(shape: conv.spec.outputShape(batch: batch))
        let workspace = Workspace()
        var verified: Double?
        if let expected {
            try conv.run(input, into: &out, workspace: workspace, threads: threads)
            let error = try out.normalizedError(to: expected)
            guard error <= 1e-4 else {
                throw ValidationError("VERIFY FAILED: \(layer.name) path \(conv.path.rawValue): normalized error \(error)")
            }
            verified = Double(error)
        }
        let ms = try timer.medianMilliseconds { try conv.run(input, into: &out, workspace: workspace, threads: threads) }
        return (ms, verified)
    }

    func record(_ layer: BenchLayer, path: ExecutionPath, granularity: String, sparsity: Double, ms: Double,
                usefulFlops: Double, denseMs: Double?, density: Double, verified: Double?,
                isa: InstructionSet, threads: Int) -> Record {
        let s = layer.spec
        let flops = s.flops * Double(batch)
        let speedup = denseMs.map { $0 / ms }
        return Record(layer: layer.name, family: layer.family, path: path.rawValue, granularity: granularity,
                      sparsity: sparsity, threads: threads, batch: batch, ms: ms,
                      effective_gflops: flops / ms / 1e6, useful_gflops: usefulFlops / ms / 1e6,
                      speedup_vs_dense: speedup, efficiency: speedup.map { $0 * density },
                      verified_error: verified, isa: isa.rawValue, shape: shape(s))
    }

    func shape(_ s: Conv2DSpec) -> Record.Shape {
        Record.Shape(c_in: s.inChannels, c_out: s.outChannels, h: s.inputHeight, w: s.inputWidth,
                     kh: s.kernelHeight, kw: s.kernelWidth, stride: s.strideHeight, pad: s.padding.top,
                     dilation: s.dilationHeight, groups: s.groups,
                     padding: [s.padding.top, s.padding.left, s.padding.bottom, s.padding.right])
    }

    func shapeRecord(_ layer: BenchLayer) -> [String: String] {
        let s = shape(layer.spec)
        return ["layer": layer.name, "family": layer.family,
                "spec": "\(s.c_in),\(s.c_out),\(s.h),\(s.w),\(s.kh),\(s.kw),\(s.stride),\(s.pad),\(s.dilation),\(s.groups)"]
    }

    func emit<T: Encodable>(_ records: [T], machine: MachineInfo?) throws {
        var text: String
        switch format {
        case .json:
            // One JSON array, one record per measurement, each with its machine.
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let machine, let records = records as? [Record] {
                let stamped = records.map { record -> Record in
                    var record = record
                    record.machine = machine
                    return record
                }
                text = String(decoding: try encoder.encode(stamped), as: UTF8.self)
            } else {
                text = String(decoding: try encoder.encode(records), as: UTF8.self)
            }
            text += "\n"
        case .csv, .table:
            guard let records = records as? [Record], let machine else {
                text = String(decoding: try JSONEncoder().encode(records), as: UTF8.self) + "\n"
                break
            }
            text = format == .csv ? Report.csv(records) : Report.table(records, machine: machine)
        }
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            print(text, terminator: "")
        }
    }
}
