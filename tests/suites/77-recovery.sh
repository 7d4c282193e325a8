#!/bin/bash
# 77-recovery: history and recovery without the server, and the way in from other backends.
#
# Offline audit verification: exports in JSON Lines and CSV verify with no server; a changed,
# a removed and a reordered event each exit 7 naming the event. Offline export (stated
# stopped): from a data dir encrypted with a key file and from an RGW bucket encrypted with
# STATED_ENCRYPTION_KEY, every current state and version written as files byte-equal to what
# terraform wrote (fetched with GET before the stop), the storage unchanged, and terraform
# planning with no changes on the exported state through a local backend, then an apply made
# "during the outage" pushed back into the restarted stated (the runbook).
# Import: from a tree of terraform-written state files and from an RGW bucket written by
# terraform's own backend "s3" with versioning (awscli when terraform cannot use RGW), names
# that fit no state name listed and skipped, --dry-run changing nothing, a second run
# importing nothing, a locked state refused, a non-admin token refused, then terraform on the
# http backend (init -reconfigure) planning no changes.
#
# Run alone: tests/suites/77-recovery.sh  (needs S3_* from tests/run-all.sh or /tmp/svc/env for
# the RGW parts, which are SKIPPED loudly without them)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
E2E_TMP=$(mktemp -d /tmp/stated-recovery.XXXXXX)
. "$TOP/tests/e2e/lib.sh"
W=$E2E_TMP
SC=$BIN/statectl
BUCKETS=()
cleanup() {
  stated_cleanup
  local b
  for b in "${BUCKETS[@]}"; do s3_drop_bucket "$b"; done
  rm -rf "$E2E_TMP"
}
trap cleanup EXIT

for tool in curl jq sha256sum; do
  command -v "$tool" >/dev/null || { skip recovery "$tool not found"; t_done; exit; }
done
if [ ! -x "$SC" ] || ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail recovery "build/bin/stated or statectl missing; build with make"
  t_done
  exit
fi
HAVE_TF=1
if [ ! -x "$TF" ]; then
  HAVE_TF=0
  echo "!!! SKIPPED recovery terraform checks: terraform not found at $TF" >&2
fi
HAVE_S3=1
if ! mode_available s3 || ! command -v aws >/dev/null; then
  HAVE_S3=0
  echo "!!! SKIPPED recovery RGW checks: S3_ENDPOINT unset or awscli missing" >&2
fi

# ctl ARGS...: statectl with the admin token; stdout in $W/out, stderr in $W/err, exit in $RC.
ctl() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=${CTL_TOKEN:-$ADMIN_TOKEN} \
    AWS_ACCESS_KEY_ID=${S3_KEY:-} AWS_SECRET_ACCESS_KEY=${S3_SECRET:-} \
    timeout 60 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
err_tail() { tail -n 3 "$W/err" | tr '\n' ' ' | cut -c1-400; }
expect_rc() {
  if [ "$RC" = "$2" ]; then pass "$1"; else fail "$1" "exit $RC, want $2: $(err_tail)"; fi
}
put_state() { # NAME FILE: a write as a client makes it; prints the status
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "ci:$ADMIN_TOKEN" --data-binary "@$2" \
    "$STATED_URL/v1/states/$1"
}
mkstate() { # FILE SERIAL LINEAGE
  printf '{"version":4,"terraform_version":"1.11.4","serial":%s,"lineage":"%s","outputs":{},"resources":[]}' "$2" "$3" >"$1"
}
awss3() {
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$S3_ENDPOINT" "$@"
}
s3_drop_bucket() {
  local b=$1
  awss3 s3api list-object-versions --bucket "$b" --output json 2>/dev/null |
    jq -r '((.Versions // []) + (.DeleteMarkers // []))[] | [.Key, .VersionId] | @tsv' |
    while IFS=$'\t' read -r k v; do
      awss3 s3api delete-object --bucket "$b" --key "$k" --version-id="$v" >/dev/null 2>&1
    done
  awss3 s3api delete-bucket --bucket "$b" >/dev/null 2>&1
}
# A fingerprint of every file under a directory (names and contents).
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }
# terraform DIR with main.tf's backend block changed to KIND.
tf_dir_backend() { # KIND
  local d
  d=$(e2e_dir "$1")
  sed -i "s/backend \"http\" {}/backend \"$1\" {}/" "$d/main.tf"
  echo "$d"
}

