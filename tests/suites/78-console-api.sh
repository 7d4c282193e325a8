#!/bin/bash
# 78-console-api: the server side of the web console, with curl against a real stated, in
# embedded mode and in s3pg mode (S3 on Ceph RGW + PostgreSQL locks and audit) when those
# services are up.
#
# The pages: headers (the exact CSP, nosniff, frame), /ui -> 301 ui/, ETag and 304, 404 for
# unknown names and traversal attempts. Sessions: sign-in, the document, cookie attributes
# (Secure under TLS), sign-out; a wrong token is 401 and counts towards the failed-login
# limit; the cookie is refused by the state protocol; a change without or with a wrong CSRF
# token is 403 and changes nothing; a revoked token ends its session at once; idle expiry; a
# read token's session may not restore, force-unlock or manage tokens; no token, cookie or
# CSRF value in the log or the audit trail; a cookie sealed by one instance opens on another
# with the same --session-key-file. The API the pages use: states paging (limit, after, q)
# over 2,500 states, audit events with filters and paging, force-unlock by non-admins under
# each --force-unlock policy.
#
# Run alone: tests/suites/78-console-api.sh   (CONSOLE_MODES="embedded" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
. "$TOP/tests/lib/tls.sh"
W=$(mktemp -d /tmp/stated-console.XXXXXX)
trap 'stated_cleanup; rm -rf "$W"' EXIT

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip console "$tool not found"; t_done; exit; }
done
[ -x "$BIN/stated" ] || { fail console "build/bin/stated missing; build with make"; t_done; exit; }

CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
JAR=$W/jar

