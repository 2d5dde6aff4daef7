#!/usr/bin/env bash
# Copies the shared libraries a binary needs that a bare GPU machine lacks
# (OpenBLAS and its Fortran runtime, CMocka) into DEST, next to the binaries'
# $ORIGIN/../lib rpath, so the build folder runs there as it is.
# Usage: tools/bundle-libs.sh DEST BINARY...
set -eu
dest=$1; shift
mkdir -p "$dest"
for bin in "$@"; do
  ldd "$bin" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    case "$name" in
      libopenblas*|libgfortran*|libquadmath*|libcmocka*)
        # already bundled (the binary found it through its rpath): nothing to copy
        [ "$(realpath "$path")" = "$(realpath -m "$dest/$name")" ] || cp -L -u "$path" "$dest/$name" ;;
    esac
  done
done
