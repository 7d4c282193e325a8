#!/bin/bash
# 20-protocol: the Terraform/OpenTofu http backend protocol, black-box, against the real stated.
#
# Conformance cases C1-C22 (docs/testing.md lists them), bad input, chunked bodies and "never a
# 5xx", each run for the three lock layouts clients use (LOCK/UNLOCK on the state URL, LOCK/UNLOCK
# on NAME/lock, GitLab-style POST/DELETE on NAME/lock), in every storage/lock mode whose services
# are up (embedded always; s3, pg, s3pg when tests/run-all.sh started RGW and PostgreSQL).
# Three servers per mode: the default one (with a token file for the 401/403 cases), a strict one
# (--no-force-unlock, --max-state-bytes 65536), a short-lease one (--lock-ttl 2s) and an mTLS one
# (C19).
#
# Run alone: tests/suites/20-protocol.sh          (embedded only, unless S3_* / PG_CONNINFO set)
#            PROTOCOL_MODES="embedded pg" tests/suites/20-protocol.sh
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
. "$TOP/tests/lib/tls.sh"
P_TMP=$(mktemp -d /tmp/stated-proto.XXXXXX)
. "$TOP/tests/protocol/lib.sh"
. "$TOP/tests/protocol/cases.sh"

trap 'stated_cleanup; rm -rf "$P_TMP"' EXIT

for tool in curl jq openssl; do
  if ! command -v "$tool" >/dev/null; then
    skip protocol "$tool not found (install it: tests/env/install-deps.sh)"
    t_done
    exit
  fi
done
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail protocol "$BIN/stated --help does not run; build it with make"
  t_done
  exit
fi

# Tokens beyond the admin one: a read-only token for every state and a write token limited to
# allowed/*. The file holds only their SHA-256.
RO_TOKEN=ro-$RANDOM$RANDOM$RANDOM
SCOPED_TOKEN=scoped-$RANDOM$RANDOM$RANDOM
TOKENS=$P_TMP/tokens
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
{
  echo "reader read ** $(sha "$RO_TOKEN")"
  echo "ci write allowed/* $(sha "$SCOPED_TOKEN")"
} >"$TOKENS"

LAYOUTS="state lockurl gitlab"

