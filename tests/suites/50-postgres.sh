#!/bin/bash
# tests/suites/50-postgres.sh: the PostgreSQL lock store and audit trail, against a real server.
#
#   1. driver level: tests/integration/pg_test.c built against build/obj/libstated.a (leases,
#      races, audit chain from threads and processes, tamper detection, migrations racing,
#      PostgreSQL stopped and started under a live driver on a private cluster)
#   2. through build/bin/stated:
#      contention  two stated instances, one database, one storage; 32 clients on 4 states
#      lease       --lock-ttl 2s: the lease expires, another ID takes over, the old one may not
#                  write, the audit trail records the expiry
#      faults      PostgreSQL stopped under stated: 503 + Retry-After; started: works again
#                  without restarting stated, a lock taken before is still held
#      audit       the events stored match the requests made, and the chain verifies
#
# Needs PG_CONNINFO (exported by tests/run-all.sh). Every wait is bounded.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP"
. tests/lib/testlib.sh
. tests/lib/stated.sh

if [ -z "${PG_CONNINFO:-}" ]; then
  skip postgres "PG_CONNINFO is empty: no PostgreSQL cluster (tests/env/pg-up.sh did not run)"
  t_done
  exit $?
fi

WORK=$(mktemp -d /tmp/stated-pg.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  stated_cleanup
  tests/env/pg-down.sh "$WORK/pgf" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. driver level
# Built with the Makefile's flags under ASan+UBSan (as the unit tests), against the sanitizer
# library `make test` has just built; LSan's suppressions come from the environment make sets.
PG_TEST=$WORK/pg_test
SANF=address,undefined
mkvar() { make -s --no-print-directory SAN=$SANF --eval='print-%: ; @echo $($*)' "print-$1"; }
CF=$(mkvar CFLAGS | sed 's/-MMD -MP//')
LL=$(mkvar LDLIBS)
LF=$(mkvar LDFLAGS)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}
if ! make -s --no-print-directory SAN=$SANF build/san/obj/libstated.a >"$WORK/build.log" 2>&1; then
  fail pg_test/build "libstated.a does not build: $(tail -n 2 "$WORK/build.log" | tr '\n' ' ')"
elif ! ${CC:-cc} $CF $LF -o "$PG_TEST" tests/integration/pg_test.c tests/unit/t.c \
  build/san/obj/libstated.a $LL >"$WORK/build.log" 2>&1; then
  fail pg_test/build "$(grep -m 3 -E 'error|undefined' "$WORK/build.log" | tr '\n' ' ')"
else
  # A private cluster for the outage test: stopping the shared one would disturb other suites.
  if FAULT_CI=$(tests/env/pg-up.sh "$WORK/pgf" 2>"$WORK/pgf.err"); then
    export PG_FAULT_CONNINFO=$FAULT_CI
    export PG_STOP_CMD="tests/env/pg-ctl.sh $WORK/pgf stop"
    export PG_START_CMD="tests/env/pg-ctl.sh $WORK/pgf start"
  else
    fail pg_test/private-cluster "$(tail -n 2 "$WORK/pgf.err" | tr '\n' ' ')"
  fi
  timeout 120 "$PG_TEST" "$PG_CONNINFO" >"$WORK/pg_test.out" 2>"$WORK/pg_test.err"
  rc=$?
  sed -n 's/^\(PASS\|FAIL\) \(.*\)/\1 pg_test\/\2/p' "$WORK/pg_test.out"
  T_PASSED=$((T_PASSED + $(grep -c '^PASS ' "$WORK/pg_test.out")))
  T_FAILED=$((T_FAILED + $(grep -c '^FAIL ' "$WORK/pg_test.out")))
  if [ $rc -ne 0 ]; then
    grep -q '^FAIL ' "$WORK/pg_test.out" || fail pg_test "exited $rc"
    grep -v -e 'schema migration' -e '^20.*warn' "$WORK/pg_test.err" | tail -n 15 | sed 's/^/  /'
    grep -v '^PASS ' "$WORK/pg_test.out" | tail -n 20 | sed 's/^/  /'
  fi
  unset PG_FAULT_CONNINFO PG_STOP_CMD PG_START_CMD
  tests/env/pg-down.sh "$WORK/pgf" >/dev/null 2>&1
