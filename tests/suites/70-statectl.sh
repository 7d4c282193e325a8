#!/bin/bash
# 70-statectl: every statectl command against a real stated, in embedded mode and in s3pg mode
# (S3 on Ceph RGW + PostgreSQL locks and audit) when those services are up.
#
# Per mode: backend-config output pasted into a terraform directory that applies; states and
# snapshots listings; snapshot show (same bytes) and diff; restore refused while locked, forced
# while locked (lock kept), then a real restore followed by `terraform plan` that sees the
# restored resources; locks list and force-unlock; tokens create/list/revoke with a read token
# that can read but not write, and only its own states; audit export in jsonl and csv whose
# event count matches the requests made; and last, a tampered event found by `audit verify`.
#
# Run alone: tests/suites/70-statectl.sh   (CTL_MODES="embedded" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
. "$TOP/tests/lib/tls.sh"
E2E_TMP=$(mktemp -d /tmp/stated-ctl.XXXXXX)
. "$TOP/tests/e2e/lib.sh"
trap 'stated_cleanup; rm -rf "$E2E_TMP"' EXIT
W=$E2E_TMP
SC=$BIN/statectl

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip statectl "$tool not found"; t_done; exit; }
done
if [ ! -x "$SC" ] || ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail statectl "build/bin/stated or statectl missing; build with make"
  t_done
  exit
fi
HAVE_TF=1
if [ ! -x "$TF" ]; then
  HAVE_TF=0
  echo "!!! SKIPPED statectl terraform checks: terraform not found at $TF" >&2
fi

