#!/bin/bash
# 25-hostile: requests an attacker (or a broken client) would send, against the real stated,
# in embedded and s3pg modes. Every refusal must be the documented JSON error with an
# X-Request-Id, change nothing stored (the state and its snapshot list are compared before and
# after), and leave an audit event with the real method and state name.
#
#   names      state names that mimic every storage key stated uses are states of their own
#   serials    2^63-1, 2^63, 2^64-1 stored and listed exactly; 2^64 refused
#   framing    two Content-Lengths, Content-Length with Transfer-Encoding, broken chunks
#   http       errors made before any handler runs: 400, 408, 413, 414, 431, 501, 505
#   slow       a slow but steady upload succeeds; an idle one gets 408
#   logs       nothing a client sends can forge a log line (HTTP/1.1 and HTTP/2)
#   readers    slow readers of a large state share one copy of it (RSS bound)
#   small      audit export bounds, lock info with duplicate keys, whoami with odd usernames
#   5xx        a write that fails after its snapshot leaves the state and its history as they were
#
# Run alone: tests/suites/25-hostile.sh   (embedded only, unless S3_* and PG_CONNINFO are set)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
. "$TOP/tests/lib/tls.sh"
P_TMP=$(mktemp -d /tmp/stated-hostile.XXXXXX)
. "$TOP/tests/protocol/lib.sh"
trap 'stated_cleanup; rm -rf "$P_TMP"' EXIT
RAW=$P_TMP/raw

for tool in curl jq openssl; do
  if ! command -v "$tool" >/dev/null; then
    skip hostile "$tool not found (install it: tests/env/install-deps.sh)"
    t_done
    exit
  fi
done

SCOPED_TOKEN=scoped-$RANDOM$RANDOM$RANDOM
TOKENS=$P_TMP/tokens
echo "victim-ci write victim/** $(printf %s "$SCOPED_TOKEN" | sha256sum | cut -d' ' -f1)" >"$TOKENS"

# ------------------------------------------------------------------ helpers

# snaps NAME: the snapshot ids the admin API lists for NAME, one per line ("" when none).
snaps() {
  curl -s -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/snapshots/$1" | jq -r 'if type == "array" then .[].id else empty end' 2>/dev/null
}

# fingerprint NAME: the current bytes' SHA-256 and the snapshot list, to compare before/after.
fingerprint() {
  local body
  body=$(curl -s -u "admin:$ADMIN_TOKEN" -w ' %{http_code}' "$STATED_URL/v1/states/$1" | sha256sum | cut -d' ' -f1)
  printf '%s %s' "$body" "$(snaps "$1" | tr '\n' ' ')"
}

# audited ACTION STATE STATUS: the audit trail has an event with these fields.
audited() {
  curl -s -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/audit/export" >"$P_TMP/export.jsonl"
  [ "$(jq -c --arg a "$1" --arg s "$2" --argjson st "$3" \
    'select(.action == $a and .state == $s and .status == $st)' "$P_TMP/export.jsonl" | wc -l)" -gt 0 ]
}

# raw FILE: FILE's bytes on a new connection; the answer in $RAW.out, status in RAW_CODE,
# body in $RAW.body. The requests close their connection, so reading ends with the answer.
raw() {
  exec 3<>"/dev/tcp/127.0.0.1/$STATED_PORT" || { RAW_CODE=000; return 1; }
  cat "$1" >&3
  timeout 10 cat <&3 >"$RAW.out"
  exec 3>&- 3<&-
  RAW_CODE=$(head -n1 "$RAW.out" | cut -d' ' -f2)
  sed '1,/^\r$/d' "$RAW.out" >"$RAW.body"
}

