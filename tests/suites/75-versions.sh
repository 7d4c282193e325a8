#!/bin/bash
# 75-versions: history and recovery through statectl and the admin API, in embedded mode and
# in s3pg mode (S3 on Ceph RGW in a bucket with versioning on + PostgreSQL locks and audit)
# when those services are up.
#
# Per mode: version references (full ID, .tfstate suffix, unique prefix, latest, latest~N,
# serial:N, through statectl and the API; an ambiguous prefix is 400 naming the candidates,
# an unknown reference 404); restore with a reason, kept with the new version and marked by
# `snapshots list`, bad reasons refused; deleting one version (gone from the data dir, or from
# every object version in the bucket, the current object's older versions with its bytes
# included), refused for the current version, without a reason and for non-admin tokens,
# audited with its SHA-256; states show, states delete (history kept, a restore brings the
# state back), states move (history moved, refused while either name is locked and onto an
# existing state, audited on both names).
#
# Run alone: tests/suites/75-versions.sh   (VERSION_MODES="embedded" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-versions.XXXXXX)
VBUCKET=
cleanup() {
  stated_cleanup
  [ -n "$VBUCKET" ] && drop_bucket "$VBUCKET"
  rm -rf "$W"
}
trap cleanup EXIT
SC=$BIN/statectl

for tool in curl jq sha256sum; do
  command -v "$tool" >/dev/null || { skip versions "$tool not found"; t_done; exit; }
done
if [ ! -x "$SC" ] || ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail versions "build/bin/stated or statectl missing; build with make"
  t_done
  exit
fi

