#!/bin/bash
# 86-audit-trust: the audit trail refuses what it cannot record (--audit-failure).
#
# closed (the default): a request whose event cannot be made durable gets 503 INFRA_005 with
# Retry-After and changes nothing; open: it is answered and the lost event is logged (warn)
# and counted (stated_audit_append_errors_total). Checked in
#   - embedded mode, the audit file made immutable (chattr +i, needs root and a file system
#     that supports it: else SKIPPED),
#   - s3pg mode, inserts into audit_events refused by a trigger (locks still work, so only the
#     audit fails), on the shared cluster in the suite's own database,
#   - in both, every other change in closed mode (UNLOCK, force-unlock, a move, token create
#     and revoke, an expired lease taken over): 503 and nothing changed while the trail fails,
#     exactly one event each once it is back; open mode answers an UNLOCK and logs the loss,
#   - s3pg mode on the suite's own throwaway cluster (tests/env/pg-up.sh), stopped with
#     tests/env/pg-ctl.sh: the write gets 503 and, once PostgreSQL is back, the state still
#     has its old serial and no new snapshot.
#
# Anchors (--audit-anchor-every, --audit-anchor-interval) under audit/anchors/, signed with
# --audit-signing-key-file: written by count and by time; the newest events removed (the
# embedded file cut; PostgreSQL rows deleted with the append-only trigger disabled) and a chain
# rewritten from one event on (every hash after it recomputed) are named by `audit verify`,
# on the server and offline (--file --anchors --public-key); one changed byte of the export or
# of an anchor fails the offline verify; another key's public key fails it.
#
# Run alone: tests/suites/86-audit-trust.sh
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-trust.XXXXXX)
OWN_PG=
cleanup() {
  [ -n "${IMMUTABLE:-}" ] && chattr -i "$IMMUTABLE" 2>/dev/null
  stated_cleanup
  [ -n "$OWN_PG" ] && bash "$TOP/tests/env/pg-down.sh" "$OWN_PG" >/dev/null 2>&1
  rm -rf "$W" "$OWN_PG"
}
trap cleanup EXIT

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip audit-trust "$tool not found"; t_done; exit; }
done

# state SERIAL: a minimal state body with that serial in $W/s.json.
state() {
  printf '{"version":4,"serial":%s,"lineage":"trust-lineage","outputs":{},"resources":[]}\n' "$1" >"$W/s.json"
}
# put NAME SERIAL: writes the state; prints the status; headers in $W/h.
put() {
  state "$2"
  curl -s -D "$W/h" -o "$W/body" -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" \
    --data-binary "@$W/s.json" "$STATED_URL/v1/states/$1"
}
get() {
  curl -s -o "$W/got" -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/states/$1"
}
got_serial() { jq -r .serial "$W/got" 2>/dev/null; }
snap_count() {
  curl -s --max-time 20 -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/snapshots/$1" |
    jq length 2>/dev/null
}
errors_metric() {
  curl -s --max-time 10 -u "ci:$ADMIN_TOKEN" "$STATED_URL/metrics" |
    awk '$1 == "stated_audit_append_errors_total" {print $2}'
}
# refused T: the last answer was 503 INFRA_005 with Retry-After.
refused() {
  local t=$1 code=$2
  expect_eq "$t 503" "$code" 503
  grep -qi '^Retry-After:' "$W/h" && pass "$t Retry-After" || fail "$t Retry-After" "$(tr -d '\r' <"$W/h" | head -c 300)"
  grep -q INFRA_005 "$W/body" && pass "$t INFRA_005" || fail "$t INFRA_005" "$(head -c 200 "$W/body")"
}