# expect_raw NAME STATUS INFRA_CODE: the raw answer has that status, an X-Request-Id and the
# JSON error body.
expect_raw() {
  if [ "${RAW_CODE:-000}" != "$2" ]; then
    fail "$1" "got HTTP ${RAW_CODE:-none}, want $2; answer: $(head -c 300 "$RAW.out" | tr '\r\n' '  ')"
  elif ! grep -qi '^x-request-id: [0-9a-f]\+' "$RAW.out"; then
    fail "$1" "no X-Request-Id: $(head -c 300 "$RAW.out" | tr '\r\n' '  ')"
  elif ! is_json_error "$RAW.body" "$3"; then
    fail "$1" "body is not the JSON error $3: $(head -c 200 "$RAW.body")"
  else
    pass "$1"
  fi
}

request() { # request FILE METHOD PATH [EXTRA_HEADER_LINES] [BODY]: writes a closing request
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nConnection: close\r\n%s\r\n%s' \
    "$2" "$3" "$AUTH_HDR" "${4:-}" "${5:-}" >"$1"
}

mk() { mkstate "$P_TMP/$1.json" "$2" "${3:-lineage-hostile}"; echo "$P_TMP/$1.json"; }

# ------------------------------------------------------------------ names

cases_names() {
  local t=hostile/$1/names n f
  # A token limited to victim/** must not be able to break the state victim.
  f=$(mk victim 1)
  post_state /v1/states/victim "$f"
  expect_code "$t victim written" 200
  for n in victim/current.tfstate victim/snapshots victim/current.tfstate.meta victim/snapshots/x.tfstate \
    victim/layout.json victim/.meta victim/states; do
    CODE=$(curl -s -o "$RESP" -w '%{http_code}' -u "x:$SCOPED_TOKEN" -H "Content-MD5: $(md5_b64 "$(mk n 7 "l-$n")")" \
      --data-binary "@$P_TMP/n.json" "$STATED_URL/v1/states/$n")
    expect_code "$t scoped token writes $n" 200
  done
  f=$(mk victim2 2)
  post_state /v1/states/victim "$f"
  expect_code "$t victim still writable after the look-alike names" 200
  if same_state victim "$f"; then pass "$t victim reads back its own bytes"; else fail "$t victim reads back its own bytes" "HTTP $CODE"; fi
  for n in victim/current.tfstate victim/snapshots victim/current.tfstate.meta; do
    if same_state "$n" "$(mk n 7 "l-$n")"; then pass "$t $n reads back its own bytes"; else fail "$t $n reads back its own bytes" "HTTP $CODE"; fi
  done
  [ "$(snaps victim | wc -l)" = 2 ] && pass "$t victim has exactly its 2 snapshots" ||
    fail "$t victim has exactly its 2 snapshots" "$(snaps victim | tr '\n' ' ')"
  # Names the rule refuses never reach storage.
  for n in 'victim/@current.tfstate' 'a/../victim' 'victim/lock' 'a//b' '.' 'a/%2e%2e/victim'; do
    req POST "/v1/states/$n" --data-binary "@$f"
    expect_error "$t name '$n' refused" 400 INFRA_001
  done
  if audited write "" 400; then pass "$t refused names are audited"; else fail "$t refused names are audited" "no write/400 event without a state"; fi
}

# ------------------------------------------------------------------ serials

cases_serials() {
  local t=hostile/$1/serials s f
  for s in 9223372036854775807 9223372036854775808 18446744073709551615; do
    f=$(mk "s$s" "$s" "lin-s$s")
    post_state "/v1/states/serial/s$s" "$f"
    expect_code "$t serial $s accepted" 200
    if same_state "serial/s$s" "$f"; then pass "$t serial $s reads back exactly"; else fail "$t serial $s reads back exactly" "HTTP $CODE"; fi
    req GET "/v1/states?prefix=serial/s$s"
    # As text: a number above 2^53 does not survive a trip through jq's doubles.
    if grep -Eq "\"serial\":(\"$s\"|$s)," "$RESP"; then
      pass "$t serial $s listed exactly"
    else
      fail "$t serial $s listed exactly" "$(head -c 300 "$RESP")"
    fi
  done
  f=$(mk s64 18446744073709551616 lin-s64)
  post_state /v1/states/serial/s64 "$f"
  expect_error "$t serial 2^64 refused" 400 INFRA_001
  req GET /v1/states/serial/s64
  expect_code "$t serial 2^64 stored nothing" 404
  for s in 1.5 1e3 -1; do
    printf '{"version":4,"serial":%s,"lineage":"x"}' "$s" >"$P_TMP/bad.json"
    req POST /v1/states/serial/bad --data-binary "@$P_TMP/bad.json"
    expect_error "$t serial $s refused" 400 INFRA_001
  done
}

