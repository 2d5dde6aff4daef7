#!/usr/bin/env bash
# Finds the libraries and tools the build needs and installs the missing
# Debian packages when it can (root), or prints the exact command to run.
# Prints one line per dependency so a newcomer sees what was found.
set -u
packages="libopenblas-dev libcmocka-dev doxygen graphviz pkg-config"

check() {
  missing=""
  if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists openblas || missing="$missing libopenblas-dev"
    pkg-config --exists cmocka   || missing="$missing libcmocka-dev"
  else
    missing="$missing pkg-config libopenblas-dev libcmocka-dev"
  fi
  command -v doxygen >/dev/null 2>&1 || missing="$missing doxygen"
  command -v dot     >/dev/null 2>&1 || missing="$missing graphviz"
}

check
if [ -n "$missing" ]; then
  echo "deps: missing:$missing"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing $packages"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $packages; } >/dev/null 2>&1 || {
      echo "deps: apt-get failed; run: apt-get update && apt-get install -y $packages" >&2; exit 1; }
    check
    [ -z "$missing" ] || { echo "deps: still missing:$missing" >&2; exit 1; }
  else
    echo "deps: run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $packages" >&2
    exit 1
  fi
fi
echo "deps: openblas $(pkg-config --modversion openblas), cmocka $(pkg-config --modversion cmocka), doxygen $(doxygen --version), $(dot -V 2>&1 | cut -d' ' -f1-5)"
# make passes the nvcc it chose (empty: none); run by hand, look on the PATH
nvcc_path=${NVCC-$(command -v nvcc 2>/dev/null)}
if [ -n "$nvcc_path" ] && [ -x "$nvcc_path" ]; then
  echo "deps: nvcc $("$nvcc_path" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') ($nvcc_path): CUDA parts will be built"
else
  echo "deps: nvcc not found: building the CPU parts only (the CUDA API will answer EA_ERR_NOT_BUILT)"
fi
