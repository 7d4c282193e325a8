#!/bin/bash
# 62-package: `make deb` builds a Debian package that installs, runs and goes away again.
#
#   1. make deb; the package read back with dpkg-deb: fields, Depends (against the binaries'
#      own libraries), files, owners and modes, conffiles, md5sums, a second build byte for
#      byte, the ldd fallback for Depends; lintian when installed
#   2. as root (this suite is for throwaway CI machines): dpkg -i, twice; the user, the files,
#      systemd-analyze verify and security on the unit; the installed /usr/bin/stated started
#      the way its unit says (User=, UMask=, WorkingDirectory=, Environment=, EnvironmentFile=
#      and ExecStart= read from the installed unit) with /etc/stated/stated.env edited as an
#      administrator would, serving /healthz and a state; statectl and stackgen from /usr/bin
#   3. dpkg -r (settings and user stay), dpkg --purge (settings, user, enable link gone; the
#      states kept behind a root-only directory), and a second install purged at once
#
# No systemd runs as PID 1 on the test machines, so the unit is verified, never started. The
# trap purges the package whatever happens; a machine that already has a stated package, user
# or directory is left alone (SKIPPED).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
TMP=$(mktemp -d /tmp/stated-pkg.XXXXXX)
chmod 755 "$TMP" # the user stated reaches its data dir below
UNIT=/lib/systemd/system/stated.service
ENV_FILE=/etc/stated/stated.env
OWNED= # set once this suite has installed the package: cleanup may then purge it
LOG=$TMP/stated.log

# ---- running the installed unit without systemd -------------------------------------

