#!/bin/bash
# tests/load/run.sh [UNITS] [options]: stated under load, with faults, then an independent check.
#
# Starts its own PostgreSQL (locks, audit, tokens), a single-node Ceph RGW (one bucket) and three
# stated instances in s3pg mode on loopback ports, runs tests/load/loadgen.py (UNITS Terragrunt-
# like units, default 100) against them, injects faults while it runs, then runs
# tests/load/check.py, which prints the `load:` line and decides the exit status.
#
# Options (after UNITS):
#   --duration S   seconds during which units start new cycles (default 60)
#   --parallel P   units running at once (default 16): keeps the generator off the 2 cores
#   --cycles C     cycles per unit, 0 for as many as fit in --duration (default 0)
#   --faults LIST  comma list of kill,pg,rgw, or none (default kill,pg,rgw: one of each)
#   --keep DIR     copy the logs, the generator's records and the report to DIR
# Env: LOAD_SEED (the generator's seed), LOAD_MEMSTORE_BYTES (RGW's in-memory OSD, default 4 GiB),
# LOAD_GEN_ARGS (more loadgen.py options, e.g. "--shared 1 --apply-share 0.9": more contention).
# Faults, spread over the run: kill -9 of one instance, restarted after 5 s; PostgreSQL stopped
# and started again (tests/env/pg-ctl.sh, a `pg_ctl restart`); radosgw SIGSTOPped for 5 s.
# Each is written to faults.tsv as `KIND START END` for the checker.
#
# Exit status: the checker's (0 clean, 1 lost/overlap/error), 2 when the run could not be set
# up, 3 when a tool is missing (python3, pg_ctl, radosgw, ceph-mon, ceph-osd). Everything it
# started is stopped on exit, also on Ctrl-C.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$TOP/build/bin}
. "$TOP/tests/lib/testlib.sh" # free_port
UNITS=100
[[ ${1:-} =~ ^[0-9]+$ ]] && { UNITS=$1; shift; }
DURATION=60 PARALLEL=16 CYCLES=0 FAULTS=kill,pg,rgw KEEP=
# Every write stores its bytes twice (the snapshot, and current as a copy of it) in the OSD's
# memory; 1,000 units write about 1.5 GB in 90 s. RAM is only taken as it is written.
MEMSTORE_BYTES=${LOAD_MEMSTORE_BYTES:-$((4 * 1024 * 1024 * 1024))}
while [ $# -gt 0 ]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --cycles) CYCLES=$2; shift 2 ;;
    --faults) FAULTS=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    *) echo "usage: tests/load/run.sh [UNITS] [--duration S] [--parallel P] [--cycles C] [--faults kill,pg,rgw|none] [--keep DIR]" >&2; exit 2 ;;
  esac
done

say() { echo "load: $*" >&2; }

missing_tool() {
  local t
  command -v python3 >/dev/null || { echo python3; return; }
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo pg_ctl; return; }
  for t in radosgw ceph-mon ceph-osd psql; do command -v $t >/dev/null || { echo $t; return; }; done
  [ -x "$BIN/stated" ] || echo "build/bin/stated (make)"
}
tool=$(missing_tool)
[ -n "$tool" ] && { say "SKIPPED: $tool not installed"; exit 3; }

WORK=$(mktemp -d /tmp/stated-load.XXXXXX)
chmod 755 "$WORK"
TOKEN=load-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export LOAD_TOKEN=$TOKEN
N_INST=3
declare -a PORT PID ARGS
GEN_PID=

