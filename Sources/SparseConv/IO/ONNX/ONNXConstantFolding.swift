/// A small int64 or float tensor that the importer computes while loading:
/// exporters write shape arithmetic (`x.view(x.size(0), -1)` becomes
/// Shape → Gather → Unsqueeze → Concat → Reshape) that only makes sense as a
/// constant once the input shape is known.
struct StaticTensor: Equatable {
    enum Values: Equatable {
        case integers([Int64])
        case floats([Float])

        var count: Int {
            switch self {
            case .integers(let v): v.count
            case .floats(let v): v.count
            }
        }

        /// The elements at `indices`, in that order.
        func pick(_ indices: [Int]) -> Values {
            switch self {
            case .integers(let v): .integers(indices.map { v[$0] })
            case .floats(let v): .floats(indices.map { v[$0] })
            }
        }

        var asFloats: [Float] {
            switch self {
            case .integers(let v): v.map { Float($0) }
            case .floats(let v): v
            }
        }
    }

    var dims: [Int]
    var values: Values

    /// Shape arithmetic never needs more; a larger result means a hostile or
    /// misread file, and is refused before it is allocated.
    static let maximumElements = 1 << 22

    init(dims: [Int], values: Values) throws {
        guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, { $0 &* $1 }) == values.count else {
            throw SparseConvError.invalidSpec("internal: static tensor dims \(dims) hold \(values.count) values")
        }
        self.dims = dims
        self.values = values
    }

    static func integers(_ values: [Int64], dims: [Int]? = nil) throws -> StaticTensor {
        try StaticTensor(dims: dims ?? [values.count], values: .integers(values))
    }

    var count: Int { values.count }

    /// The values as integers; floats are refused (an index or a shape must be exact).
    func integerValues(_ role: String) throws -> [Int64] {
        guard case .integers(let v) = values else {
            throw SparseConvError.invalidSpec("\(role) must be integers, got floats")
        }
        return v
    }
}

/// Evaluates the shape-arithmetic operators on static tensors. The importer
/// runs it twice per node, for two probe batch sizes, and so learns which
/// results depend on the batch (those may only reach a Reshape's batch extent).
enum ConstantFolder {
    /// Operators folded when every input is static (`Shape` and `Size` need
    /// only their input's shape).
    static let operators: Set<String> = [
        "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Div", "Mul", "Add", "Sub", "Cast",
        "ConstantOfShape", "Range", "Reshape", "Neg", "Equal", "Where", "Expand", "Flatten", "Floor", "Ceil",
        "Sqrt", "Transpose", "Min", "Max",
    ]

    /// Two batch sizes the shape subgraphs are evaluated at; neither is 1, so
    /// that a batch extent is never mistaken for a unit axis.
    static let probeBatches = (2, 3)