# --- embedded: the audit file made immutable
embedded_checks() {
  local mode=$1 t="trust/embedded/$1" code
  stated_start embedded --audit-failure "$mode" || { fail "$t start" "see log"; return; }
  code=$(put app 1); expect_eq "$t first write" "$code" 200
  local f=$STATED_DATA/data/audit.jsonl
  if ! chattr +i "$f" 2>/dev/null; then
    skip "$t immutable audit file" "chattr +i failed (not root, or the file system has no immutable flag)"
    stated_cleanup; return
  fi
  IMMUTABLE=$f
  code=$(put app 2)
  if [ "$mode" = closed ]; then
    refused "$t write while the trail is unwritable" "$code"
    code=$(get app); expect_eq "$t read refused too" "$code" 503
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" -X LOCK \
      --data '{"ID":"trust-1","Operation":"OperationTypeApply","Who":"t@ci"}' "$STATED_URL/v1/states/app")
    expect_eq "$t LOCK refused" "$code" 503
  else
    expect_eq "$t write answered anyway" "$code" 200
    grep -q 'audit append failed (write), answered anyway' "$STATED_LOG" && pass "$t warning logged" || fail "$t warning logged" "$(tail -n 3 "$STATED_LOG")"
    local n; n=$(errors_metric)
    [ "${n:-0}" != 0 ] && pass "$t counted ($n)" || fail "$t counted" "stated_audit_append_errors_total=${n:-none}"
  fi
  chattr -i "$f"; IMMUTABLE=
  code=$(get app); expect_eq "$t read after repair" "$code" 200
  if [ "$mode" = closed ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" -X LOCK \
      --data '{"ID":"trust-2","Operation":"OperationTypeApply","Who":"t@ci"}' "$STATED_URL/v1/states/app")
    expect_eq "$t the refused LOCK left the state free (another ID locks it)" "$code" 200
    expect_eq "$t state unchanged" "$(got_serial)" 1
    expect_eq "$t no snapshot added" "$(snap_count app)" 1
  else
    expect_eq "$t state written" "$(got_serial)" 2
  fi
  "$BIN/statectl" audit verify --file "$f" >"$W/v" 2>&1 && pass "$t trail still verifies" || fail "$t trail still verifies" "$(tail -n 2 "$W/v")"
  stated_cleanup
}


# --- s3pg: inserts into audit_events refused (locks keep working)
pg_trigger_checks() {
  local mode=$1 t="trust/s3pg/$1" code ci
  stated_start s3pg --audit-failure "$mode" || { fail "$t start" "see log"; return; }
  ci=$(stated_arg --locks)
  code=$(put app 1); expect_eq "$t first write" "$code" 200
  psql "$ci" -qAt -c "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RAISE EXCEPTION 'test: audit refused'; END \$f\$;
    CREATE TRIGGER t_refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION t_refuse();" >/dev/null
  code=$(put app 2)
  if [ "$mode" = closed ]; then
    refused "$t write whose event is refused" "$code"
  else
    expect_eq "$t write answered anyway" "$code" 200
    grep -q 'answered anyway' "$STATED_LOG" && pass "$t warning logged" || fail "$t warning logged" "$(tail -n 3 "$STATED_LOG")"
  fi
  psql "$ci" -qAt -c "DROP TRIGGER t_refuse ON audit_events" >/dev/null
  code=$(get app); expect_eq "$t read after repair" "$code" 200
  expect_eq "$t serial" "$(got_serial)" "$([ "$mode" = closed ] && echo 1 || echo 2)"
  expect_eq "$t snapshots" "$(snap_count app)" "$([ "$mode" = closed ] && echo 1 || echo 2)"
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$BIN/statectl" audit verify >"$W/v" 2>&1 &&
    pass "$t trail verifies" || fail "$t trail verifies" "$(tail -n 2 "$W/v")"
  stated_cleanup
}

# --- s3pg on the suite's own cluster, stopped
pg_stopped_checks() {
  local t=trust/s3pg/pg-stopped code ci
  OWN_PG=$(mktemp -d /tmp/stated-trust-pg.XXXXXX)
  chmod 755 "$OWN_PG"
  if ! ci=$(bash "$TOP/tests/env/pg-up.sh" "$OWN_PG" 2>"$W/pgup"); then
    skip "$t" "own PostgreSQL did not start: $(tail -n 1 "$W/pgup")"; return
  fi
  PG_CONNINFO=$ci stated_start s3pg || { fail "$t start" "see log"; return; }
  code=$(put app 1); expect_eq "$t first write" "$code" 200
  bash "$TOP/tests/env/pg-ctl.sh" "$OWN_PG" stop
  code=$(put app 2)
  expect_eq "$t write with PostgreSQL stopped: 503" "$code" 503
  grep -qi '^Retry-After:' "$W/h" && pass "$t Retry-After" || fail "$t Retry-After" "no header"
  bash "$TOP/tests/env/pg-ctl.sh" "$OWN_PG" start
  local i
  for i in $(seq 1 50); do code=$(get app); [ "$code" = 200 ] && break; sleep 0.2; done
  expect_eq "$t read once PostgreSQL is back" "$code" 200
  expect_eq "$t old serial" "$(got_serial)" 1
  expect_eq "$t no snapshot added" "$(snap_count app)" 1
  stated_cleanup
}


# --- every change in closed mode, not only writes: UNLOCK, force-unlock, a move, token
# create and revoke, and a lease expiry each change nothing while the trail refuses appends,
# and leave exactly one event once it is back (docs/storage.md "When an event cannot be
# recorded"). KIND: embedded (the audit file immutable) or s3pg (the trigger).
audit_break() {
  if [ "$1" = embedded ]; then
    chattr +i "$STATED_DATA/data/audit.jsonl" 2>/dev/null || return 1
    IMMUTABLE=$STATED_DATA/data/audit.jsonl
  else
    psql "$(stated_arg --locks)" -qAt -c "CREATE OR REPLACE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RAISE EXCEPTION 'test: audit refused'; END \$f\$;
      CREATE TRIGGER t_refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION t_refuse();" >/dev/null 2>"$W/psql.err" || return 2
  fi
}
# break_or_skip T KIND: audit_break, or the case ends: SKIPPED when the file system cannot make
# the audit file immutable, FAIL when PostgreSQL refused the trigger (nothing to skip there).
break_or_skip() {
  audit_break "$2"
  case $? in
    0) return 0 ;;
    1) skip "$1" "chattr +i failed (not root, or no immutable flag)" ;;
    *) fail "$1 trigger refusing audit inserts" "$(tail -n 1 "$W/psql.err")" ;;
  esac
  stated_cleanup
  return 1
}
audit_heal() {
  if [ "$1" = embedded ]; then
    chattr -i "$IMMUTABLE"; IMMUTABLE=
  else
    psql "$(stated_arg --locks)" -qAt -c "DROP TRIGGER t_refuse ON audit_events" >/dev/null
  fi
}
# req METHOD PATH [curl args...]: prints the status; headers in $W/h, body in $W/body.
req() {
  local m=$1 p=$2; shift 2
  curl -s -D "$W/h" -o "$W/body" -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" -X "$m" "$@" "$STATED_URL$p"
}
lockbody() {
  printf '{"ID":"%s","Operation":"OperationTypeApply","Who":"t@ci","Info":"","Version":"1.6.0","Path":"","Created":"2026-12-01T10:00:00Z"}' "$1"
}
holder() { req GET /v1/locks >/dev/null; jq -r --arg s "$1" '[.[]|select(.state==$s)|.id]|join(",")' "$W/body"; }
has_token() { req GET /v1/tokens >/dev/null; jq --arg n "$1" '[.[]|select(.name==$n)]|length' "$W/body"; }
# events ACTION [STATE]: how many events of ACTION (on STATE) the trail holds.
events() {
  curl -s --max-time 20 -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/audit/export" >"$W/trail"
  jq -s --arg a "$1" --arg s "${2:-}" '[.[]|select(.action==$a and ($s=="" or .state==$s))]|length' "$W/trail"
}

