import Foundation

/// The reader one process fuzzes, named by SPARSECONV_FUZZ (onnx, npy or wisdom).
enum Reader: String, CaseIterable {
    case onnx, npy, wisdom

    var fuzz: (UnsafePointer<UInt8>, Int) -> Void {
        switch self {
        case .onnx: fuzzONNX
        case .npy: fuzzNumPy
        case .wisdom: fuzzWisdom
        }
    }

    static let environmentVariable = "SPARSECONV_FUZZ"

    /// Read once; a missing or unknown name stops the process before any input runs.
    static let selected: Reader = {
        let names = allCases.map(\.rawValue).joined(separator: "|")
        guard let value = ProcessInfo.processInfo.environment[environmentVariable], let reader = Reader(rawValue: value) else {
            printError("set \(environmentVariable)=\(names) to choose the reader to fuzz (Scripts/fuzz does)")
            exit(2)
        }
        return reader
    }()
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    printError("INFO: fuzzing the \(Reader.selected.rawValue) reader")
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    Reader.selected.fuzz(start, count)
    return 0
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
