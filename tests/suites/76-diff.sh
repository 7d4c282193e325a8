#!/bin/bash
# 76-diff: the value-level diff, the outputs endpoint, restore --dry-run and redaction, on
# states the real terraform wrote, in embedded mode and on S3 (Ceph RGW) when it is up.
#
# Per mode: two applies of a terraform_data configuration (a nested map, a list, a resource
# that goes and one that comes, a sensitive variable inside a list of triggers_replace, a plain
# and a sensitive output), then GET /v1/outputs (values, sensitive null, at=REF, the outputs
# role allowed, a token of other states refused, audited), GET /v1/diff and `statectl
# snapshots diff` (the values changed, old → new, sensitive ones masked), `snapshots restore
# --dry-run` (serial, versions and audit chain untouched but for read events), and redaction
# (`snapshots show --redact`, ?redact=1: the secret gone, every other byte kept). The secrets
# must never appear in anything stated or statectl prints. OpenTofu-encrypted states refused.
#
# Run alone: tests/suites/76-diff.sh   (DIFF_MODES="embedded" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
E2E_TMP=$(mktemp -d /tmp/stated-diff.XXXXXX)
. "$TOP/tests/e2e/lib.sh"
trap 'stated_cleanup; rm -rf "$E2E_TMP"' EXIT
W=$E2E_TMP
SC=$BIN/statectl
SECRET1=first-Secret-$RANDOM$RANDOM
SECRET2=second-Secret-$RANDOM$RANDOM

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip diff "$tool not found"; t_done; exit; }
done
if [ ! -x "$TF" ]; then
  skip diff "terraform not found at $TF"
  echo "!!! SKIPPED diff: terraform not found at $TF" >&2
  t_done
  exit
fi
if [ ! -x "$SC" ] || ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail diff "build/bin/stated or statectl missing; build with make"
  t_done
  exit
fi

tok() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
READ_TOKEN=read-$RANDOM$RANDOM$RANDOM
OUT_TOKEN=outputs-$RANDOM$RANDOM$RANDOM
OTHER_TOKEN=other-$RANDOM$RANDOM$RANDOM
{
  echo "reader read diff-*/** $(tok "$READ_TOKEN")"
  echo "remote outputs diff-*/** $(tok "$OUT_TOKEN")"
  echo "stranger read other/** $(tok "$OTHER_TOKEN")"
} >"$W/tokens"