# req METHOD PATH [CURL-ARGS...]: status in $ST, body in $W/b, headers in $W/h.
req() {
  local m=$1 p=$2
  shift 2
  rm -f "$W/b" # curl writes no file for an answer without a body
  ST=$(curl -sk -o "$W/b" -D "$W/h" -w '%{http_code}' --max-time 20 --path-as-is -X "$m" "$@" "$STATED_URL$p")
}
# as_admin METHOD PATH [CURL-ARGS...]: with the admin token.
as_admin() {
  local m=$1 p=$2
  shift 2
  req "$m" "$p" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"
}
# header NAME: the value of a response header of the last req (first one).
header() { grep -i "^$1:" "$W/h" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
# login TOKEN [JAR [CURL-ARGS...]]: POST /v1/session; the CSRF token in $CSRF.
login() {
  local tok=$1 jar=${2:-$JAR}
  shift $(($# < 2 ? $# : 2))
  req POST /v1/session -c "$jar" -H 'content-type: application/json' --data "{\"token\":\"$tok\"}" "$@"
  CSRF=$(jq -r '.csrf // empty' "$W/b" 2>/dev/null)
}
# with_cookie METHOD PATH [CURL-ARGS...]: with the session cookie of $JAR (kept up to date).
with_cookie() {
  local m=$1 p=$2
  shift 2
  req "$m" "$p" -b "$JAR" -c "$JAR" "$@"
}
expect_st() { # NAME WANT
  if [ "$ST" = "$2" ]; then pass "$1"; else fail "$1" "status $ST, want $2: $(head -c 200 "$W/b")"; fi
}
mkstate() { # SERIAL LINEAGE [OUTPUT]
  printf '{"version":4,"terraform_version":"1.11.4","serial":%s,"lineage":"%s","outputs":{"o":{"value":"%s","type":"string"}},"resources":[]}' "$1" "$2" "${3:-x}"
}
put_state() { # NAME SERIAL
  mkstate "$2" "lin-$1" >"$W/state.json"
  as_admin POST "/v1/states/$1" --data-binary "@$W/state.json"
}
new_token() { # NAME ROLE [PATTERN]: its secret in $SECRET
  as_admin POST /v1/tokens -H 'content-type: application/json' \
    --data "{\"name\":\"$1\",\"role\":\"$2\",\"states\":\"${3:-**}\"}"
  SECRET=$(jq -r '.token // empty' "$W/b")
}
lockinfo() { # ID WHO
  printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"console test","Who":"%s","Version":"1.11.4","Created":"%s","Path":"p/terraform.tfstate"}' \
    "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
lock_as() { # TOKEN NAME ID: LOCK through the protocol, status in $ST
  lockinfo "$3" "someone@ci" >"$W/lock.json"
  req LOCK "/v1/states/$2/lock" -u "ci:$1" --data-binary "@$W/lock.json"
}

# ------------------------------------------------------------------ pages

assets_checks() {
  local t=console/$M/assets
  req GET /ui/
  expect_st "$t /ui/ 200" 200
  expect_eq "$t CSP exact" "$(header content-security-policy)" "$CSP"
  expect_eq "$t nosniff" "$(header x-content-type-options)" nosniff
  expect_eq "$t X-Frame-Options" "$(header x-frame-options)" DENY
  expect_eq "$t Referrer-Policy" "$(header referrer-policy)" no-referrer
  expect_eq "$t index content type" "$(header content-type)" "text/html; charset=utf-8"
  expect_eq "$t Cache-Control no-cache" "$(header cache-control)" no-cache
  cmp -s "$W/b" "$TOP/ui/index.html" && pass "$t /ui/ is ui/index.html" || fail "$t /ui/ is ui/index.html" "bytes differ"
  req GET /ui/app.js
  expect_eq "$t app.js content type" "$(header content-type)" "text/javascript; charset=utf-8"
  cmp -s "$W/b" "$TOP/ui/app.js" && pass "$t app.js bytes" || fail "$t app.js bytes" "differ"
  local etag
  etag=$(header etag)
  [ -n "$etag" ] && pass "$t ETag" || fail "$t ETag" "none"
  req GET /ui/app.js -H "If-None-Match: $etag"
  expect_st "$t If-None-Match 304" 304
  [ ! -s "$W/b" ] && pass "$t 304 has no body" || fail "$t 304 has no body" "$(wc -c <"$W/b") bytes"
  expect_eq "$t 304 keeps the CSP" "$(header content-security-policy)" "$CSP"
  req GET /ui/app.js -H 'If-None-Match: "other"'
  expect_st "$t other ETag 200" 200
  req GET /ui
  expect_st "$t /ui 301" 301
  expect_eq "$t /ui Location relative" "$(header location)" "ui/"
  req GET /ui/nope.js
  expect_st "$t unknown file 404" 404
  expect_eq "$t 404 keeps the CSP" "$(header content-security-policy)" "$CSP"
  local p
  for p in "/ui/../v1/states" "/ui/%2e%2e/v1/states" "/ui/..%2fv1%2fstates" "/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd" \
    "/ui//index.html" "/ui/./index.html" "/ui/index.html%00" "/ui/index.html/"; do
    req GET "$p" -H "Authorization: Bearer $ADMIN_TOKEN"
    expect_st "$t traversal $p 404" 404
  done
  req POST /ui/index.html
  expect_st "$t POST on a page 405" 405
  ST=$(curl -s -I -o "$W/h" -w '%{http_code}' --max-time 10 "$STATED_URL/ui/app.js")
  expect_eq "$t HEAD: status and length, no body" "$ST $(header content-length)" "200 $(wc -c <"$TOP/ui/app.js" | tr -d ' ')"
}

# ------------------------------------------------------------------ sessions

session_checks() {
  local t=console/$M/session
  rm -f "$JAR"
  login "$ADMIN_TOKEN"
  expect_st "$t sign-in 200" 200
  expect_eq "$t document" "$(jq -r '[.name,.role,.states,(.csrf|length>20),(.idle_expires|test("Z$")),(.expires|test("Z$"))]|join(" ")' "$W/b")" "admin admin ** true true true"
  grep -q "$ADMIN_TOKEN" "$W/b" && fail "$t token not in the answer" "it is" || pass "$t token not in the answer"
  local sc
  sc=$(header set-cookie)
  case "$sc" in stated_session=?*) pass "$t cookie set" ;; *) fail "$t cookie set" "$sc" ;; esac
  for a in "Path=/" "HttpOnly" "SameSite=Strict"; do
    case "; $sc;" in *"; $a;"*) pass "$t cookie $a" ;; *) fail "$t cookie $a" "$sc" ;; esac
  done
  case "$sc" in *Secure*) fail "$t no Secure over plain HTTP" "$sc" ;; *) pass "$t no Secure over plain HTTP" ;; esac
  COOKIE=$(printf '%s' "$sc" | sed 's/^stated_session=//; s/;.*//')
  with_cookie GET /v1/session
  expect_st "$t GET document" 200
  expect_eq "$t same CSRF" "$(jq -r .csrf "$W/b")" "$CSRF"
  with_cookie GET /v1/states
  expect_st "$t cookie lists states" 200
  with_cookie GET /v1/whoami
  expect_eq "$t cookie whoami" "$(jq -r .name "$W/b")" admin
  # The state protocol keeps Authorization only.
  put_state console/one 1
  with_cookie GET /v1/states/console/one
  expect_st "$t cookie refused by the protocol" 401
  with_cookie POST /v1/states/console/one -H "X-CSRF-Token: $CSRF" --data-binary "@$W/state.json"
  expect_st "$t cookie+CSRF refused by the protocol write" 401
  # CSRF: a change with the cookie needs the token.
  with_cookie POST /v1/tokens -H 'content-type: application/json' --data '{"name":"csrf-a","role":"read","states":"**"}'
  expect_st "$t token create without CSRF 403" 403
  expect_eq "$t CSRF message" "$(jq -r .message "$W/b")" "missing or wrong CSRF token"
  with_cookie POST /v1/tokens -H "X-CSRF-Token: ${CSRF}x" -H 'content-type: application/json' --data '{"name":"csrf-a","role":"read","states":"**"}'
  expect_st "$t token create wrong CSRF 403" 403
  as_admin GET /v1/tokens
  expect_eq "$t nothing created" "$(jq '[.[]|select(.name=="csrf-a")]|length' "$W/b")" 0
  lock_as "$ADMIN_TOKEN" console/one L1
  with_cookie DELETE "/v1/locks/console/one?reason=x"
  expect_st "$t force-unlock without CSRF 403" 403
  as_admin GET /v1/locks
  expect_eq "$t lock still held" "$(jq '[.[]|select(.state=="console/one")]|length' "$W/b")" 1
  with_cookie DELETE "/v1/locks/console/one?reason=console+test" -H "X-CSRF-Token: $CSRF"
  expect_st "$t force-unlock with CSRF 200" 200
  with_cookie POST /v1/tokens -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' --data '{"name":"csrf-a","role":"read","states":"**"}'
  expect_st "$t token create with CSRF 201" 201
  # Authorization wins over the cookie (no CSRF needed, the header's identity).
  new_token reader-auth read
  req GET /v1/whoami -b "$JAR" -H "Authorization: Bearer $SECRET"
  expect_eq "$t Authorization wins" "$(jq -r .name "$W/b")" reader-auth
  req POST /v1/tokens -b "$JAR" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' --data '{"name":"csrf-b","role":"read","states":"**"}'
  expect_st "$t Authorization needs no CSRF" 201
  # A cookie that is not ours.
  req GET /v1/session -H "Cookie: stated_session=${COOKIE%??????????}AAAAAAAAAA"
  expect_st "$t tampered cookie 401" 401
  req GET /v1/states -H "Cookie: stated_session=garbage"
  expect_st "$t garbage cookie on the API 401" 401
  req GET /v1/session
  expect_st "$t no cookie 401" 401
  expect_eq "$t 401 is the JSON error" "$(jq -r .code "$W/b")" INFRA_003
  # Sign-out needs the CSRF token, then the browser's cookie is gone.
  with_cookie DELETE /v1/session
  expect_st "$t sign-out without CSRF 403" 403
  with_cookie DELETE /v1/session -H "X-CSRF-Token: $CSRF"
  expect_st "$t sign-out 200" 200
  case "$(header set-cookie)" in *"Max-Age=0"*) pass "$t sign-out clears the cookie" ;; *) fail "$t sign-out clears the cookie" "$(header set-cookie)" ;; esac
  with_cookie GET /v1/session
  expect_st "$t signed out: refused" 401
  # Wrong tokens.
  login "wrong-$RANDOM"
  expect_st "$t wrong token 401" 401
  expect_eq "$t wrong token INFRA_003" "$(jq -r .code "$W/b")" INFRA_003
  req POST /v1/session --data 'not json'
  expect_st "$t bad body 400" 400
}

