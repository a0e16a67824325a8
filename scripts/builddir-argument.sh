# shellcheck shell=bash
# Sourced by the check-*.sh scripts that take one optional BUILDDIR:
#   builddir_argument NAME "$@"
# answers --help with the script's opening comment, refuses other options
# and more than one argument (exit 2), and sets `builddir` to BUILDDIR as
# the caller meant it (relative to where the script was started; default:
# the tree's build/), absolute, or exits 2 when it is no build folder.
builddir_argument() {
  local name=$1 script=$0
  shift
  case "${1:-}" in
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$script"
      exit 0
      ;;
    -*)
      echo "$name: unknown option $1 (--help for the usage)" >&2
      exit 2
      ;;
  esac
  [ $# -le 1 ] || { echo "$name: one BUILDDIR at most" >&2; exit 2; }
  builddir=${1:-$(dirname "$script")/../build}
  [ -f "$builddir/build.ninja" ] ||
    { echo "$name: no build folder $builddir (meson setup BUILDDIR first)" >&2; exit 2; }
  builddir=$(cd "$builddir" && pwd)
}
