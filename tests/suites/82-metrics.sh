#!/bin/bash
# 82-metrics: GET /metrics and the JSON request log against a real stated, scraped by a real
# Prometheus.
#
# Who may read /metrics: nobody without a token (401), a read token not (403), a metrics token
# (Bearer and Basic) and the admin token yes, anyone on --metrics-listen; a metrics token may do
# nothing else. `promtool check metrics` accepts the live exposition and every documented name
# is in it. A Prometheus on loopback (1 s scrapes, bearer token file) scrapes stated while the
# suite drives known traffic: N GETs of a state and M LOCK conflicts raise the counters by
# exactly N and M, one held lock makes stated_locks_held 1 and stated_lock_oldest_age_seconds
# grows between two queries. Two instances on one PostgreSQL report the same stated_locks_held.
# The JSON log (--log-format json) parses line by line with jq, its request lines carry the
# documented fields, and no token appears in any log.
#
# Needs curl, jq; promtool and prometheus (Debian's prometheus package) for the Prometheus
# checks, PG_CONNINFO for the two-instance check: each is SKIPPED loudly when missing.
# Run alone: tests/suites/82-metrics.sh   (about 40 s)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-metrics.XXXXXX)
PROM_PID= B_PID= A_PID=
cleanup() {
  local p
  for p in $PROM_PID $B_PID $A_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  stated_cleanup
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
SC=$BIN/statectl
N=7 M=3

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip metrics "$tool not found"; t_done; exit; }
done
HAVE_PROM=1
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  HAVE_PROM=0
  echo "!!! SKIPPED metrics Prometheus checks: promtool/prometheus not found (apt-get install prometheus)" >&2
fi

MPORT=$(free_port)
if ! stated_start embedded --log-format json --metrics-listen "127.0.0.1:$MPORT"; then
  fail metrics "stated did not start"
  t_done
  exit
fi
MURL="http://127.0.0.1:$MPORT"

# code URL [curl args...]: the HTTP status only.
code() {
  local u=$1
  shift
  curl -s -o "$W/body" -w '%{http_code}' --max-time 10 "$@" "$u"
}
# token NAME ROLE: a new runtime token's secret.
token() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$SC" tokens create "$1" \
    --role "$2" --states '**' 2>/dev/null
}
lockinfo() { # ID
  printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"m@ci","Version":"1.11.4","Created":"%s","Path":""}' \
    "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
# state_req METHOD NAME [BODY] [TOKEN] [URL]: a state request; prints the status.
state_req() {
  local body=${3:-} tok=${4:-$ADMIN_TOKEN} url=${5:-$STATED_URL} args=()
  [ -n "$body" ] && args=(--data-binary "$body")
  curl -s -o "$W/sbody" -w '%{http_code}' --max-time 10 -X "$1" -u "ci:$tok" "${args[@]}" \
    "$url/v1/states/$2"
}
# sample FILE NAME{LABELS}: the value of one sample line of an exposition ("" when absent).
sample() {
  awk -v k="$2" '$1 == k { print $2 }' "$1"
}

METRICS_TOKEN=$(token scraper metrics)
READ_TOKEN=$(token reader read)
if [ -z "$METRICS_TOKEN" ] || [ -z "$READ_TOKEN" ]; then
  fail metrics/tokens "statectl tokens create failed"
  t_done
  exit
fi

# ------------------------------------------------------------------ who may read /metrics

access_checks() {
  local t=metrics/access
  expect_eq "$t no token 401" "$(code "$STATED_URL/metrics")" 401
  expect_eq "$t bad token 401" "$(code "$STATED_URL/metrics" -H "Authorization: Bearer nope")" 401
  expect_eq "$t read token 403" "$(code "$STATED_URL/metrics" -H "Authorization: Bearer $READ_TOKEN")" 403
  expect_eq "$t metrics token (Bearer) 200" \
    "$(code "$STATED_URL/metrics" -H "Authorization: Bearer $METRICS_TOKEN")" 200
  expect_eq "$t metrics token (Basic) 200" "$(code "$STATED_URL/metrics" -u "prom:$METRICS_TOKEN")" 200
  expect_eq "$t admin 200" "$(code "$STATED_URL/metrics" -u "ci:$ADMIN_TOKEN")" 200
  expect_eq "$t POST 405" "$(code "$STATED_URL/metrics" -u "ci:$ADMIN_TOKEN" -X POST)" 405
  expect_eq "$t --metrics-listen open 200" "$(code "$MURL/metrics")" 200
  expect_eq "$t --metrics-listen serves nothing else" "$(code "$MURL/v1/states" -u "ci:$ADMIN_TOKEN")" 404
  local ct
  ct=$(curl -s -o /dev/null -w '%{content_type}' --max-time 10 "$MURL/metrics")
  expect_eq "$t content type" "$ct" "text/plain; version=0.0.4; charset=utf-8"
  # a metrics token may do nothing else
  state_req POST m/app '{"version":4,"serial":1,"lineage":"l","outputs":{},"resources":[]}' >/dev/null
  expect_eq "$t metrics token GET state 403" "$(state_req GET m/app "" "$METRICS_TOKEN")" 403
  expect_eq "$t metrics token LOCK 403" "$(state_req LOCK m/app "$(lockinfo x)" "$METRICS_TOKEN")" 403
  expect_eq "$t metrics token lists nothing 403" \
    "$(code "$STATED_URL/v1/states" -H "Authorization: Bearer $METRICS_TOKEN")" 403
  expect_eq "$t metrics token healthz 200" "$(code "$STATED_URL/healthz")" 200
}

