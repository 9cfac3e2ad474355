#!/usr/bin/env bash
# Builds host-check (host_check.c): whether the threads are whole cores right now.
#   Benchmarks/host-check/build.sh [OUT]    # builds OUT (default /tmp/sparseconv-host-check)
#   /tmp/sparseconv-host-check [SECONDS [THREADS]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
omp_inc=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
omp_lib=$(ls -d /usr/lib/llvm-*/lib 2>/dev/null | sort -V | tail -1)
if [ -z "$omp_inc" ] || [ -z "$omp_lib" ]; then
  echo "host-check: needs libomp (apt-get install -y libomp-dev)" >&2
  exit 1
fi
clang -O2 -fopenmp -I"$omp_inc" "$here/host_check.c" -L"$omp_lib" -lomp -Wl,-rpath,"$omp_lib" \
  -o "${1:-/tmp/sparseconv-host-check}"
