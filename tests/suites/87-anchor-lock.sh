#!/bin/bash
# 87-anchor-lock: audit anchors under S3 Object Lock retention (--audit-anchor-retention).
#
# On RGW, with awscli as the independent client:
#   - a bucket created with --object-lock-enabled-for-bucket (if RGW refuses to create one the
#     checks are SKIPPED with RGW's answer, never passed): stated with --audit-anchor-every 2
#     --audit-anchor-retention 400d writes anchors whose get-object-retention is COMPLIANCE
#     until about 400 days from now (within a day), and delete-object --version-id of an
#     anchor version is refused (the version is still there afterwards);
#   - the test bucket (no Object Lock): the explicit option refuses to start, naming the
#     bucket's missing Object Lock and how to create one; the default starts, says once that
#     anchors are ordinary objects, and writes them without retention (deletable);
#   - embedded: the explicit option refuses to start; --audit-anchor-retention 0 starts.
# The Object Lock bucket cannot be emptied before its anchors' date: it is left to the
# throwaway RGW (tests/env/rgw-down.sh removes everything).
#
# Run alone: tests/suites/87-anchor-lock.sh (after make all, with the S3_* lines of
# tests/env/rgw-up.sh exported).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-alock.XXXXXX)
cleanup() {
  stated_cleanup
  rm -rf "$W"
}
trap cleanup EXIT

for tool in curl jq; do
  command -v "$tool" >/dev/null || { skip anchor-lock "$tool not found"; t_done; exit; }
done

s3api() {
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    timeout 60 aws --endpoint-url "$S3_ENDPOINT" s3api "$@"
}
put() { # NAME SERIAL: prints the status
  printf '{"version":4,"serial":%s,"lineage":"alock","outputs":{},"resources":[]}\n' "$2" >"$W/s.json"
  curl -s -o /dev/null -w '%{http_code}' --max-time 20 -u "ci:$ADMIN_TOKEN" \
    --data-binary "@$W/s.json" "$STATED_URL/v1/states/$1"
}
# The bucket prefix of the running stated (stated_start picks a fresh one).
storage_prefix() {
  local u
  u=$(stated_arg --storage) && echo "${u#s3://*/}"
}
# first_anchor BUCKET: the first anchor's key, waiting up to 10 s for one.
first_anchor() {
  local k i
  for i in $(seq 1 50); do
    k=$(s3api list-objects-v2 --bucket "$1" --prefix "$(storage_prefix)/audit/anchors/" \
      --query 'Contents[0].Key' --output text 2>/dev/null)
    [ -n "$k" ] && [ "$k" != None ] && { echo "$k"; return 0; }
    sleep 0.2
  done
  return 1
}
version_of() { # BUCKET KEY
  s3api list-object-versions --bucket "$1" --prefix "$2" --query 'Versions[0].VersionId' --output text
}
# refused_start T WHAT: stated_start failed and the log says why.
refused_start() {
  local t=$1 what=$2
  grep -q "has no S3 Object Lock" "$STATED_LOG" && pass "$t refused ($what)" ||
    fail "$t refused ($what)" "$(tail -n 3 "$STATED_LOG")"
  grep -q -- "--object-lock-enabled-for-bucket" "$STATED_LOG" && pass "$t names the fix" ||
    fail "$t names the fix" "$(tail -n 1 "$STATED_LOG")"
  stated_cleanup
}