# ------------------------------------------------------------------ the exposition

exposition_checks() {
  local t=metrics/exposition
  curl -s --max-time 10 "$MURL/metrics" >"$W/m.txt"
  local name missing=""
  for name in stated_build_info stated_http_requests_total stated_http_request_duration_seconds \
    stated_http_requests_in_flight stated_locks_held stated_lock_oldest_age_seconds \
    stated_lock_conflicts_total stated_lock_expired_total stated_force_unlocks_total \
    stated_state_writes_total stated_state_write_bytes_total stated_snapshots_pruned_total \
    stated_storage_requests_total stated_storage_request_duration_seconds \
    stated_postgres_errors_total stated_audit_append_errors_total stated_audit_events_total \
    stated_auth_failures_total process_start_time_seconds process_resident_memory_bytes \
    process_open_fds; do
    grep -q "^# TYPE $name " "$W/m.txt" || missing="$missing $name"
  done
  expect_eq "$t every documented name" "${missing:-none}" none
  local v
  v=$("$BIN/stated" --version | awk '{print $NF}')
  expect_eq "$t build_info" "$(sample "$W/m.txt" "stated_build_info{version=\"$v\"}")" 1
  grep -q '^stated_http_requests_total{method="GET",route="state",code="403"} ' "$W/m.txt" &&
    pass "$t route label of a state request" || fail "$t route label of a state request" "$(grep http_requests_total "$W/m.txt" | head -5)"
  if grep -q 'm/app' "$W/m.txt"; then fail "$t never a state name" "m/app found"; else pass "$t never a state name"; fi
  [ "$(sample "$W/m.txt" 'stated_auth_failures_total{reason="forbidden"}')" -ge 4 ] 2>/dev/null &&
    pass "$t forbidden counted" || fail "$t forbidden counted" "$(grep auth_failures "$W/m.txt")"
  [ "$(sample "$W/m.txt" 'stated_auth_failures_total{reason="missing"}')" -ge 1 ] 2>/dev/null &&
    pass "$t missing credentials counted" || fail "$t missing credentials counted" "$(grep auth_failures "$W/m.txt")"
  [ "$(sample "$W/m.txt" 'stated_storage_requests_total{op="put",result="ok"}')" -ge 1 ] 2>/dev/null &&
    pass "$t storage puts counted" || fail "$t storage puts counted" "$(grep storage_requests "$W/m.txt" | head -3)"
  expect_eq "$t state write counted" "$(sample "$W/m.txt" stated_state_writes_total)" 1
  if [ $HAVE_PROM = 1 ]; then
    if promtool check metrics <"$W/m.txt" >"$W/promtool.out" 2>&1; then
      pass "$t promtool check metrics"
    else
      fail "$t promtool check metrics" "$(head -c 300 "$W/promtool.out")"
    fi
  else
    skip "$t promtool check metrics" "promtool not found"
  fi
}

# ------------------------------------------------------------------ a real Prometheus