# ------------------------------------------------------------------ framing

cases_framing() {
  local t=hostile/$1/framing before f len
  f=$(mk frame 1)
  post_state /v1/states/frame "$f"
  before=$(fingerprint frame)
  f=$(mk frame2 2)
  len=$(stat -c %s "$f")
  request "$RAW" POST /v1/states/frame "Content-Length: $len"$'\r\n'"Content-Length: $((len + 1))"$'\r\n' "$(cat "$f")"
  raw "$RAW"
  expect_raw "$t two different Content-Lengths: 400" 400 INFRA_001
  request "$RAW" POST /v1/states/frame "Content-Length: $len"$'\r\n'"Transfer-Encoding: chunked"$'\r\n' "$(printf '%x\r\n%s\r\n0\r\n\r\n' "$len" "$(cat "$f")")"
  raw "$RAW"
  expect_raw "$t Content-Length with Transfer-Encoding: 400" 400 INFRA_001
  request "$RAW" POST /v1/states/frame "Transfer-Encoding: chunked"$'\r\n' "$(printf 'zz\r\n%s\r\n0\r\n\r\n' "$(cat "$f")")"
  raw "$RAW"
  expect_raw "$t malformed chunk size: 400" 400 INFRA_001
  request "$RAW" POST /v1/states/frame "Transfer-Encoding: chunked"$'\r\n' "$(printf '%x\r\n%sXX0\r\n\r\n' "$len" "$(cat "$f")")"
  raw "$RAW"
  expect_raw "$t chunk without its CRLF: 400" 400 INFRA_001
  request "$RAW" POST /v1/states/frame "Transfer-Encoding: gzip, chunked"$'\r\n' ""
  raw "$RAW"
  expect_raw "$t unknown Transfer-Encoding: 501" 501 INFRA_001
  printf 'POST /v1/states/frame HTTP/1.0\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$AUTH_HDR" >"$RAW"
  raw "$RAW"
  expect_raw "$t chunked in HTTP/1.0: 400" 400 INFRA_001
  if [ "$(fingerprint frame)" = "$before" ]; then pass "$t state and snapshots unchanged"; else fail "$t state and snapshots unchanged" "changed"; fi
  if audited write frame 400; then pass "$t refusals audited as write on frame"; else fail "$t refusals audited as write on frame" "no event"; fi
  # The same body framed correctly (identical Content-Lengths are one value) is accepted.
  request "$RAW" POST /v1/states/frame "Content-Length: $len"$'\r\n'"Content-Length: $len"$'\r\n'
  cat "$f" >>"$RAW"
  raw "$RAW"
  [ "$RAW_CODE" = 200 ] && pass "$t repeated identical Content-Length accepted" || fail "$t repeated identical Content-Length accepted" "HTTP $RAW_CODE"
}

# ------------------------------------------------------------------ HTTP-layer errors

