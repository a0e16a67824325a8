#!/usr/bin/env bash
# The example programs' conventions, run by meson test:
#   every program: --version prints "NAME X.Y.Z", -h and --help print the
#   same usage and exit 0, a missing data folder fails saying how to fetch
#   the data (scripts/fetch-mnist.sh);
#   cosnet-mnist: --json - gives valid JSON on stdout (the report on
#   stderr); an unwritable --json or --save fails in under 2 s, before any
#   data is read; /dev/stdout as --json is written into, never replaced; a
#   symbolic link as a --save file, or as --json or --report, is kept and
#   its target written, a FIFO as --report written into; two options naming
#   one file are a usage error; no temporary file is left; a full stdout
#   (/dev/full) is a failure for every program;
#   train-digit, raii and cosnet-info: short runs on the real MNIST.
#
# Usage: test_programs.sh COSNET_MNIST COSNET_INFO TRAIN_DIGIT [RAII]
# The real MNIST comes from $COSNET_DATA; without it the test is skipped
# (exit 77), or fails when COSNET_REQUIRE_DATA=1. cosnet-mnist runs on a
# small copy (the first 2000 training and 500 test images) to stay quick.
set -uo pipefail

mnist=$1 info=$2 train_digit=$3 raii=${4:-}
failures=0 checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }
expect() { # expect DESCRIPTION CONDITION...: one check
  local what=$1; shift
  if "$@"; then pass; else fail "$what"; fi
}

if [ -z "${COSNET_DATA:-}" ]; then
  if [ "${COSNET_REQUIRE_DATA:-0}" = 1 ]; then
    echo "COSNET_DATA is not set"; exit 1
  fi
  echo "COSNET_DATA is not set: skipped"; exit 77
fi

