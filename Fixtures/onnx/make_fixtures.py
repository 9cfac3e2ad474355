#!/usr/bin/env python3
"""Writes the ONNX import fixtures that Tests/SparseConvTests/ONNXImportTests.swift reads.

Run from anywhere: python3 Fixtures/onnx/make_fixtures.py
Needs numpy, onnx and onnxruntime. Everything is seeded, and the files are
committed, so the Swift tests never need Python; rerun only to change them.

For every model NAME it writes:
  NAME.onnx          the model (weights as initializers; pruned weights are zeros)
  NAME.input.npy     a seeded input, float32 NCHW
  NAME.output.npy    what onnxruntime computes for that input (the golden)
Malformed models go to malformed/ and have no golden.

The models are tiny (a few KB each) but cover every operator and attribute
the importer supports: conv padding modes, dilation, groups, batch norm
folding, residual adds, squeeze-excitation (with 1×1 convolutions and with
Gemm), the channel-shuffle reshape-transpose-reshape pattern, Clip as ReLU6
and as a general clamp (attributes and inputs), pooling variants, Gemm and
MatMul+Add classifiers, and weights in raw_data, float_data, float64 and an
external data file.
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MALFORMED = os.path.join(HERE, "malformed")
rng = np.random.default_rng(20260101)


def tensor(name, array, encoding="raw"):
    array = np.asarray(array, dtype=np.float32)
    if encoding == "raw":
        return numpy_helper.from_array(array, name=name)
    # float_data: what hand-written models and some converters produce.
    return helper.make_tensor(name, TensorProto.FLOAT, list(array.shape), array.flatten().tolist())


class Graph:
    """A small builder: tracks the current tensor and collects nodes and initializers."""

    def __init__(self, name, channels, size, batch=1):
        self.name = name
        self.nodes = []
        self.inits = []
        self.input_shape = [batch, channels, size, size]
        self.current = "x"
        self.channels = channels
        self.counter = 0

    def init(self, name, array, encoding="raw"):
        self.inits.append(tensor(name, array, encoding))
        return name

    def node(self, op, inputs, name, outputs=None, **attrs):
        outputs = outputs or [name + "_out"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        self.current = outputs[0]
        return outputs[0]

    def conv(self, name, out, k, stride=1, pads=None, dilation=1, group=1, bias=True, src=None,
             auto_pad=None, encoding="raw", weight=None):
        src = src or self.current
        cin = self.channel_of(src)
        kh, kw = (k, k) if isinstance(k, int) else k
        w = weight if weight is not None else rng.normal(0, (2.0 / (cin // group * kh * kw)) ** 0.5,
                                                         (out, cin // group, kh, kw))
        inputs = [src, self.init(name + ".weight", w, encoding)]
        if bias:
            inputs.append(self.init(name + ".bias", rng.normal(0, 0.1, out), encoding))
        d = (dilation, dilation) if isinstance(dilation, int) else dilation
        s = (stride, stride) if isinstance(stride, int) else stride
        attrs = dict(kernel_shape=[kh, kw], strides=list(s), dilations=list(d), group=group)
        if auto_pad:
            attrs["auto_pad"] = auto_pad
        else:
            attrs["pads"] = pads if pads is not None else [d[0] * (kh - 1) // 2, d[1] * (kw - 1) // 2] * 2
        result = self.node("Conv", inputs, name, **attrs)
        self.channels_of[result] = out
        return result

    def bn(self, name, src=None):
        src = src or self.current
        c = self.channel_of(src)
        inputs = [src,
                  self.init(name + ".weight", rng.uniform(0.5, 1.5, c)),
                  self.init(name + ".bias", rng.normal(0, 0.1, c)),
                  self.init(name + ".running_mean", rng.normal(0, 0.1, c)),
                  self.init(name + ".running_var", rng.uniform(0.5, 1.5, c))]
        result = self.node("BatchNormalization", inputs, name, epsilon=1e-5)
        self.channels_of[result] = c
        return result

    def unary(self, op, name, src=None, **attrs):
        src = src or self.current
        result = self.node(op, [src], name, **attrs)
        self.channels_of[result] = self.channel_of(src)
        return result

    def clip6(self, name, src=None, lo=0.0, hi=6.0):
        """Opset ≥ 11 Clip: bounds as initializer inputs."""
        src = src or self.current
        inputs = [src, self.init(name + ".min", np.array(lo)), self.init(name + ".max", np.array(hi))]
        result = self.node("Clip", inputs, name)
        self.channels_of[result] = self.channel_of(src)
        return result

    def channel_of(self, name):
        return self.channels_of[name]

    def build(self, opset, output_shape=None):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.input_shape)],
            [helper.make_tensor_value_info(self.current, TensorProto.FLOAT, [])],
            initializer=self.inits)
        model = helper.make_model(graph, producer_name="sparseconv-fixture", producer_version="1",
                                  opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 7 if opset <= 15 else 8 if opset <= 18 else 9 if opset <= 20 else 10
        # The output's shape comes from ONNX shape inference (the checker wants
        # one), which reports it for intermediate values only: hence the probe.
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.graph.node.append(helper.make_node("Identity", [self.current], ["probe"]))
        inferred = onnx.shape_inference.infer_shapes(probe)
        for info in inferred.graph.value_info:
            if info.name == self.current:
                model.graph.output[0].CopyFrom(info)
        return model


def new_graph(name, channels, size, batch=1):
    g = Graph(name, channels, size, batch)
    g.channels_of = {"x": channels}
    return g


def run_ort(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def save(model, name, x=None, golden_model=None, **save_args):
    onnx.checker.check_model(model)
    path = os.path.join(HERE, name + ".onnx")
    if save_args:
        onnx.save(model, path, **save_args)
    else:
        onnx.save(model, path)
    if x is None:
        x = rng.uniform(-1, 1, [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim])
    x = x.astype(np.float32)
    y = run_ort(golden_model or onnx.load(path), x)
    np.save(os.path.join(HERE, name + ".input.npy"), x)
    np.save(os.path.join(HERE, name + ".output.npy"), y.astype(np.float32))
    return path


# ---------------------------------------------------------------- models

def resnet_tiny():
    """Conv+BN+ReLU stem, an identity residual block, a stride-2 block with a 1×1
    downsample shortcut, Identity and Dropout no-ops, GAP, Flatten, Gemm (transB=1)."""
    g = new_graph("resnet_tiny", 3, 16, batch=2)
    g.conv("conv1", 8, 3, bias=False); g.bn("bn1"); g.unary("Relu", "relu1")
    stem = g.current
    g.conv("layer1.conv1", 8, 3, bias=False); g.bn("layer1.bn1"); g.unary("Relu", "layer1.relu1")
    g.conv("layer1.conv2", 8, 3, bias=False); body = g.bn("layer1.bn2")
    g.node("Add", [body, stem], "layer1.add"); g.channels_of[g.current] = 8
    block1 = g.unary("Relu", "layer1.relu")
    g.conv("layer2.conv1", 16, 3, stride=2, bias=False); g.bn("layer2.bn1"); g.unary("Relu", "layer2.relu1")
    g.conv("layer2.conv2", 16, 3, bias=False); body = g.bn("layer2.bn2")
    g.conv("layer2.downsample.0", 16, 1, stride=2, pads=[0, 0, 0, 0], bias=False, src=block1)
    short = g.bn("layer2.downsample.1")
    g.node("Add", [body, short], "layer2.add"); g.channels_of[g.current] = 16
    g.unary("Relu", "layer2.relu")
    g.unary("Identity", "identity")
    g.unary("Dropout", "dropout")
    g.unary("GlobalAveragePool", "avgpool")
    g.node("Flatten", [g.current], "flatten", axis=1)
    w = g.init("fc.weight", rng.normal(0, 0.3, (10, 16)))
    b = g.init("fc.bias", rng.normal(0, 0.1, 10))
    g.node("Gemm", [g.current, w, b], "fc", transB=1)
    return g.build(13)


def mobilenet_tiny():
    """Depthwise-separable blocks with Clip(0, 6), MatMul+Add classifier, Softmax (opset 11)."""
    g = new_graph("mobilenet_tiny", 3, 17)
    g.conv("conv0", 8, 3, stride=2, bias=False); g.bn("conv0.bn"); g.clip6("conv0.relu6")
    for i, (out, stride) in enumerate([(16, 1), (24, 2)]):
        c = g.channel_of(g.current)
        g.conv(f"block{i}.dw", c, 3, stride=stride, group=c, bias=False); g.bn(f"block{i}.dw.bn")
        g.clip6(f"block{i}.dw.relu6")
        g.conv(f"block{i}.pw", out, 1, bias=False); g.bn(f"block{i}.pw.bn"); g.clip6(f"block{i}.pw.relu6")
    g.unary("GlobalAveragePool", "avgpool")
    g.node("Flatten", [g.current], "flatten", axis=1)
    w = g.init("classifier.weight_t", rng.normal(0, 0.3, (24, 10)))  # MatMul: [in, out]
    g.node("MatMul", [g.current, w], "classifier.matmul")
    b = g.init("classifier.bias", rng.normal(0, 0.1, 10))
    g.node("Add", [g.current, b], "classifier.add")
    g.node("Softmax", [g.current], "softmax", axis=1)
    return g.build(11)


def shufflenet_tiny():
    """Grouped 1×1 convolutions, the reshape-transpose-reshape channel shuffle,
    depthwise 3×3, a stride-2 unit with an average-pool shortcut and Concat, and
    a stride-1 unit with Add (opset 17)."""
    groups = 3
    g = new_graph("shufflenet_tiny", 12, 12)
    size = 12
    for unit, stride in enumerate([2, 1]):
        src = g.current
        cin = g.channel_of(src)
        out = 24 if unit == 0 else cin
        branch_out = out - cin if stride == 2 else out
        mid = 12
        g.conv(f"unit{unit}.gconv1", mid, 1, group=groups, bias=False); g.bn(f"unit{unit}.bn1")
        g.unary("Relu", f"unit{unit}.relu1")
        # PyTorch's x.view(n, g, c/g, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        s1 = numpy_helper.from_array(np.array([1, groups, mid // groups, size, size], dtype=np.int64),
                                     name=f"unit{unit}.shuffle.shape1")
        s2 = numpy_helper.from_array(np.array([1, -1, size, size], dtype=np.int64), name=f"unit{unit}.shuffle.shape2")
        g.inits += [s1, s2]
        g.node("Reshape", [g.current, s1.name], f"unit{unit}.shuffle.reshape1")
        g.node("Transpose", [g.current], f"unit{unit}.shuffle.transpose", perm=[0, 2, 1, 3, 4])
        g.node("Reshape", [g.current, s2.name], f"unit{unit}.shuffle")
        g.channels_of[g.current] = mid
        g.conv(f"unit{unit}.dwconv", mid, 3, stride=stride, group=mid, bias=False); g.bn(f"unit{unit}.bn2")
        g.conv(f"unit{unit}.gconv2", branch_out, 1, group=groups, bias=False); branch = g.bn(f"unit{unit}.bn3")
        if stride == 2:
            size //= 2
            short = g.node("AveragePool", [src], f"unit{unit}.shortcut", kernel_shape=[3, 3], strides=[2, 2],
                           pads=[1, 1, 1, 1], count_include_pad=1)
            g.node("Concat", [short, branch], f"unit{unit}.concat", axis=1)
        else:
            g.node("Add", [branch, src], f"unit{unit}.add")
        g.channels_of[g.current] = out
        g.unary("Relu", f"unit{unit}.relu")
    return g.build(17)


def se_block():
    """Two squeeze-excitation gates: one with 1×1 convolutions on the pooled
    [N, C, 1, 1] tensor, one with Flatten → Gemm (transB=0) and an Unsqueeze
    back to [N, C, 1, 1] (opset 21)."""
    g = new_graph("se_block", 16, 8)
    g.conv("conv1", 16, 3); g.bn("bn1"); feat = g.unary("Relu", "relu1")
    g.unary("GlobalAveragePool", "se1.pool")
    g.conv("se1.fc1", 4, 1, pads=[0, 0, 0, 0]); g.unary("Relu", "se1.relu")
    g.conv("se1.fc2", 16, 1, pads=[0, 0, 0, 0]); gate = g.unary("Sigmoid", "se1.sigmoid")
    g.node("Mul", [feat, gate], "se1.scale"); g.channels_of[g.current] = 16
    feat2 = g.conv("conv2", 16, 3)
    g.unary("GlobalAveragePool", "se2.pool")
    g.node("Flatten", [g.current], "se2.flatten")
    w1 = g.init("se2.fc1.weight", rng.normal(0, 0.3, (16, 4)))  # transB=0: [in, out]
    b1 = g.init("se2.fc1.bias", rng.normal(0, 0.1, 4))
    g.node("Gemm", [g.current, w1, b1], "se2.fc1", transB=0)
    g.node("Relu", [g.current], "se2.relu")
    w2 = g.init("se2.fc2.weight", rng.normal(0, 0.3, (16, 4)))  # transB=1: [out, in]
    b2 = g.init("se2.fc2.bias", rng.normal(0, 0.1, 16))
    g.node("Gemm", [g.current, w2, b2], "se2.fc2", transB=1, alpha=0.5, beta=2.0)
    g.node("Sigmoid", [g.current], "se2.sigmoid")
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), name="se2.axes")
    g.inits.append(axes)
    gate2 = g.node("Unsqueeze", [g.current, "se2.axes"], "se2.unsqueeze")
    # The gate comes first here: Mul is commutative, the importer must find the feature map.
    g.node("Mul", [gate2, feat2], "se2.scale"); g.channels_of[g.current] = 16
    g.node("Add", [g.current, "se1.scale_out"], "add"); g.channels_of[g.current] = 16
    g.unary("Relu", "relu")
    return g.build(21)


def conv_variants():
    """Dilated, grouped, strided, asymmetric-pad, rectangular and auto_pad
    convolutions, and max/average pooling with padding and ceil_mode (opset 13)."""
    g = new_graph("conv_variants", 4, 15)
    g.conv("dilated", 8, 3, dilation=2)                                  # pads 2
    g.conv("grouped", 8, 3, group=2, pads=[1, 1, 1, 1])
    g.conv("strided_asym", 8, 3, stride=2, pads=[1, 0, 2, 1])           # top, left, bottom, right
    g.conv("rect_dilated", 6, (3, 5), dilation=(2, 1), pads=[2, 2, 2, 2], bias=False)
    g.conv("same_upper", 6, 3, stride=2, auto_pad="SAME_UPPER")         # odd size: extra pad at the end
    g.conv("same_lower", 6, 4, auto_pad="SAME_LOWER", encoding="float")  # even kernel: extra pad at the start
    g.conv("valid", 8, 2, auto_pad="VALID")
    g.unary("Relu", "relu")
    g.unary("MaxPool", "maxpool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    g.unary("AveragePool", "avgpool_ceil", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    g.unary("AveragePool", "avgpool_pad", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
            count_include_pad=1)
    g.unary("MaxPool", "maxpool_same", kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER")
    return g.build(13)


def clip_variants():
    """Clip with attribute bounds (opset 6..10), including a general clamp."""
    g = new_graph("clip_opset10", 3, 8)
    g.conv("conv1", 8, 3)
    g.unary("Clip", "clamp", min=-0.5, max=0.75)
    g.conv("conv2", 8, 3)
    g.unary("Clip", "relu6", min=0.0, max=6.0)
    g.conv("conv3", 4, 1, pads=[0, 0, 0, 0])
    g.unary("Clip", "lower_only", min=-0.1)
    return g.build(10)


def clip_constant_inputs():
    """Clip (opset 13) with a Constant-node max and no min, and a Sigmoid."""
    g = new_graph("clip_constant", 3, 8)
    g.conv("conv1", 8, 3)
    g.nodes.append(helper.make_node("Constant", [], ["hi"], name="hi_const",
                                    value=numpy_helper.from_array(np.array(0.25, dtype=np.float32))))
    g.node("Clip", [g.current, "", "hi"], "clip_max_only"); g.channels_of[g.current] = 8
    g.conv("conv2", 8, 3)
    g.unary("Sigmoid", "sigmoid")
    return g.build(13)


def reshape_flatten():
    """PyTorch's x.view(x.size(0), -1) as Reshape [0, -1] before the classifier,
    a Squeeze of a pooled map, and Softmax over the last axis (opset 18)."""
    g = new_graph("reshape_flatten", 3, 8)
    g.conv("conv1", 6, 3); g.unary("Relu", "relu1")
    g.unary("MaxPool", "pool", kernel_shape=[2, 2], strides=[2, 2])
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), name="flatten.shape")
    g.inits.append(shape)
    g.node("Reshape", [g.current, shape.name], "flatten")
    g.init("fc.weight", rng.normal(0, 0.3, (6, 96))); g.init("fc.bias", rng.normal(0, 0.1, 6))
    g.node("Gemm", [g.current, "fc.weight", "fc.bias"], "fc", transB=1)
    g.node("Softmax", [g.current], "softmax", axis=-1)
    return g.build(18)


def bn_fold():
    """A batch norm right after a bias-free convolution (folded when planned),
    one after an Add (stays a per-channel affine layer), and one on the input."""
    g = new_graph("bn_fold", 4, 10)
    g.bn("bn_input")
    a = g.conv("conv1", 8, 3, bias=False)
    g.bn("bn_fold")
    b = g.conv("conv2", 8, 3, src=a)
    g.node("Add", [g.current, "bn_fold_out"], "add"); g.channels_of[g.current] = 8
    g.bn("bn_standalone")
    return g.build(15)


def pruned_base(name, granularity):
    """Three 16-channel 3×3 convolutions, the last two pruned at `granularity`."""
    g = new_graph(name, 16, 10)
    for layer in range(3):
        cin, cout = 16, 16
        w = rng.normal(0, 0.2, (cout, cin, 3, 3))
        if layer > 0:
            if granularity == "element":
                w[rng.random(w.shape) < 0.7] = 0
            elif granularity == "block1x2":
                # Pairs of output channels (2j, 2j+1) share zeros at (input channel, tap).
                pairs = rng.random((cout // 2, cin, 3, 3)) < 0.7
                w[pairs.repeat(2, axis=0)] = 0
            elif granularity == "kernel":
                w[rng.random((cout, cin)) < 0.7] = 0
            elif granularity == "channel":
                w[[1, 4, 5, 9, 14]] = 0
        g.conv(f"conv{layer + 1}", cout, 3, weight=w, bias=(layer != 1))
        g.unary("Relu", f"relu{layer + 1}")
    return g.build(13)


def external_data():
    """resnet_tiny with every initializer in one external file."""
    model = resnet_tiny()
    model.graph.name = "external_data"
    path = os.path.join(HERE, "external_data.onnx")
    data = "external_data.weights"
    if os.path.exists(os.path.join(HERE, data)):
        os.remove(os.path.join(HERE, data))
    onnx.checker.check_model(model)
    x = rng.uniform(-1, 1, [2, 3, 16, 16]).astype(np.float32)
    y = run_ort(model, x)
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=0)
    np.save(os.path.join(HERE, "external_data.input.npy"), x)
    np.save(os.path.join(HERE, "external_data.output.npy"), y)


def float64_weights():
    """Conv and Gemm weights stored as float64 (double_data and raw_data). Not a valid
    onnxruntime model (types must agree), so the golden is the float32 twin's output."""
    g = new_graph("float64_weights", 3, 8)
    g.conv("conv1", 8, 3); g.unary("Relu", "relu")
    g.unary("GlobalAveragePool", "pool")
    g.node("Flatten", [g.current], "flatten")
    g.init("fc.weight", rng.normal(0, 0.3, (5, 8))); g.init("fc.bias", rng.normal(0, 0.1, 5))
    g.node("Gemm", [g.current, "fc.weight", "fc.bias"], "fc", transB=1)
    twin = g.build(13)
    onnx.checker.check_model(twin)
    x = rng.uniform(-1, 1, [1, 3, 8, 8]).astype(np.float32)
    y = run_ort(twin, x)
    model = onnx.ModelProto()
    model.CopyFrom(twin)
    for i, init in enumerate(model.graph.initializer):
        array = numpy_helper.to_array(init).astype(np.float64)
        if i % 2 == 0:
            replacement = numpy_helper.from_array(array, name=init.name)  # raw_data
        else:
            replacement = helper.make_tensor(init.name, TensorProto.DOUBLE, list(array.shape), array.flatten().tolist())
        init.CopyFrom(replacement)
    onnx.save(model, os.path.join(HERE, "float64_weights.onnx"))
    np.save(os.path.join(HERE, "float64_weights.input.npy"), x)
    np.save(os.path.join(HERE, "float64_weights.output.npy"), y)