change_checks() {
  local kind=$1 t="trust/$1/closed-changes" code
  stated_start "$kind" || { fail "$t start" "see log"; return; }
  code=$(put app 1); expect_eq "$t first write" "$code" 200
  code=$(req LOCK /v1/states/app --data "$(lockbody L1)"); expect_eq "$t LOCK" "$code" 200
  break_or_skip "$t" "$kind" || return
  refused "$t UNLOCK" "$(req UNLOCK /v1/states/app --data "$(lockbody L1)")"
  code=$(req LOCK /v1/states/app --data "$(lockbody L2)"); expect_eq "$t still held: LOCK by another ID" "$code" 423
  refused "$t force-unlock" "$(req DELETE '/v1/locks/app?reason=test')"
  refused "$t token create" "$(req POST /v1/tokens -H 'Content-Type: application/json' --data '{"name":"t-new","role":"read","states":"**"}')"
  audit_heal "$kind"
  expect_eq "$t still held by L1" "$(holder app)" L1
  expect_eq "$t no token created" "$(has_token t-new)" 0
  code=$(req UNLOCK /v1/states/app --data "$(lockbody L1)"); expect_eq "$t UNLOCK once the trail is back" "$code" 200
  expect_eq "$t one unlock event" "$(events unlock app)" 1
  code=$(req UNLOCK /v1/states/app --data "$(lockbody L1)"); expect_eq "$t UNLOCK retried: converges" "$code" 200
  expect_eq "$t the retry: one event more" "$(events unlock app)" 2
  expect_eq "$t the retry: nothing held" "$(jq -rs '[.[]|select(.action=="unlock")]|last|.detail' "$W/trail")" "nothing held"
  req LOCK /v1/states/app --data "$(lockbody L3)" >/dev/null
  code=$(req DELETE '/v1/locks/app?reason=test'); expect_eq "$t force-unlock once the trail is back" "$code" 200
  expect_eq "$t one force-unlock event" "$(events force-unlock app)" 1
  expect_eq "$t released" "$(holder app)" ""
  audit_break "$kind"
  refused "$t move" "$(req POST '/v1/move/app?to=moved')"
  audit_heal "$kind"
  expect_eq "$t old name unchanged" "$(get app)" 200
  expect_eq "$t new name absent" "$(get moved)" 404
  code=$(req POST '/v1/move/app?to=moved'); expect_eq "$t move once the trail is back" "$code" 200
  expect_eq "$t one move event per name" "$(events state-move app),$(events state-move moved)" 1,1
  code=$(req POST /v1/tokens -H 'Content-Type: application/json' --data '{"name":"t-new","role":"read","states":"**"}')
  expect_eq "$t token create once the trail is back" "$code" 201
  expect_eq "$t one token-create event" "$(events token-create)" 1
  audit_break "$kind"
  refused "$t token revoke" "$(req DELETE /v1/tokens/t-new)"
  audit_heal "$kind"
  expect_eq "$t token not revoked" "$(has_token t-new)" 1
  code=$(req DELETE /v1/tokens/t-new); expect_eq "$t token revoke once the trail is back" "$code" 200
  expect_eq "$t one token-revoke event" "$(events token-revoke)" 1
  expect_eq "$t token revoked" "$(has_token t-new)" 0
  stated_cleanup
}