# A revoked token ends its session at once; a read token's session may only read.
session_roles() {
  local t=console/$M/roles
  new_token console-reader read "console/**"
  local reader=$SECRET
  rm -f "$JAR"
  login "$reader"
  expect_st "$t reader sign-in" 200
  expect_eq "$t reader role" "$(jq -r .role "$W/b")" read
  with_cookie GET /v1/states
  expect_st "$t reader lists" 200
  with_cookie POST "/v1/restore/console/one?id=latest&reason=x" -H "X-CSRF-Token: $CSRF"
  expect_st "$t reader restore 403" 403
  lock_as "$ADMIN_TOKEN" console/one L2
  with_cookie DELETE "/v1/locks/console/one?reason=x" -H "X-CSRF-Token: $CSRF"
  expect_st "$t reader force-unlock 403" 403
  with_cookie GET /v1/tokens
  expect_st "$t reader tokens list 403" 403
  with_cookie POST /v1/tokens -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' --data '{"name":"r-made","role":"admin","states":"**"}'
  expect_st "$t reader token create 403" 403
  console_role_api_checks
  as_admin DELETE "/v1/locks/console/one"
  as_admin DELETE /v1/tokens/console-reader
  expect_st "$t revoke" 200
  with_cookie GET /v1/states
  expect_st "$t revoked: session dead at once" 401
  with_cookie GET /v1/session
  expect_st "$t revoked: document refused" 401
}

