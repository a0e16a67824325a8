#!/usr/bin/env bash
# From nothing to the article's pipeline: Debian packages, the MNIST data,
# an optimised build, then cosnet-mnist with the article's defaults (the
# author's labels, 20 epochs, 25 batches of 20 images per digit).
# Arguments are passed on to cosnet-mnist (try --help); it runs in the
# folder this script was started from, so relative paths (--report
# report.html) are relative to it. The build is the repository's build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/meson-build.sh"
"$root/scripts/setup-debian.sh" >&2
COSNET_DATA=$("$root/scripts/fetch-mnist.sh" --print-dir)
export COSNET_DATA
build_dir "$root/build"
exec "$root/build/examples/cosnet-mnist" "$@"