# lease_row KIND STATE: the lease recorded for STATE in the lock store, live or expired.
lease_row() {
  if [ "$1" = embedded ]; then
    jq -r --arg s "$2" '[.locks[]|select(.state==$s)|.id]|join(",")' "$STATED_DATA/data/locks.json"
  else
    psql "$(stated_arg --locks)" -qAt -c "SELECT id FROM locks WHERE state = '$2'"
  fi
}

expiry_checks() {
  local kind=$1 t="trust/$1/closed-expiry" code
  stated_start "$kind" --lock-ttl 2s || { fail "$t start" "see log"; return; }
  code=$(req LOCK /v1/states/exp --data "$(lockbody OLD)"); expect_eq "$t LOCK" "$code" 200
  sleep 2.5
  break_or_skip "$t" "$kind" || return
  refused "$t LOCK over the expired lease" "$(req LOCK /v1/states/exp --data "$(lockbody NEW)")"
  expect_eq "$t the expired lease stays" "$(lease_row "$kind" exp)" OLD
  audit_heal "$kind"
  code=$(req LOCK /v1/states/exp --data "$(lockbody NEW)"); expect_eq "$t LOCK once the trail is back" "$code" 200
  expect_eq "$t one lock-expired event" "$(events lock-expired exp)" 1
  expect_eq "$t it names the expired lease" "$(jq -rs '[.[]|select(.action=="lock-expired")][0].lock_id' "$W/trail")" OLD
  expect_eq "$t the new lease" "$(lease_row "$kind" exp)" NEW
  stated_cleanup
}

# open mode: the UNLOCK is answered and the lost event logged
open_unlock_checks() {
  local kind=$1 t="trust/$1/open-unlock" code
  stated_start "$kind" --audit-failure open || { fail "$t start" "see log"; return; }
  req LOCK /v1/states/app --data "$(lockbody L1)" >/dev/null
  break_or_skip "$t" "$kind" || return
  code=$(req UNLOCK /v1/states/app --data "$(lockbody L1)"); expect_eq "$t UNLOCK answered" "$code" 200
  grep -q 'audit append failed (unlock), answered anyway' "$STATED_LOG" && pass "$t warning logged" || fail "$t warning logged" "$(tail -n 3 "$STATED_LOG")"
  audit_heal "$kind"
  expect_eq "$t released" "$(holder app)" ""
  stated_cleanup
}


