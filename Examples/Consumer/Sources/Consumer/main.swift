import SparseConv

// Before anything starts OpenMP: one thread per core, unless the environment says how.
Runtime.bindThreadsToCores()

// One 3×3 convolution, checked against the reference convolution.
let spec = try Conv2DSpec(inChannels: 16, outChannels: 32, inputSize: 28, kernelSize: 3, padding: 1)
let weight = try Tensor.random(shape: spec.weightShape, seed: 1)
let bias = try Tensor.random(shape: [spec.outChannels], seed: 2).scalars
let conv = try Conv2D(spec: spec, weight: weight, bias: bias, activation: .relu)
let input = try Tensor.random(shape: spec.inputShape(batch: 1), seed: 3)
let output = try conv(input)
let expected = try Reference.conv2d(spec, input: input, weight: weight, bias: bias, activation: .relu)
let error = try output.normalizedError(to: expected)
print("consumer: \(spec) on \(Runtime.cpuName) [\(conv.instructionSet.rawValue), OpenMP \(Runtime.openMPEnabled), binding \(Runtime.threadBinding)] → \(output.shape), normalized error \(error)")
guard error <= 1e-4 else { fatalError("consumer: result differs from the reference") }

// A whole model: prune it, plan it (the planner picks a path per layer), run it.
let model = try Zoo.cifarCascade.model(seed: 1)
let (pruned, _) = try model.pruned(PruningOptions(granularity: .block1x2, sparsity: 0.9, scope: .global))
let plan = try Planner(mode: .estimate, threads: 2).plan(pruned)
let image = try Tensor.random(shape: [1] + pruned.inputShape, seed: 4)
let logits = try plan.run(image)
let denseLogits = try Planner(mode: .estimate, threads: 2, allowSparsePaths: false).plan(pruned).run(image)
let modelError = try logits.normalizedError(to: denseLogits)
print("consumer: \(model.name) pruned 90 % in 1×2 blocks → \(logits.shape), \(plan.layers.filter { $0.path == .block1x2 }.count) layers on the block1x2 path, error vs dense plan \(modelError)")
guard modelError <= 1e-3 else { fatalError("consumer: the pruned plan differs from the dense plan") }
