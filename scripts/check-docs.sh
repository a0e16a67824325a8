#!/usr/bin/env bash
# Keeps docs/api-reference.md true to the header: every function declared in
# include/cosnet.h must be named there, and nothing named there may be
# missing from the header. Grouped names ("cosnet_model_input_rows /
# _input_columns") are expanded with the prefix of the first.
set -euo pipefail
cd "$(dirname "$0")/.."
declared=$(grep -o 'cosnet_[a-z_0-9]*(' include/cosnet.h | tr -d '(' | sort -u)
documented=$(python3 - <<'PY'
import re
text = open("docs/api-reference.md").read()
names = set()
for cell in re.findall(r"`([^`]*)`", text):
    cell = cell.split("(")[0]
    parts = [p.strip() for p in cell.split("/")]
    if not parts[0].startswith("cosnet_"):
        continue
    first = parts[0]
    names.add(first)
    for p in parts[1:]:
        if p.startswith("_"):
            # "cosnet_model_input_rows / _input_columns": replace the suffix
            # after the common stem (the handle's name).
            stem = re.match(r"(cosnet_[a-z]+)", first).group(1)
            names.add(stem + p)
        elif p.startswith("cosnet_"):
            names.add(p)
print("\n".join(sorted(names)))
PY
)
missing=$(comm -23 <(echo "$declared") <(echo "$documented"))
types=$(grep -o 'typedef \(struct\|enum\) cosnet_[a-z_]*' include/cosnet.h | awk '{print $3}' | sort -u)
stale=$(comm -13 <(echo "$declared") <(echo "$documented") | comm -23 - <(echo "$types"))
if [ -n "$missing" ] || [ -n "$stale" ]; then
  [ -n "$missing" ] && echo "not in docs/api-reference.md: $missing"
  [ -n "$stale" ] && echo "in docs/api-reference.md but not in the header: $stale"
  exit 1
fi
echo "docs check: all $(echo "$declared" | wc -l) functions of the header are in docs/api-reference.md"
