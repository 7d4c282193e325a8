#!/bin/bash
# tests/env/pg-up.sh DIR [PORT]: a throwaway PostgreSQL cluster on 127.0.0.1 for the tests.
#
# Prints one libpq conninfo on stdout ("host=127.0.0.1 port=P user=postgres dbname=tfstate") and
# nothing else; diagnostics go to stderr and DIR/server.log. Picks a free port when PORT is not
# given. Stop it with tests/env/pg-down.sh DIR.
#
# Facts this relies on (Debian 12, PostgreSQL 15):
#  - initdb and postgres refuse to run as root, so when we are root every server command runs as
#    the postgres user through runuser; DIR's parents must be traversable by that user (/tmp is).
#  - the unix socket goes into DIR (-k) so /var/run/postgresql is not needed.
#  - the data is throwaway: fsync, synchronous_commit and full_page_writes are off, which makes
#    start-up well under a second and keeps the lock benchmarks about locking, not about disks.
set -euo pipefail
DIR=${1:?usage: pg-up.sh DIR [PORT]}
PORT=${2:-}

PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/initdb" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
  echo "pg-up: no PostgreSQL server binaries (initdb, pg_ctl); apt-get install postgresql" >&2
  exit 1
fi

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "pg-up: running as root needs a 'postgres' user" >&2; exit 1; }
  AS=(runuser -u postgres --)
  OWNER=postgres
else
  AS=()
  OWNER=$(id -un)
fi

# Ports below Linux's ephemeral range (32768+), so an outgoing connection never holds ours.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

rm -rf "$DIR"
mkdir -p "$DIR"
chown "$OWNER" "$DIR"
chmod 700 "$DIR"

"${AS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
  >"$DIR/initdb.log" 2>&1 || { tail -n 5 "$DIR/initdb.log" >&2; exit 1; }

# A port found free can be taken by another test starting at the same moment: with no PORT
# given, try a few. The options are kept in DIR/postgres.opts so tests/env/pg-ctl.sh can stop
# and start the same server again (fault tests).
started=
for attempt in 1 2 3 4 5; do
  if [ -z "$PORT" ] || [ $attempt -gt 1 ]; then
    [ -n "${2:-}" ] && break # a fixed port that does not work: no point retrying
    PORT=$(free_port) || { echo "pg-up: no free port" >&2; exit 1; }
  fi
  echo "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >"$DIR/postgres.opts"
  if "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
    -o "$(cat "$DIR/postgres.opts")" start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "pg-up: server did not start; log:" >&2
  tail -n 10 "$DIR/server.log" >&2
  exit 1
fi

"${AS[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qAt \
  -c "CREATE DATABASE tfstate" >/dev/null
echo "host=127.0.0.1 port=$PORT user=postgres dbname=tfstate"
