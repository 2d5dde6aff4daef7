#!/usr/bin/env bash
# The tools' contracts as commands: ea-compare exits 0 when every check holds, 2 with a one-line
# error on bad input; ea-determinism's counts. Usage: tests/cli_test.sh BUILD_DIR
set -u
bin="$1/bin/ea-compare"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() { # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
  elif [ "$want" = 2 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then
    echo "FAIL: $what: expected a one-line error, got:"; cat "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok: $what"
  fi
}
printf 'name=a bs=2 extend=9 prefix=4 hq=2 hkv=1 d=8\nname=b bs=1 extend=3 mask=rand d=4\n' >"$tmp/good.cases"
printf 'name=a bs=2 extend=9\nname=b bs=1 extend=3 hq=3\n' >"$tmp/bad.cases"
: >"$tmp/empty.cases"
expect 0 "good case file" -- "$bin" --cases "$tmp/good.cases"
# one output per token, values of both signs: outputs cancel, the tolerance must not fail them
printf 'name=a bs=1 extend=64 hq=1 hkv=1 dqk=128 dv=1\n' >"$tmp/cancel.cases"
expect 0 "dv=1 outputs that cancel" -- "$bin" --cases "$tmp/cancel.cases"
expect 0 "--only one case" -- "$bin" --cases "$tmp/good.cases" --only b
expect 0 "--backend all without a GPU backend" -- "$bin" --cases "$tmp/good.cases" --backend all
# --backend gpu: the GPU checks where there is a device, else exit 2 with "no CUDA device"
"$bin" --cases "$tmp/good.cases" --backend gpu >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] || { [ $rc = 2 ] && grep -q "no CUDA device\|not built" "$tmp/err"; }; then echo "ok: --backend gpu (exit $rc)"
else echo "FAIL: --backend gpu: exit $rc"; cat "$tmp/err"; fails=$((fails + 1)); fi
expect 2 "bad case file" -- "$bin" --cases "$tmp/bad.cases"
grep -q "line 2: key 'hkv'" "$tmp/err" || { echo "FAIL: message lacks line and key"; fails=$((fails + 1)); }
expect 2 "empty case file" -- "$bin" --cases "$tmp/empty.cases"
expect 2 "missing file" -- "$bin" --cases "$tmp/nope.cases"
expect 2 "unknown option" -- "$bin" --cases "$tmp/good.cases" --frobnicate
expect 2 "missing --cases" -- "$bin"
expect 2 "unknown backend" -- "$bin" --cases "$tmp/good.cases" --backend tpu
expect 2 "unknown --only" -- "$bin" --cases "$tmp/good.cases" --only zzz
expect 2 "unknown --kernel" -- "$bin" --cases "$tmp/good.cases" --kernel 7
grep -q "unknown kernel '7': 1 naive" "$tmp/err" || { echo "FAIL: --kernel 7 without the list"; fails=$((fails + 1)); }
expect 0 "--kernel by name (CPU tables; GPU ones where there is a device)" -- "$bin" --cases "$tmp/good.cases" --kernel gqa_blocking
# naming a kernel without --backend runs its GPU checks (or says why not), never the CPU tables alone
grep -q "GPU backend, kernel 3\|GPU checks skipped" "$tmp/out" ||
  { echo "FAIL: --kernel without --backend did not reach the GPU checks"; fails=$((fails + 1)); }