# ------------------------------------------------------------------ clean-up
cleanup() {
  local i
  [ -n "$GEN_PID" ] && kill -TERM "$GEN_PID" 2>/dev/null
  for i in "${!PID[@]}"; do stop_instance "$i"; done
  [ -f "$WORK/rgw/run/client.rgw.pid" ] && kill -CONT "$(cat "$WORK/rgw/run/client.rgw.pid")" 2>/dev/null
  [ -d "$WORK/rgw" ] && "$TOP/tests/env/rgw-down.sh" "$WORK/rgw" >/dev/null 2>&1
  [ -d "$WORK/pg" ] && "$TOP/tests/env/pg-down.sh" "$WORK/pg" >/dev/null 2>&1
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp -r "$WORK"/i* "$WORK/gen" "$WORK"/*.tsv "$KEEP"/ 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ services
start_services() {
  PG_CONNINFO=$("$TOP/tests/env/pg-up.sh" "$WORK/pg" 2>"$WORK/pg-up.err") ||
    { say "PostgreSQL did not start: $(tail -n 3 "$WORK/pg-up.err")"; return 1; }
  local out
  out=$(S3_BUCKET=stated-load RGW_MEMSTORE_BYTES=$MEMSTORE_BYTES "$TOP/tests/env/rgw-up.sh" "$WORK/rgw" 2>"$WORK/rgw-up.err") ||
    { say "RGW did not start: $(tail -n 3 "$WORK/rgw-up.err")"; return 1; }
  eval "$out" # S3_ENDPOINT= S3_KEY= S3_SECRET= S3_BUCKET=
  # The conninfo as a URL: one word, for the instances' argument strings.
  PG_URL=$(echo "$PG_CONNINFO" | sed -E 's/^host=([^ ]+) port=([0-9]+) user=([^ ]+) dbname=([^ ]+)$/postgresql:\/\/\3@\1:\2\/\4/')
}

# launch_instance I: starts instance I with ARGS[I] and waits until /healthz answers.
launch_instance() {
  local i=$1
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET STATED_ADMIN_TOKEN=$TOKEN \
    "$BIN/stated" ${ARGS[$i]} >>"$WORK/i$i/stated.log" 2>&1 &
  PID[$i]=$!
  for _ in $(seq 1 200); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${PORT[$i]}/healthz" && return 0
    kill -0 "${PID[$i]}" 2>/dev/null || break
    sleep 0.05
  done
  say "instance $i did not start: $(tail -n 5 "$WORK/i$i/stated.log")"
  return 1
}

# All instances share one database and one bucket prefix, as a production deployment does.
start_instances() {
  local i
  for i in $(seq 0 $((N_INST - 1))); do
    mkdir -p "$WORK/i$i"
    PORT[$i]=$(free_port)
    ARGS[$i]="--listen 127.0.0.1:${PORT[$i]} --data-dir $WORK/i$i/data --storage s3://$S3_BUCKET/load"
    ARGS[$i]+=" --s3-endpoint $S3_ENDPOINT --s3-region us-east-1 --failed-logins-per-minute 0"
    ARGS[$i]+=" --locks $PG_URL"
    launch_instance "$i" || return 1
  done
}

# sample_rss I: the instance's peak resident size so far (VmHWM), kept in rss.tsv.
sample_rss() {
  local i=$1 kb
  kb=$(awk '/^VmHWM:/ {print $2}' "/proc/${PID[$i]}/status" 2>/dev/null)
  [ -n "$kb" ] && echo "$i ${PID[$i]} $kb" >>"$WORK/rss.tsv"
}

stop_instance() {
  local i=$1 p=${PID[$1]:-}
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  PID[$i]=
}

# ------------------------------------------------------------------ faults
now() { date +%s.%N; }
record_fault() { echo "$1 $2 $(now)" >>"$WORK/faults.tsv"; say "fault $1 done"; }

fault_kill() {
  local i=$((RANDOM % N_INST)) start
  sample_rss "$i"
  start=$(now)
  say "fault: kill -9 instance $i (pid ${PID[$i]})"
  kill -KILL "${PID[$i]}"
  wait "${PID[$i]}" 2>/dev/null
  sleep 5
  launch_instance "$i"
  record_fault kill "$start"
}

fault_pg() {
  local start
  start=$(now)
  say "fault: PostgreSQL restart"
  "$TOP/tests/env/pg-ctl.sh" "$WORK/pg" stop && "$TOP/tests/env/pg-ctl.sh" "$WORK/pg" start
  record_fault pg "$start"
}

fault_rgw() {
  local p start
  p=$(cat "$WORK/rgw/run/client.rgw.pid")
  start=$(now)
  say "fault: radosgw (pid $p) stopped for 5 s"
  kill -STOP "$p"
  sleep 5
  kill -CONT "$p"
  record_fault rgw "$start"
}

# run_faults: the faults listed, evenly spread over the first 80 % of the run, each only while
# the generator still runs.
run_faults() {
  local kinds=() k n i at
  [ "$FAULTS" = none ] || IFS=, read -r -a kinds <<<"$FAULTS"
  n=${#kinds[@]}
  for i in "${!kinds[@]}"; do
    at=$(awk -v d="$DURATION" -v i="$i" -v n="$n" 'BEGIN {printf "%d", d * 0.8 * (i + 1) / (n + 1)}')
    while [ $((SECONDS - GEN_START)) -lt "$at" ]; do
      kill -0 "$GEN_PID" 2>/dev/null || return 0
      sleep 0.5
    done
    kill -0 "$GEN_PID" 2>/dev/null || return 0
    case ${kinds[$i]} in
      kill) fault_kill ;;
      pg) fault_pg ;;
      rgw) fault_rgw ;;
      *) say "unknown fault ${kinds[$i]}" ;;
    esac
  done
}

# ------------------------------------------------------------------ run
instance_list() {
  local i out=
  for i in $(seq 0 $((N_INST - 1))); do out+=${out:+,}127.0.0.1:${PORT[$i]}; done
  echo "$out"
}

start_services || exit 2
start_instances || exit 2
: >"$WORK/faults.tsv"
: >"$WORK/rss.tsv"
mkdir -p "$WORK/gen"
INSTANCES=$(instance_list)
say "$UNITS units, $PARALLEL at once, ${DURATION}s, instances $INSTANCES, faults $FAULTS"
python3 "$TOP/tests/load/loadgen.py" --instances "$INSTANCES" --units "$UNITS" \
  --parallel "$PARALLEL" --duration "$DURATION" --cycles "$CYCLES" --out "$WORK/gen" \
  --seed "${LOAD_SEED:-$RANDOM}" ${LOAD_GEN_ARGS:-} >"$WORK/gen/loadgen.out" 2>&1 &
GEN_PID=$!
GEN_START=$SECONDS
run_faults
wait "$GEN_PID"
gen_rc=$?
GEN_PID=
cat "$WORK/gen/loadgen.out" >&2
[ $gen_rc -eq 0 ] || { say "the generator failed (exit $gen_rc)"; exit 2; }
for i in $(seq 0 $((N_INST - 1))); do sample_rss "$i"; done
python3 "$TOP/tests/load/check.py" --instances "$INSTANCES" --run-dir "$WORK/gen" \
  --faults "$WORK/faults.tsv" --rss "$WORK/rss.tsv" --units "$UNITS"
rc=$?
if [ $rc -ne 0 ]; then
  grep -q OSD_FULL "$WORK/rgw/log/cluster.log" 2>/dev/null &&
    say "Ceph's in-memory OSD filled up (OSD_FULL) and blocked writes: raise LOAD_MEMSTORE_BYTES"
  for i in $(seq 0 $((N_INST - 1))); do
    grep -E ' (error|warn)' "$WORK/i$i/stated.log" | tail -n 5 | sed "s/^/  instance $i log: /"
  done
fi
exit $rc
