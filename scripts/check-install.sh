#!/usr/bin/env bash
# Installs a build into a temporary prefix and checks what an outside user
# sees:
#  - the shared library exports exactly the functions of include/cosnet.h,
#    under symbol versions, with soname libcosnet.so.0;
#  - libcosnet.a defines exactly those names too (its internals are
#    localised), and a program defining its own error_set and kernels_active
#    links statically against it and runs;
#  - the three consumers of tests/consumers build and run: pkg-config (shared
#    and static), CMake find_package (with its version rules), meson against
#    the installed library and as a subproject (shared and static);
#  - an installed program runs from the prefix without LD_LIBRARY_PATH and
#    loads the prefix's library; docs and man pages are installed.
# Usage: scripts/check-install.sh [BUILDDIR]   (default: build)
set -euo pipefail
. "$(dirname "$0")/builddir-argument.sh"
builddir_argument check-install "$@"
cd "$(dirname "$0")/.."
root=$PWD
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
. scripts/install-temp.sh

fail() { echo "check-install: $*" >&2; exit 1; }

prefix="$stage/prefix"
install_temp "$builddir" "$prefix"
pcdir=$(dirname "$(find "$prefix" -name cosnet.pc | head -n1)")
export PKG_CONFIG_PATH="$pcdir"
libdir=$(pkg-config --variable=libdir cosnet)
[ "$libdir" = "$(cd "$pcdir/.." && pwd)" ] || fail "cosnet.pc libdir $libdir is not where it lies"

declared=$(grep -o 'cosnet_[a-z_0-9]*(' include/cosnet.h | tr -d '(' | sort -u)
same_names() { # same_names WHAT NAMES: NAMES must equal the header's functions
  local extra missing
  extra=$(comm -13 <(echo "$declared") <(echo "$2"))
  missing=$(comm -23 <(echo "$declared") <(echo "$2"))
  if [ -n "$extra" ] || [ -n "$missing" ]; then
    [ -n "$extra" ] && echo "$1 defines names the header does not declare:" $extra >&2
    [ -n "$missing" ] && echo "$1 lacks functions of the header:" $missing >&2
    exit 1
  fi
}

# The shared library: soname, exactly the public functions, versioned.
shared="$libdir/libcosnet.so.0"
[ -f "$shared" ] || fail "no $shared"
soname=$(objdump -p "$shared" | awk '/SONAME/ {print $2}')
[ "$soname" = "libcosnet.so.0" ] || fail "unexpected soname: $soname"
dynamic=$(nm -D --defined-only "$shared" | awk '{print $3}')
same_names "$shared" "$(echo "$dynamic" | grep -v '^COSNET_' | sed 's/@.*//' | sort -u)"
unversioned=$(objdump -T "$shared" | awk '$2 == "g" && $NF ~ /^cosnet_/ && $(NF-1) !~ /^COSNET_0\./ {print $NF}')
[ -z "$unversioned" ] || fail "exported without a COSNET_0.x version: $unversioned"

# The static archive: one object, only cosnet_ names defined globally.
static="$libdir/libcosnet.a"
[ -f "$static" ] || fail "no $static"
same_names "$static" "$(nm -g --defined-only "$static" | awk 'NF == 3 {print $3}' | sort -u)"
cc -std=c99 -Wall -Wextra -Werror $(pkg-config --cflags cosnet) \
  tests/consumers/static/main.c -o "$stage/static-consumer" \
  "$static" $(pkg-config --static --libs cosnet | sed 's/ -lcosnet\b//; s/^-lcosnet\b//')
if readelf -d "$stage/static-consumer" | grep -q 'libcosnet'; then
  fail "the static consumer needs the shared library"
fi
env -u LD_LIBRARY_PATH "$stage/static-consumer"

# pkg-config: the shared library, then the static one; the header as C++.
cp -r tests/consumers "$stage/consumers"
consumers="$stage/consumers"
make -s -C "$consumers/pkgconfig" >/dev/null
LD_LIBRARY_PATH="$libdir" "$consumers/pkgconfig/consumer"
make -s -C "$consumers/pkgconfig" clean
make -s -C "$consumers/pkgconfig" STATIC=1 >/dev/null
readelf -d "$consumers/pkgconfig/consumer" | grep -q libcosnet && fail "STATIC=1 consumer needs libcosnet.so"
env -u LD_LIBRARY_PATH "$consumers/pkgconfig/consumer" | sed 's/$/ (static)/'
if command -v g++ >/dev/null 2>&1; then
  cp "$consumers/pkgconfig/main.c" "$stage/app.cpp"
  g++ -Wall -Wextra -Werror "$stage/app.cpp" -o "$stage/app_cpp" \
    $(pkg-config --cflags --libs cosnet)
  LD_LIBRARY_PATH="$libdir" "$stage/app_cpp" >/dev/null
fi