cases_http() {
  local t=hostile/$1/http f big
  f=$(mk http 1)
  post_state /v1/states/http "$f"
  local before
  before=$(fingerprint http)
  big=$P_TMP/big.json
  mkstate "$big" 5 lineage-big 1100000
  req POST /v1/states/http --data-binary "@$big"
  expect_error "$t body over the limit: 413 JSON" 413 INFRA_002
  grep -qi '^x-request-id:' "$RESP_H" && pass "$t 413 has X-Request-Id" || fail "$t 413 has X-Request-Id" "$(tr '\r\n' '  ' <"$RESP_H")"
  req POST /v1/states/http -H 'Transfer-Encoding: chunked' --data-binary "@$big"
  expect_error "$t chunked body over the limit: 413 JSON" 413 INFRA_002
  if audited write http 413; then pass "$t 413 audited as write on http"; else fail "$t 413 audited as write on http" "no event"; fi
  if grep -q "POST http status=413" "$STATED_LOG"; then pass "$t 413 logged with method and state"; else fail "$t 413 logged with method and state" "$(grep 'status=413' "$STATED_LOG" | tail -n1)"; fi
  printf 'GARBAGE\r\n\r\n' >"$RAW"
  raw "$RAW"
  expect_raw "$t malformed request line: 400" 400 INFRA_001
  request "$RAW" GET "/v1/states/$(head -c 9000 /dev/zero | tr '\0' a)" ""
  raw "$RAW"
  expect_raw "$t request target over 8 KiB: 414" 414 INFRA_002
  local many="" i
  for i in $(seq 1 120); do many+="X-H$i: v"$'\r\n'; done
  request "$RAW" GET /v1/states/http "$many"
  raw "$RAW"
  expect_raw "$t more than 100 header fields: 431" 431 INFRA_002
  if audited get http 431; then pass "$t 431 audited as get on http"; else fail "$t 431 audited as get on http" "no event"; fi
  printf 'GET /v1/states/http HTTP/3.0\r\nHost: x\r\n\r\n' >"$RAW"
  raw "$RAW"
  expect_raw "$t HTTP/3.0: 505" 505 INFRA_001
  printf 'GET /v1/states/http HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n' >"$RAW"
  raw "$RAW"
  expect_raw "$t folded header line: 400" 400 INFRA_001
  printf 'GET /v1/states/http HTTP/1.1\r\nHost: x\r\nBad\x01Name: v\r\n\r\n' >"$RAW"
  raw "$RAW"
  expect_raw "$t control byte in a header: 400" 400 INFRA_001
  if [ "$(fingerprint http)" = "$before" ]; then pass "$t state and snapshots unchanged"; else fail "$t state and snapshots unchanged" "changed"; fi
}

# ------------------------------------------------------------------ slow clients

# slow_upload NAME FILE BYTES_PER_SEC: sends FILE over a raw connection at that rate.
slow_upload() {
  local f=$2 rate=$3 size off=0
  size=$(stat -c %s "$f")
  exec 3<>"/dev/tcp/127.0.0.1/$STATED_PORT"
  printf 'POST /v1/states/%s HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' \
    "$1" "$AUTH_HDR" "$size" >&3
  while [ "$off" -lt "$size" ]; do
    tail -c "+$((off + 1))" "$f" | head -c "$((rate / 4))" >&3
    off=$((off + rate / 4))
    sleep 0.25
  done
  timeout 10 cat <&3 >"$RAW.out"
  exec 3>&- 3<&-
  RAW_CODE=$(head -n1 "$RAW.out" | cut -d' ' -f2)
}