work=$(mktemp -d /tmp/cosnet-test-programs-XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
out=$work/out.txt err=$work/err.txt

# A small MNIST: the first images of each file, headers rewritten.
small=$work/small
mkdir "$small"
python3 - "$COSNET_DATA" "$small" <<'PY' || { echo "cannot make the small MNIST"; exit 1; }
import gzip, os, struct, sys
source, target = sys.argv[1], sys.argv[2]
def read(name):
    path = os.path.join(source, name)
    if os.path.exists(path):
        return open(path, "rb").read()
    return gzip.open(path + ".gz").read()
for split, count in (("train", 2000), ("t10k", 500)):
    images = read(split + "-images-idx3-ubyte")
    labels = read(split + "-labels-idx1-ubyte")
    rows, columns = struct.unpack(">II", images[8:16])
    with open(os.path.join(target, split + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, rows, columns))
        f.write(images[16:16 + count * rows * columns])
    with open(os.path.join(target, split + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, count))
        f.write(labels[8:8 + count])
PY
short=(--data "$small" --epochs 1 --batches 2 --batch-size 10 --quiet)

# ---- every program --------------------------------------------------------
programs=("cosnet-mnist=$mnist" "cosnet-info=$info" "train-digit=$train_digit")
[ -n "$raii" ] && programs+=("raii=$raii")
for entry in "${programs[@]}"; do
  name=${entry%%=*} bin=${entry#*=}
  "$bin" --version >"$out" 2>"$err"; status=$?
  expect "$name --version exits 0 (got $status)" [ "$status" = 0 ]
  expect "$name --version prints '$name X.Y.Z', not '$(cat "$out")'" \
    grep -qxE "$name [0-9]+\.[0-9]+\.[0-9]+" "$out"
  "$bin" -h >"$out" 2>"$err"; status=$?
  "$bin" --help >"$work/help.txt" 2>&1; status2=$?
  expect "$name -h and --help exit 0 ($status, $status2)" [ "$status$status2" = 00 ]
  expect "$name -h prints a usage" grep -qi "usage" "$out"
  expect "$name -h and --help print the same" cmp -s "$out" "$work/help.txt"
  COSNET_DATA=$work/nowhere "$bin" >"$out" 2>"$err"; status=$?
  expect "$name without data exits 1 (got $status)" [ "$status" = 1 ]
  expect "$name without data says how to fetch it" \
    grep -q "scripts/fetch-mnist.sh" "$err"
  expect "$name without data names the folder" grep -q "$work/nowhere" "$err"
  # A full standard output is a failure, said on stderr, not a silent loss.
  for flag in --help --version; do
    "$bin" $flag >/dev/full 2>"$err"; status=$?
    expect "$name $flag > /dev/full exits 1 (got $status)" [ "$status" = 1 ]
    expect "$name $flag > /dev/full says so" \
      grep -q "cannot write standard output" "$err"
  done
done

# ---- cosnet-mnist's outputs -----------------------------------------------
"$mnist" "${short[@]}" --json - >"$out" 2>"$err"; status=$?
expect "--json - exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "--json - puts valid JSON on stdout" python3 -m json.tool "$out" /dev/null
expect "--json - puts the report on stderr" grep -q "^seed rule" "$err"

# Fails fast, before reading any data: exit 1, nothing on stdout, < 2 s.
fails_fast() { # fails_fast DESCRIPTION [env ...] ARGS...: runs cosnet-mnist
  local what=$1; shift
  local start end status
  start=$(date +%s%N)
  "$@" >"$out" 2>"$err"; status=$?
  end=$(date +%s%N)
  local ms=$(((end - start) / 1000000))
  expect "$what: exit 1 (got $status)" [ "$status" = 1 ]
  expect "$what: under 2 s (took $ms ms)" [ "$ms" -lt 2000 ]
  expect "$what: nothing on stdout" [ ! -s "$out" ]
  expect "$what: a message on stderr" grep -q "^cosnet-mnist: --" "$err"
}
# Default settings and the full data: a run would take many seconds.
full=(--data "$COSNET_DATA" --quiet)
fails_fast "--json in a missing folder" "$mnist" "${full[@]}" --json "$work/missing/x.json"
echo x >"$work/a-file"
fails_fast "--save under a file" "$mnist" "${full[@]}" --save "$work/a-file/models"
mkdir "$work/a-folder"
fails_fast "--json naming a folder" "$mnist" "${full[@]}" --json "$work/a-folder"
mkdir -m 0555 "$work/locked"
if [ "$(id -u)" = 0 ]; then
  # root writes anywhere: check as nobody.
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  if ! command -v setpriv >/dev/null; then
    echo "note: root without setpriv: read-only folder checks skipped"
  elif ! "${as_nobody[@]}" "$mnist" --version >/dev/null 2>&1; then
    # e.g. a checkout under /root (mode 700): nobody cannot reach the program.
    echo "note: nobody cannot run $mnist: read-only folder checks skipped"
  else
    chmod 0755 "$work"
    fails_fast "--json in a read-only folder (as nobody)" \
      "${as_nobody[@]}" "$mnist" "${full[@]}" --json "$work/locked/x.json"
    fails_fast "--save in a read-only folder (as nobody)" \
      "${as_nobody[@]}" "$mnist" "${full[@]}" --save "$work/locked/models"
    mkdir -m 0555 "$work/locked-save"
    fails_fast "--save naming a read-only folder (as nobody)" \
      "${as_nobody[@]}" "$mnist" "${full[@]}" --save "$work/locked-save"
    chmod 0700 "$work"
  fi
else
  fails_fast "--json in a read-only folder" "$mnist" "${full[@]}" --json "$work/locked/x.json"
  fails_fast "--save in a read-only folder" "$mnist" "${full[@]}" --save "$work/locked/models"
fi

# /dev/stdout: written into (a pipe here), never replaced; as root a
# rename would have replaced the system's /dev/stdout link.
before=$(ls -l /dev/stdout)
"$mnist" "${short[@]}" --json /dev/stdout 2>"$err" | cat >"$out"
expect "--json /dev/stdout (a pipe) gives valid JSON" python3 -m json.tool "$out" /dev/null
expect "/dev/stdout is still the same link" [ "$(ls -l /dev/stdout)" = "$before" ]
expect "/dev/stdout is a symbolic link" [ -L /dev/stdout ]
# stdout redirected to a file: the file holds the JSON, the report goes
# to stderr.
"$mnist" "${short[@]}" --json /dev/stdout >"$out" 2>"$err"
expect "--json /dev/stdout (a file) gives valid JSON" python3 -m json.tool "$out" /dev/null
expect "/dev/stdout is still the same link (file)" [ "$(ls -l /dev/stdout)" = "$before" ]

# Links as --save files and as --json: kept, their targets written.
save=$work/models elsewhere=$work/elsewhere
mkdir "$save" "$elsewhere"
ln -s ../elsewhere/digit-0.model "$save/digit-0.cosnet"
ln -s "$elsewhere/results.json" "$work/results.json"
"$mnist" "${short[@]}" --save "$save" --json "$work/results.json" >"$out" 2>"$err"; status=$?
expect "--save into links exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "the --save link is kept" [ -L "$save/digit-0.cosnet" ]
expect "the link's target holds a model" \
  [ "$(head -c 8 "$elsewhere/digit-0.model" 2>/dev/null)" = COSNETMD ]
expect "the --json link is kept" [ -L "$work/results.json" ]
expect "the --json link's target holds JSON" python3 -m json.tool "$elsewhere/results.json" /dev/null
expect "no temporary file is left" \
  [ -z "$(find "$work" -name '*.cosnet-tmp.*' -print -quit)" ]
expect "the saved folder has 10 models and labels.txt" \
  [ "$(ls "$save" | grep -cE '^(digit-[0-9]\.cosnet|labels\.txt)$')" = 11 ]
"$mnist" --data "$small" --load "$save" --quiet >"$out" 2>"$err"; status=$?
expect "--load reads the saved folder through the link (got $status)" [ "$status" = 0 ]
# The JSON's file mode follows the umask.
rm -f "$elsewhere/results.json"
(umask 077 && "$mnist" "${short[@]}" --json "$work/private.json" >/dev/null 2>&1)
expect "--json under umask 077 is 0600" [ "$(stat -c %a "$work/private.json")" = 600 ]

# Two options naming one file: a usage error before anything is written.
same_file() { # same_file DESCRIPTION ARGS...: cosnet-mnist must refuse
  local what=$1; shift
  "$mnist" "$@" >"$out" 2>"$err"; status=$?
  expect "$what: exit 2 (got $status)" [ "$status" = 2 ]
  expect "$what: says so" grep -q "are the same file" "$err"
}
same_file "--json inside --save" "${short[@]}" --save "$work/new-save" \
  --json "$work/new-save/labels.txt"
expect "the refused --save folder was not created" [ ! -e "$work/new-save" ]
same_file "--json and --report" "${short[@]}" --json "$work/both" --report "$work/both"
cp "$save/labels.txt" "$work/labels-before.txt"
same_file "--json over a --load file" --data "$small" --quiet --load "$save" \
  --json "$save/./labels.txt"
expect "the --load folder's labels.txt is untouched" \
  cmp -s "$save/labels.txt" "$work/labels-before.txt"
same_file "--report over a data file" "${short[@]}" \
  --report "$small/t10k-labels-idx1-ubyte"
same_file "--report among the --svg figures" "${short[@]}" --svg "$work/figs" \
  --report "$work/figs/loss.svg"
# A file inside a --save folder yet to be made is checked after it is made.
"$mnist" "${short[@]}" --save "$work/made" --json "$work/made/r.json" >"$out" 2>"$err"; status=$?
expect "--json inside a new --save folder exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "... and writes the JSON" python3 -m json.tool "$work/made/r.json" /dev/null

# --report through a symbolic link and into a FIFO: written through, never
# replaced by a regular file (the library's file writer).
ln -s "$elsewhere/report.html" "$work/report-link.html"
mkfifo "$work/report.fifo"
# (timeout: a writer that replaced the FIFO would leave the reader waiting)
timeout 120 cat "$work/report.fifo" >"$work/from-fifo.html" &
reader=$!
"$mnist" "${short[@]}" --report "$work/report-link.html" >"$out" 2>"$err"; status=$?
expect "--report through a link exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "the --report link is kept" [ -L "$work/report-link.html" ]
expect "the link's target holds the report" grep -q "</html>" "$elsewhere/report.html"
"$mnist" "${short[@]}" --report "$work/report.fifo" >"$out" 2>"$err"; status=$?
wait "$reader"
expect "--report into a FIFO exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "the FIFO is still a FIFO" [ -p "$work/report.fifo" ]
expect "the FIFO's reader got the report" grep -q "</html>" "$work/from-fifo.html"
(umask 077 && "$mnist" "${short[@]}" --report "$work/private.html" >/dev/null 2>&1)
expect "--report under umask 077 is 0600" [ "$(stat -c %a "$work/private.html")" = 600 ]
"$mnist" "${short[@]}" >/dev/full 2>"$err"; status=$?
expect "cosnet-mnist > /dev/full exits 1 (got $status)" [ "$status" = 1 ]

# ---- the other programs on the real data ----------------------------------
"$train_digit" --epochs 2 --out "$work/digit.cosnet" >"$out" 2>"$err"; status=$?
expect "train-digit exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "train-digit saved its model" [ "$(head -c 8 "$work/digit.cosnet")" = COSNETMD ]
expect "train-digit reports the separation" grep -q "mean cos" "$out"
if [ -n "$raii" ]; then
  "$raii" --epochs 1 >"$out" 2>"$err"; status=$?
  expect "raii exits 0 (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
  expect "raii predicts 10 test images" [ "$(grep -c '^test image' "$out")" = 10 ]
fi
"$info" >"$out" 2>"$err"; status=$?
expect "cosnet-info exits 0 (got $status)" [ "$status" = 0 ]
"$info" --data="$small" --labels=generate --label-seed=4 >"$out" 2>"$err"; status=$?
expect "cosnet-info takes --option=value (got $status: $(tail -n1 "$err"))" [ "$status" = 0 ]
expect "cosnet-info --labels=generate --label-seed=4 is read" grep -q "generated with seed 4" "$out"
# cosnet-info FILE...: a saved seed model, a model of train-digit, a file
# that is neither (reported, the others still described, exit 1).
"$info" "$save/digit-0.cosnet" "$err" "$work/digit.cosnet" >"$out" 2>"$work/info-err.txt"; status=$?
expect "cosnet-info with a bad FILE exits 1 (got $status)" [ "$status" = 1 ]
expect "cosnet-info names the bad FILE ($(cat "$work/info-err.txt"))" \
  grep -q "err.txt: neither a model file (magic COSNETMD) nor a classifier file (magic COSNETCL)" "$work/info-err.txt"
expect "cosnet-info describes both models" \
  [ "$(grep -c ': a model$' "$out")" = 2 ]
expect "cosnet-info knows the seed network" \
  grep -q "^network: seed (the article's network), 1393 parameters$" "$out"
expect "cosnet-info gives the seed network's layers" \
  grep -q "^layers: conv3x3 16 pad 1, relu, maxpool2x2, conv3x3 8 pad 2, relu, maxpool2x2, conv3x3 1 pad 2, relu, maxpool2x2, flatten$" "$out"
"$info" "$work/no-such.cosnet" >"$out" 2>"$err"; status=$?
expect "cosnet-info on a missing FILE exits 1 saying so (got $status)" \
  grep -q "no-such.cosnet: cannot open" "$err"
"$info" --data "$small" "$work/digit.cosnet" >"$out" 2>"$err"; status=$?
expect "cosnet-info FILE with --data is a usage error (got $status)" [ "$status" = 2 ]
"$info" --data= >"$out" 2>"$err"; status=$?
expect "cosnet-info --data= (empty) is a usage error (got $status)" [ "$status" = 2 ]
"$info" --help=3 >"$out" 2>"$err"; status=$?
expect "cosnet-info --help=3 is a usage error (got $status)" [ "$status" = 2 ]
"$info" --data "$small" >/dev/full 2>"$err"; status=$?
expect "cosnet-info > /dev/full exits 1 (got $status)" [ "$status" = 1 ]

echo "$checks checks passed, $failures failed"
[ "$failures" = 0 ]
