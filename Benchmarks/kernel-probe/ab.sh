#!/usr/bin/env bash
# Builds one binary holding two builds of CSparseConv, A (a git revision, default HEAD)
# and B (the working tree), to time the same convolution on both in one process (ab.c):
#   Benchmarks/kernel-probe/ab.sh [REV [OUT]]        # builds OUT (default /tmp/sparseconv-ab)
#   OMP_PROC_BIND=spread OMP_PLACES=cores /tmp/sparseconv-ab CIN COUT H W K STRIDE PAD PATH SPARSITY THREADS [DIL GROUPS [BLOCKS [RUNS]]]
# Each build's objects are merged (ld -r) and every global symbol they define is renamed
# with a prefix (objcopy --redefine-syms), so the two builds' sc_* functions, kernels and
# CPU-detection state live side by side; only ab_api_a / ab_api_b (ab_shim.c) stay as named.
# EXTRA_A / EXTRA_B add compiler flags to one build (e.g. EXTRA_B=-DSOME_TOGGLE=1 with REV=HEAD).
# AB_ISA=2 (AVX2) or 3 (AVX-512) at run time makes both builds use that ISA, e.g. to time the
# AVX2 kernels on an AVX-512 machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rev="${1:-HEAD}"
out="${2:-/tmp/sparseconv-ab}"
here="$root/Benchmarks/kernel-probe"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
omp_inc=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
omp_lib=$(ls -d /usr/lib/llvm-*/lib 2>/dev/null | sort -V | tail -1)
mkdir -p "$work/a"
git -C "$root" archive "$rev" Sources/CSparseConv | tar -x -C "$work/a"

build() { # side source-root extra-flags
  local side=$1 src=$2/Sources/CSparseConv extra=$3 objs=()
  mkdir -p "$work/obj-$side"
  for f in $(find "$src" -name '*.c') "$here/ab_shim.c"; do
    local o="$work/obj-$side/$(echo "$f" | md5sum | cut -c1-12).o"
    clang -O3 -fno-math-errno -fopenmp -I"$omp_inc" -I "$src/include" -I "$src/common" -I "$here" \
      -DAB_SIDE="$side" $extra -c "$f" -o "$o"
    objs+=("$o")
  done
  ld -r -o "$work/$side.o" "${objs[@]}"
  nm -g --defined-only "$work/$side.o" | awk -v p="${side}_" '$3 !~ /^ab_api_/ {print $3, p $3}' > "$work/$side.map"
  objcopy --redefine-syms="$work/$side.map" "$work/$side.o"
}
build a "$work/a" "${EXTRA_A:-}"
build b "$root" "${EXTRA_B:-}"
clang -O2 -I "$root/Sources/CSparseConv/include" -I "$here" "$here/ab.c" "$work/a.o" "$work/b.o" \
  -fopenmp -L"$omp_lib" -lomp -Wl,-rpath,"$omp_lib" -lm -o "$out"
echo "built $out: A = $rev ($(git -C "$root" rev-parse --short "$rev")), B = working tree"
