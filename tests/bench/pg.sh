#!/bin/bash
# tests/bench/pg.sh: PostgreSQL lock cycles through stated vs the same SQL run by pgbench.
#
# In one run, against the same database:
#   - stated: wrk with tests/bench/pg_cycle.lua, each connection alternating LOCK and UNLOCK on
#     its own state (one cycle = two HTTP requests), at 1 and 64 clients;
#   - pgbench "locks": the acquire and release statements of lock/pg.c, each client on its own
#     row, the floor a lock cycle sits on;
#   - pgbench "locks, prepared": the same statements prepared (-M prepared), as stated sends them;
#   - pgbench "locks + audit": the same plus the two audit appends of a cycle made the way the
#     locked path makes them (a transaction that takes the audit advisory lock, reads the chain
#     head and inserts a row), to show what the appends cost;
#   - the ratio stated / pgbench "locks".
# Each measurement runs BENCH_PG_SECS (default 10) seconds. Uses PG_CONNINFO's cluster when set,
# else starts a private one (tests/env/pg-up.sh). Prints a table and rewrites the PostgreSQL
# section of docs/BENCHMARKS.md (BENCH_NO_DOC=1 leaves it alone). Nothing asserts a timing; the
# run fails only when stated, wrk or pgbench does not work.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP"
. tests/lib/testlib.sh
. tests/lib/stated.sh
BW=$(mktemp -d /tmp/stated-pgbench.XXXXXX)
chmod 755 "$BW"
OWN_PG=
cleanup() {
  stated_cleanup 2>/dev/null
  [ -n "$OWN_PG" ] && tests/env/pg-down.sh "$OWN_PG" >/dev/null 2>&1
  rm -rf "$BW"
}
trap cleanup EXIT
DOC=$TOP/docs/BENCHMARKS.md
SECS=${BENCH_PG_SECS:-10}
CLIENTS=${BENCH_PG_CLIENTS:-"1 64"}

if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip bench/pg "build/bin/stated does not run yet (--help failed)"
  t_done
  exit
fi
for tool in wrk pgbench psql; do
  command -v $tool >/dev/null || { skip bench/pg "$tool is not installed"; t_done; exit; }
done
if [ -z "${PG_CONNINFO:-}" ]; then
  OWN_PG=$BW/pg
  PG_CONNINFO=$(tests/env/pg-up.sh "$OWN_PG" 2>"$BW/pg.err") || {
    OWN_PG=
    fail bench/pg "no PostgreSQL: $(tail -n 2 "$BW/pg.err" | tr '\n' ' ')"
    t_done
    exit
  }
fi
export PG_CONNINFO

DB=$(new_pg_db) || { fail bench/pg "cannot create a database"; t_done; exit; }
stated_start embedded --locks "$DB" || { fail bench/pg "stated did not start"; t_done; exit; }
WORKERS=$(grep -o -- '--workers [0-9]*' <<<"${STATED_ARGS[*]}" | awk '{print $2}')
WORKERS=${WORKERS:-8 (default)}

# The statements of lock/pg.c (SQL_ACQUIRE, SQL_RELEASE), with pgbench variables for the
# parameters: state, id, info, ttl (1 h in microseconds).
cat >"$BW/locks.sql" <<'EOF'
\set ttl 3600000000
WITH old AS (
  SELECT id, info, created_at, renewed_at, expires_at, expires_at <= now() AS expired
  FROM locks WHERE state = 'pgb/' || (:client_id)::text FOR UPDATE
), up AS (
  INSERT INTO locks AS l (state, id, info, created_at, renewed_at, expires_at)
  SELECT ('pgb/' || (:client_id)::text), ('id-' || (:client_id)::text), '{"ID":"x"}'::text, now(), now(),
         now() + (:ttl)::bigint * interval '1 microsecond'
  FROM (SELECT count(*) FROM old) AS after_old
  ON CONFLICT (state) DO UPDATE SET
    id = EXCLUDED.id,
    info = CASE WHEN l.expires_at > now() THEN l.info ELSE EXCLUDED.info END,
    created_at = CASE WHEN l.expires_at > now() THEN l.created_at ELSE now() END,
    renewed_at = now(),
    expires_at = EXCLUDED.expires_at
  WHERE l.expires_at <= now() OR l.id = EXCLUDED.id
  RETURNING l.id, l.info, l.created_at, l.renewed_at, l.expires_at
)
SELECT CASE WHEN up.id IS NULL THEN NULL WHEN old.id IS NULL THEN 'A' WHEN old.expired THEN 'T' ELSE 'R' END,
  up.id, up.info, (extract(epoch from up.created_at) * 1000000)::bigint,
  (extract(epoch from up.renewed_at) * 1000000)::bigint, (extract(epoch from up.expires_at) * 1000000)::bigint,
  old.id, old.info, (extract(epoch from old.created_at) * 1000000)::bigint,
  (extract(epoch from old.renewed_at) * 1000000)::bigint, (extract(epoch from old.expires_at) * 1000000)::bigint