# rechain IN OUT SEQ: rewrites event SEQ (its remote) and recomputes every hash from it on, so
# the result is a valid chain that differs from the original from SEQ.
rechain() {
  python3 - "$1" "$2" "$3" <<'PY'
import hashlib, re, sys
src, dst, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
out, prev = [], None
for line in open(src, encoding="utf-8"):
    line = line.rstrip("\n")
    seq = int(re.match(r'\{"seq":(\d+),', line).group(1))
    body = line[: line.rindex(',"hash":"')]
    if seq == at:
        body = body.replace('"remote":"127.0.0.1"', '"remote":"10.6.6.6"', 1)
    if prev is not None:
        body = re.sub(r',"prev":"[0-9a-f]{64}"$', ',"prev":"%s"' % prev, body)
    h = hashlib.sha256((body + "}").encode()).hexdigest()
    prev = h
    out.append('%s,"hash":"%s"}' % (body, h))
open(dst, "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
}
ctl_verify() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 60 "$BIN/statectl" "$@" >"$W/v" 2>&1
}
writes() { local i; for i in $(seq "$1" "$2"); do put app "$i" >/dev/null; done; }

anchor_embedded_checks() {
  local t=trust/embedded/anchors code n
  openssl genpkey -algorithm ed25519 -out "$W/sign.pem" 2>/dev/null &&
    openssl pkey -in "$W/sign.pem" -pubout -out "$W/sign.pub" 2>/dev/null &&
    openssl genpkey -algorithm ed25519 -out "$W/other.pem" 2>/dev/null &&
    openssl pkey -in "$W/other.pem" -pubout -out "$W/other.pub" 2>/dev/null ||
    { skip "$t" "openssl cannot make Ed25519 keys"; return; }
  stated_start embedded --audit-anchor-every 10 --audit-anchor-interval 2s \
    --audit-signing-key-file "$W/sign.pem" || { fail "$t start" "see log"; return; }
  local A=$STATED_DATA/data/audit/anchors f=$STATED_DATA/data/audit.jsonl
  writes 1 10; sleep 1.2
  n=$(ls "$A" 2>/dev/null | wc -l)
  [ "$n" -ge 1 ] && pass "$t written after 10 events ($n)" || fail "$t written after 10 events" "none in $A"
  put app 11 >/dev/null; sleep 2.8
  local n2; n2=$(ls "$A" | wc -l)
  [ "$n2" -gt "$n" ] && pass "$t written by interval (one event, 2s)" || fail "$t written by interval" "$n2 anchors"
  writes 12 20; sleep 2.6
  ctl_verify audit verify && pass "$t server verify intact" || fail "$t server verify intact" "$(tail -n 2 "$W/v")"
  stated_stop
  cp -r "$A" "$W/anchors"
  cp "$f" "$W/export.jsonl"
  local last; last=$(ls "$A" | tail -n 1 | cut -c1-20 | sed 's/^0*//')
  ctl_verify audit verify --file "$W/export.jsonl" --anchors "$W/anchors" --public-key "$W/sign.pub" &&
    pass "$t offline verify with signed anchors" || fail "$t offline verify with signed anchors" "$(tail -n 2 "$W/v")"
  ctl_verify audit verify --file "$W/export.jsonl" --anchors "$W/anchors" --public-key "$W/other.pub"
  [ $? != 0 ] && grep -q 'signature does not match' "$W/v" && pass "$t another key refused" || fail "$t another key refused" "$(tail -n 2 "$W/v")"
  # one byte of the export
  cp "$W/export.jsonl" "$W/bad.jsonl"
  printf 'X' | dd of="$W/bad.jsonl" bs=1 seek=60 conv=notrunc 2>/dev/null
  ctl_verify audit verify --file "$W/bad.jsonl" --anchors "$W/anchors" --public-key "$W/sign.pub"
  expect_eq "$t one byte of the export changed: exit 7" "$?" 7
  # one byte of the newest anchor (a digit of its hash)
  cp -r "$W/anchors" "$W/anchors-bad"
  local an; an=$W/anchors-bad/$(ls "$W/anchors-bad" | tail -n 1)
  # flip the first hex digit to another one (0<->1, ...), whatever it was
  python3 -c 'import re,sys; p=sys.argv[1]; s=open(p).read(); s=re.sub(r"\"hash\":\"([0-9a-f])", lambda m: "\"hash\":\"" + "%x" % (int(m.group(1), 16) ^ 1), s, count=1); open(p, "w").write(s)' "$an"
  cmp -s "$an" "$W/anchors/${an##*/}" && fail "$t anchor changed by the test" "the edit did nothing"
  ctl_verify audit verify --file "$W/export.jsonl" --anchors "$W/anchors-bad" --public-key "$W/sign.pub"
  [ $? != 0 ] && pass "$t one byte of an anchor changed: fails ($(head -c 120 "$W/v"))" || fail "$t one byte of an anchor changed" "verified"
  # truncation of the file
  head -n $((last - 3)) "$f" >"$W/cut.jsonl"
  ctl_verify audit verify --file "$W/cut.jsonl" --anchors "$W/anchors" --public-key "$W/sign.pub"
  [ $? = 7 ] && grep -q "the trail ends at seq $((last - 3)) but anchor .* records seq $last" "$W/v" &&
    pass "$t offline: removed tail named" || fail "$t offline: removed tail named" "$(tail -n 2 "$W/v")"
  cp "$W/cut.jsonl" "$f"
  stated_launch || { fail "$t restart" "see log"; return; }
  ctl_verify audit verify
  [ $? = 7 ] && grep -q "the trail ends at seq $((last - 3)) but anchor" "$W/v" &&
    pass "$t server: removed tail named" || fail "$t server: removed tail named" "$(tail -n 2 "$W/v")"
  stated_stop
  # a rewritten chain from event 5: valid by itself, not by the anchors
  rechain "$W/export.jsonl" "$W/rewritten.jsonl" 5
  ctl_verify audit verify --file "$W/rewritten.jsonl"
  expect_eq "$t rewritten chain is valid alone" "$?" 0
  ctl_verify audit verify --file "$W/rewritten.jsonl" --anchors "$W/anchors" --public-key "$W/sign.pub"
  [ $? = 7 ] && grep -q "hash differs from anchor" "$W/v" &&
    pass "$t rewritten chain named ($(grep -o 'event [0-9]*.s hash differs' "$W/v"))" || fail "$t rewritten chain named" "$(tail -n 2 "$W/v")"
  stated_cleanup
}

