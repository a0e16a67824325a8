# Sourced by the check scripts: install_temp BUILDDIR PREFIX installs the
# build into PREFIX (reconfiguring the build's prefix for the install, then
# putting back the one it had), so that pkg-config, CMake and the programs'
# relative rpath all see a real installation in an unusual place.
install_temp() {
  local builddir=$1 prefix=$2 old
  old=$(meson introspect --buildoptions "$builddir" |
        python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
  meson configure "$builddir" -Dprefix="$prefix" >/dev/null
  local rc=0
  meson install -C "$builddir" --quiet >/dev/null || rc=$?
  meson configure "$builddir" -Dprefix="$old" >/dev/null
  return $rc
}
