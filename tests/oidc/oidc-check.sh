#!/bin/bash
# tests/oidc/oidc-check.sh: OIDC key fetching end to end, against the local issuer
# (tests/oidc/issuer.py) on 127.0.0.1 and a driver (tests/oidc/oidc_driver.c) built under
# ASan+UBSan against build/san/obj/libstated.a that calls oidc_load, oidc_start and
# oidc_authenticate.
#
#   fresh      the issuer's first key works; rules give role, pattern and name
#   rotation   a key added to the issuer (a new kid) works at once, without a restart
#   refused    alg none, HS256 keyed with the public key, alg/key mismatch, expired, wrong
#              audience and an unknown kid, through the fetched keys
#   down       the issuer stopped: the cached keys still work
#   cold       a fresh oidc with the issuer down answers ERR_ISSUER_UNAVAILABLE (503) within 3 s
#   back       the issuer up again: the same oidc gets its keys without a restart
#
# Runs on its own (`tests/oidc/oidc-check.sh`); needs /usr/bin/python3 with python3-cryptography
# (tests/env/install-deps.sh). OIDC_PORT picks the issuer's port (default: a free one);
# OIDC_KEEP=1 keeps the work directory (the driver's log is driver.err there).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP" || exit 1
. tests/lib/testlib.sh

