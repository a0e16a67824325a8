#!/usr/bin/env bash
# The race: cosnet-mnist against the same pipeline in PyTorch
# (bench/pytorch_pipeline.py), on this machine, one after the other, with
# the same data, label table and configuration. Prints both programs' times
# for training, evaluation and the whole run, the ratio PyTorch / cosnet,
# and both programs' seed-rule and own-label counts.
#
# Usage: bench/race.sh [BUILD_DIR] [--epochs N] [--batches N]
#                      [--batch-size N] [--eval-batch N]
#   BUILD_DIR   the meson build folder holding examples/cosnet-mnist
#               (default: $COSNET_BUILD, else build)
#   --eval-batch  PyTorch's images per evaluation forward pass (default
#               1000, as in the article's test; smaller can be faster)
# Environment: COSNET_DATA, the MNIST folder (both programs' default is
# the folder scripts/fetch-mnist.sh fills).
# Both programs use every core: cosnet-mnist --threads 0, PyTorch
# torch.set_num_threads(nproc). If BUILD_DIR has bench/bench_network, the
# machine's floor (the work at the measured fp32 FMA peak) is printed too.
#
# PyTorch runs twice and the ratios use its best: "tuned", with glibc's
# allocator kept from returning memory to the system between operations
# (MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised, the effect
# jemalloc or tcmalloc give, as PyTorch's CPU tuning guides recommend: on
# these virtual machines every fresh large buffer otherwise costs page
# faults), and "untuned", glibc's defaults, printed beside it. Threads:
# PyTorch's own intra-op pool at nproc threads in both runs (fewer threads
# were not faster on this machine; see docs/performance.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

build=${COSNET_BUILD:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi
shared=() torch_only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs|--batches|--batch-size)
      [ $# -ge 2 ] || { echo "race.sh: $1 needs a value" >&2; exit 2; }
      shared+=("$1" "$2"); shift 2 ;;
    --eval-batch)
      [ $# -ge 2 ] || { echo "race.sh: $1 needs a value" >&2; exit 2; }
      torch_only+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "race.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

program=$build/examples/cosnet-mnist
[ -x "$program" ] || { echo "race.sh: no $program (build it first)" >&2; exit 1; }
python=/usr/bin/python3 # Debian's, which has python3-torch
data_args=()
[ -n "${COSNET_DATA:-}" ] && data_args=(--data "$COSNET_DATA")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)

echo "== cosnet-mnist ${shared[*]:-(default configuration)}"
"$program" --quiet --threads 0 "${data_args[@]}" "${shared[@]}" \
  --json "$work/cosnet.json" | tee "$work/cosnet.txt" | sed -n '1,2p;/Set:/p;/^time/p'
echo "== PyTorch, allocator tuned ${shared[*]} ${torch_only[*]}"
MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
  "$python" "$here/pytorch_pipeline.py" --threads "$cores" "${data_args[@]}" \
  "${shared[@]}" "${torch_only[@]}" --json "$work/torch.json"
echo "== PyTorch, glibc's default allocator"
"$python" "$here/pytorch_pipeline.py" --threads "$cores" "${data_args[@]}" \
  "${shared[@]}" "${torch_only[@]}" --json "$work/torch-untuned.json"

# The floor, if the network benchmark is built: the work at the measured
# single-core fp32 FMA peak of cosnet's kernel variant, times the cores.
peak=
if [ -x "$build/bench/bench_network" ]; then
  isa=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["isa"])' "$work/cosnet.json")
  peak=$("$build/bench/bench_network" --variant "$isa" --images 100 \
           --train-images 20 --batch 20 --reps 1 2>/dev/null |
         sed -n 's/.*single-core fp32 FMA peak \([0-9.]*\) GFLOP\/s.*/\1/p' | head -n1)
fi

"$python" - "$work/cosnet.json" "$work/torch.json" "${peak:-}" "$cores" \
  "$work/torch-untuned.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2]))
peak = float(sys.argv[3]) if sys.argv[3] else None
cores = int(sys.argv[4])
u = json.load(open(sys.argv[5]))
print()
print(f"machine: {__import__('os').cpu_count()} CPUs; cosnet {c['version']} "
      f"(kernels {c['isa']}, {c['threads']} threads), "
      f"torch {t['torch']} ({t['threads']} threads)")
print(f"{'':12}{'cosnet (s)':>12}{'PyTorch (s)':>13}{'PyTorch/cosnet':>16}"
      f"{'untuned (s)':>13}{'untuned/cosnet':>16}")
for key, name in (("train", "training"), ("eval", "evaluation"),
                  ("total", "total")):
    a, b, d = c["time_s"][key], t["time_s"][key], u["time_s"][key]
    ratio = f"{b / a:.2f}x" if a > 0 else "-"
    untuned = f"{d / a:.2f}x" if a > 0 else "-"
    print(f"{name:12}{a:12.2f}{b:13.2f}{ratio:>16}{d:13.2f}{untuned:>16}")
if peak:
    # Multiply-adds per image: forward 415,008 (SPEC); a training
    # image-step 1,132,128 (forward + weight and input gradients, as
    # bench/bench_network.c counts them).
    cfg = c["config"]
    steps = 10 * cfg["epochs"] * cfg["batches"] * cfg["batch_size"]
    images = 10 * (c["seed_rule"]["train"]["total"] +
                   c["seed_rule"]["test"]["total"])
    floor = {"train": 2 * 1132128 * steps / (peak * 1e9 * cores),
             "eval": 2 * 415008 * images / (peak * 1e9 * cores)}
    floor["total"] = floor["train"] + floor["eval"]
    print(f"floor at {peak:.1f} GFLOP/s x {cores} cores (fp32 FMA peak of "
          f"{c['isa']}, measured now): train {floor['train']:.2f} s, "
          f"evaluation {floor['eval']:.2f} s, total {floor['total']:.2f} s")
    print("cosnet at " + ", ".join(
        f"{k} {100 * floor[k] / c['time_s'][k]:.0f}%"
        for k in ("train", "eval", "total")) + " of the floor's speed")
print()
for key, name in (("seed_rule", "seed rule"),
                  ("own_label_rule", "own-label rule")):
    for who, r in (("cosnet", c), ("PyTorch", t)):
        tr, te = r[key]["train"], r[key]["test"]
        print(f"{name:15} {who:8} train {tr['correct']}/{tr['total']} "
              f"({100 * tr['correct'] / tr['total']:.3f}%)  "
              f"test {te['correct']}/{te['total']} "
              f"({100 * te['correct'] / te['total']:.3f}%)")
EOF
