#!/usr/bin/env bash
# make fuzz needs clang with libFuzzer (Debian: clang and libclang-rt-NN-dev).
# Installs them when missing and running as root, else prints the command.
set -u
probe() { echo 'int LLVMFuzzerTestOneInput(const char*d,unsigned long n){return 0;}' |
  clang -x c -fsanitize=fuzzer - -o /tmp/ea-fuzz-probe.$$ >/dev/null 2>&1; local rc=$?; rm -f /tmp/ea-fuzz-probe.$$; return $rc; }
command -v clang >/dev/null 2>&1 && probe && exit 0
ver=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
pkgs="clang${ver:+ libclang-rt-$ver-dev}"
[ -n "$ver" ] || pkgs="clang libclang-rt-14-dev"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "fuzz-deps: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq $pkgs; } >/dev/null 2>&1
  probe && exit 0
fi
echo "fuzz-deps: clang with libFuzzer is missing; run: sudo apt-get update && sudo apt-get install -y $pkgs" >&2
exit 1
