#!/usr/bin/env bash
# The whole test suite from nothing: Debian packages, the MNIST data, an
# optimised build and a sanitizer build (AddressSanitizer +
# UndefinedBehaviorSanitizer), each running every test; then the ABI check
# against the last release, the install check (exported symbols, the
# pkg-config/CMake/meson consumers), the man pages, the guide's programs,
# valgrind on the examples and the HTML report in headless chromium; a
# ThreadSanitizer build running every test that uses threads; a clang
# libFuzzer build running each fuzz target for 30 s (docs/reliability.md).
# Ends with one line "N passed, N failed".
#
# A build that fails (its output's last lines are shown) counts as one
# failure, and the script goes on with the other parts.
#
# Usage: scripts/test.sh [--no-sanitize] [--no-install-check] [--no-valgrind]
#                        [--no-tsan] [--no-fuzz]
#   --no-install-check  skips the install, man page and guide checks
# Environment: COSNET_DATA overrides the MNIST folder (see fetch-mnist.sh).
set -euo pipefail
# A relative COSNET_DATA names a folder under where the script was started.
case "${COSNET_DATA:-}" in ""|/*) ;; *) COSNET_DATA=$PWD/$COSNET_DATA ;; esac
cd "$(dirname "$0")/.."
. scripts/meson-build.sh

sanitize=1 install_check=1 valgrind_check=1 tsan=1 fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    --no-install-check) install_check=0 ;;
    --no-valgrind) valgrind_check=0 ;;
    --no-tsan) tsan=0 ;;
    --no-fuzz) fuzz=0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

scripts/setup-debian.sh
COSNET_DATA=$(scripts/fetch-mnist.sh --print-dir)
export COSNET_DATA
# The integration tests must not skip when this script runs them.
export COSNET_REQUIRE_DATA=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

passed=0 failed=0
tally() { # tally LOGFILE: add meson test's summary counts
  local ok fail timeout
  ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$1" | tail -n1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$1" | tail -n1)
  timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$1" | tail -n1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0}))
  # No summary at all: meson test did not run (counted as one failure).
  if [ -z "$ok" ]; then failed=$((failed + 1)); echo "== meson test gave no summary: FAILED"; fi
}

run_suite() { # run_suite BUILDDIR LABEL [meson setup options...]
  local dir=$1 label=$2; shift 2
  # Everything on, explicitly: a build folder configured before these
  # options became 'auto' combos would otherwise keep them off.
  set -- -Dtests=true -Dexamples=true -Dbenchmarks=true "$@"
  echo "== $label: configure and build ($dir)"
  if ! build_dir "$dir" "$@"; then
    failed=$((failed + 1)); echo "== $label: build FAILED"; return 0
  fi
  echo "== $label: meson test"
  local log; log=$(mktemp)
  meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tee "$log" || true
  tally "$log"
  rm -f "$log"
}

run_suite build "optimised build"
if [ "$sanitize" = 1 ]; then
  run_suite build-sanitize "ASan+UBSan build" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
fi

check() { # check NAME COMMAND...: one pass/fail line per extra check
  if "$@"; then passed=$((passed + 1)); echo "check $1: ok"
  else failed=$((failed + 1)); echo "check $1: FAILED"; fi
}
check scripts/check-docs.sh
check scripts/check-format.sh
check scripts/check-abi.sh build-abi
if [ "$install_check" = 1 ]; then
  check scripts/check-install.sh build
  check scripts/check-man.sh build
  check scripts/check-guide.sh build
fi
if [ "$valgrind_check" = 1 ]; then
  check scripts/check-valgrind.sh build
fi
# cosnet-mnist's HTML report on the real data, rendered by headless chromium.
check scripts/check-report.sh build

# ThreadSanitizer (gcc): every test that starts threads; any report fails
# the test (halt_on_error, exit code 66).
if [ "$tsan" = 1 ]; then
  tsan_start=$SECONDS
  tsan_options=(-Db_sanitize=thread -Dbuildtype=debugoptimized
                -Dbenchmarks=false -Dexamples=false)
  # Not test_pipeline: docs/reliability.md says why.
  tsan_tests=(test_evaluate test_train test_thread_failures test_threads_predict
              test_classifier test_file_writer test_model test_status)
  echo "== ThreadSanitizer build: configure and build (build-tsan)"
  if build_dir build-tsan "${tsan_options[@]}"; then
    echo "== ThreadSanitizer build: the tests that use threads"
    tsan_log=$(mktemp)
    TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
      meson test -C build-tsan --print-errorlogs --num-processes 2 "${tsan_tests[@]}" \
      2>&1 | tee "$tsan_log" || true
    tally "$tsan_log"
    # meson test skips a name it does not know ("No suitable tests
    # defined") and exits 0: every test of the list must have run.
    for name in "${tsan_tests[@]}"; do
      if ! grep -qE "^ *[0-9]+/[0-9]+ (.* )?$name +[A-Z]" "$tsan_log"; then
        failed=$((failed + 1)); echo "== ThreadSanitizer build: $name did not run: FAILED"
      fi
    done
    rm -f "$tsan_log"
  else
    failed=$((failed + 1)); echo "== ThreadSanitizer build: build FAILED"
  fi
  echo "== ThreadSanitizer build: $((SECONDS - tsan_start)) s"
fi

# libFuzzer (clang, ASan+UBSan): each target 30 s from the committed
# corpus; one pass/fail line per target (scripts/fuzz.sh prints them).
if [ "$fuzz" = 1 ]; then
  fuzz_start=$SECONDS
  echo "== fuzz targets: 30 s each, 2 at a time (build-fuzz)"
  fuzz_log=$(mktemp)
  scripts/fuzz.sh 30 --build build-fuzz --jobs 2 2>&1 | tee "$fuzz_log" || true
  fuzz_ok=$(grep -c '^fuzz .*: ok$' "$fuzz_log" || true)
  fuzz_bad=$(grep -c '^fuzz .*FAILED' "$fuzz_log" || true)
  # No target line at all (build failure) is one failure.
  [ $((fuzz_ok + fuzz_bad)) -gt 0 ] || fuzz_bad=1
  passed=$((passed + fuzz_ok)) failed=$((failed + fuzz_bad))
  rm -f "$fuzz_log"
  echo "== fuzz targets: $((SECONDS - fuzz_start)) s"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