cases_slow() {
  local t=hostile/$1/slow f start
  # 2 KB/s for 12 s, with --idle-timeout 2s: every second brings bytes, so it must succeed.
  f=$P_TMP/slow.json
  mkstate "$f" 3 lineage-slow 23500
  start=$SECONDS
  slow_upload slow "$f" 2000
  if [ "$RAW_CODE" = 200 ] && same_state slow "$f"; then
    pass "$t 24 KB at 2 KB/s over $((SECONDS - start)) s accepted, bytes exact"
  else
    fail "$t 24 KB at 2 KB/s accepted" "HTTP ${RAW_CODE:-none}: $(tail -c 200 "$RAW.out")"
  fi
  # A body that stops arriving: 408 after the idle timeout, the connection closed.
  local before
  before=$(fingerprint slow)
  exec 3<>"/dev/tcp/127.0.0.1/$STATED_PORT"
  printf 'POST /v1/states/slow HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 5000\r\n\r\n{"ver' "$AUTH_HDR" >&3
  timeout 10 cat <&3 >"$RAW.out"
  exec 3>&- 3<&-
  RAW_CODE=$(head -n1 "$RAW.out" | cut -d' ' -f2)
  sed '1,/^\r$/d' "$RAW.out" >"$RAW.body"
  expect_raw "$t idle body: 408 JSON" 408 INFRA_001
  if [ "$(fingerprint slow)" = "$before" ]; then pass "$t idle body changed nothing"; else fail "$t idle body changed nothing" "changed"; fi
  if audited write slow 408; then pass "$t 408 audited as write on slow"; else fail "$t 408 audited as write on slow" "no event"; fi
  # A head trickled a line at a time cannot hold the connection past the idle timeout.
  exec 3<>"/dev/tcp/127.0.0.1/$STATED_PORT"
  start=$SECONDS
  (printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n'
   for i in 1 2 3 4 5 6 7 8; do printf 'X-Trickle-%d: v\r\n' "$i"; sleep 0.5; done) >&3 2>/dev/null &
  local trickler=$!
  timeout 10 cat <&3 >"$RAW.out"
  exec 3>&- 3<&-
  wait "$trickler" 2>/dev/null
  RAW_CODE=$(head -n1 "$RAW.out" | cut -d' ' -f2)
  [ "$RAW_CODE" = 408 ] && [ $((SECONDS - start)) -le 4 ] && pass "$t trickled head cut at the idle timeout with 408" ||
    fail "$t trickled head cut at the idle timeout with 408" "HTTP ${RAW_CODE:-none} after $((SECONDS - start)) s"
}

# ------------------------------------------------------------------ log injection

cases_logs() {
  local t=hostile/$1/logs f
  f=$(mk logs 1)
  # A Basic username and lock Who with newlines, and a path with an encoded one.
  curl -s -o /dev/null -u $'bob\nFORGED-USER req=1 POST prod/network status=200:'"$ADMIN_TOKEN" \
    --data-binary "@$f" "$STATED_URL/v1/states/logs"
  mklock "$P_TMP/lock.json" "$(new_id)" $'eve\nFORGED-WHO status=200' OperationTypeApply
  req LOCK /v1/states/logs --data-binary "@$P_TMP/lock.json"
  req UNLOCK /v1/states/logs --data-binary "@$P_TMP/lock.json"
  req GET '/v1/states/logs%0aFORGED-PATH%20status=200'
  printf 'GET /v1/x\x7fFORGED-DEL HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$RAW"
  raw "$RAW"
  if grep -q '^FORGED\|^[^ ]* [^ ]* FORGED' "$STATED_LOG"; then
    fail "$t no client value starts a log line" "$(grep FORGED "$STATED_LOG" | head -n 2)"
  else
    pass "$t no client value starts a log line"
  fi
  if grep -q 'FORGED-DEL' "$STATED_LOG" && ! grep -q $'\x7f' "$STATED_LOG"; then
    pass "$t a control byte in a path is escaped in the log"
  elif ! grep -q 'FORGED-DEL' "$STATED_LOG"; then
    pass "$t a control byte in a path is refused before it reaches the log"
  else
    fail "$t a control byte in a path is escaped in the log" "raw 0x7f in the log"
  fi
}