fi

# ---------------------------------------------------------------- 2. through stated
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip postgres/server "build/bin/stated does not run yet (stated --help failed): server-level PostgreSQL tests not run"
  t_done
  exit $?
fi

# psql against a conninfo; -X ignores any ~/.psqlrc.
q() { psql "$1" -X -qAt -v ON_ERROR_STOP=1 -c "$2"; }

lockinfo() { # lockinfo ID
  printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"test@ci","Version":"1.6.0","Created":"%s","Path":""}' \
    "$1" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
}

# Saves / restores the variables stated_start sets, to run two instances at once.
save_instance() { # save_instance NAME
  eval "${1}_URL=\$STATED_URL ${1}_PID=\$STATED_PID ${1}_DATA=\$STATED_DATA ${1}_TOKEN=\$ADMIN_TOKEN ${1}_LOG=\$STATED_LOG"
}
stop_instance() { # stop_instance NAME
  local pid data
  eval "pid=\$${1}_PID data=\$${1}_DATA"
  [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  rm -rf "$data"
}

# ----- contention: two instances, one database, one storage, 32 clients on 4 states
contention() {
  local db storage flags=()
  db=$(new_pg_db) || { fail contention/db "cannot create a database"; return; }
  if mode_available s3; then
    storage="s3://$S3_BUCKET/pgcont$(date +%s%N)"
    flags=(--storage "$storage" --s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1)
    echo "contention: shared storage $storage"
  else
    mkdir -p "$WORK/shared-states"
    flags=(--storage "dir:$WORK/shared-states")
    echo "contention: shared storage dir:$WORK/shared-states (no S3 available)"
  fi
  stated_start embedded --locks "$db" "${flags[@]}" --workers 8 || { fail contention/start-a "stated A did not start"; return; }
  save_instance A
  STATED_PID=
  stated_start embedded --locks "$db" "${flags[@]}" --workers 8 || { fail contention/start-b "stated B did not start"; stop_instance A; return; }
  save_instance B
  STATED_PID=

  local deadline=$((SECONDS + 10)) i
  for i in $(seq 0 31); do
    (
      local url tok st id code n=0 body cur serial
      if [ $((i % 2)) -eq 0 ]; then url=$A_URL tok=$A_TOKEN; else url=$B_URL tok=$B_TOKEN; fi
      st="contend/s$((i % 4))"
      local auth=(-H "Authorization: Bearer $tok")
      while [ $SECONDS -lt $deadline ] && [ $n -lt 200 ]; do
        n=$((n + 1))
        id="c$i-$n-$RANDOM"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" -X LOCK \
          --data "$(lockinfo "$id")" "$url/v1/states/$st")
        case $code in
          200) ;;
          423) sleep 0.0$((2 + RANDOM % 8)); continue ;; # 20-90 ms: no retry storm on 2 cores
          *) echo "LOCK $code"; continue ;;
        esac
        echo "ACQ $st"
        body=$(curl -s --max-time 10 "${auth[@]}" -w '\n%{http_code}' "$url/v1/states/$st")
        code=${body##*$'\n'}
        body=${body%$'\n'*}
        if [ "$code" = 200 ] && [[ $body =~ \"serial\":([0-9]+).*\"counter\":([0-9]+) ]]; then
          serial=${BASH_REMATCH[1]} cur=${BASH_REMATCH[2]} # (no jq per request: CPU is scarce)
        elif [ "$code" = 404 ]; then
          cur=0 serial=0
        else
          echo "GET $code"; cur=x
        fi
        if [ "$cur" != x ]; then
          code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" -X POST \
            -H 'Content-Type: application/json' \
            --data "{\"version\":4,\"terraform_version\":\"1.6.0\",\"serial\":$((serial + 1)),\"lineage\":\"contend-$((i % 4))\",\"outputs\":{},\"resources\":[],\"counter\":$((cur + 1))}" \
            "$url/v1/states/$st?ID=$id")
          [ "$code" = 200 ] && echo "WROTE $st" || echo "POST $code"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" -X UNLOCK \
          --data "$(lockinfo "$id")" "$url/v1/states/$st")
        [ "$code" = 200 ] || echo "UNLOCK $code"
      done
    ) >"$WORK/client$i.log" 2>&1 &
    PIDS+=($!)
  done
  local p
  for p in "${PIDS[@]}"; do wait "$p"; done
  PIDS=()

  cat "$WORK"/client*.log >"$WORK/clients.all"
  local bad fivexx acq total=0
  fivexx=$(grep -cE ' 5[0-9][0-9]$| 000$' "$WORK/clients.all")
  bad=$(grep -vE '^(ACQ|WROTE) ' "$WORK/clients.all" | sort | uniq -c | tr '\n' ' ')
  expect_eq contention/no-5xx "$fivexx" 0
  expect_eq contention/no-unexpected-status "${bad:-none}" none
  local s ok=1 detail=""
  for s in 0 1 2 3; do
    acq=$(grep -c "^ACQ contend/s$s\$" "$WORK/clients.all")
    total=$((total + acq))
    local cur
    cur=$(curl -s --max-time 10 -H "Authorization: Bearer $A_TOKEN" "$A_URL/v1/states/contend/s$s" | jq -r '.counter // 0')
    detail="$detail s$s:$cur/$acq"
    [ "$cur" = "$acq" ] && [ "$acq" -gt 0 ] || ok=0
  done
  if [ $ok = 1 ]; then pass "contention/counters-match-acquisitions ($total acquisitions:$detail)"; else fail contention/counters-match-acquisitions "counter/acquisitions:$detail"; fi
  echo "contention: $total lock cycles by 32 clients on 2 instances in 10 s"
  local v
  v=$("$PG_TEST" --verify "$db" 2>/dev/null)
  [ $? = 0 ] && pass "contention/audit-chain-valid ($v)" || fail contention/audit-chain-valid "$v"
  stop_instance A
  stop_instance B
}

# ----- lease: a 2 s lease expires and is taken over; the expired holder may not write
lease() {
  local db
  db=$(new_pg_db) || { fail lease/db "cannot create a database"; return; }
  stated_start embedded --locks "$db" --lock-ttl 2s || { fail lease/start "stated did not start"; return; }
  local auth=(-H "Authorization: Bearer $ADMIN_TOKEN") u="$STATED_URL/v1/states/lease/net" code
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X LOCK --data "$(lockinfo AAA)" "$u")
  expect_eq lease/lock-a "$code" 200
  code=$(curl -s -o "$WORK/lease423" -w '%{http_code}' "${auth[@]}" -X LOCK --data "$(lockinfo BBB)" "$u")
  expect_eq lease/lock-b-while-live "$code" 423
  expect_eq lease/423-names-holder "$(jq -r .ID "$WORK/lease423" 2>/dev/null)" AAA
  sleep 3
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X LOCK --data "$(lockinfo BBB)" "$u")
  expect_eq lease/lock-b-after-expiry "$code" 200
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST \
    --data '{"version":4,"serial":1,"lineage":"l","outputs":{},"resources":[]}' "$u?ID=AAA")
  expect_eq lease/expired-holder-write-refused "$code" 423
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST \
    --data '{"version":4,"serial":1,"lineage":"l","outputs":{},"resources":[]}' "$u?ID=BBB")
  expect_eq lease/new-holder-writes "$code" 200
  local n
  n=$(q "$db" "SELECT count(*) FROM audit_events WHERE state = 'lease/net'
               AND (action = 'lock-expired' OR (action = 'lock' AND detail ILIKE '%expire%'))
               AND (lock_id = 'AAA' OR detail LIKE '%AAA%')")
  if [ "${n:-0}" -ge 1 ]; then pass lease/audit-records-expiry; else
    fail lease/audit-records-expiry "no lock-expired event naming AAA; events: $(q "$db" "SELECT string_agg(action || ':' || lock_id || ':' || status, ' ' ORDER BY seq) FROM audit_events WHERE state = 'lease/net'")"
  fi
  stated_stop
  rm -rf "$STATED_DATA"
}

