#!/usr/bin/env bash
# Compares the ABI of the current libcosnet.so with the committed baseline of
# the last release (abi/libcosnet-*.abi, the newest) using libabigail's
# abidiff, and fails on any change but added functions: a removed function,
# a changed signature, a changed type, a changed symbol version. See
# docs/abi.md for the policy and for when the baseline is renewed.
#
# Usage: scripts/check-abi.sh [BUILDDIR]
#          compare; BUILDDIR (default build-abi) is set up here as a debug
#          build of the library alone, since abidiff needs debug info
#        scripts/check-abi.sh --baseline REV VERSION
#          write abi/libcosnet-VERSION.abi from git revision REV (the release
#          commit), built with this tree's lib/cosnet.map cut to the nodes of
#          releases up to VERSION (e.g. --baseline e66d788 0.1)
set -euo pipefail
usage() { sed -n '8,14p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --baseline) ;;
  -*) echo "check-abi: unknown option $1 (--help for the usage)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || [ "$1" = --baseline ] || { echo "check-abi: one BUILDDIR at most" >&2; exit 2; }
# BUILDDIR as the caller meant it, before moving to the repository.
builddir=
if [ -n "${1:-}" ] && [ "$1" != --baseline ]; then
  builddir=$1
  case "$builddir" in /*) ;; *) builddir=$PWD/$builddir ;; esac
fi
cd "$(dirname "$0")/.."
root=$PWD
builddir=${builddir:-$root/build-abi}
. scripts/meson-build.sh
command -v abidiff >/dev/null || { echo "check-abi: abidiff missing (apt-get install abigail-tools)" >&2; exit 1; }
# library BUILDDIR: the libcosnet.so.X.Y.Z of the version BUILDDIR is set up
# for (a folder kept across a version bump still holds the older one).
library() {
  local version so
  version=$(meson introspect --projectinfo "$1" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
  so=$1/lib/libcosnet.so.$version
  [ -f "$so" ] || { echo "check-abi: no $so after the build" >&2; return 1; }
  echo "$so"
}

library_only=(-Dbuildtype=debug -Dtests=false -Dexamples=false -Dbenchmarks=false
              -Ddefault_library=shared)

if [ "${1:-}" = "--baseline" ]; then
  rev=${2:?revision}; version=${3:?version, e.g. 0.1}
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  git archive "$rev" | tar -x -C "$work"
  # The map of that release: the COSNET_x.y nodes up to and including
  # COSNET_$version, as they stand in this tree (released nodes never change).
  python3 - "$root/lib/cosnet.map" "$version" > "$work/lib/cosnet.map" <<'PY'
import re, sys
text, last = open(sys.argv[1]).read(), tuple(int(x) for x in sys.argv[2].split("."))
for name, body in re.findall(r"^(COSNET_[0-9.]+) (\{.*?^\}[^;]*;)", text, re.S | re.M):
    if tuple(int(x) for x in name[len("COSNET_"):].split(".")) <= last:
        print(name, body.replace("cosnet_*;", "") if "cosnet_*;" in body else body)
PY
  grep -q "COSNET_$version {" "$work/lib/cosnet.map" || { echo "check-abi: no node COSNET_$version in lib/cosnet.map" >&2; exit 1; }
  logged "meson setup (revision $rev)" meson setup "$work/build" "$work" "${library_only[@]}"
  logged "ninja (revision $rev)" ninja -C "$work/build"
  so=$(library "$work/build")
  abidw --no-corpus-path --no-comp-dir-path --drop-private-types \
    --headers-dir "$work/include" --out-file "abi/libcosnet-$version.abi" "$so"
  echo "check-abi: wrote abi/libcosnet-$version.abi from $rev ($(basename "$so")," \
    "$(grep -c '<elf-symbol name=.cosnet_' "abi/libcosnet-$version.abi") function symbols)"
  exit 0
fi

build_dir "$builddir" "${library_only[@]}"
so=$(library "$builddir")
baseline=$(ls abi/libcosnet-*.abi | sort -V | tail -n1)

report=$(mktemp); trap 'rm -f "$report"' EXIT
status=0
abidiff --suppressions abi/suppressions.ini --drop-private-types \
  --headers-dir2 include "$baseline" "$so" >"$report" 2>&1 || status=$?
# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change (a removed symbol). Added functions are
# suppressed, so any change left, compatible or not, fails the check.
if [ $((status & 3)) -ne 0 ]; then
  cat "$report"; echo "check-abi: abidiff failed to run (status $status)" >&2; exit 1
fi
if [ $((status & 12)) -ne 0 ]; then
  cat "$report"
  echo "check-abi: $(basename "$so") is not ABI-compatible with $baseline" \
    "(abidiff status $status$([ $((status & 8)) -ne 0 ] && echo ', incompatible'))" >&2
  exit 1
fi
added=$(abidiff "$baseline" "$so" | sed -n 's/.*[^0-9]\([0-9]\+\) Added functions\{0,1\}.*/\1/p' | head -n1 || true)
echo "ABI check: $(basename "$so") keeps every function and type of $baseline" \
  "(${added:-0} functions added)"
