import CSparseConv

/// Every failure SparseConv reports.
///
/// The library never traps on bad input: invalid specifications, mismatched
/// shapes, unsupported paths and exhausted memory all arrive here.
public enum SparseConvError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A convolution or layer description is unusable (the message says which field).
    case invalidSpec(String)
    /// A tensor has the wrong shape for where it was passed.
    case shapeMismatch(what: String, expected: [Int], actual: [Int])
    /// An argument is out of its domain (negative thread count, sparsity outside [0, 1], ...).
    case invalidArgument(String)
    /// The requested execution path or instruction set cannot run this convolution here.
    case unsupported(String)
    /// An allocation failed.
    case outOfMemory(String)
    /// A size computation would overflow.
    case sizeOverflow(String)

    public var description: String {
        switch self {
        case .invalidSpec(let message): return "invalid specification: \(message)"
        case let .shapeMismatch(what, expected, actual):
            return "shape mismatch for \(what): expected \(expected), got \(actual)"
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .unsupported(let message): return "unsupported: \(message)"
        case .outOfMemory(let message): return "out of memory: \(message)"
        case .sizeOverflow(let message): return "size overflow: \(message)"
        }
    }
}

extension SparseConvError {
    /// Turns a C status into a typed error; `nil` for success.
    static func from(_ status: sc_status, _ context: @autoclosure () -> String) -> SparseConvError? {
        switch status {
        case SC_OK: return nil
        case SC_INVALID_ARGUMENT: return .invalidArgument(context())
        case SC_OUT_OF_MEMORY: return .outOfMemory(context())
        case SC_SIZE_OVERFLOW: return .sizeOverflow(context())
        case SC_UNSUPPORTED: return .unsupported(context())
        default: return .invalidArgument("\(context()) (status \(status.rawValue))")
        }
    }

    /// Throws the error that a C status stands for.
    static func check(_ status: sc_status, _ context: @autoclosure () -> String) throws {
        if let error = from(status, context()) { throw error }
    }
}
