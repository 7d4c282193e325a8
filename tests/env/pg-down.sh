#!/bin/bash
# tests/env/pg-down.sh DIR: stops the cluster made by tests/env/pg-up.sh DIR and removes DIR.
set -u
DIR=${1:?usage: pg-down.sh DIR}
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/pg_ctl" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
if [ -f "$DIR/data/postmaster.pid" ]; then
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1
fi
rm -rf "$DIR"
