#!/usr/bin/env bash
# From nothing to the article's pipeline: Debian packages, the MNIST data,
# an optimised build, then cosnet-mnist with the article's defaults (the
# author's labels, 20 epochs, 25 batches of 20 images per digit).
# Arguments are passed on to cosnet-mnist (try --help).
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
exec build/examples/cosnet-mnist "$@"
