import Foundation

extension Model {
    /// How long ``loadONNX(file:inputShape:)`` took, split where the work
    /// stops depending on the disk: everything after `readSeconds` is decoding
    /// and building the model.
    public struct ONNXLoadTiming: Sendable {
        /// Reading the file's bytes into memory.
        public let readSeconds: Double
        /// The whole load, reading included.
        public let totalSeconds: Double
    }

    /// ``init(onnxFile:inputShape:)``, also saying how long reading the file
    /// took, so a load can be judged apart from the disk it came from.
    public static func loadONNX(file path: String, inputShape: [Int]? = nil) throws -> (model: Model, timing: ONNXLoadTiming) {
        let start = DispatchTime.now().uptimeNanoseconds
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            // Read, not mapped: another process truncating a mapped file
            // while we decode it would kill us with SIGBUS instead of an error.
            data = try Data(contentsOf: url)
        } catch {
            throw SparseConvError.invalidArgument("cannot read ONNX file '\(path)': \(error.localizedDescription)")
        }
        let read = DispatchTime.now().uptimeNanoseconds
        let model = try ONNXImporter.importModel(data: data, source: path, directory: url.deletingLastPathComponent().path,
                                                 fallbackName: url.deletingPathExtension().lastPathComponent,
                                                 inputShape: inputShape)
        let end = DispatchTime.now().uptimeNanoseconds
        return (model, ONNXLoadTiming(readSeconds: Double(read - start) / 1e9, totalSeconds: Double(end - start) / 1e9))
    }
}
