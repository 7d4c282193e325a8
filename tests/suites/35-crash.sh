#!/bin/bash
# 35-crash: kill -9 stated while a client streams writes, restart it on the same storage, and
# check what survived.
#
# A writer posts states with serials 1, 2, 3, ... (each body carries its serial and 50 KB,
# 500 KB or 2 MB of padding depending on the round, so a write takes a while) and records every
# acknowledged (200) one. After a random 0.5-2.4 s (and, from round 2 on in embedded mode, as
# soon as a write's temp file shows up) stated gets SIGKILL; it is restarted on the same data
# dir / bucket prefix / database.
# Then:
#   - the current state is valid JSON and byte-identical to the last acknowledged write or to
#     the one that was in flight (never torn, never older than the last acknowledgement);
#   - every acknowledged write exists as a snapshot with exactly its bytes;
#   - every snapshot object is complete and named SEQ-SERIAL-SHA12.tfstate (no temp file is
#     taken for a snapshot or a state);
#   - writes and locks work after the restart.
# Then, in embedded mode, many writers at once (CRASH_WRITERS, default 12, half of them
# LOCK -> POST ?ID= -> UNLOCK like terraform, so their fsyncs are group-committed together) are
# killed -9 mid-run: after the restart every state parses and holds its last acknowledged serial
# or the one in flight, and every acknowledged write has its snapshot.
# Bounded: CRASH_ROUNDS rounds (default 3), each at most ~10 s. Modes: embedded, and s3 when
# RGW is up.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
P_TMP=$(mktemp -d /tmp/stated-crash.XXXXXX)
. "$TOP/tests/protocol/lib.sh"
trap 'stated_cleanup; rm -rf "$P_TMP"' EXIT

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip crash "$tool not found"; t_done; exit; }
done
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail crash "$BIN/stated --help does not run; build it with make"
  t_done
  exit
fi

ROUNDS=${CRASH_ROUNDS:-3}
# Body padding per round: small bodies give many writes, large ones make the kill more likely
# to land inside a write (fsync, upload).
PADS=(${CRASH_PAD:-50000 500000 2000000})

# writer NAME DIR LINEAGE: posts serial 1, 2, … until a request fails or 8 s pass.
writer() {
  local name=$1 dir=$2 lin=$3 i=1 code rc end=$((SECONDS + 8)) PAD=$4
  : >"$dir/acked"
  while [ $SECONDS -lt $end ]; do
    mkstate "$dir/$i.tfstate" "$i" "$lin" "$PAD"
    echo "$i" >"$dir/attempt"
    # No "Expect: 100-continue" (Go clients never send it); curl's exit status tells a dead
    # server (transport error) from an answer.
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" -H 'Expect:' \
      -H 'Content-Type: application/json' -H "Content-MD5: $(md5_b64 "$dir/$i.tfstate")" \
      --data-binary "@$dir/$i.tfstate" "$STATED_URL/v1/states/$name")
    rc=$?
    if [ "$code" != 200 ]; then
      echo "$i $code curl-exit-$rc" >"$dir/stopped"
      return
    fi
    echo "$i" >>"$dir/acked"
    i=$((i + 1))
  done
  echo "timeout" >"$dir/stopped"
}

