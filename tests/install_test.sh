#!/usr/bin/env bash
# The library as another project uses it: `make install` into a scratch PREFIX, then, from outside
# the source tree and with nothing but the installed copy:
#   - the files are there (libea.a, libea.so, ea.pc, every public header, the tools);
#   - each installed header compiles on its own (C, and C++ where there is a C++ compiler);
#   - tests/install/consumer.c, built with `pkg-config --cflags --libs ea`, linked against
#     libea.so, runs and gets the outputs known by hand; linked statically (pkg-config --static)
#     it runs without libea.so;
#   - the installed ea-compare runs a case file;
#   - DESTDIR moves the files and leaves the prefix in ea.pc; `make uninstall` removes them.
# Usage: tests/install_test.sh BUILD_DIR. MAKE: the make to run (make); SAN: sanitizer flags the
# library was built with (the consumer is built with them too).
set -u
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
make=${MAKE:-make}
san=${SAN:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fails=0
ok() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; [ -s "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -20; fails=$((fails + 1)); }

if ! "$make" -s --no-print-directory -C "$src" BUILD="$build" PREFIX="$prefix" install >"$tmp/log" 2>&1; then
  fail "make install PREFIX=$prefix"
  exit 1
fi
ok "make install PREFIX=<scratch>"

# the files, and the headers the Makefile calls public
headers=$("$make" -s --no-print-directory -C "$src" BUILD="$build" print-PUBLIC_HEADERS 2>/dev/null)
missing=""
for f in lib/libea.a lib/libea.so lib/pkgconfig/ea.pc bin/ea-compare bin/ea-determinism \
         $(for h in $headers; do echo "include/$(basename "$h")"; done); do
  [ -f "$prefix/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && [ -n "$headers" ] && ok "installed: libs, ea.pc, tools, $(echo $headers | wc -w) headers" ||
  { : >"$tmp/log"; fail "not installed:${missing:- (no PUBLIC_HEADERS)}"; }

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
cd "$tmp" || exit 1
cflags=$(pkg-config --cflags ea 2>"$tmp/log") && libs=$(pkg-config --libs ea 2>>"$tmp/log") &&
  static_libs=$(pkg-config --static --libs ea 2>>"$tmp/log") && ok "pkg-config ea: $cflags $libs" ||
  fail "pkg-config ea"
[ "$(pkg-config --variable=prefix ea)" = "$prefix" ] && ok "ea.pc prefix" || { : >"$tmp/log"; fail "ea.pc prefix"; }

# each header alone, with only the installed include folder
cxx=$(command -v c++ || command -v g++ || true)
for h in "$prefix"/include/*.h; do
  name=$(basename "$h")
  printf '#include <%s>\nint main(void) { return 0; }\n' "$name" >"$tmp/one.c"
  if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags -c "$tmp/one.c" -o "$tmp/one.o" >"$tmp/log" 2>&1 &&
     { [ -z "$cxx" ] || "$cxx" -x c++ -Wall -Werror $cflags -c "$tmp/one.c" -o "$tmp/one.o" >"$tmp/log" 2>&1; }; then
    ok "$name compiles on its own (C${cxx:+ and C++})"
  else
    fail "$name does not compile on its own with the installed headers"
  fi
done

# the consumer, shared: it must load the installed libea.so
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san "$src/tests/install/consumer.c" $cflags $libs \
     -Wl,-rpath,"$prefix/lib" -o consumer-shared >"$tmp/log" 2>&1; then
  ok "consumer builds against libea.so"
  if ldd ./consumer-shared | grep -q "libea.so => $prefix/lib/libea.so"; then ok "it loads the installed libea.so"
  else ldd ./consumer-shared >"$tmp/log"; fail "consumer-shared does not load $prefix/lib/libea.so"; fi
  ./consumer-shared >"$tmp/log" 2>&1 && ok "consumer (shared) runs: $(tail -1 "$tmp/log")" || fail "consumer (shared)"
else
  fail "consumer does not build against libea.so"
fi

# the consumer, static: libea.a and what pkg-config --static adds, no libea.so at run time
static_ea=" ${static_libs:-} "
static_ea=${static_ea/ -lea / $prefix/lib/libea.a }
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san "$src/tests/install/consumer.c" $cflags \
     $static_ea -o consumer-static >"$tmp/log" 2>&1; then
  ok "consumer builds against libea.a"
  if ldd ./consumer-static | grep -q libea; then ldd ./consumer-static >"$tmp/log"; fail "consumer-static needs libea.so"
  else ok "it needs no libea.so"; fi
  ./consumer-static >"$tmp/log" 2>&1 && ok "consumer (static) runs: $(tail -1 "$tmp/log")" || fail "consumer (static)"
else
  fail "consumer does not build against libea.a"
fi

# the installed tool
printf 'name=a bs=2 extend=9 prefix=4 hq=2 hkv=1 d=8\n' >"$tmp/one.cases"
"$prefix/bin/ea-compare" --cases "$tmp/one.cases" --backend cpu >"$tmp/log" 2>&1 &&
  ok "installed ea-compare: $(grep -o '[0-9]* passed, [0-9]* failed' "$tmp/log")" || fail "installed ea-compare"

# DESTDIR: the files move, ea.pc keeps the prefix; uninstall removes what install put there
stage=$tmp/stage
if "$make" -s --no-print-directory -C "$src" BUILD="$build" PREFIX=/opt/ea DESTDIR="$stage" install >"$tmp/log" 2>&1 &&
   [ -f "$stage/opt/ea/lib/libea.so" ] && grep -qx 'prefix=/opt/ea' "$stage/opt/ea/lib/pkgconfig/ea.pc"; then
  ok "DESTDIR=<stage> PREFIX=/opt/ea: files under the stage, ea.pc says /opt/ea"
else
  fail "DESTDIR install"
fi
if "$make" -s --no-print-directory -C "$src" BUILD="$build" PREFIX=/opt/ea DESTDIR="$stage" uninstall >"$tmp/log" 2>&1 &&
   [ -z "$(find "$stage" -type f)" ]; then
  ok "make uninstall leaves no file"
else
  find "$stage" -type f >>"$tmp/log"; fail "make uninstall left files"
fi

[ $fails = 0 ] && echo "install test: all checks hold" || echo "install test: $fails FAILED"
exit $((fails != 0))
