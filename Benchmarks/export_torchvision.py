#!/usr/bin/env python3
"""Real exporter output through SparseConv: torchvision classification families
exported by both PyTorch exporters (and a small Keras CNN through tf2onnx),
pruned by sparse-prune at each granularity, run by sparse-run and by ONNX
Runtime on the same input. Prints one table row per file:

  model | exporter | variant | imports | max rel error | ours ms | ORT ms

Run by hand (torch, torchvision, onnxscript, and for the Keras row tensorflow
and tf2onnx, are far too large for CI):

  swift build -c release
  pip install torch torchvision onnxscript onnxruntime onnx numpy   # CPU wheels suffice
  python3 Benchmarks/export_torchvision.py --threads 2 [--models resnet18,mobilenet_v3_small] [--keras]

Weights are random (seeded): only agreement and speed matter here. "max rel
error" is max|ours - ORT| / max|ORT| over the output, the measure the Swift
tests use; a row agrees when it is at most 1e-4 (1e-3 for the deepest models,
where float32 summation order alone reaches that).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

FAMILIES = [
    # (torchvision constructor, input size)
    ("resnet18", 224), ("resnet50", 224), ("resnext50_32x4d", 224), ("wide_resnet50_2", 224),
    ("vgg11_bn", 224), ("alexnet", 224), ("mobilenet_v2", 224), ("mobilenet_v3_small", 224),
    ("mobilenet_v3_large", 224), ("shufflenet_v2_x1_0", 224), ("squeezenet1_1", 224), ("googlenet", 224),
    ("inception_v3", 299), ("densenet121", 224), ("efficientnet_b0", 224), ("regnet_y_400mf", 224),
    ("mnasnet1_0", 224), ("convnext_tiny", 224),
]
GRANULARITIES = ["element", "block1x2", "kernel", "channel"]


def release_bin():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, capture_output=True, text=True)
    return out.stdout.strip()


def import_torchvision():
    """torchvision, even when its compiled detection ops were built for another
    torch (a CPU torch next to a PyPI torchvision): classification models never
    call them, so their registrations are skipped instead of failing the import."""
    import torch
    try:
        import torchvision
        return torchvision
    except RuntimeError:
        for module in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[module]
        saved = torch.library.register_fake, torch.library.register_autograd
        torch.library.register_fake = lambda *args, **kwargs: (lambda function: function)
        torch.library.register_autograd = lambda *args, **kwargs: None
        try:
            import torchvision
        finally:
            torch.library.register_fake, torch.library.register_autograd = saved
        return torchvision


def export_torch(name, size, exporter, path):
    import torch
    torchvision = import_torchvision()

    torch.manual_seed(0)
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kwargs).eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch_size"}, "logits": {0: "batch_size"}},
                              do_constant_folding=True)
        else:
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=18, external_data=False)
            program.save(path)


def export_keras(path, size=64):
    import tensorflow as tf
    import tf2onnx

    tf.random.set_seed(0)
    inputs = tf.keras.Input((size, size, 3), name="image")
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = tf.keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = tf.keras.layers.ZeroPadding2D(1)(x)
    x = tf.keras.layers.Conv2D(32, 3, strides=2)(x)
    x = tf.keras.layers.LeakyReLU(0.1)(x)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(10, activation="softmax")(x)
    model = tf.keras.Model(inputs, outputs)
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, output_path=path, inputs_as_nchw=["image"])
    return size


def ort_run(path, x, threads, repeat):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    y = session.run(None, feed)[0]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return y, float(np.median(times))


def ours_run(binary, path, x_path, y_path, threads, repeat):
    out = subprocess.run([os.path.join(binary, "sparse-run"), path, "--input", x_path, "--output", y_path,
                          "--threads", str(threads), "--repeat", str(repeat)], capture_output=True, text=True)
    if out.returncode != 0:
        return None, None, (out.stderr.strip() or out.stdout.strip()).splitlines()[-1]
    match = re.search(r"median ([0-9.]+) ms", out.stdout)
    return np.load(y_path), float(match.group(1)) if match else None, None


def prune(binary, source, target, granularity, sparsity):
    out = subprocess.run([os.path.join(binary, "sparse-prune"), source, "-o", target, "--granularity", granularity,
                          "--sparsity", str(sparsity), "--force"], capture_output=True, text=True)
    return None if out.returncode == 0 else (out.stderr.strip() or out.stdout.strip()).splitlines()[-1]


def row(cells, widths):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated torchvision names (default: every family)")
    parser.add_argument("--exporters", default="torchscript,dynamo")
    parser.add_argument("--granularities", default=",".join(GRANULARITIES))
    parser.add_argument("--sparsity", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keras", action="store_true", help="add the Keras CNN through tf2onnx")
    parser.add_argument("--bin", help="directory of sparse-run and sparse-prune (default: the release build)")
    parser.add_argument("--work", help="directory for the exported files (default: a temporary one)")
    args = parser.parse_args()

    binary = args.bin or release_bin()
    work = args.work or tempfile.mkdtemp(prefix="sparseconv-exporters-")
    os.makedirs(work, exist_ok=True)
    wanted = set(args.models.split(",")) if args.models else None
    jobs = [(name, size, exporter) for name, size in FAMILIES if not wanted or name in wanted
            for exporter in args.exporters.split(",")]
    if args.keras:
        jobs.append(("keras_cnn", 64, "tf2onnx"))

    header = ["model", "exporter", "variant", "imports", "max rel error", "ours ms", "ORT ms"]
    widths = [20, 11, 8, 7, 13, 8, 8]
    print(row(header, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    rng = np.random.default_rng(0)
    failures = 0
    for name, size, exporter in jobs:
        base = os.path.join(work, f"{name}.{exporter}.onnx")
        try:
            if exporter == "tf2onnx":
                export_keras(base, size)
            else:
                export_torch(name, size, exporter, base)
        except Exception as error:  # an exporter failure is a row, not the end of the run
            print(row([name, exporter, "-", "export failed", str(error).splitlines()[0][:60], "", ""], widths))
            failures += 1
            continue
        x = rng.standard_normal((1, 3, size, size)).astype(np.float32)
        x_path = os.path.join(work, f"{name}.input.npy")
        np.save(x_path, x)
        variants = [("dense", base)]
        for granularity in args.granularities.split(","):
            target = os.path.join(work, f"{name}.{exporter}.{granularity}.onnx")
            problem = prune(binary, base, target, granularity, args.sparsity)
            variants.append((granularity, target if problem is None else problem))
        for variant, path in variants:
            if not os.path.exists(path):
                print(row([name, exporter, variant, "error", path[:60], "", ""], widths))
                failures += 1
                continue
            y_path = os.path.join(work, f"{name}.{exporter}.{variant}.output.npy")
            ours, ours_ms, problem = ours_run(binary, path, x_path, y_path, args.threads, args.repeat)
            if problem:
                print(row([name, exporter, variant, "error", problem[:60], "", ""], widths))
                failures += 1
                continue
            golden, ort_ms = ort_run(path, x, args.threads, args.repeat)
            error = float(np.max(np.abs(ours.reshape(golden.shape) - golden)) / max(np.max(np.abs(golden)), 1e-30))
            if error > 1e-3:
                failures += 1
            print(row([name, exporter, variant, "yes", f"{error:.1e}", f"{ours_ms:.2f}", f"{ort_ms:.2f}"], widths), flush=True)
    print(f"\n{failures} row(s) failed to import or disagree; files in {work}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