crash_round() {
  local M=$1 r=$2 t="crash/$1/round$2" name="crash/r$2" dir=$P_TMP/r$2 lin wpid
  mkdir -p "$dir"
  lin=$(new_id)
  writer "$name" "$dir" "$lin" "${PADS[$(((r - 1) % ${#PADS[@]}))]}" &
  wpid=$!
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  sleep 0.5
  # From round 2 on in embedded mode, wait until a write is visibly under way (its temp file
  # exists) so the kill lands inside the write rather than between two requests.
  local how="at a random moment" i
  if [ "$r" -ge 2 ] && [ -z "$(s3_prefix)" ]; then
    for i in $(seq 1 3000); do
      if [ -n "$(find "$STATED_DATA/data/states/$name" -name '.~tmp.*' 2>/dev/null | head -n 1)" ]; then
        how="while a write's temp file existed"
        break
      fi
    done
  fi
  stated_kill
  wait "$wpid"
  local acked=0 attempt stopped
  [ -s "$dir/acked" ] && acked=$(tail -n 1 "$dir/acked")
  attempt=$(cat "$dir/attempt" 2>/dev/null || echo 0)
  stopped=$(cat "$dir/stopped" 2>/dev/null)
  echo "  $t: killed $how; $acked writes acknowledged, write $attempt in flight ($stopped)"
  if [ "$acked" -lt 1 ]; then
    fail "$t writes acknowledged before the kill" "none (stopped: $stopped)"
  else
    pass "$t writes acknowledged before the kill ($acked)"
  fi
  case $stopped in
    "$attempt 000 curl-exit-"[1-9]*) pass "$t the writer only failed because stated died" ;;
    *) fail "$t the writer only failed because stated died" "stopped: '$stopped'" ;;
  esac

  if ! stated_restart; then
    fail "$t restart on the same storage" "$(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"
    return 1
  fi
  pass "$t restart on the same storage"

  fetch "$name" "$dir/current"
  if [ "$acked" -ge 1 ]; then
    if [ "$CODE" = 200 ] && jq -e . "$dir/current" >/dev/null 2>&1; then
      pass "$t current state is valid JSON"
    else
      fail "$t current state is valid JSON" "HTTP $CODE, $(stat -c %s "$dir/current") bytes"
    fi
    local cur
    cur=$(jq -r .serial "$dir/current" 2>/dev/null)
    if [[ $cur =~ ^[0-9]+$ ]] && [ "$cur" -ge "$acked" ] && [ "$cur" -le "$attempt" ] && cmp -s "$dir/current" "$dir/$cur.tfstate"; then
      pass "$t current state is the last acknowledged write or the one in flight (serial $cur)"
    else
      fail "$t current state is the last acknowledged write or the one in flight" "serial '$cur', acked $acked, in flight $attempt"
    fi
  fi

  # Snapshots: complete, well named, and one per acknowledged write.
  local snaps name_re='^[0-9]+-([0-9]+)-[0-9a-f]{12}\.tfstate$' s serial bad= torn= missing= checked=0
  if ! snaps=$(snapshot_list "$name"); then
    skip "$t snapshots" "cannot list snapshots in this mode (no /usr/bin/aws)"
    return 0
  fi
  declare -A by_serial=()
  while read -r s; do
    [ -n "$s" ] || continue
    if [[ $s =~ $name_re ]]; then
      by_serial[${BASH_REMATCH[1]}]=$s
    else
      bad="$bad $s"
    fi
  done <<<"$snaps"
  if [ -z "$bad" ]; then pass "$t every snapshot object is named SEQ-SERIAL-SHA12.tfstate"; else fail "$t every snapshot object is named SEQ-SERIAL-SHA12.tfstate" "others:$bad"; fi
  # In s3 modes fetch only the last 10 acknowledged snapshots (each is a download).
  local first=1
  [ -n "$(s3_prefix)" ] && [ "$acked" -gt 10 ] && first=$((acked - 9))
  for ((serial = 1; serial <= acked; serial++)); do
    s=${by_serial[$serial]:-}
    if [ -z "$s" ]; then missing="$missing $serial"; continue; fi
    [ "$serial" -ge "$first" ] || continue
    snapshot_get "$name" "$s" "$dir/snap" && cmp -s "$dir/snap" "$dir/$serial.tfstate" || torn="$torn $s"
    checked=$((checked + 1))
  done
  if [ -z "$missing" ]; then pass "$t every acknowledged write has a snapshot"; else fail "$t every acknowledged write has a snapshot" "missing serials:$(echo "$missing" | cut -c1-200)"; fi
  if [ -z "$torn" ]; then pass "$t acknowledged snapshots hold exact bytes ($checked compared)"; else fail "$t acknowledged snapshots hold exact bytes" "differ:$torn"; fi
  # A snapshot beyond the acknowledged ones may only be the in-flight write, complete.
  for serial in "${!by_serial[@]}"; do
    if [ "$serial" -gt "$acked" ]; then
      if [ "$serial" -ne "$attempt" ]; then
        fail "$t no snapshot of a write never sent" "serial $serial"
      elif snapshot_get "$name" "${by_serial[$serial]}" "$dir/snap" && cmp -s "$dir/snap" "$dir/$serial.tfstate"; then
        pass "$t the in-flight write's snapshot is complete"
      else
        fail "$t the in-flight write's snapshot is complete" "${by_serial[$serial]} differs from what was sent"
      fi
    fi
  done
  # Embedded mode: a snapshot of the killed write that did not become current is removed at
  # the restart, so the newest snapshot is the current state.
  if [ -z "$(s3_prefix)" ] && [ "$acked" -ge 1 ]; then
    local newest
    newest=$(echo "$snaps" | grep -v '^$' | sort | tail -n 1)
    [[ $newest =~ $name_re ]] && newest=${BASH_REMATCH[1]}
    expect_eq "$t the newest snapshot is the current state" "$newest" "$cur"
  fi
  # Embedded mode: the state's directory holds only the current object, snapshots and their
  # ".meta" sidecars: the restarted server removed the temp files of the killed write.
  if [ -z "$(s3_prefix)" ]; then
    local extra tmps
    extra=$(cd "$STATED_DATA/data/states/$name" 2>/dev/null && find . -type f | grep -Ev \
      -e '^\./@current\.tfstate(\.meta)?$' -e '^\./@snapshots/[0-9]+-[0-9]+-[0-9a-f]{12}\.tfstate(\.meta)?$' \
      | head -n 5 | tr '\n' ' ')
    tmps=$(find "$STATED_DATA/data" -name '.~tmp.*' | wc -l)
    expect_eq "$t no temp files of interrupted writes after the restart" "$tmps" 0
    if [ -z "$extra" ]; then pass "$t no unexpected files in the state's directory"; else fail "$t no unexpected files in the state's directory" "$extra"; fi
  fi
  # The server's own listings (admin API) show exactly the real states and snapshots.
  req GET /v1/states
  local listed
  listed=$(jq -r '.[].name' "$RESP" 2>/dev/null | sort | tr '\n' ' ')
  local want
  want=$(for ((i = 1; i <= r; i++)); do echo "crash/r$i"; done | sort | tr '\n' ' ')
  expect_eq "$t GET /v1/states lists exactly the written states" "$listed" "$want"
  req GET "/v1/snapshots/$name"
  local ids
  ids=$(jq -r '.[].id' "$RESP" 2>/dev/null | sort | tr '\n' ' ')
  expect_eq "$t GET /v1/snapshots lists exactly the snapshot objects" "$ids" \
    "$(echo "$snaps" | sed 's/\.tfstate$//' | grep -v '^$' | sort | tr '\n' ' ')"

  # Life goes on: a write with the next serial and a lock.
  local next=$((attempt + 1)) id
  mkstate "$dir/next" "$next" "$lin"
  post_state "/v1/states/$name" "$dir/next"
  expect_code "$t write after restart" 200
  if same_state "$name" "$dir/next"; then pass "$t read after restart"; else fail "$t read after restart" "HTTP $CODE"; fi
  id=$(new_id)
  mklock "$dir/lock" "$id" crash@test OperationTypeApply
  req LOCK "/v1/states/$name" -H 'Content-Type: application/json' --data-binary "@$dir/lock"
  expect_code "$t lock after restart" 200
  req UNLOCK "/v1/states/$name" -H 'Content-Type: application/json' --data-binary "@$dir/lock"
  expect_code "$t unlock after restart" 200
}

