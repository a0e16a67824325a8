#!/usr/bin/env bash
# Installs a build into a temporary prefix and checks what an outside user
# sees: pkg-config finds cosnet, a ten-line program compiles and links
# against it and runs, and the shared library exports only cosnet_ names.
# Usage: scripts/check-install.sh [BUILDDIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

prefix="$stage/prefix"
meson configure "$builddir" -Dprefix="$prefix" >/dev/null
meson install -C "$builddir" --quiet >/dev/null
pcdir=$(dirname "$(find "$prefix" -name cosnet.pc | head -n1)")
export PKG_CONFIG_PATH="$pcdir"

cat > "$stage/app.c" <<'C'
#include <cosnet.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    printf("libcosnet %s\n", cosnet_version());
    return strcmp(cosnet_version(), COSNET_VERSION_STRING) != 0;
}
C
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror "$stage/app.c" -o "$stage/app" \
  $(pkg-config --cflags --libs cosnet)
libdir=$(pkg-config --variable=libdir cosnet)
LD_LIBRARY_PATH="$libdir" "$stage/app"
# The same header must compile as C++.
if command -v g++ >/dev/null 2>&1; then
  cp "$stage/app.c" "$stage/app.cpp"
  g++ -Wall -Wextra -Werror "$stage/app.cpp" -o "$stage/app_cpp" \
    $(pkg-config --cflags --libs cosnet)
  LD_LIBRARY_PATH="$libdir" "$stage/app_cpp" >/dev/null
fi

shared=$(find "$prefix" -name 'libcosnet.so.0' | head -n1)
soname=$(objdump -p "$shared" | awk '/SONAME/ {print $2}')
[ "$soname" = "libcosnet.so.0" ] || { echo "unexpected soname: $soname"; exit 1; }
foreign=$(nm -D --defined-only "$shared" | awk '{print $3}' | grep -v '^cosnet_' | grep -v '^COSNET_0$' || true)
if [ -n "$foreign" ]; then
  echo "exported names without the cosnet_ prefix:"; echo "$foreign"; exit 1
fi
echo "install check: pkg-config ok, outside program ok, soname $soname," \
  "$(nm -D --defined-only "$shared" | grep -c ' cosnet_') exported cosnet_ symbols and nothing else"
# Leave the build's prefix as it was configured by default.
meson configure "$builddir" -Dprefix=/usr/local >/dev/null
