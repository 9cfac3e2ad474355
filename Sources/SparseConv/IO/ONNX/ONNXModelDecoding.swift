import Foundation
import SwiftProtobuf

/// Decodes a `ModelProto` with every initializer's `raw_data` sharing the
/// bytes of the model instead of being copied.
///
/// swift-protobuf copies each `bytes` field into a fresh `Data`; for a large
/// model that copy is as much work as reading the file (VGG-16: 528 MiB of
/// weights). So the wire format is scanned just deep enough to find those
/// fields — `ModelProto.graph` (7) → `GraphProto.initializer` (5) →
/// `TensorProto.raw_data` (9) — swift-protobuf decodes a copy of the model
/// without them (a few kilobytes), and each initializer then gets a slice of
/// the original `Data`, which shares its storage.
///
/// The scan only ever falls back: bytes it does not understand (a truncated
/// varint, a length past the end, a group, field number 0) and any disagreement
/// with swift-protobuf send the original bytes to swift-protobuf unchanged,
/// so a malformed file fails with the same error as without the scan.
enum ONNXModelDecoding {
    static func decode(_ data: Data) throws -> Onnx_ModelProto {
        // No size threshold: small models take the same path, so every
        // fixture and malformed-file test exercises it.
        guard let stripped = data.withUnsafeBytes({ strip($0) }) else {
            return try Onnx_ModelProto(serializedBytes: data)
        }
        var proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: stripped.bytes)
        } catch {
            return try Onnx_ModelProto(serializedBytes: data)
        }
        // swift-protobuf appends repeated fields in wire order and merges a
        // repeated `graph` field, so the n-th initializer scanned is the n-th decoded.
        guard proto.graph.initializer.count == stripped.rawData.count else {
            return try Onnx_ModelProto(serializedBytes: data)
        }
        for (index, span) in stripped.rawData.enumerated() {
            guard let span else { continue }
            proto.graph.initializer[index].rawData = data[(data.startIndex + span.lowerBound)..<(data.startIndex + span.upperBound)]
        }
        return proto
    }

    struct Stripped {
        /// The model without its initializers' raw_data.
        var bytes: [UInt8] = []
        /// Each initializer's raw_data as offsets into the original bytes, in wire order.
        var rawData: [Range<Int>?] = []
    }

    /// The model without initializers' raw_data, or nil when the bytes are not
    /// well-formed protobuf down to the initializers.
    static func strip(_ bytes: UnsafeRawBufferPointer) -> Stripped? {
        var result = Stripped()
        var reader = WireReader(bytes: bytes, range: 0..<bytes.count)
        result.bytes.reserveCapacity(1 << 16)
        while !reader.atEnd {
            guard let field = reader.next() else { return nil }
            guard field.number == 7, field.wireType == 2 else {
                result.bytes.append(contentsOf: bytes[field.whole])
                continue
            }
            var graph: [UInt8] = []
            var graphReader = WireReader(bytes: bytes, range: field.payload)
            while !graphReader.atEnd {
                guard let graphField = graphReader.next() else { return nil }
                guard graphField.number == 5, graphField.wireType == 2 else {
                    graph.append(contentsOf: bytes[graphField.whole])
                    continue
                }
                var tensor: [UInt8] = []
                var rawData: Range<Int>?
                var tensorReader = WireReader(bytes: bytes, range: graphField.payload)
                while !tensorReader.atEnd {
                    guard let tensorField = tensorReader.next() else { return nil }
                    if tensorField.number == 9, tensorField.wireType == 2 {
                        rawData = tensorField.payload  // a repeated singular field: the last one wins
                    } else {
                        tensor.append(contentsOf: bytes[tensorField.whole])
                    }
                }
                result.rawData.append(rawData)
                graph.append(contentsOf: bytes[graphField.key])
                appendVarint(UInt64(tensor.count), to: &graph)
                graph.append(contentsOf: tensor)
            }
            result.bytes.append(contentsOf: bytes[field.key])
            appendVarint(UInt64(graph.count), to: &result.bytes)
            result.bytes.append(contentsOf: graph)
        }
        return result
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}

/// Walks the fields of one protobuf message, checking every length against
/// the message's end; nil on anything malformed.
struct WireReader {
    struct Field {
        var number: UInt64
        var wireType: UInt64
        /// The tag's bytes.
        var key: Range<Int>
        /// The value's bytes (for length-delimited fields, without the length).
        var payload: Range<Int>
        /// Tag, length and value: the field as it appears on the wire.
        var whole: Range<Int>
    }

    let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int

    init(bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var atEnd: Bool { position >= end }

    mutating func next() -> Field? {
        let start = position
        guard let tag = varint() else { return nil }
        let number = tag >> 3, wireType = tag & 7
        guard number >= 1, number < 1 << 29 else { return nil }
        let keyEnd = position
        switch wireType {
        case 0:
            guard varint() != nil else { return nil }
        case 1, 5:
            let size = wireType == 1 ? 8 : 4
            guard end - position >= size else { return nil }
            position += size
        case 2:
            guard let length = varint(), length <= UInt64(end - position) else { return nil }
            let payload = position..<(position + Int(length))
            position = payload.upperBound
            return Field(number: number, wireType: wireType, key: start..<keyEnd, payload: payload, whole: start..<position)
        default:
            return nil  // groups (3, 4) are not in ONNX; 6 and 7 are invalid
        }
        return Field(number: number, wireType: wireType, key: start..<keyEnd, payload: keyEnd..<position, whole: start..<position)
    }

    /// A base-128 varint of at most ten bytes, the tenth holding only bit 63.
    private mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < end {
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 { return nil }
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }
}