FROM (SELECT 1) AS one LEFT JOIN up ON true LEFT JOIN old ON true;
DELETE FROM locks l WHERE l.state = 'pgb/' || (:client_id)::text AND l.id = 'id-' || (:client_id)::text
  RETURNING l.id, l.info, (extract(epoch from l.created_at) * 1000000)::bigint,
  (extract(epoch from l.renewed_at) * 1000000)::bigint, (extract(epoch from l.expires_at) * 1000000)::bigint,
  l.expires_at > now();
EOF

# One audit append as audit/pg.c makes it (advisory lock 0x73746174656402, chain head, insert);
# the line is a stand-in of the usual length, not a canonical event.
audit_append() {
  cat <<'EOF'
BEGIN;
SELECT pg_advisory_xact_lock(32497584235176962);
SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1;
INSERT INTO audit_events (seq, time, request_id, actor, username, remote, action, state, lock_id,
  serial, lineage, sha256, size, status, detail, line, hash, prev)
SELECT coalesce(max(seq), 0) + 1, now(), 'bench', 'bench', '', '127.0.0.1', 'lock',
  'pgb/' || (:client_id)::text, 'id', NULL, '', '', NULL, 200, '', repeat('x', 420),
  md5(random()::text) || md5(random()::text), repeat('0', 64) FROM audit_events;
COMMIT;
EOF
}
{
  sed -n '1,/^FROM (SELECT 1)/p' "$BW/locks.sql"
  audit_append
  sed -n '/^DELETE FROM locks/,$p' "$BW/locks.sql"
  audit_append
} >"$BW/locks_audit.sql"

# pgbench's database: a copy of the schema stated made, so the audit rows pgbench inserts do not
# break the chain of the database stated keeps appending to.
PGB_DB=$(new_pg_db) || { fail bench/pg "cannot create a database"; t_done; exit; }
pg_dump --schema-only "$DB" | psql -X -q "$PGB_DB" >/dev/null 2>"$BW/schema.err" || {
  fail bench/pg "schema copy: $(tail -n 2 "$BW/schema.err")"
  t_done
  exit
}

pgb() { # pgb SCRIPT CLIENTS [MODE] -> cycles/s
  local j=$(($2 < 2 ? $2 : 2))
  pgbench -n -M "${3:-extended}" -f "$1" -c "$2" -j "$j" -T "$SECS" "$PGB_DB" >"$BW/pgb.out" 2>&1 ||
    { echo "ERR"; return; }
  awk '/^tps = / { printf "%.0f", $3; exit }' "$BW/pgb.out"
}
wrk_cycles() { # wrk_cycles CLIENTS -> cycles/s (two requests per cycle)
  wrk -t"$1" -c"$1" -d"${SECS}s" --timeout 10s -s tests/bench/pg_cycle.lua "$STATED_URL" \
    -- "c$1" "Bearer $ADMIN_TOKEN" >"$BW/wrk$1.out" 2>&1 || { echo "ERR"; return; }
  if ! grep -q '^non200 0$' "$BW/wrk$1.out"; then
    echo "ERR"
    return
  fi
  awk '/^Requests\/sec:/ { printf "%.0f", $2 / 2; exit }' "$BW/wrk$1.out"
}