# Nothing secret in the log or the audit trail.
secrets_checks() {
  local t=console/$M/secrets
  sleep 0.3 # the audit flusher
  as_admin GET /v1/audit/export
  cp "$W/b" "$W/audit.jsonl"
  local f found
  for f in "$STATED_LOG" "$W/audit.jsonl"; do
    found=
    for s in "$ADMIN_TOKEN" "$COOKIE" "$CSRF" "${COOKIE:0:40}"; do
      [ -n "$s" ] && grep -qF -- "$s" "$f" && found="$found ${s:0:6}…"
    done
    [ -z "$found" ] && pass "$t none in $(basename "$f")" || fail "$t none in $(basename "$f")" "found:$found"
  done
  for a in session-create session-end; do
    grep -q "\"action\":\"$a\"" "$W/audit.jsonl" && pass "$t $a audited" || fail "$t $a audited" "no event"
  done
}

# ------------------------------------------------------------------ instances of their own

# Wrong tokens at sign-in count as failed logins: past the limit, 429 even for a good one.
ratelimit_checks() {
  local t=console/ratelimit
  stated_start embedded --failed-logins-per-minute 3 || { fail "$t start" "stated did not start"; return; }
  local i codes=""
  for i in 1 2 3 4; do
    login "bad-$i-$RANDOM"
    codes="$codes $ST"
  done
  expect_eq "$t wrong tokens then limited" "$codes" " 401 401 401 429"
  login "$ADMIN_TOKEN"
  expect_st "$t good token refused while limited" 429
  [ -n "$(header retry-after)" ] && pass "$t Retry-After" || fail "$t Retry-After" "none"
  stated_cleanup
}

# --session-idle 2s: use keeps a session alive, two idle seconds end it.
idle_checks() {
  local t=console/idle
  stated_start embedded --session-idle 2s || { fail "$t start" "stated did not start"; return; }
  rm -f "$JAR"
  login "$ADMIN_TOKEN"
  expect_st "$t sign-in" 200
  sleep 1.2
  with_cookie GET /v1/states
  expect_st "$t used after 1.2s" 200
  [ -n "$(header set-cookie)" ] && pass "$t cookie re-issued" || fail "$t cookie re-issued" "no Set-Cookie"
  sleep 1.2
  with_cookie GET /v1/session
  expect_st "$t alive 2.4s after sign-in (used)" 200
  sleep 2.3
  with_cookie GET /v1/states
  expect_st "$t idle 2.3s: expired" 401
  case "$(jq -r .message "$W/b")" in *expired*) pass "$t says expired" ;; *) fail "$t says expired" "$(cat "$W/b")" ;; esac
  stated_cleanup
}

# Under TLS the cookie is Secure, over HTTP/1.1 and HTTP/2 alike (h2o splits nothing we need:
# the cookie, the CSRF token and If-None-Match reach the routes the same way).
tls_checks() {
  local t=console/tls certs=$W/certs
  command -v openssl >/dev/null || { skip "$t" "openssl not found"; return; }
  tls_make_certs "$certs" >/dev/null 2>&1 || { fail "$t certificates" "openssl failed"; return; }
  stated_start embedded --http2 --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" ||
    { fail "$t start" "stated did not start with TLS"; return; }
  local v
  for v in --http1.1 --http2; do
    rm -f "$JAR"
    login "$ADMIN_TOKEN" "$JAR" "$v"
    expect_st "$t $v sign-in" 200
    case "$(header set-cookie)" in *"; Secure"*) pass "$t $v cookie Secure" ;; *) fail "$t $v cookie Secure" "$(header set-cookie)" ;; esac
    with_cookie GET /v1/whoami "$v"
    expect_eq "$t $v cookie works" "$ST $(jq -r .name "$W/b")" "200 admin"
    with_cookie POST /v1/tokens "$v" -H 'content-type: application/json' --data "{\"name\":\"tls${v//-/}\",\"role\":\"read\",\"states\":\"**\"}"
    expect_st "$t $v no CSRF 403" 403
    with_cookie POST /v1/tokens "$v" -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' --data "{\"name\":\"tls${v//-/}\",\"role\":\"read\",\"states\":\"**\"}"
    expect_st "$t $v with CSRF 201" 201
    req GET /ui/ "$v"
    expect_eq "$t $v CSP" "$(header content-security-policy)" "$CSP"
    req GET /ui/ "$v" -H "If-None-Match: $(header etag)"
    expect_st "$t $v 304" 304
  done
  stated_cleanup
}