# CMake: find_package with the version rules of docs/abi.md.
cmake_build() { # cmake_build DIR ARGS...: configure and build the consumer
  local dir=$1; shift
  cmake -S "$consumers/cmake" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" "$@" >"$dir.log" 2>&1 &&
    cmake --build "$dir" >>"$dir.log" 2>&1
}
cmake_build "$stage/cmake" || { cat "$stage/cmake.log"; fail "CMake consumer failed"; }
"$stage/cmake/consumer" | sed 's/$/ (find_package 0.2)/'
cmake_build "$stage/cmake-static" -DCOSNET_USE_STATIC_LIBS=ON ||
  { cat "$stage/cmake-static.log"; fail "CMake static consumer failed"; }
readelf -d "$stage/cmake-static/consumer" | grep -q libcosnet && fail "COSNET_USE_STATIC_LIBS consumer needs libcosnet.so"
"$stage/cmake-static/consumer" | sed 's/$/ (static)/'
for request in 0.1 0.2.0 0.1...0.3; do
  cmake_build "$stage/cmake-ok" -DCOSNET_REQUEST="$request" ||
    { cat "$stage/cmake-ok.log"; fail "find_package(cosnet $request) refused"; }
  rm -rf "$stage/cmake-ok"
done
for request in 0.3 1.0 0.0.9; do
  if cmake_build "$stage/cmake-no" -DCOSNET_REQUEST="$request"; then
    fail "find_package(cosnet $request) accepted version 0.2"
  fi
  rm -rf "$stage/cmake-no"
done
echo "cmake consumer: find_package accepts 0.1, 0.2.0, 0.1...0.3; refuses 0.3, 1.0, 0.0.9"

# meson: against the installed library, then as a subproject.
meson setup "$stage/meson-installed" "$consumers/meson" >"$stage/meson.log" 2>&1 ||
  { cat "$stage/meson.log"; fail "meson consumer setup failed"; }
ninja -C "$stage/meson-installed" >>"$stage/meson.log" 2>&1 || { cat "$stage/meson.log"; fail "meson consumer build failed"; }
LD_LIBRARY_PATH="$libdir" "$stage/meson-installed/consumer" | sed 's/$/ (installed)/'
mkdir -p "$consumers/meson/subprojects"
ln -s "$root" "$consumers/meson/subprojects/cosnet"
for library in shared static; do
  dir="$stage/meson-sub-$library"
  env -u PKG_CONFIG_PATH meson setup "$dir" "$consumers/meson" --force-fallback-for=cosnet \
    -Ddefault_library=$library >"$dir.log" 2>&1 || { cat "$dir.log"; fail "meson subproject setup failed"; }
  grep -q "Subproject cosnet finished" "$dir.log" || fail "cosnet was not built as a subproject"
  ninja -C "$dir" >>"$dir.log" 2>&1 || { cat "$dir.log"; fail "meson subproject build ($library) failed"; }
  needs=no; readelf -d "$dir/consumer" | grep -q 'libcosnet.so' && needs=yes
  [ "$library/$needs" = shared/yes ] || [ "$library/$needs" = static/no ] ||
    fail "default_library=$library: consumer needs libcosnet.so: $needs"
  # Nothing of cosnet is installed unless the parent asks.
  installed=$(meson introspect --installed "$dir")
  [ "$installed" = "{}" ] || fail "a subproject build installs: $installed"
  # Tests, examples and benchmarks are off in a subproject.
  if meson introspect --targets "$dir" | grep -q '"name": "\(test_\|bench_\|cosnet-mnist\)'; then
    fail "the subproject builds tests, benchmarks or examples"
  fi
  "$dir/consumer" | sed "s/\$/ (subproject, $library)/"
done

# The installed programs find the prefix's library by their relative rpath.
program="$prefix/bin/cosnet-info"
if [ -x "$program" ]; then
  loaded=$(env -u LD_LIBRARY_PATH ldd "$program" | awk '/libcosnet/ {print $3}')
  [ "$(realpath "$loaded")" = "$(realpath "$libdir/libcosnet.so.0")" ] ||
    fail "$program loads '$loaded', not the prefix's library"
  env -u LD_LIBRARY_PATH "$program" --help >/dev/null || fail "$program --help failed"
fi

# Docs and man pages.
for f in share/doc/cosnet/README.md share/doc/cosnet/COPYING share/doc/cosnet/docs/guide.md \
         share/doc/cosnet/docs/abi.md share/man/man3/libcosnet.3; do
  [ -s "$prefix/$f" ] || fail "$f is not installed"
done
[ ! -x "$program" ] || [ -s "$prefix/share/man/man1/cosnet-info.1" ] || fail "cosnet-info.1 is not installed"

echo "install check: soname $soname; $(echo "$declared" | wc -l) functions exported by libcosnet.so" \
  "and defined by libcosnet.a, nothing else; static link beside error_set/kernels_active ok;" \
  "pkg-config, CMake and meson (installed, subproject shared/static) consumers ok;" \
  "installed programs run without LD_LIBRARY_PATH"
