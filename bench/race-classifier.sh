#!/usr/bin/env bash
# The honest classifier's race: cosnet-train against the same training and
# test classification in PyTorch (bench/pytorch_classifier.py), on this
# machine, one after the other, same data, label table, network, epochs,
# batch size, shifts, loss (the cosine loss) and schedule. PyTorch runs
# tuned as in bench/race.sh: its allocator, the channels-last memory format
# and the trained model passed through torch.jit.optimize_for_inference
# for the test (one model: no worker processes; its own pool of nproc
# threads). Prints both programs' training and evaluation times, the
# ratios, and both test accuracies.
#
# Usage: bench/race-classifier.sh [BUILD_DIR] [--epochs N] [--arch NAME]
#        (NAME: deep-classifier, the default, or classifier)
# Environment: COSNET_DATA, the MNIST folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${COSNET_BUILD:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
epochs=12
arch=deep-classifier
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs|--arch)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "race-classifier.sh: $1 needs a value" >&2; exit 2; }
      if [ "$1" = --epochs ]; then epochs=$2; else arch=$2; fi
      shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "race-classifier.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
# Refused here, not after cosnet-train's minutes of training: the networks
# both programs build (bench/pytorch_classifier.py --arch).
case "$arch" in
  deep-classifier|classifier) ;;
  *) echo "race-classifier.sh: --arch is deep-classifier or classifier, not '$arch'" >&2; exit 2 ;;
esac
[[ $epochs =~ ^[0-9]+$ ]] && [ "$((10#$epochs))" -ge 1 ] ||
  { echo "race-classifier.sh: --epochs takes a whole number of at least 1, not '$epochs'" >&2; exit 2; }
program=$build/examples/cosnet-train
[ -x "$program" ] || { echo "race-classifier.sh: no $program" >&2; exit 1; }
data_args=()
[ -n "${COSNET_DATA:-}" ] && data_args=(--data "$COSNET_DATA")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== cosnet-train --arch $arch --epochs $epochs (shifts only and the cosine loss, as in PyTorch)"
"$program" --quiet --threads 0 "${data_args[@]}" --arch "$arch" \
  --epochs "$epochs" --rotate 0 --scale 0 --elastic 0 --softmax 0 \
  --json "$work/cosnet.json" > /dev/null
echo "== PyTorch, tuned"
MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
  /usr/bin/python3 "$here/pytorch_classifier.py" "${data_args[@]}" \
  --arch "$arch" --epochs "$epochs" --json "$work/torch.json" > /dev/null
/usr/bin/python3 - "$work/cosnet.json" "$work/torch.json" <<'PY'
import json, sys
c, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(f"{'':12}{'cosnet (s)':>12}{'PyTorch (s)':>13}{'PyTorch/cosnet':>16}")
for key, name in (("train", "training"), ("evaluate", "evaluation")):
    a = c["seconds"][key]
    b = t["time_s"]["train" if key == "train" else "eval"]
    print(f"{name:12}{a:12.2f}{b:13.2f}{b / a:15.2f}x")
for who, r in (("cosnet", c["test"]), ("PyTorch", t["test"])):
    print(f"test accuracy {who:8} {r['correct']}/{r['total']} "
          f"({100 * r['correct'] / r['total']:.2f}%)")
PY
