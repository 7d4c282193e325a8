#!/bin/bash
# 45-layout: the storage layout migration (layout 1 -> 2) with the real previous stated, and
# serials at the edges of uint64 through the protocol.
#
#  1. The previous stated (commit 4263e63, the last one writing layout 1) is built from git
#     history into a temp dir; without the history the migration checks are a loud SKIPPED.
#     In embedded mode and on the RGW bucket (s3 mode, when S3_ENDPOINT is set) it writes
#     several states with several snapshots each (names that layout 1 could hold, such as
#     "a/snapshots" next to a's snapshots and "x.meta"), one deleted state and a token made
#     through the admin API. The new stated then starts on the same storage: every state, every
#     snapshot (ids and exact bytes) and the token are there, no object is left at a layout-1
#     key, the marker says layout 2, and a second start migrates nothing.
#  2. kill -9: the previous stated writes a few hundred objects; the new stated is killed at
#     random moments of its migration, restarted each time, and ends complete and exact. On S3
#     also two new stateds starting at once on one layout-1 prefix.
#  3. Names that spell other states' keys (a/current.tfstate, a/snapshots, a/x.meta, ...) are
#     states of their own; "a/@current.tfstate" is refused (400).
#  4. Serials 2^63-1, 2^63 and 2^64-1: written (200), read byte-exact, listed exactly by
#     /v1/states, /v1/snapshots and statectl, recorded exactly in the audit trail (and in the
#     PostgreSQL column when PG_CONNINFO is set); 2^64 is refused (400 INFRA_001) and stores
#     nothing; a restore above 2^64-1 is refused.
# Bounded: well under two minutes with both modes.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
P_TMP=$(mktemp -d /tmp/stated-layout.XXXXXX)
. "$TOP/tests/protocol/lib.sh"
W=$P_TMP
KILLPID=
trap 'stated_cleanup; [ -n "$KILLPID" ] && kill -KILL "$KILLPID" 2>/dev/null; rm -rf "$P_TMP"' EXIT

V1_COMMIT=4263e63
NEW_BIN=$BIN

for tool in curl jq git make; do
  command -v "$tool" >/dev/null || { skip layout "$tool not found"; t_done; exit; }
done
if ! "$NEW_BIN/stated" --help >/dev/null 2>&1; then
  fail layout "$NEW_BIN/stated --help does not run; build it with make"
  t_done
  exit
fi

# ------------------------------------------------------------------ helpers

