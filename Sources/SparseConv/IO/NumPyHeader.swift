/// The header dictionary of an `.npy` file, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
///
/// NumPy reads it with `ast.literal_eval`; this parser accepts the subset of
/// Python literals that can appear there (strings, `True`/`False`/`None`,
/// integers with an optional Python 2 `L` suffix, tuples, lists and dicts) and
/// nothing that would need evaluation, so a hostile header can only fail to parse.
struct NumPyHeader: Equatable {
    /// The dtype descriptor string, e.g. `<f4`.
    var descr: String
    var fortranOrder: Bool
    /// Extents as written; `[]` for a 0-d array.
    var shape: [Int]

    /// Parses and validates the dictionary (not the dtype or the extents, which
    /// `NumPy` checks against what it supports).
    init(parsing text: String) throws {
        var parser = PythonLiteralParser(text)
        let value = try parser.parseDocument()
        guard case .dict(let entries) = value else {
            throw NumPyHeader.malformed("the header is not a dictionary: \(PythonLiteralParser.excerpt(text))")
        }
        var fields: [String: PythonLiteral] = [:]
        for (key, value) in entries {
            guard fields.updateValue(value, forKey: key) == nil else {
                throw NumPyHeader.malformed("the header repeats the key '\(key)'")
            }
        }
        // NumPy itself rejects a header with missing or extra keys.
        let expected: Set<String> = ["descr", "fortran_order", "shape"]
        guard Set(fields.keys) == expected else {
            throw NumPyHeader.malformed(
                "the header has keys [\(fields.keys.sorted().map { "'\($0)'" }.joined(separator: ", "))], "
                + "expected ['descr', 'fortran_order', 'shape']")
        }
        switch fields["descr"]! {
        case .string(let descr): self.descr = descr
        case .list, .tuple:
            throw SparseConvError.unsupported("npy: structured (record) dtypes cannot be read into a Tensor")
        default: throw NumPyHeader.malformed("'descr' is not a dtype string")
        }
        guard case .bool(let fortranOrder) = fields["fortran_order"]! else {
            throw NumPyHeader.malformed("'fortran_order' is not True or False")
        }
        self.fortranOrder = fortranOrder
        // `(3)` is the integer 3 in Python, so a missing comma is caught here.
        guard case .tuple(let extents) = fields["shape"]! else {
            throw NumPyHeader.malformed("'shape' is not a tuple of integers")
        }
        shape = try extents.map { extent in
            guard case .int(let value) = extent else {
                throw NumPyHeader.malformed("'shape' is not a tuple of integers")
            }
            return value
        }
    }

    static func malformed(_ message: String) -> SparseConvError {
        .invalidArgument("npy: malformed header: \(message)")
    }
}

/// A Python literal value as it can appear in an `.npy` header.
indirect enum PythonLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(String, PythonLiteral)])
}