# --- a bucket with Object Lock: anchors in COMPLIANCE mode for 400 days
locked_bucket() {
  local t=alock/locked b="stated-lock-$(date +%s)$RANDOM" k v until want got
  if ! s3api create-bucket --bucket "$b" --object-lock-enabled-for-bucket >"$W/cb" 2>&1; then
    skip "$t" "RGW refused create-bucket --object-lock-enabled-for-bucket: $(tail -n 1 "$W/cb")"
    return
  fi
  S3_BUCKET=$b stated_start s3 --audit-anchor-every 2 --audit-anchor-retention 400d ||
    { fail "$t start" "$(tail -n 3 "$STATED_LOG")"; return; }
  grep -q "under S3 Object Lock (COMPLIANCE) for 400d" "$STATED_LOG" && pass "$t start line" ||
    fail "$t start line" "$(grep anchors "$STATED_LOG")"
  expect_eq "$t write 1" "$(put app 1)" 200
  expect_eq "$t write 2" "$(put app 2)" 200
  expect_eq "$t write 3" "$(put app 3)" 200
  k=$(first_anchor "$b") || { fail "$t anchor written" "none under audit/anchors/"; stated_cleanup; return; }
  pass "$t anchor written"
  s3api get-object-retention --bucket "$b" --key "$k" >"$W/ret" 2>&1
  expect_eq "$t mode" "$(jq -r .Retention.Mode "$W/ret" 2>/dev/null)" COMPLIANCE
  until=$(jq -r .Retention.RetainUntilDate "$W/ret" 2>/dev/null | sed 's/\.[0-9]*Z$/Z/')
  got=$(date -u -d "$until" +%s 2>/dev/null || echo 0)
  want=$(($(date +%s) + 400 * 86400))
  if [ $((got - want)) -le 86400 ] && [ $((want - got)) -le 86400 ]; then
    pass "$t retain-until ~400 days ($until)"
  else
    fail "$t retain-until ~400 days" "got '$until' ($(cat "$W/ret"))"
  fi
  v=$(version_of "$b" "$k")
  [ -n "$v" ] && [ "$v" != None ] || { fail "$t anchor version" "no version id for $k"; stated_cleanup; return; }
  if s3api delete-object --bucket "$b" --key "$k" --version-id "$v" >"$W/del" 2>&1; then
    fail "$t delete of the version refused" "deleted: $(cat "$W/del")"
  else
    pass "$t delete of the version refused ($(grep -o 'AccessDenied\|[A-Za-z]*Error' "$W/del" | head -n 1))"
  fi
  s3api head-object --bucket "$b" --key "$k" --version-id "$v" >/dev/null 2>&1 &&
    pass "$t version still there" || fail "$t version still there" "head-object failed"
  grep -q "anchor .* not written" "$STATED_LOG" && fail "$t no failed anchor" "$(grep 'not written' "$STATED_LOG" | head -n 1)" ||
    pass "$t no failed anchor"
  stated_cleanup
}

# --- the test bucket, without Object Lock
plain_bucket() {
  local t=alock/plain k v
  if stated_start s3 --audit-anchor-retention 400d 2>/dev/null; then
    fail "$t explicit option refused" "stated started"
    stated_cleanup
  else
    refused_start "$t" "explicit option"
  fi
  stated_start s3 --audit-anchor-every 1 || { fail "$t default start" "$(tail -n 3 "$STATED_LOG")"; return; }
  pass "$t default starts"
  expect_eq "$t info line" "$(grep -c 'audit anchors are ordinary objects' "$STATED_LOG")" 1
  expect_eq "$t write" "$(put app 1)" 200
  k=$(first_anchor "$S3_BUCKET") || { fail "$t anchor written" "none"; stated_cleanup; return; }
  pass "$t anchor written"
  if s3api get-object-retention --bucket "$S3_BUCKET" --key "$k" >"$W/ret" 2>&1 &&
    [ "$(jq -r '.Retention.Mode // empty' "$W/ret" 2>/dev/null)" != "" ]; then
    fail "$t no retention" "$(cat "$W/ret")"
  else
    pass "$t no retention"
  fi
  v=$(version_of "$S3_BUCKET" "$k")
  check "$t ordinary object (deletable)" s3api delete-object --bucket "$S3_BUCKET" --key "$k" --version-id "$v"
  stated_cleanup
}

embedded() {
  local t=alock/embedded
  if stated_start embedded --audit-anchor-retention 400d 2>/dev/null; then
    fail "$t explicit option refused" "stated started"
    stated_cleanup
  else
    grep -q "embedded storage has no S3 Object Lock" "$STATED_LOG" && pass "$t explicit option refused" ||
      fail "$t explicit option refused" "$(tail -n 3 "$STATED_LOG")"
    stated_cleanup
  fi
  stated_start embedded --audit-anchor-retention 0 && pass "$t retention 0 starts" ||
    fail "$t retention 0 starts" "$(tail -n 3 "$STATED_LOG")"
  stated_cleanup
}

embedded
if mode_available s3 && command -v aws >/dev/null; then
  locked_bucket
  plain_bucket
else
  skip alock/s3 "needs Ceph RGW and awscli (S3_ENDPOINT unset or aws missing)"
fi
t_done