# storage_keys: every object key of the running stated's storage, one per line (the data dir's
# files in embedded mode, the bucket prefix's keys in s3 mode).
storage_keys() {
  local st rest bucket prefix
  st=$(s3_prefix)
  if [ -z "$st" ]; then
    (cd "$STATED_DATA/data" && find . -type f ! -name '*.meta' | sed 's|^\./||' | sort)
  else
    rest=${st#s3://}
    bucket=${rest%%/*}
    prefix=${rest#*/}
    s3_cli s3api list-objects-v2 --bucket "$bucket" --prefix "$prefix/" --query 'Contents[].Key' \
      --output text 2>/dev/null | tr '\t' '\n' | grep -v '^None$' | sed "s|^$prefix/||" | sort
  fi
}
# Files (or keys) at layout-1 places: a current object not named @current, a snapshot in a
# "snapshots" directory, or their sidecars.
V1_RE='^states/(.*/)?current\.tfstate(\.meta)?$|^states/.*/snapshots/[0-9]{16}-[0-9]+-[0-9a-f]{12}\.tfstate(\.meta)?$'
v1_leftovers() {
  if [ -z "$(s3_prefix)" ]; then
    (cd "$STATED_DATA/data" && find states -type f 2>/dev/null) | grep -E "$V1_RE"
  else
    storage_keys | grep -E "$V1_RE"
  fi
}
marker_text() {
  local st rest
  st=$(s3_prefix)
  if [ -z "$st" ]; then
    cat "$STATED_DATA/data/layout.json" 2>/dev/null
  else
    rest=${st#s3://}
    s3_cli s3 cp "s3://${rest%%/*}/${rest#*/}/layout.json" - 2>/dev/null
  fi
}
# launch_bg BINDIR: the stated of BINDIR on the current storage, in the background (no wait for
# /healthz, which answers only after the migration); sets KILLPID.
launch_bg() {
  AWS_ACCESS_KEY_ID=${S3_KEY:-} AWS_SECRET_ACCESS_KEY=${S3_SECRET:-} \
    STATED_ADMIN_TOKEN=$ADMIN_TOKEN "$1/stated" "${STATED_ARGS[@]}" >>"$STATED_LOG" 2>&1 &
  KILLPID=$!
}
# post NAME FILE: POST a state, print the status.
post() {
  post_state "/v1/states/$1" "$2"
  echo "$CODE"
}
# batch CONFIG: one curl for many requests (a curl config file: url, output, data-binary and
# "next" between them), on one connection; prints each status on its own line.
batch() {
  sed '$d' "$1" >"$1.cfg" # no "next" after the last request
  curl -s --max-time 120 -K "$1.cfg"
}
# batch4 CONFIG-PREFIX: the batches PREFIX.0 ... PREFIX.3 at the same time (each in its own
# order); prints every status.
batch4() {
  local j
  for j in 0 1 2 3; do batch "$1.$j" >"$1.$j.out" & done
  wait
  cat "$1".[0-3].out
}
# batch_get CONFIG PATH OUTFILE: appends a GET of PATH to OUTFILE to the batch.
batch_get() {
  printf 'url = "%s%s"\nuser = "admin:%s"\noutput = "%s"\nwrite-out = "%%{http_code}\\n"\nnext\n' \
    "$STATED_URL" "$2" "$ADMIN_TOKEN" "$3" >>"$1"
}
# batch_post CONFIG NAME FILE: appends a state write to the batch.
batch_post() {
  printf 'url = "%s/v1/states/%s"\nuser = "admin:%s"\ndata-binary = "@%s"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n' \
    "$STATED_URL" "$2" "$ADMIN_TOKEN" "$3" >>"$1"
}
# start_v1 MODE T: the layout-1 stated on fresh storage of MODE (T names the checks); BIN is
# the new stated's again when this fails.
start_v1() {
  BIN=$OLD/build/bin
  if stated_start "$1"; then
    p_use_admin
    return 0
  fi
  fail "$2 layout-1 stated start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
  BIN=$NEW_BIN
  return 1
}
# snapshot_ids NAME: the ids GET /v1/snapshots/NAME lists, newest first.
snapshot_ids() {
  req GET "/v1/snapshots/$1"
  jq -r '.[].id' "$RESP" 2>/dev/null
}

# ------------------------------------------------------------------ the previous stated

OLD=
if ! git -C "$TOP" cat-file -e "$V1_COMMIT^{commit}" 2>/dev/null; then
  skip "layout migration" "git history with commit $V1_COMMIT (the layout-1 stated) is not available: migration from layout 1 NOT tested"
else
  OLD=$W/v1
  mkdir -p "$OLD"
  if git -C "$TOP" archive "$V1_COMMIT" | tar -x -C "$OLD" &&
    make -C "$OLD" -j2 all >"$W/v1-build.log" 2>&1 && "$OLD/build/bin/stated" --help >/dev/null 2>&1; then
    pass "layout: built the layout-1 stated of $V1_COMMIT"
  else
    fail "layout: build the layout-1 stated of $V1_COMMIT" "$(tail -n 3 "$W/v1-build.log" | tr '\n' ' ')"
    OLD=
  fi
fi

# ------------------------------------------------------------------ 1. migration, exact

NAMES=(layout/net layout/net/snapshots layout/app/web layout/x.meta layout/gone)

migration_round() { # MODE
  local M=$1 t="layout/$1" i s name bad=0 ok=0
  start_v1 "$M" "$t" || return
  for i in "${!NAMES[@]}"; do
    for s in 1 2 3; do
      mkstate "$W/$M-$i-$s" "$((s * 10 + i))" "lineage-$M-$i"
      [ "$(post "${NAMES[i]}" "$W/$M-$i-$s")" = 200 ] || bad=$((bad + 1))
    done
  done
  expect_eq "$t layout-1 stated wrote 15 states" "$bad" 0
  req DELETE /v1/states/layout/gone
  expect_code "$t layout-1 stated deleted a state" 200
  req POST /v1/tokens -H 'Content-Type: application/json' \
    --data-binary '{"name":"layout-ci","role":"write","states":"layout/**"}'
  expect_code "$t layout-1 stated made a token" 201
  local token
  token=$(jq -r .token "$RESP" 2>/dev/null)
  for i in "${!NAMES[@]}"; do snapshot_ids "${NAMES[i]}" >"$W/$M-$i.ids"; done
  stated_stop
  BIN=$NEW_BIN
  local v1n
  v1n=$(v1_leftovers | wc -l)
  if [ "$v1n" -ge 15 ]; then pass "$t storage in layout 1 ($v1n objects)"; else fail "$t storage in layout 1" "$v1n layout-1 objects"; fi

  if ! stated_launch; then
    fail "$t new stated starts on the layout-1 storage" "$(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  pass "$t new stated starts on the layout-1 storage"
  if grep -q 'storage layout migration done' "$STATED_LOG"; then
    pass "$t migration logged ($(grep -o 'migration done: [^,]*' "$STATED_LOG" | head -n 1))"
  else
    fail "$t migration logged" "$(grep -i layout "$STATED_LOG" | tail -n 3 | tr '\n' ' ')"
  fi
  for i in "${!NAMES[@]}"; do
    name=${NAMES[i]}
    fetch "$name" "$W/got"
    if [ "$name" = layout/gone ]; then
      expect_eq "$t $name still deleted" "$CODE" 404
    elif [ "$CODE" = 200 ] && cmp -s "$W/got" "$W/$M-$i-3"; then
      ok=$((ok + 1))
    else
      fail "$t $name current bytes" "HTTP $CODE"
    fi
    snapshot_ids "$name" >"$W/$M-$i.ids2"
    if cmp -s "$W/$M-$i.ids" "$W/$M-$i.ids2" && [ "$(wc -l <"$W/$M-$i.ids")" = 3 ]; then
      ok=$((ok + 1))
    else
      fail "$t $name snapshot ids" "before: $(tr '\n' ' ' <"$W/$M-$i.ids") after: $(tr '\n' ' ' <"$W/$M-$i.ids2")"
    fi
    local id serial
    while read -r id; do
      serial=$(echo "$id" | cut -d- -f2)
      req GET "/v1/snapshots/$name?id=$id"
      if [ "$CODE" = 200 ] && cmp -s "$RESP" "$W/$M-$i-$(((serial - i) / 10))"; then
        ok=$((ok + 1))
      else
        fail "$t $name snapshot $id bytes" "HTTP $CODE"
      fi
    done <"$W/$M-$i.ids2"
  done
  expect_eq "$t every state and snapshot exact (checks)" "$ok" $((4 + 5 + 15))
  req GET "/v1/states?prefix=layout/"
  expect_eq "$t /v1/states lists the states" "$(jq -r '.[].name' "$RESP" 2>/dev/null | tr '\n' ' ')" \
    "layout/app/web layout/net layout/net/snapshots layout/x.meta "
  CODE=$(curl -s -o "$W/tok" -w '%{http_code}' --max-time 10 -u "ci:$token" "$STATED_URL/v1/states/layout/net")
  if [ "$CODE" = 200 ] && cmp -s "$W/tok" "$W/$M-0-3"; then pass "$t token made by the layout-1 stated works"; else fail "$t token made by the layout-1 stated works" "HTTP $CODE"; fi
  local left
  left=$(v1_leftovers | head -n 5 | tr '\n' ' ')
  if [ -z "$left" ]; then pass "$t nothing left at layout-1 keys"; else fail "$t nothing left at layout-1 keys" "$left"; fi
  if marker_text | grep -q '^{"layout":2,'; then pass "$t marker says layout 2"; else fail "$t marker says layout 2" "$(marker_text | head -c 200)"; fi
  # A second start: marked, nothing to move; and the new layout keeps working.
  stated_restart
  expect_eq "$t second start migrates nothing" "$(grep -c 'storage layout migration done' "$STATED_LOG")" 1
  mkstate "$W/next" 99 "lineage-$M-0"
  expect_eq "$t write after the migration" "$(post layout/net "$W/next")" 200
  expect_eq "$t snapshots after the migration" "$(snapshot_ids layout/net | wc -l)" 4
  stated_cleanup
}

# ------------------------------------------------------------------ 2. kill -9

KILL_STATES=50 KILL_SERIALS=5

kill_round() { # MODE
  local M=$1 t="layout/$1/kill" i s bad=0
  start_v1 "$M" "$t" || return
  rm -f "$W"/writes.*
  for ((i = 0; i < KILL_STATES; i++)); do
    for ((s = 1; s <= KILL_SERIALS; s++)); do
      mkstate "$W/k-$i-$s" "$s" "kill-$M-$i"
      batch_post "$W/writes.$((i % 4))" "kill/s$i" "$W/k-$i-$s"
    done
  done
  bad=$(batch4 "$W/writes" | grep -cv '^200$')
  expect_eq "$t layout-1 stated wrote $((KILL_STATES * (KILL_SERIALS + 1))) objects" "$bad" 0
  stated_stop
  BIN=$NEW_BIN
  local k how kills=0 t0
  for k in 1 2 3 4; do
    launch_bg "$NEW_BIN"
    t0=$SECONDS
    # Until the migration has begun (or is over), then a random moment inside it.
    until grep -q -e 'moving [0-9]* state objects' -e 'migration done' "$STATED_LOG" || [ $((SECONDS - t0)) -ge 20 ]; do
      sleep 0.02
    done
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    kill -KILL "$KILLPID" 2>/dev/null
    wait "$KILLPID" 2>/dev/null
    KILLPID=
    kills=$((kills + 1))
  done
  how="killed $kills times, $(grep -c 'moving [0-9]* state objects' "$STATED_LOG") of them while moving objects"
  grep -E 'storage layout' "$STATED_LOG" | sed 's/^/  /' | cut -c1-200
  if ! stated_launch; then
    fail "$t restart after the kills" "$(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  pass "$t restart after the kills ($how)"
  local ok=0 id
  : >"$W/reads"
  for ((i = 0; i < KILL_STATES; i++)); do
    batch_get "$W/reads" "/v1/states/kill/s$i" "$W/got-$i"
    batch_get "$W/reads" "/v1/snapshots/kill/s$i" "$W/ids-$i"
  done
  batch "$W/reads" >/dev/null
  : >"$W/reads"
  for ((i = 0; i < KILL_STATES; i++)); do
    if cmp -s "$W/got-$i" "$W/k-$i-$KILL_SERIALS"; then ok=$((ok + 1)); else echo "  kill/s$i: current differs"; fi
    jq -r '.[].id' "$W/ids-$i" >"$W/kids-$i" 2>/dev/null
    [ "$(wc -l <"$W/kids-$i")" = "$KILL_SERIALS" ] || echo "  kill/s$i: $(wc -l <"$W/kids-$i") snapshots"
    while read -r id; do
      batch_get "$W/reads" "/v1/snapshots/kill/s$i?id=$id" "$W/snap-$i-$(echo "$id" | cut -d- -f2)"
    done <"$W/kids-$i"
  done
  batch "$W/reads" >/dev/null
  for ((i = 0; i < KILL_STATES; i++)); do
    for ((s = 1; s <= KILL_SERIALS; s++)); do
      cmp -s "$W/snap-$i-$s" "$W/k-$i-$s" && ok=$((ok + 1))
    done
  done
  expect_eq "$t every state and snapshot exact" "$ok" $((KILL_STATES * (KILL_SERIALS + 1)))
  local left
  left=$(v1_leftovers | head -n 5 | tr '\n' ' ')
  if [ -z "$left" ]; then pass "$t nothing left at layout-1 keys"; else fail "$t nothing left at layout-1 keys" "$left"; fi
  stated_cleanup
}

# ------------------------------------------------------------------ 2b. two instances at once

# S3 only (one stated owns a data dir): two new stateds start together on one layout-1 prefix;
# both serve, and everything is there exactly once.
concurrent_round() {
  local t="layout/s3/two-instances" i s bad=0 p2 second
  start_v1 s3 "$t" || return
  rm -f "$W"/writes.*
  for ((i = 0; i < 40; i++)); do
    for s in 1 2 3; do
      mkstate "$W/c-$i-$s" "$s" "two-$i"
      batch_post "$W/writes.$((i % 4))" "two/s$i" "$W/c-$i-$s"
    done
  done
  bad=$(batch4 "$W/writes" | grep -cv '^200$')
  expect_eq "$t layout-1 stated wrote 160 objects" "$bad" 0
  stated_stop
  BIN=$NEW_BIN
  p2=$(free_port)
  local args2=("${STATED_ARGS[@]}")
  for i in "${!args2[@]}"; do
    case ${args2[i]} in
      --listen) args2[i + 1]=127.0.0.1:$p2 ;;
      --data-dir) args2[i + 1]=$W/second-data ;;
    esac
  done
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET STATED_ADMIN_TOKEN=$ADMIN_TOKEN \
    "$NEW_BIN/stated" "${args2[@]}" >"$W/second.log" 2>&1 &
  second=$!
  KILLPID=$second
  if stated_launch && wait_http "http://127.0.0.1:$p2/healthz" 30; then
    pass "$t both instances start ($(grep -ho 'migration done: [^,]*\|finished by another instance' "$STATED_LOG" "$W/second.log" | tr '\n' ';'))"
  else
    fail "$t both instances start" "$(tail -n 3 "$W/second.log" | tr '\n' ' ')"
  fi
  kill -TERM "$second" 2>/dev/null
  wait "$second" 2>/dev/null
  KILLPID=
  local ok=0
  : >"$W/reads"
  for ((i = 0; i < 40; i++)); do
    batch_get "$W/reads" "/v1/states/two/s$i" "$W/cgot-$i"
    batch_get "$W/reads" "/v1/snapshots/two/s$i" "$W/cids-$i"
  done
  batch "$W/reads" >/dev/null
  for ((i = 0; i < 40; i++)); do
    cmp -s "$W/cgot-$i" "$W/c-$i-3" && [ "$(jq length "$W/cids-$i" 2>/dev/null)" = 3 ] && ok=$((ok + 1))
  done
  expect_eq "$t every state current with its 3 snapshots" "$ok" 40
  local left
  left=$(v1_leftovers | head -n 5 | tr '\n' ' ')
  if [ -z "$left" ]; then pass "$t nothing left at layout-1 keys"; else fail "$t nothing left at layout-1 keys" "$left"; fi
  stated_cleanup
}

