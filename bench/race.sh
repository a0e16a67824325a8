#!/usr/bin/env bash
# The race: cosnet-mnist against the same pipeline in PyTorch
# (bench/pytorch_pipeline.py), on this machine, one after the other, with
# the same data, label table and configuration. Prints both programs' times
# for training, evaluation and the whole run, the ratio PyTorch / cosnet,
# and both programs' seed-rule and own-label counts.
#
# Usage: bench/race.sh [BUILD_DIR] [--runs N] [--epochs N] [--batches N]
#                      [--batch-size N] [--eval-batch N]
#   BUILD_DIR   the meson build folder holding examples/cosnet-mnist
#               (default: $COSNET_BUILD, else build)
#   --runs N    run cosnet and tuned PyTorch N times, alternately, and
#               print the medians of their times and of the N ratios
#               (default 1; the host's speed wanders, see
#               docs/performance.md)
#   --eval-batch  PyTorch's images per evaluation forward pass, in both
#               of its runs (default: 100 tuned, 1000 untuned, as in the
#               article's test)
# Environment: COSNET_DATA, the MNIST folder (both programs' default is
# the folder scripts/fetch-mnist.sh fills).
# Both programs use every core: cosnet-mnist --threads 0, PyTorch nproc
# threads (tuned: nproc processes of one thread each). If BUILD_DIR has
# bench/bench_network, the machine's floor (the work at the measured fp32
# FMA peak) is printed too.
#
# PyTorch runs in two forms and the ratios use its best. "Tuned": glibc's
# allocator kept from returning memory to the system between operations
# (MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised, the effect
# jemalloc or tcmalloc give, as PyTorch's CPU tuning guides recommend: on
# these virtual machines every fresh large buffer otherwise costs page
# faults), the channels-last memory format, each model passed through
# torch.jit.optimize_for_inference for the evaluation, evaluation batches
# of 100, and nproc worker processes of one thread each (the digits
# trained, and parts of the images evaluated, in parallel, as cosnet-mnist
# does with its threads). "Untuned": the straightforward program with
# glibc's defaults and one process of nproc intra-op threads, printed
# beside it. What each step gives: docs/performance.md, "PyTorch at its
# best".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

build=${COSNET_BUILD:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi
shared=() torch_only=() runs=1
# PyTorch's tuned form (the header above); --eval-batch replaces the 100.
tuned=(--channels-last --optimize-inference --processes "$(nproc)")
tuned_batch=(--eval-batch 100)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs)
      [ $# -ge 2 ] || { echo "race.sh: $1 needs a value" >&2; exit 2; }
      case "$2" in
        '' | *[!0-9]* | 0*) echo "race.sh: --runs needs a positive whole number, not '$2'" >&2; exit 2 ;;
      esac
      runs=$2; shift 2 ;;
    --epochs|--batches|--batch-size)
      [ $# -ge 2 ] || { echo "race.sh: $1 needs a value" >&2; exit 2; }
      shared+=("$1" "$2"); shift 2 ;;
    --eval-batch)
      [ $# -ge 2 ] || { echo "race.sh: $1 needs a value" >&2; exit 2; }
      torch_only+=("$1" "$2"); tuned_batch=(); shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

for run in $(seq 1 "$runs"); do
  of_runs=
  [ "$runs" -gt 1 ] && of_runs=" (run $run of $runs)"
  echo "== cosnet-mnist ${shared[*]:-(default configuration)}$of_runs"
  "$program" --quiet --threads 0 "${data_args[@]}" "${shared[@]}" \
    --json "$work/cosnet-$run.json" | sed -n '1,2p;/Set:/p;/^time/p'
  echo "== PyTorch, tuned ${shared[*]} ${torch_only[*]}$of_runs"
  MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
    "$python" "$here/pytorch_pipeline.py" --threads "$cores" "${data_args[@]}" \
    "${tuned[@]}" "${tuned_batch[@]}" "${shared[@]}" "${torch_only[@]}" \
    --json "$work/torch-$run.json"
done
echo "== PyTorch, untuned (one process, glibc's default allocator)"
"$python" "$here/pytorch_pipeline.py" --threads "$cores" "${data_args[@]}" \
  "${shared[@]}" "${torch_only[@]}" --json "$work/torch-untuned.json"

# The floor, if the network benchmark is built: the work at the measured
# single-core fp32 FMA peak of cosnet's kernel variant, times the cores.
peak=
if [ -x "$build/bench/bench_network" ]; then
  isa=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["isa"])' "$work/cosnet-1.json")
  peak=$("$build/bench/bench_network" --variant "$isa" --images 100 \
           --train-images 20 --batch 20 --reps 1 2>/dev/null |
         sed -n 's/.*single-core fp32 FMA peak \([0-9.]*\) GFLOP\/s.*/\1/p' | head -n1)
