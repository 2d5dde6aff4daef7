#!/usr/bin/env bash
# make bench: every benchmark, in one run, from the repository root.
# Without a GPU: the CPU-side timings (canonical vs OpenBLAS on the seed shape), then exit 0.
# With a GPU: also the kernel benchmark (kernels 5 and 6) and the tensor-core peers, every numbered
# kernel on the seed shape (its table goes into kernels/README.md), kernel 6's floor, the sync
# benchmark (table, CSV, Chrome trace) and its PyTorch peer, the timeline picture and the scaling
# grid (tools/device-check.sh bench); with two GPUs or more, the sync benchmark under tensor
# parallelism (tools/device-check.sh tp).
set -u
build=${BUILD:-build}
results=${RESULTS:-bench/results}
mkdir -p "$results"
echo "== CPU: canonical reference vs OpenBLAS on the seed shape"
"$build/bin/ea-compare" --cases tests/cases/default.cases --backend cpu --only seed_shape || exit 1
if ! nvidia-smi -L >/dev/null 2>&1 || [ ! -x "$build/bin/ea-bench-sync" ]; then
  echo "== no GPU (or no CUDA build): GPU benchmarks skipped"
  exit 0
fi
# The GPU steps are the bench phase of tools/device-check.sh, writing straight into the results.
OUT="$results" bash tools/device-check.sh bench
# tensor parallelism, where there are two GPUs or more
[ "$(nvidia-smi -L | wc -l)" -ge 2 ] && OUT="$results" bash tools/device-check.sh tp
# the per-kernel table of kernels/README.md, from this card's --versions run
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')
python3 bench/versions_table.py "$results/kernel-versions-$card.txt" kernels/README.md
