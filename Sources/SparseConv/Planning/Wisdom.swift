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
    public init(contentsOf path: String? = nil) {
        self.path = path
        var loaded: [String: Double] = [:]
        var diagnostic: String?
        if let path, FileManager.default.fileExists(atPath: path) {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let file = try JSONDecoder().decode(File.self, from: data)
                if file.format != "sparseconv-wisdom" || file.version != Self.formatVersion {
                    diagnostic = "wisdom file \(path) has format '\(file.format)' version \(file.version); expected version \(Self.formatVersion): ignored"
                } else {
                    loaded = file.entries.filter { $0.value.isFinite && $0.value > 0 }
                }
            } catch {
                diagnostic = "wisdom file \(path) is unreadable or corrupt (\(error)): ignored"
            }
        }
        loadDiagnostic = diagnostic
        entries = Mutex(loaded)
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
        try encoder.encode(file).write(to: URL(fileURLWithPath: destination), options: .atomic)
    }

    /// The key of one timing.
    static func key(spec: Conv2DSpec, structure: String, path: ExecutionPath, batch: Int, threads: Int) -> String {
        "\(Runtime.cpuName)|\(Runtime.instructionSet.rawValue)|t\(threads)|n\(batch)|\(spec)|\(structure)|\(path.rawValue)"
    }
}
