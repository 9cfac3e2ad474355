import ArgumentParser
import Foundation
import SparseConv

extension ParsableCommand {
    /// Runs the command with the programs' failure contract: every failure
    /// prints one line, `error: ...`, and exits non-zero, so scripts can rely
    /// on the status and people see the cause without a backtrace.
    /// ArgumentParser still handles `--help` and `--version` itself.
    public static func mainWithOneLineErrors() {
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