# lock_writer NAME DIR LINEAGE: as writer, each POST inside LOCK ... UNLOCK under its own ID.
lock_writer() {
  local name=$1 dir=$2 lin=$3 i=1 code end=$((SECONDS + 8)) id
  id=$(new_id)
  mklock "$dir/lock" "$id" crash@test OperationTypeApply
  : >"$dir/acked"
  while [ $SECONDS -lt $end ]; do
    mkstate "$dir/$i.tfstate" "$i" "$lin" 2000
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" -X LOCK \
      -H 'Content-Type: application/json' --data-binary "@$dir/lock" "$STATED_URL/v1/states/$name")
    [ "$code" = 200 ] || { echo "lock $code" >"$dir/stopped"; return; }
    echo "$i" >"$dir/attempt"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" -H 'Expect:' \
      -H 'Content-Type: application/json' --data-binary "@$dir/$i.tfstate" "$STATED_URL/v1/states/$name?ID=$id")
    [ "$code" = 200 ] || { echo "$i $code" >"$dir/stopped"; return; }
    echo "$i" >>"$dir/acked"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" -X UNLOCK \
      -H 'Content-Type: application/json' --data-binary "@$dir/lock" "$STATED_URL/v1/states/$name")
    [ "$code" = 200 ] || { echo "unlock $code" >"$dir/stopped"; return; }
    i=$((i + 1))
  done
  echo "timeout" >"$dir/stopped"
}

