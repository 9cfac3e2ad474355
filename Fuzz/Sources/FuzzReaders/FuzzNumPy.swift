import SparseConv

/// Any bytes given to the .npy reader must end in a tensor or a thrown
/// SparseConvError; a tensor that is read must encode and read back the same.
func fuzzNumPy(_ start: UnsafePointer<UInt8>, _ count: Int) {
    ResourceLimits.withMemoryLimit(64 << 20) {
        guard let tensor = try? NumPy.read(data: Array(UnsafeBufferPointer(start: start, count: count))) else { return }
        guard let again = try? NumPy.read(data: NumPy.encode(tensor)), again.shape == tensor.shape,
              zip(again.scalars, tensor.scalars).allSatisfy({ $0.bitPattern == $1.bitPattern }) else {
            fatalError("an .npy tensor of shape \(tensor.shape) does not survive encode and read")
        }
    }
}
