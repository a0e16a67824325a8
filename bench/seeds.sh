#!/usr/bin/env bash
# The accuracy of a cosnet-train recipe over seeds: one run per seed, each
# on one thread (the trained model does not depend on the thread count),
# several at a time; prints each seed's test accuracy and training time,
# then the mean and the standard deviation. A single seed's accuracy varies
# by about +-0.06 points on MNIST, so recipes are told apart by their means
# over many seeds, or, better, by per-seed differences: --against FILE
# (this script's earlier output) adds the mean difference over the seeds
# both runs have, with its standard error.
#
# Usage: bench/seeds.sh [BUILD_DIR] [--seeds FIRST-LAST] [--jobs N]
#                       [--against FILE] [-- COSNET_TRAIN_OPTION...]
#   --seeds  seeds to run (default 0-2)
#   --jobs   runs at a time (default: online CPUs)
#   Options after -- go to cosnet-train, e.g. -- --epochs 26.
# Times are wall times of runs sharing the machine: they compare recipes run
# alike, not with a quiet run. Environment: COSNET_DATA, the MNIST folder.
set -euo pipefail
build=${COSNET_BUILD:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
first=0 last=2 jobs=$(nproc) against=
usage() { echo "seeds.sh: $1" >&2; echo "Try 'bench/seeds.sh --help'." >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds)
      [[ "${2:-}" =~ ^([0-9]+)-([0-9]+)$ ]] || usage "--seeds takes FIRST-LAST, not '${2:-}'"
      first=$((10#${BASH_REMATCH[1]})) last=$((10#${BASH_REMATCH[2]}))
      [ "$first" -le "$last" ] || usage "--seeds $2: FIRST is after LAST"
      shift 2 ;;
    --jobs)
      [[ "${2:-}" =~ ^[1-9][0-9]{0,2}$ ]] || usage "--jobs takes 1..999, not '${2:-}'"
      jobs=$2; shift 2 ;;
    --against)
      [ -r "${2:-}" ] || usage "--against: cannot read '${2:-}'"
      against=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown argument $1" ;;
  esac
done
program=$build/examples/cosnet-train
[ -x "$program" ] || { echo "seeds.sh: no $program" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "cosnet-train --threads 1 $* (seeds $first-$last, $jobs at a time)"
# Each run writes its JSON, or its messages and exit status if it fails.
run_one() {
  local seed=$1; shift
  "$program" --quiet --threads 1 --seed "$seed" --json "$work/$seed.json" "$@" \
    > /dev/null 2> "$work/$seed.err" || echo $? > "$work/$seed.failed"
}
running=0
for seed in $(seq "$first" "$last"); do
  run_one "$seed" "$@" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
for seed in $(seq "$first" "$last"); do
  if [ -e "$work/$seed.failed" ]; then
    echo "seeds.sh: seed $seed: cosnet-train failed (exit $(cat "$work/$seed.failed")):" >&2
    cat "$work/$seed.err" >&2
    exit 1
  fi
done

python3 - "$work" "$first" "$last" "$against" <<'PY'
import json, re, statistics, sys
work, first, last, against = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
accuracy = {}
for seed in range(first, last + 1):
    run = json.load(open(f"{work}/{seed}.json"))
    correct, total = run["test"]["correct"], run["test"]["total"]
    accuracy[seed] = 100 * correct / total
    print(f"seed {seed:5d}  {accuracy[seed]:7.3f}%  ({correct}/{total})  "
          f"training {run['seconds']['train']:.1f} s")
values = list(accuracy.values())
spread = statistics.stdev(values) if len(values) > 1 else 0.0
print(f"mean {statistics.mean(values):.3f}% over {len(values)} seeds, "
      f"standard deviation {spread:.3f}")
if against:
    line = re.compile(r"^seed +(\d+) +([0-9.]+)%")
    earlier = {int(m[1]): float(m[2]) for m in map(line.match, open(against)) if m}
    common = sorted(set(earlier) & set(accuracy))
    if not common:
        sys.exit(f"seeds.sh: {against} has none of seeds {first}-{last}")
    differences = [accuracy[s] - earlier[s] for s in common]
    error = (statistics.stdev(differences) / len(common) ** 0.5
             if len(common) > 1 else float("nan"))
    print(f"against {against}: {statistics.mean(differences):+.3f} points "
          f"+- {error:.3f} (standard error) over {len(common)} common seeds")
PY
