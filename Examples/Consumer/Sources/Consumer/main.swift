import SparseConv

// One 3×3 convolution, checked against the reference convolution.
let spec = try Conv2DSpec(inChannels: 16, outChannels: 32, inputSize: 28, kernelSize: 3, padding: 1)
let weight = try Tensor.random(shape: spec.weightShape, seed: 1)
let bias = try Tensor.random(shape: [spec.outChannels], seed: 2).scalars
let conv = try Conv2D(spec: spec, weight: weight, bias: bias, activation: .relu)
let input = try Tensor.random(shape: spec.inputShape(batch: 1), seed: 3)
let output = try conv(input)
let expected = try Reference.conv2d(spec, input: input, weight: weight, bias: bias, activation: .relu)
let error = try output.normalizedError(to: expected)
print("consumer: \(spec) on \(Runtime.cpuName) [\(conv.instructionSet.rawValue), OpenMP \(Runtime.openMPEnabled)] → \(output.shape), normalized error \(error)")
guard error <= 1e-4 else { fatalError("consumer: result differs from the reference") }
