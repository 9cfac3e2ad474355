import Foundation
import SparseConv

/// Any bytes given to the ONNX importer must end in a model or a thrown
/// SparseConvError; a trap, a sanitizer report or a leak-sized allocation is a bug.
func fuzzONNX(_ start: UnsafePointer<UInt8>, _ count: Int) {
    // Small limits keep a declared-huge model from being a slow input instead of a refused one.
    ResourceLimits.withMemoryLimit(64 << 20) {
        guard let model = try? Model(onnxData: Data(bytes: start, count: count)) else { return }
        // A model that loads must also plan and export without trapping.
        _ = try? model.detectedPruning()
        _ = try? model.onnxData()
        _ = try? Planner(mode: .estimate, threads: 1).plan(model)
    }
}
