#!/bin/bash
# tests/env/pg-ctl.sh DIR stop|start: stops (fast shutdown: clients are disconnected) or starts
# again the cluster made by tests/env/pg-up.sh DIR, same port and options. For fault tests.
set -eu
DIR=${1:?usage: pg-ctl.sh DIR stop|start}
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/pg_ctl" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
case ${2:-} in
  stop) "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null ;;
  start) "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
           -o "$(cat "$DIR/postgres.opts")" start >/dev/null ;;
  *) echo "usage: pg-ctl.sh DIR stop|start" >&2; exit 2 ;;
esac
