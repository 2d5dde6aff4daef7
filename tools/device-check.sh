#!/usr/bin/env bash
# Runs on the GPU machine (the device tool), from the repository root, over a build folder made
# elsewhere. Two phases, each well inside one 10-minute call:
#
#   tools/device-check.sh check   the CMocka suites, the CLI tests, ea-compare --backend all,
#                                 ea-mma-probe, compute-sanitizer memcheck and racecheck on the GPU
#                                 suite (add `full` for initcheck and synccheck too)
#   tools/device-check.sh bench   ea-bench-kernel (kernels 5 and 6) and the tensor-core peers, every
#                                 numbered kernel on the seed shape (--versions), kernel 6's floor
#                                 (--floor, bench/floor.cases), the scaling grid,
#                                 ea-bench-sync with its PyTorch peer and timeline
#   tools/device-check.sh tp      ea-bench-sync --tp over every size of 1, 2, 4, 8 that the machine's
#                                 GPUs allow (bs 8, 32, 128; prefix rand:0:512), with the timeline
#                                 of the largest (needs 2 GPUs or more, and NCCL at build time)
#
# Results go to $OUT: the bench phase names them after the card and packs them into one
# bench-results.tgz (the device tool brings back at most 8 files; unpack it with
# `tar xzf bench-results.tgz -C bench/results`); the check phase packs its logs into one logs.tgz.
# A summary ends the output.
set -u
phase=${1:-check}
out=${OUT:-/tmp/ea-device}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=8
summary=()
step() { # step NAME LOG command...
  local name=$1 log=$2; shift 2
  local t0=$(date +%s)
  "$@" >"$log" 2>&1; local rc=$?
  summary+=("$(printf '%-22s rc=%-3s %4ss  %s' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$(grep -E 'PASSED|FAILED|passed, |ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|bit for bit|DIFFERS|all passed' "$log" | tr '\n' ' ' | cut -c1-220)")")
}
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')
nvidia-smi -L
ldd build/tests/test_gpu | grep -E "not found" && echo "missing libraries"

if [ "$phase" = check ]; then
  logs=$(mktemp -d)
  for t in build/tests/test_*; do step "$(basename "$t")" "$logs/$(basename "$t").log" "$t"; done
  step cli_test "$logs/cli_test.log" bash tests/cli_test.sh build
  step ea-compare "$logs/compare.log" build/bin/ea-compare --cases tests/cases/default.cases --backend all
  step ea-mma-probe "$logs/probe.log" build/bin/ea-mma-probe --outputs 110000000
  for v in wgmma wgmma-a-shared wgmma-b-mn-major; do
    step "probe $v" "$logs/probe-$v.log" build/bin/ea-mma-probe --instruction $v --outputs 20000000
  done
  export EA_UNDER_SANITIZER=1
  step memcheck "$logs/memcheck.log" timeout 400 compute-sanitizer --tool memcheck --leak-check full build/tests/test_gpu
  step racecheck "$logs/racecheck.log" timeout 400 compute-sanitizer --tool racecheck build/tests/test_gpu
  if [ "${2:-}" = full ]; then
    step initcheck "$logs/initcheck.log" timeout 400 compute-sanitizer --tool initcheck build/tests/test_gpu
    step synccheck "$logs/synccheck.log" timeout 400 compute-sanitizer --tool synccheck build/tests/test_gpu
  fi
  unset EA_UNDER_SANITIZER
  cp "$logs/compare.log" "$out/compare.txt"
  cat "$logs/probe.log" "$logs"/probe-wgmma*.log > "$out/probe.txt"
  tar czf "$out/logs.tgz" -C "$logs" .
elif [ "$phase" = bench ]; then
  dump=$(mktemp -d) peers=$(mktemp -d)
  step bench-kernel "$out/kernel-$card.txt" build/bin/ea-bench-kernel --cases tests/cases/default.cases --dump "$dump"
  step versions "$out/kernel-versions-$card.txt" build/bin/ea-bench-kernel --cases tests/cases/default.cases --versions
  step floor "$out/kernel-floor-$card.txt" build/bin/ea-bench-kernel --cases bench/floor.cases --floor
  for c in seed_shape long_prefix gqa8_d128 no_prefix bf16_small; do cp "$dump/$c".* "$peers/"; done
  step peers "$out/kernel-peers-$card.txt" env PYTHONUNBUFFERED=1 timeout 300 python3 bench/peers/attention_peers.py "$peers"
  step bench-sync "$out/sync-$card.txt" build/bin/ea-bench-sync --kernel tc --csv "$out/sync-$card.csv" \
    --trace "$out/timeline-$card.json" --dump "$dump/batch.json"
  step sync-peer "$out/sync-peer-$card.txt" python3 bench/peers/sync_torch.py --batch "$dump/batch.json" \
    --ours "$out/sync-$card.csv"
  step timeline "$out/timeline.log" python3 bench/plot_timeline.py "$out/timeline-$card.json" "$out/timeline-$card.svg"
  rm -f "$out/timeline.log"
  step scaling "$out/kernel-scaling-$card.txt" build/bin/ea-bench-kernel --scaling --reps 10
  step scaling-peers "$out/kernel-scaling-peers-$card.txt" env PYTHONUNBUFFERED=1 timeout 480 \
    python3 bench/peers/attention_peers.py --scaling "$out/kernel-scaling-$card.txt"
  (cd "$out" && tar czf bench-results.tgz --remove-files -- *-"$card".*)
elif [ "$phase" = tp ]; then
  gpus=$(nvidia-smi -L | wc -l) sizes=""
  for n in 1 2 4 8; do [ "$n" -le "$gpus" ] && sizes="$sizes${sizes:+,}$n"; done
  name="sync-tp-$card-x$gpus" trace="timeline-tp-$card-x$gpus"
  step bench-sync-tp "$out/$name.txt" build/bin/ea-bench-sync --tp "$sizes" --bs 8,32,128 --prefix rand \
    --csv "$out/$name.csv" --trace "$out/$trace.json"
  step timeline-tp "$out/timeline.log" python3 bench/plot_timeline.py "$out/$trace.json" "$out/$trace.svg" \
    per_request batched device
  rm -f "$out/timeline.log"
else
  echo "usage: tools/device-check.sh check [full] | bench | tp"; exit 2
fi
# (the bench and tp phases write their results to $OUT: their summary is printed only)
if [ "$phase" = check ]; then printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"; else printf '%s\n' "${summary[@]}"; fi
