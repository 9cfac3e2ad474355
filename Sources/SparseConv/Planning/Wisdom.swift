import Foundation
import Synchronization

/// Measured convolution timings saved between runs, as FFTW saves wisdom.
///
/// Entries are keyed by layer signature (the convolution spec), sparsity
/// structure (granularity and stored weights), path, batch, threads and CPU,
/// so a file moved to another machine or used with another thread count
/// simply has no matching entries. A file of another format version is
/// ignored; a corrupt file is reported through `loadDiagnostic` and ignored.
///
/// ```swift
/// let wisdom = Wisdom(contentsOf: "sparseconv-wisdom.json")
/// let plan = try Planner(mode: .measure, wisdom: wisdom).plan(model)
/// try wisdom.save()
/// ```
public final class Wisdom: Sendable {
    static let formatVersion = 1

    /// The file it loads from and saves to (nil: in memory only).
    public let path: String?
    /// Why the file's contents were not used, if they were not.
    public let loadDiagnostic: String?
    private let entries: Mutex<[String: Double]>

    private struct File: Codable {
        var format: String
        var version: Int
        var entries: [String: Double]
    }

    /// Loads wisdom from `path` if the file exists; never throws.
    public convenience init(contentsOf path: String? = nil) {
        guard let path, FileManager.default.fileExists(atPath: path) else {
            self.init(path: path, entries: [:], diagnostic: nil)
            return
        }
        do {
            // Wisdom is an optimization: a file too large to hold is ignored like a corrupt one.
            if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int {
                try ResourceLimits.checkAllocation(bytes: size, "the wisdom file")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let (entries, diagnostic) = Self.decode(data, source: "wisdom file \(path)")
            self.init(path: path, entries: entries, diagnostic: diagnostic)
        } catch {
            self.init(path: path, entries: [:], diagnostic: "wisdom file \(path) is unreadable (\(error)): ignored")
        }
    }

    /// Loads wisdom from the bytes of a wisdom file, kept in memory only;
    /// like ``init(contentsOf:)`` it never throws and reports unusable bytes
    /// through ``loadDiagnostic``.
    public convenience init(jsonData data: Data) {
        let (entries, diagnostic) = Self.decode(data, source: "wisdom data")
        self.init(path: nil, entries: entries, diagnostic: diagnostic)
    }

    private init(path: String?, entries: [String: Double], diagnostic: String?) {
        self.path = path
        loadDiagnostic = diagnostic
        self.entries = Mutex(entries)
    }

    /// The usable timings of a wisdom file's bytes, or why there are none.
    private static func decode(_ data: Data, source: String) -> ([String: Double], String?) {
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.format == "sparseconv-wisdom", file.version == formatVersion else {
                return ([:], "\(source) has format '\(file.format)' version \(file.version); expected version \(formatVersion): ignored")
            }
            return (file.entries.filter { $0.value.isFinite && $0.value > 0 }, nil)
        } catch {
            return ([:], "\(source) is unreadable or corrupt (\(error)): ignored")
        }
    }

    /// Number of stored timings.
    public var count: Int { entries.withLock { $0.count } }

    func milliseconds(for key: String) -> Double? { entries.withLock { $0[key] } }

    func record(_ milliseconds: Double, for key: String) {
        entries.withLock { $0[key] = milliseconds }
    }

    /// Writes the wisdom atomically (temporary file, then rename).
    public func save(to target: String? = nil) throws {
        guard let destination = target ?? path else {
            throw SparseConvError.invalidArgument("wisdom has no file to save to")
        }
        let file = File(format: "sparseconv-wisdom", version: Self.formatVersion, entries: entries.withLock { $0 })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(file), to: destination, what: "wisdom")
    }

    /// The key of one timing.
    static func key(spec: Conv2DSpec, structure: String, path: ExecutionPath, batch: Int, threads: Int) -> String {
        "\(Runtime.cpuName)|\(Runtime.instructionSet.rawValue)|t\(threads)|n\(batch)|\(spec)|\(structure)|\(path.rawValue)"
    }
}