# ------------------------------------------------------------------ offline audit verify

offline_verify() {
  local t=verify
  stated_start embedded || { fail "$t start" "stated did not start"; return; }
  mkstate "$W/v1.json" 1 lin-v
  mkstate "$W/v2.json" 2 lin-v
  put_state verify/a "$W/v1.json" >/dev/null
  put_state verify/a "$W/v2.json" >/dev/null
  # A client-chosen Basic username that a spreadsheet would run as a formula, with a comma.
  curl -s -o /dev/null --max-time 10 -u "=HYPERLINK(\"x\"),y:$ADMIN_TOKEN" "$STATED_URL/v1/states/verify/a"
  for _ in 1 2 3; do curl -s -o /dev/null --max-time 10 -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/states/verify/a"; done
  ctl audit export -o "$W/a.jsonl"
  expect_rc "$t export jsonl" 0
  ctl audit export --format csv -o "$W/a.csv"
  expect_rc "$t export csv" 0
  stated_stop
  head -n 1 "$W/a.csv" | grep -q ',prev,hash' && pass "$t csv header has the chain columns" ||
    fail "$t csv header has the chain columns" "$(head -n 1 "$W/a.csv")"
  grep -q "\"'=HYPERLINK" "$W/a.csv" && pass "$t csv keeps its formula protection" ||
    fail "$t csv keeps its formula protection" "$(grep -c HYPERLINK "$W/a.csv")"
  local n
  n=$(wc -l <"$W/a.jsonl")
  ctl audit verify --file "$W/a.jsonl"
  expect_rc "$t jsonl export verifies with no server" 0
  grep -q "events 1 to $n verified" "$W/out" && pass "$t jsonl: all $n events" || fail "$t jsonl: all $n events" "$(cat "$W/out")"
  ctl audit verify --file "$W/a.csv"
  expect_rc "$t csv export verifies with no server (detected)" 0
  ctl audit verify --file "$W/a.csv" --format csv --output json
  expect_rc "$t csv with --format csv" 0
  expect_eq "$t csv json answer" "$(jq -r '"\(.ok) \(.format) \(.events)"' "$W/out")" "true csv $((n + 1))"

  # Tampering, each found and named.
  sed '2s/"status":200/"status":201/' "$W/a.jsonl" >"$W/t1.jsonl"
  ctl audit verify --file "$W/t1.jsonl"
  expect_rc "$t changed event: exit 7" 7
  grep -q 'line 2: chain broken at event 2: .*hash mismatch' "$W/err" && pass "$t changed event named (event 2, hash)" || fail "$t changed event named" "$(err_tail)"
  sed '3d' "$W/a.jsonl" >"$W/t2.jsonl"
  ctl audit verify --file "$W/t2.jsonl"
  expect_rc "$t removed event: exit 7" 7
  grep -q 'chain broken at event 3: event 3 expected, found 4' "$W/err" && pass "$t removed event named (event 3)" || fail "$t removed event named" "$(err_tail)"
  awk 'NR == 2 { held = $0; next } NR == 3 { print; print held; next } { print }' "$W/a.jsonl" >"$W/t3.jsonl"
  ctl audit verify --file "$W/t3.jsonl"
  expect_rc "$t reordered events: exit 7" 7
  grep -q 'chain broken at event 2' "$W/err" && pass "$t reordered events named (event 2)" || fail "$t reordered events named" "$(err_tail)"
  # CSV: event 2's state changed (row 3), event 2 removed.
  awk -F, 'NR == 3 { sub(/verify\/a/, "verify/b") } { print }' "$W/a.csv" >"$W/t4.csv"
  cmp -s "$W/a.csv" "$W/t4.csv" && fail "$t csv tamper applied" "no change made"
  ctl audit verify --file "$W/t4.csv"
  expect_rc "$t csv changed event: exit 7" 7
  grep -q 'line 3: chain broken at event 2: .*hash mismatch' "$W/err" && pass "$t csv changed event named" || fail "$t csv changed event named" "$(err_tail)"
  sed '3d' "$W/a.csv" >"$W/t5.csv"
  ctl audit verify --file "$W/t5.csv"
  expect_rc "$t csv removed event: exit 7" 7
  printf 'not an event\n' >"$W/t6.jsonl"
  ctl audit verify --file "$W/t6.jsonl"
  expect_rc "$t not an export: exit 1" 1
  # A cut tail is a valid shorter chain: it verifies, and says what it proves.
  head -n 2 "$W/a.jsonl" >"$W/t7.jsonl"
  ctl audit verify --file "$W/t7.jsonl"
  expect_rc "$t truncated export verifies its prefix" 0
  grep -q 'events 1 to 2 verified.*not proven' "$W/out" && pass "$t truncated: proves 1 to 2 only" || fail "$t truncated: proves 1 to 2 only" "$(cat "$W/out")"
}