# Behind a trusted proxy that terminates TLS: Secure when it says https; an untrusted peer's
# X-Forwarded-Proto is ignored.
proxy_checks() {
  local t=console/proxy
  stated_start embedded --trusted-proxies 127.0.0.1 || { fail "$t start" "no start"; return; }
  login "$ADMIN_TOKEN" "$JAR" -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https'
  case "$(header set-cookie)" in *"; Secure"*) pass "$t https behind the proxy: Secure" ;; *) fail "$t https behind the proxy: Secure" "$(header set-cookie)" ;; esac
  login "$ADMIN_TOKEN" "$JAR" -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: http'
  case "$(header set-cookie)" in *Secure*) fail "$t http behind the proxy: not Secure" "$(header set-cookie)" ;; *) pass "$t http behind the proxy: not Secure" ;; esac
  stated_cleanup
  stated_start embedded || { fail "$t start 2" "no start"; return; }
  login "$ADMIN_TOKEN" "$JAR" -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https'
  case "$(header set-cookie)" in *Secure*) fail "$t untrusted X-Forwarded-Proto ignored" "$(header set-cookie)" ;; *) pass "$t untrusted X-Forwarded-Proto ignored" ;; esac
  stated_cleanup
}

# One --session-key-file, two instances on one data dir: a cookie of A opens on B; an
# instance with another key refuses it.
shared_key_checks() {
  local t=console/shared-key keyf=$W/session.key other=$W/other.key
  head -c 32 /dev/urandom | base64 >"$keyf"
  head -c 32 /dev/urandom | base64 >"$other"
  local data
  data=$(mktemp -d /tmp/stated-console-data.XXXXXX)
  ADMIN_TOKEN_FIXED=admintoken-shared-$RANDOM$RANDOM
  stated_start embedded --data-dir "$data" --session-key-file "$keyf" || { fail "$t start A" "no start"; return; }
  local a_pid=$STATED_PID a_url=$STATED_URL a_data=$STATED_DATA
  rm -f "$JAR"
  login "$ADMIN_TOKEN"
  expect_st "$t sign-in on A" 200
  STATED_PID= # keep A running while B starts
  stated_start embedded --data-dir "$data" --session-key-file "$keyf" || { fail "$t start B" "no start"; return; }
  [ "$STATED_URL" != "$a_url" ] && pass "$t two instances" || fail "$t two instances" "same URL"
  with_cookie GET /v1/session
  expect_st "$t A's cookie opens on B" 200
  expect_eq "$t same CSRF on B" "$(jq -r .csrf "$W/b")" "$CSRF"
  with_cookie POST /v1/tokens -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' --data '{"name":"from-b","role":"read","states":"**"}'
  expect_st "$t change on B with A's CSRF" 201
  stated_cleanup
  stated_start embedded --data-dir "$data" --session-key-file "$other" || { fail "$t start C" "no start"; return; }
  with_cookie GET /v1/session
  expect_st "$t another key refuses it" 401
  stated_cleanup
  kill -TERM "$a_pid" 2>/dev/null
  wait "$a_pid" 2>/dev/null
  rm -rf "$a_data" "$data"
  unset ADMIN_TOKEN_FIXED
}

# ------------------------------------------------------------------ the API the pages use

console_role_api_checks() {
  with_cookie GET /v1/audit/events
  expect_st "console/$M/roles reader audit events 403" 403
}

