import Foundation
import SparseConv

/// Wisdom is an optimization: any bytes must load (possibly as nothing, with
/// a diagnostic) and never trap.
func fuzzWisdom(_ start: UnsafePointer<UInt8>, _ count: Int) {
    let wisdom = Wisdom(jsonData: Data(bytes: start, count: count))
    if wisdom.count > 0, wisdom.loadDiagnostic != nil { fatalError("wisdom both loaded and reported unusable") }
}