expect 0 "--kernel with --backend cpu: the CPU tables only" -- "$bin" --cases "$tmp/good.cases" --kernel 6 --backend cpu
grep -q "GPU" "$tmp/out" && { echo "FAIL: --backend cpu ran or mentioned the GPU checks"; fails=$((fails + 1)); }
# the benchmarks: bad arguments are refused before anything runs (with or without a GPU)
if [ -x "$1/bin/ea-bench-kernel" ]; then
  k="$1/bin/ea-bench-kernel"
  expect 2 "ea-bench-kernel: unknown option" -- "$k" --frobnicate
  expect 2 "ea-bench-kernel: unknown --kernel" -- "$k" --cases "$tmp/good.cases" --kernel 0
  expect 2 "ea-bench-kernel: huge --reps" -- "$k" --cases "$tmp/good.cases" --reps 99999999999999999999
  expect 2 "ea-bench-kernel: --reps 12abc" -- "$k" --cases "$tmp/good.cases" --reps 12abc
  expect 2 "ea-bench-kernel: missing file" -- "$k" --cases "$tmp/nope.cases"
  expect 2 "ea-bench-kernel: empty file" -- "$k" --cases "$tmp/empty.cases"
  printf 'name=days bs=1 extend=65536 prefix=1048576 hq=8 hkv=1 d=240\n' >"$tmp/days-bench.cases"
  expect 2 "ea-bench-kernel: a case over the limits" -- timeout 5 "$k" --cases "$tmp/days-bench.cases"
  grep -q "case 'days' needs .*, more than the limit of .* (--max-" "$tmp/err" ||
    { echo "FAIL: ea-bench-kernel: refusal without the need, the limit or the option"; fails=$((fails + 1)); }
  expect 2 "ea-bench-kernel: --max-gflop nan" -- "$k" --cases "$tmp/good.cases" --max-gflop nan
fi
if [ -x "$1/bin/ea-bench-sync" ]; then
  s="$1/bin/ea-bench-sync"
  expect 2 "ea-bench-sync: unknown option" -- "$s" --frobnicate
  expect 2 "ea-bench-sync: huge --repeats" -- "$s" --repeats 99999999999999999999
  expect 2 "ea-bench-sync: --layers 12abc" -- "$s" --layers 12abc
  expect 2 "ea-bench-sync: bad --bs" -- "$s" --bs 0,-3
fi
if [ -x "$1/bin/ea-mma-probe" ]; then
  p="$1/bin/ea-mma-probe"
  # a bad --instruction is refused before any device is touched (the usage follows the error line)
  "$p" --instruction wgmma2 >"$tmp/out" 2>"$tmp/err"; rc=$?
  if [ $rc = 2 ] &&
    head -1 "$tmp/err" | grep -q "instruction takes mma, wgmma, wgmma-a-shared or wgmma-b-mn-major"; then
    echo "ok: ea-mma-probe: unknown --instruction"
  else echo "FAIL: ea-mma-probe: unknown --instruction: exit $rc"; cat "$tmp/err"; fails=$((fails + 1)); fi
  # each wgmma layout probes where there is a device (0 when every output matches; a mismatch, 1, is
  # a failure here) and says "no CUDA device" or "needs an sm_90 card" (3) where it cannot
  for v in wgmma wgmma-a-shared wgmma-b-mn-major; do
    timeout 120 "$p" --instruction $v --outputs 12000 >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc = 0 ] && grep -q "instruction: wgmma.mma_async" "$tmp/out" && grep -q "bit for bit" "$tmp/out" ||
       { [ $rc = 3 ] && grep -q "no CUDA device\|needs an sm_90 card" "$tmp/out"; }; then
      echo "ok: ea-mma-probe --instruction $v (exit $rc)"
    else echo "FAIL: ea-mma-probe --instruction $v: exit $rc"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1)); fi
  done
