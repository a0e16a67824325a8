#!/usr/bin/env bash
# cosnet-train and cosnet-classify as a user meets them, run by meson test:
#   --version and -h/--help; a short training run on a small real MNIST that
#   must reach a stated accuracy and writes a classifier bundle and JSON;
#   cosnet-classify on PGM (P5, P2, another size, inverted) and PNG images
#   made from test images, and on a folder; and every bad input named by
#   the issue -- a missing classifier file, label vectors that do not fit
#   the architecture, a file that is no image, a truncated PGM, a zero-size
#   image, a folder without images, an unwritable --save -- each with a
#   clear message and a non-zero exit; --report and --svg of that run
#   checked against its JSON and the test files, and --report/--svg that
#   cannot be written refused before training; cosnet-train refusing a
#   label set of the wrong size, two options naming one file, a missing
#   data folder and a lost stdout, and --json /dev/stdout kept apart from
#   the text report.
#
#   cosnet-info FILE (when given) describes the bundle: its layers,
#   parameter count, classes and label vectors.
#
# Usage: test_classifier_programs.sh COSNET_TRAIN COSNET_CLASSIFY [COSNET_INFO]
# The real MNIST comes from $COSNET_DATA (skipped without it, exit 77, or a
# failure when COSNET_REQUIRE_DATA=1).
set -uo pipefail

train=$1 classify=$2 info=${3:-}
failures=0 checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() { # expect DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then checks=$((checks + 1)); else fail "$what"; fi
}
says() { grep -q -- "$1" "$2"; }

if [ -z "${COSNET_DATA:-}" ]; then
  [ "${COSNET_REQUIRE_DATA:-0}" = 1 ] && { echo "COSNET_DATA is not set"; exit 1; }
  echo "COSNET_DATA is not set: skipped"; exit 77
