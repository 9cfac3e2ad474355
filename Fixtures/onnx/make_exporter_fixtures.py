#!/usr/bin/env python3
"""Writes the fixtures of Fixtures/onnx/exporters/: small models shaped the way
real exporters write them, read by Tests/SparseConvTests/ONNXExporterPatternTests.swift.

Run from anywhere: python3 Fixtures/onnx/make_exporter_fixtures.py
Needs numpy, onnx and onnxruntime (torch and tensorflow are not needed: the
graphs are written with the onnx helper API, node for node as the exporters
emit them). Everything is seeded and the files are committed, so the Swift
tests never need Python.

For every model NAME it writes exporters/NAME.onnx, NAME.input.npy (batch 2)
and NAME.output.npy (ONNX Runtime's result). Models that must be rejected go
to exporters/rejected/ and have no golden.

  torch_script      torch.onnx.export(dynamo=False), opset 17: batch norm folded
                    into Conv, symbolic batch 'batch_size', the flatten written as
                    Shape → Gather → Unsqueeze → Concat → Reshape, Identity of a
                    shared weight, Constant nodes
  torch_dynamo      torch.onnx.export(dynamo=True), opset 18: BatchNormalization
                    kept, SiLU as Sigmoid·Mul, HardSwish, squeeze-excitation with
                    ReduceMean (axes as input), Clip with bounds from Constant
                    nodes, Shape → Slice flatten, MatMul + Add classifier
  tf2onnx_nhwc      tf2onnx --inputs-as-nchw, opset 13: NHWC inside, a Transpose
                    pair around every convolution, batch norm as Mul/Add by [C]
                    constants, Pad before a valid convolution, Concat on axis 3,
                    ReduceMean over axes [1, 2]
  shufflenet_v2     channel Split, Slice along channels, reshape-transpose-reshape
                    shuffle with a target from shape arithmetic, Gather of channels
  activations       LeakyRelu, PRelu, Tanh, HardSigmoid, HardSigmoid·Mul and
                    HardSwish, a standalone BatchNormalization after Concat,
                    Sub/Div by constants, ReduceMax
  pools             Pad folded into MaxPool after ReLU and into AveragePool,
                    MaxPool with ceil_mode, dilations and asymmetric pads, AveragePool with
                    count_include_pad and ceil_mode, GlobalMaxPool, Flatten axis 2
  shape_arithmetic  Range, Cast, Size, Div, Mul, ConstantOfShape, Squeeze, Expand
                    folded at load time; channels gathered by a computed Range
  constant_first    Add, Mul and Sub with the constant as the first operand
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exporters")
REJECTED = os.path.join(HERE, "rejected")
rng = np.random.default_rng(20261130)
INT64_MAX = 9223372036854775807


class Builder:
    """Nodes and initializers of one graph, with the current tensor and its channels."""

    def __init__(self, name, channels, size, batch_name="batch_size", input_name="input"):
        self.name, self.nodes, self.inits = name, [], []
        self.input_name = input_name
        self.input_dims = [batch_name, channels, size, size]
        self.current = input_name
        self.channels = {input_name: channels}
        self.counter = 0

    def fresh(self, stem):
        self.counter += 1
        return f"/{stem}/output_{self.counter}"

    def init(self, name, array, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name=name))
        return name

    def const(self, name, array, dtype=np.int64):
        """A Constant node, as both PyTorch exporters write small values."""
        out = name + "_output_0"
        self.nodes.append(helper.make_node("Constant", [], [out], name=name,
                                           value=numpy_helper.from_array(np.asarray(array, dtype=dtype))))
        return out

    def op(self, op, inputs, name, channels=None, outputs=None, **attrs):
        outputs = outputs or [name + "_output_0"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        if channels is None and inputs and inputs[0] in self.channels:
            channels = self.channels[inputs[0]]
        for out in outputs:
            self.channels[out] = channels
        self.current = outputs[0]
        return outputs[0]

    def conv(self, name, out, k, stride=1, pad=None, group=1, src=None, bias=True, weight_name=None):
        src = src or self.current
        cin = self.channels[src]
        w = rng.normal(0, (2.0 / (cin // group * k * k)) ** 0.5, (out, cin // group, k, k))
        inputs = [src, self.init(weight_name or name + ".weight", w)]
        if bias:
            inputs.append(self.init(name + ".bias", rng.normal(0, 0.1, out)))
        p = (k - 1) // 2 if pad is None else pad
        return self.op("Conv", inputs, name, channels=out, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[p, p, p, p] if isinstance(p, int) else p, dilations=[1, 1], group=group)

    def bn(self, name, src=None):
        src = src or self.current
        c = self.channels[src]
        inputs = [src, self.init(name + ".weight", rng.uniform(0.5, 1.5, c)),
                  self.init(name + ".bias", rng.normal(0, 0.1, c)),
                  self.init(name + ".running_mean", rng.normal(0, 0.1, c)),
                  self.init(name + ".running_var", rng.uniform(0.5, 1.5, c))]
        return self.op("BatchNormalization", inputs, name, epsilon=1e-5)

    def model(self, opset, probe=True):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, self.input_dims)],
            [helper.make_tensor_value_info(self.current, TensorProto.FLOAT, None)],
            initializer=self.inits)
        model = helper.make_model(graph, producer_name="sparseconv-exporter-fixture", producer_version="1",
                                  opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8 if opset <= 18 else 9
        if not probe:  # rejected models: never checked or run
            return model
        # The checker wants the output's shape: ONNX Runtime tells it (the batch stays symbolic).
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        dims = [1] + self.input_dims[1:]
        y = session.run(None, {self.input_name: np.zeros(dims, np.float32)})[0]
        model.graph.output[0].CopyFrom(helper.make_tensor_value_info(
            self.current, TensorProto.FLOAT, [self.input_dims[0]] + list(y.shape[1:])))
        return model


def flatten_like_torch(b, name):
    """x.view(x.size(0), -1) as the TorchScript exporter writes it."""
    src = b.current
    shape = b.op("Shape", [src], f"{name}/Shape")
    index = b.const(f"{name}/Constant", 0)
    batch = b.op("Gather", [shape, index], f"{name}/Gather", axis=0)
    axes = b.const(f"{name}/Constant_1", [0])
    unsqueezed = b.op("Unsqueeze", [batch, axes], f"{name}/Unsqueeze")
    rest = b.const(f"{name}/Constant_2", [-1])
    target = b.op("Concat", [unsqueezed, rest], f"{name}/Concat", axis=0)
    return b.op("Reshape", [src, target], f"{name}/Reshape", channels=None)


def torch_script():
    b = Builder("torch_jit", 3, 16)
    b.conv("/conv1/Conv", 8, 3, stride=1)  # batch norm already folded into weight and bias
    b.op("Relu", [b.current], "/relu/Relu")
    b.op("MaxPool", [b.current], "/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
         ceil_mode=0)
    stem = b.current
    b.conv("/layer1/layer1.0/conv1/Conv", 8, 3)
    b.op("Relu", [b.current], "/layer1/layer1.0/relu/Relu")
    b.conv("/layer1/layer1.0/conv2/Conv", 8, 3)
    b.op("Add", [b.current, stem], "/layer1/layer1.0/Add")
    block = b.op("Relu", [b.current], "/layer1/layer1.0/relu_1/Relu")
    # A weight shared by two convolutions: exported once, read through Identity.
    b.conv("/layer2/conv_a/Conv", 8, 1, weight_name="shared.weight", src=block)
    b.nodes.append(helper.make_node("Identity", ["shared.weight"], ["onnx::Conv_shared"], name="/Identity"))
    b.op("Conv", [b.current, "onnx::Conv_shared"], "/layer2/conv_b/Conv", channels=8, kernel_shape=[1, 1],
         strides=[1, 1], pads=[0, 0, 0, 0])
    b.op("Add", [b.current, block], "/layer2/Add")
    b.op("Relu", [b.current], "/layer2/relu/Relu")
    b.op("GlobalAveragePool", [b.current], "/avgpool/GlobalAveragePool")
    flatten_like_torch(b, "/flatten")
    b.channels[b.current] = 8
    b.op("Gemm", [b.current, b.init("fc.weight", rng.normal(0, 0.3, (10, 8))), b.init("fc.bias", rng.normal(0, 0.1, 10))],
         "/fc/Gemm", alpha=1.0, beta=1.0, transB=1)
    return b.model(17)


def torch_dynamo():
    b = Builder("main_graph", 3, 16, batch_name="s0", input_name="x")
    b.conv("conv2d", 12, 3, stride=2, bias=False)
    b.bn("_native_batch_norm_legit_no_training")
    sig = b.op("Sigmoid", [b.current], "sigmoid")
    pre = b.nodes[-2].output[0]
    b.op("Mul", [pre, sig], "mul")  # SiLU
    b.conv("conv2d_1", 12, 3, group=12, bias=False)
    b.bn("_native_batch_norm_legit_no_training_1")
    b.op("HardSwish", [b.current], "hardswish")
    body = b.current
    axes = b.const("val_0", [2, 3])
    b.op("ReduceMean", [body, axes], "mean", keepdims=1)
    b.conv("conv2d_2", 4, 1)
    b.op("Relu", [b.current], "relu")
    b.conv("conv2d_3", 12, 1)
    gate = b.op("HardSigmoid", [b.current], "hardsigmoid", alpha=1.0 / 6, beta=0.5)
    b.op("Mul", [body, gate], "mul_1")
    b.conv("conv2d_4", 16, 1)
    lo, hi = b.const("val_1", 0.0, np.float32), b.const("val_2", 6.0, np.float32)
    b.op("Clip", [b.current, lo, hi], "clamp")
    axes2 = b.const("val_3", [-1, -2])
    b.op("ReduceMean", [b.current, axes2], "mean_1", keepdims=1)
    src = b.current
    shape = b.op("Shape", [src], "sym_size_int", outputs=["sym_size"])
    start, end = b.const("val_4", [0]), b.const("val_5", [1])
    batch = b.op("Slice", [shape, start, end], "slice")
    rest = b.const("val_6", [-1])
    target = b.op("Concat", [batch, rest], "concat", axis=0)
    b.op("Reshape", [src, target], "view")
    b.channels[b.current] = 16
    mm = b.op("MatMul", [b.current, b.init("linear.weight_t", rng.normal(0, 0.3, (16, 10)))], "linear")
    b.op("Add", [mm, b.init("linear.bias", rng.normal(0, 0.1, 10))], "linear_add")
    return b.model(18)


def tf2onnx_nhwc():
    b = Builder("tf2onnx", 3, 16, batch_name="unk__12", input_name="input_1")
    nhwc = b.op("Transpose", [b.current], "input_1_transpose", perm=[0, 2, 3, 1])  # --inputs-as-nchw
    b.op("Transpose", [nhwc], "model/conv2d/Conv2D__6", perm=[0, 3, 1, 2])
    b.conv("model/conv2d/Conv2D", 8, 3)
    b.op("Transpose", [b.current], "Transpose__20", perm=[0, 2, 3, 1])
    b.op("Relu", [b.current], "model/conv2d/Relu")
    # Batch norm as tf2onnx writes it in NHWC: Mul and Add by [C] vectors.
    b.op("Mul", [b.current, b.init("model/bn/mul_const", rng.uniform(0.5, 1.5, 8))], "model/bn/mul")
    bn = b.op("Add", [b.current, b.init("model/bn/add_const", rng.normal(0, 0.1, 8))], "model/bn/add")
    b.op("Pad", [bn, b.init("model/zero_padding2d/pads", [0, 1, 1, 0, 0, 1, 1, 0], np.int64)],
         "model/zero_padding2d/Pad", mode="constant")
    b.op("Transpose", [b.current], "model/conv2d_1/Conv2D__10", perm=[0, 3, 1, 2])
    b.conv("model/conv2d_1/Conv2D", 8, 3, stride=2, pad=0)
    left = b.op("Transpose", [b.current], "Transpose__22", perm=[0, 2, 3, 1])
    b.op("LeakyRelu", [left], "model/leaky_re_lu/LeakyRelu", alpha=0.2)
    b.op("Transpose", [b.current], "model/conv2d_2/Conv2D__14", perm=[0, 3, 1, 2])
    b.conv("model/conv2d_2/Conv2D", 6, 1)
    right = b.op("Transpose", [b.current], "Transpose__24", perm=[0, 2, 3, 1])
    b.op("Concat", [left, right], "model/concatenate/concat", channels=14, axis=3)
    b.op("ReduceMean", [b.current], "model/gap/Mean", keepdims=0, axes=[1, 2])  # opset 13: axes an attribute
    mm = b.op("MatMul", [b.current, b.init("model/dense/MatMul/ReadVariableOp:0", rng.normal(0, 0.3, (14, 5)))],
              "model/dense/MatMul")
    b.op("Add", [mm, b.init("model/dense/BiasAdd/ReadVariableOp:0", rng.normal(0, 0.1, 5))], "model/dense/BiasAdd")
    b.op("Softmax", [b.current], "model/dense/Softmax", axis=-1)
    return b.model(13)


def shuffle(b, name, channels, groups=2):
    """Reshape [N, g, C/g, H, W] → Transpose → Reshape, the first target from shape arithmetic."""
    src = b.current
    shape = b.op("Shape", [src], f"{name}/Shape")
    batch = b.op("Gather", [shape, b.const(f"{name}/Constant", 0)], f"{name}/Gather", axis=0)
    n = b.op("Unsqueeze", [batch, b.const(f"{name}/Constant_1", [0])], f"{name}/Unsqueeze")
    spatial = b.op("Slice", [shape, b.const(f"{name}/Constant_2", [2]), b.const(f"{name}/Constant_3", [INT64_MAX])],
                   f"{name}/Slice")
    grouped_shape = b.op("Concat", [n, b.const(f"{name}/Constant_4", [groups, channels // groups]), spatial],
                         f"{name}/Concat", axis=0)
    b.op("Reshape", [src, grouped_shape], f"{name}/Reshape")
    transposed = b.op("Transpose", [b.current], f"{name}/Transpose", perm=[0, 2, 1, 3, 4])
    # A longer chain for the second target, so that a topological order sorts
    # it after the first Reshape, whose import matches the whole shuffle.
    for step in range(3):
        n = b.op("Mul", [n, b.const(f"{name}/one_{step}", [1])], f"{name}/Mul_{step}")
    back = b.op("Concat", [n, b.const(f"{name}/Constant_5", [-1]), spatial], f"{name}/Concat_1", axis=0)
    return b.op("Reshape", [transposed, back], f"{name}/Reshape_1", channels=channels)


def branch(b, name, src, channels):
    b.conv(f"{name}/conv1", channels, 1, src=src)
    b.op("Relu", [b.current], f"{name}/relu1")
    b.conv(f"{name}/dw", channels, 3, group=channels)
    b.conv(f"{name}/conv2", channels, 1)
    return b.op("Relu", [b.current], f"{name}/relu2")


def shufflenet_v2():
    b = Builder("shufflenet_v2", 3, 16)
    b.conv("/conv1/Conv", 16, 3, stride=2)
    b.op("Relu", [b.current], "/conv1/Relu")
    b.op("MaxPool", [b.current], "/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.current
    halves = b.op("Split", [x, b.init("split_sizes", [8, 8], np.int64)], "/stage2/0/Split", axis=1,
                  outputs=["/stage2/0/Split_output_0", "/stage2/0/Split_output_1"])
    b.channels["/stage2/0/Split_output_0"] = b.channels["/stage2/0/Split_output_1"] = 8
    out = branch(b, "/stage2/0/branch2", "/stage2/0/Split_output_1", 8)
    b.op("Concat", ["/stage2/0/Split_output_0", out], "/stage2/0/Concat", channels=16, axis=1)
    shuffle(b, "/stage2/0/shuffle", 16)
    x = b.current
    first = b.op("Slice", [x, b.const("/stage2/1/c0", [0]), b.const("/stage2/1/c1", [8]), b.const("/stage2/1/c2", [1])],
                 "/stage2/1/Slice", channels=8)
    second = b.op("Slice", [x, b.const("/stage2/1/c3", [8]), b.const("/stage2/1/c4", [INT64_MAX]),
                            b.const("/stage2/1/c5", [1]), b.const("/stage2/1/c6", [1])], "/stage2/1/Slice_1", channels=8)
    out = branch(b, "/stage2/1/branch2", second, 8)
    b.op("Concat", [first, out], "/stage2/1/Concat", channels=16, axis=1)
    shuffle(b, "/stage2/1/shuffle", 16)
    b.op("Gather", [b.current, b.init("picked", [15, 0, 3, 3, 7, 12], np.int64)], "/select/Gather", channels=6, axis=1)
    b.conv("/conv5/Conv", 12, 1)
    b.op("GlobalAveragePool", [b.current], "/gap")
    b.op("Flatten", [b.current], "/flatten", axis=1)
    b.op("Gemm", [b.current, b.init("fc.weight", rng.normal(0, 0.3, (10, 12))), b.init("fc.bias", rng.normal(0, 0.1, 10))],
         "/fc/Gemm", transB=1)
    return b.model(13)


def activations():
    b = Builder("activations", 4, 12)
    b.conv("conv1", 8, 3)
    b.op("LeakyRelu", [b.current], "leaky", alpha=0.1)
    b.conv("conv2", 8, 3)
    b.op("PRelu", [b.current, b.init("prelu.slope", rng.uniform(0.05, 0.5, (8, 1, 1)))], "prelu")
    b.conv("conv3", 8, 3)
    a = b.op("Tanh", [b.current], "tanh")
    b.conv("conv4", 8, 3)
    b.op("HardSigmoid", [b.current], "hardsigmoid", alpha=0.2, beta=0.5)
    b.conv("conv5", 8, 3)
    pre = b.current
    gate = b.op("HardSigmoid", [pre], "hardswish/HardSigmoid", alpha=1.0 / 6, beta=0.5)
    b.op("Mul", [pre, gate], "hardswish/Mul")  # HardSwish as opset-13 PyTorch writes it
    b.conv("conv6", 8, 3)
    c = b.op("HardSwish", [b.current], "hardswish2")
    b.op("Concat", [a, c], "concat", channels=16, axis=1)
    b.bn("bn_after_concat")  # standalone: no convolution to fold into
    b.op("Sub", [b.current, b.init("sub.const", rng.normal(0, 0.2, (1, 16, 1, 1)))], "sub")
    b.op("Div", [b.current, b.init("div.const", np.array(1.5))], "div")
    b.op("Tanh", [b.current], "tanh2")
    b.op("ReduceMax", [b.current], "reducemax", axes=[2, 3], keepdims=1)
    b.op("Flatten", [b.current], "flatten", axis=1)
    return b.model(14)


def pools():
    b = Builder("pools", 4, 13)
    b.conv("conv1", 8, 3)
    b.op("Relu", [b.current], "relu1")
    b.op("Pad", [b.current, b.init("pad1.pads", [0, 0, 1, 0, 0, 0, 0, 1], np.int64)], "pad1", mode="constant")
    b.op("MaxPool", [b.current], "maxpool_ceil", kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1)
    b.op("MaxPool", [b.current], "maxpool_dilated", kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 0, 1],
         dilations=[2, 2], ceil_mode=1)
    b.conv("conv2", 8, 3)
    b.op("Pad", [b.current, b.init("pad2.pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64), b.init("pad2.value", np.array(0.0))],
         "pad2", mode="constant")
    b.op("AveragePool", [b.current], "avgpool_pad", kernel_shape=[3, 3], strides=[1, 1])
    b.op("AveragePool", [b.current], "avgpool_ceil", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 0, 0],
         count_include_pad=1, ceil_mode=1)
    b.op("AveragePool", [b.current], "avgpool_exclude", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
         count_include_pad=0, ceil_mode=1)
    b.op("GlobalMaxPool", [b.current], "gmp")
    b.op("Unsqueeze", [b.current, b.init("unsqueeze.axes", [1], np.int64)], "unsqueeze")
    b.op("Flatten", [b.current], "flatten_axis2", axis=2)  # [N, 1, C, 1, 1] → [N, C]: the batch stays apart
    return b.model(13)


def shape_arithmetic():
    b = Builder("shape_arithmetic", 6, 8)
    b.conv("conv1", 10, 3)
    y = b.op("Relu", [b.current], "relu1")
    shape = b.op("Shape", [y], "shape")
    channels = b.op("Gather", [shape, b.const("one", 1)], "channels", axis=0)
    start = b.const("zero", 0)
    step = b.op("Cast", [b.const("two_float", 2.0, np.float32)], "step", to=TensorProto.INT64)
    evens = b.op("Range", [start, channels, step], "evens")
    b.op("Gather", [y, evens], "select_even", channels=5, axis=1)
    picked = b.current
    # Clip bounds from ConstantOfShape → Squeeze and a Mul, all folded.
    ones = b.op("ConstantOfShape", [b.const("one_shape", [1])], "fill",
                value=numpy_helper.from_array(np.array([0.25], dtype=np.float32)))
    low = b.op("Squeeze", [ones, b.const("squeeze_axes", [0])], "low")
    high = b.op("Mul", [low, b.const("eight", 8.0, np.float32)], "high")
    b.op("Clip", [picked, low, high], "clip")
    clipped = b.current
    # [N, C·H·W] with C·H·W = Size / N, from a shape that depends on the batch.
    s = b.op("Shape", [clipped], "shape2")
    n = b.op("Gather", [s, b.const("zero_index", [0])], "batch", axis=0)
    size = b.op("Size", [clipped], "size")
    per_image = b.op("Div", [size, b.op("Squeeze", [n], "batch_scalar")], "per_image")
    per_image_1d = b.op("Unsqueeze", [per_image, b.const("unsq_axes", [0])], "per_image_1d")
    target = b.op("Concat", [n, per_image_1d], "target", axis=0)
    expanded = b.op("Expand", [target, b.const("expand_shape", [2])], "expand")
    b.op("Reshape", [clipped, expanded], "reshape")
    b.channels[b.current] = 5 * 8 * 8
    b.op("Gemm", [b.current, b.init("fc.weight", rng.normal(0, 0.05, (7, 320))), b.init("fc.bias", rng.normal(0, 0.1, 7))],
         "fc", transB=1)
    return b.model(13)


def constant_first():
    """Add, Mul and Sub with the constant as their first operand, per channel and scalar."""
    b = Builder("constant_first", 3, 10)
    b.conv("conv1", 6, 3)
    b.op("Add", [b.init("add.const", rng.normal(0, 0.2, (1, 6, 1, 1))), b.current], "add", channels=6)
    b.op("Relu", [b.current], "relu")
    b.conv("conv2", 6, 3)
    b.op("Mul", [b.init("mul.const", np.array(1.7)), b.current], "mul", channels=6)
    b.op("Sub", [b.init("sub.const", rng.normal(0, 0.2, (6, 1, 1))), b.current], "sub", channels=6)
    b.op("Tanh", [b.current], "tanh")
    return b.model(13)


def rejected():
    os.makedirs(REJECTED, exist_ok=True)

    def write(name, model):
        with open(os.path.join(REJECTED, name + ".onnx"), "wb") as f:
            f.write(model.SerializeToString())

    # Out of scope: control flow, quantized and training operators, one of each.
    b = Builder("out_of_scope", 3, 8)
    b.conv("conv", 4, 3)
    then_graph = helper.make_graph([helper.make_node("Identity", ["conv_output_0"], ["then_out"])], "then", [],
                                   [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, None)])
    b.op("If", [b.init("cond", np.array(True), np.bool_)], "branch", then_branch=then_graph, else_branch=then_graph)
    b.op("Loop", ["", ""], "loop", body=then_graph)
    b.op("QLinearConv", ["a", "b", "c", "d", "e", "f", "g", "h"], "qconv")
    b.op("DequantizeLinear", ["a", "b"], "dequant")
    b.nodes.append(helper.make_node("Gradient", ["conv_output_0"], ["grad"], name="grad", domain="ai.onnx.preview.training",
                                    xs=["conv_output_0"], y="conv_output_0"))
    model = b.model(13, probe=False)
    model.opset_import.append(helper.make_opsetid("ai.onnx.preview.training", 1))
    write("out_of_scope", model)

    b = Builder("bn_training", 3, 8)
    b.conv("conv", 4, 3)
    b.bn("bn")
    b.nodes[-1].attribute.append(helper.make_attribute("training_mode", 1))
    write("bn_training", b.model(15, probe=False))

    # Zero Pad before MaxPool of a signed input: -inf padding would differ.
    b = Builder("pad_maxpool_signed", 3, 8)
    b.conv("conv", 4, 3)
    b.op("Pad", [b.current, b.init("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)], "pad")
    b.op("MaxPool", [b.current], "pool", kernel_shape=[2, 2], strides=[2, 2])
    write("pad_maxpool_signed", b.model(13, probe=False))

    # Reshape to [N·C, H·W]: the batch mixed into an image extent.
    b = Builder("batch_mixing_reshape", 3, 8)
    b.conv("conv", 4, 3)
    src = b.current
    shape = b.op("Shape", [src], "shape")
    n = b.op("Gather", [shape, b.const("i0", [0])], "n", axis=0)
    c = b.op("Gather", [shape, b.const("i1", [1])], "c", axis=0)
    rows = b.op("Mul", [n, c], "rows")
    target = b.op("Concat", [rows, b.const("minus1", [-1])], "target", axis=0)
    b.op("Reshape", [src, target], "reshape")
    write("batch_mixing_reshape", b.model(13, probe=False))

    # The graph input itself NHWC (tf2onnx without --inputs-as-nchw).
    b = Builder("nhwc_input", 8, 3)  # declared [N, 8, 3, 3] is really [N, H, W, C] = [N, 8, 3, 3]
    b.op("Transpose", [b.current], "to_nchw", perm=[0, 3, 1, 2], channels=3)
    b.conv("conv", 4, 3)
    write("nhwc_input", b.model(13, probe=False))


def rejected_later():
    """Rejected models added after the first set (kept apart so the seeded
    weights of every earlier file stay as they were)."""
    # Div of a constant by the activations: a reciprocal, not a channel affine map.
    b = Builder("reciprocal_div", 3, 8)
    b.conv("conv", 4, 3)
    b.op("Div", [b.init("one", np.array(1.0)), b.current], "div", channels=4)
    with open(os.path.join(REJECTED, "reciprocal_div.onnx"), "wb") as f:
        f.write(b.model(13, probe=False).SerializeToString())


def save(model, name):
    onnx.checker.check_model(model)
    path = os.path.join(HERE, name + ".onnx")
    onnx.save(model, path)
    dims = [2] + [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    x = rng.uniform(-1, 1, dims).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.save(os.path.join(HERE, name + ".input.npy"), x)
    np.save(os.path.join(HERE, name + ".output.npy"), y.astype(np.float32))


def main():
    os.makedirs(HERE, exist_ok=True)
    save(torch_script(), "torch_script")
    save(torch_dynamo(), "torch_dynamo")
    save(tf2onnx_nhwc(), "tf2onnx_nhwc")
    save(shufflenet_v2(), "shufflenet_v2")
    save(activations(), "activations")
    save(pools(), "pools")
    save(shape_arithmetic(), "shape_arithmetic")
    rejected()
    save(constant_first(), "constant_first")
    rejected_later()
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(HERE) for f in files)
    print(f"exporter fixtures written: {total / 1024:.0f} KB in all")


if __name__ == "__main__":
    main()