PPORT=
prom_start() {
  PPORT=$(free_port)
  printf '%s' "$METRICS_TOKEN" >"$W/token"
  cat >"$W/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: stated
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $W/token
    static_configs:
      - targets: ["127.0.0.1:$STATED_PORT"]
EOF
  prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" >"$W/prometheus.log" 2>&1 &
  PROM_PID=$!
}
# pq QUERY: the value of an instant query's first result ("" when none).
pq() {
  curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
# pq_wait QUERY WANT [SECS]: until the query says WANT; prints what it said last.
pq_wait() {
  local i v=""
  for i in $(seq 1 $((${3:-15} * 4))); do
    v=$(pq "$1")
    [ "$v" = "$2" ] && break
    sleep 0.25
  done
  echo "$v"
}
# pq_scraped: waits for a scrape that started after now (so it sees what was done before).
pq_scraped() {
  local t0 i
  t0=$(date +%s.%N)
  for i in $(seq 1 40); do
    [ "$(pq "timestamp(up{job=\"stated\"}) > $t0")" != "" ] && return 0
    sleep 0.25
  done
  return 1
}

prometheus_checks() {
  local t=metrics/prometheus
  if [ $HAVE_PROM = 0 ]; then
    skip "$t" "prometheus not found"
    return
  fi
  prom_start
  if ! wait_http "http://127.0.0.1:$PPORT/-/ready" 20 || [ "$(pq_wait 'up{job="stated"}' 1 20)" != 1 ]; then
    fail "$t scrapes stated" "$(tail -n 5 "$W/prometheus.log" | tr '\n' ' ')"
    return
  fi
  pass "$t scrapes stated with a bearer token file"
  local getq='sum(stated_http_requests_total{route="state",method="GET",code="200"}) or vector(0)'
  local conq='sum(stated_lock_conflicts_total) or vector(0)'
  state_req LOCK m/held "$(lockinfo held-1)" >/dev/null
  pq_scraped
  local g0 c0 i
  g0=$(pq "$getq")
  c0=$(pq "$conq")
  for i in $(seq 1 $N); do state_req GET m/app >/dev/null; done
  for i in $(seq 1 $M); do
    [ "$(state_req LOCK m/held "$(lockinfo other-$i)")" = 423 ] || fail "$t conflict $i" "not 423"
  done
  expect_eq "$t GETs rose by N=$N" "$(pq_wait "$getq" $((g0 + N)))" $((g0 + N))
  expect_eq "$t conflicts rose by M=$M" "$(pq_wait "$conq" $((c0 + M)))" $((c0 + M))
  pq_scraped && pq_scraped # two more scrapes: still exactly that
  expect_eq "$t GETs still N after more scrapes" "$(pq "$getq")" $((g0 + N))
  expect_eq "$t conflicts still M after more scrapes" "$(pq "$conq")" $((c0 + M))
  expect_eq "$t locks held 1" "$(pq_wait 'stated_locks_held' 1)" 1
  local a1 a2
  a1=$(pq 'stated_lock_oldest_age_seconds')
  sleep 3
  pq_scraped
  a2=$(pq 'stated_lock_oldest_age_seconds')
  if awk -v a="$a1" -v b="$a2" 'BEGIN { exit !(a != "" && b > a + 1) }'; then
    pass "$t oldest lock age grows ($a1 -> $a2)"
  else
    fail "$t oldest lock age grows" "$a1 -> $a2"
  fi
  local n
  n=$(pq 'sum(stated_http_request_duration_seconds_count{route="lock"})')
  [ "${n:-0}" -ge $((M + 1)) ] 2>/dev/null && pass "$t latency histogram counts the LOCKs ($n)" ||
    fail "$t latency histogram counts the LOCKs" "${n:-none}"
}

# ------------------------------------------------------------------ two instances, one PostgreSQL

two_instance_checks() {
  local t=metrics/postgres
  local mode=pg
  mode_available s3pg && mode=s3pg
  if ! mode_available pg; then
    echo "!!! SKIPPED $t: PG_CONNINFO not set (. /tmp/svc/env)" >&2
    skip "$t" "PG_CONNINFO not set"
    return
  fi
  local conn
  conn=$(new_pg_db) || { fail "$t" "cannot create a database"; return; }
  local pa pb ma mb
  pa=$(free_port) pb=$(free_port) ma=$(free_port) mb=$(free_port)
  local extra=()
  if [ $mode = s3pg ]; then
    extra=(--storage "s3://$S3_BUCKET/t$(date +%s%N)$RANDOM" --s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1)
  fi
  local i
  for i in a b; do
    local p m
    [ $i = a ] && p=$pa m=$ma || p=$pb m=$mb
    mkdir -p "$W/$i"
    AWS_ACCESS_KEY_ID=${S3_KEY:-} AWS_SECRET_ACCESS_KEY=${S3_SECRET:-} STATED_ADMIN_TOKEN=$ADMIN_TOKEN \
      "$BIN/stated" --listen "127.0.0.1:$p" --metrics-listen "127.0.0.1:$m" --data-dir "$W/$i/data" \
      --locks "$conn" --failed-logins-per-minute 0 "${extra[@]}" >"$W/$i/log" 2>&1 &
    [ $i = a ] && A_PID=$! || B_PID=$!
  done
  if ! wait_http "http://127.0.0.1:$pa/healthz" 20 || ! wait_http "http://127.0.0.1:$pb/healthz" 20; then
    fail "$t both instances start" "$(tail -n 3 "$W/a/log" "$W/b/log" | tr '\n' ' ')"
    return
  fi
  pass "$t both instances start ($mode)"
  expect_eq "$t lock on A" "$(state_req LOCK pg/one "$(lockinfo one)" "$ADMIN_TOKEN" "http://127.0.0.1:$pa")" 200
  expect_eq "$t lock on B" "$(state_req LOCK pg/two "$(lockinfo two)" "$ADMIN_TOKEN" "http://127.0.0.1:$pb")" 200
  sleep 2.2 # past the gauges' 2 s cache
  local va vb
  va=$(curl -s --max-time 5 "http://127.0.0.1:$ma/metrics" | awk '$1 == "stated_locks_held" { print $2 }')
  vb=$(curl -s --max-time 5 "http://127.0.0.1:$mb/metrics" | awk '$1 == "stated_locks_held" { print $2 }')
  expect_eq "$t A reports both locks" "$va" 2
  expect_eq "$t B reports the same" "$vb" 2
  state_req UNLOCK pg/one "$(lockinfo one)" "$ADMIN_TOKEN" "http://127.0.0.1:$pb" >/dev/null
  sleep 2.2
  va=$(curl -s --max-time 5 "http://127.0.0.1:$ma/metrics" | awk '$1 == "stated_locks_held" { print $2 }')
  vb=$(curl -s --max-time 5 "http://127.0.0.1:$mb/metrics" | awk '$1 == "stated_locks_held" { print $2 }')
  expect_eq "$t A sees B's unlock" "$va" 1
  expect_eq "$t B agrees" "$vb" 1
  # text format (the default) keeps its request line
  if grep -Eq '^[0-9T:.-]+Z info  req=[0-9a-f]+ LOCK pg/one status=200 ms=[0-9]+$' "$W/a/log"; then
    pass "$t text request line unchanged"
  else
    fail "$t text request line unchanged" "$(grep 'req=' "$W/a/log" | head -2 | tr '\n' ' ')"
  fi
}

# ------------------------------------------------------------------ the JSON log

log_checks() {
  local t=metrics/json-log
  local bad
  bad=$(while IFS= read -r line; do
    printf '%s\n' "$line" | jq -e 'type == "object" and has("ts") and has("level") and has("msg")' >/dev/null 2>&1 || echo x
  done <"$STATED_LOG" | wc -l)
  expect_eq "$t every line is one JSON object" "$bad" 0
  local get lock start
  get=$(jq -c 'select(.method == "GET" and .route == "state" and .status == 200)' "$STATED_LOG" | head -n 1)
  if [ -n "$get" ] && echo "$get" | jq -e '
      (.ts|type)=="string" and .level=="info" and (.req_id|test("^[0-9a-f]+$")) and
      .state=="m/app" and .actor=="admin" and .user=="ci" and .status==200 and
      (.ms|type)=="number" and .bytes_in==0 and .bytes_out > 0' >/dev/null; then
    pass "$t GET line fields"
  else
    fail "$t GET line fields" "$get"
  fi
  lock=$(jq -c 'select(.method == "LOCK" and .status == 423)' "$STATED_LOG" | head -n 1)
  if echo "$lock" | jq -e '.route=="lock" and .state=="m/held" and (.lock_id|startswith("other-")) and .bytes_in > 0' >/dev/null 2>&1; then
    pass "$t LOCK line fields (lock_id)"
  else
    fail "$t LOCK line fields (lock_id)" "$lock"
  fi
  if jq -c 'select(.route == "metrics" and .status == 200 and .actor == "scraper")' "$STATED_LOG" | grep -q .; then
    pass "$t a scrape's line names the metrics token"
  else
    fail "$t a scrape's line names the metrics token" "none"
  fi
  start=$(jq -c 'select(.event == "start")' "$STATED_LOG" | head -n 1)
  echo "$start" | jq -e '.version and .listen and .metrics_listen' >/dev/null 2>&1 &&
    pass "$t start-up line" || fail "$t start-up line" "$start"
  local tok found=""
  for tok in "$ADMIN_TOKEN" "$METRICS_TOKEN" "$READ_TOKEN"; do
    grep -qF "$tok" "$STATED_LOG" "$W"/a/log "$W"/b/log 2>/dev/null && found=yes
  done
  expect_eq "$t no token in any log" "${found:-no}" no
  if grep -q '"serial":1' "$STATED_LOG"; then fail "$t no state content" "found"; else pass "$t no state content"; fi
}

access_checks
exposition_checks
prometheus_checks
two_instance_checks
stated_stop
log_checks
t_done
