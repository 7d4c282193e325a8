#!/bin/bash
# 80-console: the web console in a real browser (Debian's chromium, headless, driven by
# puppeteer-core from tests/ui/node_modules) against a real stated in embedded mode.
#
# The states are written here with curl, as Terraform writes them (version 4 JSON, LOCK with
# lock info); tests/ui/console.test.mjs then signs in and checks every page: the states list
# (filters, pages, lock badges), a state with 3 versions, the diff of v1 -> v3 (old and new
# value of an attribute), a sensitive output masked and absent from the page, restore as admin,
# force-unlock, the audit filters and chain check, tokens, sign-out; a read token's console
# without restore or force-unlock controls and the API refusing both; a hostile state whose
# names, values and lock Who hold <script>, <img onerror> and javascript: rendered as text with
# no dialog; the CSP header; the cookie's HttpOnly and SameSite=Strict; empty web storage.
# Screenshots of each page at 1280 and 390 px go to build/ui-screens/.
#
# Needs node, tests/ui/node_modules (npm ci --prefix tests/ui, done by tests/env/install-deps.sh)
# and chromium (apt-get install chromium); without them: SKIPPED, loudly.
#
# Run alone: TOP=$PWD BIN=$PWD/build/bin tests/suites/80-console.sh   (after make)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-console.XXXXXX)
trap 'stated_cleanup; rm -rf "$W"' EXIT

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
skip_all() {
  skip console-web "$1"
  echo "!!! SKIPPED console-web: $1" >&2
  t_done
  exit 0
}
for tool in curl jq; do
  command -v "$tool" >/dev/null || skip_all "$tool not found"
done
command -v node >/dev/null || skip_all "node not found (apt-get install nodejs npm)"
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || skip_all "chromium not found (apt-get install chromium)"
if [ ! -f "$TOP/tests/ui/node_modules/puppeteer-core/package.json" ]; then
  if command -v npm >/dev/null; then
    timeout 180 npm ci --prefix "$TOP/tests/ui" --no-audit --no-fund >"$W/npm.log" 2>&1 ||
      echo "80-console: npm ci --prefix tests/ui failed: $(tail -n 2 "$W/npm.log" | tr '\n' ' ')" >&2
  fi
  [ -f "$TOP/tests/ui/node_modules/puppeteer-core/package.json" ] ||
    skip_all "puppeteer-core not installed (npm ci --prefix tests/ui)"
fi
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail console-web "build/bin/stated missing; build with make"
  t_done
  exit
fi

