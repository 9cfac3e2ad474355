#!/usr/bin/env python3
"""Time the layers and zoo models of a sparse-bench run in ONNX Runtime, with
the same thread count and in the same run, and merge ORT's figures into
sparse-bench's JSON records.

  python3 Benchmarks/compare_onnxruntime.py                          # sparse-bench default suite, 2 threads
  python3 Benchmarks/compare_onnxruntime.py --suite quick --output Benchmarks/results/latest.json
  python3 Benchmarks/compare_onnxruntime.py --suite models --zoo resnet50,mobilenetV1
  python3 Benchmarks/compare_onnxruntime.py --bench-json results.json  # reuse a sparse-bench run
  python3 Benchmarks/compare_onnxruntime.py --suite layers --interleave  # ORT next to each layer
  python3 Benchmarks/compare_onnxruntime.py --suite layers --interleave --passes 2

By default sparse-bench runs the whole suite, then ORT times every shape: on a
host whose speed drifts over minutes (a shared cloud machine), a layer's ORT
time can come two minutes after its own. --interleave (the layers suite) runs
sparse-bench once per layer instead and times that layer's shape in ORT just
before and just after it; ort_ms is the faster of the two (keys ort_ms_before,
ort_ms_after keep both: a slow spike of the host would otherwise flatter our
ratio), so each ratio compares measurements seconds apart. It also samples, for a
quarter of a second before and after each layer, whether the threads had whole
cores (Benchmarks/host-check: a cloud guest's vCPUs at times share one
physical core, and every 2-thread figure of that moment is slower for it);
the layer's records keep both samples (host_before, host_after).
--passes N (with --interleave) runs sparse-bench N times per layer, each run
followed by one more ORT timing (ORT, ours, ORT, ours, ..., ORT): each side
then keeps the faster of its medians per cell, so an episode of the host that
catches one run of ours costs ours no more than one of ORT's costs ORT (keys
ms_passes, ort_ms_passes keep them all).

Every record with a convolution `shape` gets ONNX Runtime's dense time of that
shape (a single Conv node); every whole-model record gets ORT's time of the
model exported by `sparse-run --zoo NAME --export FILE.onnx` (models whose
export is unavailable are skipped with a message). Pruned weights would not
change ORT's time (it runs the zeros through dense kernels), so the dense
export is timed once per model. Added keys:

  ort_ms        ONNX Runtime's median milliseconds (dense)
  ratio_vs_ort  ort_ms / ms: above 1, SparseConv is faster than ORT dense

Channel-level layer records (ungrouped layers) also get ORT's time of the
thinned layer: the same Conv with only the kept filters, which is what a user
who removes pruned filters from the model file would run instead. Keys:

  ort_thin_ms        ONNX Runtime's median milliseconds of the thinned Conv
  ratio_vs_ort_thin  ort_thin_ms / ms

The table lists, per layer and per model, our dense time and our best sparse
time as ratios against ORT dense. Needs: pip install onnxruntime onnx numpy;
a release build of sparse-bench (and of sparse-run for models).
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_layers import conv_model, time_session  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def swift_run(product, args, **kwargs):
    return subprocess.run(["swift", "run", "-c", "release", product] + args, cwd=ROOT, **kwargs)


def run_sparse_bench(args):
    cmd = ["--format", "json", "--threads", str(args.threads)]
    for flag, value in [("--suite", args.suite), ("--layers", args.layers), ("--zoo", args.zoo),
                        ("--sparsities", args.sparsities), ("--granularity", args.granularity),
                        ("--min-time", args.min_time), ("--batch", args.batch), ("--scope", args.scope)]:
        if value is not None:
            cmd += [flag, str(value)]
    print("running: sparse-bench", " ".join(cmd), file=sys.stderr, flush=True)
    out = swift_run("sparse-bench", cmd, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def sparse_bench_args(args, layers=None):
    cmd = ["--format", "json", "--threads", str(args.threads)]
    for flag, value in [("--suite", args.suite), ("--layers", layers or args.layers),
                        ("--sparsities", args.sparsities), ("--granularity", args.granularity),
                        ("--min-time", args.min_time), ("--batch", args.batch)]:
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def release_binary(product):
    subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True,
                   stdout=sys.stderr)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(bin_dir, product)


def spec_key(spec, batch, threads):
    """The shape key (see shape_key) of a `sparse-bench --list-layers` spec:
    c_in,c_out,h,w,kh,kw,stride,pad,dilation,groups."""
    c_in, c_out, h, w, kh, kw, stride, pad, dil, groups = (int(v) for v in spec.split(","))
    return (c_in, c_out, h, w, kh, kw, stride, (pad,) * 4, dil, groups, batch, threads)


def run_interleaved(args, min_time):
    """sparse-bench once per layer of the suite, each between two ORT timings
    of its shape. Returns the records and the ORT milliseconds per shape key."""
    if args.suite != "layers" or args.zoo:
        sys.exit("--interleave times the layer suite: --suite layers, without --zoo")
    bench = release_binary("sparse-bench")
    listed = subprocess.run([bench, "--list-layers", "--suite", "layers"] + (["--layers", args.layers] if args.layers else []),
                            check=True, stdout=subprocess.PIPE, text=True).stdout
    layers = json.loads(listed)
    check = host_check_binary()
    records, ort_ms = [], {}
    for i, layer in enumerate(layers, 1):
        name = layer["layer"]
        key = spec_key(layer["spec"], args.batch or 1, args.threads)
        ort_times = [ort_layer_ms(key, min_time, args.repetitions)]
        passes = []
        for p in range(args.passes):
            print(f"[{i}/{len(layers)}] sparse-bench --layers {name}" + (f" (pass {p + 1} of {args.passes})" if args.passes > 1 else ""),
                  file=sys.stderr, flush=True)
            host_before = host_sample(check, args.threads)
            out = subprocess.run([bench] + sparse_bench_args(args, layers=name), check=True,
                                 stdout=subprocess.PIPE).stdout
            host_after = host_sample(check, args.threads)
            mine = [r for r in json.loads(out) if r.get("layer") == name and not r.get("model")
                    and r.get("section", "q1-layers") == "q1-layers"]
            if any(shape_key(r) != key for r in mine if r.get("shape")):
                sys.exit(f"--interleave: {name}: sparse-bench's records do not have the listed shape {layer['spec']}")
            for r in mine:
                if host_before or host_after:
                    r["host_before"], r["host_after"] = host_before, host_after
            passes.append(mine)
            ort_times.append(ort_layer_ms(key, min_time, args.repetitions))
        ort_ms[key] = min(ort_times)
        mine = faster_of_passes(passes)
        for r in mine:
            if r.get("shape"):
                r["ort_ms_before"], r["ort_ms_after"] = ort_times[0], ort_times[-1]
                if args.passes > 1:
                    r["ort_ms_passes"] = ort_times
            thin = thinned_key(r)
            if thin is not None and thin not in ort_ms:
                ort_ms[thin] = ort_layer_ms(thin, min_time, args.repetitions)
        records += mine
    return records, ort_ms


def faster_of_passes(passes):
    """Per cell (path, sparsity, batch, threads), the record of the pass that timed it
    fastest, with every pass's milliseconds in ms_passes: ours get the faster of
    several medians exactly as ONNX Runtime does (ort_ms is the fastest of its
    timings around them). One pass: its records unchanged."""
    if len(passes) == 1:
        return passes[0]
    def cell(r):
        return (r.get("path"), r.get("granularity"), r.get("target_sparsity", r.get("sparsity")), r.get("batch"), r.get("threads"))
    cells = {}
    for mine in passes:
        for r in mine:
            cells.setdefault(cell(r), []).append(r)
    out = []
    for r in passes[0]:
        runs = cells[cell(r)]
        best = dict(min(runs, key=lambda x: x["ms"]))
        best["ms_passes"] = [x["ms"] for x in runs]
        out.append(best)
    return out


def host_check_binary():
    """Builds Benchmarks/host-check once per run; None (with a message) where it cannot be built."""
    tmp = tempfile.mkdtemp(prefix="sparse-bench-host-check-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    out = os.path.join(tmp, "host-check")
    proc = subprocess.run([os.path.join(ROOT, "Benchmarks", "host-check", "build.sh"), out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(f"not sampling the host's cores: host-check did not build: {proc.stderr.strip()[-200:]}", file=sys.stderr)
        return None
    return out


def host_sample(binary, threads, seconds=0.25):
    """host-check's JSON (cores_median, shared_fraction, ...) over `seconds`, or None."""
    if binary is None:
        return None
    proc = subprocess.run([binary, str(seconds), str(threads)], stdout=subprocess.PIPE, text=True)
    try:
        return json.loads(proc.stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        return None


def session(blob_or_path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(blob_or_path, so, providers=["CPUExecutionProvider"])


def shape_key(r):
    s = r["shape"]
    return (s["c_in"], s["c_out"], s["h"], s["w"], s["kh"], s["kw"], s["stride"], tuple(s.get("padding") or [s["pad"]] * 4),
            s["dilation"], s["groups"], r["batch"], r["threads"])


def ort_layer_ms(key, min_time, reps):
    c_in, c_out, h, w, kh, kw, stride, pads, dil, groups, batch, threads = key
    blob = conv_model(c_in, c_out, h, w, kh, kw, stride, pads[0], dil, groups, 0.0, 1, batch=batch, pads=list(pads))
    x = np.random.default_rng(2).standard_normal((batch, c_in, h, w)).astype(np.float32)
    return time_session(session(blob, threads), {"x": x}, min_time, reps)


def thinned_key(r):
    """The shape key of a channel-level record's layer with only its kept filters, or None
    (grouped layers: a thinned grouped Conv needs equal filters per group)."""
    if r.get("granularity") != "channel" or not r.get("shape") or r["shape"]["groups"] != 1:
        return None
    c_out = r["shape"]["c_out"]
    kept = round(c_out * (1.0 - r["sparsity"]))
    if kept < 1 or kept >= c_out:
        return None
    key = list(shape_key(r))
    key[1] = kept
    return tuple(key)


def sparse_run_available():
    """Whether this checkout has the sparse-run product (it exports zoo models as ONNX)."""
    try:
        with open(os.path.join(ROOT, "Package.swift")) as f:
            return '"sparse-run"' in f.read()
    except OSError:
        return False


def export_zoo(name, input_shape, directory):
    path = os.path.join(directory, f"{name}.onnx")
    shape = ",".join(str(v) for v in input_shape)
    proc = swift_run("sparse-run", ["--zoo", name, "--input-shape", shape, "--export", path],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0 or not os.path.exists(path):
        return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return path, None


def ort_model_ms(path, input_shape, threads, min_time, reps):
    sess = session(path, threads)
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(2).standard_normal(input_shape).astype(np.float32)
    return time_session(sess, {name: x}, min_time, reps)


def ratio(o, ms):
    return o / ms if o and ms else None


def fmt_ratio(v):
    return f"{v:6.2f}" if v is not None else "     -"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--suite", default=None, help="sparse-bench suite (default, layers, models, questions, quick)")
    ap.add_argument("--layers", default=None, help="substring filter passed to sparse-bench")
    ap.add_argument("--zoo", default=None, help="zoo models passed to sparse-bench")
    ap.add_argument("--sparsities", default=None, help="passed to sparse-bench (\"\" = dense only)")
    ap.add_argument("--granularity", default=None, help="passed to sparse-bench")
    ap.add_argument("--batch", type=int, default=None, help="passed to sparse-bench")
    ap.add_argument("--scope", default=None, help="passed to sparse-bench: global or layer pruning of whole models")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per measurement (sparse-bench and ORT)")
    ap.add_argument("--repetitions", type=int, default=10, help="minimum ORT runs per measurement")
    ap.add_argument("--bench-json", help="use this sparse-bench JSON instead of running it")
    ap.add_argument("--output", help="write the merged records (JSON array) here")
    ap.add_argument("--interleave", action="store_true",
                    help="layer suites: one sparse-bench run per layer, ORT timed just before and after it")
    ap.add_argument("--passes", type=int, default=1,
                    help="--interleave: sparse-bench runs per layer, each followed by an ORT timing; "
                         "each side keeps the faster of its medians per cell (default 1)")
    args = ap.parse_args()

    min_time = args.min_time if args.min_time is not None else 0.2
    ort_layers = {}
    if args.interleave:
        if args.bench_json:
            sys.exit("--interleave runs sparse-bench itself; it cannot reuse --bench-json")
        records, ort_layers = run_interleaved(args, min_time)
    else:
        records = json.load(open(args.bench_json)) if args.bench_json else run_sparse_bench(args)

    # Layers: one ORT session per distinct shape, batch and thread count.
    for r in records:
        if r.get("shape") and r.get("layer") and not r.get("model"):
            key = shape_key(r)
            if key not in ort_layers:
                ort_layers[key] = ort_layer_ms(key, min_time, args.repetitions)
            thin = thinned_key(r) if r.get("section", "q1-layers") == "q1-layers" else None
            if thin is not None and thin not in ort_layers:
                ort_layers[thin] = ort_layer_ms(thin, min_time, args.repetitions)

    # Models: export each once through sparse-run, then time it in ORT.
    ort_models = {}
    model_keys = {(r["model"], tuple(r["input_shape"]), r["threads"]) for r in records if r.get("model") and r.get("input_shape")}
    if model_keys:
        if not sparse_run_available():
            print(f"skipping {len(model_keys)} zoo model(s): this checkout has no sparse-run product "
                  "(`sparse-run --zoo NAME --export FILE.onnx` lands separately)", file=sys.stderr)
        else:
            tmp = tempfile.mkdtemp(prefix="sparse-bench-onnx-")
            try:
                for name, shape, threads in sorted(model_keys):
                    print(f"exporting and timing {name} {list(shape)} in ONNX Runtime", file=sys.stderr, flush=True)
                    path, error = export_zoo(name, shape, tmp)
                    if path is None:
                        print(f"skipping {name}: sparse-run --export failed: {error}", file=sys.stderr)
                        continue
                    ort_models[(name, shape, threads)] = ort_model_ms(path, list(shape), threads, min_time, args.repetitions)
                    os.remove(path)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    for r in records:
        if r.get("model"):
            o = ort_models.get((r["model"], tuple(r.get("input_shape") or ()), r["threads"]))
        elif r.get("shape"):
            o = ort_layers.get(shape_key(r))
        else:
            o = None
        if o is not None:
            r["ort_ms"] = o
            r["ratio_vs_ort"] = o / r["ms"]
        thin = thinned_key(r) if not r.get("model") else None
        if thin is not None and thin in ort_layers:
            r["ort_thin_ms"] = ort_layers[thin]
            r["ratio_vs_ort_thin"] = ort_layers[thin] / r["ms"]

    machine = records[0].get("machine", {}) if records else {}
    print(f"CPU: {machine.get('cpu')}  ISA: {machine.get('isa')}  threads: {args.threads}  onnxruntime {ort.__version__}")
    print("ratio = ORT dense ms / our ms (above 1: we are faster); best sparse over every granularity and sparsity measured\n")

    # One row per layer (question 1 records) and per model (question 5 and 4 records).
    def summarize(group_key, label_of, wanted):
        rows = {}
        for r in records:
            if not wanted(r) or "ort_ms" not in r:
                continue
            row = rows.setdefault(group_key(r), {"label": label_of(r), "ort": r["ort_ms"], "dense": None, "sparse": None})
            if r["granularity"] == "dense":
                row["dense"] = min(row["dense"] or float("inf"), r["ms"])
            elif row["sparse"] is None or r["ms"] < row["sparse"][0]:
                row["sparse"] = (r["ms"], r["granularity"], r.get("target_sparsity", r["sparsity"]))
        return list(rows.values())

    layer_rows = summarize(lambda r: (r["layer"], shape_key(r)), lambda r: r["layer"], lambda r: r.get("section", "q1-layers") == "q1-layers" and r.get("layer"))
    model_rows = summarize(lambda r: (r["model"], r["section"]), lambda r: f"{r['model']} ({r['section']})", lambda r: r.get("model") and r.get("section") == "q5-models")
    for title, rows in (("layer", layer_rows), ("model", model_rows)):
        if not rows:
            continue
        print(f"{title:36s} {'ORT ms':>9s} {'our dense':>10s} {'ratio':>6s} {'best sparse':>12s} {'ratio':>6s}  granularity @ sparsity")
        dense_ratios = []
        for row in rows:
            dr = ratio(row["ort"], row["dense"])
            if dr is not None:
                dense_ratios.append(dr)
            sp = row["sparse"]
            sr = ratio(row["ort"], sp[0]) if sp else None
            print(f"{row['label']:36s} {row['ort']:9.3f} {row['dense'] or float('nan'):10.3f} {fmt_ratio(dr)} "
                  f"{(sp[0] if sp else float('nan')):12.3f} {fmt_ratio(sr)}  "
                  + (f"{sp[1]} @ {sp[2] * 100:.0f}%" if sp else ""))
        if dense_ratios:
            print(f"our dense / ORT dense ({title}s): median ratio {statistics.median(dense_ratios):.2f}, min {min(dense_ratios):.2f}\n")

    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump(records, f, indent=1)
        os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
