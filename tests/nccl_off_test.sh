#!/usr/bin/env bash
# Without NCCL, everything builds the same and `ea-bench-sync --tp` says it was not built (exit 2),
# while the one-GPU mode still runs. A separate build folder (make NCCL=0 BUILD=...), so the main
# build keeps its NCCL; the CUDA objects are shared (build/cuda), only the C side is compiled again
# (CUDA_ARCH, when set, is passed on: the shared CUDA objects stay as the main build made them).
set -u
cd "$(dirname "$0")/.."
[ -n "$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)" ] || { echo "nccl_off_test: no nvcc, nothing to check"; exit 0; }
build=build/nonccl
log=$(mktemp)
make -s -j"$(nproc)" NCCL=0 BUILD=$build ${CUDA_ARCH:+CUDA_ARCH="$CUDA_ARCH"} $build/bin/ea-bench-sync >"$log" 2>&1 || { cat "$log"; echo "nccl_off_test: FAIL: the build without NCCL failed"; exit 1; }
grep -q "NCCL: off (NCCL=0): ea-bench-sync --tp not built" "$log" || { cat "$log"; echo "nccl_off_test: FAIL: make did not say NCCL was off"; exit 1; }
ldd $build/bin/ea-bench-sync | grep -q nccl && { echo "nccl_off_test: FAIL: linked against NCCL all the same"; exit 1; }
out=$($build/bin/ea-bench-sync --tp 2 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--tp was not built" <<<"$out" || { echo "$out"; echo "nccl_off_test: FAIL: --tp gave rc=$rc, expected 2 and 'not built'"; exit 1; }
$build/bin/ea-bench-sync --layers 1 --repeats 3 --bs 1 --prefix 0 >/dev/null 2>&1 || { echo "nccl_off_test: FAIL: the one-GPU mode does not run"; exit 1; }
echo "nccl_off_test: all passed (built without NCCL; --tp: $out)"
