#!/bin/bash
# tests/bench/http.sh: HTTP throughput of stated on loopback, with wrk, bounded in time.
#
# One stated (embedded mode unless BENCH_MODE says otherwise), three wrk runs of BENCH_SECS
# (default 10) each, in the same process lifetime:
#   healthz   GET /healthz                       (the server's floor: no auth, no storage)
#   get1k     GET of a 1 KB state                (auth, storage read: the per-request cost)
#   get200k   GET of a 200 KB state              (the same plus 200 KB: the per-byte cost)
#   nginx1k, nginx200k  nginx (Debian's, sendfile, access log on) serving the same bytes as
#             static files, same wrk parameters: the ceiling a GET of a state is compared to
#   cycle     LOCK -> POST ?ID= -> UNLOCK on 64 distinct states, one state machine per connection
# Prints a table and rewrites the HTTP section of docs/BENCHMARKS.md (date, machine, numbers).
# Nothing here asserts a timing; a run fails only if the server or wrk does not work.
# BENCH_NO_DOC=1 leaves docs/BENCHMARKS.md alone. BENCH_ONLY="cycle" (names, space-separated) runs
# only those rows, the others showing n/a; it implies BENCH_NO_DOC.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
P_TMP=$(mktemp -d /tmp/stated-bench.XXXXXX)
. "$TOP/tests/protocol/lib.sh"
NGINX_PID=
trap '[ -n "$NGINX_PID" ] && { kill "$NGINX_PID"; wait "$NGINX_PID"; } 2>/dev/null; stated_cleanup; rm -rf "$P_TMP"' EXIT

SECS=${BENCH_SECS:-10}
MODE=${BENCH_MODE:-embedded}
GET_CONNS=${BENCH_CONNS:-32}
CYCLE_CONNS=8
NSTATES=64
DOC=$TOP/docs/BENCHMARKS.md
ONLY=${BENCH_ONLY:-healthz get1k nginx1k get200k nginx200k cycle}
[ -n "${BENCH_ONLY:-}" ] && BENCH_NO_DOC=1

if ! command -v wrk >/dev/null; then
  skip bench/http "wrk not found (apt-get install wrk)"
  t_done
  exit
fi
if ! stated_start "$MODE"; then
  fail bench/http "stated did not start"
  t_done
  exit
fi
AUTH="Basic $(printf 'bench:%s' "$ADMIN_TOKEN" | base64 -w0)"
p_use_admin

# The states to read: 1 KB and 200 KB.
lin=$(new_id)
mkstate "$P_TMP/s1k" 1 "$lin" 800
mkstate "$P_TMP/s200k" 1 "$lin" 200000
for s in s1k s200k; do
  post_state "/v1/states/bench/$s" "$P_TMP/$s"
  if [ "$CODE" != 200 ]; then
    fail bench/http "could not store the $s state: HTTP $CODE"
    t_done
    exit
  fi
done

# nginx serving exactly the bytes stated answers, from a directory of its own; NGINX_URL stays
# empty (and the nginx rows SKIPPED) when there is no nginx.
nginx_start() {
  local ng=$P_TMP/nginx port
  command -v nginx >/dev/null || { skip bench/http/nginx "nginx not found (apt-get install nginx-light): no ceiling for the GET rows"; return 1; }
  mkdir -p "$ng/www" "$ng/logs" && chmod 755 "$P_TMP" "$ng" "$ng/www"
  for s in s1k s200k; do
    req GET "/v1/states/bench/$s"
    cmp -s "$RESP" "$P_TMP/$s" || { fail bench/http/nginx "GET of $s did not return the stored bytes"; return 1; }
    cp "$RESP" "$ng/www/$s" && chmod 644 "$ng/www/$s"
  done
  port=$(free_port)
  cat >"$ng/nginx.conf" <<NGINX
user root root;
worker_processes $(nproc);
daemon off;
pid $ng/nginx.pid;
error_log $ng/logs/error.log;
events { worker_connections 1024; }
http {
  access_log $ng/logs/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/json;
  server { listen 127.0.0.1:$port; root $ng/www; }
}
NGINX
  nginx -p "$ng" -c "$ng/nginx.conf" 2>"$ng/logs/stderr" &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/s1k" 2>/dev/null && { NGINX_URL=http://127.0.0.1:$port; return 0; }
    sleep 0.1
  done
  fail bench/http/nginx "nginx did not start: $(tail -n 2 "$ng/logs/stderr" "$ng/logs/error.log" | tr '\n' ' ')"
  return 1
}
NGINX_URL=
case " $ONLY " in *" nginx"*) nginx_start ;; esac

