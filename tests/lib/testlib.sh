# tests/lib/testlib.sh: sourced by every shell suite.
#
# Each check prints one line the runner counts: "PASS name", "FAIL name: why" or
# "SKIPPED name: why". A suite ends with its own "N passed, N failed, N skipped" line (t_done)
# and exits non-zero when something failed. Nothing here is a mock: suites drive the real
# build/bin/stated, real PostgreSQL, real Ceph RGW and the real terraform binary.

T_PASSED=0 T_FAILED=0 T_SKIPPED=0
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${BIN:-$TOP/build/bin}

pass() { echo "PASS $1"; T_PASSED=$((T_PASSED + 1)); }
fail() { echo "FAIL $1: ${2:-}"; T_FAILED=$((T_FAILED + 1)); }
skip() { echo "SKIPPED $1: ${2:-}"; T_SKIPPED=$((T_SKIPPED + 1)); }

# check NAME CMD...: PASS when CMD succeeds, else FAIL with its stderr's last line.
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi
}
# expect_eq NAME GOT WANT
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

t_done() {
  echo "$T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
  [ "$T_FAILED" -eq 0 ]
}

# A free TCP port on 127.0.0.1, below Linux's ephemeral range (32768-60999) so that no outgoing
# connection can be holding it by the time the server binds.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# wait_http URL [SECONDS]: until URL answers anything over HTTP(S).
wait_http() {
  local url=$1 secs=${2:-20} i
  for i in $(seq 1 $((secs * 10))); do
    curl -sk -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# doc_section NAME SECTION DOC: puts the file SECTION (from its "<!-- NAME:start" line to its
# "<!-- NAME:end" line) into DOC in place of the part between the same markers, or at DOC's end
# when it has none yet; creates DOC when missing. The bench scripts' one way of writing
# docs/BENCHMARKS.md.
doc_section() {
  local name=$1 section=$2 doc=$3
  if [ ! -f "$doc" ]; then
    printf '# Benchmarks\n\nEvery number here comes from a script under tests/bench/ (`make bench` runs them all),\nwith the date and the machine it ran on.\n\n' >"$doc"
  fi
  if grep -q "<!-- $name:start" "$doc"; then
    awk -v f="$section" -v start="<!-- $name:start" -v end="<!-- $name:end" '
      index($0, start) { while ((getline l < f) > 0) print l; skip = 1; next }
      index($0, end) { skip = 0; next }
      !skip { print }' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
  else
    { echo; cat "$section"; } >>"$doc"
  fi
}
