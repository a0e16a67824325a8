#!/usr/bin/env bash
# Cross-builds libcosnet for AArch64 and runs its unit tests under qemu-user,
# so the NEON kernels are built and tested on an x86-64 Debian machine.
# Installs the cross toolchain, qemu-user and the arm64 zlib/cmocka once
# (skipping what is present). Usage: scripts/test-arm64.sh [build-dir]
#   build-dir   default: build-arm64 beside this script's repository
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-arm64}"
case "${1:-}" in
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libc6:arm64
          zlib1g-dev:arm64 libcmocka-dev:arm64 meson ninja-build pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test-arm64: installing ${missing[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 \
    || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" \
    --cross-file "$root/scripts/cross/aarch64-linux-gnu.ini" \
    -Dbenchmarks=false
fi
ninja -C "$build"

# The kernel parity test once per forced variant (the unit suite below runs
# it again with the automatic choice, which must be neon).
for isa in scalar neon; do
  echo "test-arm64: test_kernels with COSNET_ISA=$isa"
  COSNET_ISA=$isa meson test -C "$build" test_kernels --print-errorlogs \
    --timeout-multiplier 4
done
unset COSNET_ISA
# Emulation is several times slower than the hardware the timeouts assume.
meson test -C "$build" --suite unit --print-errorlogs --timeout-multiplier 4
