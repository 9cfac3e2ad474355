import Foundation
import Testing
@testable import SparseConv

/// Bad input gets a typed error, never a crash.
@Suite struct ValidationTests {
    @Test func invalidSpecsThrow() {
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 0, outChannels: 4, inputSize: 8, kernelSize: 3) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: -1, inputSize: 8, kernelSize: 3) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 6, outChannels: 4, inputSize: 8, kernelSize: 3, groups: 4) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 6, inputSize: 8, kernelSize: 3, groups: 4) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 2, kernelSize: 3) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 8, kernelSize: 3, dilation: 4) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 8, kernelSize: 3, stride: 0) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 8, kernelSize: 3, padding: -1) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 8, kernelSize: 0) }
        #expect(throws: SparseConvError.self) { try Conv2DSpec(inChannels: 4, outChannels: 4, inputSize: 8, kernelSize: 3, groups: 0) }
    }

    @Test func absurdSizesThrowInsteadOfOverflowing() {
        #expect(throws: SparseConvError.self) {
            try Conv2DSpec(inChannels: 1 << 20, outChannels: 1 << 20, inputSize: 1 << 16, kernelSize: 3)
        }
        #expect(throws: SparseConvError.self) {
            try Conv2DSpec(inChannels: 1, outChannels: 1, inputSize: Int.max, kernelSize: 1)
        }
        #expect(throws: SparseConvError.self) { try Tensor(shape: [Int.max, Int.max]) }
        #expect(throws: SparseConvError.self) { try Tensor(shape: [3, 0, 2]) }
        #expect(throws: SparseConvError.self) { try Tensor(shape: []) }
        #expect(throws: SparseConvError.self) { try Tensor(shape: [2, 2], scalars: [1, 2, 3]) }
    }

    @Test func mismatchedTensorsThrow() throws {
        let spec = try Conv2DSpec(inChannels: 4, outChannels: 8, inputSize: 6, kernelSize: 3, padding: 1)
        let weight = try Tensor.random(shape: spec.weightShape, seed: 1)
        #expect(throws: SparseConvError.self) { try Conv2D(spec: spec, weight: Tensor(shape: [8, 4, 3, 2])) }
        #expect(throws: SparseConvError.self) { try Conv2D(spec: spec, weight: weight, bias: [1, 2, 3]) }
        #expect(throws: SparseConvError.self) { try Conv2D(spec: spec, weight: weight, keep: [true]) }
        let conv = try Conv2D(spec: spec, weight: weight)
        #expect(throws: SparseConvError.self) { try conv(Tensor(shape: [1, 3, 6, 6])) }
        #expect(throws: SparseConvError.self) { try conv(Tensor(shape: [1, 4, 6, 7])) }
        #expect(throws: SparseConvError.self) { try conv(Tensor(shape: [4, 6, 6])) }
        #expect(throws: SparseConvError.self) { try conv(Tensor(shape: [1, 4, 6, 6]), threads: -1) }
        var wrongOutput = try Tensor(shape: [1, 8, 6, 5])
        #expect(throws: SparseConvError.self) {
            try conv.run(Tensor(shape: [1, 4, 6, 6]), into: &wrongOutput, workspace: Workspace())
        }
        #expect(throws: SparseConvError.self) { try Reference.conv2d(spec, input: Tensor(shape: [1, 4, 5, 6]), weight: weight) }
    }

    @Test func depthwisePathRejectsNonDepthwiseShapes() throws {
        let spec = try Conv2DSpec(inChannels: 4, outChannels: 8, inputSize: 6, kernelSize: 3, groups: 2)
        #expect(throws: SparseConvError.unsupported("the depthwise path cannot run \(spec)")) {
            try Conv2D(spec: spec, weight: Tensor(shape: spec.weightShape), path: .depthwise)
        }
    }

    @Test func specRoundTripsThroughCodableWithValidation() throws {
        let spec = try Conv2DSpec(inChannels: 8, outChannels: 16, inputSize: (9, 7), kernelSize: (3, 5),
                                  stride: (2, 1), padding: Padding(top: 1, left: 2, bottom: 0, right: 2),
                                  dilation: (1, 2), groups: 4)
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(Conv2DSpec.self, from: data) == spec)
        #expect(spec.outputHeight == 4 && spec.outputWidth == 3)
        // A decoded spec is validated like a constructed one.
        var text = String(decoding: data, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"groups\":4", with: "\"groups\":3")
        #expect(throws: SparseConvError.self) { try JSONDecoder().decode(Conv2DSpec.self, from: Data(text.utf8)) }
    }
}
