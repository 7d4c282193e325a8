#!/bin/bash
# tests/bench/ui.sh: how fast the web console fills its tables, in headless chromium.
#
# A fresh stated (embedded mode) gets BENCH_UI_STATES (default 5000) states and one state with
# BENCH_UI_VERSIONS (default 1000) versions; tests/ui/bench.mjs then signs in and measures, with
# the console's own performance marks, the time from the route's start to the table being in
# the document: the states list (first page, 200 per page, a text filter) and the state page
# with its versions timeline, each warm (a hash navigation in an open console, median of
# BENCH_UI_RUNS, default 7) and cold (the page loaded at that address: module scripts, session
# check, then the page; median of 5). Prints a table and rewrites the console section of
# docs/BENCHMARKS.md (BENCH_NO_DOC=1 leaves it alone). Nothing asserts a timing; without node,
# puppeteer-core (npm ci --prefix tests/ui) or chromium it prints SKIPPED.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP"
BIN=${BIN:-$TOP/build/bin}
. tests/lib/testlib.sh
. tests/lib/stated.sh
BW=$(mktemp -d /tmp/stated-uibench.XXXXXX)
trap 'stated_cleanup; rm -rf "$BW"' EXIT
DOC=$TOP/docs/BENCHMARKS.md
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}

if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip bench/ui "build/bin/stated does not run yet (make)"
  t_done
  exit
fi
if ! command -v node >/dev/null || [ -z "$CHROMIUM" ] || [ ! -f tests/ui/node_modules/puppeteer-core/package.json ]; then
  skip bench/ui "needs node, chromium and tests/ui/node_modules (npm ci --prefix tests/ui)"
  echo "!!! SKIPPED bench/ui: node, chromium or puppeteer-core missing" >&2
  t_done
  exit
fi
stated_start embedded || { fail bench/ui "stated did not start"; t_done; exit; }

export STATED_URL ADMIN_TOKEN CHROMIUM
export BENCH_STATES=${BENCH_UI_STATES:-5000} BENCH_VERSIONS=${BENCH_UI_VERSIONS:-1000} BENCH_RUNS=${BENCH_UI_RUNS:-7}
if ! (cd tests/ui && timeout 900 node bench.mjs) >"$BW/out" 2>"$BW/err"; then
  fail bench/ui "bench.mjs failed: $(tail -n 3 "$BW/err" | tr '\n' ' ')"
  t_done
  exit
fi
cat "$BW/out"
setup_states=$(jq -r 'select(.setup == "states") | .ms' "$BW/out")
setup_versions=$(jq -r 'select(.setup == "versions") | .ms' "$BW/out")
snap_bytes=$(jq -r 'select(.info == "snapshots") | .bytes' "$BW/out")
table=$BW/table
{
  echo "| page | rows in the table | warm ms (median) | warm ms (max) | cold ms (median) | its API call alone, ms |"
  echo "|---|---|---|---|---|---|"
  jq -r 'select(.case) | "| \(.case) | \(.rows) | \(.warm_ms | floor) | \(.warm_max_ms | floor) | \(.cold_ms | floor) | \(.api_ms | floor) (`\(.api)`) |"' "$BW/out"
} >"$table"
cat "$table"
pass bench/ui

if [ -z "${BENCH_NO_DOC:-}" ]; then
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  chv=$("$CHROMIUM" --version 2>/dev/null | head -n 1)
  section=$BW/section
  {
    echo "<!-- ui-bench:start (written by tests/bench/ui.sh; edit the script, not this part) -->"
    echo "## Web console"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($cpu), $(uname -sr),"
    echo "${chv:-chromium} headless (puppeteer-core), stated in embedded mode on loopback, with"
    echo "$BENCH_STATES states and one state of $BENCH_VERSIONS versions."
    echo "Reproduce with \`tests/bench/ui.sh\` (BENCH_UI_STATES, BENCH_UI_VERSIONS, BENCH_UI_RUNS)."
    echo
    cat "$table"
    echo
    echo "- Measured in the page with the console's performance marks: from the route's start"
    echo "  (\`stated:nav\`) to the table being in the document (\`stated:states-rendered\`,"
    echo "  \`stated:versions-rendered\`). Warm: a hash navigation in an open console (median of"
    echo "  $BENCH_RUNS). Cold: the page loaded at that address, timed from the navigation's start"
    echo "  (module scripts, the session check, then the page)."
    echo "- The states list asks the server for one page (\`limit\`, \`after\`) and draws only that"
    echo "  page; the text filter is applied by the server (\`q\`). The last column is the same API"
    echo "  call made from outside the browser (median of 5): the server's share of the time, most"
    echo "  of it; what the page adds (fetch, JSON, building 50-200 rows) is the difference."
    echo "- The state page loads the whole version list (${snap_bytes:-?} bytes of JSON for $BENCH_VERSIONS"
    echo "  versions) with the state's metadata and draws 50 rows at a time; outputs and resources"
    echo "  load after the timeline and are not in the number."
    echo "- Setup (not timed above): ${setup_states:-?} ms to write the states 8 at a time, ${setup_versions:-?} ms"
    echo "  for the versions one after another."
    echo "<!-- ui-bench:end -->"
  } >"$section"
  doc_section ui-bench "$section" "$DOC"
  echo "wrote the console section of $DOC"
fi
t_done