# N states page/sNNNN written by curl in parallel from one config file; prints "COUNT STATUS"
# lines.
write_many() { # N
  local i cfg=$W/many.curl
  mkstate 1 lin-many >"$W/many.json"
  : >"$cfg"
  for i in $(seq -f '%04g' 1 "$1"); do
    [ "$i" = 0001 ] || echo next >>"$cfg"
    printf 'url = "%s/v1/states/page/s%s"\nrequest = "POST"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nheader = "Authorization: Bearer %s"\n' \
      "$STATED_URL" "$i" "$W/many.json" "$ADMIN_TOKEN" >>"$cfg"
  done
  curl -s --no-progress-meter --parallel --parallel-max 8 -K "$cfg" | sort | uniq -c | tr -s ' '
}

# walk SIZE MAXPAGES: follows X-Next-After from the first page; names in $W/names, pages in
# $PAGES; FAIL when a page's header is not its last name.
walk() {
  local size=$1 max=$2 after=""
  PAGES=0
  : >"$W/names"
  while [ "$PAGES" -lt "$max" ]; do
    as_admin GET "/v1/states?prefix=page/&limit=$size${after:+&after=$after}"
    [ "$ST" = 200 ] || { fail "console/$M/paging page $PAGES" "status $ST"; return; }
    jq -r '.[].name' "$W/b" >>"$W/names"
    PAGES=$((PAGES + 1))
    after=$(header x-next-after)
    [ -n "$after" ] || return
    [ "$(jq -r '.[-1].name' "$W/b")" = "$after" ] || { fail "console/$M/paging X-Next-After is the last name" "$after"; return; }
  done
}
in_order_once() { [ "$(sort -u "$W/names" | wc -l)" = "$(wc -l <"$W/names")" ] && sort -c "$W/names"; }

paging_checks() {
  local t=console/$M/paging n=2500
  [ "$M" = embedded ] || n=150 # an S3 write is a few round trips: fewer, same checks
  local t0=$SECONDS out
  out=$(write_many "$n")
  expect_eq "$t $n states written ($((SECONDS - t0))s)" "$out" " $n 200"
  as_admin GET "/v1/states?prefix=page/"
  expect_eq "$t no limit: all, as before" "$(jq length "$W/b")" "$n"
  [ -z "$(header x-next-after)" ] && pass "$t no limit: no X-Next-After" || fail "$t no limit: no X-Next-After" "$(header x-next-after)"
  jq -r '.[].name' "$W/b" >"$W/all"
  walk 1000 10
  expect_eq "$t limit 1000: pages" "$PAGES" $(((n + 999) / 1000))
  cmp -s "$W/names" "$W/all" && pass "$t limit 1000: every state once, in order" || fail "$t limit 1000: every state once, in order" "$(wc -l <"$W/names") names"
  walk 7 12
  check "$t limit 7: consecutive pages in order, no repeats" in_order_once
  expect_eq "$t limit 7: the first 84" "$(head -n 84 "$W/all" | cmp -s - "$W/names" && echo same)" same
  as_admin GET "/v1/states?prefix=page/&limit=5&after=page/s0010"
  expect_eq "$t after: strictly after" "$(jq -r '.[0].name' "$W/b")" "page/s0011"
  as_admin GET "/v1/states?prefix=page/&q=S012&limit=1000"
  expect_eq "$t q: substring, any case" "$(jq -r '[.[].name]|join(" ")' "$W/b")" "$(grep -i s012 "$W/all" | tr '\n' ' ' | sed 's/ $//')"
  as_admin GET "/v1/states?q=s0001&limit=1"
  expect_eq "$t q+limit 1: one" "$(jq -r '.[0].name' "$W/b")" "page/s0001"
  [ -z "$(header x-next-after)" ] && pass "$t the last page has no X-Next-After" || fail "$t the last page has no X-Next-After" "$(header x-next-after)"
  local l
  for l in 0 1001 -1 abc; do
    as_admin GET "/v1/states?limit=$l"
    expect_st "$t limit=$l 400" 400
  done
  # A read token sees only its pattern, paged the same.
  new_token page-reader read "page/s00*"
  req GET "/v1/states?limit=50" -H "Authorization: Bearer $SECRET"
  expect_eq "$t pattern-filtered page" "$(jq length "$W/b") $(header x-next-after)" "50 page/s0050"
  req GET "/v1/states?limit=50&after=page/s0050" -H "Authorization: Bearer $SECRET"
  expect_eq "$t pattern-filtered last page" "$(jq length "$W/b") $(header x-next-after)" "49 "
  # Time for one page (not asserted: a shared machine).
  local s1 s2
  s1=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $ADMIN_TOKEN" "$STATED_URL/v1/states?limit=50&q=s01")
  s2=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $ADMIN_TOKEN" "$STATED_URL/v1/states")
  echo "    (of $n states: a page of 50 in ${s1}s, all of them in ${s2}s)"
  # statectl keeps working (it lists without limit).
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 60 "$BIN/statectl" states list --prefix page/ >"$W/ctl.out" 2>&1
  expect_eq "$t statectl states list" "$? $(grep -c 'page/s' "$W/ctl.out")" "0 $n"
}

