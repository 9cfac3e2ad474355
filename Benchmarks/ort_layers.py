#!/usr/bin/env python3
"""Time single convolution layers in ONNX Runtime (the dense baseline).

Each layer is one Conv node (optionally with pruned weights: ONNX Runtime runs
the zeros anyway). Prints a table, or JSON records with --json.

  python3 Benchmarks/ort_layers.py --threads 2
  python3 Benchmarks/ort_layers.py --layer "r50.3x3.64:64,64,56,56,3,3,1,1,1,1"
Layer spec: NAME:c_in,c_out,h,w,kh,kw,stride,pad,dilation,groups
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper
import onnxruntime as ort

# The foundation issue's layer list (batch 1): name, c_in, c_out, h, w, kh, kw, stride, pad, dilation, groups
DEFAULT_LAYERS = [
    ("resnet50.conv3x3.64@56", 64, 64, 56, 56, 3, 3, 1, 1, 1, 1),
    ("resnet50.conv1x1.256-64@56", 256, 64, 56, 56, 1, 1, 1, 0, 1, 1),
    ("resnet50.conv3x3.128@28", 128, 128, 28, 28, 3, 3, 1, 1, 1, 1),
    ("resnet50.conv3x3.256@14", 256, 256, 14, 14, 3, 3, 1, 1, 1, 1),
    ("resnet50.conv1x1.1024-256@14", 1024, 256, 14, 14, 1, 1, 1, 0, 1, 1),
    ("resnet50.conv3x3.512@7", 512, 512, 7, 7, 3, 3, 1, 1, 1, 1),
    ("vgg16.conv3x3.256@56", 256, 256, 56, 56, 3, 3, 1, 1, 1, 1),
    ("alexnet.conv11x11.3-96@227s4", 3, 96, 227, 227, 11, 11, 4, 0, 1, 1),
    ("alexnet.conv3x3.256@13g2", 256, 256, 13, 13, 3, 3, 1, 1, 1, 2),
    ("dilated.conv3x3.64@56d2", 64, 64, 56, 56, 3, 3, 1, 2, 2, 1),
    ("resnext.conv3x3.128@56g32", 128, 128, 56, 56, 3, 3, 1, 1, 1, 32),
    ("mobilenet.dw3x3.128@56", 128, 128, 56, 56, 3, 3, 1, 1, 1, 128),
    ("mobilenet.dw3x3.512@14", 512, 512, 14, 14, 3, 3, 1, 1, 1, 512),
    ("mobilenet.pw1x1.128@56", 128, 128, 56, 56, 1, 1, 1, 0, 1, 1),
    ("mobilenet.pw1x1.512@14", 512, 512, 14, 14, 1, 1, 1, 0, 1, 1),
]


def parse_layer(text):
    name, _, nums = text.partition(":")
    vals = [int(v) for v in nums.split(",")]
    if len(vals) != 10:
        raise SystemExit(f"layer spec needs 10 numbers: {text}")
    return (name, *vals)


def conv_model(c_in, c_out, h, w, kh, kw, stride, pad, dil, groups, sparsity, seed, batch=1, pads=None):
    """One Conv node as a serialized ONNX model. `pads` is [top, left, bottom,
    right] when the padding is asymmetric (sparse-bench records carry it)."""
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((c_out, c_in // groups, kh, kw)).astype(np.float32)
    if sparsity > 0:
        flat = weight.reshape(-1)
        k = int(round(sparsity * flat.size))
        flat[rng.permutation(flat.size)[:k]] = 0.0
    bias = rng.standard_normal(c_out).astype(np.float32)
    top, left, bottom, right = pads if pads else (pad, pad, pad, pad)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[kh, kw],
                            strides=[stride, stride], pads=[top, left, bottom, right],
                            dilations=[dil, dil], group=groups)
    graph = helper.make_graph(
        [node], "layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c_in, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.reshape(-1)),
         helper.make_tensor("b", TensorProto.FLOAT, bias.shape, bias)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def time_session(sess, feed, min_time, reps):
    for _ in range(3):
        sess.run(None, feed)
    times = []
    start = time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layer", action="append", help="NAME:c_in,c_out,h,w,kh,kw,stride,pad,dilation,groups")
    ap.add_argument("--filter", default="", help="substring of layer names to keep")
    ap.add_argument("--sparsity", type=float, default=0.0)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per layer")
    ap.add_argument("--repetitions", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    layers = [parse_layer(l) for l in args.layer] if args.layer else DEFAULT_LAYERS
    layers = [l for l in layers if args.filter in l[0]]
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    records = []
    for (name, c_in, c_out, h, w, kh, kw, stride, pad, dil, groups) in layers:
        blob = conv_model(c_in, c_out, h, w, kh, kw, stride, pad, dil, groups, args.sparsity, 1)
        sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(2).standard_normal((1, c_in, h, w)).astype(np.float32)
        ms = time_session(sess, {"x": x}, args.min_time, args.repetitions)
        oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
        ow = (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
        flops = 2.0 * c_out * (c_in // groups) * kh * kw * oh * ow
        rec = dict(layer=name, path="onnxruntime", sparsity=args.sparsity, threads=args.threads,
                   batch=1, ms=ms, effective_gflops=flops / ms / 1e6,
                   shape=dict(c_in=c_in, c_out=c_out, h=h, w=w, kh=kh, kw=kw, stride=stride,
                              pad=pad, dilation=dil, groups=groups))
        records.append(rec)
        if not args.json:
            print(f"{name:34s} {ms:9.4f} ms {rec['effective_gflops']:8.1f} GFLOP/s", flush=True)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
