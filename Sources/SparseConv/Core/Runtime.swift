import CSparseConv

/// Instruction sets the kernels have variants for.
public enum InstructionSet: String, Sendable, CaseIterable, Codable, Comparable {
    /// Plain C; runs on any CPU.
    case scalar
    /// AVX2 with FMA.
    case avx2
    /// AVX-512 (F, VL, BW, DQ).
    case avx512

    var cValue: sc_isa {
        switch self {
        case .scalar: return SC_ISA_SCALAR
        case .avx2: return SC_ISA_AVX2
        case .avx512: return SC_ISA_AVX512
        }
    }

    init(_ value: sc_isa) {
        switch value {
        case SC_ISA_AVX512: self = .avx512
        case SC_ISA_AVX2: self = .avx2
        default: self = .scalar
        }
    }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// Whether this CPU can run the variant.
    public var isSupported: Bool { self <= Runtime.instructionSet }
}

/// Facts about the machine and the build that results should be reported with.
public enum Runtime {
    /// The best instruction set of this CPU (capped by `SPARSECONV_MAX_ISA` if set).
    public static var instructionSet: InstructionSet { InstructionSet(sc_cpu_isa()) }
    /// The CPU's brand string.
    public static var cpuName: String { String(cString: sc_cpu_name()) }
    /// Whether the kernels were compiled with OpenMP (otherwise they run serially).
    public static var openMPEnabled: Bool { sc_openmp_enabled() != 0 }
    /// Threads used when a call asks for the default (0): all cores under OpenMP, else 1.
    public static var defaultThreads: Int { Int(sc_default_threads()) }

    /// Asks OpenMP to bind its threads one per core (`OMP_PROC_BIND=spread`,
    /// `OMP_PLACES=cores`), unless the environment already sets either.
    ///
    /// Unbound, the runtime's threads were left sharing one core for the whole
    /// life of some processes on 2-core virtual machines, which halves
    /// multi-threaded speed at random; `sparse-bench` and `sparse-run` call
    /// this first. OpenMP reads the setting once, when it starts, so call it
    /// at the top of `main`, before anything else of SparseConv runs or
    /// queries threads, and before other threads exist (it sets environment
    /// variables).
    ///
    /// - Returns: `true` when it set the variables; `false` when the
    ///   environment had them or the kernels were built without OpenMP.
    @discardableResult
    public static func bindThreadsToCores() -> Bool { sc_bind_threads() != 0 }

    /// The OpenMP thread binding in effect: `false`, `true`, `primary`,
    /// `close`, `spread`, or `none` without OpenMP.
    public static var threadBinding: String { String(cString: sc_thread_binding()) }
    /// Whether this Swift code was compiled with optimization.
    public static var isOptimizedBuild: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }
}

/// Validates a thread count argument: 0 means the default, negative is an error.
func checkedThreads(_ threads: Int) throws -> Int32 {
    guard threads >= 0, threads <= 4096 else {
        throw SparseConvError.invalidArgument("threads must be in 0...4096 (0 = all cores), got \(threads)")
    }
    return Int32(threads)
}
