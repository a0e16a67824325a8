#!/usr/bin/env bash
# The honest classifier from nothing: Debian packages, the MNIST data, an
# optimised build, then cosnet-train with its defaults (one network for all
# ten digits, predict = argmax_k cos(f(x), v_k), no label read at test
# time), saving the classifier to build/mnist.cosnetcl (or to the file of
# your --save), and cosnet-classify on five test images of the data trained
# on (--dataset, --data), written out as PGM files into build/digits/.
# Arguments are passed on to cosnet-train (try --help; --dataset fashion
# trains on Fashion-MNIST instead); --help and --version only print
# cosnet-train's. cosnet-train runs in the folder this script was started
# from, so relative paths are relative to it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/meson-build.sh"
train=$root/build/examples/cosnet-train classify=$root/build/examples/cosnet-classify

# What the arguments say about the data and the saved file (cosnet-train
# takes a value as the next argument or after '=').
dataset=mnist data="" save="" info_only=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  arg=${args[$i]} value=""
  case "$arg" in
    -h|--help|--version) info_only=1; continue ;;
    --quiet) continue ;;
    --*=*) value=${arg#*=} arg=${arg%%=*} ;;
    --*) i=$((i + 1)); value=${args[$i]:-} ;;
    *) continue ;;
  esac
  case "$arg" in
    --dataset) dataset=$value ;;
    --data) data=$value ;;
    --save) save=$value ;;
  esac
done

"$root/scripts/setup-debian.sh" >&2
build_dir "$root/build"
[ "$info_only" = 0 ] || exec "$train" "$@"

COSNET_DATA=$("$root/scripts/fetch-mnist.sh" --print-dir)
export COSNET_DATA
if [ -z "$data" ]; then
  case "$dataset" in
    fashion) data=/usr/share/datasets/fashion-mnist ;;
    *) data=$COSNET_DATA ;;
  esac
fi
if [ -n "$save" ]; then
  "$train" "$@"
else
  save=$root/build/mnist.cosnetcl
  "$train" --save "$save" "$@"
fi
# Five test images of the data trained on as files, named by their true
# label, the way a user's own images would come.
digits=$root/build/digits
mkdir -p "$digits"
rm -f "$digits"/test-*-is-*.pgm
python3 - "$data" "$digits" <<'PY'
import gzip, os, struct, sys
source, target = sys.argv[1:3]
def read(name):
    path = os.path.join(source, name)
    return open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
images, labels = read("t10k-images-idx3-ubyte"), read("t10k-labels-idx1-ubyte")
rows, columns = struct.unpack(">II", images[8:16])
size = rows * columns
for i in range(5):
    with open(os.path.join(target, "test-%d-is-%d.pgm" % (i, labels[8 + i])), "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (columns, rows) + images[16 + size * i:16 + size * (i + 1)])
PY
"$classify" -- "$save" "$digits"
