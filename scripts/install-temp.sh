# shellcheck shell=bash
# Sourced by the check scripts: install_temp BUILDDIR PREFIX installs the
# build into PREFIX (reconfiguring the build's prefix for the install, then
# putting back the one it had), so that pkg-config, CMake and the programs'
# relative rpath all see a real installation in an unusual place. (meson
# install --destdir would leave the prefix alone, but cosnet.pc and the CMake
# files would then name the build's prefix, not where they lie.) The prefix
# is put back however the install ends, an interruption (Ctrl-C) included:
# the work runs in a subshell whose trap restores it, then dies of the same
# signal. Output is shown only when a step fails.
install_temp() {
  local builddir=$1 prefix=$2 old
  old=$(meson introspect --buildoptions "$builddir" |
        python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))') ||
    { echo "install_temp: cannot read the prefix of $builddir" >&2; return 1; }
  (
    log=$(mktemp)
    restore() {
      meson configure "$builddir" -Dprefix="$old" >>"$log" 2>&1 ||
        { echo "install_temp: could not put back the prefix $old of $builddir:" >&2; cat "$log" >&2; }
    }
    trap 'restore; rm -f "$log"' EXIT
    for signal in INT TERM HUP; do
      # shellcheck disable=SC2064
      trap "restore; rm -f \"\$log\"; trap - $signal EXIT; kill -s $signal \$BASHPID" "$signal"
    done
    if ! meson configure "$builddir" -Dprefix="$prefix" >"$log" 2>&1 ||
       ! meson install -C "$builddir" --quiet >>"$log" 2>&1; then
      echo "install_temp: installing $builddir into $prefix failed:" >&2
      tail -n 60 "$log" >&2
      exit 1
    fi
  )
}
