#!/usr/bin/env bash
# make bench: every benchmark, in one run, from the repository root.
# Without a GPU: the CPU-side timings (canonical vs OpenBLAS on the seed shape), then exit 0.
# With a GPU: also the kernel benchmark and its PyTorch peer, the sync benchmark (table, CSV,
# Chrome trace) and its PyTorch peer, and the timeline picture.
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
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')
dump=$(mktemp -d)
trap 'rm -rf "$dump"' EXIT
rc=0
echo "== kernel: ea-bench-kernel (default cases) and the SDPA peer"
"$build/bin/ea-bench-kernel" --cases tests/cases/default.cases --dump "$dump" | tee "$results/kernel-$card.txt" || rc=1
python3 bench/peers/sdpa_torch.py "$dump" | tee "$results/kernel-peer-$card.txt" || rc=1
echo "== sync: ea-bench-sync (36 layers) and the PyTorch peer"
"$build/bin/ea-bench-sync" --csv "$results/sync-$card.csv" --trace "$results/timeline-$card.json" \
    --dump "$dump/batch.json" | tee "$results/sync-$card.txt" || rc=1
python3 bench/peers/sync_torch.py --batch "$dump/batch.json" --ours "$results/sync-$card.csv" \
    | tee "$results/sync-peer-$card.txt" || rc=1
if python3 -c "import matplotlib" 2>/dev/null; then
  python3 bench/plot_timeline.py "$results/timeline-$card.json" "$results/timeline-$card.svg" || rc=1
else
  echo "== timeline picture skipped: matplotlib is not installed here; elsewhere run"
  echo "   python3 bench/plot_timeline.py $results/timeline-$card.json $results/timeline-$card.svg"
fi
exit $rc
