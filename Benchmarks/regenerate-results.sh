#!/usr/bin/env bash
# Regenerates the README's results: one run of sparse-bench's default suite
# (table, JSON and SVG plot), then ONNX Runtime's dense times of the same
# layers and models merged in, measured minutes apart on this machine.
#   Benchmarks/regenerate-results.sh [NAME]     # NAME tags the files (default: the ISA)
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/bootstrap.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)"
export PATH="$bin:$PATH"
name="${1:-$(grep -q avx512f /proc/cpuinfo && echo avx512 || echo avx2)}"
out=Benchmarks/results
mkdir -p "$out"
sparse-bench --threads 2 --plot "$out/default-$name.svg" --json "$out/default-$name.json" | tee "$out/default-$name.txt"
python3 -m pip install -q onnxruntime onnx numpy 2>/dev/null || true
python3 Benchmarks/compare_onnxruntime.py --threads 2 --bench-json "$out/default-$name.json" \
  --output "$out/default-$name.ort.json" | tee "$out/default-$name.ort.txt"
