#!/usr/bin/env python3
"""Run sparse-bench and ONNX Runtime on the same layers, minutes apart, and
print our time next to ONNX Runtime's dense time.

  python3 Benchmarks/compare_onnxruntime.py                      # default list, 2 threads
  python3 Benchmarks/compare_onnxruntime.py --threads 2 --output Benchmarks/results/latest.json
  python3 Benchmarks/compare_onnxruntime.py --bench-json results.json   # reuse a sparse-bench run

The speed ratio is ONNX Runtime ms / our ms (above 1: we are faster). For
sparse paths the baseline is the faster of our dense path and ONNX Runtime.
Needs: pip install onnxruntime onnx numpy; a release build of sparse-bench.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_layers import conv_model, time_session  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_sparse_bench(args):
    cmd = ["swift", "run", "-c", "release", "sparse-bench", "--format", "json",
           "--threads", str(args.threads), "--min-time", str(args.min_time)]
    if args.layers:
        cmd += ["--layers", args.layers]
    if args.suite:
        cmd += ["--suite", args.suite]
    if args.sparsities is not None:
        cmd += ["--sparsities", args.sparsities]
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def ort_time(shape, threads, min_time, reps):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = shape
    blob = conv_model(s["c_in"], s["c_out"], s["h"], s["w"], s["kh"], s["kw"], s["stride"], s["pad"],
                      s["dilation"], s["groups"], 0.0, 1)
    sess = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).standard_normal((1, s["c_in"], s["h"], s["w"])).astype(np.float32)
    return time_session(sess, {"x": x}, min_time, reps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", default=None, help="substring filter passed to sparse-bench")
    ap.add_argument("--suite", default=None)
    ap.add_argument("--sparsities", default=None, help="passed to sparse-bench (\"\" = dense only)")
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--bench-json", help="use this sparse-bench JSON instead of running it")
    ap.add_argument("--output", help="write the merged records (JSON array) here")
    args = ap.parse_args()

    records = json.load(open(args.bench_json)) if args.bench_json else run_sparse_bench(args)
    ort_ms = {}
    for r in records:
        if r.get("layer") and r["layer"] not in ort_ms:
            ort_ms[r["layer"]] = ort_time(r["shape"], r["threads"], args.min_time, 20)
    dense_ms = {}
    for r in records:
        if r["granularity"] == "dense":
            dense_ms[r["layer"]] = min(dense_ms.get(r["layer"], float("inf")), r["ms"])
    machine = records[0].get("machine", {}) if records else {}
    print(f"CPU: {machine.get('cpu')}  ISA: {machine.get('isa')}  threads: {args.threads}  "
          f"onnxruntime {ort.__version__}")
    print(f"{'layer':34s} {'path':9s} {'sparsity':>8s} {'ours ms':>9s} {'ORT ms':>9s} {'ORT/ours':>8s} "
          f"{'vs best dense':>13s} {'eff GF/s':>9s} {'useful GF/s':>11s}")
    dense_ratios = []
    for r in records:
        o = ort_ms[r["layer"]]
        baseline = min(o, dense_ms.get(r["layer"], o))
        r["onnxruntime_ms"] = o
        r["speed_vs_onnxruntime"] = o / r["ms"]
        r["speedup_vs_baseline"] = baseline / r["ms"]
        if r["granularity"] == "dense" and r["path"] == "dense" and r["shape"]["groups"] == 1:
            dense_ratios.append(o / r["ms"])
        print(f"{r['layer']:34s} {r['path']:9s} {r['sparsity']*100:7.0f}% {r['ms']:9.4f} {o:9.4f} "
              f"{o / r['ms']:8.2f} {baseline / r['ms']:12.2f}x {r['effective_gflops']:9.1f} "
              f"{r['useful_gflops']:11.1f}")
    if dense_ratios:
        print(f"\ndense path speed / ONNX Runtime (groups=1 layers): median {statistics.median(dense_ratios):.2f}, "
              f"min {min(dense_ratios):.2f}")
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump(records, f, indent=1)
        os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
