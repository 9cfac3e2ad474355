import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory limit that model files, tensors and plans are checked against
/// before anything is allocated.
///
/// A hostile or corrupt file can declare dimensions that would need terabytes;
/// without a limit the process would be killed by the kernel's OOM killer (or
/// swap the machine to a halt) instead of reporting a clear error. Every
/// tensor allocation, every ONNX file and initializer, every `.npy` file and
/// every plan's buffers are checked against the limit, with overflow-checked
/// arithmetic, and rejected with ``SparseConvError/outOfMemory(_:)`` naming
/// the size and the limit.
///
/// The limit, first match wins:
/// 1. ``withMemoryLimit(_:_:)`` for the code it runs (task-local, so
///    concurrent tasks with other limits are unaffected);
/// 2. ``memoryLimit``, set by the program for the whole process;
/// 3. the environment variable `SPARSECONV_MEMORY_LIMIT` (bytes, or with a
///    `K`, `M`, `G` or `T` suffix for powers of 1024, e.g. `8G`);
/// 4. half of the physical memory (or of the cgroup's `memory.max`, when lower).
///
/// ```swift
/// ResourceLimits.memoryLimit = 4 << 30                       // 4 GiB for this process
/// let model = try ResourceLimits.withMemoryLimit(256 << 20) { try Model(onnxFile: "untrusted.onnx") }
/// ```
public enum ResourceLimits {
    /// The environment variable that sets the limit when no API call did.
    public static let environmentVariable = "SPARSECONV_MEMORY_LIMIT"
    /// The share of physical memory allowed when nothing else sets the limit:
    /// leaves room for the rest of the process and the system.
    public static let defaultFractionOfPhysicalMemory = 0.5

    private static let processLimit = Mutex<Int?>(nil)
    @TaskLocal private static var scopedLimit: Int?

    /// The process-wide limit in bytes; nil falls back to the environment
    /// variable, then to the default. Values below 1 are stored as 1.
    public static var memoryLimit: Int? {
        get { processLimit.withLock { $0 } }
        set { processLimit.withLock { $0 = newValue.map { max($0, 1) } } }
    }

    /// Runs `body` with `bytes` as the limit for this task and the tasks it
    /// starts, overriding every other setting.
    public static func withMemoryLimit<Result>(_ bytes: Int, _ body: () throws -> Result) rethrows -> Result {
        try $scopedLimit.withValue(max(bytes, 1), operation: body)
    }

    /// The limit in force here, in bytes.
    /// - Throws: `.invalidArgument` when `SPARSECONV_MEMORY_LIMIT` decides
    ///   the limit and is not a byte count (a typo must not silently lift it).
    public static func effectiveMemoryLimit() throws -> Int {
        if let scoped = scopedLimit { return scoped }
        if let process = memoryLimit { return process }
        return try environmentLimit.get() ?? defaultMemoryLimit
    }

    /// Physical memory in bytes, lowered to the cgroup (container) limit when
    /// there is one; nil when neither can be read.
    public static let physicalMemory: Int? = {
        var bytes: Int?
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0 {
            let (product, overflow) = pages.multipliedReportingOverflow(by: pageSize)
            bytes = overflow ? Int.max : product
        }
        // cgroup v2 writes "max" when unlimited, which Int() rejects.
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let cgroup = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), cgroup > 0 {
            bytes = min(bytes ?? cgroup, cgroup)
        }
        return bytes
    }()

    /// ``defaultFractionOfPhysicalMemory`` of ``physicalMemory``, or 4 GiB
    /// when the machine does not say how much memory it has.
    public static var defaultMemoryLimit: Int {
        guard let physicalMemory else { return 4 << 30 }
        return Int(Double(physicalMemory) * defaultFractionOfPhysicalMemory)
    }

    // Read once: the environment of a running process is not expected to change,
    // and getenv is not safe against a concurrent setenv.
    private static let environmentLimit: Result<Int?, SparseConvError> = {
        guard let text = ProcessInfo.processInfo.environment[environmentVariable] else { return .success(nil) }
        do {
            return .success(try parseByteCount(text, what: environmentVariable))
        } catch let error as SparseConvError {
            return .failure(error)
        } catch {
            return .failure(.invalidArgument("\(environmentVariable): \(error)"))
        }
    }()

    /// A byte count written as digits with an optional `K`, `M`, `G` or `T`
    /// (powers of 1024, optionally followed by `B` or `iB`), e.g. `512M`.
    /// - Throws: `.invalidArgument` naming `what` for anything else, zero, or
    ///   a value that overflows.
    public static func parseByteCount(_ text: String, what: String = "memory limit") throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let suffix = trimmed.dropFirst(digits.count).uppercased()
        let shifts: [String: Int] = ["": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20,
                                     "G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40]
        guard !digits.isEmpty, let value = Int(digits), let shift = shifts[suffix], value > 0 else {
            throw SparseConvError.invalidArgument(
                "\(what) '\(text)' is not a positive byte count (digits with an optional K, M, G or T suffix, e.g. 512M)")
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { throw SparseConvError.invalidArgument("\(what) '\(text)' is too large") }
        return bytes
    }

    /// The bytes of `count` elements of `elementSize` bytes, checked against
    /// overflow and the limit.
    /// - Throws: `.sizeOverflow` or `.outOfMemory`, naming `what`.
    @discardableResult
    static func checkAllocation(elements count: Int, elementSize: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard count >= 0, !overflow else {
            throw SparseConvError.sizeOverflow("\(what()): \(count) elements of \(elementSize) bytes")
        }
        try checkAllocation(bytes: bytes, what())
        return bytes
    }

    /// Element count of `shape` (its product), checked against overflow, and
    /// its bytes at `elementSize` checked against the limit.
    @discardableResult
    static func checkAllocation(shape: [Int], elementSize: Int, _ what: @autoclosure () -> String) throws -> Int {
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard extent >= 0, !overflow else { throw SparseConvError.sizeOverflow("\(what()): shape \(shape)") }
            count = product
        }
        try checkAllocation(elements: count, elementSize: elementSize, what())
        return count
    }

    /// Rejects `bytes` above the limit in force.
    static func checkAllocation(bytes: Int, _ what: @autoclosure () -> String) throws {
        let limit = try effectiveMemoryLimit()
        guard bytes <= limit else {
            throw SparseConvError.outOfMemory(
                "\(what()) needs \(describe(bytes: bytes)), more than the memory limit of \(describe(bytes: limit)) "
                + "(raise it with \(environmentVariable), --memory-limit or ResourceLimits.memoryLimit)")
        }
    }

    /// Sums byte counts, reporting overflow as an error.
    static func sum(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (total, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw SparseConvError.sizeOverflow(what()) }
        return total
    }

    /// `1234567890 bytes (1.15 GiB)`: exact for scripts, readable for people.
    static func describe(bytes: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = -1
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit < 0 ? "\(bytes) bytes" : "\(bytes) bytes (\(String(format: "%.2f", value)) \(units[unit]))"
    }
}
