#!/bin/bash
# packaging/debian/build-deb.sh: `make deb`. Builds build/stated_VERSION_ARCH.deb from the
# binaries in build/bin (the Makefile builds them first) and the files beside this script.
# dpkg-deb --root-owner-group makes every file root's without fakeroot; the postinst gives
# /etc/stated/stated.env to the stated group. docs/packaging.md describes the result.
#
# Depends names the packages of the libraries the binaries link: dpkg-shlibdeps computes
# them when it is installed (dpkg-dev); without it, or with DEB_DEPENDS_FROM=ldd, they come
# from the binaries' NEEDED entries, ldd and dpkg -S (names only, no minimum versions).
# DEB_BIN and DEB_OUT choose other binaries and another output directory (the tests use them).
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${DEB_BIN:-$TOP/build/bin}
OUT=${DEB_OUT:-$TOP/build}
PROGRAMS=(stated statectl stackgen)

VERSION=$(sed -n 's/^#define STATED_VERSION "\(.*\)"$/\1/p' "$TOP/common/version.h")
ARCH=$(dpkg --print-architecture)
# dpkg-shlibdeps expects the package tree at debian/PACKAGE next to a debian/control.
WORK=$OUT/deb
ROOT=$WORK/debian/stated
DEB=$OUT/stated_${VERSION}_$ARCH.deb
DOC=$ROOT/usr/share/doc/stated

die() {
  echo "build-deb: $*" >&2
  exit 1
}

check_inputs() {
  [ -n "$VERSION" ] || die "no STATED_VERSION in common/version.h"
  local p top
  for p in "${PROGRAMS[@]}"; do
    [ -x "$BIN/$p" ] || die "$BIN/$p is missing: run make all"
  done
  # A release without its changelog entry would ship a package that lies about its version.
  top=$(sed -n '1s/^stated (\([^)]*\)).*/\1/p' "$HERE/changelog")
  [ "$top" = "$VERSION" ] ||
    die "packaging/debian/changelog starts with '$top' but common/version.h says $VERSION: add an entry"
}

stage_programs() {
  local p
  install -d "$ROOT/usr/bin"
  for p in "${PROGRAMS[@]}"; do
    install -m 0755 "$BIN/$p" "$ROOT/usr/bin/$p"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$ROOT/usr/bin/$p"
  done
}

stage_files() {
  install -D -m 0644 "$HERE/stated.service" "$ROOT/lib/systemd/system/stated.service"
  install -D -m 0640 "$HERE/stated.env" "$ROOT/etc/stated/stated.env"
  # stackgen finds its modules at ../share/stated/scaleway from its own directory.
  install -d "$ROOT/usr/share/stated"
  cp -R "$TOP/module/scaleway" "$ROOT/usr/share/stated/scaleway"
  install -d "$DOC/docs"
  install -m 0644 "$TOP/README.md" "$DOC/"
  install -m 0644 "$TOP"/docs/*.md "$DOC/docs/"
  install -m 0644 "$HERE/copyright" "$DOC/copyright"
  # A native package (no Debian revision in its version) names its changelog changelog.gz.
  gzip -9n <"$HERE/changelog" >"$DOC/changelog.gz"
  install -D -m 0644 "$HERE/lintian-overrides" "$ROOT/usr/share/lintian/overrides/stated"
  chmod -R u=rwX,go=rX "$ROOT/usr/share"
  # The modules' helper scripts run on the operator's machine, which the modules call as
  # `python3 SCRIPT`: data here, not programs of this package (python3 is only suggested).
  find "$ROOT/usr/share/stated/scaleway" -name '*.py' -exec chmod 0644 {} +
}

# depends_shlibdeps BINARY...: the shlibs:Depends value dpkg-shlibdeps computes.
depends_shlibdeps() {
  printf 'Source: stated\n\nPackage: stated\nArchitecture: any\n' >"$WORK/debian/control"
  (cd "$WORK" && dpkg-shlibdeps -O "${@#"$WORK"/}") | sed -n 's/^shlibs:Depends=//p'
}

# owner_of PATH: the package that installed a library, trying the other spelling of the
# path too (with merged /usr, ldd may say /lib where dpkg recorded /usr/lib, or the reverse).
owner_of() {
  local real c
  real=$(readlink -f "$1")
  for c in "$1" "/usr$1" "${1#/usr}" "$real" "/usr$real" "${real#/usr}"; do
    dpkg-query -S "$c" 2>/dev/null | grep -v '^diversion' | sed -n '1s/:.*//p' | grep . && return 0
  done
  return 1
}

# depends_ldd BINARY...: the packages owning each directly linked (NEEDED) library.
depends_ldd() {
  local f lib path
  for f in "$@"; do
    for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
      path=$(ldd "$f" | awk -v l="$lib" '$1 == l && $3 ~ /^\// {print $3}')
      [ -n "$path" ] || die "$f: ldd does not resolve $lib"
      owner_of "$path" || die "$f: no package owns $path"
    done
  done | sort -u | paste -sd, | sed 's/,/, /g'
}

shlibs_depends() {
  local bins=("${PROGRAMS[@]/#/$ROOT/usr/bin/}")
  if [ "${DEB_DEPENDS_FROM:-}" != ldd ] && command -v dpkg-shlibdeps >/dev/null; then
    depends_shlibdeps "${bins[@]}"
  else
    depends_ldd "${bins[@]}"
  fi
}

write_control() {
  local depends size
  depends=$(shlibs_depends)
  [ -n "$depends" ] || die "could not compute the library dependencies"
  size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
  sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$size/" \
    -e "s/@SHLIBS_DEPENDS@/$depends/" "$HERE/control" >"$ROOT/DEBIAN/control"
  install -m 0644 "$HERE/conffiles" "$ROOT/DEBIAN/conffiles"
  install -m 0755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$ROOT/DEBIAN/"
  # Conffiles (all of etc/) are left out, as dh_md5sums does: dpkg keeps their checksums itself.
  (cd "$ROOT" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort |
    xargs -d '\n' md5sum) >"$ROOT/DEBIAN/md5sums"
  chmod 0644 "$ROOT/DEBIAN/md5sums"
}

# The same inputs give the same bytes: every timestamp is the changelog entry's date.
build() {
  local when
  when=$(sed -n 's/^ -- .*>  \(.*\)$/\1/p' "$HERE/changelog" | head -n 1)
  SOURCE_DATE_EPOCH=$(date -d "$when" +%s)
  export SOURCE_DATE_EPOCH
  find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
  echo "build-deb: $DEB"
  sed -n 's/^Depends: /build-deb: Depends: /p' "$ROOT/DEBIAN/control"
}

check_inputs
rm -rf "$WORK"
install -d "$ROOT/DEBIAN" # also how dpkg-shlibdeps recognises the package tree
stage_programs
stage_files
write_control
build
