#!/bin/bash
# tests/env/rgw-down.sh DIR: stops what tests/env/rgw-up.sh DIR started (by its pid files)
# and removes DIR. The data is in memory and throwaway, so after a short grace the daemons
# are killed (a clean radosgw stop alone takes ~6 s).
DIR=${1:?usage: rgw-down.sh DIR}
[ -f "$DIR/ceph.conf" ] || { echo "rgw-down: $DIR is not an rgw-up.sh directory" >&2; exit 1; }
pids=()
for n in client.rgw osd.0 mon.a; do
  f=$DIR/run/$n.pid
  if [ -f "$f" ]; then
    p=$(cat "$f")
    kill -CONT "$p" 2>/dev/null # a suite may have frozen it
    kill -TERM "$p" 2>/dev/null && pids+=("$p")
  fi
done
for _ in $(seq 1 10); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
done
for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
for p in "${pids[@]}"; do
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
done
rm -rf "$DIR"