events_checks() {
  local t=console/$M/events
  put_state ev/a 1
  put_state ev/b 1
  new_token ev-writer write "ev/**"
  local w=$SECRET
  mkstate 2 lin-ev/a >"$W/s2.json"
  req POST /v1/states/ev/a -u "ci:$w" --data-binary "@$W/s2.json"
  sleep 0.2
  as_admin GET "/v1/audit/events"
  expect_st "$t 200" 200
  expect_eq "$t default page of 50" "$(jq '.events|length' "$W/b")" 50
  expect_eq "$t newest first" "$(jq '[.events[].seq] as $s | ($s == ($s|sort|reverse))' "$W/b")" true
  expect_eq "$t fields" "$(jq -r '.events[0]|[has("seq"),has("time"),has("action"),has("state"),has("actor"),has("user"),has("status"),has("serial"),has("sha256"),has("detail")]|all' "$W/b")" true
  [ "$(jq '.next_before' "$W/b")" != null ] && pass "$t next_before" || fail "$t next_before" "null"
  as_admin GET "/v1/audit/events?state=ev/**&action=write"
  expect_eq "$t state pattern + action" "$(jq -r '[.events[]|.state+" "+.actor]|join(",")' "$W/b")" "ev/a ev-writer,ev/b admin,ev/a admin"
  as_admin GET "/v1/audit/events?actor=writer"
  expect_eq "$t actor substring" "$(jq -r '[.events[].actor]|unique|join(",")' "$W/b")" "ev-writer"
  as_admin GET "/v1/audit/events?action=session-create"
  [ "$(jq '.events|length' "$W/b")" -ge 1 ] && pass "$t session-create events" || fail "$t session-create events" "none"
  # Paging: every event once over pages of 20, the first page matching the whole list.
  as_admin GET "/v1/audit/events?limit=500"
  jq -r '.events[].seq' "$W/b" >"$W/all.seq"
  local before="" seqs=$W/paged.seq pages=0
  : >"$seqs"
  while [ "$pages" -lt 100 ]; do
    as_admin GET "/v1/audit/events?limit=$([ $pages -lt 3 ] && echo 20 || echo 500)${before:+&before=$before}"
    jq -r '.events[].seq' "$W/b" >>"$seqs"
    pages=$((pages + 1))
    before=$(jq -r '.next_before // empty' "$W/b")
    [ -n "$before" ] || break
  done
  local total
  total=$(tail -n 1 "$seqs")
  expect_eq "$t paging reaches seq 1" "$total" 1
  expect_eq "$t paging: no gaps, no repeats" "$(sort -n "$seqs" | uniq | wc -l) $(head -n 1 "$seqs")" "$(wc -l <"$seqs" | tr -d ' ') $(head -n 1 "$seqs")"
  expect_eq "$t consecutive seqs" "$(awk 'NR>1 && $1 != prev-1 {bad++} {prev=$1} END {print bad+0}' "$seqs")" 0
  # Time range: since in the future finds nothing; until in the past nothing.
  as_admin GET "/v1/audit/events?since=2999-01-01"
  expect_eq "$t since future: none" "$(jq '.events|length' "$W/b") $(jq .next_before "$W/b")" "0 null"
  as_admin GET "/v1/audit/events?until=2000-01-01"
  expect_eq "$t until past: none" "$(jq '.events|length' "$W/b")" 0
  as_admin GET "/v1/audit/events?since=2000-01-01&until=2999-01-01&limit=1"
  expect_eq "$t range: the newest" "$(jq '.events|length' "$W/b")" 1
  local p
  for p in "limit=501" "limit=0" "before=x" "before=0" "since=yesterday"; do
    as_admin GET "/v1/audit/events?$p"
    expect_st "$t $p 400" 400
  done
  req GET /v1/audit/events -H "Authorization: Bearer $w"
  expect_st "$t writer 403" 403
  sleep 0.2
  as_admin GET "/v1/audit/events?action=audit-events&limit=1"
  expect_eq "$t the listing is itself audited" "$(jq -r '.events[0].action' "$W/b")" audit-events
}

