#!/usr/bin/env python3
"""Writes tiny_conv.onnx, which Tests/SparseConvTests/ONNXProtoTests.swift decodes.

Run from anywhere: python3 Fixtures/onnx/make_proto_fixture.py
The file is committed; rerun only to change it (and update the test).

One Conv node, X[1,2,5,5] * W[3,2,3,3] + B[3] -> Y[1,3,5,5], pads 1, strides 1.
The weight initializer stores its values in `raw_data` (what exporters such as
PyTorch write) and the bias in `float_data`, so the test covers both encodings.
W[o, i, h, w] = o*100 + i*10 + h*3 + w - 4 with W[0, 1, :, :] = 0 (a pruned kernel).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))

o, i, h, w = np.meshgrid(np.arange(3), np.arange(2), np.arange(3), np.arange(3), indexing="ij")
weight = (o * 100 + i * 10 + h * 3 + w - 4).astype(np.float32)
weight[0, 1] = 0
bias = [0.5, -1.0, 2.25]

weight_tensor = numpy_helper.from_array(weight, name="conv1.weight")  # raw_data
assert weight_tensor.HasField("raw_data")
bias_tensor = helper.make_tensor("conv1.bias", TensorProto.FLOAT, [3], bias)  # float_data
assert not bias_tensor.HasField("raw_data") and len(bias_tensor.float_data) == 3

node = helper.make_node(
    "Conv", ["X", "conv1.weight", "conv1.bias"], ["Y"], name="conv1",
    kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1)
graph = helper.make_graph(
    [node], "tiny_conv",
    [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 5, 5])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3, 5, 5])],
    initializer=[weight_tensor, bias_tensor])
model = helper.make_model(
    graph, producer_name="sparseconv-fixture", producer_version="1",
    opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7  # fixed, so the bytes do not depend on the onnx version used
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "tiny_conv.onnx"))
