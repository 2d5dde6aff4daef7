#!/usr/bin/env bash
# Profiles kernel 6 with Nsight Compute on the GPU machine (the device tool), from the repository
# root, over a build folder made elsewhere; writes $OUT/ncu-kernel6-<card>.txt, the file that
# bench/results/ keeps and README.md ("What limits it") and kernels/README.md quote.
#
# Each case runs `ea-bench-kernel --kernel tc`, and ncu profiles the second timed launch (the
# first launch is the bitwise check against the CPU): once for the sections below and the counters
# the README reads, once for the stall reasons in cycles per issued instruction. ncu locks the
# clocks, so its durations are longer than the benchmark's: read cycles and ratios.
# Usage: OUT=dir bash tools/ncu-kernel6.sh
set -u
out=${OUT:-/tmp/ea-device}
mkdir -p "$out"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' '-' | sed 's/-*$//')
file="$out/ncu-kernel6-$card.txt"
cases="tests/cases/default.cases:seed_shape tests/cases/default.cases:long_prefix tests/cases/default.cases:bf16_small bench/floor.cases:grid_1_4096_16"
counters=gpc__cycles_elapsed.max,sm__cycles_active.avg,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_active.avg.per_cycle_active,smsp__warps_eligible.avg.per_cycle_active
profile() { # profile CASEFILE NAME ncu-arguments...
  local cf=$1 name=$2; shift 2
  ncu "$@" -k regex:ea_attention_tc_kernel --launch-skip 2 --launch-count 1 \
    build/bin/ea-bench-kernel --cases "$cf" --only "$name" --kernel tc --reps 3 2>&1 |
    grep -v '^==PROF==\|^ea-bench-kernel\|^device:\|^case \|^[a-z_0-9]* *- ' || true
}
{
  echo "ncu (Nsight Compute) on kernel 6, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), $(date +%F): ea-bench-kernel --kernel tc, the second timed launch of each case (ncu locks the clocks, so its durations are longer than the benchmark's; read cycles and ratios). Sections: SpeedOfLight, ComputeWorkloadAnalysis, SchedulerStats, WarpStateStats, Occupancy, LaunchStats, MemoryWorkloadAnalysis."
  for c in $cases; do
    echo; echo "=== ${c#*:}"
    profile "${c%%:*}" "${c#*:}" --metrics "$counters" --section SpeedOfLight --section ComputeWorkloadAnalysis \
      --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats \
      --section MemoryWorkloadAnalysis
  done
  echo; echo "=== stall reasons, cycles per issued instruction (smsp__average_warps_issue_stalled_*_per_issue_active.ratio), same build"
  for c in $cases; do
    echo "=== ${c#*:}"
    profile "${c%%:*}" "${c#*:}" --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,gpu__time_duration.sum,smsp__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active' |
      sed 's/smsp__average_warps_issue_stalled_\(.*\)_per_issue_active.ratio/\1/'
  done
} > "$file"
echo "wrote $file"