# ------------------------------------------------------------------ offline export

# Writes states through terraform (or curl without it) on a running stated: dr/app twice
# (two versions), dr/net/core once. Saves their GET bytes as $W/$1-*.get.
write_dr_states() { # TAG
  local tag=$1 d flags
  if [ "$HAVE_TF" = 1 ]; then
    d=$(e2e_dir "dr-$tag")
    mapfile -t flags < <(backend_flags dr/app state)
    tf "$d" init -input=false "${flags[@]}" &&
      tf "$d" apply -input=false -auto-approve -var v=one &&
      tf "$d" apply -input=false -auto-approve -var v=two ||
      fail "$tag terraform apply" "$(tf_tail)"
  else
    mkstate "$W/s1.json" 1 lin-dr
    mkstate "$W/s2.json" 2 lin-dr
    put_state dr/app "$W/s1.json" >/dev/null
    put_state dr/app "$W/s2.json" >/dev/null
  fi
  mkstate "$W/s3.json" 7 lin-core
  put_state dr/net/core "$W/s3.json" >/dev/null
  state_json dr/app "$W/$tag-app.get" && state_json dr/net/core "$W/$tag-core.get" ||
    fail "$tag GET before the stop" "no state"
}

# Checks an export in $1 against the GETs saved under tag $2.
check_export() { # OUT TAG
  local out=$1 t=$2
  cmp -s "$out/dr/app.tfstate" "$W/$t-app.get" && pass "$t dr/app.tfstate equals what terraform wrote" ||
    fail "$t dr/app.tfstate equals what terraform wrote" "$(head -c 200 "$out/dr/app.tfstate" 2>&1)"
  cmp -s "$out/dr/net/core.tfstate" "$W/$t-core.get" && pass "$t dr/net/core.tfstate (slashes as directories)" ||
    fail "$t dr/net/core.tfstate (slashes as directories)" "missing or different"
  expect_eq "$t every version of dr/app" "$(find "$out/dr/app/@versions" -name '*.tfstate' | wc -l)" 2
  local newest
  newest=$(find "$out/dr/app/@versions" -name '*.tfstate' | sort | tail -n 1)
  cmp -s "$newest" "$W/$t-app.get" && pass "$t newest version is the current state" || fail "$t newest version is the current state" "$newest"
  expect_eq "$t files are mode 0600" "$(find "$out" -type f ! -perm 0600 | wc -l)" 0
}

