#!/bin/bash
# tests/bench/run.sh: `make bench`. Runs the HTTP benchmark (tests/bench/http.sh) and then every
# other tests/bench/*.sh in name order. Each script is bounded in time, prints its own table and
# updates its section of docs/BENCHMARKS.md. Exits non-zero if any script failed to run.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
export TOP BIN="$TOP/build/bin"
rc=0
for s in tests/bench/http.sh $(ls tests/bench/*.sh | grep -v -e '/run\.sh$' -e '/http\.sh$'); do
  [ -x "$s" ] || continue
  echo "=== $s"
  "$s" || { echo "FAIL $s exited non-zero"; rc=1; }
done
exit $rc
