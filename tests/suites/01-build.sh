#!/bin/bash
# tests/suites/01-build.sh: `make -j4` on a fresh machine builds.
#
# On a fresh machine the libraries are missing when make starts: pkg-config knows none of them,
# so the compiler flags (the -I for libpq's headers, among others) exist only once the
# installer has run. Here a copy of the tracked tree is built with -j4 while a pkg-config
# wrapper answers "not installed" until the installer (INSTALL_DEPS, replaced by a command that
# records it ran) has finished. Nothing may compile before that, and the build must succeed.
source "$(dirname "$0")/../lib/testlib.sh"
cd "$TOP" || exit 1
REAL_PKG_CONFIG=$(command -v pkg-config)
if [ -z "$REAL_PKG_CONFIG" ]; then
  skip build/fresh-j4 "pkg-config not installed"
  t_done
  exit
fi
WORK=$(mktemp -d /tmp/stated-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src" "$WORK/bin"
git ls-files -z | xargs -0 cp --parents -t "$WORK/src"
cat >"$WORK/bin/pkg-config" <<WRAP
#!/bin/sh
[ -e "$WORK/installed" ] || exit 1
exec "$REAL_PKG_CONFIG" "\$@"
WRAP
chmod +x "$WORK/bin/pkg-config"
# The "installer" takes a moment, as a real one does, so a compile racing it would start first.
install="sleep 1; touch $WORK/installed"
if PATH=$WORK/bin:$PATH make -C "$WORK/src" -j4 all INSTALL_DEPS="$install" >"$WORK/make.log" 2>&1; then
  pass build/fresh-j4
else
  fail build/fresh-j4 "$(grep -m3 -E 'error|Error' "$WORK/make.log" | tr '\n' ' ')"
fi
for p in stated statectl stackgen; do
  if [ -x "$WORK/src/build/bin/$p" ]; then pass "build/fresh-j4 built $p"; else fail "build/fresh-j4 built $p" "missing"; fi
done
t_done