# The pages' source: nothing that parses HTML or evaluates text, nothing kept in web storage.
bad=$(grep -n -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|setTimeout\(["'"'"'`]|localStorage\.|sessionStorage\.' "$TOP"/ui/*.js || true)
if [ -z "$bad" ]; then pass "console-web/ui/*.js never parse HTML, eval text or use web storage"; else fail "console-web/ui/*.js never parse HTML, eval text or use web storage" "$(echo "$bad" | head -n 3 | tr '\n' ' ')"; fi
bad=$(grep -n -i -E '<script>|<script [^>]*>[^<]|[[:space:]]style=|<style|[[:space:]]on[a-z]+=' "$TOP"/ui/*.html || true)
if [ -z "$bad" ]; then pass "console-web/ui/*.html has no inline script, style or handler"; else fail "console-web/ui/*.html has no inline script, style or handler" "$(echo "$bad" | head -n 3 | tr '\n' ' ')"; fi

if ! stated_start embedded; then
  fail console-web/start "stated did not start"
  t_done
  exit
fi
U=$STATED_URL

# post NAME FILE [USER]: write a state as a Terraform client; prints the status.
post() {
  curl -s -o "$W/post.out" -w '%{http_code}' --max-time 10 -u "${3:-ci}:$ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$2" "$U/v1/states/$1"
}
# lock NAME ID WHO INFO: LOCK as Terraform does; prints the status.
lock() {
  jq -n --arg id "$2" --arg who "$3" --arg info "$4" --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{ID: $id, Operation: "OperationTypeApply", Info: $info, Who: $who, Version: "1.11.4", Created: $t, Path: ""}' >"$W/lock.json"
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X LOCK -u "ci:$ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$W/lock.json" "$U/v1/states/$1"
}

# app/web: three versions of a terraform_data state. The secret is in a sensitive output and
# in a sensitive attribute (triggers_replace), different in each version.
SECRET1=s3cr3t-one-$RANDOM$RANDOM
SECRET2=s3cr3t-two-$RANDOM$RANDOM
SECRET3=s3cr3t-three-$RANDOM$RANDOM
app_state() { # SERIAL VALUE SECRET [extra resource: yes]
  jq -n --argjson serial "$1" --arg v "$2" --arg s "$3" --arg extra "${4:-}" '
    def tfdata(name; input; key): {mode: "managed", type: "terraform_data", name: name,
      provider: "provider[\"terraform.io/builtin/terraform\"]",
      instances: [({schema_version: 0,
        attributes: {id: ("2f1c3a7e-" + name), input: {value: input, type: "string"},
                     output: {value: input, type: "string"}, triggers_replace: {value: [$s], type: ["tuple", ["string"]]}},
        sensitive_attributes: [[{type: "get_attr", value: "triggers_replace"}]]} + (if key == null then {} else {index_key: key} end))]};
    {version: 4, terraform_version: "1.11.4", serial: $serial, lineage: "0c9d5e2a-1b7f-4c3e-9a41-6f2d8e0b7a15",
     outputs: {greeting: {value: ("hello-" + $v), type: "string"},
               db_password: {value: $s, type: "string", sensitive: true}},
     resources: ([tfdata("a"; $v; null)] + (if $extra == "yes" then [tfdata("b"; "new-" + $v; 0)] else [] end)),
     check_results: null}'
}
app_state 1 one "$SECRET1" >"$W/app1.json"
app_state 2 two "$SECRET2" >"$W/app2.json"
app_state 3 three "$SECRET3" yes >"$W/app3.json"
for i in 1 2 3; do
  [ "$(post app/web "$W/app$i.json")" = 200 ] || fail "console-web/setup app/web v$i" "$(cat "$W/post.out")"
done

# A hostile state: every name, value and the lock's Who/Info try to become HTML or a link.
XS='<script>alert(1)</script>'
XI='<img src=x onerror=alert(1)>'
XJ='javascript:alert(1)'
hostile_state() { # SERIAL VALUE
  jq -n --argjson serial "$1" --arg xs "$XS" --arg xi "$XI" --arg xj "$XJ" --arg v "$2" '
    {version: 4, terraform_version: "1.11.4", serial: $serial, lineage: "6e1f0b9c-hostile",
     outputs: {($xs): {value: $xi, type: "string"}, ($xj): {value: $xj, type: "string"},
               ($xi): {value: [$xs, $xj], type: ["list", "string"]}},
     resources: [{mode: "managed", type: $xs, name: $xi, provider: ("provider[\"" + $xj + "\"]"),
       instances: [{schema_version: 0, index_key: $xj,
         attributes: {id: $xi, link: $xj, html: $v, ($xs): $xi}, sensitive_attributes: []}]}]}'
}
hostile_state 1 "$XS" >"$W/h1.json"
hostile_state 2 "$XI" >"$W/h2.json"
[ "$(post hostile/x "$W/h1.json" "$XS")" = 200 ] || fail console-web/setup "hostile v1: $(cat "$W/post.out")"
[ "$(post hostile/x "$W/h2.json" "$XI")" = 200 ] || fail console-web/setup "hostile v2: $(cat "$W/post.out")"
[ "$(lock hostile/x 11111111-hostile "$XS" "$XI $XJ")" = 200 ] || fail console-web/setup "hostile lock"

# Two locked states: one the admin force-unlocks, one the read token looks at.
plain_state() { # SERIAL
  jq -n --argjson serial "$1" '{version: 4, terraform_version: "1.11.4", serial: $serial,
    lineage: "3b8e51c2-plain", outputs: {}, resources: []}'
}
plain_state 1 >"$W/plain.json"
for n in locked/app locked/keep; do
  [ "$(post "$n" "$W/plain.json")" = 200 ] || fail "console-web/setup $n" "$(cat "$W/post.out")"
done
LOCK_APP=22222222-aaaa-4bbb-8ccc-$(printf '%012d' $RANDOM)
LOCK_KEEP=33333333-aaaa-4bbb-8ccc-$(printf '%012d' $RANDOM)
[ "$(lock locked/app "$LOCK_APP" other@ci "apply from pipeline 4711")" = 200 ] || fail console-web/setup "lock locked/app"
[ "$(lock locked/keep "$LOCK_KEEP" other@ci "")" = 200 ] || fail console-web/setup "lock locked/keep"

# Enough states for a second page (50 per page).
for i in $(seq -w 0 59); do
  plain_state 1 >"$W/b.json"
  post "page/s-$i" "$W/b.json" >/dev/null
done

# A read token, made the way an administrator would.
READ_TOKEN=$(curl -s --max-time 10 -u "ci:$ADMIN_TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"name":"ui-reader","role":"read","states":"**"}' "$U/v1/tokens" | jq -r '.token // empty')
[ -n "$READ_TOKEN" ] || fail console-web/setup "read token not created"
OUTPUTS_TOKEN=$(curl -s --max-time 10 -u "ci:$ADMIN_TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"name":"ui-outputs","role":"outputs","states":"app/**"}' "$U/v1/tokens" | jq -r '.token // empty')
[ -n "$OUTPUTS_TOKEN" ] || fail console-web/setup "outputs token not created"

mkdir -p "$TOP/build/ui-screens"
export STATED_URL ADMIN_TOKEN READ_TOKEN OUTPUTS_TOKEN SECRET1 SECRET2 SECRET3 LOCK_APP LOCK_KEEP CHROMIUM
export SCREENS="$TOP/build/ui-screens" DOWNLOADS="$W/downloads" STATED_DATA
# Every line the browser test prints is one check in this suite's format.
while IFS= read -r line; do
  case $line in
    "PASS "*) echo "$line"; T_PASSED=$((T_PASSED + 1)) ;;
    "FAIL "*) echo "$line"; T_FAILED=$((T_FAILED + 1)) ;;
    "SKIPPED "*) echo "$line"; T_SKIPPED=$((T_SKIPPED + 1)) ;;
    "EXIT 0") ;;
    "EXIT "*) fail console-web/browser-test "node console.test.mjs exited ${line#EXIT } (124: timed out)" ;;
    *) echo "  $line" ;;
  esac
done < <(cd "$TOP/tests/ui" && timeout 300 node console.test.mjs 2>&1; echo "EXIT $?")
grep -q . "$SCREENS"/*.png 2>/dev/null && echo "  screenshots: $SCREENS"
t_done