# run_wrk NAME THREADS CONNS ARGS...: sets RPS, P99, ERRS and writes the raw output.
run_wrk() {
  local name=$1 th=$2 co=$3
  shift 3
  wrk -t"$th" -c"$co" -d"${SECS}s" --latency --timeout 5s "$@" >"$P_TMP/$name.out" 2>&1
  RPS=$(awk '/^Requests\/sec:/ {print $2}' "$P_TMP/$name.out")
  P99=$(awk '$1 == "99%" {print $2}' "$P_TMP/$name.out")
  P50=$(awk '$1 == "50%" {print $2}' "$P_TMP/$name.out")
  ERRS=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$P_TMP/$name.out")
  local sockerr
  sockerr=$(grep -o 'Socket errors:.*' "$P_TMP/$name.out")
  ERRS=${ERRS:-0}${sockerr:+ ($sockerr)}
  if [ -z "$RPS" ]; then
    fail "bench/http $name" "wrk produced no result: $(tail -n 3 "$P_TMP/$name.out" | tr '\n' ' ')"
    return 1
  fi
  pass "bench/http $name ran"
}

declare -A R_RPS R_P50 R_P99 R_ERR
for what in healthz get1k nginx1k get200k nginx200k cycle; do
  RPS='' P50='' P99='' ERRS=''
  case " $ONLY " in *" $what "*) ;; *) R_RPS[$what]=n/a R_P50[$what]=n/a R_P99[$what]=n/a R_ERR[$what]=n/a; continue ;; esac
  case $what in nginx*) [ -n "$NGINX_URL" ] || { R_RPS[$what]=n/a R_P50[$what]=n/a R_P99[$what]=n/a R_ERR[$what]=n/a; continue; } ;; esac
  case $what in
    nginx1k) run_wrk nginx1k 2 "$GET_CONNS" "$NGINX_URL/s1k" ;;
    nginx200k) run_wrk nginx200k 2 "$GET_CONNS" "$NGINX_URL/s200k" ;;
    healthz) run_wrk healthz 2 "$GET_CONNS" "$STATED_URL/healthz" ;;
    get1k) run_wrk get1k 2 "$GET_CONNS" -H "Authorization: $AUTH" "$STATED_URL/v1/states/bench/s1k" ;;
    get200k) run_wrk get200k 2 "$GET_CONNS" -H "Authorization: $AUTH" "$STATED_URL/v1/states/bench/s200k" ;;
    cycle) run_wrk cycle "$CYCLE_CONNS" "$CYCLE_CONNS" -s "$TOP/tests/bench/lock_cycle.lua" "$STATED_URL" \
      -- "$CYCLE_CONNS" "$NSTATES" "$AUTH"
      ERRS=$(awk '$1 == "non200" && NF == 2 {print $2}' "$P_TMP/cycle.out")
      grep '^non200 statuses' "$P_TMP/cycle.out" ;;
  esac
  R_RPS[$what]=${RPS:-n/a} R_P50[$what]=${P50:-n/a} R_P99[$what]=${P99:-n/a} R_ERR[$what]=${ERRS:-n/a}
done

# The cycle's writes really landed: every state is readable after the run.
if [[ ${R_RPS[cycle]} =~ ^[0-9.]+$ ]]; then
  req GET /v1/states/bench/cycle-0
  expect_code "bench/http cycle states were written" 200
fi
no_5xx "bench/http no 5xx from curl checks"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
pct() { # pct A B: A as a percentage of B
  if [[ $1 =~ ^[0-9.]+$ ]] && [[ $2 =~ ^[0-9.]+$ ]]; then
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f%%", 100 * a / b}'
  else
    echo n/a
  fi
}
ng1k=$(pct "${R_RPS[get1k]}" "${R_RPS[nginx1k]}")
ng200k=$(pct "${R_RPS[get200k]}" "${R_RPS[nginx200k]}")
ratio=$(pct "${R_RPS[get200k]}" "${R_RPS[healthz]}")
ratio1k=$(pct "${R_RPS[get1k]}" "${R_RPS[healthz]}")
verdict="not measured"
if [[ ${R_RPS[get200k]} =~ ^[0-9.]+$ ]] && [[ ${R_RPS[healthz]} =~ ^[0-9.]+$ ]]; then
  verdict=$(awk -v a="${R_RPS[get200k]}" -v b="${R_RPS[healthz]}" 'BEGIN { print (2 * a >= b) ? "met" : "not met" }')