/// A recursive-descent parser over Unicode scalars for `PythonLiteral`.
struct PythonLiteralParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var depth = 0
    /// Bounds recursion so that `((((…` cannot exhaust the stack.
    static let maxDepth = 32

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    /// One literal followed by nothing but whitespace (NumPy pads with spaces and a newline).
    mutating func parseDocument() throws -> PythonLiteral {
        let value = try parseValue()
        skipWhitespace()
        guard position == scalars.count else { throw error("unexpected text after the dictionary") }
        return value
    }

    private mutating func parseValue() throws -> PythonLiteral {
        skipWhitespace()
        guard let scalar = peek() else { throw error("unexpected end of header") }
        switch scalar {
        case "'", "\"": return .string(try parseString())
        case "(": return try parseSequence(close: ")")
        case "[": return try parseSequence(close: "]")
        case "{": return try parseDict()
        case "-", "+", "0"..."9": return .int(try parseInt())
        default:
            if consumeWord("True") { return .bool(true) }
            if consumeWord("False") { return .bool(false) }
            if consumeWord("None") { return .none }
            throw error("unexpected character '\(scalar)'")
        }
    }

    private mutating func parseString() throws -> String {
        let quote = scalars[position]
        position += 1
        var result = String.UnicodeScalarView()
        while let scalar = peek() {
            position += 1
            if scalar == quote { return String(result) }
            if scalar == "\n" { break }
            if scalar == "\\" {
                // Dtype strings never contain escapes; keep the escaped character
                // literally so that \' and \\ at least do not end the string early.
                guard let escaped = peek() else { break }
                position += 1
                result.append(escaped)
            } else {
                result.append(scalar)
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseInt() throws -> Int {
        var negative = false
        if peek() == "-" || peek() == "+" {
            negative = peek() == "-"
            position += 1
            skipWhitespace()
        }
        var value = 0
        var digits = 0
        while let scalar = peek(), ("0"..."9").contains(scalar) {
            let digit = Int(scalar.value - ("0" as Unicode.Scalar).value)
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw SparseConvError.sizeOverflow("npy: integer in header does not fit in Int") }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw error("expected digits") }
        // Python 2 wrote long integers as `3L`; NumPy still accepts those headers.
        if peek() == "L" || peek() == "l" { position += 1 }
        if let next = peek(), next.properties.isAlphabetic || next == "_" || next == "." {
            throw error("unexpected '\(next)' in an integer")
        }
        return negative ? -value : value
    }

    private mutating func parseSequence(close: Unicode.Scalar) throws -> PythonLiteral {
        try enter()
        defer { depth -= 1 }
        position += 1  // the opening bracket
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace()
            if peek() == close { position += 1; break }
            if !items.isEmpty {
                guard peek() == "," else { throw error("expected ',' or '\(close)'") }
                position += 1
                sawComma = true
                skipWhitespace()
                if peek() == close { position += 1; break }
            }
            items.append(try parseValue())
        }
        if close == "]" { return .list(items) }
        // `(x)` is just x; only a comma (or nothing at all) makes a tuple.
        if items.count == 1 && !sawComma { return items[0] }
        return .tuple(items)
    }

    private mutating func parseDict() throws -> PythonLiteral {
        try enter()
        defer { depth -= 1 }
        position += 1  // {
        var entries: [(String, PythonLiteral)] = []
        while true {
            skipWhitespace()
            if peek() == "}" { position += 1; break }
            if !entries.isEmpty {
                guard peek() == "," else { throw error("expected ',' or '}'") }
                position += 1
                skipWhitespace()
                if peek() == "}" { position += 1; break }
            }
            guard let quote = peek() else { throw error("unexpected end of header") }
            guard quote == "'" || quote == "\"" else {
                throw error("dictionary keys must be strings")
            }
            let key = try parseString()
            skipWhitespace()
            guard peek() == ":" else { throw error("expected ':' after '\(key)'") }
            position += 1
            entries.append((key, try parseValue()))
        }
        return .dict(entries)
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    private func peek() -> Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private mutating func skipWhitespace() {
        while let scalar = peek(), scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
            position += 1
        }
    }

    private mutating func consumeWord(_ word: String) -> Bool {
        let wordScalars = Array(word.unicodeScalars)
        guard position + wordScalars.count <= scalars.count,
              Array(scalars[position..<position + wordScalars.count]) == wordScalars else { return false }
        let end = position + wordScalars.count
        if end < scalars.count, scalars[end].properties.isAlphabetic || scalars[end] == "_" { return false }
        position = end
        return true
    }

    private func error(_ message: String) -> SparseConvError {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        return NumPyHeader.malformed("\(message) at offset \(position) in \(Self.excerpt(String(text)))")
    }

    /// The header, shortened and with its padding trimmed, for error messages.
    static func excerpt(_ text: String) -> String {
        var trimmed = Substring(text)
        while let last = trimmed.last, last == " " || last == "\n" || last == "\r" || last == "\t" {
            trimmed = trimmed.dropLast()
        }
        let limit = 200
        return trimmed.count > limit ? "\"\(trimmed.prefix(limit))…\"" : "\"\(trimmed)\""
    }
}