# Many concurrent writers killed at once; every acknowledged write survives.
crash_many() {
  local t=crash/embedded/many n=${CRASH_WRITERS:-12} k pids=() dir acked attempt cur bad= lost= total=0
  for ((k = 0; k < n; k++)); do
    dir=$P_TMP/many$k
    mkdir -p "$dir"
    if [ $((k % 2)) = 0 ]; then
      writer "crash/many/$k" "$dir" "$(new_id)" 2000 &
    else
      lock_writer "crash/many/$k" "$dir" "$(new_id)" &
    fi
    pids+=($!)
  done
  sleep "1.$((RANDOM % 10))"
  stated_kill
  wait "${pids[@]}"
  if ! stated_restart; then
    fail "$t restart on the same storage" "$(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"
    return 1
  fi
  pass "$t restart on the same storage"
  for ((k = 0; k < n; k++)); do
    dir=$P_TMP/many$k
    acked=0
    [ -s "$dir/acked" ] && acked=$(tail -n 1 "$dir/acked")
    attempt=$(cat "$dir/attempt" 2>/dev/null || echo 0)
    total=$((total + acked))
    [ "$acked" -ge 1 ] || continue
    fetch "crash/many/$k" "$dir/current"
    cur=$(jq -r .serial "$dir/current" 2>/dev/null)
    if ! [[ $cur =~ ^[0-9]+$ ]] || ! cmp -s "$dir/current" "$dir/$cur.tfstate"; then
      bad="$bad $k(HTTP $CODE serial '$cur')"
    elif [ "$cur" -lt "$acked" ] || [ "$cur" -gt "$attempt" ]; then
      lost="$lost $k(serial $cur, acked $acked, in flight $attempt)"
    fi
    local snaps serial
    snaps=$(snapshot_list "crash/many/$k")
    for ((serial = 1; serial <= acked; serial++)); do
      echo "$snaps" | grep -Eq "^[0-9]+-$serial-[0-9a-f]{12}\.tfstate$" || lost="$lost $k(no snapshot of $serial)"
    done
  done
  echo "  $t: $n writers killed together, $total writes acknowledged"
  if [ "$total" -ge "$n" ]; then pass "$t writes acknowledged before the kill ($total)"; else fail "$t writes acknowledged before the kill" "$total"; fi
  if [ -z "$bad" ]; then pass "$t every state parses and is a write that was sent"; else fail "$t every state parses and is a write that was sent" "$bad"; fi
  if [ -z "$lost" ]; then pass "$t every acknowledged write survived"; else fail "$t every acknowledged write survived" "$(echo "$lost" | cut -c1-300)"; fi
}

for M in ${CRASH_MODES:-embedded s3}; do
  if ! mode_available "$M"; then
    skip "crash/$M" "S3_ENDPOINT not set (Ceph RGW not started)"
    continue
  fi
  if ! stated_start "$M"; then
    fail "crash/$M start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    continue
  fi
  p_use_admin
  for r in $(seq 1 "$ROUNDS"); do
    crash_round "$M" "$r" || break
  done
  [ "$M" = embedded ] && crash_many
  stated_cleanup
done
t_done