# DELETE /v1/locks/NAME by a non-admin under the running policy ($1), reason recorded.
unlock_matrix() {
  local policy=$1 t="console/$M/force-unlock/$1"
  new_token "fu-holder-$policy" write "fu/**"
  local holder=$SECRET
  new_token "fu-other-$policy" write "fu/**"
  local other=$SECRET
  new_token "fu-plan-$policy" plan "fu/**"
  local plan=$SECRET
  new_token "fu-read-$policy" read "fu/**"
  local reader=$SECRET
  # want: holder other plan-on-holder's reader, then admin always
  local w_holder w_other w_plan=403 w_read=403
  case $policy in
    holder-or-admin) w_holder=200 w_other=403 ;;
    any) w_holder=200 w_other=200 ;;
    never) w_holder=423 w_other=423 w_plan=423 ;;
  esac
  local who tok want
  for who in holder other plan reader admin; do
    case $who in
      holder) tok=$holder want=$w_holder ;;
      other) tok=$other want=$w_other ;;
      plan) tok=$plan want=$w_plan ;;
      reader) tok=$reader want=403 ;;
      admin) tok=$ADMIN_TOKEN want=200 ;;
    esac
    lock_as "$holder" fu/x "LK-$who"
    [ "$ST" = 200 ] || { fail "$t lock for $who" "status $ST"; continue; }
    rm -f "$JAR"
    login "$tok"
    with_cookie DELETE "/v1/locks/fu/x?reason=stuck+job+$who" -H "X-CSRF-Token: $CSRF"
    expect_st "$t $who" "$want"
    if [ "$want" = 200 ]; then
      expect_eq "$t $who released" "$(jq -r '[.released,.id,.reason]|join(" ")' "$W/b")" "true LK-$who stuck job $who"
    else
      as_admin GET /v1/locks
      expect_eq "$t $who: lock kept" "$(jq -r '.[]|select(.state=="fu/x")|.id' "$W/b")" "LK-$who"
      as_admin DELETE "/v1/locks/fu/x"
    fi
  done
  sleep 0.2
  as_admin GET "/v1/audit/events?state=fu/x&action=force-unlock&limit=500"
  jq -r '.events[].detail' "$W/b" | grep -q "reason: stuck job holder" && pass "$t reason in the audit event" ||
    { [ "$w_holder" = 200 ] && fail "$t reason in the audit event" "$(jq -c '.events[0]' "$W/b")" || pass "$t reason in the audit event (refused too)"; }
}

locks_json_checks() {
  local t=console/$M/locks
  put_state lj/a 1
  lock_as "$ADMIN_TOKEN" lj/a LJ1
  as_admin GET /v1/locks
  expect_eq "$t lock info fields" "$(jq -r '.[]|select(.state=="lj/a")|[.id,.who,.operation,.info,.version,.path]|join("|")' "$W/b")" \
    "LJ1|someone@ci|OperationTypeApply|console test|1.11.4|p/terraform.tfstate"
  as_admin GET "/v1/states?prefix=lj/"
  expect_eq "$t states list lock" "$(jq -r '.[0].lock|[.id,.owner,.info]|join("|")' "$W/b")" "LJ1|admin|console test" 2>/dev/null
  as_admin DELETE /v1/locks/lj/a
}

console_api_checks() {
  paging_checks
  events_checks
  locks_json_checks
  unlock_matrix holder-or-admin
}

# The two other policies, each on an instance of its own.
policy_checks() {
  local p
  for p in any never; do
    M=embedded
    stated_start embedded --force-unlock "$p" || { fail "console/force-unlock/$p start" "no start"; continue; }
    unlock_matrix "$p"
    stated_cleanup
  done
}

run_mode() {
  M=$1
  stated_start "$M" || { fail "console/$M start" "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"; return; }
  assets_checks
  session_checks
  session_roles
  console_api_checks
  secrets_checks
  stated_cleanup
}


for M in ${CONSOLE_MODES:-embedded s3pg}; do
  if mode_available "$M"; then
    run_mode "$M"
  else
    skip "console/$M" "mode $M needs PostgreSQL and Ceph RGW (S3_ENDPOINT/PG_CONNINFO unset)"
    echo "!!! SKIPPED console/$M: services not available" >&2
  fi
done
policy_checks
ratelimit_checks
idle_checks
tls_checks
proxy_checks
shared_key_checks
t_done
