import CSparseConv

/// Aligned float storage shared copy-on-write between `Tensor` values.
final class TensorStorage: @unchecked Sendable {
    // @unchecked: the buffer is mutated only through a uniquely referenced
    // Tensor (copy-on-write), so no two threads ever write or read-while-write.
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// - Parameter zeroed: false only for a caller that writes every element
    ///   before anything reads them; zeroing a weight tensor that is then
    ///   overwritten costs a full extra pass over its pages.
    init(count: Int, zeroed: Bool = true) throws {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow else { throw SparseConvError.sizeOverflow("tensor of \(count) elements") }
        try ResourceLimits.checkAllocation(bytes: bytes, "a tensor of \(count) elements")
        guard let raw = zeroed ? sc_aligned_calloc(bytes) : sc_aligned_alloc(bytes) else {
            throw SparseConvError.outOfMemory("tensor of \(count) elements (\(bytes) bytes)")
        }
        if !zeroed {
            // sc_aligned_alloc pads to 64 bytes; a calloc'd tensor has that
            // tail zeroed, and a vector load of the last elements must not
            // see garbage in either kind.
            let padded = (bytes + 63) & ~63
            (raw + bytes).initializeMemory(as: UInt8.self, repeating: 0, count: padded - bytes)
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    func copy() throws -> TensorStorage {
        let other = try TensorStorage(count: count)
        other.pointer.update(from: pointer, count: count)
        return other
    }

    deinit { sc_aligned_free(pointer) }
}

/// A dense float32 tensor with value semantics.
///
/// Activations use NCHW layout `[batch, channels, height, width]` and
/// convolution weights OIHW `[outChannels, inChannels / groups, kernelHeight,
/// kernelWidth]`, both contiguous and row-major. Storage is 64-byte aligned
/// and copied only when a shared tensor is mutated.
///
/// ```swift
/// var x = try Tensor(shape: [1, 3, 4, 4])
/// x[0, 1, 2, 3] = 1
/// let y = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
/// ```
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    var storage: TensorStorage

    /// The number of elements (the product of `shape`).
    public var count: Int { storage.count }

    /// Creates a tensor filled with `value`.
    /// - Parameters:
    ///   - shape: extents, each ≥ 1; their product must fit in memory.
    ///   - value: the initial value of every element.
    /// - Throws: `SparseConvError.invalidArgument` for an empty or non-positive
    ///   shape, `.sizeOverflow` or `.outOfMemory` when it cannot be allocated.
    public init(shape: [Int], repeating value: Float = 0) throws {
        let count = try Tensor.elementCount(shape)
        self.shape = shape
        storage = try TensorStorage(count: count)
        if value != 0 { storage.pointer.update(repeating: value, count: count) }
    }

    /// Creates a tensor from row-major scalars.
    /// - Throws: `.shapeMismatch` when `scalars.count` is not the product of `shape`.
    public init(shape: [Int], scalars: [Float]) throws {
        let count = try Tensor.elementCount(shape)
        guard scalars.count == count else {
            throw SparseConvError.shapeMismatch(what: "scalars for a tensor of shape \(shape)",
                                                expected: [count], actual: [scalars.count])
        }
        self.shape = shape
        storage = try TensorStorage(count: count)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor of seeded pseudo-random values, uniform in `range`.
    public static func random(shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) throws -> Tensor {
        var tensor = try Tensor(shape: shape)
        var generator = SeededGenerator(seed: seed)
        tensor.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] = Float.random(in: range, using: &generator) }
        }
        return tensor
    }

    /// Validates a shape and returns its element count.
    static func elementCount(_ shape: [Int]) throws -> Int {
        guard !shape.isEmpty else { throw SparseConvError.invalidArgument("a tensor needs at least one dimension") }
        var count = 1
        for extent in shape {
            guard extent >= 1 else {
                throw SparseConvError.invalidArgument("tensor dimensions must be ≥ 1, got \(shape)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Int(Int32.max) * 64 else {
                throw SparseConvError.sizeOverflow("tensor of shape \(shape)")
            }
            count = product
        }
        return count
    }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The element at a row-major flat index.
    public subscript(flat index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "flat index \(index) out of range 0..<\(count)")
            return storage.pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "flat index \(index) out of range 0..<\(count)")
            makeUnique()
            storage.pointer[index] = newValue
        }
    }

    /// The element at a multi-dimensional index (one index per dimension).
    public subscript(indices: Int...) -> Float {
        get { storage.pointer[flatIndex(indices)] }
        set {
            let index = flatIndex(indices)
            makeUnique()
            storage.pointer[index] = newValue
        }
    }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "expected \(shape.count) indices, got \(indices.count)")
        var flat = 0
        for (index, extent) in zip(indices, shape) {
            precondition(index >= 0 && index < extent, "index \(indices) out of bounds for shape \(shape)")
            flat = flat * extent + index
        }
        return flat
    }

    /// The same elements under another shape with the same count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let newCount = try Tensor.elementCount(newShape)
        guard newCount == count else {
            throw SparseConvError.shapeMismatch(what: "reshape of \(shape)", expected: [count], actual: [newCount])
        }
        return Tensor(shape: newShape, storage: storage)
    }

    /// A tensor whose elements are garbage until `body` has written every one of them.
    init(shape: [Int], fillingEveryElement body: (UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let count = try Tensor.elementCount(shape)
        self.shape = shape
        storage = try TensorStorage(count: count, zeroed: false)
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            // A copy of an existing allocation of the same size cannot overflow;
            // only exhausted memory can fail here, which a setter cannot throw.
            guard let copy = try? storage.copy() else { fatalError("out of memory copying a tensor of \(count) elements") }
            storage = copy
        }
    }

    /// Read-only access to the contiguous elements.
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Mutable access to the contiguous elements (made unique first).
    mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        for index in 0..<lhs.count where lhs.storage.pointer[index] != rhs.storage.pointer[index] { return false }
        return true
    }

    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }

    /// Largest absolute elementwise difference divided by the largest absolute
    /// value of `reference` (the normalized error used throughout the tests).
    public func normalizedError(to reference: Tensor) throws -> Float {
        guard shape == reference.shape else {
            throw SparseConvError.shapeMismatch(what: "comparison", expected: reference.shape, actual: shape)
        }
        var maxDiff: Float = 0, maxRef: Float = 0
        for index in 0..<count {
            let a = storage.pointer[index], r = reference.storage.pointer[index]
            if a.isNaN != r.isNaN { return .infinity }
            if a.isNaN { continue }
            maxDiff = max(maxDiff, abs(a - r))
            maxRef = max(maxRef, abs(r))
        }
        if maxDiff == 0 { return 0 }
        return maxRef > 0 ? maxDiff / maxRef : .infinity
    }
}

/// A small, fast, seedable generator (SplitMix64) so that random weights and
/// inputs are reproducible across runs and machines.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
