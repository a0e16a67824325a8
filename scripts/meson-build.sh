# shellcheck shell=bash
# Sourced by the scripts that build: their meson and ninja runs are quiet
# when they work, and show what went wrong when they do not.
#   logged WHAT COMMAND...  runs COMMAND with its output in a log; on failure
#                           prints the log's last lines (and where the whole
#                           log is) on stderr and returns COMMAND's status
#   build_dir DIR [MESON_SETUP_OPTION...]
#                           sets up DIR as a build of this tree (with
#                           --reconfigure when DIR/build.ninja exists), then
#                           builds it with ninja
#   prepare_dir DIR         0 when DIR is a set-up build folder; otherwise
#                           removes what an interrupted first setup left
#                           (a folder with meson-private/ or meson-logs/ and
#                           no build.ninja) and returns 1; refuses (2) a
#                           folder that is not a build folder at all
cosnet_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

logged() {
  local what=$1 log status=0; shift
  log=$(mktemp "${TMPDIR:-/tmp}/cosnet-build-XXXXXX")
  "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -eq 0 ]; then rm -f "$log"; return 0; fi
  {
    echo "$what failed (exit $status); its last lines (the whole output: $log):"
    tail -n 60 "$log"
  } >&2
  return "$status"
}

prepare_dir() {
  local dir=$1
  [ -f "$dir/build.ninja" ] && return 0
  [ -e "$dir" ] || return 1
  if [ -d "$dir" ] && { [ -d "$dir/meson-private" ] || [ -d "$dir/meson-logs" ] ||
                        [ -z "$(ls -A "$dir")" ]; }; then
    echo "note: $dir has no build.ninja (an interrupted setup?): setting it up anew" >&2
    rm -rf "$dir"
    return 1
  fi
  echo "$dir exists but is not a meson build folder: not touching it" >&2
  return 2
}

build_dir() {
  local dir=$1 state=0; shift
  prepare_dir "$dir" || state=$?
  case "$state" in
    0) logged "meson setup --reconfigure $dir" \
         meson setup --reconfigure "$dir" "$cosnet_root" "$@" || return ;;
    1) logged "meson setup $dir" meson setup "$dir" "$cosnet_root" "$@" || return ;;
    *) return 1 ;;
  esac
  logged "ninja -C $dir" ninja -C "$dir"
}
