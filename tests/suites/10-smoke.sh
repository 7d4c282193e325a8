#!/bin/bash
# 10-smoke: a quick first look at the real stated in embedded mode: health, a state round trip,
# authentication, a lock conflict, a graceful stop and `make run`'s script. The full protocol
# conformance suite is 20-protocol.sh.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
TMP=$(mktemp -d /tmp/stated-smoke.XXXXXX)
RUN_PID=
cleanup() {
  stated_cleanup
  if [ -n "$RUN_PID" ]; then kill -TERM "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v curl >/dev/null; then
  skip smoke "curl not found (install it: tests/env/install-deps.sh)"
  t_done
  exit
fi
if ! stated_start embedded; then
  fail smoke/start "stated did not start"
  t_done
  exit
fi

# code METHOD PATH [curl args...]: prints the HTTP status; the body goes to $TMP/body.
code() {
  local m=$1 p=$2; shift 2
  curl -s -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$STATED_URL$p"
}
AUTH=(-u "smoke:$ADMIN_TOKEN")

expect_eq smoke/healthz "$(code GET /healthz)" 200
expect_eq smoke/healthz-body "$(cat "$TMP/body")" '{"status":"ok"}'
expect_eq smoke/healthz-deep "$(code GET '/healthz?deep=1')" 200
expect_eq smoke/get-unknown-404 "$(code GET /v1/states/smoke/app "${AUTH[@]}")" 404

STATE='{"version":4,"serial":1,"lineage":"7f1c3e4e-0b1a-4a55-9d7e-5b9a1b2c3d4e","outputs":{}}'
printf '%s' "$STATE" >"$TMP/state"
MD5=$(openssl md5 -binary "$TMP/state" | base64)
expect_eq smoke/post "$(code POST /v1/states/smoke/app "${AUTH[@]}" -H "Content-MD5: $MD5" \
  -H 'Content-Type: application/json' --data-binary @"$TMP/state")" 200
expect_eq smoke/get-200 "$(code GET /v1/states/smoke/app "${AUTH[@]}")" 200
if cmp -s "$TMP/body" "$TMP/state"; then pass smoke/get-identical-bytes; else fail smoke/get-identical-bytes "body differs"; fi
GOT_MD5=$(curl -s -D - -o /dev/null "${AUTH[@]}" "$STATED_URL/v1/states/smoke/app" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-md5"{print $2}')
expect_eq smoke/get-content-md5 "$GOT_MD5" "$MD5"
expect_eq smoke/bad-md5-400 "$(code POST /v1/states/smoke/app "${AUTH[@]}" \
  -H 'Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==' --data-binary @"$TMP/state")" 400

expect_eq smoke/no-token-401 "$(code GET /v1/states/smoke/app)" 401
if grep -q '"code":"INFRA_003"' "$TMP/body"; then pass smoke/401-json; else fail smoke/401-json "$(cat "$TMP/body")"; fi
expect_eq smoke/bad-token-401 "$(code GET /v1/states/smoke/app -u smoke:wrong-token)" 401
expect_eq smoke/bearer-200 "$(code GET /v1/states/smoke/app -H "Authorization: Bearer $ADMIN_TOKEN")" 200
expect_eq smoke/bad-name-400 "$(code GET /v1/states/a//b "${AUTH[@]}")" 400
expect_eq smoke/unknown-path-404 "$(code GET /nowhere)" 404

LOCK_A='{"ID":"11111111-2222-3333-4444-555555555555","Operation":"OperationTypeApply","Info":"","Who":"alice@host","Version":"1.10.6","Created":"2026-08-22T11:19:02.123456789Z","Path":""}'
LOCK_B='{"ID":"66666666-7777-8888-9999-000000000000","Operation":"OperationTypePlan","Info":"","Who":"bob@host","Version":"1.10.6","Created":"2026-08-22T11:20:02Z","Path":""}'
expect_eq smoke/lock-a "$(code LOCK /v1/states/smoke/app "${AUTH[@]}" --data-binary "$LOCK_A")" 200
expect_eq smoke/lock-b-423 "$(code LOCK /v1/states/smoke/app "${AUTH[@]}" --data-binary "$LOCK_B")" 423
if grep -q '"ID":"11111111-2222-3333-4444-555555555555"' "$TMP/body"; then pass smoke/423-holder-info; else fail smoke/423-holder-info "$(cat "$TMP/body")"; fi
expect_eq smoke/write-without-id-423 "$(code POST /v1/states/smoke/app "${AUTH[@]}" --data-binary @"$TMP/state")" 423
expect_eq smoke/write-with-id "$(code POST '/v1/states/smoke/app?ID=11111111-2222-3333-4444-555555555555' "${AUTH[@]}" --data-binary @"$TMP/state")" 200
expect_eq smoke/unlock-a "$(code UNLOCK /v1/states/smoke/app "${AUTH[@]}" --data-binary "$LOCK_A")" 200
expect_eq smoke/lock-b-after "$(code LOCK /v1/states/smoke/app "${AUTH[@]}" --data-binary "$LOCK_B")" 200
expect_eq smoke/unlock-b "$(code UNLOCK /v1/states/smoke/app "${AUTH[@]}" --data-binary "$LOCK_B")" 200

if grep -q '"action":"lock"' "$STATED_DATA/data/audit.jsonl" 2>/dev/null; then
  pass smoke/audited
else
  fail smoke/audited "no lock event in $STATED_DATA/data/audit.jsonl"
fi
if grep -q "$ADMIN_TOKEN" "$STATED_LOG" "$STATED_DATA/data/audit.jsonl" 2>/dev/null; then
  fail smoke/no-token-in-logs "the admin token appears in the log or audit trail"
else
  pass smoke/no-token-in-logs
fi
if grep -q 'req=[0-9a-f]* LOCK smoke/app status=423 ms=' "$STATED_LOG"; then
  pass smoke/request-log-line
else
  fail smoke/request-log-line "no 'req=… LOCK smoke/app status=423 ms=…' line"
fi

kill -TERM "$STATED_PID"
rc=
for _ in $(seq 1 100); do kill -0 "$STATED_PID" 2>/dev/null || break; sleep 0.05; done
wait "$STATED_PID"; rc=$?
STATED_PID=
expect_eq smoke/sigterm-exit-0 "$rc" 0

# `make run`'s script: prints the backend block and serves with the generated token.
PORT=$(free_port)
RUN_DIR=$TMP/run
mkdir -p "$RUN_DIR"
(cd "$RUN_DIR" && BIN=$BIN STATED_LISTEN=127.0.0.1:$PORT STATED_DATA_DIR=$RUN_DIR/data \
  exec "$TOP/backend/run.sh" >"$TMP/run.out" 2>&1) &
RUN_PID=$!
if wait_http "http://127.0.0.1:$PORT/healthz" 20; then
  TOKEN=$(cat "$RUN_DIR/data/admin.token" 2>/dev/null)
  expect_eq smoke/run-token-mode "$(stat -c %a "$RUN_DIR/data/admin.token" 2>/dev/null)" 600
  # The block is empty, the address goes into a backend config file, and the credentials are
  # read from the token file: the token itself is never printed.
  if grep -q 'backend "http" {}' "$TMP/run.out" \
     && grep -q "^address        = \"http://127.0.0.1:$PORT/v1/states/example\"" "$TMP/run.out" \
     && grep -qF "TF_HTTP_PASSWORD=\$(cat $RUN_DIR/data/admin.token)" "$TMP/run.out"; then
    pass smoke/run-prints-backend-block
  else
    fail smoke/run-prints-backend-block "$(head -n 12 "$TMP/run.out" | tr '\n' ' ')"
  fi
  [ -n "$TOKEN" ] && ! grep -qF "$TOKEN" "$TMP/run.out" && pass smoke/run-prints-no-token \
    || fail smoke/run-prints-no-token "the admin token appears in make run's output"
  expect_eq smoke/run-token-works "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$TOKEN" "http://127.0.0.1:$PORT/v1/states/example")" 404
else
  fail smoke/run "backend/run.sh did not serve: $(tail -n 3 "$TMP/run.out" | tr '\n' ' ')"
fi
# The README's configuration reference lists every option --help prints, with its variable.
missing=
while read -r opt env; do
  grep -q -- "| \`--$opt\` | \`$env\`" "$TOP/README.md" || missing+=" --$opt"
done < <("$BIN/stated" --help | sed -n 's/^  --\([a-z0-9-]*\)[= ].*\[\(STATED_[A-Z0-9_]*\).*/\1 \2/p')
[ -z "$missing" ] && pass smoke/readme-lists-every-option || fail smoke/readme-lists-every-option "not in README.md:$missing"
t_done