# HTTP/2 over TLS: pseudo-headers are arbitrary bytes; a :method with spaces is refused.
cases_h2() {
  local M=$1 t=hostile/$1/h2 certs=$P_TMP/certs out
  [ -f "$certs/server.pem" ] || tls_make_certs "$certs" >/dev/null 2>&1 || { fail "$t certificates" "openssl failed"; return; }
  if ! stated_start "$M" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --http2; then
    fail "$t server starts" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  out=$(curl -s --http2 --cacert "$certs/ca.pem" -u "admin:$ADMIN_TOKEN" -o "$RESP" -w '%{http_version} %{http_code}' \
    -X 'DELETE prod/network status=200 ms=3 #' "$STATED_URL/v1/states/prod/network")
  if [ "$out" = "2 400" ] && is_json_error "$RESP" INFRA_001; then pass "$t :method with spaces: 400 JSON over HTTP/2"; else fail "$t :method with spaces: 400 JSON over HTTP/2" "$out $(head -c 200 "$RESP")"; fi
  if grep -q 'prod/network status=200' "$STATED_LOG"; then fail "$t no forged request line" "$(grep 'prod/network status=200' "$STATED_LOG")"; else pass "$t no forged request line"; fi
  out=$(curl -s --http2 --cacert "$certs/ca.pem" -u "admin:$ADMIN_TOKEN" -o "$RESP" -w '%{http_version} %{http_code}' \
    "$STATED_URL/v1/states/h2-probe")
  [ "$out" = "2 404" ] && pass "$t a plain HTTP/2 request is served" || fail "$t a plain HTTP/2 request is served" "$out"
  stated_cleanup
}

# ------------------------------------------------------------------ slow readers

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

cases_readers() {
  local M=$1 t=hostile/$1/readers f i base peak=0 now pids=()
  if ! stated_start "$M" --max-state-bytes 64M; then
    fail "$t server starts" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  p_use_admin
  f=$P_TMP/twenty.json
  mkstate "$f" 1 lineage-readers 20000000
  post_state /v1/states/readers/big "$f" --max-time 60
  expect_code "$t 20 MB state written" 200 || { stated_cleanup; return; }
  # The directory driver caches a file only once it is 100 ms old (an edit by hand within one
  # timestamp tick could not be told apart otherwise): readers that come sooner read it each.
  sleep 0.3
  req GET /v1/states/readers/big --max-time 60 # warm: the one copy every reader shares
  base=$(rss_kb "$STATED_PID")
  for i in $(seq 1 20); do
    curl -s -o /dev/null --limit-rate 100k --max-time 8 -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/states/readers/big" &
    pids+=($!)
  done
  for i in $(seq 1 12); do
    sleep 0.5
    now=$(rss_kb "$STATED_PID")
    [ "${now:-0}" -gt "$peak" ] && peak=$now
  done
  kill "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  # One shared copy (20 MB) plus per-connection buffers: well under a second copy.
  if [ $((peak - base)) -lt 30000 ]; then
    pass "$t 20 slow readers of a 20 MB state: RSS $((base / 1024)) -> $((peak / 1024)) MB"
  else
    fail "$t 20 slow readers of a 20 MB state share one copy" "RSS $((base / 1024)) -> $((peak / 1024)) MB"
  fi
  stated_cleanup
}

# ------------------------------------------------------------------ a 5xx changes nothing

# Embedded: the state's directory made immutable (chattr +i), so its current object cannot be
# replaced after its snapshot was written. The write must answer 503 with Retry-After, leave
# the current bytes, and leave no snapshot of the write it refused. (S3 outages: 40-s3.)
cases_5xx() {
  local t=hostile/$1/5xx f g d before
  [ "$1" = embedded ] || return 0
  if ! command -v chattr >/dev/null; then
    skip "$t" "chattr not installed (e2fsprogs)"
    return
  fi
  f=$(mk fail1 1)
  post_state /v1/states/fail/x "$f"
  before=$(fingerprint fail/x)
  d=$STATED_DATA/data/states/fail/x
  if ! chattr +i "$d" 2>/dev/null; then
    skip "$t" "chattr +i not supported on $d's file system"
    return
  fi
  g=$(mk fail2 2)
  post_state /v1/states/fail/x "$g"
  chattr -i "$d"
  expect_error "$t current not replaceable: 503" 503 INFRA_005
  grep -qi '^retry-after:' "$RESP_H" && pass "$t 503 has Retry-After" || fail "$t 503 has Retry-After" "$(tr '\r\n' '  ' <"$RESP_H")"
  if [ "$(fingerprint fail/x)" = "$before" ]; then
    pass "$t current bytes and snapshot list unchanged"
  else
    fail "$t current bytes and snapshot list unchanged" "before: $before now: $(fingerprint fail/x)"
  fi
  if audited write fail/x 503; then pass "$t the 503 is audited"; else fail "$t the 503 is audited" "no event"; fi
  post_state /v1/states/fail/x "$g"
  expect_code "$t the same write succeeds once the directory is writable" 200
}

