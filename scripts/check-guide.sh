#!/usr/bin/env bash
# Keeps the code of docs/guide.md true. Every ```c block is a complete
# program, or is marked ```c fragment; any other info string on a C block
# fails. Each complete program must follow .clang-format, and is compiled against the library installed
# (from BUILDDIR) in a temporary prefix, through pkg-config, with -Wall
# -Wextra -Werror and AddressSanitizer (whose leak check then covers what
# the library allocated too), and run as
#     PROGRAM "$COSNET_DATA" 1
# (the MNIST folder and a short run: the pipeline reads it as one epoch).
# Usage: scripts/check-guide.sh [BUILDDIR]   (default: build)
# Environment: COSNET_DATA, default ${XDG_CACHE_HOME:-~/.cache}/cosnet/mnist
set -euo pipefail
. "$(dirname "$0")/builddir-argument.sh"
builddir_argument check-guide "$@"
# A relative COSNET_DATA names a folder under where the script was started.
case "${COSNET_DATA:-}" in ""|/*) ;; *) COSNET_DATA=$PWD/$COSNET_DATA ;; esac
cd "$(dirname "$0")/.."
guide=docs/guide.md
data=${COSNET_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist}
[ -f "$data/train-images-idx3-ubyte" ] || [ -f "$data/train-images-idx3-ubyte.gz" ] ||
  { echo "check-guide: no MNIST in $data (scripts/fetch-mnist.sh)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Split the guide: block-N.c for complete programs; count the fragments.
python3 - "$guide" "$stage" <<'PY'
import re, sys
guide, out = sys.argv[1], sys.argv[2]
programs = fragments = 0
block, info, start = None, None, 0
for number, line in enumerate(open(guide), 1):
    fence = re.match(r"^```\s*(.*?)\s*$", line)
    if block is None and fence and fence.group(1):
        info, block, start = fence.group(1).split(), [], number
    elif block is None and fence:
        block, info, start = [], [], number
    elif block is not None and fence and not fence.group(1):
        if info[:1] == ["c"]:
            if info[1:] == ["fragment"]:
                fragments += 1
            elif info[1:]:
                sys.exit(f"{guide}:{start}: unknown C block kind {' '.join(info)!r}"
                         " (```c for a program, ```c fragment otherwise)")
            else:
                programs += 1
                with open(f"{out}/block-{start}.c", "w") as f:
                    f.write(f'#line {start + 1} "{guide}"\n' + "".join(block))
        block = None
    elif block is not None:
        block.append(line)
if block is not None:
    sys.exit(f"{guide}:{start}: unterminated code block")
open(f"{out}/counts", "w").write(f"{programs} {fragments}\n")
PY
read -r programs fragments < "$stage/counts"
[ "$programs" -gt 0 ] || { echo "check-guide: no complete C program in $guide" >&2; exit 1; }

. scripts/install-temp.sh
install_temp "$builddir" "$stage/prefix"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$stage/prefix" -name cosnet.pc | head -n1)")
libdir=$(pkg-config --variable=libdir cosnet)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for source in "$stage"/block-*.c; do
  line=$(basename "$source" .c); line=${line#block-}
  # The project's .clang-format holds for the guide's programs too.
  if command -v clang-format >/dev/null 2>&1 &&
     ! tail -n +2 "$source" | clang-format --assume-filename="$PWD/docs/guide.c" |
       cmp -s - <(tail -n +2 "$source"); then
    echo "check-guide: the program at $guide:$line does not follow .clang-format" >&2; exit 1
  fi
  # shellcheck disable=SC2046
  cc -std=c99 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
    "$source" -o "${source%.c}" $(pkg-config --cflags --libs cosnet) ||
    { echo "check-guide: the program at $guide:$line does not compile" >&2; exit 1; }
  # In the temporary folder, so that files a program writes go with it.
  (cd "$stage" && LD_LIBRARY_PATH="$libdir" "${source%.c}" "$data" 1) ||
    { echo "check-guide: the program at $guide:$line failed" >&2; exit 1; }
done
echo "guide check: $programs program(s) of $guide compile cleanly and run on MNIST" \
  "without a leak; $fragments fragment(s) marked"
