#!/usr/bin/env bash
# Runs on the GPU machine (the device tool), from the repository root, over a
# build folder made elsewhere: the GPU suite, ea-compare on the default cases,
# compute-sanitizer, and the kernel benchmark. Logs go to $OUT; a summary
# ends the output.
set -u
out=${OUT:-/tmp/ea-device}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=8
summary=()
step() { # step NAME LOG command...
  local name=$1 log=$2; shift 2
  local t0=$(date +%s)
  "$@" >"$out/$log" 2>&1; local rc=$?
  summary+=("$(printf '%-22s rc=%-3s %4ss  %s' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$(grep -E 'PASSED|FAILED|passed, |ERROR SUMMARY|RACECHECK SUMMARY|all passed' "$out/$log" | tr '\n' ' ' | cut -c1-150)")")
}
nvidia-smi -L | tee "$out/device.txt"
ldd build/tests/test_gpu | grep -E "not found" && echo "missing libraries"
for t in build/tests/test_*; do step "$(basename "$t")" "$(basename "$t").log" "$t"; done
step cli_test cli_test.log bash tests/cli_test.sh build
step ea-compare compare.log build/bin/ea-compare --cases tests/cases/default.cases --backend all
export EA_UNDER_SANITIZER=1
step memcheck memcheck.log timeout 900 compute-sanitizer --tool memcheck --leak-check full build/tests/test_gpu
step racecheck racecheck.log timeout 900 compute-sanitizer --tool racecheck build/tests/test_gpu
step initcheck initcheck.log timeout 900 compute-sanitizer --tool initcheck build/tests/test_gpu
step synccheck synccheck.log timeout 900 compute-sanitizer --tool synccheck build/tests/test_gpu
unset EA_UNDER_SANITIZER
step bench-kernel bench_kernel.log build/bin/ea-bench-kernel --cases tests/cases/default.cases
# what limits the kernel on the seed shape: one profiled launch
step ncu ncu.log timeout 300 ncu --kernel-name ea_attention_kernel --launch-skip 1 --launch-count 1 \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section ComputeWorkloadAnalysis \
  build/bin/ea-bench-kernel --cases tests/cases/default.cases --only seed_shape --reps 3
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
tail -n 40 "$out/compare.log"
cat "$out/bench_kernel.log"
grep -E "Duration|Throughput|Achieved Occupancy|Theoretical Occupancy|Registers|Block Limit|Stall|Issue Slots|Executed Ipc|Warp Cycles" "$out/ncu.log" | head -40
