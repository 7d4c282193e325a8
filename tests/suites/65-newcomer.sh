#!/bin/bash
# 65-newcomer: what a new user does first, in a fresh clone of this repository.
#
#   make run       builds and starts stated; what it prints carries no credential (the
#                  generated token appears nowhere), has no global TF_HTTP_ADDRESS, and the
#                  printed commands, pasted as they are into a shell next to the printed block,
#                  give a working terraform init + apply and a working statectl; nothing of the
#                  token reaches .terraform/ or the plan file
#   --version      stated, statectl and stackgen print the release of common/version.h
#
# Run alone: tests/suites/65-newcomer.sh (after make all; the clone builds itself)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
TF=${TF:-/usr/local/bin/terraform}
W=$(mktemp -d /tmp/stated-newcomer.XXXXXX)
RUN_PID=
cleanup() {
  [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
  pkill -f "$W/clone/build/bin/stated" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------- --version
VERSION=$(sed -n 's/^#define STATED_VERSION "\(.*\)"/\1/p' "$TOP/common/version.h")
for prog in stated statectl stackgen; do
  expect_eq "newcomer/$prog --version" "$("$BIN/$prog" --version 2>&1)" "$prog $VERSION"
done

# ---------------------------------------------------------------- make run in a fresh clone
if ! command -v git >/dev/null; then
  skip newcomer/make-run "git not found"
  t_done
  exit
fi
git clone -q "$TOP" "$W/clone" 2>"$W/clone.err" || { fail newcomer/clone "$(tail -n 2 "$W/clone.err")"; t_done; exit; }
# The tree under test, uncommitted changes included (CI runs on a clean checkout anyway).
(cd "$TOP" && git diff HEAD) | (cd "$W/clone" && git apply --allow-empty 2>/dev/null || true)
PORT=$(free_port)
(cd "$W/clone" && STATED_LISTEN=127.0.0.1:$PORT exec make -s run) >"$W/run.out" 2>&1 &
RUN_PID=$!
up=
for _ in $(seq 1 1800); do # the clone builds first: up to 3 minutes
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz" && { up=1; break; }
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$up" ]; then
  fail newcomer/make-run "stated did not come up: $(tail -n 5 "$W/run.out" | tr '\n' ' ')"
  t_done
  exit
fi
pass "newcomer/make run builds and serves in a fresh clone"
TOKEN=$(cat "$W/clone/data/admin.token")
[ -n "$TOKEN" ] && pass "newcomer/the admin token is generated into data/admin.token" ||
  fail "newcomer/the admin token is generated into data/admin.token" "empty"
expect_eq "newcomer/data/admin.token is mode 0600" "$(stat -c %a "$W/clone/data/admin.token")" 600

if grep -qF "$TOKEN" "$W/run.out"; then fail "newcomer/the token is printed nowhere" "it is"; else pass "newcomer/the token is printed nowhere"; fi
if grep -q 'TF_HTTP_ADDRESS' "$W/run.out"; then fail "newcomer/no global TF_HTTP_ADDRESS" "printed"; else pass "newcomer/no global TF_HTTP_ADDRESS"; fi
block=$(sed -n '/^terraform {/,/^}/p' "$W/run.out")
if [ -n "$block" ] && ! echo "$block" | grep -qiE 'password|username|token'; then
  pass "newcomer/the printed backend block has no credentials"
else
  fail "newcomer/the printed backend block has no credentials" "$block"
fi

# Paste: the block into main.tf (with a resource), every printed command into a shell there.
P=$W/project
mkdir -p "$P"
{ echo "$block"; printf '%s\n' 'resource "terraform_data" "a" {' '  input = "pasted"' '}'; } >"$P/main.tf"
sed -n '/^cat > stated.tfbackend/,/^EOF$/p' "$W/run.out" >"$W/paste.sh"
grep -E '^export (TF_HTTP_|STATECTL_)' "$W/run.out" >>"$W/paste.sh"
grep -E '^terraform init ' "$W/run.out" | sed 's/^terraform /"$TF" /' >>"$W/paste.sh"
printf '%s\n' '"$TF" apply -input=false -auto-approve >apply.out 2>&1 || exit 1' \
  '"$TF" plan -input=false -out=plan.bin >/dev/null 2>&1 || exit 1' \
  "\"$BIN/statectl\" states list >states.out 2>&1" >>"$W/paste.sh"
if [ ! -x "$TF" ]; then
  skip newcomer/paste "terraform not found at $TF"
  echo "!!! SKIPPED newcomer/paste: terraform not found at $TF" >&2
else
  (cd "$P" && TF=$TF TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 \
    timeout 120 bash -e "$W/paste.sh") >"$W/paste.out" 2>&1
  rc=$?
  if [ $rc = 0 ] && grep -q 'Apply complete' "$P/apply.out"; then
    pass "newcomer/the pasted commands init and apply"
  else
    fail "newcomer/the pasted commands init and apply" "exit $rc: $(tail -n 4 "$W/paste.out" "$P/apply.out" 2>/dev/null | tr '\n' ' ')"
  fi
  if grep -q '^example ' "$P/states.out"; then pass "newcomer/the pasted statectl line works"; else fail "newcomer/the pasted statectl line works" "$(cat "$P/states.out")"; fi
  if grep -rqF "$TOKEN" "$P"; then
    fail "newcomer/no file of the project holds the token" "$(grep -rlF "$TOKEN" "$P" | tr '\n' ' ')"
  else
    pass "newcomer/no file of the project holds the token (.terraform/, plan, tfbackend)"
  fi
fi
t_done
