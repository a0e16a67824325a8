#!/usr/bin/env bash
# Holds the installed man pages to what they describe. Installs a build into
# a temporary prefix, then for every installed program runs its --help and
# fails if an option it lists is not an item of its man page's OPTIONS (or
# the page documents an option --help does not list). libcosnet(3) must name
# every cosnet_status value and handle type of the header, and its EXAMPLE
# must compile (-Wall -Wextra -Werror) and run. Every page must
# render without groff warnings and carry the project's version.
# Usage: scripts/check-man.sh [BUILDDIR]   (default: build)
set -euo pipefail
. "$(dirname "$0")/builddir-argument.sh"
builddir_argument check-man "$@"
cd "$(dirname "$0")/.."
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
. scripts/install-temp.sh
install_temp "$builddir" "$stage/prefix"
prefix="$stage/prefix"
version=$(meson introspect --projectinfo "$builddir" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')

bad=0
complain() { echo "check-man: $*" >&2; bad=1; }
render() { groff -man -Tascii -P-cbou "$1" 2>/dev/null; }
lint() { # lint PAGE: no groff warnings, the project's version in .TH
  local warnings
  warnings=$(groff -man -ww -z "$1" 2>&1) || true
  [ -z "$warnings" ] || complain "$(basename "$1"): groff warns: $warnings"
  head -n1 "$1" | grep -q "\"libcosnet $version\"" ||
    complain "$(basename "$1"): .TH does not say libcosnet $version"
}

pages=0 programs=0
for program in "$prefix"/bin/*; do
  [ -x "$program" ] || continue
  name=$(basename "$program")
  page="$prefix/share/man/man1/$name.1"
  programs=$((programs + 1))
  if [ ! -f "$page" ]; then complain "$name has no installed man page"; continue; fi
  lint "$page"; pages=$((pages + 1))
  help=$(env -u LD_LIBRARY_PATH "$program" --help) || complain "$name --help fails"
  # (grep finding nothing is an answer here, not an error.)
  listed=$({ grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" || true; } | sort -u)
  [ -n "$listed" ] || complain "$name --help lists no options"
  # Items of OPTIONS: tag lines (7 spaces, then the option) of the rendered page.
  documented=$(render "$page" | sed -n '/^OPTIONS/,/^[A-Z]/p' |
               { grep -o -- '^       --[a-z][a-z0-9-]*' || true; } | tr -d ' ' | sort -u)
  missing=$(comm -23 <(echo "$listed") <(echo "$documented"))
  stale=$(comm -13 <(echo "$listed") <(echo "$documented"))
  [ -z "$missing" ] || complain "$name.1 lacks options its --help lists:" $missing
  [ -z "$stale" ] || complain "$name.1 documents options its --help does not list:" $stale
done

library_page="$prefix/share/man/man3/libcosnet.3"
if [ -f "$library_page" ]; then
  lint "$library_page"; pages=$((pages + 1))
  text=$(render "$library_page")
  for word in $(sed -n '/typedef enum cosnet_status/,/} cosnet_status;/p' include/cosnet.h |
                grep -o 'COSNET_[A-Z_]*' | sort -u) \
              $(grep -o 'typedef struct cosnet_[a-z_]* cosnet_[a-z_]*;' include/cosnet.h |
                awk '{print $4}' | tr -d ';'); do
    grep -qw -- "$word" <<<"$text" || complain "libcosnet.3 does not mention $word"
  done
  # Its EXAMPLE, as rendered, is a program that compiles and runs.
  sed -n '/^EXAMPLE/,/^[A-Z]/p' <<<"$text" | sed '1d;$d' > "$stage/example.c"
  pcdir=$(dirname "$(find "$prefix" -name cosnet.pc | head -n1)")
  # shellcheck disable=SC2046
  if cc -std=c99 -Wall -Wextra -Werror "$stage/example.c" -o "$stage/example" \
       $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs cosnet); then
    LD_LIBRARY_PATH="$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir cosnet)" \
      "$stage/example" >/dev/null || complain "the EXAMPLE of libcosnet.3 fails"
  else
    complain "the EXAMPLE of libcosnet.3 does not compile"
  fi
else
  complain "libcosnet.3 is not installed"
fi

[ "$bad" -eq 0 ] || exit 1
echo "man check: $pages pages render cleanly; the options of $programs programs' --help" \
  "match their man pages; libcosnet.3 names every status and handle, its example runs"
