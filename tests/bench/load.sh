#!/bin/bash
# tests/bench/load.sh: the load run with faults at bench size (tests/load/run.sh), for
# `make bench`: BENCH_LOAD_UNITS units (default 1000), BENCH_LOAD_SECS (default 90) seconds,
# BENCH_LOAD_PARALLEL (default 32) at once, one fault of each kind, on three s3pg instances.
# Prints the checker's lines and rewrites the load section of docs/BENCHMARKS.md with them, the
# date and the machine, whatever the outcome (a failing run is a result to see). Exits with
# the run's status: a lost write, an overlap or an unexpected status fails `make bench` too.
# Nothing here asserts a timing. BENCH_NO_DOC=1 leaves docs/BENCHMARKS.md alone.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh" # doc_section
UNITS=${BENCH_LOAD_UNITS:-1000}
SECS=${BENCH_LOAD_SECS:-90}
PARALLEL=${BENCH_LOAD_PARALLEL:-32}
DOC=$TOP/docs/BENCHMARKS.md
OUT=$(mktemp -d /tmp/stated-bench-load.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

"$TOP/tests/load/run.sh" "$UNITS" --duration "$SECS" --parallel "$PARALLEL" \
  --faults kill,pg,rgw >"$OUT/run.out" 2>"$OUT/run.err"
rc=$?
cat "$OUT/run.out"
if [ $rc -eq 3 ]; then
  echo "SKIPPED bench/load: $(tail -n 1 "$OUT/run.err")"
  exit 0
fi
if ! grep -q '^load: units=' "$OUT/run.out"; then
  echo "FAIL bench/load: no load line (exit $rc): $(tail -n 5 "$OUT/run.err" | tr '\n' ' ')"
  exit 1
fi

write_section() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "<!-- load-bench:start (written by tests/bench/load.sh; edit the script, not this part) -->"
  echo "## Load with faults (tests/load)"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($cpu), $(uname -sr): three stated"
  echo "instances in s3pg mode (one PostgreSQL, one single-node Ceph RGW bucket, memstore OSD) on"
  echo "loopback, $UNITS Terragrunt-like units, $PARALLEL at once, for ${SECS} s, with one kill -9 of an"
  echo "instance (restarted after 5 s), one PostgreSQL restart and radosgw frozen for 5 s. Generator,"
  echo "services and servers share the cores. Reproduce with \`make bench\` or"
  echo "\`tests/bench/load.sh\` (BENCH_LOAD_UNITS, BENCH_LOAD_SECS, BENCH_LOAD_PARALLEL); the output"
  echo "line is explained in tests/load/README.md. Exit status of the run: $rc."
  echo
  echo '```'
  grep -E '^load (latency_ms|peak_rss_mb|statuses|faults):|^load: units=' "$OUT/run.out"
  echo '```'
  echo "<!-- load-bench:end -->"
}

if [ -z "${BENCH_NO_DOC:-}" ]; then
  write_section >"$OUT/section"
  doc_section load-bench "$OUT/section" "$DOC"
  echo "wrote the load section of $DOC"
fi
[ $rc -eq 0 ] && echo "PASS bench/load" || echo "FAIL bench/load: the checker found problems (exit $rc)"
exit $rc
