#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for SparseConv: OpenMP for the C
# kernels. Idempotent and quiet when everything is there.
set -euo pipefail
if ! compgen -G "/usr/lib/llvm-*/lib/libomp.so" >/dev/null && ! compgen -G "/usr/lib/*/libomp.so" >/dev/null; then
  echo "bootstrap: installing libomp-dev (OpenMP) ..." >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libomp-dev >/dev/null
fi
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