def nan_weights():
    """A NaN weight: allowed, and it propagates to the outputs that read it."""
    g = new_graph("nan_weights", 2, 6)
    w = rng.normal(0, 0.3, (4, 2, 3, 3))
    w[1, 0, 1, 1] = np.nan
    g.conv("conv1", 4, 3, weight=w)
    return g.build(13)


# ---------------------------------------------------------------- malformed

def malformed():
    os.makedirs(MALFORMED, exist_ok=True)

    def write(name, model):
        with open(os.path.join(MALFORMED, name), "wb") as f:
            f.write(model.SerializeToString())

    good = resnet_tiny().SerializeToString()
    with open(os.path.join(MALFORMED, "truncated.onnx"), "wb") as f:
        f.write(good[: len(good) // 2])
    with open(os.path.join(MALFORMED, "garbage.onnx"), "wb") as f:
        f.write(bytes(rng.integers(0, 256, 300, dtype=np.uint8)))

    m = resnet_tiny()
    w = m.graph.initializer[0]
    w.raw_data = w.raw_data[: len(w.raw_data) - 8]  # two floats short of its dims
    write("wrong_initializer_size.onnx", m)

    m = resnet_tiny()
    del m.graph.initializer[0]  # conv1.weight
    write("missing_initializer.onnx", m)

    g = new_graph("unsupported", 3, 8)
    g.conv("conv1", 4, 3)
    g.unary("LpNormalization", "norm1", axis=1)
    g.unary("Relu", "relu1")
    g.node("Resize", [g.current, "", "scales"], "upsample", mode="nearest")
    g.inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), name="scales"))
    write("unsupported_op.onnx", g.build(13))

    # Two Relus reading each other's output: no topological order exists.
    g = new_graph("cyclic", 3, 8)
    g.conv("conv1", 4, 3)
    g.nodes.append(helper.make_node("Add", ["conv1_out", "b_out"], ["a_out"], name="a"))
    g.nodes.append(helper.make_node("Relu", ["a_out"], ["b_out"], name="b"))
    g.current = "b_out"
    write("cyclic.onnx", g.build(13))

    g = new_graph("huge_dims", 3, 8)
    g.input_shape = [1, 3, 3_000_000_000, 3_000_000_000]
    g.conv("conv1", 4, 3)
    write("huge_input_dims.onnx", g.build(13))

    g = new_graph("huge_initializer", 3, 8)
    g.conv("conv1", 4, 3)
    huge = TensorProto(name="conv1.weight", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 30, 3, 3])
    huge.raw_data = b"\0" * 64
    g.inits[0] = huge
    write("huge_initializer_dims.onnx", g.build(13))

    g = new_graph("bad_external", 3, 8)
    g.conv("conv1", 4, 3)
    t = g.inits[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in [("location", "../../etc/passwd"), ("offset", "0"), ("length", "432")]:
        entry = t.external_data.add(); entry.key = key; entry.value = value
    write("external_outside_directory.onnx", g.build(13))

    g = new_graph("missing_external", 3, 8)
    g.conv("conv1", 4, 3)
    t = g.inits[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in [("location", "no_such_file.bin"), ("offset", "0"), ("length", "432")]:
        entry = t.external_data.add(); entry.key = key; entry.value = value
    write("missing_external_file.onnx", g.build(13))

    # A Slice of the batch axis to 2**31 - 2 (found by the fuzzer): the importer
    # used to list every index of it before refusing it.
    g = new_graph("slice_batch", 3, 8)
    g.conv("conv1", 4, 3)
    g.node("Slice", [g.current, "starts", "ends", "axes"], "slice_batch")
    for name, value in [("starts", 0), ("ends", 2**31 - 2), ("axes", 0)]:
        g.inits.append(numpy_helper.from_array(np.array([value], dtype=np.int64), name=name))
    write("slice_batch_axis.onnx", g.build(13))


def main():
    for f in os.listdir(HERE):
        if f.endswith(".npy") or (f.endswith(".onnx") and f != "tiny_conv.onnx") or f.endswith(".weights"):
            os.remove(os.path.join(HERE, f))
    shutil.rmtree(MALFORMED, ignore_errors=True)
    save(resnet_tiny(), "resnet_tiny")
    save(mobilenet_tiny(), "mobilenet_tiny")
    save(shufflenet_tiny(), "shufflenet_tiny")
    save(se_block(), "se_block")
    save(conv_variants(), "conv_variants")
    save(clip_variants(), "clip_opset10")
    save(clip_constant_inputs(), "clip_constant")
    save(bn_fold(), "bn_fold")
    for granularity in ["element", "block1x2", "kernel", "channel"]:
        save(pruned_base(f"pruned_{granularity}", granularity), f"pruned_{granularity}")
    external_data()
    float64_weights()
    save(nan_weights(), "nan_weights")
    malformed()
    # Added later: last, so that the shared generator leaves the files above unchanged.
    save(reshape_flatten(), "reshape_flatten")
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(HERE) for f in files)
    print(f"fixtures written: {total / 1024:.0f} KB in all")


if __name__ == "__main__":
    main()
