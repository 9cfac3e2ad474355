#!/usr/bin/env python3
"""Median times of the target cells over two sets of layer runs, side by side.

  python3 Benchmarks/cell_times.py BEFORE.json [...] -- AFTER.json [...]

Input: JSON written by `compare_onnxruntime.py --suite layers --output FILE`.
Prints, per target layer (the list targets.py checks), the median over each
set's runs of ONNX Runtime's dense time, our dense time and each target cell's
sparse time, as "before>after" in ms. Where a host's speed drifts between runs
(targets.py's ranges show it), the ratios to a baseline move with it; these
times show what a change did to our own kernels.
"""
import json
import statistics
import sys

from targets import TARGET_LAYERS

CELLS = [("ort", 0.0), ("dense", 0.0), ("block1x2", 0.9), ("element", 0.9), ("kernel", 0.9),
         ("channel", 0.9), ("block1x2", 0.75)]


def cell_times(files):
    """{(layer, cell path, sparsity): [ms per run]}; "ort" is ONNX Runtime's dense time."""
    times = {}
    for name in files:
        with open(name) as f:
            records = json.load(f)
        for r in records:
            for path, sparsity in CELLS:
                if path == "ort":
                    if r["path"] == "dense" and r.get("ort_ms"):
                        times.setdefault((r["layer"], path, sparsity), []).append(r["ort_ms"])
                elif r["path"] == path and abs((r.get("sparsity") or 0) - sparsity) <= 0.02:
                    times.setdefault((r["layer"], path, sparsity), []).append(r["ms"])
    return times


def main(argv):
    if "--" not in argv or argv.index("--") == 0 or argv.index("--") == len(argv) - 1:
        sys.exit("usage: cell_times.py BEFORE.json [...] -- AFTER.json [...]")
    cut = argv.index("--")
    before, after = cell_times(argv[:cut]), cell_times(argv[cut + 1:])
    print(f"median ms over {cut} run(s) > over {len(argv) - cut - 1} run(s)")
    print("%-30s" % "layer" + "".join("%17s" % (p if p == "ort" else p[:5] + str(round(s * 100)))
                                      for p, s in CELLS))
    for layer in TARGET_LAYERS:
        line = "%-30s" % layer
        for path, sparsity in CELLS:
            a, b = before.get((layer, path, sparsity)), after.get((layer, path, sparsity))
            line += "%17s" % ("%.3f>%.3f" % (statistics.median(a), statistics.median(b)) if a and b else "-")
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