PY=${OIDC_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import cryptography' 2>/dev/null; then
  skip oidc "$PY with the cryptography package is missing (apt-get install python3-cryptography)"
  t_done
  exit $?
fi

WORK=$(mktemp -d /tmp/stated-oidc.XXXXXX)
ISS=$WORK/issuer
ISSUER_PID=
cleanup() {
  [ -n "$ISSUER_PID" ] && kill "$ISSUER_PID" 2>/dev/null && wait "$ISSUER_PID" 2>/dev/null
  [ -n "${DRV_PID:-}" ] && kill "$DRV_PID" 2>/dev/null
  if [ -n "${OIDC_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

. tests/oidc/issuer.sh

# ---------------------------------------------------------------- the driver
SANF=address,undefined
mkvar() { make -s --no-print-directory SAN=$SANF --eval='print-%: ; @echo $($*)' "print-$1"; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}
DRIVER=$WORK/oidc_driver
if ! make -s --no-print-directory SAN=$SANF WERROR=1 build/san/obj/libstated.a >"$WORK/build.log" 2>&1 ||
  ! ${CC:-cc} $(mkvar CFLAGS | sed 's/-MMD -MP//') $(mkvar LDFLAGS) -o "$DRIVER" \
    tests/oidc/oidc_driver.c build/san/obj/libstated.a $(mkvar LDLIBS) >>"$WORK/build.log" 2>&1; then
  fail oidc/build "$(grep -m 3 -E 'error|undefined' "$WORK/build.log" | tr '\n' ' ')"
  t_done
  exit $?
fi

# ---------------------------------------------------------------- the issuer
PORT=${OIDC_PORT:-$(free_port)}
URL=http://127.0.0.1:$PORT
issuer keygen "$ISS" rsa1 --alg RS256
if ! start_issuer "$ISS" "$PORT"; then
  fail oidc/issuer "tests/oidc/issuer.py did not start on port $PORT: $(tail -n 2 "$ISS/serve.err")"
  t_done
  exit $?
fi
issuer_rules "$WORK/oidc.json" "$URL"

# sign KID [options]: a JWT for project platform/net on a protected main, with a key of
# $SIGN_DIR (default: the issuer's).
sign() {
  local kid=$1; shift
  issuer sign "${SIGN_DIR:-$ISS}" "$kid" --claim project_path=platform/net --claim ref=main \
    --claim ref_protected=true "$@"
}

# The driver as a coprocess: ask JWT prints its one-line answer (or "timeout").
start_driver() {
  coproc DRV { exec "$DRIVER" "$WORK/oidc.json" 2>>"$WORK/driver.err"; }
  local line
  read -r -t 10 line <&"${DRV[0]}" && [ "$line" = ready ]
}
ask() {
  local line
  echo "$1" >&"${DRV[1]}"
  read -r -t 10 line <&"${DRV[0]}" || line=timeout
  echo "$line"
}
stop_driver() {
  local pid=$DRV_PID
  eval "exec ${DRV[1]}>&-"
  wait "$pid" 2>/dev/null
  local rc=$?
  DRV_PID=
  return $rc
}
# expect NAME ANSWER WANT: PASS when ANSWER starts with WANT (and contains WANT2 if given).
expect() {
  case $2 in
    "$3"*) if [ -z "${4:-}" ] || [[ $2 == *"$4"* ]]; then pass "$1"; return; fi ;;
  esac
  fail "$1" "got '$2', want '$3'${4:+ … '$4'}"
}
ms_of() { sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$1"; }

if ! start_driver; then
  fail oidc/driver "the driver did not start: $(tail -n 3 "$WORK/driver.err" | tr '\n' ' ')"
  t_done
  exit $?
fi

# ---------------------------------------------------------------- fresh
a=$(ask "$(sign rsa1 --sub alice --jti j-1)")
expect oidc/fresh "$a" "ok name=gitlab:platform/net@main role=write pattern=platform/net/** issuer=$URL sub=alice jti=j-1"
a=$(ask "$(sign rsa1 --claim ref_protected=false)")
expect oidc/fresh-second-rule "$a" "ok name=plan:platform/net role=plan pattern=platform/net/**"
a=$(ask "$(sign rsa1 --claim project_path=apps/web)")
expect oidc/no-rule "$a" "err ERR_FORBIDDEN 403" "rules[0]: claim project_path does not match"

# ---------------------------------------------------------------- rotation
issuer keygen "$ISS" ec2 --alg ES256
a=$(ask "$(sign ec2)")
expect oidc/rotation "$a" "ok name=gitlab:platform/net@main role=write"
a=$(ask "$(sign rsa1)")
expect oidc/rotation-old-key "$a" "ok name=gitlab:platform/net@main"

# ---------------------------------------------------------------- refused
expect oidc/alg-none "$(ask "$(sign rsa1 --alg none)")" "err ERR_AUTH 401" "alg none"
expect oidc/hs256-public-key "$(ask "$(sign rsa1 --alg HS256)")" "err ERR_AUTH 401" "shared-secret"
expect oidc/alg-key-mismatch "$(ask "$(sign rsa1 --header-alg ES256)")" "err ERR_AUTH 401" "does not fit key rsa1"
expect oidc/expired "$(ask "$(sign rsa1 --exp-in -120)")" "err ERR_AUTH 401" "expired"
expect oidc/audience "$(ask "$(sign rsa1 --aud other)")" "err ERR_AUTH 401" "aud"
# A kid the issuer does not publish: the refresh it asks for is rate-limited (the rotation
# used this 10 s window), so it is answered at once.
issuer keygen "$WORK/elsewhere" ghost --alg RS256
a=$(ask "$(SIGN_DIR=$WORK/elsewhere sign ghost --iss "$URL")")
expect oidc/unknown-kid "$a" "err ERR_AUTH 401" "kid ghost is not a key of issuer $URL"
ms=$(ms_of "$a")
if [ -n "$ms" ] && [ "$ms" -le 500 ]; then pass oidc/unknown-kid-rate-limited; else fail oidc/unknown-kid-rate-limited "took ${ms:-?} ms"; fi

# ---------------------------------------------------------------- down
stop_issuer "$ISS"
a=$(ask "$(sign rsa1)")
expect oidc/down-cached-rsa "$a" "ok name=gitlab:platform/net@main"
a=$(ask "$(sign ec2)")
expect oidc/down-cached-ec "$a" "ok name=gitlab:platform/net@main"
if stop_driver; then pass oidc/driver-exit; else fail oidc/driver-exit "$(tail -n 5 "$WORK/driver.err" | tr '\n' ' ')"; fi

# ---------------------------------------------------------------- cold
start_driver || fail oidc/driver-restart "$(tail -n 3 "$WORK/driver.err" | tr '\n' ' ')"
a=$(ask "$(sign rsa1)")
expect oidc/cold-unavailable "$a" "err ERR_ISSUER_UNAVAILABLE 503" "no signing keys"
ms=$(ms_of "$a")
if [ -n "$ms" ] && [ "$ms" -le 3000 ]; then pass oidc/cold-bounded; else fail oidc/cold-bounded "took ${ms:-?} ms"; fi

# ---------------------------------------------------------------- back
start_issuer "$ISS" "$PORT" || fail oidc/issuer-restart "$(tail -n 2 "$ISS/serve.err")"
# The fetcher retries 10 s after its failure, and a request may ask again after 10 s.
got=
for _ in $(seq 1 30); do
  a=$(ask "$(sign rsa1)")
  case $a in ok*) got=$a; break ;; esac
  sleep 0.5
done
expect oidc/back "${got:-$a}" "ok name=gitlab:platform/net@main"
if stop_driver; then pass oidc/driver-exit-2; else fail oidc/driver-exit-2 "$(tail -n 5 "$WORK/driver.err" | tr '\n' ' ')"; fi

t_done
