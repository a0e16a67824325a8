#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz) for SECONDS each (default 60),
# starting from a copy of the committed corpus, with ASan + UBSan, memory
# limits (a header that makes the library allocate far beyond the input is
# a finding) and a per-input timeout. Prints, per target, the executions
# and libFuzzer's final coverage figures (cov = edges, ft = features), and
# ends with "N passed, N failed". A finding's input is saved under
# BUILD/fuzz-artifacts/; copy it into tests/fuzz/corpus/TARGET/ as
# crash-NAME and add a unit test.
#
# Usage: scripts/fuzz.sh [SECONDS] [--build DIR] [--jobs N] [TARGET...]
#   --build DIR  the clang fuzz build folder (default build-fuzz; set up
#                with CC=clang and -Dfuzzing=true if missing)
#   --jobs N     targets run at once (default 1)
#   --make-seeds regenerate tests/fuzz/corpus/*/seed-* and exit
# Environment: FUZZ_FLAGS adds libFuzzer flags.
set -euo pipefail
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
bad_usage() { echo "fuzz.sh: $* (--help for the usage)" >&2; exit 2; }
whole() { [[ $1 =~ ^[0-9]+$ ]] && [ "$((10#$1))" -ge 1 ]; } # a whole number >= 1

seconds=60 build="" jobs=1 targets=() make_seeds=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build|--jobs)
      [ $# -ge 2 ] && [ -n "$2" ] || bad_usage "$1 needs a value"
      if [ "$1" = --build ]; then build=$2
      else whole "$2" || bad_usage "--jobs takes a whole number of at least 1, not '$2'"; jobs=$((10#$2))
      fi
      shift ;;
    --make-seeds) make_seeds=1 ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*)
      whole "$1" || bad_usage "SECONDS is a whole number of at least 1, not '$1'"
      seconds=$((10#$1)) ;;
    fuzz_*) targets+=("$1") ;;
    *) bad_usage "unknown argument $1" ;;
  esac
  shift
done
# The build folder as the caller meant it, before moving to the repository.
case "$build" in ""|/*) ;; *) build=$PWD/$build ;; esac
cd "$(dirname "$0")/.."
. scripts/meson-build.sh
build=${build:-$PWD/build-fuzz}
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_dataset fuzz_labels fuzz_model fuzz_model_crc fuzz_classifier fuzz_image)

if [ "$make_seeds" = 1 ]; then
  # Any build with tests has the generator; the seeds do not depend on
  # which (build, build-dev, or the --build folder).
  seed_build=
  for dir in build build-dev "$build"; do
    if [ -f "$dir/build.ninja" ] &&
       ninja -C "$dir" -t targets all 2>/dev/null | grep -q '^tests/fuzz/make_seeds:'; then
      seed_build=$dir; break
    fi
  done
  [ -n "$seed_build" ] || { echo "fuzz.sh: no build with tests (meson setup build)" >&2; exit 1; }
  logged "ninja -C $seed_build tests/fuzz/make_seeds" ninja -C "$seed_build" tests/fuzz/make_seeds
  # Only the targets make_seeds writes: the classifier and image seeds
  # were made by hand and stay.
  for target in fuzz_dataset fuzz_labels fuzz_model fuzz_model_crc; do
    rm -f tests/fuzz/corpus/"$target"/seed-*
  done
  "$seed_build/tests/fuzz/make_seeds" tests/fuzz/corpus
  echo "fuzz.sh: seeds written to tests/fuzz/corpus"
  exit 0
fi

# A folder an interrupted first setup left (no build.ninja) is set up anew.
if ! prepare_dir "$build"; then
  [ ! -e "$build" ] || exit 1 # not a build folder: prepare_dir said so
  CC=clang logged "meson setup $build" meson setup "$build" "$cosnet_root" -Dfuzzing=true \
    -Dtests=false -Dexamples=false -Dbenchmarks=false -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
fi
logged "ninja -C $build" ninja -C "$build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# 16 KiB inputs at most; gzip can inflate 1032-fold, so 32 MiB is the most
# any input may legitimately make the library allocate at once.
flags=(-max_total_time="$seconds" -max_len=16384 -timeout=10
       -rss_limit_mb=1024 -malloc_limit_mb=32 -print_final_stats=1)
read -r -a extra <<<"${FUZZ_FLAGS:-}"

run_target() { # run_target NAME: fuzz it, write BUILD/fuzz-logs/NAME.log
  local name=$1 work=$build/fuzz-corpus/$1
  mkdir -p "$work" "$build/fuzz-artifacts" "$build/fuzz-logs"
  cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  "$build/tests/fuzz/$name" "${flags[@]}" ${extra[@]+"${extra[@]}"} \
    -artifact_prefix="$build/fuzz-artifacts/$name-" "$work" \
    >"$build/fuzz-logs/$name.log" 2>&1
}

pids=() names=()
for name in "${targets[@]}"; do
  run_target "$name" &
  pids+=($!) names+=("$name")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done

passed=0 failed=0
for i in "${!pids[@]}"; do
  name=${names[$i]} log=$build/fuzz-logs/${names[$i]}.log
  status=0
  wait "${pids[$i]}" || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ "$status" = 0 ]; then
    passed=$((passed + 1)); verdict=ok
  else
    failed=$((failed + 1)); verdict="FAILED (exit $status; see $log)"
  fi
  echo "fuzz $name: ${runs:-?} executions in ${seconds} s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corpus:-?}: $verdict"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