# ------------------------------------------------------------------ small ones

cases_small() {
  local t=hostile/$1/small
  req GET '/v1/audit/export?until=1970-01-01T00:00:00Z'
  [ "$CODE" = 200 ] && [ ! -s "$RESP" ] && pass "$t export until the epoch is empty" ||
    fail "$t export until the epoch is empty" "HTTP $CODE, $(wc -l <"$RESP") lines"
  req GET '/v1/audit/export?since=yesterday'
  expect_error "$t export since=yesterday: 400" 400 INFRA_001
  req GET '/v1/audit/export?until=2026-13-45'
  expect_error "$t export until=2026-13-45: 400" 400 INFRA_001
  printf '{"ID":"one","ID":"two","Who":"x"}' >"$P_TMP/dup.json"
  req LOCK /v1/states/small --data-binary "@$P_TMP/dup.json"
  expect_error "$t lock info with two IDs: 400" 400 INFRA_001
  req GET /v1/locks
  jq -e 'map(select(.state == "small")) | length == 0' "$RESP" >/dev/null && pass "$t no lock taken" || fail "$t no lock taken" "$(head -c 200 "$RESP")"
  CODE=$(curl -s -o "$RESP" -w '%{http_code}' -H "Authorization: Basic $(printf 'b\xffob:%s' "$ADMIN_TOKEN" | base64 -w0)" "$STATED_URL/v1/whoami")
  if [ "$CODE" = 200 ] && [ "$(jq -r .username "$RESP")" = 'b\xffob' ]; then
    pass "$t whoami shows a non-UTF-8 username escaped"
  else
    fail "$t whoami shows a non-UTF-8 username escaped" "HTTP $CODE $(head -c 200 "$RESP")"
  fi
}

# ------------------------------------------------------------------ modes

run_mode() {
  local M=$1
  echo "--- mode $M"
  ADMIN_TOKEN_FIXED=admintoken-hostile-$RANDOM$RANDOM
  AUTH_HDR="Authorization: Basic $(printf 'admin:%s' "$ADMIN_TOKEN_FIXED" | base64 -w0)"
  export ADMIN_TOKEN_FIXED
  if ! stated_start "$M" --token-file "$TOKENS" --idle-timeout 2s --max-state-bytes 1M; then
    fail "hostile/$M/start" "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    return
  fi
  p_use_admin
  cases_names "$M"
  cases_serials "$M"
  cases_framing "$M"
  cases_http "$M"
  cases_slow "$M"
  cases_logs "$M"
  cases_small "$M"
  cases_5xx "$M"
  if kill -0 "$STATED_PID" 2>/dev/null; then pass "hostile/$M stated still running"; else fail "hostile/$M stated still running" "$(tail -n 5 "$STATED_LOG" | tr '\n' ' ')"; fi
  stated_cleanup
  cases_h2 "$M"
  cases_readers "$M"
  unset ADMIN_TOKEN_FIXED
}

for M in ${HOSTILE_MODES:-embedded s3pg}; do
  if mode_available "$M"; then
    run_mode "$M"
  else
    skip "hostile/$M" "S3_ENDPOINT or PG_CONNINFO not set (services not started)"
  fi
done
t_done
