#!/usr/bin/env bash
# The HTML report as a user sees it: runs cosnet-mnist on the real MNIST
# files with --report, --svg and --json (a quick configuration), checks the
# report against the JSON and the data (tests/report/check_report_real.py),
# renders it in Debian's headless chromium and checks the screenshot is the
# window's size and not blank; then checks the progress line in a
# pseudo-terminal (redrawn in place, cleared at the end), and that nothing
# reaches stderr when it is not a terminal, or with --quiet. It checks the same
# for cosnet-train's report (the classifier's kind), from a small run on
# MNIST and, where installed, Fashion-MNIST.
#
# Usage: scripts/check-report.sh [BUILD_DIR] [--screenshot FILE] [--full]
#   --screenshot FILE  keep the browser's screenshot as FILE (and
#                      cosnet-train's as FILE-train.png, FILE-train-fashion.png)
#   --full             the default configuration instead of the quick one
# Environment: COSNET_DATA (default ${XDG_CACHE_HOME:-~/.cache}/cosnet/mnist).
set -euo pipefail

build="" screenshot="" quick=(--epochs 2 --batches 5)
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "check-report: --screenshot needs a FILE" >&2; exit 2; }
      screenshot=$2; shift ;;
    --full) quick=() ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check-report: unknown option $1" >&2; exit 2 ;;
    *) build=$1 ;;
  esac
  shift
done
# BUILD_DIR and FILE as the caller meant them, before moving to the repository.
case "$build" in ""|/*) ;; *) build=$PWD/$build ;; esac
case "$screenshot" in ""|/*) ;; *) screenshot=$PWD/$screenshot ;; esac
# A relative COSNET_DATA names a folder under where the script was started.
case "${COSNET_DATA:-}" in ""|/*) ;; *) COSNET_DATA=$PWD/$COSNET_DATA ;; esac
cd "$(dirname "$0")/.."
build=${build:-$PWD/build}
data=${COSNET_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist}
program=$build/examples/cosnet-mnist
[ -x "$program" ] || { echo "check-report: no $program (build first)"; exit 1; }
[ -e "$data/t10k-labels-idx1-ubyte" ] || [ -e "$data/t10k-labels-idx1-ubyte.gz" ] \
  || { echo "check-report: no MNIST in $data (scripts/fetch-mnist.sh)"; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "check-report: chromium is not installed (apt-get install chromium)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# stderr is a file, not a terminal: no progress line may reach it.
"$program" --data "$data" "${quick[@]}" --report "$work/report.html" \
  --svg "$work/svg" --json "$work/run.json" >"$work/stdout" 2>"$work/stderr"
[ ! -s "$work/stderr" ] || { echo "check-report: stderr not empty:"; cat "$work/stderr"; exit 1; }
python3 tests/report/check_report_real.py report "$work/report.html" \
  "$work/run.json" "$data" "$work/svg"

width=1400 height=1800
render() { # HTML PNG: the browser's screenshot of the page, checked
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --screenshot="$2" \
    --window-size=$width,$height "file://$1" >"$work/browser.log" 2>&1 \
    || { echo "check-report: chromium failed:"; tail -5 "$work/browser.log"; exit 1; }
  python3 tests/report/check_report_real.py screenshot "$2" $width $height
}
render "$work/report.html" "$work/shot.png"
[ -z "$screenshot" ] || cp "$work/shot.png" "$screenshot"

# cosnet-train's report, the classifier's kind, from a small run on a subset
# (5000 training, 1000 test images) of MNIST, and of Fashion-MNIST where
# Debian's package put it: checked against the run's JSON and the test
# files, and rendered the same way.
train=$build/examples/cosnet-train
[ -x "$train" ] || { echo "check-report: no $train (build first)"; exit 1; }
check_train_report() { # NAME SOURCE [OPTION...]
  local name=$1 source=$2; shift 2
  local subset=$work/$name-data
  mkdir -p "$subset"
  python3 tests/mnist_subset.py "$source" "$subset" 5000 1000
  "$train" --data "$subset" "$@" --epochs 2 --validation 500 \
    --report "$work/$name.html" --svg "$work/$name-svg" --json "$work/$name.json" \
    >"$work/stdout" 2>"$work/stderr" \
    || { echo "check-report: cosnet-train failed:"; cat "$work/stderr"; exit 1; }
  [ ! -s "$work/stderr" ] || { echo "check-report: stderr not empty:"; cat "$work/stderr"; exit 1; }
  python3 tests/report/check_report_real.py train-report "$work/$name.html" \
    "$work/$name.json" "$subset" "$work/$name-svg"
  render "$work/$name.html" "$work/$name.png"
  [ -z "$screenshot" ] || cp "$work/$name.png" "${screenshot%.png}-$name.png"
}
check_train_report train "$data"
fashion=/usr/share/datasets/fashion-mnist
if [ -e "$fashion/t10k-labels-idx1-ubyte.gz" ] || [ -e "$fashion/t10k-labels-idx1-ubyte" ]; then
  check_train_report train-fashion "$fashion" --dataset fashion
else
  echo "check-report: no Fashion-MNIST in $fashion: its report not checked"
fi

# The progress line of the real program, on a pseudo-terminal.
python3 tests/report/check_progress_pty.py --command "$program" --data "$data" \
  --epochs 2 --batches 5
python3 tests/report/check_progress_pty.py --silent-command "$program" \
  --data "$data" --epochs 1 --batches 1 --quiet
echo "report check: ok"