# C19: with --client-ca a client without a certificate fails the handshake and leaves no trace
# in the log, the audit trail (data dir or PostgreSQL) or the storage.
c19() {
  local M=$1 t="protocol/$1/C19" certs=$P_TMP/certs
  [ -f "$certs/client.pem" ] || tls_make_certs "$certs" || { fail "$t certificates" "openssl failed"; return; }
  STATED_CURL=(--cert "$certs/client.pem" --key "$certs/client.key")
  if ! stated_start "$M" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --client-ca "$certs/ca.pem" --http2; then
    fail "$t mTLS server starts" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    STATED_CURL=()
    stated_cleanup
    return
  fi
  STATED_CURL=()
  p_use_admin
  local out rc
  out=$(curl -s --cacert "$certs/ca.pem" -o /dev/null -w '%{http_code}' --max-time 10 \
    -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/states/c19-nocert-probe" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && [ "${out:0:3}" = 000 ]; then pass "$t no client certificate: handshake fails (curl exit $rc)"; else fail "$t no client certificate: handshake fails" "curl exit $rc, HTTP $out"; fi
  out=$(curl -s --cacert "$certs/ca.pem" --cert "$certs/rogue.pem" --key "$certs/rogue.key" -o /dev/null \
    -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/states/c19-rogue-probe" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && [ "${out:0:3}" = 000 ]; then pass "$t certificate from another CA: handshake fails"; else fail "$t certificate from another CA: handshake fails" "curl exit $rc, HTTP $out"; fi
  out=$(curl -s --cacert "$certs/ca.pem" -o /dev/null -w '%{http_code}' --max-time 10 \
    "$STATED_URL/healthz" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then pass "$t no client certificate: even /healthz is refused"; else fail "$t no client certificate: even /healthz is refused" "HTTP $out"; fi

  P_CURL_TLS=(--cacert "$certs/ca.pem" --cert "$certs/client.pem" --key "$certs/client.key")
  local lin
  lin=$(new_id)
  req GET /v1/states/c19-withcert/s
  expect_code "$t with client certificate: GET unknown state is 404" 404
  mkstate "$P_TMP/c19" 1 "$lin"
  post_state /v1/states/c19-withcert/s "$P_TMP/c19"
  expect_code "$t with client certificate: POST" 200
  if same_state c19-withcert/s "$P_TMP/c19"; then pass "$t with client certificate: GET identical"; else fail "$t with client certificate: GET identical" "HTTP $CODE"; fi
  # Go clients speak HTTP/2 when the server offers it over TLS: custom methods must work there.
  P_CURL_TLS+=(--http2)
  mklock "$P_TMP/c19lock" "$(new_id)" tls@ci OperationTypeApply
  req LOCK /v1/states/c19-withcert/s -H 'Content-Type: application/json' --data-binary "@$P_TMP/c19lock"
  expect_code "$t with client certificate (HTTP/2 if offered): LOCK" 200
  req UNLOCK /v1/states/c19-withcert/s -H 'Content-Type: application/json' --data-binary "@$P_TMP/c19lock"
  expect_code "$t with client certificate (HTTP/2 if offered): UNLOCK" 200
  P_CURL_TLS=()

  # Where would a request leave a trace? Log, data dir (embedded audit), PostgreSQL (audit).
  local traces=$P_TMP/traces i
  grep -ra . "$STATED_DATA" >"$traces" 2>/dev/null
  for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
    if [ "${STATED_ARGS[i]}" = --locks ]; then
      pg_dump --data-only "${STATED_ARGS[i + 1]}" >>"$traces" 2>/dev/null
    fi
  done
  if grep -q c19-withcert "$traces"; then
    pass "$t a request with a certificate is recorded (log or audit)"
    if grep -q -e c19-nocert-probe -e c19-rogue-probe "$traces"; then
      fail "$t no trace of the refused handshakes" "$(grep -m1 -e c19-nocert-probe -e c19-rogue-probe "$traces" | head -c 200)"
    else
      pass "$t no trace of the refused handshakes"
    fi
  else
    fail "$t a request with a certificate is recorded (log or audit)" "found nowhere, so the absence of the refused ones proves nothing"
  fi
  stated_cleanup
}

run_mode() {
  local M=$1 t
  echo "--- mode $M"
  if ! stated_start "$M" --token-file "$TOKENS"; then
    fail "protocol/$M/start" "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  p_use_admin
  : >"$CODES_LOG"
  for P_LAYOUT in $LAYOUTS; do
    t="protocol/$M/$P_LAYOUT"
    cases_rw "$t"
    cases_locks "$t"
    cases_auth "$t"
    cases_bad_input "$t"
    if [[ $STATED_URL == http://* ]]; then cases_chaos "$t"; fi
  done
  no_5xx "protocol/$M never answered 5xx"
  if kill -0 "$STATED_PID" 2>/dev/null; then pass "protocol/$M stated still running"; else fail "protocol/$M stated still running" "it died: $(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"; fi
  stated_cleanup

  if ! stated_start "$M" --no-force-unlock --max-state-bytes 65536; then
    fail "protocol/$M/start strict" "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  p_use_admin
  for P_LAYOUT in $LAYOUTS; do
    t="protocol/$M/$P_LAYOUT"
    cases_no_force "$t"
    cases_limit "$t"
  done
  no_5xx "protocol/$M strict server never answered 5xx"
  stated_cleanup

  if ! stated_start "$M" --lock-ttl 2s; then
    fail "protocol/$M/start --lock-ttl 2s" "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  p_use_admin
  # Leases do not depend on the lock URL: the two lock methods suffice (4 s of sleeping each).
  for P_LAYOUT in state gitlab; do
    cases_ttl "protocol/$M/$P_LAYOUT"
  done
  no_5xx "protocol/$M lease server never answered 5xx"
  stated_cleanup

  c19 "$M"
}

for M in ${PROTOCOL_MODES:-embedded s3 pg s3pg}; do
  if mode_available "$M"; then
    run_mode "$M"
  else
    case $M in
      s3) why="S3_ENDPOINT not set (Ceph RGW not started)" ;;
      pg) why="PG_CONNINFO not set (PostgreSQL not started)" ;;
      *) why="S3_ENDPOINT or PG_CONNINFO not set" ;;
    esac
    skip "protocol/$M" "$why"
  fi
done
t_done