    /// - Parameter inputs: the node's inputs (nil where a name is empty).
    static func evaluate(_ node: Onnx_NodeProto, opset: Int, inputs: [StaticTensor?]) throws -> StaticTensor {
        let attributes = Attributes(node)
        func input(_ position: Int) throws -> StaticTensor {
            guard position < inputs.count, let value = inputs[position] else {
                throw SparseConvError.invalidSpec("input \(position) is missing")
            }
            return value
        }
        func optional(_ position: Int) -> StaticTensor? { position < inputs.count ? inputs[position] : nil }
        func axis(_ value: Int, rank: Int) throws -> Int {
            let normalized = value < 0 ? value + rank : value
            guard normalized >= 0, normalized < rank else { throw SparseConvError.invalidSpec("axis \(value) out of range for rank \(rank)") }
            return normalized
        }
        func axesList(_ position: Int) throws -> [Int]? {
            if opset < 13 { return attributes["axes"]?.ints.map { Int($0) } }
            return try optional(position)?.integerValues("axes").map { Int($0) }
        }

        switch node.opType {
        case "Gather":
            let data = try input(0), indices = try input(1)
            let a = try axis(try attributes.int("axis", default: 0, allowNegative: true), rank: data.dims.count)
            let extent = data.dims[a]
            let picks = try indices.integerValues("Gather indices").map { raw -> Int in
                let index = raw < 0 ? Int(raw) + extent : Int(raw)
                guard raw >= -Int64(extent), raw < Int64(extent), index >= 0 else {
                    throw SparseConvError.invalidSpec("Gather index \(raw) out of range for extent \(extent)")
                }
                return index
            }
            let outer = data.dims[..<a].reduce(1, *), inner = data.dims[(a + 1)...].reduce(1, *)
            var map: [Int] = []
            for o in 0..<outer { for p in picks { for i in 0..<inner { map.append((o * extent + p) * inner + i) } } }
            return try StaticTensor(dims: Array(data.dims[..<a]) + indices.dims + Array(data.dims[(a + 1)...]), values: data.values.pick(map))
        case "Unsqueeze":
            let data = try input(0)
            guard let axes = try axesList(1), !axes.isEmpty else { throw SparseConvError.invalidSpec("Unsqueeze needs axes") }
            let rank = data.dims.count + axes.count
            let normalized = Set(try axes.map { try axis($0, rank: rank) })
            guard normalized.count == axes.count else { throw SparseConvError.invalidSpec("Unsqueeze axes \(axes) repeat") }
            var dims: [Int] = [], source = data.dims.makeIterator()
            for position in 0..<rank { dims.append(normalized.contains(position) ? 1 : source.next()!) }
            return try StaticTensor(dims: dims, values: data.values)
        case "Squeeze":
            let data = try input(0)
            let axes = try axesList(1).map { Set(try $0.map { try axis($0, rank: data.dims.count) }) }
            var dims: [Int] = []
            for (position, extent) in data.dims.enumerated() {
                if axes?.contains(position) ?? (extent == 1) {
                    guard extent == 1 else { throw SparseConvError.invalidSpec("Squeeze of axis \(position) with extent \(extent)") }
                } else {
                    dims.append(extent)
                }
            }
            return try StaticTensor(dims: dims, values: data.values)
        case "Flatten":
            let data = try input(0)
            let a = try attributes.int("axis", default: 1, allowNegative: true)
            let split = a < 0 ? a + data.dims.count : a
            guard split >= 0, split <= data.dims.count else { throw SparseConvError.invalidSpec("Flatten axis \(a)") }
            return try StaticTensor(dims: [data.dims[..<split].reduce(1, *), data.dims[split...].reduce(1, *)], values: data.values)
        case "Concat":
            let parts = inputs.compactMap { $0 }
            guard let first = parts.first else { throw SparseConvError.invalidSpec("Concat of nothing") }
            let a = try axis(try attributes.int("axis", default: nil, allowNegative: true), rank: first.dims.count)
            for part in parts where part.dims.count != first.dims.count
                || zip(part.dims, first.dims).enumerated().contains(where: { $0.offset != a && $0.element.0 != $0.element.1 }) {
                throw SparseConvError.invalidSpec("Concat of \(first.dims) and \(part.dims) along axis \(a)")
            }
            let outer = first.dims[..<a].reduce(1, *)
            var dims = first.dims
            dims[a] = parts.reduce(0) { $0 + $1.dims[a] }
            let floats = parts.contains { if case .floats = $0.values { true } else { false } }
            func chunks<T>(_ extract: (StaticTensor) -> [T]) -> [T] {
                var result: [T] = []
                for o in 0..<outer {
                    for part in parts {
                        let block = part.dims[a...].reduce(1, *)
                        result += extract(part)[(o * block)..<((o + 1) * block)]
                    }
                }
                return result
            }
            if floats { return try StaticTensor(dims: dims, values: .floats(chunks { $0.values.asFloats })) }
            return try StaticTensor(dims: dims, values: .integers(chunks { (try? $0.integerValues("")) ?? [] }))
        case "Slice":
            let data = try input(0)
            let starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?
            if opset < 10 {
                starts = attributes["starts"]?.ints ?? []
                ends = attributes["ends"]?.ints ?? []
                axes = attributes["axes"]?.ints
                steps = nil
            } else {
                starts = try input(1).integerValues("Slice starts")
                ends = try input(2).integerValues("Slice ends")
                axes = try optional(3)?.integerValues("Slice axes")
                steps = try optional(4)?.integerValues("Slice steps")
            }
            let axisList = try (axes ?? (0..<Int64(starts.count)).map { $0 }).map { try axis(Int($0), rank: data.dims.count) }
            guard starts.count == ends.count, axisList.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
                throw SparseConvError.invalidSpec("Slice starts, ends, axes and steps differ in length")
            }
            var ranges = data.dims.map { Array(0..<$0) }
            for (k, a) in axisList.enumerated() {
                ranges[a] = try sliceIndices(extent: data.dims[a], start: starts[k], end: ends[k], step: steps?[k] ?? 1)
            }
            return try gatherGrid(data, ranges)
        case "Transpose":
            let data = try input(0)
            let perm = attributes["perm"]?.ints.map { Int($0) } ?? Array((0..<data.dims.count).reversed())
            guard perm.sorted() == Array(0..<data.dims.count) else { throw SparseConvError.invalidSpec("Transpose perm \(perm)") }
            let strides = rowMajorStrides(data.dims)
            let dims = perm.map { data.dims[$0] }
            var map: [Int] = []
            map.reserveCapacity(data.count)
            for index in 0..<data.count {
                var rest = index, offset = 0
                for (position, extent) in dims.enumerated().reversed() {
                    offset += (rest % extent) * strides[perm[position]]
                    rest /= extent
                }
                map.append(offset)
            }
            return try StaticTensor(dims: dims, values: data.values.pick(map))
        case "Reshape":
            let data = try input(0)
            let requested = try input(1).integerValues("Reshape shape")
            let allowZero = try attributes.int("allowzero", default: 0) != 0
            var dims: [Int] = [], inferred: Int? = nil
            for (position, value) in requested.enumerated() {
                if value == 0 && !allowZero {
                    guard position < data.dims.count else { throw SparseConvError.invalidSpec("Reshape copies axis \(position) of \(data.dims)") }
                    dims.append(data.dims[position])
                } else if value == -1 {
                    guard inferred == nil else { throw SparseConvError.invalidSpec("Reshape target \(requested) has two -1") }
                    inferred = position
                    dims.append(1)
                } else {
                    guard value >= 0, value <= Int64(StaticTensor.maximumElements) else { throw SparseConvError.invalidSpec("Reshape target \(requested)") }
                    dims.append(Int(value))
                }
            }
            let known = dims.reduce(1, *)
            if let inferred {
                guard known > 0, data.count % known == 0 else { throw SparseConvError.invalidSpec("Reshape of \(data.dims) to \(requested)") }
                dims[inferred] = data.count / known
            }
            guard dims.reduce(1, *) == data.count else { throw SparseConvError.invalidSpec("Reshape of \(data.dims) to \(requested)") }
            return try StaticTensor(dims: dims, values: data.values)
        case "Expand":
            let data = try input(0)
            let target = try input(1).integerValues("Expand shape").map { Int($0) }
            let dims = try broadcastShape(data.dims, target)
            return try broadcast(data, to: dims)
        case "Add", "Sub", "Mul", "Div", "Min", "Max", "Equal":
            return try binary(node.opType, try input(0), try input(1))
        case "Where":
            let condition = try input(0), a = try input(1), b = try input(2)
            let dims = try broadcastShape(try broadcastShape(condition.dims, a.dims), b.dims)
            let c = try broadcast(condition, to: dims).values.asFloats
            let x = try broadcast(a, to: dims).values, y = try broadcast(b, to: dims).values
            switch (x, y) {
            case let (.integers(p), .integers(q)):
                return try StaticTensor(dims: dims, values: .integers(c.indices.map { c[$0] != 0 ? p[$0] : q[$0] }))
            default:
                let p = x.asFloats, q = y.asFloats
                return try StaticTensor(dims: dims, values: .floats(c.indices.map { c[$0] != 0 ? p[$0] : q[$0] }))
            }
        case "Neg", "Floor", "Ceil", "Sqrt":
            let data = try input(0)
            switch (node.opType, data.values) {
            case ("Neg", .integers(let v)): return try StaticTensor(dims: data.dims, values: .integers(v.map { 0 &- $0 }))
            case (_, .integers): return data
            case (let op, .floats(let v)):
                let f: (Float) -> Float = switch op {
                case "Neg": { -$0 }
                case "Floor": { $0.rounded(.down) }
                case "Ceil": { $0.rounded(.up) }
                default: { $0.squareRoot() }
                }
                return try StaticTensor(dims: data.dims, values: .floats(v.map(f)))
            }
        case "Cast":
            let data = try input(0)
            let target = Onnx_TensorProto.DataType(rawValue: try attributes.int("to", default: nil))
            switch target {
            case .float, .double, .float16, .bfloat16:
                return try StaticTensor(dims: data.dims, values: .floats(data.values.asFloats))
            case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64:
                if case .floats(let v) = data.values {
                    guard v.allSatisfy({ $0.isFinite && abs($0) < 9e18 }) else { throw SparseConvError.invalidSpec("Cast of a non-finite float to an integer") }
                    return try StaticTensor(dims: data.dims, values: .integers(v.map { Int64($0.rounded(.towardZero)) }))
                }
                return data
            case .bool:
                return try StaticTensor(dims: data.dims, values: .integers(data.values.asFloats.map { $0 != 0 ? 1 : 0 }))
            default:
                throw SparseConvError.unsupported("Cast to data type \(ONNXTensorDecoder.typeName(Int32(try attributes.int("to", default: 0))))")
            }
        case "ConstantOfShape":
            let dims = try input(0).integerValues("ConstantOfShape shape").map { Int($0) }
            let count = try checkedCount(dims)
            if let value = attributes["value"], value.hasT {
                let type = Onnx_TensorProto.DataType(rawValue: Int(value.t.dataType))
                if type == .int64 || type == .int32 {
                    let scalar = (type == .int64 ? value.t.int64Data.first : value.t.int32Data.first.map(Int64.init))
                        ?? (value.t.rawData.count >= 8 && type == .int64 ? value.t.rawData.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } : nil)
                        ?? (value.t.rawData.count >= 4 ? value.t.rawData.withUnsafeBytes { Int64(Int32(littleEndian: $0.loadUnaligned(as: Int32.self))) } : 0)
                    return try StaticTensor(dims: dims, values: .integers(Array(repeating: scalar, count: count)))
                }
                let scalar = value.t.floatData.first
                    ?? (value.t.rawData.count >= 4 ? value.t.rawData.withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) } : 0)
                return try StaticTensor(dims: dims, values: .floats(Array(repeating: scalar, count: count)))
            }
            return try StaticTensor(dims: dims, values: .floats(Array(repeating: 0, count: count)))
        case "Range":
            let start = try input(0), limit = try input(1), delta = try input(2)
            guard start.count == 1, limit.count == 1, delta.count == 1 else { throw SparseConvError.invalidSpec("Range takes scalars") }
            if case .integers(let s) = start.values, case .integers(let l) = limit.values, case .integers(let d) = delta.values {
                guard d[0] != 0 else { throw SparseConvError.invalidSpec("Range with delta 0") }
                let span = Double(l[0]) - Double(s[0])
                let n = max(Int((span / Double(d[0])).rounded(.up)), 0)
                _ = try checkedCount([n])
                return try StaticTensor(dims: [n], values: .integers((0..<n).map { s[0] + Int64($0) * d[0] }))
            }
            let s = start.values.asFloats[0], l = limit.values.asFloats[0], d = delta.values.asFloats[0]
            guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw SparseConvError.invalidSpec("Range(\(s), \(l), \(d))") }
            let steps = ((l - s) / d).rounded(.up)
            guard steps < Float(StaticTensor.maximumElements) else { throw SparseConvError.invalidSpec("Range of \(steps) values is too long") }
            let n = max(Int(steps), 0)
            return try StaticTensor(dims: [n], values: .floats((0..<n).map { s + Float($0) * d }))
        default:
            throw SparseConvError.unsupported("operator \(node.opType) on constants")
        }
    }

    // MARK: Helpers

    static func checkedCount(_ dims: [Int]) throws -> Int {
        var count = 1
        for extent in dims {
            guard extent >= 0 else { throw SparseConvError.invalidSpec("negative extent in \(dims)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= StaticTensor.maximumElements else {
                throw SparseConvError.invalidSpec("a constant of shape \(dims) is larger than shape arithmetic needs (limit \(StaticTensor.maximumElements) elements)")
            }
            count = product
        }
        return count
    }

    static func rowMajorStrides(_ dims: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        for position in stride(from: dims.count - 2, through: 0, by: -1) { strides[position] = strides[position + 1] * dims[position + 1] }
        return strides
    }

    /// Indices that ONNX Slice visits along one axis, with its clamping rules.
    static func sliceIndices(extent: Int, start: Int64, end: Int64, step: Int64) throws -> [Int] {
        guard step != 0 else { throw SparseConvError.invalidSpec("Slice step 0") }
        let n = Int64(extent)
        func clamp(_ value: Int64, _ low: Int64, _ high: Int64) -> Int64 { min(max(value, low), high) }
        var s = start < 0 ? start &+ n : start
        var e = end < 0 ? end &+ n : end
        if step > 0 {
            s = clamp(s, 0, n); e = clamp(e, 0, n)
            return Array(stride(from: Int(s), to: Int(e), by: Int(step)))
        }
        s = clamp(s, -1, n - 1); e = clamp(e, -1, n - 1)
        return Array(stride(from: Int(s), to: Int(e), by: Int(step)))
    }

    /// The sub-tensor at the cross product of per-axis index lists.
    static func gatherGrid(_ data: StaticTensor, _ ranges: [[Int]]) throws -> StaticTensor {
        let strides = rowMajorStrides(data.dims)
        var map = [0]
        for (position, range) in ranges.enumerated() {
            map = map.flatMap { base in range.map { base + $0 * strides[position] } }
        }
        if ranges.contains(where: \.isEmpty) { map = [] }
        return try StaticTensor(dims: ranges.map(\.count), values: data.values.pick(map))
    }

    static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a, pb = Array(repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            guard x == y || x == 1 || y == 1 else { throw SparseConvError.invalidSpec("shapes \(a) and \(b) do not broadcast") }
            return x == 1 ? y : x
        }
    }

    static func broadcast(_ data: StaticTensor, to dims: [Int]) throws -> StaticTensor {
        if data.dims == dims { return data }
        let count = try checkedCount(dims)
        let padded = Array(repeating: 1, count: dims.count - data.dims.count) + data.dims
        let strides = rowMajorStrides(padded)
        var map: [Int] = []
        map.reserveCapacity(count)
        for index in 0..<count {
            var rest = index, offset = 0
            for position in stride(from: dims.count - 1, through: 0, by: -1) {
                let coordinate = rest % dims[position]
                rest /= dims[position]
                if padded[position] != 1 { offset += coordinate * strides[position] }
            }
            map.append(offset)
        }
        return try StaticTensor(dims: dims, values: data.values.pick(map))
    }

    static func binary(_ op: String, _ a: StaticTensor, _ b: StaticTensor) throws -> StaticTensor {
        let dims = try broadcastShape(a.dims, b.dims)
        let x = try broadcast(a, to: dims).values, y = try broadcast(b, to: dims).values
        if case .integers(let p) = x, case .integers(let q) = y {
            let values = try zip(p, q).map { u, v -> Int64 in
                let (result, overflow): (Int64, Bool)
                switch op {
                case "Add": (result, overflow) = u.addingReportingOverflow(v)
                case "Sub": (result, overflow) = u.subtractingReportingOverflow(v)
                case "Mul": (result, overflow) = u.multipliedReportingOverflow(by: v)
                case "Div":
                    guard v != 0 else { throw SparseConvError.invalidSpec("integer division by zero in shape arithmetic") }
                    (result, overflow) = u.dividedReportingOverflow(by: v)
                case "Min": (result, overflow) = (min(u, v), false)
                case "Max": (result, overflow) = (max(u, v), false)
                default: (result, overflow) = (u == v ? 1 : 0, false)
                }
                guard !overflow else { throw SparseConvError.invalidSpec("integer overflow in shape arithmetic (\(u) \(op) \(v))") }
                return result
            }
            return try StaticTensor(dims: dims, values: .integers(values))
        }
        let p = x.asFloats, q = y.asFloats
        let values = zip(p, q).map { u, v -> Float in
            switch op {
            case "Add": u + v
            case "Sub": u - v
            case "Mul": u * v
            case "Div": u / v
            case "Min": min(u, v)
            case "Max": max(u, v)
            default: u == v ? 1 : 0
            }
        }
        if op == "Equal" { return try StaticTensor(dims: dims, values: .integers(values.map { Int64($0) })) }
        return try StaticTensor(dims: dims, values: .floats(values))
    }
}