# ctl ARGS...: statectl with the admin token; stdout in $W/out, stderr in $W/err, exit in $RC.
ctl() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
# ctl_as TOKEN ARGS...
ctl_as() {
  local tok=$1
  shift
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$tok timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
err_tail() { tail -n 2 "$W/err" | tr '\n' ' ' | cut -c1-300; }
# expect_rc NAME WANT: checks $RC.
expect_rc() {
  if [ "$RC" = "$2" ]; then pass "$1"; else fail "$1" "exit $RC, want $2: $(err_tail)"; fi
}

# http METHOD NAME [BODY-FILE] [TOKEN]: a state request as a Terraform client; prints the status.
http() {
  local m=$1 n=$2 f=${3:-} tok=${4:-$ADMIN_TOKEN} args=()
  [ -n "$f" ] && args=(--data-binary "@$f")
  curl -s -o "$W/http.body" -w '%{http_code}' --max-time 10 -X "$m" -u "ci:$tok" "${args[@]}" \
    "$STATED_URL/v1/states/$n"
}
lockinfo() {
  printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"other@ci","Version":"1.11.4","Created":"%s","Path":""}' \
    "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
lock_as_other() { # NAME ID: prints the status
  lockinfo "$2" >"$W/lock.json"
  http LOCK "$1" "$W/lock.json"
}
unlock_as_other() { # with the full lock info: an ID-only body is a force-unlock
  lockinfo "$2" >"$W/unlock.json"
  http UNLOCK "$1" "$W/unlock.json"
}
mkstate() { # FILE SERIAL LINEAGE
  printf '{"version":4,"terraform_version":"1.11.4","serial":%s,"lineage":"%s","outputs":{},"resources":[]}' "$2" "$3" >"$1"
}

# A terraform dir whose backend block is exactly what `statectl backend-config` printed.
tf_dir_from_backend_config() { # NAME FORMAT-ARGS...
  local d
  d=$(mktemp -d "$W/tf.XXXX")
  sed '/^terraform {/,/^}/d' "$TOP/tests/e2e/main.tf" >"$d/main.tf"
  echo "$d"
}

cli_basics() {
  local t=statectl/cli
  "$SC" --help >"$W/out" 2>&1; RC=$?
  expect_rc "$t --help exits 0" 0
  grep -q 'snapshots restore' "$W/out" && pass "$t --help lists commands" || fail "$t --help lists commands" "$(head -c 200 "$W/out")"
  for c in "states list" "states outputs" "snapshots list" "snapshots show" "snapshots diff" "snapshots restore" \
    "locks list" "locks force-unlock" "audit export" "audit verify" "tokens create" "tokens list" \
    "tokens revoke" "backend-config"; do
    # shellcheck disable=SC2086
    "$SC" $c --help >"$W/out" 2>&1; RC=$?
    if [ $RC = 0 ] && grep -q "Usage: statectl $c" "$W/out"; then pass "$t $c --help"; else fail "$t $c --help" "exit $RC"; fi
  done
  "$SC" frobnicate >/dev/null 2>"$W/err"; RC=$?
  expect_rc "$t unknown command exits 2" 2
  "$SC" snapshots list >/dev/null 2>"$W/err"; RC=$?
  expect_rc "$t missing argument exits 2" 2
  "$SC" snapshots list '../x' >/dev/null 2>"$W/err"; RC=$?
  expect_rc "$t invalid state name exits 2" 2
  grep -q INFRA_001 "$W/err" && pass "$t invalid name names INFRA_001" || fail "$t invalid name names INFRA_001" "$(err_tail)"
  STATECTL_URL=http://127.0.0.1:1 "$SC" states list >/dev/null 2>"$W/err"; RC=$?
  expect_rc "$t unreachable server exits 5" 5
}

# backend-config in all formats; the hcl block and the flags are applied by real terraform.
backend_config_checks() {
  local M=$1 t="statectl/$1/backend-config" name="ctl-$1/app" d
  ctl backend-config "$name"
  expect_rc "$t hcl" 0
  grep -q "address *= \"$STATED_URL/v1/states/$name\"" "$W/out" && pass "$t hcl address" || fail "$t hcl address" "$(head -c 300 "$W/out")"
  if grep -q "$ADMIN_TOKEN" "$W/out" "$W/err"; then fail "$t never prints the token by default" "token found"; else pass "$t never prints the token by default"; fi
  cp "$W/out" "$W/backend.hcl"
  ctl backend-config "$name" --format terragrunt
  grep -q 'remote_state {' "$W/out" && grep -q 'backend = "http"' "$W/out" && pass "$t terragrunt" || fail "$t terragrunt" "$(head -c 200 "$W/out")"
  ctl backend-config "$name" --format env --with-token
  grep -q "^export TF_HTTP_PASSWORD='$ADMIN_TOKEN'" "$W/out" && pass "$t env --with-token" || fail "$t env --with-token" "no password export"
  ctl backend-config "$name" --format flags --layout gitlab
  grep -q "lock_method=POST" "$W/out" && pass "$t flags gitlab layout" || fail "$t flags gitlab layout" "$(head -c 200 "$W/out")"
  cp "$W/out" "$W/flags.gitlab"

  if [ $HAVE_TF = 0 ]; then
    skip "$t applies" "terraform not found at $TF"
    return 1
  fi
  d=$(tf_dir_from_backend_config)
  cp "$W/backend.hcl" "$d/backend.tf"
  export TF_HTTP_USERNAME=ci TF_HTTP_PASSWORD=$ADMIN_TOKEN
  if tf "$d" init -input=false && tf "$d" apply -input=false -auto-approve -var v=one; then
    pass "$t pasted hcl block: init and apply"
  else
    fail "$t pasted hcl block: init and apply" "$(tf_tail)"
    return 1
  fi
  if tf "$d" apply -input=false -auto-approve -var v=two; then pass "$t second apply"; else fail "$t second apply" "$(tf_tail)"; fi
  APP_DIR=$d

  # The gitlab-layout flags, one shell word per line, on another state.
  local d2 flags=()
  d2=$(tf_dir_from_backend_config)
  printf 'terraform {\n  backend "http" {}\n}\n' >"$d2/backend.tf"
  STATECTL_URL=$STATED_URL "$SC" backend-config "ctl-$M/gitlab" --format flags --layout gitlab >"$W/flags" 2>/dev/null
  mapfile -t flags < <(sed "s/^'//; s/'\$//" "$W/flags")
  if tf "$d2" init -input=false "${flags[@]}" && tf "$d2" apply -input=false -auto-approve; then
    pass "$t flags (gitlab layout): init and apply"
  else
    fail "$t flags (gitlab layout): init and apply" "$(tf_tail)"
  fi
  unset TF_HTTP_USERNAME TF_HTTP_PASSWORD
  return 0
}

states_and_snapshots() {
  local M=$1 t="statectl/$1" name="ctl-$1/app" s1 s2 n
  ctl states list
  expect_rc "$t states list" 0
  grep -q "^$name " "$W/out" && pass "$t states list shows $name" || fail "$t states list shows $name" "$(cat "$W/out" | head -5 | tr '\n' '|')"
  head -n 1 "$W/out" | grep -q '^NAME  *SERIAL  *SIZE  *LAST WRITE  *WRITER  *LOCK$' && pass "$t states list header" || fail "$t states list header" "$(head -n 1 "$W/out")"
  ctl states list --prefix "ctl-$M/" --output json
  n=$(jq -r --arg n "$name" '[.[] | select(.name == $n)] | length' "$W/out" 2>/dev/null)
  expect_eq "$t states list --prefix --output json" "$n" 1
  n=$(jq -r '[.[] | select(.name | startswith("ctl-") | not)] | length' "$W/out" 2>/dev/null)
  expect_eq "$t --prefix filters" "$n" 0

  ctl snapshots list "$name" --output json
  expect_rc "$t snapshots list" 0
  n=$(jq length "$W/out" 2>/dev/null)
  if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ]; then pass "$t two applies, $n snapshots"; else fail "$t snapshots count" "'$n'"; fi
  # Newest first: the second apply is [0], the first one [1].
  SNAP_NEW=$(jq -r '.[0].id' "$W/out")
  SNAP_OLD=$(jq -r '.[1].id' "$W/out")
  local sha_old serial_new
  sha_old=$(jq -r '.[1].sha256' "$W/out")
  serial_new=$(jq -r '.[0].serial' "$W/out")
  s1=$(jq -r '.[1].serial' "$W/out")
  if [ "$serial_new" -gt "$s1" ] 2>/dev/null; then pass "$t snapshots newest first"; else fail "$t snapshots newest first" "$serial_new vs $s1"; fi
  ctl snapshots list "$name"
  head -n 1 "$W/out" | grep -q '^SNAPSHOT  *SERIAL' && pass "$t snapshots list table" || fail "$t snapshots list table" "$(head -n 1 "$W/out")"

  ctl snapshots show "$name" "$SNAP_OLD"
  expect_rc "$t snapshots show" 0
  expect_eq "$t snapshots show gives the stored bytes" "$(sha256sum <"$W/out" | cut -d' ' -f1)" "$sha_old"
  ctl snapshots show "$name" "$SNAP_OLD" -o "$W/old.tfstate"
  expect_eq "$t snapshots show -o FILE" "$(sha256sum <"$W/old.tfstate" | cut -d' ' -f1)" "$sha_old"
  ctl snapshots show "$name" "1763778013123456-1-000000000000"
  expect_rc "$t snapshots show of a missing snapshot exits 3" 3

  ctl snapshots diff "$name" "$SNAP_OLD" "$SNAP_NEW"
  expect_rc "$t snapshots diff" 0
  if grep -q '^~ terraform_data.a$' "$W/out" && grep -q '^~ output.v: "one" → "two"$' "$W/out"; then
    pass "$t snapshots diff names the changed resource and output"
  else
    fail "$t snapshots diff names the changed resource and output" "$(tr '\n' '|' <"$W/out")"
  fi
  ctl snapshots diff "$name" "$SNAP_OLD" "$SNAP_NEW" --output json
  expect_eq "$t snapshots diff --output json" "$(jq -c '[.resources[] | select(.action == "changed") | .address]' "$W/out" 2>/dev/null)" '["terraform_data.a"]'

  # An OpenTofu-encrypted envelope: diff says it cannot look inside, restore refuses it.
  local enc="ctl-$M/enc"
  printf '{"serial":1,"lineage":"enc-1","meta":{"key_provider.pbkdf2.k":"e30="},"encrypted_data":"AAAA","encryption_version":"v0"}' >"$W/enc1"
  printf '{"serial":2,"lineage":"enc-1","meta":{"key_provider.pbkdf2.k":"e30="},"encrypted_data":"BBBB","encryption_version":"v0"}' >"$W/enc2"
  http POST "$enc" "$W/enc1" >/dev/null
  http POST "$enc" "$W/enc2" >/dev/null
  ctl snapshots list "$enc" --output json
  local e1 e2
  e1=$(jq -r '.[1].id' "$W/out")
  e2=$(jq -r '.[0].id' "$W/out")
  ctl snapshots diff "$enc" "$e1" "$e2"
  if [ $RC = 1 ] && grep -q 'encrypted' "$W/err"; then pass "$t diff of encrypted snapshots says it cannot look inside"; else fail "$t diff of encrypted snapshots" "exit $RC: $(err_tail)"; fi
  ctl snapshots restore "$enc" "$e1"
  if [ $RC = 1 ] && grep -q 'INFRA_001' "$W/err" && grep -q 'encrypted' "$W/err"; then pass "$t restore of an encrypted snapshot refused with INFRA_001"; else fail "$t restore of an encrypted snapshot refused" "exit $RC: $(err_tail)"; fi
}

