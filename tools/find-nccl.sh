#!/usr/bin/env bash
# Finds NCCL (for ea-bench-sync --tp) and prints one line: "INCLUDE_DIR LIB_DIR LIB_FILE", or
# nothing. Looks, in order, at:
#   $NCCL_HOME (include/, lib/ or lib64/)                  a user's own install
#   the CUDA toolkit ($1: include/, lib64/)                 where NVIDIA's NCCL packages for
#                                                           CUDA tarballs land
#   the system (/usr/include, the multiarch lib dir)       Debian's libnccl-dev
#   Python's nvidia.nccl (nvidia/nccl/{include,lib})       the CUDA 13 NCCL wheel, pip install
#                                                           nvidia-nccl-cu13 (PyTorch brings it)
# LIB_FILE is what the linker is given: libnccl.so where it exists, else the versioned
# libnccl.so.2 (wheels ship only that).
# Usage: tools/find-nccl.sh CUDA_HOME
set -u
cuda=${1:-/usr/local/cuda}

try() { # include_dir lib_dir...
  local inc=$1; shift
  [ -f "$inc/nccl.h" ] || return 1
  for lib in "$@"; do
    for f in libnccl.so libnccl.so.2; do
      if [ -e "$lib/$f" ]; then echo "$inc $lib $f"; exit 0; fi
    done
  done
  return 1
}

if [ -n "${NCCL_HOME:-}" ]; then
  try "$NCCL_HOME/include" "$NCCL_HOME/lib" "$NCCL_HOME/lib64"
  exit 0 # a NCCL_HOME without NCCL means: do not look elsewhere
fi
try "$cuda/include" "$cuda/lib64" "$cuda/lib"
try /usr/include "/usr/lib/$(gcc -print-multiarch 2>/dev/null)" /usr/lib64 /usr/lib
wheel=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) if nvidia.nccl.__file__ else list(nvidia.nccl.__path__)[0])' 2>/dev/null)
[ -n "$wheel" ] && try "$wheel/include" "$wheel/lib"
exit 0