fi
work=$(mktemp -d /tmp/cosnet-test-classifier-XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
out=$work/out.txt err=$work/err.txt

for program in "$train" "$classify"; do
  name=$(basename "$program")
  "$program" --version > "$out" 2>&1
  expect "$name --version" grep -qE "^$name [0-9]+\.[0-9]+\.[0-9]+$" "$out"
  "$program" -h > "$out" 2>&1 && "$program" --help > "$err" 2>&1
  expect "$name -h and --help" cmp -s "$out" "$err"
  expect "$name --help has a usage line" says "^Usage: $name" "$out"
done

# A small MNIST (3000 training, 500 test images) and test images as files.
small=$work/small images=$work/images
mkdir "$small" "$images"
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/mnist_subset.py" "$COSNET_DATA" "$small" 3000 500 \
  || { echo "cannot prepare data"; exit 1; }
python3 - "$COSNET_DATA" "$images" <<'PY' || { echo "cannot prepare data"; exit 1; }
import gzip, os, struct, sys, zlib
source, pictures = sys.argv[1:3]
def read(name):
    path = os.path.join(source, name)
    return open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
# Test images 1000..1019 (not in the small test set): P5 files named by label.
images, labels = read("t10k-images-idx3-ubyte"), read("t10k-labels-idx1-ubyte")
for i in range(1000, 1020):
    pixels = images[16 + i * 784:16 + (i + 1) * 784]
    with open(os.path.join(pictures, "%04d-%d.pgm" % (i, labels[8 + i])), "wb") as f:
        f.write(b"P5\n28 28\n255\n" + pixels)
first = images[16 + 1000 * 784:16 + 1001 * 784]
# The same digit as P2 text, twice the size, dark on light.
rows = [" ".join(str(255 - first[(y // 2) * 28 + x // 2]) for x in range(56)) for y in range(56)]
open(os.path.join(pictures, "..", "big-inverted.pgm"), "w").write("P2\n# a comment\n56 56\n255\n" + "\n".join(rows) + "\n")
# And as an 8-bit gray PNG.
raw = b"".join(b"\0" + first[y * 28:(y + 1) * 28] for y in range(28))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) \
      + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(os.path.join(pictures, "..", "digit.png"), "wb").write(png)
open(os.path.join(pictures, "..", "label.txt"), "w").write(str(labels[8 + 1000]))
PY
truth=$(cat "$work/label.txt")

# Training: a small network, 4 epochs, on the small MNIST (97.0% measured;
# 93.4% with --softmax 0).
bundle=$work/digits.cosnetcl
"$train" --data "$small" --arch "conv3x3 8 pad 1, relu, maxpool2x2, flatten, dense 25" \
  --epochs 4 --batch-size 32 --lr 0.01 --augment 0 --save "$bundle" \
  --json "$work/run.json" --report "$work/report.html" --svg "$work/svg" \
  --quiet > "$out" 2> "$err"
expect "cosnet-train runs (exit $?)" test -s "$bundle"
expect "cosnet-train --quiet writes nothing to stderr" test ! -s "$err"
accuracy=$(python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r['schema_version'] == 1 and len(r['loss_history']) == 4
assert sum(map(sum, r['test']['confusion'])) == r['test']['total'] == 500
print(r['test']['correct'] / r['test']['total'])" "$work/run.json")
expect "cosnet-train JSON is valid and complete" test -n "$accuracy"
expect "4 epochs on 3000 images reach 85% (got $accuracy)" \
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.85 else 1)" "${accuracy:-0}"
# --report and --svg: the figures against the JSON and the test files.
python3 "$here/report/check_report_real.py" train-report "$work/report.html" \
  "$work/run.json" "$small" "$work/svg" > "$work/report-check.txt" 2>&1
expect "cosnet-train --report/--svg: $(tail -3 "$work/report-check.txt" | tr '\n' ' ')" \
  grep -q " 0 failures" "$work/report-check.txt"
expect "the default loss is the softmax of 16 x the cosines (text)" \
  says "^loss: softmax of 16 x the cosines to every label vector$" "$out"
expect "the default loss is the softmax of 16 x the cosines (JSON)" python3 -c "
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))['softmax'] == 16 else 1)" "$work/run.json"
expect "the report has per-class accuracy" says "per class:" "$out"
expect "the report has the confusion matrix" says "confusion matrix" "$out"

# bench/seeds.sh: one line per seed, their mean, and the differences from
# an earlier output; the mean is recomputed here from the seed lines.
seeds=$here/../bench/seeds.sh
small_run=(-- --data "$small" --arch "conv3x3 8 pad 1, relu, maxpool2x2, flatten, dense 25"
  --epochs 1 --augment 0)
"$seeds" "$(dirname "$(dirname "$train")")" --seeds 3-5 --jobs 2 "${small_run[@]}" \
  > "$work/seeds.txt" 2> "$err"
status=$?
expect "bench/seeds.sh runs (exit $status: $(head -c 200 "$err"))" \
  test "$status" -eq 0 -a ! -s "$err"
expect "bench/seeds.sh: a line per seed" \
  test "$(grep -cE '^seed +[345] +[0-9.]+% +\([0-9]+/500\)' "$work/seeds.txt")" -eq 3
expect "bench/seeds.sh: the mean of its seed lines" python3 -c "
import re, sys
text = open(sys.argv[1]).read()
seeds = [float(a) for a in re.findall(r'^seed +\d+ +([0-9.]+)%', text, re.M)]
mean = float(re.search(r'^mean ([0-9.]+)% over 3 seeds', text, re.M)[1])
sys.exit(0 if abs(mean - sum(seeds) / 3) < 0.001 else 1)" "$work/seeds.txt"
"$seeds" "$(dirname "$(dirname "$train")")" --seeds 4-6 --against "$work/seeds.txt" \
  "${small_run[@]}" > "$out" 2> "$err"
expect "bench/seeds.sh --against: the same runs differ by nothing on seeds 4 and 5" \
  says "+0.000 points +- 0.000 (standard error) over 2 common seeds" "$out"
"$seeds" "$(dirname "$(dirname "$train")")" --seeds 5-4 > "$out" 2> "$err"
status=$?
expect "bench/seeds.sh --seeds 5-4 is a usage error (exit $status)" test "$status" -eq 2
expect "bench/seeds.sh --seeds 5-4 says why" says "FIRST is after LAST" "$err"

# cosnet-train's outputs and inputs. A quick network for the runs below.
quick=(--data "$small" --arch "flatten, dense 25" --epochs 1 --augment 0 --quiet)
# One label vector per class: an eleventh used to read past the class names.
python3 -c "
for k in range(11):
    print(' '.join('1' if i == k else '0' for i in range(25)))" > "$work/eleven.txt"
"$train" "${quick[@]}" --labels "$work/eleven.txt" --save "$work/eleven.cosnetcl" \
  > "$out" 2> "$err"; status=$?
expect "--labels with 11 vectors exits 1 (got $status)" test "$status" -eq 1
expect "--labels with 11 vectors says why" says "11 vectors for 10 classes" "$err"
expect "--labels with 11 vectors saves nothing" test ! -e "$work/eleven.cosnetcl"
# Two options naming one file: a usage error, nothing written.
cp "$work/eleven.txt" "$work/eleven-before.txt"
for pair in "--save $work/x --json $work/x" "--save $work/x --report $work/./x" \
    "--labels $work/eleven.txt --save $work/eleven.txt" \
    "--svg $work/figs --report $work/figs/loss.svg" \
    "--json $small/t10k-labels-idx1-ubyte"; do
  # shellcheck disable=SC2086 # the pair is split on purpose
  "$train" "${quick[@]}" $pair > "$out" 2> "$err"; status=$?
  expect "cosnet-train $pair: exit 2 (got $status)" test "$status" -eq 2
  expect "cosnet-train $pair: says so" says "are the same file" "$err"
done
expect "the refused runs wrote nothing" test ! -e "$work/x" -a ! -e "$work/figs"
expect "the refused --save left the label file alone" \
  cmp -s "$work/eleven.txt" "$work/eleven-before.txt"
# --json naming stdout itself: the file holds the JSON, the report goes to
# stderr (a rename over the file used to lose the report).
"$train" "${quick[@]}" --json /dev/stdout > "$work/stdout.json" 2> "$err"; status=$?
expect "--json /dev/stdout > FILE exits 0 (got $status)" test "$status" -eq 0
expect "--json /dev/stdout > FILE: the file is the JSON" \
  python3 -m json.tool "$work/stdout.json" /dev/null
expect "--json /dev/stdout > FILE: the report is on stderr" says "^test accuracy" "$err"
# No data folder can be formed: a message, not a silent exit.
env -u COSNET_DATA HOME= XDG_CACHE_HOME= "$train" --quiet > "$out" 2> "$err"; status=$?
expect "no data folder: exit 1 (got $status)" test "$status" -eq 1
expect "no data folder: says so" says "no data folder" "$err"
# A lost standard output is an error: exit 1, with the reason.
for run in --help --version training; do
  if [ "$run" = training ]; then
    "$train" "${quick[@]}" > /dev/full 2> "$err"
  else
    "$train" "$run" > /dev/full 2> "$err"
  fi
  status=$?
  expect "cosnet-train $run > /dev/full: exit 1 (got $status)" test "$status" -eq 1
  expect "cosnet-train $run > /dev/full: says so" says "cannot write standard output" "$err"
done

# cosnet-info describes the bundle (conv 8 x 9 + 8, dense 1568 x 25 + 25).
if [ -n "$info" ]; then
  "$info" "$bundle" > "$out" 2> "$err"
  expect "cosnet-info BUNDLE exits 0 (got $?: $(head -c 200 "$err"))" test ! -s "$err"
  expect "cosnet-info names the bundle a classifier of 10 classes" says "digits.cosnetcl: a classifier of 10 classes" "$out"
  expect "cosnet-info gives the layer list" \
    says "^layers: conv3x3 8 pad 1, relu, maxpool2x2, flatten, dense 25$" "$out"
  expect "cosnet-info counts 39305 parameters" says "^network: a layer list, 39305 parameters$" "$out"
  expect "cosnet-info gives the shapes" \
    says "^input: 1 x 28 x 28 (channels x rows x columns), output: 25 values$" "$out"
  expect "cosnet-info lists the class names" says "^classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9$" "$out"
  expect "cosnet-info prints the 10 label vectors" \
    test "$(grep -cE '^ +[0-9]: (0\.[0-9]{4} ){24}0\.[0-9]{4}$' "$out")" -eq 10
fi

# Classification of files and a folder.
"$classify" "$bundle" "$images" > "$out" 2> "$err"
expect "cosnet-classify on a folder exits 0" test $? -eq 0
expect "one line per image of the folder" test "$(wc -l < "$out")" -eq 20
right=$(python3 -c "
import re, sys
right = 0
for line in open(sys.argv[1]):
    m = re.match(r'.*/\d{4}-(\d)\.pgm: (\d) \(cos (-?[0-9.]+)\), runner-up (\d) \(cos (-?[0-9.]+)\)$', line)
    assert m, line
    assert float(m.group(3)) >= float(m.group(5)) and m.group(2) != m.group(4)
    right += m.group(1) == m.group(2)
print(right)" "$out")
expect "at least 16 of the 20 folder images right (got ${right:-none})" test "${right:-0}" -ge 16
"$classify" "$bundle" "$images/1000-$truth.pgm" > "$work/p5.txt" 2> "$err"
"$classify" --invert "$bundle" "$work/big-inverted.pgm" > "$work/p2.txt" 2> "$err"
expect "a P2, twice the size, inverted: same class as the P5" \
  test "$(cut -d: -f2 "$work/p2.txt" | cut -d'(' -f1)" = "$(cut -d: -f2 "$work/p5.txt" | cut -d'(' -f1)"
if "$classify" --help | grep -q PNG; then
  "$classify" "$bundle" "$work/digit.png" > "$work/png.txt" 2> "$err"
  expect "a PNG: same class as the P5" \
    test "$(cut -d: -f2 "$work/png.txt" | cut -d'(' -f1)" = "$(cut -d: -f2 "$work/p5.txt" | cut -d'(' -f1)"
fi

# Bad inputs: a message and a non-zero exit each.
bad() { # bad DESCRIPTION EXPECTED-TEXT COMMAND...
  local what=$1 text=$2; shift 2
  "$@" > "$out" 2> "$err"
  local status=$?
  expect "$what: non-zero exit" test "$status" -ne 0
  expect "$what: message '$text' (got: $(head -c 200 "$err"))" says "$text" "$err"
}
bad "missing classifier" "cannot open" "$classify" "$work/none.cosnetcl" "$images"
bad "a model file is no classifier" "not a libcosnet classifier" "$classify" "$work/run.json" "$images"
printf 'hello\n' > "$work/text.pgm"
bad "not an image" "not a PGM (P2, P5) or PNG file" "$classify" "$bundle" "$work/text.pgm"
head -c 300 "$images/1000-$truth.pgm" > "$work/truncated.pgm"
bad "truncated PGM" "truncated PGM" "$classify" "$bundle" "$work/truncated.pgm"
# A text PGM whose header promises far more pixels than the file holds (a
# fuzz finding: it used to allocate them first).
printf 'P2\n2323 5323\n5\n' > "$work/promise.pgm"
bad "P2 header beyond the file" "cannot fit" "$classify" "$bundle" "$work/promise.pgm"
printf 'P5\n70000 70000\n255\n' > "$work/huge.pgm"
bad "PGM header out of bounds" "bad PGM header at byte 7" "$classify" "$bundle" "$work/huge.pgm"
printf 'P2\n2 2\n255\n1 2 300 4\n' > "$work/range.pgm"
bad "text PGM pixel above maxval" "pixel 3 of 4 is 300, above maxval 255" "$classify" "$bundle" "$work/range.pgm"
# A token is a number only when a blank, a comment or the end follows its
# digits: the last pixel "1e3" is not read as 1, "28x28" is no header, and
# "P528 28 255" is not a 28x28 P5 header.
printf 'P2\n2 2\n255\n0 0 0 1e3\n' > "$work/exponent.pgm"
bad "text PGM pixel with trailing bytes" "pixel 4 of 4 is not a whole number up to 65535" "$classify" "$bundle" "$work/exponent.pgm"
printf 'P2\n2 2\n255\n0 0 0' > "$work/three.pgm"
bad "text PGM one pixel short" "truncated PGM at byte 16: pixel 4 of 4 is missing" "$classify" "$bundle" "$work/three.pgm"
printf 'P2\n28x28\n255\n' > "$work/by.pgm"
bad "PGM size written 28x28" "bad PGM header at byte 5" "$classify" "$bundle" "$work/by.pgm"
printf 'P528 28 255\n' > "$work/magic.pgm"
bad "PGM magic number run into the width" "no blank after the magic number P5" "$classify" "$bundle" "$work/magic.pgm"
# A comment right after the last pixel still ends it.
printf 'P2\n2 2\n255\n0 0 0 4# end\n' > "$work/comment-end.pgm"
"$classify" "$bundle" "$work/comment-end.pgm" > "$out" 2> "$err"
expect "text PGM whose last pixel is followed by a comment is read (exit $?, $(head -c 200 "$err"))" says "comment-end.pgm: " "$out"
# More than 2^25 pixels in all, though each side is allowed: refused before
# anything is decoded (a 260 KB PNG of 16384 x 16384 zeros used to take
# 1.3 GB).
printf 'P5\n8192 8192\n255\n' > "$work/many.pgm"
bad "PGM of too many pixels" "8192x8192 pixels, more than 33554432 in all" "$classify" "$bundle" "$work/many.pgm"
if "$classify" --help | grep -q PNG; then
  python3 - "$work/bomb.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
side = 8192
rows = zlib.compressobj(9)
body = b"".join(rows.compress(b"\0" * (side + 1)) for _ in range(side)) + rows.flush()
open(sys.argv[1], "wb").write(
    b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
    chunk(b"IDAT", body) + chunk(b"IEND", b""))
PY
  bad "PNG of too many pixels" "8192x8192 pixels, more than 33554432 in all" "$classify" "$bundle" "$work/bomb.png"
fi
if "$classify" --help | grep -q PNG; then
  # One bit of the test PNG's IHDR flipped: libpng's CRC check refuses it.
  python3 -c "
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
data[29] ^= 1
open(sys.argv[2], 'wb').write(data)" "$work/digit.png" "$work/crc.png"
  bad "PNG with a bad CRC" "crc.png: bad PNG: IHDR: CRC error" "$classify" "$bundle" "$work/crc.png"
fi
printf 'P5\n0 28\n255\n' > "$work/empty.pgm"
bad "zero-size image" "zero-size image" "$classify" "$bundle" "$work/empty.pgm"
mkdir "$work/no-images" && touch "$work/no-images/readme.txt"
bad "folder without images" "no .pgm" "$classify" "$bundle" "$work/no-images"
bad "no image given" "at least one" "$classify" "$bundle"
# A FIFO and a folder named like images, beside a real one: reported, not
# read (reading the FIFO would wait for a writer forever), the image still
# classified.
mkdir -p "$work/odd/sub.pgm" && mkfifo "$work/odd/fifo.pgm" &&
  cp "$images/1000-$truth.pgm" "$work/odd/real.pgm"
timeout 60 "$classify" "$bundle" "$work/odd" > "$out" 2> "$err"
status=$?
expect "a folder with a FIFO .pgm ends, exit 1 (got $status)" test "$status" -eq 1
expect "the FIFO is reported ($(head -c 300 "$err"))" says "fifo.pgm: not a regular file, not read" "$err"
expect "the folder named sub.pgm is reported" says "sub.pgm: not a regular file, not read" "$err"
expect "the real image beside them is classified" says "real.pgm: " "$out"
# Options anywhere among the arguments, "--" ending them (a file named
# --invert is then an image); an unknown option anywhere is a usage error.
"$classify" "$bundle" "$work/big-inverted.pgm" --invert > "$out" 2> "$err"
expect "--invert after the image is an option (exit $?: $(head -c 200 "$err"))" \
  test "$(cut -d' ' -f2- "$out")" = "$(cut -d' ' -f2- "$work/p2.txt")"
mkdir "$work/dash" && cp "$images/1000-$truth.pgm" "$work/dash/--invert"
classify_path=$(cd "$(dirname "$classify")" && pwd)/$(basename "$classify")
(cd "$work/dash" && "$classify_path" "$bundle" -- --invert) > "$out" 2> "$err"
status=$?
expect "-- after the classifier: a file named --invert is an image (exit $status: $(head -c 200 "$err"))" \
  test "$status" -eq 0 -a "$(cut -d' ' -f2- "$out")" = "$(cut -d' ' -f2- "$work/p5.txt")"
"$classify" "$bundle" "$images/1000-$truth.pgm" --no-such-option > "$out" 2> "$err"
expect "an unknown option after the images exits 2 (got $?)" test $? -eq 2 -a ! -s "$out"
expect "an unknown option after the images is named" says "unknown option --no-such-option" "$err"
# A lost standard output is an error: exit 1, with the reason.
for run in "$bundle $images/1000-$truth.pgm" --help --version; do
  # shellcheck disable=SC2086 # the words of $run are the arguments
  "$classify" $run > /dev/full 2> "$err"
  status=$?
  expect "cosnet-classify $(basename -- "${run%% *}") > /dev/full exits 1 (got $status)" test "$status" -eq 1
  expect "cosnet-classify $(basename -- "${run%% *}") > /dev/full says why" \
    says "cannot write standard output: No space left on device" "$err"
done
# PNG samples are read as they are, like a PGM's, whatever the bit depth or a
# declared gamma (libpng's simplified API read a 16-bit gray of 25% as 53%,
# or as 5% with an sRGB chunk); colour is 0.299 R + 0.587 G + 0.114 B;
# transparent pixels are the background, black (white with --invert).
if "$classify" --help | grep -q PNG; then
  python3 - "$images/1000-$truth.pgm" "$work" <<'PY'
import os, struct, sys, zlib
source, folder = sys.argv[1:3]
digit = open(source, "rb").read()[13:13 + 784]
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
def png(name, depth, colour, pixels, extra=b""):  # pixels: 28 rows of sample tuples
    fmt = ">%dH" if depth == 16 else "%dB"
    raw = b"".join(b"\0" + struct.pack(fmt % (len(row) * len(row[0])),
                                       *[s for p in row for s in p]) for row in pixels)
    open(os.path.join(folder, name), "wb").write(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, depth, colour, 0, 0, 0))
        + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
rows = [digit[y * 28:(y + 1) * 28] for y in range(28)]
png("digit16.png", 16, 0, [[(v * 257,) for v in r] for r in rows])
png("digit16-srgb.png", 16, 0, [[(v * 257,) for v in r] for r in rows], chunk(b"sRGB", b"\0"))
png("digit8-linear.png", 8, 0, [[(v,) for v in r] for r in rows], chunk(b"gAMA", struct.pack(">I", 100000)))
png("digit-rgb8.png", 8, 2, [[(v, v, v) for v in r] for r in rows])
png("digit-rgb16.png", 16, 2, [[(v * 257,) * 3 for v in r] for r in rows])
# The digit's strokes in pure red, green and blue, and as PGMs of the
# levels 0.299, 0.587 and 0.114 (maxval 1000).
for name, level, which in (("red", 299, 0), ("green", 587, 1), ("blue", 114, 2)):
    mask = [[255 if v >= 128 else 0 for v in r] for r in rows]
    png("stroke-%s8.png" % name, 8, 2, [[tuple(m if i == which else 0 for i in range(3)) for m in r] for r in mask])
    png("stroke-%s16.png" % name, 16, 2, [[tuple(m * 257 if i == which else 0 for i in range(3)) for m in r] for r in mask])
    open(os.path.join(folder, "stroke-%s.pgm" % name), "w").write(
        "P2\n28 28\n1000\n" + "\n".join(" ".join(str(level if m else 0) for m in r) for r in mask) + "\n")
# White drawn on transparent, 8 and 16-bit, gray + alpha and RGBA; and black
# drawn on transparent, for --invert.
png("white-on-clear.png", 8, 4, [[(255, v) for v in r] for r in rows])
png("white-on-clear16.png", 16, 6, [[(65535, 65535, 65535, v * 257) for v in r] for r in rows])
png("black-on-clear.png", 8, 4, [[(0, v) for v in r] for r in rows])
PY
  verdict() { cut -d' ' -f2- "$1"; }
  for name in digit16.png digit16-srgb.png digit8-linear.png digit-rgb8.png digit-rgb16.png; do
    "$classify" "$bundle" "$work/$name" > "$work/same.txt" 2> "$err"
    expect "$name reads as the 8-bit P5 of the same levels ($(verdict "$work/same.txt"; head -c 200 "$err"))" \
      test "$(verdict "$work/same.txt")" = "$(verdict "$work/p5.txt")"
  done
  for colour in red green blue; do
    "$classify" "$bundle" "$work/stroke-$colour.pgm" > "$work/level.txt" 2> "$err"
    for depth in 8 16; do
      "$classify" "$bundle" "$work/stroke-$colour$depth.png" > "$work/same.txt" 2> "$err"
      expect "pure $colour in a $depth-bit PNG reads as the gray level of its weight" \
        test "$(verdict "$work/same.txt")" = "$(verdict "$work/level.txt")"
    done
  done
  for name in white-on-clear.png white-on-clear16.png; do
    "$classify" "$bundle" "$work/$name" > "$work/same.txt" 2> "$err"
    expect "$name: transparency is black, the digit white on it ($(verdict "$work/same.txt"; head -c 200 "$err"))" \
      test "$(verdict "$work/same.txt")" = "$(verdict "$work/p5.txt")"
  done
  "$classify" --invert "$bundle" "$work/black-on-clear.png" > "$work/same.txt" 2> "$err"
  expect "black on transparent with --invert: transparency is white, then black ($(verdict "$work/same.txt"))" \
    python3 - "$work/same.txt" "$work/p5.txt" <<'PY'
import re, sys
def verdict(path):
    m = re.match(r".*: (\d) \(cos (-?[0-9.]+)\), runner-up (\d) \(cos (-?[0-9.]+)\)$", open(path).read().strip())
    return m.group(1), float(m.group(2)), m.group(3), float(m.group(4))
a, b = verdict(sys.argv[1]), verdict(sys.argv[2])
# 1 - (1 - a) may differ from a in the last bit: the cosines to 0.001.
sys.exit(0 if a[0] == b[0] and a[2] == b[2] and abs(a[1] - b[1]) < 1e-3 and abs(a[3] - b[3]) < 1e-3 else 1)
PY
fi
# A file's first bytes decide: /dev/zero is refused at once (it used to be
# read up to 1 GiB first), and a PGM is read no further than its header
# allows (a P5 followed by endless bytes is classified; a text PGM longer
# than 32 bytes a pixel and 4096 more is refused).
start=$(date +%s.%N)
timeout 60 "$classify" "$bundle" /dev/zero > "$out" 2> "$err"
status=$?
elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
expect "/dev/zero is refused (exit $status): $(head -c 200 "$err")" \
  says "/dev/zero: not a PGM (P2, P5) or PNG file" "$err"
expect "/dev/zero is refused at once (${elapsed}s)" \
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1 else 1)" "$elapsed"
{ head -c 13 "$images/1000-$truth.pgm"; tail -c 784 "$images/1000-$truth.pgm"; cat /dev/zero; } |
  timeout 60 "$classify" "$bundle" /dev/stdin > "$out" 2> "$err"
expect "a P5 followed by endless bytes is classified (exit ${PIPESTATUS[1]}: $(head -c 200 "$err"))" \
  test "$(cut -d' ' -f2- "$out")" = "$(cut -d' ' -f2- "$work/p5.txt")"
{ printf 'P2\n1 1\n255\n'; head -c 5000 /dev/zero | tr '\0' ' '; echo 3; } > "$work/spaces.pgm"
bad "a text PGM longer than its header allows" "a text PGM of 1x1 pixels, yet longer than 4138 bytes" \
  "$classify" "$bundle" "$work/spaces.pgm"
python3 -c "
import sys
open(sys.argv[1], 'w').write('\n'.join(' '.join(['0.1'] * 8) for _ in range(10)) + '\n')" "$work/labels8.txt"
bad "labels that do not fit the architecture" "8 dimensions" \
  "$train" --data "$small" --labels "$work/labels8.txt" --epochs 1 --quiet
bad "an unknown dataset" "mnist or fashion" "$train" --dataset cifar
bad "a layer list that does not parse" "cannot read layer" "$train" --data "$small" --arch "conv3x3 pad" --quiet
# Both are usage errors, found before any data is read (the folder does
# not exist).
"$train" --data "$work/no-such-folder" --arch "conv3x3 pad" --quiet > "$out" 2> "$err"
expect "a layer list that does not parse exits 2 (got $?)" test "$?" -eq 2
"$train" --data "$work/no-such-folder" --arch "conv3x3 8, relu, relu, flatten, dense 25" --quiet > "$out" 2> "$err"
expect "a layer list the rules refuse exits 2 (got $?)" test "$?" -eq 2
expect "a layer list the rules refuse is reported before the data are read (got: $(head -c 200 "$err"))" \
  says "layer 2 (relu): must follow a conv3x3 or dense layer" "$err"
start=$(date +%s.%N)
bad "--save into a missing folder" "--save" "$train" --data "$small" --save "$work/missing/dir/x.cosnetcl" --quiet
elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
expect "--save fails before training (${elapsed}s)" python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2 else 1)" "$elapsed"