ctl() {
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
ctl_as() {
  local tok=$1
  shift
  STATECTL_URL=$STATED_URL STATECTL_TOKEN=$tok timeout 30 "$SC" "$@" >"$W/out" 2>"$W/err"
  RC=$?
}
err_tail() { tail -n 2 "$W/err" | tr '\n' ' ' | cut -c1-300; }
expect_rc() {
  if [ "$RC" = "$2" ]; then pass "$1"; else fail "$1" "exit $RC, want $2: $(err_tail)"; fi
}
# expect_grep NAME PATTERN FILE
expect_grep() {
  if grep -q -- "$2" "$3"; then pass "$1"; else fail "$1" "no '$2' in: $(head -c 300 "$3")"; fi
}
# api METHOD PATH [TOKEN]: an admin API request; body in $W/api.body, headers in $W/api.head,
# prints the status.
api() {
  curl -s -o "$W/api.body" -D "$W/api.head" -w '%{http_code}' --max-time 10 -X "$1" \
    -H "Authorization: Bearer ${3:-$ADMIN_TOKEN}" "$STATED_URL$2"
}
# http METHOD NAME [BODY-FILE]: a state request as a Terraform client; prints the status.
http() {
  local args=()
  [ -n "${3:-}" ] && args=(--data-binary "@$3")
  curl -s -o "$W/http.body" -w '%{http_code}' --max-time 10 -X "$1" -u "ci:$ADMIN_TOKEN" \
    "${args[@]}" "$STATED_URL/v1/states/$2"
}
# mkstate FILE SERIAL WORD: a state with one output named after WORD.
mkstate() {
  printf '{"version":4,"terraform_version":"1.11.4","serial":%s,"lineage":"lin-v","outputs":{"out_%s":{"value":"%s","type":"string"}},"resources":[]}' \
    "$2" "$3" "$3" >"$1"
}
lock_as_other() { # NAME ID: prints the status
  printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"other@ci","Version":"1.11.4","Created":"%s","Path":""}' \
    "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$W/lock.json"
  http LOCK "$1" "$W/lock.json"
}
unlock_as_other() {
  http UNLOCK "$1" "$W/lock.json"
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
audit_events() { # ACTION: the export's events of that action, one JSON object a line
  api GET "/v1/audit/export" >/dev/null
  jq -c --arg a "$1" 'select(.action == $a)' "$W/api.body"
}

# S3 side: awscli against RGW, as an independent client.
s3api() {
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    timeout 60 aws --endpoint-url "$S3_ENDPOINT" s3api "$@"
}
drop_bucket() {
  local b=$1
  s3api list-object-versions --bucket "$b" --output json 2>/dev/null |
    jq -r '((.Versions // []) + (.DeleteMarkers // []))[] | [.Key, .VersionId] | @tsv' |
    while IFS=$'\t' read -r k v; do
      s3api delete-object --bucket "$b" --key "$k" --version-id "$v" >/dev/null 2>&1
    done
  s3api delete-bucket --bucket "$b" >/dev/null 2>&1
}
# The key prefix this stated uses in the bucket ("" in embedded mode).
s3_prefix() {
  local i
  for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
    if [ "${STATED_ARGS[$i]}" = --storage ]; then
      local u=${STATED_ARGS[$((i + 1))]#s3://*/}
      echo "$u"
    fi
  done
}
# versions_of KEY: how many object versions and delete markers the bucket holds for KEY.
versions_of() {
  s3api list-object-versions --bucket "$VBUCKET" --prefix "$1" --output json |
    jq --arg k "$1" '[((.Versions // []) + (.DeleteMarkers // []))[] | select(.Key == $k)] | length'
}

# Four versions of NAME: serials 1, 2, 2, 3 (the third holds a "secret"); IDS[0..3] oldest first.
make_history() {
  local name=$1 i
  local serials=(1 2 2 3) words=(one two secret three)
  for i in 0 1 2 3; do
    mkstate "$W/v$i.json" "${serials[$i]}" "${words[$i]}"
    [ "$(http POST "$name" "$W/v$i.json")" = 200 ] || { fail "versions write $name v$i" "$(cat "$W/http.body")"; return 1; }
  done
  api GET "/v1/snapshots/$name" >/dev/null
  mapfile -t IDS < <(jq -r 'reverse | .[].id' "$W/api.body")
  [ "${#IDS[@]}" = 4 ]
}

references() {
  local M=$1 t="versions/$1/refs" name="ver-$1/app"
  make_history "$name" || { fail "$t history" "got ${#IDS[@]} versions"; return 1; }
  pass "$t four versions"
  # statectl: each form
  local ref want
  for ref in "latest:3" "latest~1:2" "latest~3:0" "serial:2:2" "serial:1:0" "serial:3:3" \
    "${IDS[1]}:1" "${IDS[1]}.tfstate:1" "${IDS[2]:0:17}:2"; do
    want=${ref##*:}
    ref=${ref%:*}
    ctl snapshots show "$name" "$ref" -o "$W/got.json"
    if [ $RC = 0 ] && cmp -s "$W/got.json" "$W/v$want.json"; then pass "$t statectl show $ref"; else fail "$t statectl show $ref" "exit $RC: $(err_tail)"; fi
  done
  # the API: the same forms, and the id resolved in X-Snapshot-Id
  local st
  st=$(api GET "/v1/snapshots/$name?id=latest~3")
  if [ "$st" = 200 ] && cmp -s "$W/api.body" "$W/v0.json"; then pass "$t API latest~3"; else fail "$t API latest~3" "status $st"; fi
  grep -qi "x-snapshot-id: ${IDS[0]}" "$W/api.head" && pass "$t API names the resolved id" || fail "$t API names the resolved id" "$(tr '\r\n' '  ' <"$W/api.head")"
  st=$(api GET "/v1/snapshots/$name?id=serial%3A2")
  if [ "$st" = 200 ] && cmp -s "$W/api.body" "$W/v2.json"; then pass "$t API serial:2 is the newest with serial 2"; else fail "$t API serial:2" "status $st"; fi
  # ambiguous: 400 INFRA_001 naming the candidates
  st=$(api GET "/v1/snapshots/$name?id=${IDS[0]:0:6}")
  expect_eq "$t ambiguous prefix 400" "$st" 400
  expect_eq "$t ambiguous prefix INFRA_001" "$(jq -r .code "$W/api.body")" INFRA_001
  if jq -r .message "$W/api.body" | grep -q "${IDS[0]}" && jq -r .message "$W/api.body" | grep -q "${IDS[3]}"; then pass "$t ambiguous prefix lists candidates"; else fail "$t ambiguous prefix lists candidates" "$(cat "$W/api.body")"; fi
  ctl snapshots show "$name" "${IDS[0]:0:6}"
  if [ $RC != 0 ] && grep -q INFRA_001 "$W/err" && grep -q "${IDS[1]}" "$W/err"; then pass "$t statectl ambiguous names candidates"; else fail "$t statectl ambiguous names candidates" "exit $RC: $(err_tail)"; fi
  # unknown: 404
  expect_eq "$t latest~9 is 404" "$(api GET "/v1/snapshots/$name?id=latest~9")" 404
  ctl snapshots show "$name" latest~9
  expect_rc "$t statectl latest~9 exits 3" 3
  expect_eq "$t unknown full id is 404" "$(api GET "/v1/snapshots/$name?id=0000000000000000-1-aaaaaaaaaaaa")" 404
  ctl snapshots show "$name" 17
  expect_rc "$t statectl: a 2-character prefix is a usage error" 2
  ctl snapshots diff "$name" latest~3 latest
  expect_rc "$t diff takes references" 0
}

restore_reason() {
  local M=$1 t="versions/$1/restore" name="ver-$1/app" who
  api GET /v1/whoami >/dev/null
  who=$(jq -r .name "$W/api.body")
  ctl snapshots restore "$name" serial:1 --reason "roll back the bad apply"
  expect_rc "$t restore serial:1 with a reason" 0
  grep -q "${IDS[0]}" "$W/out" && pass "$t restore names the resolved id" || fail "$t restore names the resolved id" "$(cat "$W/out")"
  ctl snapshots list "$name"
  expect_grep "$t list marks the restored version" "restored from ${IDS[0]} by $who: roll back the bad apply" "$W/out"
  api GET "/v1/snapshots/$name" >/dev/null
  expect_eq "$t API restored_from" "$(jq -r '.[0].restored_from' "$W/api.body")" "${IDS[0]}"
  expect_eq "$t API restored_by" "$(jq -r '.[0].restored_by' "$W/api.body")" "$who"
  expect_eq "$t API reason" "$(jq -r '.[0].reason' "$W/api.body")" "roll back the bad apply"
  expect_eq "$t API other versions: null marker" "$(jq -c '[.[1].restored_from, .[1].restored_by, .[1].reason]' "$W/api.body")" '[null,null,null]'
  local ev
  ev=$(audit_events restore | tail -n 1)
  echo "$ev" | jq -r .detail | grep -q "${IDS[0]}.*roll back the bad apply" && pass "$t audit detail has source and reason" || fail "$t audit detail has source and reason" "$ev"
  # bad reasons change nothing
  local n0 n1
  n0=$(api GET "/v1/snapshots/$name" >/dev/null; jq length "$W/api.body")
  expect_eq "$t control character refused" "$(api POST "/v1/restore/$name?id=latest~1&reason=a%01b")" 400
  expect_eq "$t invalid UTF-8 refused" "$(api POST "/v1/restore/$name?id=latest~1&reason=a%ffb")" 400
  expect_eq "$t 201-byte reason refused" "$(api POST "/v1/restore/$name?id=latest~1&reason=$(printf 'r%.0s' $(seq 1 201))")" 400
  n1=$(api GET "/v1/snapshots/$name" >/dev/null; jq length "$W/api.body")
  expect_eq "$t refused restores wrote nothing" "$n1" "$n0"
  expect_eq "$t a 200-byte reason is kept" "$(api POST "/v1/restore/$name?id=${IDS[3]:0:20}&reason=$(printf 'r%.0s' $(seq 1 200))")" 200
  api GET "/v1/snapshots/$name" >/dev/null
  expect_eq "$t ... whole" "$(jq -r '.[0].reason | length' "$W/api.body")" 200
}

delete_version() {
  local M=$1 t="versions/$1/delete" name="ver-$1/app" victim=${IDS[2]} sha prefix=""
  sha=$(sha_of "$W/v2.json")
  [ "$M" != embedded ] && prefix="$(s3_prefix)/"
  # refusals first
  curl -s -o "$W/tok.json" --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" \
    -d "{\"name\":\"writer-$M\",\"role\":\"write\",\"states\":\"**\"}" "$STATED_URL/v1/tokens"
  WRITER=$(jq -r .token "$W/tok.json")
  ctl_as "$WRITER" snapshots delete "$name" "$victim" --reason "leak"
  expect_rc "$t a write token is refused (exit 6)" 6
  ctl snapshots delete "$name" "$victim"
  expect_rc "$t without --reason: usage error" 2
  expect_eq "$t API without a reason: 400" "$(api DELETE "/v1/snapshots/$name?id=$victim")" 400
  ctl snapshots delete "$name" latest --reason "not the current one"
  if [ $RC = 1 ] && grep -q "current" "$W/err"; then pass "$t the current version is refused"; else fail "$t the current version is refused" "exit $RC: $(err_tail)"; fi
  # the bytes are there before
  if [ "$M" = embedded ]; then
    local f="$STATED_DATA/data/states/$name/@snapshots/$victim.tfstate"
    [ -f "$f" ] && pass "$t file there before" || fail "$t file there before" "$f"
  else
    expect_eq "$t one object version before" "$(versions_of "${prefix}states/$name/@snapshots/$victim.tfstate")" 1
    current_versions_with "$sha" "${prefix}states/$name/@current.tfstate"
    expect_eq "$t the current object's versions hold its bytes before" "$COPIES" 1
  fi
  ctl snapshots delete "$name" "$victim" --reason "leaked a secret"
  expect_rc "$t delete the leaked version" 0
  expect_grep "$t prints its sha256" "$sha" "$W/out"
  expect_eq "$t gone from the API" "$(api GET "/v1/snapshots/$name?id=$victim")" 404
  api GET "/v1/snapshots/$name" >/dev/null
  expect_eq "$t gone from the listing" "$(jq --arg v "$victim" '[.[] | select(.id == $v)] | length' "$W/api.body")" 0
  if [ "$M" = embedded ]; then
    if [ ! -e "$f" ] && [ ! -e "$f.meta" ]; then pass "$t file removed"; else fail "$t file removed" "$f still there"; fi
    if grep -rlq '"secret"' "$STATED_DATA/data/states"; then fail "$t no byte of it left in the data dir" "$(grep -rl '"secret"' "$STATED_DATA/data/states")"; else pass "$t no byte of it left in the data dir"; fi
  else
    expect_eq "$t no object version or delete marker left" "$(versions_of "${prefix}states/$name/@snapshots/$victim.tfstate")" 0
    current_versions_with "$sha" "${prefix}states/$name/@current.tfstate"
    expect_eq "$t no older version of the current object holds its bytes" "$COPIES" 0
  fi
  local ev
  ev=$(audit_events snapshot-delete | tail -n 1)
  expect_eq "$t audited with its sha256" "$(echo "$ev" | jq -r .sha256)" "$sha"
  echo "$ev" | jq -r .detail | grep -q "$victim: leaked a secret" && pass "$t audited with the reason" || fail "$t audited with the reason" "$ev"
  expect_eq "$t refusals audited too" "$(audit_events snapshot-delete | jq -s '[.[] | select(.status >= 400)] | length')" 3
}

# current_versions_with SHA KEY: COPIES = how many stored versions of KEY have that SHA-256.
current_versions_with() {
  local sha=$1 key=$2 v
  COPIES=0
  for v in $(s3api list-object-versions --bucket "$VBUCKET" --prefix "$key" --output json |
    jq -r --arg k "$key" '(.Versions // [])[] | select(.Key == $k) | .VersionId'); do
    s3api get-object --bucket "$VBUCKET" --key "$key" --version-id "$v" "$W/ver.bin" >/dev/null
    [ "$(sha_of "$W/ver.bin")" = "$sha" ] && COPIES=$((COPIES + 1))
  done
}

states_commands() {
  local M=$1 t="versions/$1/states" name="ver-$1/app" n
  ctl states show "$name"
  expect_rc "$t show" 0
  api GET "/v1/snapshots/$name" >/dev/null
  n=$(jq length "$W/api.body")
  expect_grep "$t show: versions" "^versions: *$n\$" "$W/out"
  expect_grep "$t show: outputs" "^outputs: *out_three\$" "$W/out"
  expect_grep "$t show: lineage" "^lineage: *lin-v\$" "$W/out"
  expect_grep "$t show: no lock" "^lock: *none" "$W/out"
  lock_as_other "$name" "lk-show" >/dev/null
  ctl states show "$name" --output json
  expect_eq "$t show --output json: lock and outputs" "$(jq -c '[.lock.id, .outputs, .versions]' "$W/out")" "[\"lk-show\",[\"out_three\"],$n]"
  # delete: refused while locked, then the current goes and the history stays
  ctl states delete "$name"
  expect_rc "$t delete refused while locked (exit 4)" 4
  unlock_as_other "$name" >/dev/null
  http GET "$name" >/dev/null
  cp "$W/http.body" "$W/before-delete.json"
  ctl states delete "$name"
  expect_rc "$t delete" 0
  expect_eq "$t deleted: the protocol answers 404" "$(http GET "$name")" 404
  ctl states show "$name"
  expect_rc "$t show after delete exits 3" 3
  api GET "/v1/snapshots/$name" >/dev/null
  expect_eq "$t history kept" "$(jq length "$W/api.body")" "$n"
  expect_eq "$t delete audited" "$(audit_events delete | jq -s 'map(select(.state == "'"$name"'" and .status == 200)) | length')" 1
  ctl snapshots restore "$name" latest --reason "undo the delete"
  expect_rc "$t restore latest brings it back" 0
  expect_eq "$t back" "$(http GET "$name")" 200
  expect_eq "$t same content, serial one above" "$(jq -c '{outputs, serial}' "$W/http.body")" "$(jq -c '{outputs, serial: (.serial + 1)}' "$W/before-delete.json")"
}

move_state() {
  local M=$1 t="versions/$1/move" name="ver-$1/app" to="ver-$1/moved" ids_before cur_before
  mkstate "$W/other.json" 1 other
  http POST "ver-$1/taken" "$W/other.json" >/dev/null
  api GET "/v1/snapshots/$name" >/dev/null
  ids_before=$(jq -c '[.[].id]' "$W/api.body")
  http GET "$name" >/dev/null
  cur_before=$(sha_of "$W/http.body")
  ctl_as "$WRITER" states move "$name" "$to"
  expect_rc "$t a write token is refused (exit 6)" 6
  lock_as_other "$name" "lk-old" >/dev/null
  ctl states move "$name" "$to"
  if [ $RC = 4 ] && grep -q "lk-old" "$W/err"; then pass "$t refused while OLD is locked (423 with holder)"; else fail "$t refused while OLD is locked" "exit $RC: $(err_tail)"; fi
  unlock_as_other "$name" >/dev/null
  lock_as_other "$to" "lk-new" >/dev/null
  ctl states move "$name" "$to"
  if [ $RC = 4 ] && grep -q "lk-new" "$W/err"; then pass "$t refused while NEW is locked"; else fail "$t refused while NEW is locked" "exit $RC: $(err_tail)"; fi
  unlock_as_other "$to" >/dev/null
  ctl states move "$name" "ver-$1/taken"
  if [ $RC = 1 ] && grep -q "already exists" "$W/err"; then pass "$t refused onto an existing state"; else fail "$t refused onto an existing state" "exit $RC: $(err_tail)"; fi
  api GET "/v1/locks" >/dev/null
  expect_eq "$t refusals leave no lease behind" "$(jq length "$W/api.body")" 0
  ctl states move "$name" "$to"
  expect_rc "$t move" 0
  api GET "/v1/snapshots/$to" >/dev/null
  expect_eq "$t history moved" "$(jq -c '[.[].id]' "$W/api.body")" "$ids_before"
  expect_eq "$t the restore marker moved too" "$(jq -r '.[0].reason' "$W/api.body")" "undo the delete"
  expect_eq "$t current moved" "$(http GET "$to" >/dev/null; sha_of "$W/http.body")" "$cur_before"
  expect_eq "$t old name: no state" "$(http GET "$name")" 404
  expect_eq "$t old name: no history" "$(api GET "/v1/snapshots/$name")" 404
  api GET "/v1/locks" >/dev/null
  expect_eq "$t no lease left" "$(jq length "$W/api.body")" 0
  if [ "$M" = embedded ]; then
    [ -z "$(find "$STATED_DATA/data/states/$name" -type f 2>/dev/null)" ] && pass "$t old files gone" || fail "$t old files gone" "$(find "$STATED_DATA/data/states/$name" -type f | head -3)"
  fi
  local evs
  # In closed mode a move's events go ahead of it; a refused move (onto "taken") is then
  # followed by a "not applied" event of the same request and state, which cancels it.
  evs=$(audit_events state-move | jq -s -c '
    [.[] | select(.detail | startswith("not applied")) | [.request_id, .state]] as $undone
    | [.[] | select(.status == 200 and ((.detail | startswith("not applied")) | not))
      | select([.request_id, .state] as $k | $undone | index([$k]) | not) | .state] | sort')
  expect_eq "$t audited on both names" "$evs" "$(jq -n -c --arg a "$name" --arg b "$to" '[$a, $b] | sort')"
  # the moved state takes writes under its new name
  mkstate "$W/next.json" 99 next
  expect_eq "$t writes go on under the new name" "$(http POST "$to" "$W/next.json")" 200
}

run_mode() {
  local M=$1
  if [ "$M" != embedded ]; then
    VBUCKET=stated-versions-$(date +%s)-$RANDOM
    if ! s3api create-bucket --bucket "$VBUCKET" >/dev/null 2>"$W/s3.err" ||
      ! s3api put-bucket-versioning --bucket "$VBUCKET" --versioning-configuration Status=Enabled >/dev/null 2>>"$W/s3.err"; then
      fail "versions/$M bucket" "$(tail -n 1 "$W/s3.err")"
      VBUCKET=
      return
    fi
  fi
  if ! S3_BUCKET=${VBUCKET:-${S3_BUCKET:-}} stated_start "$M"; then
    fail "versions/$M start" "stated did not start ($(tail -n 2 "$STATED_LOG" | tr '\n' ' '))"
    return
  fi
  if references "$M"; then
    restore_reason "$M"
    delete_version "$M"
    states_commands "$M"
    move_state "$M"
  fi
  stated_stop
  rm -rf "$STATED_DATA"
}

cli_help() {
  local t=versions/cli c
  for c in "states show" "states delete" "states move" "snapshots delete"; do
    # shellcheck disable=SC2086
    "$SC" $c --help >"$W/out" 2>&1; RC=$?
    if [ $RC = 0 ] && grep -q "Usage: statectl $c" "$W/out"; then pass "$t $c --help"; else fail "$t $c --help" "exit $RC"; fi
  done
  "$SC" snapshots restore --help >"$W/out" 2>&1
  expect_grep "$t restore --help names --reason" "--reason TEXT" "$W/out"
  expect_grep "$t --help explains references" "latest~N" "$W/out"
  "$SC" --help >"$W/out" 2>&1
  expect_grep "$t global help lists snapshots delete" "snapshots delete" "$W/out"
  expect_grep "$t global help lists states move" "states move" "$W/out"
}

cli_help
for M in ${VERSION_MODES:-embedded s3pg}; do
  if mode_available "$M" && { [ "$M" = embedded ] || command -v aws >/dev/null; }; then
    run_mode "$M"
  else
    skip "versions/$M" "mode $M needs PostgreSQL, Ceph RGW and awscli (S3_ENDPOINT/PG_CONNINFO unset or aws missing)"
    echo "!!! SKIPPED versions/$M: services not available" >&2
  fi
done
t_done