# ----- faults: PostgreSQL stopped and started under a running stated
faults() {
  local ci db
  ci=$(tests/env/pg-up.sh "$WORK/pgf" 2>"$WORK/pgf.err") || { fail faults/cluster "$(tail -n 2 "$WORK/pgf.err")"; return; }
  stated_start embedded --locks "$ci" || { fail faults/start "stated did not start"; return; }
  local auth=(-H "Authorization: Bearer $ADMIN_TOKEN") base="$STATED_URL/v1/states" code t0 hdr
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X LOCK --data "$(lockinfo KEEP)" "$base/faults/kept")
  expect_eq faults/lock-before "$code" 200
  tests/env/pg-ctl.sh "$WORK/pgf" stop || fail faults/pg-stop "pg_ctl stop failed"
  t0=$(date +%s%N)
  code=$(curl -s -D "$WORK/hdr" -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" -X LOCK --data "$(lockinfo X1)" "$base/faults/other")
  expect_eq faults/503-while-down "$code" 503
  if grep -qi '^retry-after:' "$WORK/hdr"; then pass faults/retry-after; else fail faults/retry-after "no Retry-After header"; fi
  local ms=$((($(date +%s%N) - t0) / 1000000))
  [ $ms -lt 5000 ] && pass "faults/503-is-prompt (${ms} ms)" || fail faults/503-is-prompt "${ms} ms"
  tests/env/pg-ctl.sh "$WORK/pgf" start || fail faults/pg-start "pg_ctl start failed"
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" -X LOCK --data "$(lockinfo X1)" "$base/faults/other")
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  expect_eq faults/works-after-restart "$code" 200
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X LOCK --data "$(lockinfo INTRUDER)" "$base/faults/kept")
  expect_eq faults/lock-survived "$code" 423
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X UNLOCK --data "$(lockinfo KEEP)" "$base/faults/kept")
  expect_eq faults/unlock-after "$code" 200
  stated_stop
  rm -rf "$STATED_DATA"
  tests/env/pg-down.sh "$WORK/pgf" >/dev/null 2>&1
}

