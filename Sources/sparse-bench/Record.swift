import Foundation
import SparseConv

/// One measurement: a layer through one path at one sparsity, a variant of a
/// question's comparison, or a whole model run through its plan.
///
/// The JSON keys are an interface (Benchmarks/compare_onnxruntime.py and
/// results files read them): existing keys are never renamed, new ones are
/// optional and left out where they do not apply (a model has no `shape`).
struct Record: Codable {
    struct Shape: Codable {
        let c_in, c_out, h, w, kh, kw, stride, pad, dilation, groups: Int
        let padding: [Int]  // top, left, bottom, right
    }

    /// How the planner spent a model's time on one execution path.
    struct PathShare: Codable {
        let path: String
        let layers: Int
        /// Planner-expected (estimate) or measured (measure mode) milliseconds on this path.
        let ms: Double
        let share: Double
    }

    /// One layer of a model's plan, for the per-layer time breakdown.
    struct PlannedLayer: Codable {
        let name: String
        let kind: String
        let path: String?
        let sparsity: Double
        let ms: Double
    }

    /// Which part of the report the measurement belongs to (q1-layers ... q5-models).
    var section: String
    var layer: String?
    var family: String?
    var model: String?
    /// What a question compares ("pruned", "grouped g=4", "depthwise-separable", ...).
    var variant: String?
    var path: String?
    var granularity: String
    var sparsity: Double
    var threads: Int
    var batch: Int
    var ms: Double
    var effective_gflops: Double?
    var useful_gflops: Double?
    var speedup_vs_dense: Double?
    var efficiency: Double?
    var verified_error: Double?
    var isa: String
    var shape: Shape?
    /// Models: `[batch, C, H, W]` of the input (what an ONNX Runtime comparison feeds).
    var input_shape: [Int]?
    /// Nonzero weights (convolutions only for models): the parameter budget.
    var parameters: Int?
    /// Models: the sparsity asked of global pruning (`sparsity` is what the
    /// convolutions ended with: the first and depthwise layers stay dense).
    var target_sparsity: Double?
    /// Models: the planner mode, its per-path summary and its per-layer choices.
    var plan_mode: String?
    var paths: [PathShare]?
    var plan_layers: [PlannedLayer]?
    /// Models: seconds spent pruning and planning (packing included) — one-off
    /// costs, reported because they bound how many configurations a run can afford.
    var prune_seconds: Double?
    /// Whole models: "global" or "layer" magnitude pruning.
    var pruning_scope: String?
    var plan_seconds: Double?
    /// The machine and build the figure came from, so records compare across machines.
    var machine: MachineInfo?

    init(section: String, granularity: String, sparsity: Double, threads: Int, batch: Int, ms: Double) {
        self.section = section
        self.granularity = granularity
        self.sparsity = sparsity
        self.threads = threads
        self.batch = batch
        self.ms = ms
        isa = Runtime.instructionSet.rawValue
    }

    static func shape(_ s: Conv2DSpec) -> Shape {
        Shape(c_in: s.inChannels, c_out: s.outChannels, h: s.inputHeight, w: s.inputWidth,
              kh: s.kernelHeight, kw: s.kernelWidth, stride: s.strideHeight, pad: s.padding.top,
              dilation: s.dilationHeight, groups: s.groups,
              padding: [s.padding.top, s.padding.left, s.padding.bottom, s.padding.right])
    }
}

/// The machine and build a run's numbers came from.
struct MachineInfo: Codable {
    let cpu: String
    let isa: String
    let cores: Int
    let threads: Int
    let openmp: Bool
    /// OpenMP's thread binding (sparse-bench binds one thread per core unless told otherwise).
    let thread_binding: String
    let swift_build: String
    let kernels_build: String

    static func current(threads: Int) -> MachineInfo {
        MachineInfo(cpu: Runtime.cpuName, isa: Runtime.instructionSet.rawValue,
                    cores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                    openmp: Runtime.openMPEnabled, thread_binding: Runtime.threadBinding, swift_build: BuildInfo.isOptimized ? "release" : "debug",
                    kernels_build: "-O3")
    }

    var line: String {
        "CPU: \(cpu), ISA: \(isa), cores: \(cores), threads: \(threads), OpenMP: \(openmp ? "yes (binding: \(thread_binding))" : "NO (serial)"), Swift build: \(swift_build)"
    }
}

/// Whether *this* executable was optimized. The library is compiled with -O
/// in every configuration, so its own flag cannot tell; the per-call Swift
/// glue in sparse-bench can still inflate small timings in a debug build.
enum BuildInfo {
    static var isOptimized: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }
}

/// One part of the report: a question, its measurements, a table and a
/// conclusion computed from those measurements.
struct SectionResult {
    let id: String
    let title: String
    var records: [Record]
    /// Pre-rendered text tables (the section decides what to show).
    var tables: [String]
    var conclusion: String
    /// Wall time of the section, so a slow suite shows where its time went.
    var seconds: Double = 0
}
