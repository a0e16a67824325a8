#!/usr/bin/env bash
# Runs the example programs under valgrind's memcheck and fails on any leak
# or memory error: cosnet-info on the real MNIST, cosnet-mnist through a short
# training run, --save/--load and its error paths on a small slice of MNIST
# (valgrind runs code ~50x slower, so the full 70,000-image evaluation is
# left to the sanitizer build).
# Usage: scripts/check-valgrind.sh [BUILDDIR]   (needs COSNET_DATA or the cache)
set -euo pipefail
. "$(dirname "$0")/builddir-argument.sh"
builddir_argument check-valgrind "$@"
# A relative COSNET_DATA names a folder under where the script was started.
case "${COSNET_DATA:-}" in ""|/*) ;; *) COSNET_DATA=$PWD/$COSNET_DATA ;; esac
cd "$(dirname "$0")/.."
data=${COSNET_DATA:-$(scripts/fetch-mnist.sh --print-dir)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# valgrind does not emulate AVX-512 and runs the AVX2 kernels about 5x
# slower than the scalar ones; the SIMD kernels' memory safety is held by the
# sanitizer build and test_kernels' guard pages, so valgrind runs the
# reference kernels.
export COSNET_ISA=scalar
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible)

bytes() { # bytes FILE SKIP COUNT: COUNT bytes of FILE after the first SKIP
  dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 status=none
}
# A slice of MNIST: the first N images and labels, rewritten with a new count.
slice() { # slice SRC_IMAGES SRC_LABELS N DST_PREFIX
  local n=$3 count
  count=$(printf '%08x' "$n")
  { printf '\x00\x00\x08\x03'; printf "\\x${count:0:2}\\x${count:2:2}\\x${count:4:2}\\x${count:6:2}"
    printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'; bytes "$1" 16 $((n * 784)); } > "$4-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; printf "\\x${count:0:2}\\x${count:2:2}\\x${count:4:2}\\x${count:6:2}"
    bytes "$2" 8 "$n"; } > "$4-labels-idx1-ubyte"
}
mkdir -p "$work/data"
slice "$data/train-images-idx3-ubyte" "$data/train-labels-idx1-ubyte" 300 "$work/data/train"
slice "$data/t10k-images-idx3-ubyte" "$data/t10k-labels-idx1-ubyte" 100 "$work/data/t10k"

status=0
run() { # run EXPECTED_EXIT DESCRIPTION COMMAND...
  local expected=$1 what=$2; shift 2
  local code=0
  "${vg[@]}" "$@" >"$work/out" 2>"$work/err" || code=$?
  if [ "$code" -eq 99 ] || [ "$code" -ne "$expected" ]; then
    echo "valgrind: $what: exit $code (expected $expected)"; cat "$work/err"; status=1
  else
    echo "valgrind: $what: clean"
  fi
}
bin="$builddir/examples"
run 0 "cosnet-info on MNIST" "$bin/cosnet-info" --data "$data"
run 0 "cosnet-info generating labels" "$bin/cosnet-info" --data "$work/data" --labels generate --label-seed 4
run 0 "cosnet-mnist short run with --save" "$bin/cosnet-mnist" --data "$work/data" \
  --epochs 2 --batches 2 --batch-size 10 --threads 2 --quiet --save "$work/models" --json "$work/run.json"
run 0 "cosnet-mnist --load" "$bin/cosnet-mnist" --data "$work/data" --load "$work/models" --quiet
run 0 "cosnet-info on saved models" "$bin/cosnet-info" "$work/models/digit-0.cosnet" "$work/models/digit-1.cosnet"
run 1 "cosnet-mnist on a missing folder" "$bin/cosnet-mnist" --data "$work/nowhere" --quiet
printf 'garbage' > "$work/models/digit-3.cosnet"
run 1 "cosnet-mnist --load with a damaged model" "$bin/cosnet-mnist" --data "$work/data" --load "$work/models" --quiet
run 1 "cosnet-info on a damaged and a good model" "$bin/cosnet-info" "$work/models/digit-3.cosnet" "$work/models/digit-0.cosnet"
run 2 "cosnet-mnist --epochs 0" "$bin/cosnet-mnist" --epochs 0
exit $status
