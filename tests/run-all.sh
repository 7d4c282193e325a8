#!/bin/bash
# `make test`: every suite, in order, ending with one line "N passed, N failed".
#
#   1. unit tests and fuzz-corpus replay under ASan+UBSan (build/san/bin)
#   2. a throwaway PostgreSQL 15 and a single-node Ceph RGW on loopback, started here once
#   3. every tests/suites/NN-*.sh, each printing PASS/FAIL/SKIPPED lines
#
# A service that is installed but does not start is a FAIL; a tool that is missing is a loud
# SKIPPED, counted and listed at the end, never a silent pass.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
export TOP BIN="$TOP/build/bin"
WORK=$(mktemp -d /tmp/stated-tests.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/all.log
passed=0 failed=0 skipped=0
: >"$WORK/skipped"

count() { # count OUTPUT_FILE
  local p f s
  p=$(grep -c '^PASS ' "$1"); f=$(grep -c '^FAIL ' "$1"); s=$(grep -c '^SKIPPED ' "$1")
  grep '^SKIPPED ' "$1" >>"$WORK/skipped"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

run_part() { # run_part NAME CMD...
  local name=$1; shift
  local out=$WORK/$name.out start=$SECONDS
  echo "=== $name"
  "$@" >"$out" 2>&1
  local rc=$?
  grep -E '^(PASS|FAIL|SKIPPED) |^  ' "$out" | grep -v '^PASS ' | head -n 200
  if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
    echo "FAIL $name: exited $rc without a FAIL line; last output:" | tee -a "$out"
    tail -n 15 "$out"
  fi
  count "$out"
  echo "--- $name: $(grep -c '^PASS ' "$out") passed, $(grep -c '^FAIL ' "$out") failed, $(grep -c '^SKIPPED ' "$out") skipped ($((SECONDS - start)) s)"
}

cleanup() {
  [ -x tests/env/rgw-down.sh ] && tests/env/rgw-down.sh "$WORK/rgw" >/dev/null 2>&1
  [ -x tests/env/pg-down.sh ] && tests/env/pg-down.sh "$WORK/pg" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

run_part unit tests/run-unit.sh build/san/bin

# Services shared by the integration suites (each stated start gets its own database/prefix).
export PG_CONNINFO= S3_ENDPOINT= S3_KEY= S3_SECRET= S3_BUCKET=
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "SKIPPED services/postgresql: PostgreSQL server not installed (apt-get install postgresql); PostgreSQL modes will be skipped" | tee "$WORK/pg.out"; count "$WORK/pg.out"
elif [ -x tests/env/pg-up.sh ]; then
  if PG_CONNINFO=$(tests/env/pg-up.sh "$WORK/pg" 2>"$WORK/pg-up.err"); then
    echo "PostgreSQL up: $PG_CONNINFO"
  else
    PG_CONNINFO=; echo "FAIL services/postgresql: $(tail -n 3 "$WORK/pg-up.err" | tr '\n' ' ')" | tee "$WORK/pg.out"; count "$WORK/pg.out"
  fi
fi
if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  echo "SKIPPED services/ceph-rgw: radosgw/ceph-mon/ceph-osd not installed (apt-get install radosgw ceph-mon ceph-osd); S3 modes will be skipped" | tee "$WORK/rgw.out"; count "$WORK/rgw.out"
elif [ -x tests/env/rgw-up.sh ]; then
  if out=$(tests/env/rgw-up.sh "$WORK/rgw" 2>"$WORK/rgw-up.err"); then
    eval "$out" # S3_ENDPOINT=… S3_KEY=… S3_SECRET=… S3_BUCKET=…
    export S3_ENDPOINT S3_KEY S3_SECRET S3_BUCKET
    echo "Ceph RGW up: $S3_ENDPOINT bucket $S3_BUCKET"
  else
    echo "FAIL services/ceph-rgw: $(tail -n 3 "$WORK/rgw-up.err" | tr '\n' ' ')" | tee "$WORK/rgw.out"; count "$WORK/rgw.out"
  fi
fi

for s in tests/suites/[0-9]*.sh; do
  [ -x "$s" ] || continue
  run_part "$(basename "$s" .sh)" "$s"
done

if [ -s "$WORK/skipped" ]; then
  echo
  echo "!!! SKIPPED (not run, not passed):"
  sed 's/^/!!!   /' "$WORK/skipped"
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