# ----- audit count: the events stored match the requests made
audit_count() {
  local db
  db=$(new_pg_db) || { fail audit/db "cannot create a database"; return; }
  stated_start embedded --locks "$db" || { fail audit/start "stated did not start"; return; }
  local auth=(-H "Authorization: Bearer $ADMIN_TOKEN") u="$STATED_URL/v1/states/audit/count" codes=""
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' "${auth[@]}" "$u")
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' "${auth[@]}" -X LOCK --data "$(lockinfo AUD)" "$u")
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' "${auth[@]}" -X POST --data '{"version":4,"serial":1,"lineage":"a","outputs":{},"resources":[]}' "$u?ID=AUD")
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' "${auth[@]}" "$u")
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' "${auth[@]}" -X UNLOCK --data "$(lockinfo AUD)" "$u")
  codes+=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-token" "$u")
  expect_eq audit/requests "$codes" "404 200 200 200 200 401"
  local got
  got=$(q "$db" "SELECT string_agg(action || ':' || status, ' ' ORDER BY seq) FROM audit_events WHERE state = 'audit/count'")
  # (the failed login is no event of the state: one per address and minute, at its end)
  expect_eq audit/events-match-requests "$got" "get:404 lock:200 write:200 get:200 unlock:200"
  local v
  v=$("$PG_TEST" --verify "$db" 2>/dev/null)
  [ $? = 0 ] && pass "audit/chain-valid ($v)" || fail audit/chain-valid "$v"
  # The same events through the admin API, when statectl can export them.
  local exported
  if exported=$(STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 10 "$BIN/statectl" audit export --format jsonl 2>"$WORK/export.err"); then
    local n_api n_db
    n_api=$(printf '%s\n' "$exported" | grep -c '"state":"audit/count"')
    n_db=$(q "$db" "SELECT count(*) FROM audit_events WHERE state = 'audit/count'")
    expect_eq audit/export-matches-table "$n_api" "$n_db"
  else
    skip audit/export-through-api "statectl audit export failed: $(tail -n 1 "$WORK/export.err")"
  fi
  stated_stop
  rm -rf "$STATED_DATA"
}

if [ -x "$PG_TEST" ]; then
  contention
  lease
  faults
  audit_count
else
  skip postgres/server "pg_test did not build (it also verifies the chains for the server tests)"
fi
t_done
