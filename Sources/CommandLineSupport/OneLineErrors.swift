import ArgumentParser
import Foundation
import SparseConv

extension ParsableCommand {
    /// Runs the command with the programs' failure contract: every failure
    /// prints one line, `error: ...`, and exits non-zero, so scripts can rely
    /// on the status and people see the cause without a backtrace.
    /// ArgumentParser still handles `--help` and `--version` itself.
    public static func mainWithOneLineErrors() {
        // An interrupted write must not leave its temporary file beside the output.
        TemporaryFiles.removeOnInterrupt()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as SparseConvError {
            failWithOneLine("\(error)")
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            failWithOneLine(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message, code: code.rawValue)
        }
    }
}

/// Prints `error: message` on standard error and exits with `code` (never 0).
public func failWithOneLine(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(code == 0 ? 1 : code)
}

/// `--memory-limit SIZE`: the programs' way to set ``ResourceLimits/memoryLimit``.
public struct MemoryLimitOption: ParsableArguments {
    @Option(help: "Refuse models, tensors and plans needing more memory than this (e.g. 512M, 8G; default: \(MemoryLimitOption.defaultDescription), or $\(ResourceLimits.environmentVariable)).")
    public var memoryLimit: String?

    public init() {}

    static var defaultDescription: String {
        "half of physical memory, \(ResourceLimits.defaultMemoryLimit >> 20) MiB here"
    }

    public func validate() throws {
        if let memoryLimit { _ = try ResourceLimits.parseByteCount(memoryLimit, what: "--memory-limit") }
    }

    /// Sets the process-wide limit when the option was given.
    public func apply() throws {
        if let memoryLimit { ResourceLimits.memoryLimit = try ResourceLimits.parseByteCount(memoryLimit, what: "--memory-limit") }
    }
}