table=$BW/table
{
  echo "| clients | stated cycles/s | pgbench locks cycles/s | stated / pgbench locks | pgbench locks, prepared | stated / prepared | pgbench locks + audit cycles/s | stated / pgbench locks + audit |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$table"
rc_ok=1
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CLIENTS; do
  s=$(wrk_cycles "$c")
  p=$(pgb "$BW/locks.sql" "$c")
  pp=$(pgb "$BW/locks.sql" "$c" prepared)
  pa=$(pgb "$BW/locks_audit.sql" "$c")
  if [ "$s" = ERR ] || [ "$p" = ERR ] || [ "$pp" = ERR ] || [ "$pa" = ERR ] || [ -z "$s$p$pp$pa" ]; then
    rc_ok=0
    fail "bench/pg-$c" "stated=$s pgbench=$p prepared=$pp pgbench+audit=$pa; $(tail -n 3 "$BW/wrk$c.out" "$BW/pgb.out" 2>/dev/null | tr '\n' ' ')"
    continue
  fi
  ratio=$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
  ratio_prep=$(awk -v a="$s" -v b="$pp" 'BEGIN { printf "%.2f", a / b }')
  ratio_same=$(awk -v a="$s" -v b="$pa" 'BEGIN { printf "%.2f", a / b }')
  echo "| $c | $s | $p | $ratio | $pp | $ratio_prep | $pa | $ratio_same |" >>"$table"
  pass "bench/pg-$c (stated $s, pgbench $p, ratio $ratio; prepared $pp, ratio $ratio_prep; pgbench with audit $pa cycles/s)"
done
cat "$table"

if [ $rc_ok = 1 ] && [ -z "${BENCH_NO_DOC:-}" ]; then
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  pgv=$(psql -X -qAt "$DB" -c 'SHOW server_version' 2>/dev/null)
  section=$BW/section
  {
    echo "<!-- pg-bench:start (written by tests/bench/pg.sh; edit the script, not this part) -->"
    echo "## PostgreSQL locks"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($cpu), $(uname -sr),"
    echo "PostgreSQL ${pgv:-?} on loopback (throwaway cluster: fsync and synchronous_commit off),"
    echo "${SECS} s per cell. A cycle is one LOCK and one UNLOCK of a state nobody else holds."
    echo "Reproduce with \`tests/bench/pg.sh\` (BENCH_PG_SECS, BENCH_PG_CLIENTS)."
    echo
    cat "$table"
    echo
    echo "- stated: wrk with \`tests/bench/pg_cycle.lua\`, one thread per connection, each"
    echo "  connection on its own state; stated with its default 2 event-loop threads and"
    echo "  ${WORKERS} workers (so at most that many PostgreSQL connections)."
    echo "- pgbench \"locks\": the acquire and release statements of lock/pg.c, \`-M extended\` (parsed"
    echo "  and planned at every call, as libpq's PQexecParams), each client on its own row: what"
    echo "  a lock cycle costs PostgreSQL alone, the ceiling issue 16 set (stated at least 0.8 of"
    echo "  it at 64 clients). \"prepared\": the same with \`-M prepared\`, the way stated sends"
    echo "  them now (each statement prepared once per connection: pg.h \`pgconn_stmt\`)."
    echo "- pgbench \"locks + audit\": the same plus, per request, an audit append the way the"
    echo "  locked path makes one (a transaction that takes the chain's advisory lock, reads the"
    echo "  head and inserts a row). stated appends in batches (group commit) and, while no other"
    echo "  instance appends, in one statement per batch with no head read: it keeps the head in"
    echo "  memory and the primary key on seq refuses the batch if another instance moved it"
    echo "  (docs/storage.md \"PostgreSQL appends\")."
    echo "- stated adds HTTP parsing, token checks, the worker hand-off and the hash chain on top;"
    echo "  wrk, stated, pgbench and PostgreSQL share the machine's cores (load average $LOAD"
    echo "  when the run started)."
    echo "<!-- pg-bench:end -->"
  } >"$section"
  doc_section pg-bench "$section" "$DOC"
  echo "wrote the PostgreSQL section of $DOC"
fi
t_done