# set_env VAR [VALUE]: sets (or, without VALUE, deletes) VAR in the installed settings file, as
# an administrator edits it.
set_env() {
  sed -i "/^$1=/d" "$ENV_FILE"
  [ $# -lt 2 ] || echo "$1=$2" >>"$ENV_FILE"
}

# unit_get KEY: the values of KEY= in the installed unit, one a line.
unit_get() { sed -n "s/^$1=//p" "$UNIT"; }

# start_unit: starts the installed stated as its unit says, with the settings file (systemd's
# EnvironmentFile= format: VAR=value lines; the file wins over Environment=). Sets STATED_PID
# for stated_stop (tests/lib/stated.sh).
start_unit() {
  local vars=() line
  while IFS= read -r line; do vars+=("$line"); done < <(unit_get Environment)
  while IFS= read -r line; do vars+=("$line"); done < <(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$(unit_get EnvironmentFile)")
  local exec_start
  read -ra exec_start <<<"$(unit_get ExecStart)"
  (cd "$(unit_get WorkingDirectory)" && umask "$(unit_get UMask)" &&
    exec setpriv --reuid="$(unit_get User)" --regid="$(unit_get Group)" --init-groups \
      --no-new-privs --bounding-set=-all --inh-caps=-all \
      env -i "${vars[@]}" "${exec_start[@]}") >>"$LOG" 2>&1 &
  STATED_PID=$!
}

# wait_up: until stated answers /healthz (20 s at most), or has exited.
wait_up() {
  for _ in $(seq 1 200); do
    curl -s -o /dev/null --max-time 1 "$URL/healthz" && return 0
    kill -0 "$STATED_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# serve NAME: starts the unit on a free loopback port; a port taken before stated binds it
# is retried with another.
serve() {
  for _ in 1 2 3; do
    PORT=$(free_port)
    URL=http://127.0.0.1:$PORT
    set_env STATED_LISTEN "127.0.0.1:$PORT"
    : >"$LOG"
    start_unit
    wait_up && { pass "package/run/$1/start"; return 0; }
    stated_stop
    grep -q 'Address already in use' "$LOG" || break
  done
  fail "package/run/$1/start" "$(tail -n 5 "$LOG" | tr '\n' ' ')"
  return 1
}

# code METHOD PATH [curl args...]: the HTTP status; the body goes to $TMP/body.
code() {
  local m=$1 p=$2; shift 2
  curl -s --max-time 10 -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$URL$p"
}

cleanup() {
  stated_stop
  if [ -n "$OWNED" ]; then
    dpkg-query -W stated >/dev/null 2>&1 && dpkg --purge stated >/dev/null 2>&1
    getent passwd stated >/dev/null && userdel stated
    getent group stated >/dev/null && groupdel stated
    rm -rf /var/lib/stated /etc/stated
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

finish() {
  t_done
  exit
}

if ! command -v dpkg-deb >/dev/null; then
  skip package "dpkg-deb not found: not a Debian machine"
  finish
fi
VERSION=$(sed -n 's/^#define STATED_VERSION "\(.*\)"$/\1/p' "$TOP/common/version.h")
ARCH=$(dpkg --print-architecture)
DEB=$TOP/build/stated_${VERSION}_$ARCH.deb

# ---- 1. the package file ---------------------------------------------------------------

if ! (cd "$TOP" && make --no-print-directory deb) >"$TMP/make.out" 2>&1; then
  fail package/make-deb "$(tail -n 5 "$TMP/make.out" | tr '\n' ' ')"
  finish
fi
if [ -s "$DEB" ]; then pass package/make-deb; else fail package/make-deb "no $DEB"; finish; fi

field() { dpkg-deb --field "$DEB" "$1"; }
expect_eq package/field/Package "$(field Package)" stated
expect_eq package/field/Version "$(field Version)" "$VERSION"
expect_eq package/field/Architecture "$(field Architecture)" "$ARCH"
dpkg-deb --info "$DEB" >"$TMP/info" 2>&1 && pass package/info || fail package/info "$(tail -n 2 "$TMP/info")"

# lib_packages BINARY...: the packages of the libraries the binaries link directly, found
# another way than build-deb.sh does (ldconfig's cache rather than ldd).
lib_packages() {
  local f lib path
  for f in "$@"; do
    for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
      path=$(ldconfig -p | awk -v l="$lib" -v m="/$(uname -m)-linux-gnu/" '$1 == l && index($NF, m) {print $NF; exit}')
      path=$(readlink -f "$path")
      dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "/usr$path" 2>/dev/null ||
        dpkg-query -S "${path#/usr}" 2>/dev/null || echo "unowned-$lib:"
    done
  done | sed 's/:.*//' | sort -u
}

# depends_names: the package names in the Depends field, versions dropped.
depends_names() { sed 's/([^)]*)//g; s/,/\n/g' | tr -d ' ' | grep . | sort -u; }

check_depends() {
  local want got missing extra
  want=$(lib_packages "$TMP"/x/usr/bin/*)
  got=$(field Depends | depends_names)
  missing=$(comm -23 <(echo "$want") <(echo "$got") | tr '\n' ' ')
  extra=$(comm -13 <( (echo "$want"; echo adduser) | sort) <(echo "$got") | tr '\n' ' ')
  [ -z "$missing" ] && pass package/depends/names-every-linked-library ||
    fail package/depends/names-every-linked-library "missing: $missing (Depends: $(field Depends))"
  [ -z "$extra" ] && pass package/depends/nothing-unlinked ||
    fail package/depends/nothing-unlinked "not linked: $extra"
  # The runtime packages this release links on Debian 12, by name, so a wrong lookup that
  # agrees with itself cannot pass.
  local p
  for p in h2o:'libh2o-evloop0\.[0-9]+' jansson:libjansson4 libpq:libpq5 curl:'libcurl(4|3-gnutls)' \
    openssl:libssl3 libc:libc6 adduser:adduser; do
    echo "$got" | grep -Eqx "${p#*:}" && pass "package/depends/${p%%:*}" ||
      fail "package/depends/${p%%:*}" "no ${p#*:} in Depends: $(field Depends)"
  done
  if command -v dpkg-shlibdeps >/dev/null; then
    field Depends | grep -Eq 'libc6 \(>= [0-9]' && pass package/depends/shlibdeps-versions ||
      fail package/depends/shlibdeps-versions "no minimum versions from dpkg-shlibdeps: $(field Depends)"
  else
    skip package/depends/shlibdeps-versions "dpkg-shlibdeps not installed (apt-get install dpkg-dev)"
  fi
}
# The fallback without dpkg-shlibdeps must name the same packages.
if DEB_OUT=$TMP/ldd DEB_DEPENDS_FROM=ldd "$TOP/packaging/debian/build-deb.sh" >"$TMP/ldd.out" 2>&1; then
  expect_eq package/depends/ldd-fallback-same-packages \
    "$(dpkg-deb --field "$TMP"/ldd/stated_*.deb Depends | depends_names | tr '\n' ' ')" \
    "$(field Depends | depends_names | tr '\n' ' ')"
else
  fail package/depends/ldd-fallback-same-packages "$(tail -n 3 "$TMP/ldd.out" | tr '\n' ' ')"
fi
# The same inputs build the same bytes (timestamps come from the changelog).
if DEB_OUT=$TMP/again "$TOP/packaging/debian/build-deb.sh" >"$TMP/again.out" 2>&1 &&
   cmp -s "$DEB" "$TMP/again/stated_${VERSION}_$ARCH.deb"; then
  pass package/reproducible
else
  fail package/reproducible "a second build differs: $(tail -n 2 "$TMP/again.out" | tr '\n' ' ')"
fi

# entry PATH: "MODE OWNER" of PATH in the package.
dpkg-deb --contents "$DEB" >"$TMP/contents"
entry() { awk -v p=".$1" '$6 == p {print $1, $2}' "$TMP/contents"; }
expect_eq package/contents/usr/bin/stated "$(entry /usr/bin/stated)" "-rwxr-xr-x root/root"
expect_eq package/contents/usr/bin/statectl "$(entry /usr/bin/statectl)" "-rwxr-xr-x root/root"
expect_eq package/contents/usr/bin/stackgen "$(entry /usr/bin/stackgen)" "-rwxr-xr-x root/root"
expect_eq package/contents/unit "$(entry $UNIT)" "-rw-r--r-- root/root"
expect_eq package/contents/env-file "$(entry $ENV_FILE)" "-rw-r----- root/root"
for f in README.md copyright changelog.gz docs/packaging.md docs/storage.md docs/statectl.md; do
  expect_eq "package/contents/doc/$f" "$(entry "/usr/share/doc/stated/$f")" "-rw-r--r-- root/root"
done
expect_eq package/contents/modules "$(entry /usr/share/stated/scaleway/state-backend/main.tf)" "-rw-r--r-- root/root"
bad=$(awk '$2 != "root/root" || $1 ~ /^.....w|^........w/' "$TMP/contents")
[ -z "$bad" ] && pass package/contents/root-owned-none-writable-by-others || fail package/contents/root-owned-none-writable-by-others "$bad"
bad=$(awk '$1 !~ /^d/ && $6 !~ /^\.\/(usr\/bin|usr\/share\/(doc\/stated|stated|lintian\/overrides)|lib\/systemd\/system|etc\/stated)\//' "$TMP/contents")
[ -z "$bad" ] && pass package/contents/nothing-else || fail package/contents/nothing-else "$bad"

dpkg-deb -x "$DEB" "$TMP/x" && dpkg-deb -e "$DEB" "$TMP/ctl"
check_depends
expect_eq package/conffiles "$(cat "$TMP/ctl/conffiles")" "$ENV_FILE"
check package/md5sums sh -c "cd '$TMP/x' && md5sum --check --quiet '$TMP/ctl/md5sums'"
for b in stated statectl stackgen; do
  if readelf -S "$TMP/x/usr/bin/$b" | grep -q '\.symtab'; then fail "package/stripped/$b" "has a symbol table"; else pass "package/stripped/$b"; fi
done
expect_eq package/stated-version "$("$TMP/x/usr/bin/stated" --version)" "stated $VERSION"
expect_eq package/changelog-version "$(zcat "$TMP/x/usr/share/doc/stated/changelog.gz" | sed -n '1s/^stated (\([^)]*\)).*/\1/p')" "$VERSION"
for s in postinst prerm postrm; do
  if sh -n "$TMP/ctl/$s" && grep -qx 'set -e' "$TMP/ctl/$s"; then pass "package/script/$s"; else fail "package/script/$s" "syntax error or no set -e"; fi
done

# Every variable the settings file names is one stated knows.
unknown=
for v in $(grep -oE 'STATED_[A-Z0-9][A-Z0-9_]*' "$TMP/x$ENV_FILE" | sort -u); do
  "$TMP/x/usr/bin/stated" --help | grep -qw "$v" || unknown+=" $v"
done
[ -z "$unknown" ] && pass package/env-file/known-variables || fail package/env-file/known-variables "unknown:$unknown"
# Its commented defaults are what stated uses with the unit's environment and the file as is.
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$TMP/x$UNIT")
defaults=$(env -i "${unit_env[@]}" "$TMP/x/usr/bin/stated" --print-config 2>&1)
for opt in listen data-dir log-level log-format retain-snapshots retain-days; do
  var=STATED_$(echo "$opt" | tr 'a-z-' 'A-Z_')
  want=$(sed -n "s/^#$var=//p" "$TMP/x$ENV_FILE")
  got=$(echo "$defaults" | awk -v o="$opt" '$1 == o {print $3}')
  expect_eq "package/env-file/default/$opt" "$got" "$want"
done

if command -v lintian >/dev/null; then
  timeout 120 lintian --pedantic "$DEB" >"$TMP/lintian" 2>&1
  rc=$?
  grep -E '^[WIPXO]: ' "$TMP/lintian" | sed 's/^/  lintian /'
  errors=$(grep -E '^E: ' "$TMP/lintian")
  if [ -n "$errors" ]; then
    fail package/lintian-no-errors "$(echo "$errors" | tr '\n' ' ')"
  elif [ $rc -ne 0 ]; then
    fail package/lintian-no-errors "lintian exited $rc: $(tail -n 3 "$TMP/lintian" | tr '\n' ' ')"
  else
    pass package/lintian-no-errors
  fi
else
  skip package/lintian "lintian not installed (apt-get install lintian)"
fi

# ---- 2. installed ----------------------------------------------------------------------

if [ "$(id -u)" != 0 ]; then
  skip package/install "needs root to dpkg -i (the suite is meant for throwaway CI machines)"
  finish
fi
if dpkg-query -W stated >/dev/null 2>&1 || getent passwd stated >/dev/null || getent group stated >/dev/null ||
   [ -e /etc/stated ] || [ -e /var/lib/stated ]; then
  skip package/install "this machine already has a stated package, user or directory: not replacing it"
  finish
fi
OWNED=1
if ! dpkg -i "$DEB" >"$TMP/dpkg-i.out" 2>&1; then
  fail package/install "$(tail -n 5 "$TMP/dpkg-i.out" | tr '\n' ' ')"
  finish
fi
pass package/install
expect_eq package/install/status "$(dpkg-query -W -f='${Status}' stated)" "install ok installed"
# Nothing on a clean install is worth a warning.
if grep -qiE 'warn|error' "$TMP/dpkg-i.out"; then
  fail package/install/quiet "$(grep -iE 'warn|error' "$TMP/dpkg-i.out" | tr '\n' ' ')"
else
  pass package/install/quiet
fi

# owner_mode PATH: "USER:GROUP MODE".
owner_mode() { stat -c '%U:%G %a' "$1" 2>&1; }

check_user() {
  local pw uid home shell gid sys_max
  pw=$(getent passwd stated) || { fail package/user "no user stated"; return; }
  IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
  sys_max=$(awk '$1 == "SYS_UID_MAX" {print $2}' /etc/login.defs)
  [ "$uid" -le "${sys_max:-999}" ] && pass package/user/system-uid || fail package/user/system-uid "uid $uid"
  expect_eq package/user/group "$(getent group "$gid" | cut -d: -f1)" stated
  expect_eq package/user/home "$home" /var/lib/stated
  expect_eq package/user/no-shell "$shell" /usr/sbin/nologin
  case $(getent shadow stated | cut -d: -f2) in
    '!'* | '*'*) pass package/user/no-password ;;
    *) fail package/user/no-password "the account has a password" ;;
  esac
}
check_user
expect_eq package/installed/usr/bin/stated "$(owner_mode /usr/bin/stated)" "root:root 755"
expect_eq package/installed/unit "$(owner_mode $UNIT)" "root:root 644"
expect_eq package/installed/env-file "$(owner_mode $ENV_FILE)" "root:stated 640"
expect_eq package/installed/etc-stated "$(owner_mode /etc/stated)" "root:root 755"
expect_eq package/installed/var-lib-stated "$(owner_mode /var/lib/stated)" "stated:stated 700"
dpkg-query -W -f='${Conffiles}\n' stated | grep -q " $ENV_FILE " && pass package/installed/conffile-registered ||
  fail package/installed/conffile-registered "$(dpkg-query -W -f='${Conffiles}' stated)"
expect_eq package/installed/stated-version "$(/usr/bin/stated --version 2>&1)" "stated $VERSION"
expect_eq package/installed/statectl-version "$(/usr/bin/statectl --version 2>&1)" "statectl $VERSION"
# stackgen finds the packaged modules next to itself (/usr/share/stated/scaleway).
if (cd "$TMP" && env -u STACKGEN_MODULES_DIR /usr/bin/stackgen render "$TOP/examples/stacks/dev.json" -o "$TMP/render") >"$TMP/render.out" 2>&1 &&
   [ -n "$(find "$TMP/render/modules" -name '*.tf' 2>/dev/null | head -n 1)" ]; then
  pass package/installed/stackgen-render
else
  fail package/installed/stackgen-render "$(tail -n 3 "$TMP/render.out" | tr '\n' ' ')"
fi

check_unit() {
  local line missing=
  for line in User=stated StateDirectory=stated ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
    PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectControlGroups=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' CapabilityBoundingSet= \
    LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes SystemCallFilter=@system-service \
    UMask=0077 EnvironmentFile=$ENV_FILE ExecStart=/usr/bin/stated Restart=on-failure; do
    grep -qxF "$line" "$UNIT" || missing+=" '$line'"
  done
  [ -z "$missing" ] && pass package/unit/hardening-lines || fail package/unit/hardening-lines "missing:$missing"
  if ! command -v systemd-analyze >/dev/null; then
    skip package/unit/verify "systemd-analyze not installed (apt-get install systemd)"
    return
  fi
  # verify says nothing about a good unit; any line is a complaint.
  local out
  if out=$(timeout 30 systemd-analyze verify "$UNIT" 2>&1) && [ -z "$out" ]; then
    pass package/unit/verify
  else
    fail package/unit/verify "$(echo "$out" | tr '\n' ' ')"
  fi
  # The exposure score (0 safest, 10 unprotected) may not creep up: 2.0 at most (in tenths).
  out=$(timeout 30 systemd-analyze security --offline=yes --threshold=20 "$UNIT" 2>&1)
  local rc=$? score
  score=$(echo "$out" | sed -n 's/.*Overall exposure level for stated.service: \([0-9.]*\).*/\1/p')
  echo "  systemd-analyze security: exposure $score"
  [ $rc -eq 0 ] && pass package/unit/exposure-at-most-2.0 || fail package/unit/exposure-at-most-2.0 "exposure ${score:-?}: $(echo "$out" | tail -n 1)"
}
check_unit

# An enable link, as `systemctl enable stated` makes: the purge must remove it.
WANTS=/etc/systemd/system/multi-user.target.wants/stated.service
if command -v systemctl >/dev/null && systemctl enable stated.service >/dev/null 2>&1 && [ -L "$WANTS" ]; then
  ENABLED=1
else
  ENABLED=
  skip package/enable "systemctl enable did not make $WANTS; the purge of enable links is not tested"
fi

# As shipped, with no token configured, stated refuses to start and says what to set.
: >"$LOG"
start_unit
for _ in $(seq 1 100); do kill -0 "$STATED_PID" 2>/dev/null || break; sleep 0.1; done
stated_stop
if [ "$STATED_RC" != 0 ] && grep -q STATED_ADMIN_TOKEN "$LOG"; then
  pass package/run/unconfigured-refuses-to-start
else
  fail package/run/unconfigured-refuses-to-start "exit $STATED_RC: $(tail -n 2 "$LOG" | tr '\n' ' ')"
fi

TOKEN=pkgtoken-$RANDOM$RANDOM$RANDOM
DATA=$TMP/data
install -d -o stated -g stated -m 0700 "$DATA"
set_env STATED_ADMIN_TOKEN "$TOKEN"
set_env STATED_DATA_DIR "$DATA"
set_env STATED_LISTEN 127.0.0.1:1
cp "$ENV_FILE" "$TMP/env.edited"
# Reinstalling runs the maintainer scripts again: the administrator's edit stays, so do the
# owner, the modes and the user.
UID_BEFORE=$(id -u stated)
if dpkg -i "$DEB" >"$TMP/dpkg-i2.out" 2>&1; then pass package/reinstall; else fail package/reinstall "$(tail -n 5 "$TMP/dpkg-i2.out" | tr '\n' ' ')"; fi
cmp -s "$ENV_FILE" "$TMP/env.edited" && pass package/reinstall/keeps-edited-env-file || fail package/reinstall/keeps-edited-env-file "changed"
expect_eq package/reinstall/env-file-mode "$(owner_mode $ENV_FILE)" "root:stated 640"
expect_eq package/reinstall/same-user "$(id -u stated)" "$UID_BEFORE"

STATE='{"version":4,"serial":1,"lineage":"3b0c1f0e-6a52-4c61-9d1e-62c7c1a1b2c3","outputs":{}}'
printf '%s' "$STATE" >"$TMP/state"

run_requests() {
  expect_eq package/run/healthz "$(code GET /healthz)" 200
  expect_eq package/run/healthz-body "$(cat "$TMP/body")" '{"status":"ok"}'
  expect_eq package/run/runs-as-stated "$(ps -o user= -p "$STATED_PID" | tr -d ' ')" stated
  expect_eq package/run/no-token-401 "$(code GET /v1/states/pkg/app)" 401
  expect_eq package/run/get-unknown-404 "$(code GET /v1/states/pkg/app -u "ops:$TOKEN")" 404
  expect_eq package/run/post "$(code POST /v1/states/pkg/app -u "ops:$TOKEN" --data-binary @"$TMP/state")" 200
  expect_eq package/run/get "$(code GET /v1/states/pkg/app -u "ops:$TOKEN")" 200
  cmp -s "$TMP/body" "$TMP/state" && pass package/run/get-identical-bytes || fail package/run/get-identical-bytes "$(head -c 200 "$TMP/body")"
  local listed
  listed=$(STATECTL_URL=$URL STATECTL_TOKEN=$TOKEN timeout 20 /usr/bin/statectl states list 2>&1)
  echo "$listed" | grep -qw 'pkg/app' && pass package/run/statectl-states-list || fail package/run/statectl-states-list "$(echo "$listed" | tr '\n' ' ')"
}

if serve edited-env; then
  run_requests
  # UMask=0077: nothing stated wrote is open to group or others, and all of it is stated's.
  bad=$(find "$DATA" \( -perm /077 -o ! -user stated \) -printf '%m %u %p\n')
  [ -n "$(ls -A "$DATA")" ] && [ -z "$bad" ] && pass package/run/data-private-to-stated || fail package/run/data-private-to-stated "${bad:-nothing written}"
  stated_stop
  expect_eq package/run/sigterm-exit-0 "$STATED_RC" 0
fi

# With the packaged default data dir (the unit's Environment=): /var/lib/stated/data.
set_env STATED_DATA_DIR
if serve default-data-dir; then
  expect_eq package/run/default-data-dir/post "$(code POST /v1/states/pkg/kept -u "ops:$TOKEN" --data-binary @"$TMP/state")" 200
  expect_eq package/run/default-data-dir/owner "$(owner_mode /var/lib/stated/data)" "stated:stated 700"
  stated_stop
  expect_eq package/run/default-data-dir/sigterm-exit-0 "$STATED_RC" 0
fi

# ---- 3. remove, purge ------------------------------------------------------------------

if dpkg -r stated >"$TMP/dpkg-r.out" 2>&1; then pass package/remove; else fail package/remove "$(tail -n 5 "$TMP/dpkg-r.out" | tr '\n' ' ')"; fi
expect_eq package/remove/status "$(dpkg-query -W -f='${Status}' stated 2>&1)" "deinstall ok config-files"
for f in /usr/bin/stated /usr/bin/statectl /usr/bin/stackgen $UNIT /usr/share/doc/stated; do
  [ ! -e "$f" ] && pass "package/remove/gone$f" || fail "package/remove/gone$f" "still there"
done
grep -qxF "STATED_ADMIN_TOKEN=$TOKEN" "$ENV_FILE" 2>/dev/null && pass package/remove/keeps-env-file || fail package/remove/keeps-env-file "edited settings gone"
getent passwd stated >/dev/null && pass package/remove/keeps-user || fail package/remove/keeps-user "user gone"

# purged WHAT: the checks every purge must pass.
purged() {
  case $(dpkg-query -W -f='${Status}' stated 2>/dev/null) in
    '' | *not-installed) pass "package/$1/status" ;;
    *) fail "package/$1/status" "$(dpkg-query -W -f='${Status}' stated)" ;;
  esac
  [ ! -e /etc/stated ] && pass "package/$1/etc-stated-gone" || fail "package/$1/etc-stated-gone" "$(ls -A /etc/stated | tr '\n' ' ')"
  getent passwd stated >/dev/null && fail "package/$1/user-gone" "user stated still there" || pass "package/$1/user-gone"
  getent group stated >/dev/null && fail "package/$1/group-gone" "group stated still there" || pass "package/$1/group-gone"
  [ ! -e /usr/bin/stated ] && [ ! -e $UNIT ] && pass "package/$1/files-gone" || fail "package/$1/files-gone" "binary or unit left"
}

if dpkg --purge stated >"$TMP/purge.out" 2>&1; then pass package/purge; else fail package/purge "$(tail -n 5 "$TMP/purge.out" | tr '\n' ' ')"; fi
purged purge
if [ -n "$ENABLED" ]; then
  [ ! -L "$WANTS" ] && pass package/purge/enable-link-gone || fail package/purge/enable-link-gone "$WANTS left"
fi
# The states outlive the purge, behind a directory only root may enter.
expect_eq package/purge/keeps-states-root-only "$(owner_mode /var/lib/stated)" "root:root 700"
grep -rqF '3b0c1f0e-6a52-4c61-9d1e-62c7c1a1b2c3' /var/lib/stated/data 2>/dev/null &&
  pass package/purge/keeps-states || fail package/purge/keeps-states "the state written under /var/lib/stated/data is gone"

# A fresh install purged straight away leaves nothing at all.
rm -rf /var/lib/stated
if dpkg -i "$DEB" >"$TMP/dpkg-i3.out" 2>&1 && getent passwd stated >/dev/null; then
  pass package/second-install
else
  fail package/second-install "$(tail -n 5 "$TMP/dpkg-i3.out" | tr '\n' ' ')"
fi
if dpkg --purge stated >"$TMP/purge2.out" 2>&1; then pass package/second-purge; else fail package/second-purge "$(tail -n 5 "$TMP/purge2.out" | tr '\n' ' ')"; fi
purged second-purge
[ ! -e /var/lib/stated ] && pass package/second-purge/var-lib-stated-gone || fail package/second-purge/var-lib-stated-gone "$(ls -A /var/lib/stated | tr '\n' ' ')"
finish