# The runbook (docs/disaster-recovery.md): terraform plans with no changes on the exported file
# through a local backend given in an override file; with PUSH, an apply made during the
# outage then goes back into the restarted stated with `terraform state push`.
runbook() { # STATEFILE TAG [PUSH]
  [ "$HAVE_TF" = 1 ] || { skip "$2 runbook" "no terraform"; return; }
  local d t=$2 flags
  d=$(e2e_dir runbook)
  cp "$1" "$d/outage.tfstate"
  printf 'terraform {\n  backend "local" {\n    path = "outage.tfstate"\n  }\n}\n' >"$d/backend_override.tf"
  if tf "$d" init -input=false -reconfigure && tf "$d" plan -input=false -detailed-exitcode -var v=two; then
    pass "$t runbook: terraform plans no changes on the exported state"
  else
    fail "$t runbook: terraform plans no changes on the exported state" "$(tf_tail)"
    return
  fi
  [ -n "${3:-}" ] || return 0
  tf "$d" apply -input=false -auto-approve -var v=three || { fail "$t runbook: apply during the outage" "$(tf_tail)"; return; }
  stated_restart || { fail "$t runbook: stated back" "no start"; return; }
  rm "$d/backend_override.tf"
  mapfile -t flags < <(backend_flags dr/app state)
  if tf "$d" init -input=false -reconfigure "${flags[@]}" && tf "$d" state push outage.tfstate &&
    tf "$d" plan -input=false -detailed-exitcode -var v=three; then
    pass "$t runbook: state push into stated, then no changes"
  else
    fail "$t runbook: state push into stated, then no changes" "$(tf_tail)"
  fi
  stated_stop
}

export_from_dir() {
  local t=export-dir kf=$W/keys
  printf '# the current key\n%s\n' "$(head -c 32 /dev/urandom | base64)" >"$kf"
  stated_start embedded --encryption-key-file "$kf" || { fail "$t start" "stated did not start"; return; }
  write_dr_states "$t"
  stated_stop
  local data=$STATED_DATA/data before
  if head -c 10 "$data/states/dr/net/core/@current.tfstate" | grep -q STATEDENC1; then pass "$t objects are encrypted at rest"; else fail "$t objects are encrypted at rest" "no STATEDENC1 magic"; fi
  before=$(tree_sum "$data")
  ctl offline export --data-dir "$data" --to "$W/exp-nokey"
  expect_rc "$t without the key: refused" 1
  ctl offline export --data-dir "$data" --encryption-key-file "$kf" --to "$W/exp" --all-versions
  expect_rc "$t offline export --all-versions" 0
  grep -q 'exported 2 of 2 states' "$W/out" && pass "$t summary" || fail "$t summary" "$(cat "$W/out")"
  check_export "$W/exp" "$t"
  expect_eq "$t the data dir is unchanged" "$(tree_sum "$data")" "$before"
  ctl offline export --data-dir "$data" --encryption-key-file "$kf" --to "$W/exp"
  expect_rc "$t a non-empty --to is refused" 2
  ctl offline export --data-dir "$data" --encryption-key-file "$kf" --to "$W/exp" --force
  expect_rc "$t ... unless --force" 0
  ctl offline export --data-dir "$W/nonexistent" --to "$W/exp2"
  expect_rc "$t a missing data dir is an error, not created" 1
  [ -e "$W/nonexistent" ] && fail "$t missing data dir not created" "it was" || pass "$t missing data dir not created"
  runbook "$W/exp/dr/app.tfstate" "$t" push
}