fi

"$python" - "$runs" "$work" "${peak:-}" "$cores" <<'EOF'
import json, os, statistics, sys
runs = int(sys.argv[1])
work = sys.argv[2]
peak = float(sys.argv[3]) if sys.argv[3] else None
cores = int(sys.argv[4])
load = lambda name: json.load(open(os.path.join(work, name)))
cosnet = [load(f"cosnet-{k}.json") for k in range(1, runs + 1)]
torch = [load(f"torch-{k}.json") for k in range(1, runs + 1)]
c, t = cosnet[0], torch[0]
u = load("torch-untuned.json")
keys = (("train", "training"), ("eval", "evaluation"), ("total", "total"))
# Each program's median time, and the median of the runs' ratios (each
# from one cosnet run and the PyTorch run right after it).
median = statistics.median
times = {who: {key: median([r["time_s"][key] for r in results])
               for key, _ in keys}
         for who, results in (("cosnet", cosnet), ("torch", torch))}
ratios = {key: [b["time_s"][key] / a["time_s"][key]
                for a, b in zip(cosnet, torch) if a["time_s"][key] > 0]
          for key, _ in keys}
print()
def form(r):
    cfg = r["config"]
    processes = cfg.get("processes", 1)
    parts = [f"{processes} processes of {max(1, r['threads'] // processes)} "
             f"thread(s)" if processes > 1 else f"{r['threads']} threads"]
    parts += [name for name, key in (("channels-last", "channels_last"),
                                     ("optimize_for_inference",
                                      "optimize_inference")) if cfg.get(key)]
    return ", ".join(parts + [f"evaluation batches of {cfg['eval_batch']}"])
print(f"machine: {os.cpu_count()} CPUs; cosnet {c['version']} "
      f"(kernels {c['isa']}, {c['threads']} threads); torch {t['torch']}, "
      f"tuned: {form(t)}; untuned: {form(u)}")
if runs > 1:
    print(f"medians of {runs} runs each, the two programs alternating; "
          f"PyTorch/cosnet is the median of the {runs} runs' ratios")
print(f"{'':12}{'cosnet (s)':>12}{'PyTorch (s)':>13}{'PyTorch/cosnet':>16}"
      f"{'untuned (s)':>13}{'untuned/cosnet':>16}")
for key, name in keys:
    a, b, d = times["cosnet"][key], times["torch"][key], u["time_s"][key]
    ratio = f"{median(ratios[key]):.2f}x" if ratios[key] else "-"
    untuned = f"{d / a:.2f}x" if a > 0 else "-"
    print(f"{name:12}{a:12.2f}{b:13.2f}{ratio:>16}{d:13.2f}{untuned:>16}")
if runs > 1:
    for k, (a, b) in enumerate(zip(cosnet, torch), 1):
        total = a["time_s"]["total"]
        ratio = f"{b['time_s']['total'] / total:.2f}x" if total > 0 else "-"
        print(f"run {k}: cosnet {total:.2f} s (training "
              f"{a['time_s']['train']:.2f}, evaluation "
              f"{a['time_s']['eval']:.2f}), PyTorch "
              f"{b['time_s']['total']:.2f} s, {ratio}")
if peak:
    # Multiply-adds per image: forward 415,008 (docs/math.md); a training
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
        f"{k} {100 * floor[k] / times['cosnet'][k]:.0f}%"
        for k in ("train", "eval", "total")) +
        " of the floor's speed" + (" (median times)" if runs > 1 else ""))
print()
rules = ("seed_rule", "own_label_rule")
for key, name in (("seed_rule", "seed rule"),
                  ("own_label_rule", "own-label rule")):
    for who, r in (("cosnet", c), ("PyTorch", t)):
        tr, te = r[key]["train"], r[key]["test"]
        print(f"{name:15} {who:8} train {tr['correct']}/{tr['total']} "
              f"({100 * tr['correct'] / tr['total']:.3f}%)  "
              f"test {te['correct']}/{te['total']} "
              f"({100 * te['correct'] / te['total']:.3f}%)")
# The counts printed are the first run's; a later run's that differ are
# reported.
for who, results in (("cosnet", cosnet), ("PyTorch", torch)):
    for k, r in enumerate(results[1:], 2):
        if any(r[key] != results[0][key] for key in rules):
            print(f"note: {who}'s counts in run {k} differ from run 1's")
EOF