fi
# 100,000 cases are parsed in well under a second (a parser quadratic in the cases took 22 s):
# --only a name that is not there parses the whole file, then stops; 10 s leaves room for sanitizers
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "name=c%d bs=4 extend=1,2,3,4 prefix=rand:0:9 d=8\n", i }' >"$tmp/many.cases"
expect 2 "100000 cases parse quickly" -- timeout 10 "$bin" --cases "$tmp/many.cases" --only zzz
grep -q "no case named 'zzz'" "$tmp/err" || { echo "FAIL: 100000 cases: not parsed"; fails=$((fails + 1)); }
# cases that pass validation but would need days or more memory than the machine has: refused
# before anything is allocated, in well under a second, naming the need and the option
printf 'name=days bs=1 extend=65536 prefix=1048576 hq=8 hkv=1 d=240\n' >"$tmp/days.cases"
printf 'name=oom bs=1024 extend=65536 hq=1 hkv=1 d=31\n' >"$tmp/oom.cases"
# (the default memory limit follows the machine: on one with 128 GB `days` fits in memory and is
# refused for its work instead; --max-bytes 16G pins the memory message on every machine)
for c in days oom; do
  expect 2 "$c: refused by the cost check" -- timeout 5 "$bin" --cases "$tmp/$c.cases"
  grep -q "case '$c' needs .*, more than the limit of .* (--max-" "$tmp/err" ||
    { echo "FAIL: $c: message lacks the need, the limit or the option"; cat "$tmp/err"; fails=$((fails + 1)); }
  expect 2 "$c: refused for its memory with --max-bytes 16G" -- timeout 5 "$bin" --cases "$tmp/$c.cases" --max-bytes 16G
  grep -q "case '$c' needs .* GB of host memory, more than the limit of .* (--max-bytes)" "$tmp/err" ||
    { echo "FAIL: $c: message lacks the memory need"; cat "$tmp/err"; fails=$((fails + 1)); }
  expect 2 "$c: refused for its work with --max-bytes 1T" -- timeout 5 "$bin" --cases "$tmp/$c.cases" --max-bytes 1T
  grep -q "case '$c' needs .* GFLOP per attention, more than the limit of 100 (--max-gflop)" "$tmp/err" ||
    { echo "FAIL: $c: message lacks the work"; cat "$tmp/err"; fails=$((fails + 1)); }
done
expect 2 "a small limit refuses a small case" -- "$bin" --cases "$tmp/good.cases" --max-bytes 1000
expect 0 "a large limit runs it" -- "$bin" --cases "$tmp/good.cases" --max-bytes 2G --max-gflop 0.01
expect 2 "--max-gflop below the work" -- "$bin" --cases "$tmp/good.cases" --max-gflop 0.000001
for bad in 0 -5 12x 1.5.3 ''; do
  expect 2 "--max-bytes '$bad'" -- "$bin" --cases "$tmp/good.cases" --max-bytes "$bad"
done
expect 2 "--max-gflop nan" -- "$bin" --cases "$tmp/good.cases" --max-gflop nan
expect 2 "ea-compare: huge numbers in a case" -- "$bin" --cases <(printf 'name=a bs=99999999999999999999 extend=1\n')
ls "$tmp" | grep -q tmp && { echo "FAIL: a partial output file was left"; fails=$((fails + 1)); }
# two cases, each checked in the canonical and in the tensor-core order
grep -q "4 passed, 0 failed" <("$bin" --cases "$tmp/good.cases") || { echo "FAIL: summary line"; fails=$((fails + 1)); }
# ea-determinism: on the CPU, the canonical reference gives one output per prompt and the two-stage
# design more than one, whatever the tool's own verdict says (the lines are read here)
det="$1/bin/ea-determinism"
"$det" --samples 40 --backend cpu >"$tmp/det" 2>&1
if awk '/^CPU canonical/ {s = "c"} /^CPU two-stage/ {s = "t"} /^GPU/ {s = ""}
        /Unique samples:/ {n = $NF; if (s == "c") {c++; if (n != 1) bad = 1} if (s == "t") {t++; if (n < 2) bad = 1}}
        END {exit !(c == 4 && t == 4 && !bad)}' "$tmp/det"; then echo "ok: ea-determinism: canonical 1, two-stage > 1"
else echo "FAIL: ea-determinism:"; cat "$tmp/det"; fails=$((fails + 1)); fi
expect 2 "ea-determinism: --samples 1" -- "$det" --samples 1
expect 2 "ea-determinism: --samples 12abc" -- "$det" --samples 12abc
expect 2 "ea-determinism: unknown backend" -- "$det" --backend tpu
[ "$fails" = 0 ] && echo "cli_test: all passed" || { echo "cli_test: $fails failed"; exit 1; }