export_from_s3() {
  local t=export-s3 key
  [ "$HAVE_S3" = 1 ] || { skip "$t" "no RGW"; return; }
  key=$(head -c 32 /dev/urandom | base64)
  STATED_ENCRYPTION_KEY=$key stated_start s3 || { fail "$t start" "stated did not start"; return; }
  write_dr_states "$t"
  stated_stop
  local storage="" i before
  for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
    [ "${STATED_ARGS[$i]}" = --storage ] && storage=${STATED_ARGS[$((i + 1))]}
  done
  local prefix=${storage#s3://"$S3_BUCKET"/}
  awss3 s3 cp "s3://$S3_BUCKET/$prefix/states/dr/net/core/@current.tfstate" "$W/raw" >/dev/null 2>&1
  if head -c 10 "$W/raw" | grep -q STATEDENC1; then pass "$t objects are encrypted in the bucket"; else fail "$t objects are encrypted in the bucket" "$(head -c 40 "$W/raw")"; fi
  before=$(awss3 s3api list-object-versions --bucket "$S3_BUCKET" --prefix "$prefix/" --output json | jq -c '[(.Versions // [])[] | [.Key, .VersionId]] | sort')
  ctl offline export --storage "$storage" --s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1 --to "$W/s3-nokey"
  expect_rc "$t without the key: refused" 1
  STATED_ENCRYPTION_KEY=$key ctl offline export --storage "$storage" --s3-endpoint "$S3_ENDPOINT" \
    --s3-region us-east-1 --to "$W/s3-out" --all-versions
  expect_rc "$t offline export (STATED_ENCRYPTION_KEY) --all-versions" 0
  check_export "$W/s3-out" "$t"
  expect_eq "$t the bucket is unchanged" "$(awss3 s3api list-object-versions --bucket "$S3_BUCKET" --prefix "$prefix/" --output json | jq -c '[(.Versions // [])[] | [.Key, .VersionId]] | sort')" "$before"
  runbook "$W/s3-out/dr/app.tfstate" "$t"
}

# ------------------------------------------------------------------ import

# A terraform working dir on a local backend whose state file is $1 (a tree being built).
tf_local_apply() { # STATEFILE VALUE
  local d
  d=$(tf_dir_backend local)
  mkdir -p "$(dirname "$1")"
  tf "$d" init -input=false -backend-config="path=$1" &&
    tf "$d" apply -input=false -auto-approve -var "v=$2" || fail "import-dir terraform apply ($1)" "$(tf_tail)"
  LAST_TF_DIR=$d
}

# terraform in DIR moved to the http backend for NAME: init -reconfigure, then a plan with no
# changes (exit 0 with -detailed-exitcode).
plan_on_http() { # DIR NAME VALUE TAG
  local d=$1 flags
  sed -i 's/backend "[a-z0-9]*" {}/backend "http" {}/' "$d/main.tf"
  mapfile -t flags < <(backend_flags "$2" state)
  if tf "$d" init -input=false -reconfigure "${flags[@]}" && tf "$d" plan -input=false -detailed-exitcode -var "v=$3"; then
    pass "$4 terraform on the http backend plans no changes for $2"
  else
    fail "$4 terraform on the http backend plans no changes for $2" "$(tf_tail)"
  fi
}

import_from_dir() {
  local t=import-dir tree=$W/tree dprod="" dapp=""
  mkdir -p "$tree/bad name" "$tree/docs"
  if [ "$HAVE_TF" = 1 ]; then
    tf_local_apply "$tree/net/prod/terraform.tfstate" prod-1 && dprod=$LAST_TF_DIR
    tf_local_apply "$tree/app/terraform.tfstate" app-1 && dapp=$LAST_TF_DIR
  else
    mkdir -p "$tree/net/prod" "$tree/app"
    mkstate "$tree/net/prod/terraform.tfstate" 3 lin-prod
    mkstate "$tree/app/terraform.tfstate" 1 lin-app
  fi
  mkstate "$tree/bad name/terraform.tfstate" 1 lin-bad
  echo notes >"$tree/docs/README.md"
  stated_start embedded || { fail "$t start" "stated did not start"; return; }
  ctl import --from-dir "$tree" --dry-run
  expect_rc "$t --dry-run" 0
  expect_eq "$t --dry-run lists what it would import" "$(grep -c '^would import .* -> ' "$W/out")" 2
  ctl states list --output json
  expect_eq "$t --dry-run imported nothing" "$(jq length "$W/out")" 0
  ctl import --from-dir "$tree"
  expect_rc "$t import" 0
  grep -q '^imported 2 version' "$W/out" && pass "$t imported 2" || fail "$t imported 2" "$(cat "$W/out")"
  grep -q "skipped bad name/terraform.tfstate" "$W/err" && pass "$t invalid name listed and skipped" || fail "$t invalid name listed and skipped" "$(err_tail)"
  state_json net/prod "$W/prod.get"
  cmp -s "$W/prod.get" "$tree/net/prod/terraform.tfstate" && pass "$t net/prod holds the file's bytes" || fail "$t net/prod holds the file's bytes" "different"
  ctl import --from-dir "$tree"
  expect_rc "$t second run" 0
  grep -q '^imported 0 version(s); 2 already' "$W/out" && pass "$t second run imports nothing" || fail "$t second run imports nothing" "$(cat "$W/out")"
  # The server's own duplicate check, without the client's.
  local code
  code=$(curl -s -o "$W/imp.json" -w '%{http_code}' -u "ci:$ADMIN_TOKEN" --data-binary "@$tree/app/terraform.tfstate" \
    "$STATED_URL/v1/import/app?source=again")
  expect_eq "$t POST /v1/import of a known version" "$code $(jq -r .imported "$W/imp.json")" "200 false"
  ctl audit export
  expect_eq "$t one import event per imported version" "$(jq -r 'select(.action == "import" and (.detail | startswith("from ") and (contains("already") | not))) | .state' "$W/out" | sort | tr '\n' ' ')" "app net/prod "
  # A locked state refuses an import (423: exit 4); a write token may not import (exit 6).
  mkstate "$W/locked.json" 9 lin-app
  mkdir -p "$W/tree2/app" && cp "$W/locked.json" "$W/tree2/app/terraform.tfstate"
  printf '{"ID":"held","Operation":"OperationTypeApply","Info":"","Who":"other@ci","Version":"1.11.4","Created":"%s","Path":""}' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$W/lock.json"
  curl -s -o /dev/null -X LOCK -u "ci:$ADMIN_TOKEN" --data-binary "@$W/lock.json" "$STATED_URL/v1/states/app"
  ctl import --from-dir "$W/tree2"
  expect_rc "$t a locked state is refused" 4
  curl -s -o /dev/null -X UNLOCK -u "ci:$ADMIN_TOKEN" --data-binary "@$W/lock.json" "$STATED_URL/v1/states/app"
  ctl tokens create "writer" --role write --states '**'
  local wtok
  wtok=$(cat "$W/out")
  CTL_TOKEN=$wtok ctl import --from-dir "$W/tree2"
  expect_rc "$t a write token may not import" 6
  if [ "$HAVE_TF" = 1 ] && [ -n "$dprod" ]; then
    plan_on_http "$dprod" net/prod prod-1 "$t"
    plan_on_http "$dapp" app app-1 "$t"
  else
    skip "$t terraform plan on the http backend" "no terraform"
  fi
  stated_stop
}

# A bucket in terraform's backend "s3" layout, with versioning: written by terraform itself
# against RGW, or by awscli in the same layout when terraform cannot.
s3_backend_bucket() { # BUCKET
  local b=$1 d
  awss3 s3api create-bucket --bucket "$b" >/dev/null &&
    awss3 s3api put-bucket-versioning --bucket "$b" --versioning-configuration Status=Enabled || return 1
  BUCKETS+=("$b")
  S3_WRITER=awscli
  if [ "$HAVE_TF" = 1 ]; then
    d=$(tf_dir_backend s3)
    cat >"$d/s3.hcl" <<EOF
bucket = "$b"
key = "net/prod/terraform.tfstate"
region = "us-east-1"
endpoints = { s3 = "$S3_ENDPOINT" }
use_path_style = true
skip_credentials_validation = true
skip_region_validation = true
skip_requesting_account_id = true
skip_metadata_api_check = true
skip_s3_checksum = true
EOF
    if AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET tf "$d" init -input=false -backend-config=s3.hcl &&
      AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET tf "$d" apply -input=false -auto-approve -var v=one &&
      AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET tf "$d" apply -input=false -auto-approve -var v=two; then
      S3_WRITER=terraform
      S3_TF_DIR=$d
    else
      echo "terraform's backend \"s3\" does not work against RGW here ($(tf_tail)); writing the layout with awscli" >&2
    fi
  fi
  if [ "$S3_WRITER" = awscli ]; then
    mkstate "$W/p1.json" 1 lin-s3
    mkstate "$W/p2.json" 2 lin-s3
    awss3 s3api put-object --bucket "$b" --key net/prod/terraform.tfstate --body "$W/p1.json" >/dev/null
    awss3 s3api put-object --bucket "$b" --key net/prod/terraform.tfstate --body "$W/p2.json" >/dev/null
  fi
  mkstate "$W/app.json" 4 lin-app-s3
  awss3 s3api put-object --bucket "$b" --key app/terraform.tfstate --body "$W/app.json" >/dev/null
  awss3 s3api put-object --bucket "$b" --key gone/terraform.tfstate --body "$W/app.json" >/dev/null
  awss3 s3api delete-object --bucket "$b" --key gone/terraform.tfstate >/dev/null # a delete marker
  awss3 s3api put-object --bucket "$b" --key "bad name/terraform.tfstate" --body "$W/app.json" >/dev/null
  echo "bucket $b written by $S3_WRITER"
}

import_from_s3() {
  local t=import-s3 b
  b="stated-imp-$(date +%s)$RANDOM"
  [ "$HAVE_S3" = 1 ] || { skip "$t" "no RGW"; return; }
  s3_backend_bucket "$b" || { fail "$t bucket" "cannot create $b"; return; }
  local s3=(--s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1)
  stated_start embedded || { fail "$t start" "stated did not start"; return; }
  ctl import --from "s3://$b" --versions --dry-run "${s3[@]}"
  expect_rc "$t --dry-run" 0
  # net/prod's two versions, app, and gone's one version (its delete marker is not one).
  expect_eq "$t --dry-run lists 4 versions ($S3_WRITER)" "$(grep -c '^would import .* -> ' "$W/out")" 4
  ctl import --from "s3://$b" --versions "${s3[@]}"
  expect_rc "$t import --versions" 0
  grep -q '^imported 4 version' "$W/out" && pass "$t imported 4 (delete marker and invalid name skipped)" || fail "$t imported 4" "$(cat "$W/out") $(err_tail)"
  grep -q 'skipped bad name/terraform.tfstate' "$W/err" && pass "$t invalid name listed" || fail "$t invalid name listed" "$(err_tail)"
  ctl snapshots list net/prod --output json
  expect_eq "$t net/prod: both object versions, oldest first" "$(jq -r '[.[].serial] | map(tostring) | join(" ")' "$W/out")" "2 1"
  awss3 s3 cp "s3://$b/net/prod/terraform.tfstate" "$W/latest.tfstate" >/dev/null
  state_json net/prod "$W/imported.get"
  cmp -s "$W/latest.tfstate" "$W/imported.get" && pass "$t current is the latest object version" || fail "$t current is the latest object version" "different"
  ctl import --from "s3://$b" --versions "${s3[@]}"
  expect_rc "$t second run" 0
  grep -q '^imported 0 version(s); 4 already' "$W/out" && pass "$t second run imports nothing" || fail "$t second run imports nothing" "$(cat "$W/out")"
  ctl import --from "s3://$b" "${s3[@]}"
  grep -q '^imported 0 version' "$W/out" && pass "$t without --versions: the current objects are there already" || fail "$t current objects" "$(cat "$W/out")"
  expect_eq "$t the source bucket's versioning untouched" "$(awss3 s3api get-bucket-versioning --bucket "$b" | jq -r .Status)" Enabled
  if [ "$S3_WRITER" = terraform ]; then
    plan_on_http "$S3_TF_DIR" net/prod two "$t"
  else
    skip "$t terraform plan on the http backend" "the bucket was written with awscli"
  fi
  stated_stop
}

for c in "offline export" "import" "audit verify"; do
  # shellcheck disable=SC2086
  "$SC" $c --help >"$W/out" 2>&1
  grep -q "Usage: statectl $c" "$W/out" && pass "cli $c --help" || fail "cli $c --help" "$(head -c 200 "$W/out")"
done
grep -q 'offline export' <("$SC" --help) && pass "cli --help lists offline export and import" || fail "cli --help lists offline export and import" ""
"$SC" offline export --to "$W/x" >/dev/null 2>"$W/err"
expect_eq "cli offline export without a storage is a usage error" "$?" 2
"$SC" import --from-dir "$W" --versions >/dev/null 2>"$W/err"
expect_eq "cli import --versions needs --from" "$?" 2

offline_verify
export_from_dir
export_from_s3
import_from_dir
import_from_s3
t_done
