#!/usr/bin/env bash
# Cross-checks SparseConv's ONNX export and import against onnxruntime: every
# zoo model is exported at a small input size with `sparse-run --export`, run
# in onnxruntime and in `sparse-run` (from the exported file and straight from
# the zoo), and the outputs compared. Exits non-zero on any mismatch.
#
# Needs python3 with numpy and onnxruntime (pip install numpy onnxruntime).
#   Scripts/check-onnxruntime.sh                 # all zoo models
#   Scripts/check-onnxruntime.sh resnet18 lenet5 # some of them
# Environment: SPARSE_RUN=path/to/sparse-run (default: build it, debug),
#   TOLERANCE=1e-4 (max|a-b| / max|b|), KEEP=dir (keep the files there).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SPARSE_RUN:-}" ]; then
  source Scripts/bootstrap.sh
  swift build --product sparse-run >&2
  SPARSE_RUN="$(swift build --show-bin-path)/sparse-run"
fi
WORK="${KEEP:-$(mktemp -d)}"
mkdir -p "$WORK"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

SPARSE_RUN="$SPARSE_RUN" WORK="$WORK" TOLERANCE="${TOLERANCE:-1e-4}" python3 - "$@" <<'EOF'
import os, subprocess, sys, time
import numpy as np
import onnxruntime as ort

# Smallest input each model takes (AlexNet and VGG-16 have fixed-width classifiers).
SIZES = {"lenet5": (1, 32), "alexnet": (3, 224), "vgg16": (3, 224), "resnet18": (3, 64), "resnet50": (3, 64),
         "mobilenetV1": (3, 64), "mobilenetV2": (3, 64), "shufflenetV1": (3, 64), "seResNetBlock": (64, 16),
         "cifarDilated": (3, 32), "cifarLargeKernel": (3, 32), "cifarCascade": (3, 32)}
tool, work, tolerance = os.environ["SPARSE_RUN"], os.environ["WORK"], float(os.environ["TOLERANCE"])
names = sys.argv[1:] or list(SIZES)
failures = []

def sparse_run(*args):
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sparse-run {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout

def error(a, b):
    if a.shape != b.shape:
        return float("inf")
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a - b).max())

for name in names:
    if name not in SIZES:
        failures.append(f"{name}: unknown zoo model"); continue
    channels, size = SIZES[name]
    shape = f"2,{channels},{size},{size}"
    model, x_path = f"{work}/{name}.onnx", f"{work}/{name}.x.npy"
    try:
        sparse_run("--zoo", name, "--input-shape", shape, "--export", model)
        x = np.random.default_rng(7).uniform(-1, 1, (2, channels, size, size)).astype(np.float32)
        np.save(x_path, x)
        start = time.time()
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        expected = session.run(None, {session.get_inputs()[0].name: x})[0]
        ort_ms = (time.time() - start) * 1e3
        sparse_run(model, "--input", x_path, "--output", f"{work}/{name}.file.npy", "--threads", "2")
        sparse_run("--zoo", name, "--input-shape", shape, "--input", x_path, "--output", f"{work}/{name}.zoo.npy", "--threads", "2")
        from_file = error(np.load(f"{work}/{name}.file.npy"), expected)
        from_zoo = error(np.load(f"{work}/{name}.zoo.npy"), expected)
        ok = from_file <= tolerance and from_zoo <= tolerance
        print(f"{'ok ' if ok else 'BAD'} {name:16s} {shape:>14s}  onnx {os.path.getsize(model) / 2**20:7.1f} MiB  "
              f"error file {from_file:.2e}  zoo {from_zoo:.2e}  (onnxruntime {ort_ms:.0f} ms)", flush=True)
        if not ok:
            failures.append(f"{name}: normalized error {max(from_file, from_zoo):.2e} > {tolerance}")
    except Exception as exc:  # report and go on: one broken model should not hide the others
        print(f"BAD {name}: {exc}", flush=True)
        failures.append(f"{name}: {exc}")
    finally:
        for suffix in [".onnx", ".x.npy", ".file.npy", ".zoo.npy"]:
            if not os.environ.get("KEEP") and os.path.exists(f"{work}/{name}{suffix}"):
                os.remove(f"{work}/{name}{suffix}")

if failures:
    print("check-onnxruntime: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"check-onnxruntime: {len(names)} model(s) agree with onnxruntime (tolerance {tolerance})")
EOF