anchor_pg_checks() {
  local t=trust/s3pg/anchors ci
  stated_start s3pg --audit-anchor-every 5 --audit-anchor-interval 60s || { fail "$t start" "see log"; return; }
  ci=$(stated_arg --locks)
  writes 1 12; sleep 1.5
  ctl_verify audit verify && pass "$t server verify intact" || fail "$t server verify intact" "$(tail -n 2 "$W/v")"
  local top; top=$(jq -r .anchored_seq < <(curl -s -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/audit/verify"))
  [ "${top:-0}" -ge 5 ] && pass "$t anchor in the bucket (seq $top)" || fail "$t anchor in the bucket" "anchored_seq=$top"
  psql "$ci" -qAt -c "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;
    DELETE FROM audit_events WHERE seq > $((top - 2));
    ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change;" >/dev/null
  ctl_verify audit verify
  [ $? = 7 ] && grep -q "the trail ends at seq $((top - 2)) but anchor" "$W/v" &&
    pass "$t rows deleted: removed tail named" || fail "$t rows deleted: removed tail named" "$(tail -n 2 "$W/v")"
  stated_cleanup
}

embedded_checks closed
embedded_checks open
change_checks embedded
expiry_checks embedded
open_unlock_checks embedded
anchor_embedded_checks
if mode_available s3pg; then
  pg_trigger_checks closed
  pg_trigger_checks open
  change_checks s3pg
  expiry_checks s3pg
  open_unlock_checks s3pg
  pg_stopped_checks
  anchor_pg_checks
else
  skip trust/s3pg "S3 or PostgreSQL not configured (. /tmp/svc/env)"
fi
t_done