locks_and_restore() {
  local M=$1 t="statectl/$1" name="ctl-$1/app" cur serial_after
  [ "$(lock_as_other "$name" LOCK-A)" = 200 ] || fail "$t take a lock" "LOCK refused"
  ctl locks list
  grep -q "^$name  *LOCK-A  *other@ci  *admin " "$W/out" && pass "$t locks list shows the holder and its owner" || fail "$t locks list shows the holder and its owner" "$(tr '\n' '|' <"$W/out")"
  ctl states list
  grep -q "^$name .*other@ci (LOCK-A)" "$W/out" && pass "$t states list shows the lock holder" || fail "$t states list shows the lock holder" "$(grep "^$name " "$W/out")"

  http GET "$name" >/dev/null
  cur=$(jq -r .serial "$W/http.body")
  ctl snapshots restore "$name" "$SNAP_OLD"
  expect_rc "$t restore refused while locked (exit 4)" 4
  grep -q 'LOCK-A' "$W/err" && pass "$t restore refusal names the holder" || fail "$t restore refusal names the holder" "$(err_tail)"
  http GET "$name" >/dev/null
  expect_eq "$t refused restore wrote nothing" "$(jq -r .serial "$W/http.body")" "$cur"

  ctl locks force-unlock "$name" --id WRONG
  expect_rc "$t force-unlock with another ID exits 4" 4
  ctl locks force-unlock "$name"
  expect_rc "$t force-unlock" 0
  grep -q 'released the lock' "$W/out" && pass "$t force-unlock says what it released" || fail "$t force-unlock output" "$(cat "$W/out")"
  ctl locks list --output json
  expect_eq "$t no lock after force-unlock" "$(jq "[.[] | select(.state == \"$name\")] | length" "$W/out")" 0
  ctl locks force-unlock "$name"
  grep -q 'was not locked' "$W/out" && pass "$t force-unlock of a free state" || fail "$t force-unlock of a free state" "$(cat "$W/out")"

  ctl snapshots restore "$name" "$SNAP_OLD"
  expect_rc "$t restore" 0
  http GET "$name" >/dev/null
  serial_after=$(jq -r .serial "$W/http.body")
  expect_eq "$t restore writes serial current+1" "$serial_after" "$((cur + 1))"
  expect_eq "$t restore brings the old output back" "$(jq -r .outputs.v.value "$W/http.body")" one
  expect_eq "$t restore keeps the lineage" "$(jq -r .lineage "$W/http.body")" "$(jq -r .lineage "$W/old.tfstate")"
  # Everything but the serial is byte-identical to the snapshot.
  if cmp -s <(sed 's/"serial": *[0-9]*/"serial":X/' "$W/http.body") <(sed 's/"serial": *[0-9]*/"serial":X/' "$W/old.tfstate"); then
    pass "$t restore changes only the serial"
  else
    fail "$t restore changes only the serial" "bytes differ"
  fi

  if [ -n "${APP_DIR:-}" ]; then
    export TF_HTTP_USERNAME=ci TF_HTTP_PASSWORD=$ADMIN_TOKEN
    tf "$APP_DIR" plan -input=false -detailed-exitcode -var v=one
    local rc=$?
    if [ $rc = 0 ]; then pass "$t terraform plan after restore sees the restored resources (no changes for v=one)"; else fail "$t terraform plan after restore" "exit $rc: $(tf_tail)"; fi
    tf "$APP_DIR" plan -input=false -detailed-exitcode -var v=two
    rc=$?
    if [ $rc = 2 ]; then pass "$t terraform plan after restore: v=two is a change"; else fail "$t terraform plan after restore v=two" "exit $rc: $(tf_tail)"; fi
    if tf "$APP_DIR" apply -input=false -auto-approve -var v=three; then pass "$t apply on top of the restored state"; else fail "$t apply on top of the restored state" "$(tf_tail)"; fi
    unset TF_HTTP_USERNAME TF_HTTP_PASSWORD
  else
    skip "$t terraform plan after restore" "terraform not available or the apply failed"
  fi

  # --force while locked: the write happens, the lock stays.
  [ "$(lock_as_other "$name" LOCK-B)" = 200 ] || fail "$t take a lock again" "LOCK refused"
  http GET "$name" >/dev/null
  cur=$(jq -r .serial "$W/http.body")
  ctl snapshots restore "$name" "$SNAP_OLD" --force
  expect_rc "$t restore --force while locked" 0
  grep -q 'left in place' "$W/out" && pass "$t restore --force says the lock stays" || fail "$t restore --force output" "$(cat "$W/out")"
  http GET "$name" >/dev/null
  expect_eq "$t restore --force wrote serial current+1" "$(jq -r .serial "$W/http.body")" "$((cur + 1))"
  ctl locks list --output json
  expect_eq "$t the lock survives restore --force" "$(jq -r ".[] | select(.state == \"$name\") | .id" "$W/out")" LOCK-B
  [ "$(unlock_as_other "$name" LOCK-B)" = 200 ] && pass "$t the holder still unlocks" || fail "$t the holder still unlocks" "UNLOCK refused"

  ctl snapshots list "ctl-$M/none"
  expect_rc "$t snapshots list of an unknown state exits 3" 3
}

tokens_checks() {
  local M=$1 t="statectl/$1/tokens" secret
  mkstate "$W/ta" 1 team-a
  mkstate "$W/tb" 1 team-b
  http POST "team-a-$M/net" "$W/ta" >/dev/null
  http POST "team-b-$M/net" "$W/tb" >/dev/null

  ctl tokens create "reader-$M" --role read --states "team-a-$M/**"
  expect_rc "$t create" 0
  secret=$(cat "$W/out")
  if [ ${#secret} -ge 32 ]; then pass "$t create prints the secret"; else fail "$t create prints the secret" "'$secret'"; fi
  ctl tokens list
  grep -q "^reader-$M  *read  *team-a-$M/\*\*" "$W/out" && pass "$t list" || fail "$t list" "$(tr '\n' '|' <"$W/out")"
  if grep -q -F "$secret" "$W/out"; then fail "$t list never shows secrets" "secret found"; else pass "$t list never shows secrets"; fi
  ctl tokens create "reader-$M" --role read --states "x/**"
  expect_rc "$t create of a used name fails" 1
  ctl tokens create "bad-$M" --role superuser --states "x/**"
  expect_rc "$t create with a bad role is a usage error" 2

  # The read token: reads its own states, writes nothing, sees nothing else.
  expect_eq "$t read token GETs its state" "$(http GET "team-a-$M/net" "" "$secret")" 200
  mkstate "$W/ta2" 2 team-a
  expect_eq "$t read token cannot write" "$(http POST "team-a-$M/net" "$W/ta2" "$secret")" 403
  expect_eq "$t read token cannot lock" "$(lockinfo R1 >"$W/l"; http LOCK "team-a-$M/net" "$W/l" "$secret")" 403
  expect_eq "$t read token cannot read other states" "$(http GET "team-b-$M/net" "" "$secret")" 403
  ctl_as "$secret" states list --output json
  expect_eq "$t read token lists only its states" "$(jq -r '[.[].name] | join(",")' "$W/out" 2>/dev/null)" "team-a-$M/net"
  ctl_as "$secret" snapshots list "team-a-$M/net"
  expect_rc "$t read token lists its snapshots" 0
  ctl_as "$secret" snapshots list "team-b-$M/net"
  expect_rc "$t read token: other state's snapshots denied (exit 6)" 6
  ctl_as "$secret" snapshots restore "team-a-$M/net" "$SNAP_OLD"
  expect_rc "$t read token cannot restore (exit 6)" 6
  ctl_as "$secret" locks force-unlock "team-a-$M/net"
  expect_rc "$t read token cannot force-unlock" 6
  ctl_as "$secret" tokens list
  expect_rc "$t read token cannot list tokens" 6
  ctl_as "$secret" audit verify
  expect_rc "$t read token cannot verify the audit trail" 6

  ctl tokens revoke "reader-$M"
  expect_rc "$t revoke" 0
  expect_eq "$t revoked token is refused" "$(http GET "team-a-$M/net" "" "$secret")" 401
  ctl_as "$secret" states list
  expect_rc "$t revoked token: statectl exits 6" 6
  ctl tokens revoke "reader-$M"
  expect_rc "$t revoke of an unknown token exits 3" 3
}

audit_checks() {
  local M=$1 t="statectl/$1/audit" name="audit-$1/count" codes="" n v
  mkstate "$W/a1" 1 aud
  mkstate "$W/a2" 2 aud
  # 7 requests on one state: one audit event each, but for the failed login (those are one
  # event per client address and minute, without a state: 55-identity checks them).
  codes+="$(http GET "$name") "
  codes+="$(http POST "$name" "$W/a1") "
  codes+="$(lock_as_other "$name" AUD) "
  codes+="$(curl -s -o /dev/null -w '%{http_code}' -X POST -u "ci:$ADMIN_TOKEN" --data-binary "@$W/a2" "$STATED_URL/v1/states/$name?ID=AUD") "
  codes+="$(http GET "$name") "
  codes+="$(unlock_as_other "$name" AUD) "
  codes+="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer not-a-token' "$STATED_URL/v1/states/$name")"
  expect_eq "$t requests answered" "$codes" "404 200 200 200 200 200 401"

  ctl audit export --state "audit-$M/**"
  expect_rc "$t export jsonl" 0
  n=$(grep -c . "$W/out")
  expect_eq "$t jsonl export has one event per authenticated request" "$n" 6
  expect_eq "$t jsonl events in order" "$(jq -r '.action + ":" + (.status|tostring)' "$W/out" | tr '\n' ' ')" "get:404 write:200 lock:200 write:200 get:200 unlock:200 "
  ctl audit export --state "audit-$M/**" --format csv -o "$W/export.csv"
  expect_rc "$t export csv -o FILE" 0
  n=$(($(wc -l <"$W/export.csv") - 1))
  expect_eq "$t csv export has a header and one row per authenticated request" "$n" 6
  head -n 1 "$W/export.csv" | grep -q '^seq,' && pass "$t csv header" || fail "$t csv header" "$(head -n 1 "$W/export.csv")"
  ctl audit export --state "audit-$M/**" --since 2099-01-01
  expect_eq "$t --since in the future exports nothing" "$(grep -c . "$W/out")" 0
  ctl audit export --since yesterday
  expect_rc "$t bad --since is a usage error" 2

  # The whole trail: verify, then a full export holds what verify counted plus verify's event.
  ctl audit verify --output json
  expect_rc "$t verify" 0
  v=$(jq -r .events "$W/out")
  ctl audit export
  n=$(grep -c . "$W/out")
  expect_eq "$t full export = verified events + the verify request" "$n" "$((v + 1))"
  # Admin actions are in the trail too.
  for a in restore force-unlock token-create token-revoke snapshot-read; do
    grep -q "\"action\":\"$a\"" "$W/out" && pass "$t trail records $a" || fail "$t trail records $a" "not found"
  done
  if grep -q -F "$ADMIN_TOKEN" "$W/out"; then fail "$t trail never holds a token" "found"; else pass "$t trail never holds a token"; fi

  # Tamper with event 3 behind stated's back; verify must name it.
  case $M in
    embedded)
      local f=$STATED_DATA/data/audit.jsonl
      if [ -f "$f" ]; then
        sed -i '3s/"status":\([0-9]*\)/"status":1\1/' "$f"
      else
        fail "$t tamper" "no $f"
        return
      fi ;;
    *)
      local db="" i
      for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
        [ "${STATED_ARGS[$i]}" = --locks ] && db=${STATED_ARGS[$((i + 1))]}
      done
      psql "$db" -X -qAt -v ON_ERROR_STOP=1 -c "ALTER TABLE audit_events DISABLE TRIGGER ALL" \
        -c "UPDATE audit_events SET line = replace(line, '\"status\":', '\"status\":1'), status = status + 1000 WHERE seq = 3" \
        -c "ALTER TABLE audit_events ENABLE TRIGGER ALL" >/dev/null 2>"$W/psql.err" ||
        { fail "$t tamper" "$(tail -n 1 "$W/psql.err")"; return; } ;;
  esac
  ctl audit verify
  expect_rc "$t verify finds the tampered event (exit 7)" 7
  grep -q 'broken at event 3 ' "$W/err" && pass "$t verify names event 3" || fail "$t verify names event 3" "$(err_tail)"
}

run_mode() {
  local M=$1
  if ! stated_start "$M"; then
    fail "statectl/$M start" "stated did not start ($(tail -n 2 "$STATED_LOG" | tr '\n' ' '))"
    return
  fi
  APP_DIR=
  if backend_config_checks "$M"; then
    states_and_snapshots "$M"
    locks_and_restore "$M"
  else
    # Without terraform, make the two snapshots by hand so the rest still runs.
    local name="ctl-$M/app"
    printf '{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"hand","outputs":{"v":{"value":"one","type":"string"}},"resources":[{"mode":"managed","type":"terraform_data","name":"a","provider":"provider[\\"terraform.io/builtin/terraform\\"]","instances":[{"schema_version":0,"attributes":{"id":"x","input":{"value":"one","type":"string"},"output":{"value":"one","type":"string"},"triggers_replace":null}}]}]}' >"$W/h1"
    sed 's/"serial":1/"serial":2/; s/"one"/"two"/g' "$W/h1" >"$W/h2"
    http POST "$name" "$W/h1" >/dev/null
    http POST "$name" "$W/h2" >/dev/null
    states_and_snapshots "$M"
    locks_and_restore "$M"
  fi
  tokens_checks "$M"
  audit_checks "$M"
  stated_stop
  rm -rf "$STATED_DATA"
}

# HTTPS with a client certificate: --cacert, --cert and --key.
tls_checks() {
  local t=statectl/tls certs=$W/certs
  command -v openssl >/dev/null || { skip "$t" "openssl not found"; return; }
  tls_make_certs "$certs" || { fail "$t certificates" "openssl failed"; return; }
  STATED_CURL=(--cert "$certs/client.pem" --key "$certs/client.key")
  if ! stated_start embedded --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --client-ca "$certs/ca.pem"; then
    fail "$t start" "stated did not start with TLS: $(tail -n 2 "$STATED_LOG" | tr '\n' ' ')"
    STATED_CURL=()
    return
  fi
  STATED_CURL=()
  ctl --cacert "$certs/ca.pem" --cert "$certs/client.pem" --key "$certs/client.key" tokens list
  expect_rc "$t --cacert --cert --key" 0
  ctl --cert "$certs/client.pem" --key "$certs/client.key" tokens list
  expect_rc "$t unknown CA: unreachable (exit 5)" 5
  ctl --cacert "$certs/ca.pem" tokens list
  if [ $RC = 5 ] || [ $RC = 6 ]; then pass "$t no client certificate refused (exit $RC)"; else fail "$t no client certificate refused" "exit $RC"; fi
  ctl --cacert "$certs/ca.pem" --cert "$certs/client.pem" tokens list
  expect_rc "$t --cert without --key is a usage error" 2
  stated_stop
  rm -rf "$STATED_DATA"
}

cli_basics
tls_checks
for M in ${CTL_MODES:-embedded s3pg}; do
  if mode_available "$M"; then
    run_mode "$M"
  else
    skip "statectl/$M" "mode $M needs PostgreSQL and Ceph RGW (S3_ENDPOINT/PG_CONNINFO unset)"
    echo "!!! SKIPPED statectl/$M: services not available" >&2
  fi
done
t_done
