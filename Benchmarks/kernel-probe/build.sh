#!/usr/bin/env bash
# A standalone C probe of one convolution path, outside Swift and the planner:
# used to tune the kernels (before/after figures in commit messages and notes).
# Speed claims belong in sparse-bench; this is for quick A/B of a kernel change.
#   Benchmarks/kernel-probe/build.sh [OUT]    # builds OUT (default /tmp/sparseconv-probe)
#   /tmp/sparseconv-probe CIN COUT H W K STRIDE PAD PATH SPARSITY THREADS [DIL GROUPS]
#   PATH: 0 dense, 3 block1x2, 4 kernel, 5 channel, 6 element; COLD=1 flushes caches between runs;
#   SUM=1 prints an output checksum (equal across builds that compute the same); PRUNE_BIAS=1
#   drops the bias of removed filters (channel path), as sparse-bench's channel masks do.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/Sources/CSparseConv"
omp_inc=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
omp_lib=$(ls -d /usr/lib/llvm-*/lib 2>/dev/null | sort -V | tail -1)
clang -O3 -fno-math-errno -fopenmp -I"$omp_inc" -I "$src/include" -I "$src/common" \
  $(find "$src" -name '*.c') "$root/Benchmarks/kernel-probe/probe.c" \
  -L"$omp_lib" -lomp -Wl,-rpath,"$omp_lib" -lm -o "${1:-/tmp/sparseconv-probe}"
