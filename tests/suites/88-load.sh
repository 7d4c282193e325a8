#!/bin/bash
# 88-load: a bounded load run with one fault of each kind (tests/load/run.sh).
#
# 100 Terragrunt-like units over three s3pg instances on their own PostgreSQL and Ceph RGW
# (started by run.sh, not the shared ones: the faults would disturb other suites) for 45 s,
# during which one instance is killed with -9 and restarted, PostgreSQL is restarted and
# radosgw is frozen for 5 s. The independent checker (tests/load/check.py) then fails the run on
# any acknowledged write lost, any two lock holders at once, or any status a terraform client
# should not see. Nothing here asserts a timing. About 70 s on 2 cores.
#
# Run alone: tests/suites/88-load.sh (LOAD_UNITS, LOAD_DURATION to change the bounds)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
OUT=$(mktemp -d /tmp/stated-load-suite.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# The tools run.sh needs; a missing one is a loud SKIPPED, never a pass.
missing_tool() {
  command -v python3 >/dev/null || { echo "python3 (apt-get install python3)"; return; }
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo "pg_ctl (apt-get install postgresql)"; return; }
  local t
  for t in radosgw ceph-mon ceph-osd; do
    command -v $t >/dev/null || { echo "$t (apt-get install radosgw ceph-mon ceph-osd)"; return; }
  done
  [ -x "$BIN/stated" ] || echo "build/bin/stated (make)"
}
tool=$(missing_tool)
if [ -n "$tool" ]; then
  skip load "$tool not installed: the load run with faults was not run"
  t_done
  exit
fi

# The checker's own rules first, on made-up records: a checker that went blind would pass.
check load/checker-rules python3 -B "$TOP/tests/load/check_test.py"

# field NAME: NAME=VALUE from the load line.
field() { sed -n "s/^load: .* $1=\([^ ]*\).*/\1/p" "$OUT/run.out"; }

timeout 170 "$TOP/tests/load/run.sh" "${LOAD_UNITS:-100}" --duration "${LOAD_DURATION:-45}" \
  --parallel 12 --faults kill,pg,rgw >"$OUT/run.out" 2>"$OUT/run.err"
rc=$?
grep '^load' "$OUT/run.out"
if ! grep -q '^load: units=' "$OUT/run.out"; then
  fail load/run "no load line (exit $rc): $(tail -n 5 "$OUT/run.err" | tr '\n' ' ')"
  t_done
  exit
fi
expect_eq load/faults-injected "$(field faults)" 3
acked=$(field acked)
if [ "${acked:-0}" -gt 0 ]; then pass load/writes-acknowledged; else fail load/writes-acknowledged "acked=$acked"; fi
for what in lost overlaps errors; do
  if [ "$(field $what)" = 0 ]; then
    pass "load/no-$what"
  else
    fail "load/no-$what" "$what=$(field $what): $(grep '^  ' "$OUT/run.out" | head -n 5 | tr '\n' ' ')"
  fi
done
expect_eq load/exit-status "$rc" 0
[ $rc -eq 0 ] || grep '^  ' "$OUT/run.out" | head -n 40
t_done
