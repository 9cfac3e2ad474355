import CSparseConv
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files of atomic writes in progress, so that an interrupted
/// program removes them instead of leaving `.name.1a2b.tmp` litter beside its
/// outputs.
///
/// Every file SparseConv writes goes to a temporary file beside the
/// destination first and is renamed over it when complete, so a destination
/// is never partial. What an interrupt can leave behind is the temporary file
/// itself; a program that calls ``removeOnInterrupt()`` removes it on SIGINT,
/// SIGTERM or SIGHUP and then dies of that signal as it would have.
///
/// The registry lives in C (`sparseconv_tempfiles.h`) because the removal
/// runs in a signal handler, where Swift's runtime, locks and allocation are
/// off limits.
public enum TemporaryFiles {
    /// Registered before the file is created, so there is no moment when it
    /// exists and an interrupt would not remove it. Returns the slot to
    /// unregister (-1 when the registry is full: the write goes unprotected).
    static func register(_ path: String) -> Int32 { sc_tempfile_register(path) }

    /// Forgets a path once it has been renamed or removed.
    static func unregister(_ slot: Int32) { sc_tempfile_unregister(slot) }

    /// Deletes every registered file (what the signal handler does); returns how many existed.
    @discardableResult
    static func removeAll() -> Int { Int(sc_tempfile_remove_all()) }

    /// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files of writes
    /// in progress before the process dies of the signal. For programs; call
    /// it once, early. A signal the process was started with ignored stays ignored.
    public static func removeOnInterrupt() { sc_tempfile_install_signal_handlers() }
}

/// Write-then-rename, so readers never see a partial file.
enum AtomicFile {
    /// Writes `data` to a hidden temporary file beside `path`, then renames it over `path`.
    /// - Throws: `SparseConvError.invalidArgument` naming the file when either step fails.
    static func write(_ data: Data, to path: String, what: String) throws {
        let destination = URL(fileURLWithPath: path)
        let nonce = String(UInt64.random(in: .min ... .max), radix: 16)
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(nonce).tmp")
        let slot = TemporaryFiles.register(temporary.path)
        defer { TemporaryFiles.unregister(slot) }
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SparseConvError.invalidArgument("\(what): cannot write '\(path)': \(error.localizedDescription)")
        }
        // rename(2) replaces the destination atomically on POSIX file systems.
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SparseConvError.invalidArgument("\(what): cannot write '\(path)': \(reason)")
        }
    }
}
