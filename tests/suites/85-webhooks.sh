#!/bin/bash
# 85-webhooks: signed webhooks from the audit trail, against a real stated and a loopback
# receiver (tests/webhooks/receiver.py, which checks each signature with Python's hmac).
#
# Per mode: every event type arrives, signed; with the receiver down (and then answering 500)
# writes are delivered once it is back, every one, in order per state; after kill -9 of stated
# with events undelivered, a restart delivers them; a lock held past --stale-lock-after gives
# exactly one lock.stale; statectl webhooks list, deliveries and redeliver; the metrics. Once:
# URLs to metadata addresses (169.254.169.254, fd00:ec2::254) refused at start. In s3pg mode
# (PG_CONNINFO and S3_ENDPOINT set) two instances share the webhooks: nothing is lost and each
# delivery comes from one instance.
#
# Run alone: tests/suites/85-webhooks.sh   (HOOK_MODES="embedded" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-hooks.XXXXXX)
RX_PID= B_PID=
cleanup() {
  [ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null
  [ -n "$B_PID" ] && kill -KILL "$B_PID" 2>/dev/null
  stated_cleanup
  rm -rf "$W"
}
trap cleanup EXIT
SC=$BIN/statectl
export HOOK_SECRET="hook-secret-$RANDOM$RANDOM"

for tool in curl python3; do
  command -v "$tool" >/dev/null || { skip webhooks "$tool not found"; t_done; exit; }
done

rx_start() {
  python3 "$TOP/tests/webhooks/receiver.py" "$RX_PORT" "$W/rx.log" "$HOOK_SECRET" "$W/rx.status" \
    >>"$W/rx.out" 2>&1 &
  RX_PID=$!
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$RX_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
rx_stop() { [ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null; wait "$RX_PID" 2>/dev/null; RX_PID=; }

ctl() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
# put NAME SERIAL [LOCK-ID]: a state write as a Terraform client.
put() {
  printf '{"version":4,"serial":%s,"lineage":"l-%s","outputs":{}}' "$2" "${1//\//-}" >"$W/body"
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "ci:$ADMIN_TOKEN" -X POST \
    --data-binary "@$W/body" "$STATED_URL/v1/states/$1${3:+?ID=$3}"
}
# lockreq METHOD NAME ID [WHO]: LOCK or UNLOCK with a full lock info; "-" as WHO sends only ID.
lockreq() {
  local body
  if [ "${4:-}" = "-" ]; then body="{\"ID\":\"$3\"}"
  else body="{\"ID\":\"$3\",\"Who\":\"${4:-bob@ci}\",\"Operation\":\"OperationTypeApply\",\"Info\":\"\",\"Version\":\"1.6.0\",\"Path\":\"\"}"; fi
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "ci:$ADMIN_TOKEN" -X "$1" \
    -d "$body" "$STATED_URL/v1/states/$2/lock"
}
# arrived PYTHON-EXPR: count of received records r (a dict) for which EXPR is true.
arrived() {
  python3 - "$W/rx.log" "$1" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        b = r["body"] or {}
        if eval(sys.argv[2], {"r": r, "b": b}):
            n += 1
except FileNotFoundError:
    pass
print(n)
PY
}
# wait_for EXPR N SECONDS: until at least N records match.
wait_for() {
  local i
  for i in $(seq 1 $(($3 * 5))); do
    [ "$(arrived "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  return 1
}
hooks_file() { # URL
  cat >"$W/hooks.json" <<JSON
[{"name": "rx", "url": "$1", "secret_env": "HOOK_SECRET",
  "events": ["state.*", "snapshot.*", "lock.*"], "states": "**"}]
JSON
}

refusals() {
  local t=refuse bad
  for bad in "https://169.254.169.254/latest/meta-data" "https://[fd00:ec2::254]/x" \
             "http://hooks.example.com/x"; do
    hooks_file "$bad"
    STATED_ADMIN_TOKEN=x timeout 10 "$BIN/stated" --listen "127.0.0.1:$(free_port)" \
      --data-dir "$W/refuse" --webhooks "$W/hooks.json" >"$W/refuse.out" 2>&1
    local rc=$?
    if [ "$rc" -ne 0 ] && grep -Eq 'link-local or metadata|must be https' "$W/refuse.out"; then
      pass "$t $bad refused at start"
    else
      fail "$t $bad refused at start" "exit $rc: $(tail -c 200 "$W/refuse.out")"
    fi
  done
  cat >"$W/hooks.json" <<JSON
[{"url": "https://127.0.0.1/x", "secret_env": "HOOK_SECRET", "evnts": ["state.*"]}]
JSON
  STATED_ADMIN_TOKEN=x timeout 10 "$BIN/stated" --data-dir "$W/refuse" --webhooks "$W/hooks.json" \
    >"$W/refuse.out" 2>&1
  grep -q 'did you mean "events"' "$W/refuse.out" && pass "$t unknown key, did you mean" ||
    fail "$t unknown key, did you mean" "$(tail -c 200 "$W/refuse.out")"
  grep -q "$HOOK_SECRET" "$W/refuse.out" && fail "$t secret not in output" || pass "$t secret not in output"
}

# Every event type, each signed; a stale lock reported once.
every_type() {
  local t=$1 s=$t-app
  lockreq LOCK "$s" L1 >/dev/null
  put "$s" 1 L1 >/dev/null
  put "$s" 2 L1 >/dev/null
  lockreq UNLOCK "$s" L1 >/dev/null
  lockreq LOCK "$s" L2 >/dev/null
  lockreq UNLOCK "$s" L2 - >/dev/null                      # force-unlock: the ID only
  ctl snapshots restore "$s" latest~1 --reason webhook-test
  ctl snapshots delete "$s" latest~1 --reason webhook-test
  ctl states move "$s" "$s-moved"
  ctl states delete "$s-moved"
  lockreq LOCK "$t-exp" E1 >/dev/null                      # held: stale, then expired
  local started=$SECONDS
  if wait_for "b.get('type') == 'lock.stale' and b['lock']['id'] == 'E1'" 1 25; then
    pass "$t lock.stale arrives"
  else
    fail "$t lock.stale arrives" "$(tail -n 3 "$STATED_LOG")"
  fi
  while [ $((SECONDS - started)) -lt 23 ]; do sleep 0.5; done   # past the 20 s lease, 2 checks
  lockreq LOCK "$t-exp" E2 >/dev/null                      # takes the expired lease over
  local ty missing=
  for ty in state.written state.deleted state.restored state.moved snapshot.deleted \
            lock.acquired lock.released lock.expired lock.force_unlocked lock.stale; do
    wait_for "r['event'] == '$ty'" 1 10 || missing="$missing $ty"
  done
  [ -z "$missing" ] && pass "$t every event type arrives" || fail "$t every event type arrives" "missing:$missing"
  expect_eq "$t one lock.stale per lock" "$(arrived "b.get('type') == 'lock.stale' and b['lock']['id'] == 'E1'")" 1
  expect_eq "$t every signature verifies (Python hmac)" "$(arrived "not r['signature_ok']")" 0
  expect_eq "$t X-Stated-Delivery is the id" "$(arrived "r['delivery'] != b.get('id')")" 0
  expect_eq "$t lock.acquired carries Who" "$(arrived "r['event'] == 'lock.acquired' and b['lock']['who'] == 'bob@ci'")" 4
  expect_eq "$t written events carry the serial" "$(arrived "r['event'] == 'state.written' and b['serial'] in (1, 2)")" 2
}

# in_order STATE SERIALS...: each serial arrived, first arrivals in that order.
in_order() {
  python3 - "$W/rx.log" "$@" <<'PY'
import json, sys
state, want = sys.argv[2], [int(x) for x in sys.argv[3:]]
seen = []
for line in open(sys.argv[1]):
    b = json.loads(line)["body"] or {}
    if b.get("state") == state and b.get("type") == "state.written" and b["serial"] not in seen:
        seen.append(b["serial"])
sys.exit(0 if seen == want else print(state, "got", seen, "want", want) or 1)
PY
}

outage() {
  local t=$1 i
  rx_stop
  for i in 10 11 12; do put "$t-ord/a" $i >/dev/null; put "$t-ord/b" $i >/dev/null; done
  sleep 2
  echo 500 >"$W/rx.status"
  rx_start
  for i in 13 14; do put "$t-ord/a" $i >/dev/null; done
  sleep 3
  rm -f "$W/rx.status"
  wait_for "r['answered'] == 200 and b.get('state') == '$t-ord/a' and b['serial'] == 14" 1 40 ||
    fail "$t delivered after the outage" "$(tail -n 3 "$STATED_LOG")"
  wait_for "r['answered'] == 200 and b.get('state') == '$t-ord/b' and b['serial'] == 12" 1 10
  check "$t none lost, in order per state (a)" in_order "$t-ord/a" 10 11 12 13 14
  check "$t none lost, in order per state (b)" in_order "$t-ord/b" 10 11 12
  [ "$(arrived "r['answered'] == 500")" -ge 1 ] && pass "$t a 500 is retried" || fail "$t a 500 is retried" "no 500 answered"
}

crash() {
  local t=$1 i
  rx_stop
  for i in 1 2 3; do put "$t-crash" $i >/dev/null; done
  stated_kill
  rx_start
  stated_launch || { fail "$t restart after kill -9"; return; }
  # (with PostgreSQL the killed instance's lease must lapse first: up to 30 s)
  wait_for "b.get('state') == '$t-crash' and b['serial'] == 3 and r['answered'] == 200" 1 60
  check "$t undelivered events delivered after kill -9" in_order "$t-crash" 1 2 3
}

ctl_checks() {
  local t=$1
  ctl webhooks list
  [ "$RC" = 0 ] && grep -q '^rx .*127.0.0.1' "$W/out" && pass "$t statectl webhooks list" ||
    fail "$t statectl webhooks list" "rc $RC $(head -c 300 "$W/out" "$W/err")"
  ctl webhooks deliveries rx
  [ "$RC" = 0 ] && grep -q 'state.written' "$W/out" && pass "$t statectl webhooks deliveries" ||
    fail "$t statectl webhooks deliveries" "rc $RC $(head -c 300 "$W/err")"
  ctl webhooks deliveries rx --failed
  [ "$RC" = 0 ] && [ "$(grep -c 'state\.' "$W/out")" = 0 ] && pass "$t deliveries --failed (none)" ||
    fail "$t deliveries --failed" "rc $RC $(head -c 300 "$W/out")"
  local id
  id=$(awk '$2 == "state.written" {print $1; exit}' <(ctl webhooks deliveries rx; cat "$W/out"))
  local before
  before=$(arrived "r['delivery'] == '$id'")
  ctl webhooks redeliver rx "$id"
  [ "$RC" = 0 ] && wait_for "r['delivery'] == '$id'" $((before + 1)) 10 && pass "$t statectl webhooks redeliver" ||
    fail "$t statectl webhooks redeliver" "rc $RC id '$id' $(head -c 300 "$W/err")"
  ctl webhooks redeliver rx 999999-rx
  [ "$RC" != 0 ] && pass "$t redeliver of an unknown id refused" || fail "$t redeliver unknown id" "rc 0"
  ctl audit export --output json
  grep -q '"action":"webhook-redeliver"' "$W/out" && pass "$t redeliver audited" ||
    fail "$t redeliver audited" "$(grep -c . "$W/out") events"
  local i
  for i in $(seq 1 25); do # the requests just made are audit events too: handled within a second
    curl -s -u "ci:$ADMIN_TOKEN" "$STATED_URL/metrics" >"$W/metrics"
    grep -q '^stated_webhook_backlog{webhook="rx"} 0' "$W/metrics" && break
    sleep 0.2
  done
  grep -q '^stated_webhook_backlog{webhook="rx"} 0' "$W/metrics" && pass "$t backlog metric" ||
    fail "$t backlog metric" "$(grep webhook "$W/metrics" | head -3)"
  grep -Eq '^stated_webhook_deliveries_total\{result="delivered"\} [1-9]' "$W/metrics" &&
    pass "$t deliveries metric" || fail "$t deliveries metric" "$(grep webhook "$W/metrics" | head -3)"
}

# Two instances on one storage and PostgreSQL: each delivery from one of them, none lost.
two_instances() {
  local t=$1 i
  local args=("${STATED_ARGS[@]}") bport
  bport=$(free_port)
  for i in "${!args[@]}"; do [ "${args[$i]}" = "--listen" ] && args[$((i + 1))]="127.0.0.1:$bport"; done
  for i in "${!args[@]}"; do [ "${args[$i]}" = "--data-dir" ] && args[$((i + 1))]="$W/b-data"; done
  STATED_ADMIN_TOKEN=$ADMIN_TOKEN AWS_ACCESS_KEY_ID=${S3_KEY:-} AWS_SECRET_ACCESS_KEY=${S3_SECRET:-} \
    "$BIN/stated" "${args[@]}" >>"$W/b.log" 2>&1 &
  B_PID=$!
  wait_http "http://127.0.0.1:$bport/healthz" 20 || { fail "$t second instance starts" "$(tail -n 3 "$W/b.log")"; return; }
  for i in 1 2 3 4 5 6; do
    put "$t-two" $i >/dev/null
    STATED_URL=http://127.0.0.1:$bport put "$t-two" $((i + 100)) >/dev/null
  done
  wait_for "b.get('state') == '$t-two' and b['serial'] == 106" 1 30
  expect_eq "$t two instances: all 12 writes delivered" \
    "$(python3 -c "
import json
s = {json.loads(l)['body'].get('serial') for l in open('$W/rx.log') if (json.loads(l)['body'] or {}).get('state') == '$t-two'}
print(len(s))")" 12
  expect_eq "$t two instances: no delivery twice" \
    "$(python3 -c "
import json, collections
c = collections.Counter(json.loads(l)['delivery'] for l in open('$W/rx.log') if (json.loads(l)['body'] or {}).get('state') == '$t-two')
print(max(c.values()) if c else 0)")" 1
  kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=
}

run_mode() {
  local mode=$1 t=$1
  rm -f "$W/rx.log" "$W/rx.status"
  RX_PORT=$(free_port)
  rx_start || { fail "$t receiver starts" "$(tail -n 3 "$W/rx.out")"; return; }
  hooks_file "http://127.0.0.1:$RX_PORT/hook"
  stated_start "$mode" --webhooks "$W/hooks.json" --stale-lock-after 2s --lock-ttl 20s ||
    { fail "$t stated starts with webhooks"; rx_stop; return; }
  pass "$t stated starts with webhooks"
  every_type "$t"
  outage "$t"
  crash "$t"
  ctl_checks "$t"
  [ "$mode" = s3pg ] && two_instances "$t"
  grep -q "$HOOK_SECRET" "$STATED_LOG" && fail "$t secret never logged" "found in the log" || pass "$t secret never logged"
  stated_cleanup
  rx_stop
}

refusals
for mode in ${HOOK_MODES:-embedded s3pg}; do
  if [ "$mode" != embedded ] && ! mode_available "$mode"; then
    skip "webhooks $mode" "services for $mode not available"
    continue
  fi
  run_mode "$mode"
done
t_done