# --report and --svg that cannot be written fail before the data are read.
start=$(date +%s.%N)
bad "--report into a missing folder" "--report: " "$train" --data "$small" --report "$work/missing/dir/r.html" --quiet
elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
expect "--report fails before training (${elapsed}s)" python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2 else 1)" "$elapsed"
bad "--report under a file" "--report: " "$train" --data "$small" --report "$work/run.json/r.html" --quiet
bad "--svg that is a file" "--svg: " "$train" --data "$small" --svg "$bundle" --quiet
# --softmax: 0 is the cosine loss; past 100 or negative, a usage error.
"$train" --data "$small" --arch "conv3x3 8 pad 1, relu, maxpool2x2, flatten, dense 25" \
  --epochs 1 --augment 0 --softmax 0 --json "$work/cosine.json" --quiet > "$out" 2> "$err"
expect "--softmax 0 runs (exit $?)" test -s "$work/cosine.json"
expect "--softmax 0 trains with 1 - cos" says "^loss: 1 - cos(f(x), v_y)$" "$out"
for value in 101 -1 x; do
  "$train" --data "$work/no-such-folder" --softmax "$value" --quiet > "$out" 2> "$err"
  status=$?
  expect "--softmax $value is a usage error (exit $status)" test "$status" -eq 2
  expect "--softmax $value: the message gives the range (got: $(head -c 200 "$err"))" \
    says "--softmax must be a number in \[0, 100\]" "$err"
done
bad "--report without a name" "--report needs a value" "$train" --report=
expect "--report without a name is a usage error" test "$("$train" --report= > /dev/null 2>&1; echo $?)" -eq 2

echo "$checks passed, $failures failed"
[ "$failures" -eq 0 ]