fi
mbps=n/a
[[ ${R_RPS[get200k]} =~ ^[0-9.]+$ ]] && mbps=$(awk -v a="${R_RPS[get200k]}" -v n="$(stat -c %s "$P_TMP/s200k")" 'BEGIN {printf "%.0f", a * n / 1e6}')
cycles=n/a
[[ ${R_RPS[cycle]} =~ ^[0-9.]+$ ]] && cycles=$(awk -v a="${R_RPS[cycle]}" 'BEGIN {printf "%.0f", a / 3}')

table=$P_TMP/table
{
  echo "| workload | wrk threads/conns | requests/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|"
  echo "| GET /healthz | 2/$GET_CONNS | ${R_RPS[healthz]} | ${R_P50[healthz]} | ${R_P99[healthz]} | ${R_ERR[healthz]} |"
  echo "| GET 1 KB state | 2/$GET_CONNS | ${R_RPS[get1k]} | ${R_P50[get1k]} | ${R_P99[get1k]} | ${R_ERR[get1k]} |"
  echo "| nginx, the same 1 KB as a static file | 2/$GET_CONNS | ${R_RPS[nginx1k]} | ${R_P50[nginx1k]} | ${R_P99[nginx1k]} | ${R_ERR[nginx1k]} |"
  echo "| GET 200 KB state | 2/$GET_CONNS | ${R_RPS[get200k]} | ${R_P50[get200k]} | ${R_P99[get200k]} | ${R_ERR[get200k]} |"
  echo "| nginx, the same 200 KB as a static file | 2/$GET_CONNS | ${R_RPS[nginx200k]} | ${R_P50[nginx200k]} | ${R_P99[nginx200k]} | ${R_ERR[nginx200k]} |"
  echo "| LOCK → POST → UNLOCK, $NSTATES states | $CYCLE_CONNS/$CYCLE_CONNS | ${R_RPS[cycle]} ($cycles cycles/s) | ${R_P50[cycle]} | ${R_P99[cycle]} | ${R_ERR[cycle]} |"
} >"$table"
echo
echo "HTTP benchmark, mode $MODE, ${SECS}s per run, $(nproc) CPUs ($cpu)"
cat "$table"
echo "state GET / nginx on the same bytes: 1 KB $ng1k, 200 KB $ng200k (aim: at least 90%)"
echo "200 KB state GET rate is $ratio of the /healthz rate (aim: at least 50%: $verdict); 1 KB: $ratio1k; 200 KB GETs move $mbps MB/s"
echo

if [ -z "${BENCH_NO_DOC:-}" ]; then
  section=$P_TMP/section
  {
    echo "<!-- http-bench:start (written by tests/bench/http.sh; edit the script, not this part) -->"
    echo "## HTTP (wrk against stated)"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($cpu), $(uname -sr), mode $MODE,"
    echo "wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}') on loopback, ${SECS} s per run, client and server on the same machine."
    echo "Reproduce with \`make bench\` (or \`tests/bench/http.sh\`; BENCH_SECS, BENCH_MODE, BENCH_CONNS)."
    echo
    cat "$table"
    echo
    echo "- Against nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') serving the same bytes as static files (sendfile, access log on,"
    echo "  $(nproc) workers), same wrk parameters, same run: the 1 KB state GET reaches **$ng1k** of nginx,"
    echo "  the 200 KB one **$ng200k** (aim: at least 90%)."
    echo "- The 200 KB state GET reaches **$ratio** of the /healthz rate on the same server in the"
    echo "  same run (aim: at least 50%, **$verdict**); the 1 KB state GET reaches **$ratio1k**. /healthz needs no"
    echo "  token and no storage and answers on the event loop; a state GET checks the token, goes"
    echo "  through the worker pool, reads the object, appends an audit event and sends the body."
    echo "  The gap between 1 KB and 200 KB is the bytes: $mbps MB/s of state bodies sent over"
    echo "  loopback and parsed by wrk on the same $(nproc) cores."
    echo "- The cycle is what one \`terraform apply\` does per state: every POST writes a snapshot and the"
    echo "  current object durably (fsync + rename in embedded mode) before answering, so it is bound by"
    echo "  the disk, not by HTTP. Each connection keeps its own states, so there are no lock conflicts."
    echo "- wrk and stated share the machine's cores; the numbers are a floor for the server, not a"
    echo "  ceiling."
    echo "<!-- http-bench:end -->"
  } >"$section"
  doc_section http-bench "$section" "$DOC"
  echo "wrote the HTTP section of $DOC"
fi
t_done
