#!/bin/bash
# tests/suites/64-bootstrap.sh: module/scaleway/state-backend and examples/bootstrap.
#
#   - the module: provider schema, terraform fmt, its variables (alert contacts required and
#     validated, privacy private by default) evaluated by terraform from the module's own
#     variables.tf, and the secrets design checked in the HCL (write-only arguments only, the
#     container's secret environment left to modules/container-secrets);
#   - examples/bootstrap/bootstrap.sh, run for real against a real stated (embedded) with a
#     stand-in configuration (tests/modules/bootstrap-standin: terraform_data in place of the
#     Scaleway resources, the real modules/container-secrets) and a loopback stand-in of the
#     Scaleway API and of a private container's front (tests/modules/scaleway-standin.py):
#     a failed first run keeps the local state, the next one moves it into stated and deletes
#     the local copies, a third one changes nothing, a copy in stated that does not match is
#     refused, and no secret reaches a file, the state in stated or the script's output.
# Run alone: TOP=... BIN=.../build/bin tests/suites/64-bootstrap.sh (after make all).
set -u
. "$(dirname "$0")/../lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
TF=${TERRAFORM:-/usr/local/bin/terraform}
[ -x "$TF" ] || TF=$(command -v terraform 2>/dev/null || true)
MOD=$TOP/module/scaleway/state-backend
EX=$TOP/examples/bootstrap
EDGE=$MOD/scripts/edge-forward.py
WORK=$(mktemp -d /tmp/stated-bootstrap.XXXXXX)
STANDIN_PID=
cleanup() {
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null
  stated_cleanup
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1
unset TF_HTTP_USERNAME TF_HTTP_PASSWORD STATED_EDGE_TOKEN

# --- the module, statically --------------------------------------------------------------------
if command -v awk >/dev/null; then
  check modules/state-backend/schema "$TOP/tests/modules/schema-check.sh" "$MOD" "$EX"
else
  skip modules/state-backend/schema "awk not installed"
fi

# Each of these is a property of the secrets design that a later edit could silently undo.
hcl=$(cat "$MOD"/*.tf)
bad=
grep -qE '^variable "(admin_token|db_password|encryption_key)"' "$MOD/variables.tf" && bad="$bad secret-input-variable"
grep -rqE '^ *(data|password) *=' "$MOD"/*.tf && bad="$bad plaintext-data-or-password-argument"
grep -qE 'ignore_changes *= *\[secret_environment_variables\]' <<<"$hcl" || bad="$bad container-does-not-ignore-secret-env"
grep -qE '^ *secret_environment_variables *=' <<<"$hcl" && bad="$bad container-sets-secret-env"
[ "$(grep -c 'data_wo ' <<<"$hcl")" -eq 2 ] || bad="$bad secret-versions-not-write-only"
[ "$(grep -c 'password_wo ' <<<"$hcl")" -eq 2 ] || bad="$bad db-passwords-not-write-only"
grep -q '^ephemeral "random_password"' <<<"$hcl" || bad="$bad no-ephemeral-generation"
grep -q '"--trusted-proxies"' <<<"$hcl" || bad="$bad no-trusted-proxies"
if [ -z "$bad" ]; then pass modules/state-backend/secrets-design; else fail modules/state-backend/secrets-design "$bad"; fi

# No e-mail address is hard-coded: alert contacts are the operator's to give.
addr=$(grep -rhoE '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+' "$MOD" "$EX" | grep -v '^local@domain\.tld$' || true)
expect_eq modules/state-backend/no-hard-coded-address "$addr" ""

# bootstrap.sh reads exactly these outputs; the stand-in must offer the same ones.
outs() { grep -ohE '^output "[a-z_]+"' "$@" | sort | tr '\n' ' '; }
expect_eq bootstrap/standin-outputs-match-example "$(outs "$TOP/tests/modules/bootstrap-standin/outputs.tf")" "$(outs "$EX/outputs.tf")"

if [ -z "$TF" ] || [ ! -x "$TF" ]; then
  for c in fmt validate variables flow; do
    skip "bootstrap/$c" "terraform not installed (looked for /usr/local/bin/terraform): the bootstrap flow and the variable checks were NOT run"
  done
  t_done
  exit
fi

check modules/state-backend/fmt "$TF" fmt -check -recursive "$MOD" "$EX" "$TOP/tests/modules/bootstrap-standin"
# terraform validate needs the scaleway and random providers installed, and no provider can be
# downloaded here; the part without providers (modules/container-secrets) is validated below.
skip modules/state-backend/validate "terraform validate needs the scaleway and random providers, which cannot be installed offline (schema check, fmt and the variable checks stand in)"
V=$WORK/validate && mkdir -p "$V" && cp "$MOD"/modules/container-secrets/*.tf "$V/"
check modules/state-backend/container-secrets-validate bash -c "cd '$V' && '$TF' init -input=false -backend=false >/dev/null && '$TF' validate -no-color"

# The module's own variables.tf, alone in a root: terraform evaluates its defaults and its
# validations without any provider.
VARS=$WORK/vars && mkdir -p "$VARS" && cp "$MOD/variables.tf" "$VARS/"
cat >"$VARS/base.auto.tfvars" <<'EOF'
image      = "rg.fr-par.scw.cloud/ns/stated:1"
project_id = "6f1f4b2e-8d3a-4c55-9b1e-2a7c0d9e4f10"
EOF
plan_vars() { (cd "$VARS" && "$TF" plan -input=false -no-color "$@" 2>&1); }
out=$(plan_vars); rc=$?
if [ $rc -ne 0 ] && grep -q 'No value for required variable' <<<"$out" && grep -q 'alert_emails' <<<"$out"; then
  pass modules/state-backend/alert-emails-required
else
  fail modules/state-backend/alert-emails-required "exit $rc: $(tail -n 4 <<<"$out" | tr '\n' ' ')"
fi
for bad_list in '[]' '["oncall"]' '["oncall@nodot"]' '["a b@corp.test"]' '["ops@corp.test", ""]'; do
  out=$(plan_vars -var "alert_emails=$bad_list"); rc=$?
  if [ $rc -ne 0 ] && grep -q 'alert_emails' <<<"$out"; then
    pass "modules/state-backend/alert-emails-refused $bad_list"
  else
    fail "modules/state-backend/alert-emails-refused $bad_list" "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
  fi
done
out=$(plan_vars -var 'alert_emails=["ops@corp.test","on-call+stated@eu.corp.test"]'); rc=$?
expect_eq modules/state-backend/alert-emails-accepted "$rc" 0
got=$(cd "$VARS" && echo 'var.privacy' | "$TF" console -var 'alert_emails=["ops@corp.test"]' 2>&1)
expect_eq modules/state-backend/privacy-default-private "$got" '"private"'
out=$(plan_vars -var 'alert_emails=["ops@corp.test"]' -var 'privacy=internal'); rc=$?
[ $rc -ne 0 ] && grep -q 'privacy must be private or public' <<<"$out" &&
  pass modules/state-backend/privacy-validated || fail modules/state-backend/privacy-validated "exit $rc"
out=$(plan_vars -var 'alert_emails=["ops@corp.test"]' -var 'secret_versions={encryption_keys=[2,2]}'); rc=$?
[ $rc -ne 0 ] && grep -q 'each listed once' <<<"$out" &&
  pass modules/state-backend/secret-versions-validated || fail modules/state-backend/secret-versions-validated "exit $rc"

# --- edge-forward.py on its own ---------------------------------------------------------------
if ! command -v python3 >/dev/null; then
  skip bootstrap/flow "python3 not installed: the bootstrap flow was NOT run"
  t_done
  exit
fi
SCW_SECRET_KEY=k python3 "$EDGE" --upstream https://stated.invalid --listen 0.0.0.0:1 >/dev/null 2>&1
expect_eq bootstrap/edge-forward-loopback-only "$?" 2
env -u SCW_SECRET_KEY python3 "$EDGE" --upstream https://stated.invalid --listen 127.0.0.1:1 >/dev/null 2>&1
expect_eq bootstrap/edge-forward-needs-token "$?" 2

# --- the flow against a real stated -----------------------------------------------------------
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip bootstrap/flow "build/bin/stated is not built (make all): the bootstrap flow was NOT run"
  t_done
  exit
fi
if ! stated_start embedded; then
  fail bootstrap/stated-start "stated did not start"
  t_done
  exit
fi
rnd() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
SCW_SECRET_KEY=scwkey-$(rnd)
export SCW_SECRET_KEY
DB_PW=dbpw-$(rnd) S3_SECRET=s3secret-$(rnd) ENC1=$(head -c 32 /dev/urandom | base64) ENC2=$(head -c 32 /dev/urandom | base64)
SECRETS=("$SCW_SECRET_KEY" "$ADMIN_TOKEN" "$DB_PW" "$S3_SECRET" "$ENC1" "$ENC2")
S=$WORK/standin && mkdir -p "$S"
API_PORT=$(free_port) EDGE_PORT=$(free_port) FWD_PORT=$(free_port)
ID_ADMIN=$(cat /proc/sys/kernel/random/uuid) ID_DB=$(cat /proc/sys/kernel/random/uuid)
ID_ENC=$(cat /proc/sys/kernel/random/uuid) ID_S3A=$(cat /proc/sys/kernel/random/uuid) ID_S3S=$(cat /proc/sys/kernel/random/uuid)
CONTAINER=fr-par/$(cat /proc/sys/kernel/random/uuid)
python3 - "$S/secrets.json" <<EOF
import json, sys
json.dump({"$ID_ADMIN": {"1": "$ADMIN_TOKEN"}, "$ID_DB": {"1": "$DB_PW"},
           "$ID_ENC": {"1": "$ENC1", "2": "$ENC2"}, "$ID_S3A": {"1": "SCWACCESSKEYID"},
           "$ID_S3S": {"1": "$S3_SECRET"}}, open(sys.argv[1], "w"))
EOF
python3 "$TOP/tests/modules/scaleway-standin.py" --dir "$S" --token-env SCW_SECRET_KEY \
  --api-port "$API_PORT" --edge-port "$EDGE_PORT" --upstream "$STATED_URL" 2>"$S/log" &
STANDIN_PID=$!
for _ in $(seq 1 100); do grep -q 'standin: ready' "$S/log" 2>/dev/null && break; sleep 0.1; done
if ! grep -q 'standin: ready' "$S/log"; then
  fail bootstrap/standin-start "$(tail -n 3 "$S/log" | tr '\n' ' ')"
  t_done
  exit
fi
export SCW_API_URL=http://127.0.0.1:$API_PORT
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$EDGE_PORT/healthz")
expect_eq bootstrap/private-front-refuses-without-x-auth-token "$code" 403

# make_root DIR PRIVACY URL: a copy of the stand-in configuration with its terraform.tfvars.json.
make_root() {
  mkdir -p "$1" && cp "$TOP"/tests/modules/bootstrap-standin/*.tf "$1/" &&
    sed -i "s|CONTAINER_SECRETS_SOURCE|$(realpath --relative-to="$1" "$MOD/modules/container-secrets")|" "$1/main.tf" &&
    python3 - "$1/terraform.tfvars.json" "$2" "$3" <<EOF
import json, sys
v = lambda i, r: {"secret_id": "fr-par/" + i, "revision": r}
json.dump({"backend_url": sys.argv[3], "container_id": "$CONTAINER", "privacy": sys.argv[2],
           "secret_versions": {"admin-token": v("$ID_ADMIN", "1"), "db-password": v("$ID_DB", "1"),
                               "encryption-key/2": v("$ID_ENC", "2"), "encryption-key/1": v("$ID_ENC", "1"),
                               "s3-access-key": v("$ID_S3A", "1"), "s3-secret-key": v("$ID_S3S", "1")},
           "secret_env": {"AWS_ACCESS_KEY_ID": ["s3-access-key"], "AWS_SECRET_ACCESS_KEY": ["s3-secret-key"],
                          "PGPASSWORD": ["db-password"], "STATED_ADMIN_TOKEN": ["admin-token"],
                          "STATED_ENCRYPTION_KEY": ["encryption-key/2", "encryption-key/1"]}},
          open(sys.argv[1], "w"), indent=2)
EOF
}
# run_bootstrap LOG ARGS...: the real script, bounded in time; its exit status.
run_bootstrap() {
  local log=$1; shift
  TF=$TF timeout 300 "$EX/bootstrap.sh" --auto-approve "$@" >"$log" 2>&1
}
# leaks WHERE...: every secret found in those files (recursively), one "secret#N:file" a line.
leaks() {
  local i
  for i in "${!SECRETS[@]}"; do
    grep -rlF -- "${SECRETS[$i]}" "$@" 2>/dev/null | sed "s|^|secret#$i:|"
  done
}
get_state() { curl -s --max-time 10 -u "admin:$ADMIN_TOKEN" -o "$2" -w '%{http_code}' "$STATED_URL/v1/states/$1"; }
patches() { [ -f "$S/patches.jsonl" ] && wc -l <"$S/patches.jsonl" | tr -d ' ' || echo 0; }

R=$WORK/private
make_root "$R" private "http://127.0.0.1:$EDGE_PORT"

# 1. stated is down when the state should move: nothing lost, a clear message, non-zero exit.
stated_stop
run_bootstrap "$WORK/run1.log" -C "$R" --forward-port "$FWD_PORT"; rc=$?
[ $rc -ne 0 ] && grep -q 'the local state is kept' "$WORK/run1.log" && grep -q "cannot read platform/stated from stated" "$WORK/run1.log" &&
  pass bootstrap/stated-down-fails-clearly || fail bootstrap/stated-down-fails-clearly "exit $rc: $(tail -n 3 "$WORK/run1.log" | tr '\n' ' ')"
if [ -s "$R/terraform.tfstate" ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["resources"] else 1)' "$R/terraform.tfstate"; then
  pass bootstrap/stated-down-keeps-local-state
else
  fail bootstrap/stated-down-keeps-local-state "terraform.tfstate is missing or empty"
fi
[ ! -e "$R/backend.tf" ] && pass bootstrap/stated-down-no-backend-written || fail bootstrap/stated-down-no-backend-written "backend.tf was left behind"
cp "$R/terraform.tfstate" "$WORK/local.tfstate"
expect_eq bootstrap/container-secrets-set-once "$(patches)" 1
want='{"AWS_ACCESS_KEY_ID": "SCWACCESSKEYID", "AWS_SECRET_ACCESS_KEY": "'$S3_SECRET'", "PGPASSWORD": "'$DB_PW'", "STATED_ADMIN_TOKEN": "'$ADMIN_TOKEN'", "STATED_ENCRYPTION_KEY": "'$ENC2,$ENC1'"}'
got=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["container"] == sys.argv[2].split("/")[1] and json.dumps(r["body"]["secret_environment_variables"], sort_keys=True))' "$S/patches.jsonl" "$CONTAINER")
[ "$got" = "$want" ] && pass bootstrap/container-secrets-from-secret-manager || fail bootstrap/container-secrets-from-secret-manager "the PATCH body is not the secret versions' values (newest encryption key first)"
l=$(leaks "$R" "$WORK/run1.log")
expect_eq bootstrap/stated-down-no-secret-in-files "$l" ""
[ -f "$R/bootstrap.tfplan" ] && pass bootstrap/plan-file-scanned || fail bootstrap/plan-file-scanned "no plan file was left to scan"

# 2. stated is back: the same command finishes the job.
stated_launch || fail bootstrap/stated-restart "stated did not start again"
run_bootstrap "$WORK/run2.log" -C "$R" --forward-port "$FWD_PORT"; rc=$?
expect_eq bootstrap/migrates "$rc" 0
[ $rc -eq 0 ] || sed 's/^/    /' "$WORK/run2.log" | tail -n 15
code=$(get_state platform/stated "$WORK/remote.tfstate")
expect_eq bootstrap/state-in-stated "$code" 200
python3 - "$WORK/local.tfstate" "$WORK/remote.tfstate" <<'EOF' && pass bootstrap/state-content-matches-local || fail bootstrap/state-content-matches-local "the state in stated is not the applied one"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
same = all(a[k] == b[k] for k in ("resources", "outputs", "version", "terraform_version"))
sys.exit(0 if same and len(a["resources"]) >= 3 else 1)
EOF
for f in terraform.tfstate terraform.tfstate.backup bootstrap.tfplan; do
  [ ! -e "$R/$f" ] && pass "bootstrap/local-copy-deleted $f" || fail "bootstrap/local-copy-deleted $f" "still there"
done
if head -n 1 "$R/backend.tf" | grep -q 'bootstrap.sh' && grep -q "address *= \"http://127.0.0.1:$FWD_PORT/v1/states/platform/stated\"" "$R/backend.tf" &&
   ! grep -qiE 'password|username|token' <(grep -v '^#' "$R/backend.tf"); then
  pass bootstrap/backend-tf-addresses-only
else
  fail bootstrap/backend-tf-addresses-only "$(tr '\n' ' ' <"$R/backend.tf")"
fi
# Terraform itself, through backend.tf and a forwarder of our own, reads stated's serial and lineage.
python3 "$EDGE" --upstream "http://127.0.0.1:$EDGE_PORT" --listen "127.0.0.1:$FWD_PORT" 2>"$WORK/fwd.log" &
fwd=$!
for _ in $(seq 1 50); do grep -q 'listening on' "$WORK/fwd.log" && break; sleep 0.1; done
pulled=$(cd "$R" && TF_HTTP_USERNAME=check TF_HTTP_PASSWORD=$ADMIN_TOKEN timeout 60 "$TF" state pull 2>&1)
kill "$fwd" 2>/dev/null; wait "$fwd" 2>/dev/null
sl() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["serial"], d["lineage"])'; }
got=$(sl <<<"$pulled" 2>&1) want=$(sl <"$WORK/remote.tfstate")
expect_eq bootstrap/terraform-reads-stated-serial-lineage "$got" "$want"
expect_eq bootstrap/migration-sets-no-container-secrets-again "$(patches)" 1
l=$(leaks "$R" "$WORK/run2.log" "$WORK/remote.tfstate")
expect_eq bootstrap/no-secret-in-files-or-state "$l" ""

# 3. Again: recognised as done, verified, nothing written anywhere.
snaps() { STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN "$BIN/statectl" snapshots list platform/stated --output json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d, list) else d.get("snapshots", [])))'; }
before=$(snaps)
run_bootstrap "$WORK/run3.log" -C "$R" --forward-port "$FWD_PORT"; rc=$?
[ $rc -eq 0 ] && grep -q 'nothing to do' "$WORK/run3.log" &&
  pass bootstrap/second-run-is-a-no-op || fail bootstrap/second-run-is-a-no-op "exit $rc: $(tail -n 3 "$WORK/run3.log" | tr '\n' ' ')"
get_state platform/stated "$WORK/remote3.tfstate" >/dev/null
cmp -s "$WORK/remote.tfstate" "$WORK/remote3.tfstate" && pass bootstrap/second-run-state-unchanged || fail bootstrap/second-run-state-unchanged "the state in stated changed"
expect_eq bootstrap/second-run-no-new-snapshot "$(snaps)" "$before"
[ ! -e "$R/terraform.tfstate" ] && [ "$(patches)" -eq 1 ] && pass bootstrap/second-run-nothing-local ||
  fail bootstrap/second-run-nothing-local "a local state appeared or the container was changed"
l=$(leaks "$R" "$WORK/run3.log")
expect_eq bootstrap/second-run-no-secret "$l" ""

# 4. A copy in stated that does not match the local state is refused; the next run recovers.
T=$WORK/tamper
make_root "$T" private "http://127.0.0.1:$EDGE_PORT"
touch "$S/tamper"
run_bootstrap "$WORK/run4.log" -C "$T" --state platform/tampered --forward-port "$FWD_PORT"; rc=$?
rm -f "$S/tamper"
[ $rc -ne 0 ] && grep -q 'does not match the local state' "$WORK/run4.log" &&
  pass bootstrap/mismatch-refused || fail bootstrap/mismatch-refused "exit $rc: $(tail -n 3 "$WORK/run4.log" | tr '\n' ' ')"
python3 - "$T/terraform.tfstate" 2>/dev/null <<'EOF' && pass bootstrap/mismatch-keeps-local-state || fail bootstrap/mismatch-keeps-local-state "terraform.tfstate is gone or empty"
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["resources"] else 1)
EOF
run_bootstrap "$WORK/run5.log" -C "$T" --state platform/tampered --forward-port "$FWD_PORT"; rc=$?
[ $rc -eq 0 ] && [ ! -e "$T/terraform.tfstate" ] && [ "$(get_state platform/tampered /dev/null)" = 200 ] &&
  pass bootstrap/mismatch-then-resumes || fail bootstrap/mismatch-then-resumes "exit $rc: $(tail -n 3 "$WORK/run5.log" | tr '\n' ' ')"

# 5. A public stated: no forwarder, backend.tf points at stated itself.
P=$WORK/public
make_root "$P" public "$STATED_URL"
run_bootstrap "$WORK/run6.log" -C "$P" --state platform/public; rc=$?
[ $rc -eq 0 ] && grep -q "address *= \"$STATED_URL/v1/states/platform/public\"" "$P/backend.tf" &&
  ! grep -q 'edge-forward' "$WORK/run6.log" && [ "$(get_state platform/public /dev/null)" = 200 ] &&
  pass bootstrap/public-direct || fail bootstrap/public-direct "exit $rc: $(tail -n 3 "$WORK/run6.log" | tr '\n' ' ')"

# 6. A configuration whose backend.tf is someone else's is left alone.
O=$WORK/other
make_root "$O" public "$STATED_URL" && printf 'terraform {\n  backend "http" {}\n}\n' >"$O/backend.tf"
run_bootstrap "$WORK/run7.log" -C "$O"; rc=$?
[ $rc -ne 0 ] && grep -q 'was not written by this script' "$WORK/run7.log" && [ ! -e "$O/terraform.tfstate" ] &&
  pass bootstrap/foreign-backend-refused || fail bootstrap/foreign-backend-refused "exit $rc"

t_done
