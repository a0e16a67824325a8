#!/usr/bin/env bash
# Fails if any C source or header differs from what clang-format makes of it
# under the repository's .clang-format. Fix with: clang-format -i FILE
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "format check: clang-format is not installed (apt-get install clang-format)"
  exit 1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include lib tests examples bench -name '*.[ch]')
bad=0
for f in $files; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"; bad=1
  fi
done
[ "$bad" = 0 ] && echo "format check: $(echo "$files" | wc -w) files follow .clang-format"
exit $bad
