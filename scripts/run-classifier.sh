#!/usr/bin/env bash
# The honest classifier from nothing: Debian packages, the MNIST data, an
# optimised build, then cosnet-train with its defaults (one network for all
# ten digits, predict = argmax_k cos(f(x), v_k), no label read at test
# time), saving the classifier to build/mnist.cosnetcl, and cosnet-classify
# on five test digits written out as PGM files into build/digits/.
# Arguments are passed on to cosnet-train (try --help; --dataset fashion
# trains on Fashion-MNIST instead).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh >&2
COSNET_DATA=$(scripts/fetch-mnist.sh --print-dir)
export COSNET_DATA
if [ -d build ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
build/examples/cosnet-train --save build/mnist.cosnetcl "$@"
# Five test images as files, named by their true label, the way a user's
# own digits would come.
mkdir -p build/digits
python3 - "$COSNET_DATA" build/digits <<'PY'
import gzip, os, sys
source, target = sys.argv[1:3]
def read(name):
    path = os.path.join(source, name)
    return open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
images, labels = read("t10k-images-idx3-ubyte"), read("t10k-labels-idx1-ubyte")
for i in range(5):
    with open(os.path.join(target, "test-%d-is-%d.pgm" % (i, labels[8 + i])), "wb") as f:
        f.write(b"P5\n28 28\n255\n" + images[16 + 784 * i:16 + 784 * (i + 1)])
PY
build/examples/cosnet-classify build/mnist.cosnetcl build/digits