# ------------------------------------------------------------------ 2c. names that look like keys

# Names that spell another state's layout-1 or layout-2 keys are states of their own, through
# the protocol, in the new stated; a name with '@' is refused before any storage access.
MIMIC=(mimic/a mimic/a/current.tfstate mimic/a/snapshots mimic/a/current.tfstate.meta
       mimic/a/snapshots/current.tfstate mimic/victim mimic/victim/current.tfstate mimic/x.meta)
names_round() { # MODE
  local M=$1 t="names/$1" i round ok=0
  if ! stated_start "$M"; then
    fail "$t stated start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    return
  fi
  p_use_admin
  for round in 1 2; do
    for i in "${!MIMIC[@]}"; do
      mkstate "$W/n-$i-$round" "$round" "mimic-$i"
      [ "$(post "${MIMIC[i]}" "$W/n-$i-$round")" = 200 ] && ok=$((ok + 1))
    done
  done
  for i in "${!MIMIC[@]}"; do
    fetch "${MIMIC[i]}" "$W/got"
    [ "$CODE" = 200 ] && cmp -s "$W/got" "$W/n-$i-2" && ok=$((ok + 1))
    [ "$(snapshot_ids "${MIMIC[i]}" | wc -l)" = 2 ] && ok=$((ok + 1))
  done
  expect_eq "$t ${#MIMIC[@]} names that look like keys: written twice, read back, 2 snapshots each" \
    "$ok" $((4 * ${#MIMIC[@]}))
  req GET "/v1/states?prefix=mimic/"
  expect_eq "$t /v1/states lists each once" "$(jq length "$RESP" 2>/dev/null)" "${#MIMIC[@]}"
  mkstate "$W/at" 1 "mimic-at"
  post_state "/v1/states/mimic/a/@current.tfstate" "$W/at"
  expect_error "$t a name with '@' is refused" 400 INFRA_001
  stated_cleanup
}

# ------------------------------------------------------------------ 3. serials

# The serial member of a JSON text, as written (jq would round a large number).
raw_serial() { grep -o '"serial":"\?[0-9-]*"\?' "$1" | head -n 1 | sed 's/"serial"://; s/"//g'; }

serial_round() { # MODE
  local M=$1 t="serials/$1" v name
  if ! stated_start "$M"; then
    fail "$t stated start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    return
  fi
  p_use_admin
  for v in 9223372036854775807 9223372036854775808 18446744073709551615; do
    name=serials/s$v
    mkstate "$W/s$v" "$v" "lineage-serials"
    expect_eq "$t POST serial $v" "$(post "$name" "$W/s$v")" 200
    fetch "$name" "$W/got"
    if [ "$CODE" = 200 ] && cmp -s "$W/got" "$W/s$v"; then pass "$t GET serial $v byte-exact"; else fail "$t GET serial $v byte-exact" "HTTP $CODE"; fi
    req GET "/v1/states?prefix=$name"
    expect_eq "$t /v1/states lists serial $v" "$(raw_serial "$RESP")" "$v"
    req GET "/v1/snapshots/$name"
    expect_eq "$t /v1/snapshots lists serial $v" "$(raw_serial "$RESP")" "$v"
    STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN "$BIN/statectl" states list --prefix "$name" >"$W/ctl" 2>&1
    if grep -q "^$name  *$v " "$W/ctl"; then pass "$t statectl states list shows $v"; else fail "$t statectl states list shows $v" "$(tail -n 1 "$W/ctl")"; fi
    STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN "$BIN/statectl" snapshots list "$name" --output json >"$W/ctl" 2>&1
    if grep -q "\"serial\": \"\?$v\"\?" "$W/ctl"; then pass "$t statectl snapshots list --output json shows $v"; else fail "$t statectl snapshots list --output json shows $v" "$(tr '\n' ' ' <"$W/ctl" | head -c 200)"; fi
  done
  # 2^64: refused, nothing stored.
  mkstate "$W/over" 18446744073709551616 "lineage-serials"
  post_state /v1/states/serials/over "$W/over"
  expect_error "$t POST serial 2^64 refused" 400 INFRA_001
  fetch serials/over "$W/got"
  expect_eq "$t serial 2^64 stored nothing" "$CODE" 404
  req GET /v1/snapshots/serials/over
  expect_eq "$t serial 2^64 left no snapshot" "$CODE" 404
  # A restore of the state at 2^64-1 would need 2^64.
  local id
  id=$(snapshot_ids serials/s18446744073709551615 | head -n 1)
  req POST "/v1/restore/serials/s18446744073709551615?id=$id"
  expect_error "$t restore above 2^64-1 refused" 400 INFRA_001
  if grep -q 'serial would overflow' "$RESP"; then pass "$t restore refusal says why"; else fail "$t restore refusal says why" "$(head -c 200 "$RESP")"; fi
  # The audit trail has the exact serial and verifies.
  req GET "/v1/audit/export?state=serials/**"
  if grep -q '"action":"write","state":"serials/s18446744073709551615".*"serial":"18446744073709551615"' "$RESP"; then
    pass "$t audit event carries serial 2^64-1 exactly"
  else
    fail "$t audit event carries serial 2^64-1 exactly" "$(grep -o '"serial":[^,]*' "$RESP" | tr '\n' ' ' | head -c 200)"
  fi
  req GET /v1/audit/verify
  if [ "$CODE" = 200 ] && jq -e '.ok == true' "$RESP" >/dev/null; then pass "$t audit verify"; else fail "$t audit verify" "$(head -c 200 "$RESP")"; fi
  local conn
  conn=$(printf '%s\n' "${STATED_ARGS[@]}" | grep 'dbname=' | head -n 1)
  if [ -n "$conn" ]; then
    v=$(psql "$conn" -qAt -c "SELECT serial FROM audit_events WHERE state = 'serials/s18446744073709551615' AND action = 'write'" 2>&1)
    expect_eq "$t PostgreSQL column holds 2^64-1" "$v" 18446744073709551615
  fi
  stated_cleanup
}

# ------------------------------------------------------------------ run

for M in ${LAYOUT_MODES:-embedded s3}; do
  if ! mode_available "$M"; then
    skip "layout/$M" "S3_ENDPOINT not set (Ceph RGW not started): layout migration on S3 not tested"
    continue
  fi
  if [ -n "$OLD" ]; then
    migration_round "$M"
    kill_round "$M"
    [ "$M" = s3 ] && concurrent_round
  fi
done
for M in embedded s3; do
  mode_available "$M" && names_round "$M"
done
for M in embedded s3 pg; do
  if mode_available "$M"; then
    serial_round "$M"
  else
    skip "serials/$M" "services for $M mode not started"
  fi
done
t_done