ctl() { # ARGS...: statectl as admin; stdout in $W/out, stderr in $W/err, exit in $RC
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
ctl_as() { # TOKEN ARGS...
  local t=$1
  shift
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$t timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
api() { # TOKEN PATH: GET into $W/api, prints the status
  curl -s -o "$W/api" -w '%{http_code}' --max-time 10 -u "ci:$1" "$STATED_URL$2"
}
err_tail() { tail -n 2 "$W/err" | tr '\n' ' ' | cut -c1-300; }
expect_rc() { if [ "$RC" = "$2" ]; then pass "$1"; else fail "$1" "exit $RC, want $2: $(err_tail)"; fi; }
# no_secret NAME FILE...: neither secret appears in the files.
no_secret() {
  local n=$1
  shift
  if grep -q -e "$SECRET1" -e "$SECRET2" "$@"; then fail "$n" "a secret is in $*"; else pass "$n"; fi
}
jqt() { jq -r "$1" "$2" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
# Everything the audit trail holds but reads: what a change would add to.
changes() { audit_lines | jq -c 'select(.action | test("^(get|list|snapshot-read|snapshot-list|diff|outputs|export|audit-verify|whoami)$") | not)'; }

write_config() {
  cat >"$1/main.tf" <<'TF'
terraform {
  backend "http" {}
}
variable "secret" {
  type      = string
  sensitive = true
}
variable "env" {
  type = string
}
variable "ports" {
  type = list(number)
}
variable "second" {
  type = bool
}
resource "terraform_data" "app" {
  input = {
    tags  = { env = var.env, team = "core" }
    ports = var.ports
  }
  triggers_replace = [{ port = 80, secret = var.secret }]
}
resource "terraform_data" "old" {
  count = var.second ? 0 : 1
  input = "retired"
}
resource "terraform_data" "new" {
  for_each = var.second ? toset(["eu"]) : toset([])
  input    = each.key
}
output "env" {
  value = var.env
}
output "pw" {
  value     = var.secret
  sensitive = true
}
TF
}

# apply_twice MODE NAME: two versions written by terraform; their snapshot ids in SNAP1, SNAP2.
apply_twice() {
  local t="diff/$1" name=$2 d flags
  d=$(mktemp -d "$W/tf.XXXX")
  write_config "$d"
  mapfile -t flags < <(backend_flags "$name" state)
  if tf "$d" init -input=false "${flags[@]}" &&
    tf "$d" apply -input=false -auto-approve -var "secret=$SECRET1" -var env=dev -var 'ports=[80,443]' -var second=false &&
    tf "$d" apply -input=false -auto-approve -var "secret=$SECRET2" -var env=prod -var 'ports=[80,8443]' -var second=true; then
    pass "$t terraform wrote two versions"
  else
    fail "$t terraform wrote two versions" "$(tf_tail)"
    return 1
  fi
  ctl snapshots list "$name" --output json
  SNAP2=$(jq -r '.[0].id' "$W/out") SNAP1=$(jq -r '.[1].id' "$W/out")
  state_json "$name" "$W/current.tfstate"
  curl -s -o "$W/v1.tfstate" -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/snapshots/$name?id=$SNAP1"
}

outputs_checks() {
  local t="diff/$1/outputs" name=$2 code
  code=$(api "$READ_TOKEN" "/v1/outputs/$name")
  expect_eq "$t reader 200" "$code" 200
  expect_eq "$t values" "$(jqt '[.outputs.env.value, .outputs.env.type, .outputs.env.sensitive, .outputs.pw.value, .outputs.pw.sensitive] | map(tostring) | join(",")' "$W/api")" "prod,string,false,null,true"
  expect_eq "$t serial, lineage and snapshot of the current state" \
    "$(jqt '[.serial, .lineage, .snapshot] | map(tostring) | join(",")' "$W/api")" \
    "$(jq -r '[.serial, .lineage] | map(tostring) | join(",")' "$W/current.tfstate"),$SNAP2"
  no_secret "$t sensitive value never sent" "$W/api"
  api "$READ_TOKEN" "/v1/outputs/$name?at=latest~1" >/dev/null
  expect_eq "$t at=latest~1 is the first version" "$(jqt '[.outputs.env.value, .snapshot] | join(",")' "$W/api")" "dev,$SNAP1"
  code=$(api "$OUT_TOKEN" "/v1/outputs/$name")
  expect_eq "$t outputs role allowed" "$code:$(jqt .outputs.env.value "$W/api")" "200:prod"
  code=$(api "$OTHER_TOKEN" "/v1/outputs/$name")
  expect_eq "$t token of other states refused" "$code" 403
  code=$(api "$OUT_TOKEN" "/v1/diff/$name")
  expect_eq "$t outputs role may not diff (resources)" "$code" 403
  expect_eq "$t missing state 404" "$(api "$READ_TOKEN" "/v1/outputs/diff-$1/nothing")" 404
  local ev
  ev=$(audit_lines | jq -r --arg n "$name" 'select(.action == "outputs" and .state == $n) | "\(.actor):\(.status)"' | tr '\n' ' ')
  expect_eq "$t audited like reads" "$ev" "reader:200 reader:200 remote:200 stranger:403 "

  ctl_as "$OUT_TOKEN" states outputs "$name"
  expect_rc "$t statectl states outputs (outputs role)" 0
  if grep -q '^env  *string  *"prod"$' "$W/out" && grep -q '^pw  *string  *(sensitive)$' "$W/out" &&
    head -n 1 "$W/out" | grep -q '^NAME  *TYPE  *VALUE$'; then
    pass "$t statectl table NAME TYPE VALUE"
  else
    fail "$t statectl table NAME TYPE VALUE" "$(tr '\n' '|' <"$W/out")"
  fi
  ctl_as "$READ_TOKEN" states outputs "$name" --at "$SNAP1" --output json
  api "$READ_TOKEN" "/v1/outputs/$name?at=$SNAP1" >/dev/null
  expect_eq "$t statectl --output json is the API's" "$(jq -cS . "$W/out")" "$(jq -cS . "$W/api")"
  ctl_as "$OTHER_TOKEN" states outputs "$name"
  expect_rc "$t statectl refused for a token of other states (exit 6)" 6
  no_secret "$t statectl never prints the secret" "$W/out" "$W/err"
}

diff_checks() {
  local t="diff/$1/diff" name=$2 code
  code=$(api "$READ_TOKEN" "/v1/diff/$name?from=$SNAP1&to=$SNAP2")
  expect_eq "$t GET /v1/diff 200" "$code" 200
  cp "$W/api" "$W/diff.json"
  expect_eq "$t from and to" "$(jqt '[.name, .from.snapshot, .to.snapshot] | join(",")' "$W/diff.json")" "$name,$SNAP1,$SNAP2"
  local app='.resources[] | select(.address == "terraform_data.app")'
  expect_eq "$t nested attribute old → new" \
    "$(jqt "$app | .attributes[] | select(.path == \"input.value.tags.env\") | [.action, .old, .new] | join(\",\")" "$W/diff.json")" "changed,dev,prod"
  expect_eq "$t list element by index" \
    "$(jqt "$app | .attributes[] | select(.path == \"input.value.ports[1]\") | [.old, .new] | map(tostring) | join(\",\")" "$W/diff.json")" "443,8443"
  expect_eq "$t sensitive attribute in a list masked" \
    "$(jqt "$app | .attributes[] | select(.path == \"triggers_replace.value[0].secret\") | [.sensitive, has(\"old\"), has(\"new\")] | map(tostring) | join(\",\")" "$W/diff.json")" "true,false,false"
  expect_eq "$t instances added and removed" \
    "$(jqt '[.resources[] | select(.action != "changed") | "\(.action):\(.address)"] | join(",")' "$W/diff.json")" 'added:terraform_data.new["eu"],removed:terraform_data.old[0]'
  expect_eq "$t outputs" "$(jqt '[.outputs[] | "\(.name):\(.action):\(.old // "-"):\(.new // "-"):\(.sensitive // false)"] | join(",")' "$W/diff.json")" \
    "env:changed:dev:prod:false,pw:changed:-:-:true"
  no_secret "$t no secret in the API's diff" "$W/diff.json"
  code=$(api "$READ_TOKEN" "/v1/diff/$name")
  expect_eq "$t defaults: latest~1 to latest" "$code:$(jqt '[.from.snapshot, .to.snapshot] | join(",")' "$W/api")" "200:$SNAP1,$SNAP2"
  expect_eq "$t token of other states refused" "$(api "$OTHER_TOKEN" "/v1/diff/$name")" 403
  expect_eq "$t unknown version 404" "$(api "$READ_TOKEN" "/v1/diff/$name?from=serial:999999")" 404

  ctl_as "$READ_TOKEN" snapshots diff "$name" "$SNAP1" "$SNAP2"
  expect_rc "$t statectl snapshots diff" 0
  local want
  for want in 'Resources: 1 added, 1 removed, 1 changed' '~ terraform_data.app' \
    '    input.value.tags.env: "dev" → "prod"' '    input.value.ports[1]: 443 → 8443' \
    '    triggers_replace.value[0].secret: (sensitive) → (sensitive)' \
    '+ terraform_data.new["eu"]' '- terraform_data.old[0]' 'Outputs: 0 added, 0 removed, 2 changed' \
    '~ output.env: "dev" → "prod"' '~ output.pw: (sensitive) → (sensitive)'; do
    if grep -qxF -- "$want" "$W/out"; then pass "$t statectl prints: $want"; else fail "$t statectl prints: $want" "$(tr '\n' '|' <"$W/out" | cut -c1-400)"; fi
  done
  no_secret "$t no secret in statectl's diff" "$W/out" "$W/err"
  ctl_as "$READ_TOKEN" snapshots diff "$name" latest~1 latest --output json
  expect_eq "$t --output json is the API's structure" "$(jq -cS . "$W/out")" "$(jq -cS . "$W/diff.json")"
  ctl_as "$READ_TOKEN" snapshots diff "$name" "$SNAP2" "$SNAP2"
  expect_eq "$t a version against itself" "$RC:$(cat "$W/out")" "0:No differences in resources or outputs."
}

dry_run_checks() {
  local t="diff/$1/dry-run" name=$2 before_serial before_count before_changes
  before_serial=$(api "$ADMIN_TOKEN" "/v1/states" >/dev/null; jq -r --arg n "$name" '.[] | select(.name == $n) | .serial' "$W/api")
  ctl snapshots list "$name" --output json
  before_count=$(jq length "$W/out")
  before_changes=$(changes | sha256sum)
  ctl snapshots restore "$name" "$SNAP1" --dry-run
  expect_rc "$t exits 0" 0
  expect_eq "$t it read the diff" "$(audit_lines | jq -r --arg n "$name" 'select(.state == $n) | "\(.action) \(.detail)"' | tail -n 1)" "diff diff from $SNAP2 to $SNAP1"
  if head -n 1 "$W/out" | grep -q "^dry run: restoring $name from $SNAP1 would change" &&
    grep -qxF '    input.value.tags.env: "prod" → "dev"' "$W/out" && grep -qxF '+ terraform_data.old[0]' "$W/out" &&
    tail -n 1 "$W/out" | grep -qx 'nothing was changed'; then
    pass "$t prints the diff current → REF"
  else
    fail "$t prints the diff current → REF" "$(tr '\n' '|' <"$W/out" | cut -c1-400)"
  fi
  no_secret "$t no secret printed" "$W/out" "$W/err"
  api "$ADMIN_TOKEN" "/v1/states" >/dev/null
  expect_eq "$t serial unchanged" "$(jq -r --arg n "$name" '.[] | select(.name == $n) | .serial' "$W/api")" "$before_serial"
  ctl snapshots list "$name" --output json
  expect_eq "$t no new version" "$(jq length "$W/out")" "$before_count"
  expect_eq "$t audit holds no new change (only reads)" "$(changes | sha256sum)" "$before_changes"
  ctl audit verify
  expect_rc "$t audit chain still verifies" 0
  ctl snapshots restore "$name" "$SNAP1" --dry-run --output json
  expect_eq "$t --output json: from latest to REF" "$(jqt '[.from.snapshot, .to.snapshot] | join(",")' "$W/out")" "$SNAP2,$SNAP1"
  ctl_as "$READ_TOKEN" snapshots restore "$name" "$SNAP1" --dry-run
  expect_rc "$t a reader may preview" 0
}

redact_checks() {
  local t="diff/$1/redact" name=$2 code
  ctl snapshots show "$name" "$SNAP2" --redact -o "$W/red.tfstate"
  expect_rc "$t snapshots show --redact" 0
  no_secret "$t secret gone" "$W/red.tfstate"
  if grep -q "$SECRET2" "$W/current.tfstate"; then pass "$t (the stored state does hold it)"; else fail "$t (the stored state does hold it)" "secret not in the state"; fi
  # The secret is only where the state marks it: replacing it there gives the same bytes.
  sed "s/\"$SECRET2\"/\"(sensitive)\"/g" "$W/current.tfstate" >"$W/want.tfstate"
  if cmp -s "$W/want.tfstate" "$W/red.tfstate"; then pass "$t every other byte kept"; else fail "$t every other byte kept" "$(diff "$W/want.tfstate" "$W/red.tfstate" | head -n 6 | tr '\n' '|')"; fi
  expect_eq "$t sensitive output and attribute replaced" \
    "$(jqt '[.outputs.pw.value, (.resources[] | select(.name == "app") | .instances[0].attributes.triggers_replace.value[0].secret)] | join(",")' "$W/red.tfstate")" "(sensitive),(sensitive)"
  code=$(api "$READ_TOKEN" "/v1/snapshots/$name?id=$SNAP1&redact=1")
  expect_eq "$t ?redact=1 for a reader" "$code" 200
  sed "s/\"$SECRET1\"/\"(sensitive)\"/g" "$W/v1.tfstate" >"$W/want1.tfstate"
  if cmp -s "$W/want1.tfstate" "$W/api"; then pass "$t ?redact=1 on an older version"; else fail "$t ?redact=1 on an older version" "differs"; fi
  api "$READ_TOKEN" "/v1/snapshots/$name?id=$SNAP1" >/dev/null
  if grep -q "$SECRET1" "$W/api"; then pass "$t without redact=1 the bytes are as stored"; else fail "$t without redact=1 the bytes are as stored" "secret missing"; fi
  expect_eq "$t audited as redacted" "$(audit_lines | jq -r --arg n "$name" 'select(.state == $n and .action == "snapshot-read") | .detail' | grep -c 'redacted')" 2
}

encrypted_checks() {
  local t="diff/$1/encrypted" enc="diff-$1/enc" f
  for f in 1 2; do
    printf '{"serial":%s,"lineage":"enc-1","meta":{"key_provider.pbkdf2.k":"e30="},"encrypted_data":"AAAA%s","encryption_version":"v0"}' "$f" "$f" >"$W/enc$f"
    curl -s -o /dev/null -u "ci:$ADMIN_TOKEN" --data-binary "@$W/enc$f" "$STATED_URL/v1/states/$enc"
  done
  local code
  code=$(api "$READ_TOKEN" "/v1/diff/$enc")
  if [ "$code" = 400 ] && jq -r .message "$W/api" | grep -q 'encrypted by OpenTofu'; then pass "$t diff refused, saying why"; else fail "$t diff refused" "$code $(head -c 200 "$W/api")"; fi
  code=$(api "$READ_TOKEN" "/v1/outputs/$enc")
  if [ "$code" = 400 ] && jq -r .message "$W/api" | grep -q 'encrypted by OpenTofu'; then pass "$t outputs refused, saying why"; else fail "$t outputs refused" "$code $(head -c 200 "$W/api")"; fi
  ctl snapshots list "$enc" --output json
  code=$(api "$READ_TOKEN" "/v1/snapshots/$enc?id=$(jq -r '.[0].id' "$W/out")&redact=1")
  expect_eq "$t redaction refused" "$code" 400
  ctl snapshots diff "$enc" latest~1 latest
  if [ $RC = 1 ] && grep -q 'encrypted' "$W/err"; then pass "$t statectl diff exits 1 saying why"; else fail "$t statectl diff" "exit $RC: $(err_tail)"; fi
}

run_mode() {
  local M=$1 name="diff-$1/app"
  if ! mode_available "$M"; then
    skip "diff/$M" "services for $M are not up"
    return
  fi
  if ! stated_start "$M" --token-file "$W/tokens"; then
    fail "diff/$M stated starts" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    return
  fi
  if apply_twice "$M" "$name"; then
    outputs_checks "$M" "$name"
    diff_checks "$M" "$name"
    dry_run_checks "$M" "$name"
    redact_checks "$M" "$name"
  fi
  encrypted_checks "$M"
  stated_stop
  no_secret "diff/$M the server never logged a secret" "$STATED_LOG"
  stated_cleanup
}

for M in ${DIFF_MODES:-embedded s3}; do
  run_mode "$M"
done
t_done
