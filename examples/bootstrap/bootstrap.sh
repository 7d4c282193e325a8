#!/bin/bash
# examples/bootstrap/bootstrap.sh: deploys stated on Scaleway from this configuration with a
# local state, then moves that state into the stated it has just deployed. See README.md.
#
#   bootstrap.sh [-C DIR] [--state NAME] [--forward-port PORT] [--auto-approve]
#
# Safe to re-run at any point: a finished bootstrap is recognised (backend.tf written by this
# script, no local state) and only verified; an interrupted one resumes. The local state is
# deleted only once the copy in stated is verified, and is put back if anything fails after
# the migration started.
#
# Environment: SCW_ACCESS_KEY/SCW_SECRET_KEY (the provider, Secret Manager, the private
# container's X-Auth-Token), TF (terraform or tofu binary), TF_HTTP_USERNAME (default
# "bootstrap"), TF_HTTP_PASSWORD (a stated token; without it the admin token is read from
# Secret Manager), STATED_EDGE_TOKEN (the X-Auth-Token, default SCW_SECRET_KEY), SCW_API_URL.
# Credentials stay in the environment: none is written to a file or passed as an argument.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HELPER=$HERE/helper.py
EDGE=$REPO/module/scaleway/state-backend/scripts/edge-forward.py
MARK="# Written by examples/bootstrap/bootstrap.sh: the backend of this configuration is stated."

DIR=$HERE STATE=platform/stated FORWARD_PORT=${STATED_FORWARD_PORT:-8480} AUTO=0
usage() { sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//'; }
while [ $# -gt 0 ]; do
  case $1 in
    -C) DIR=${2:?-C needs a directory}; shift 2 ;;
    --state) STATE=${2:?--state needs a name}; shift 2 ;;
    --forward-port) FORWARD_PORT=${2:?--forward-port needs a port}; shift 2 ;;
    --auto-approve) AUTO=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

say() { echo "bootstrap: $*" >&2; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

[[ $STATE =~ ^[A-Za-z0-9._-]{1,128}(/[A-Za-z0-9._-]{1,128}){0,7}$ ]] && [[ ! $STATE =~ (^|/)\.\.?(/|$) ]] &&
  [[ ! $STATE =~ (^|/)lock$ ]] || die "--state $STATE is not a valid state name (1-8 segments of [A-Za-z0-9._-], not . or .., not ending in lock)"
[[ $FORWARD_PORT =~ ^[0-9]+$ ]] && [ "$FORWARD_PORT" -ge 1 ] && [ "$FORWARD_PORT" -le 65535 ] ||
  die "--forward-port must be a TCP port"
if [ -z "${TF:-}" ]; then TF=$(command -v terraform || command -v tofu || true); fi
[ -n "$TF" ] && [ -x "$TF" ] || die "neither terraform nor tofu found (set TF=/path/to/binary)"
command -v python3 >/dev/null || die "python3 is needed (helper.py, edge-forward.py)"
cd "$DIR" || die "no directory $DIR"
export TF_IN_AUTOMATION=1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stated-bootstrap.XXXXXX")
chmod 700 "$TMP"
EDGE_PID=
cleanup() {
  [ -n "$EDGE_PID" ] && kill "$EDGE_PID" 2>/dev/null && wait "$EDGE_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ours() { [ -f backend.tf ] && [ "$(head -n 1 backend.tf)" = "$MARK" ]; }
has_local_state() { [ -s terraform.tfstate ]; }
tf() { local cmd=$1; shift; "$TF" "$cmd" -input=false "$@"; }

# The stated token for the migration: TF_HTTP_PASSWORD when given, else the bootstrap admin
# token, read from Secret Manager into this process's environment only.
credentials() { # REGION SECRET_ID REVISION
  export TF_HTTP_USERNAME=${TF_HTTP_USERNAME:-bootstrap}
  if [ -n "${TF_HTTP_PASSWORD:-}" ]; then
    say "stated credentials: TF_HTTP_PASSWORD from the environment (user $TF_HTTP_USERNAME)"
    return
  fi
  [ -n "${SCW_SECRET_KEY:-}" ] || die "set TF_HTTP_PASSWORD, or SCW_SECRET_KEY to read the admin token from Secret Manager"
  TF_HTTP_PASSWORD=$(python3 "$HELPER" admin-token "$1" "$2" "$3") || die "no admin token"
  export TF_HTTP_PASSWORD
  say "stated credentials: the admin token from Secret Manager secret $2 (revision $3), user $TF_HTTP_USERNAME"
}

# BASE: where terraform talks to stated. A private container needs an X-Auth-Token, which
# terraform cannot send: edge-forward.py adds it on a loopback port.
connect() { # URL PRIVACY
  if [ "$2" = public ]; then BASE=$1; return; fi
  local token_env=SCW_SECRET_KEY
  [ -n "${STATED_EDGE_TOKEN:-}" ] && token_env=STATED_EDGE_TOKEN
  [ -n "${!token_env:-}" ] || die "stated is private: set SCW_SECRET_KEY (or STATED_EDGE_TOKEN) to an IAM secret key with ContainersPrivateAccess"
  python3 "$EDGE" --upstream "$1" --listen "127.0.0.1:$FORWARD_PORT" --token-env "$token_env" 2>"$TMP/edge.log" &
  EDGE_PID=$!
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$TMP/edge.log" 2>/dev/null && break
    kill -0 "$EDGE_PID" 2>/dev/null || die "edge-forward.py did not start: $(tail -n 2 "$TMP/edge.log")"
    sleep 0.1
  done
  grep -q 'listening on' "$TMP/edge.log" || die "edge-forward.py did not listen within 10 s"
  BASE=http://127.0.0.1:$FORWARD_PORT
  say "stated is private: terraform reaches it through edge-forward.py on $BASE"
}

# Stated's copy to $TMP/remote.tfstate and terraform's view of it to $TMP/pulled.tfstate.
fetch_remote() {
  local rc=0
  python3 "$HELPER" get "$BASE/v1/states/$STATE" "$TMP/remote.tfstate" || rc=$?
  [ "$rc" -eq 3 ] && return 3
  [ "$rc" -eq 0 ] || return 1
  "$TF" state pull >"$TMP/pulled.tfstate" 2>"$TMP/pull.log" || { cat "$TMP/pull.log" >&2; return 1; }
}

next_steps() {
  local fwd="" ctl=$URL
  if [ "$PRIVACY" = private ]; then
    ctl=$BASE
    fwd="
     stated is private: first run (with SCW_SECRET_KEY, or --token-env NAME)
       $EDGE --upstream $URL --listen 127.0.0.1:$FORWARD_PORT &
     OpenTofu may instead send X-Auth-Token with the backend's \"headers\" (README.md)."
  fi
  cat >&2 <<EOF

bootstrap: done. State $STATE is in stated; its backend is backend.tf (addresses only).
Next:
  1. Commit backend.tf and bootstrap.json with this configuration (no secret is in either).
  2. From now on, here and in CI: export TF_HTTP_USERNAME=<you> TF_HTTP_PASSWORD=<a stated token>$fwd
  3. Create tokens per team and CI job: STATECTL_URL=$ctl STATECTL_TOKEN=<the admin token>
     statectl tokens create NAME --role write --states 'team/**' --expires 90d; or configure
     OIDC (docs/oidc.md) so that CI jobs need no stored token at all.
  4. Then retire the bootstrap admin token: raise secret_versions.admin_token and apply (a new
     token goes to Secret Manager and the container; the old one stops working).
EOF
}

# --- a finished bootstrap: verify, change nothing ---------------------------------------------
[ -f backend.tf ] && ! ours && die "backend.tf exists and was not written by this script: refusing to touch this configuration"
if ours && ! has_local_state; then
  [ -f bootstrap.json ] || die "backend.tf is ours but bootstrap.json is missing: cannot tell where stated is"
  facts=$(python3 "$HELPER" facts bootstrap.json) || die "bootstrap.json is unreadable"
  eval "$facts"
  say "already bootstrapped: $STATE in stated at $URL ($PRIVACY); verifying"
  credentials "$REGION" "$SECRET_ID" latest_enabled
  connect "$URL" "$PRIVACY"
  tf init >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; die "terraform init against stated failed"; }
  rc=0; fetch_remote || rc=$?
  [ "$rc" -eq 3 ] && die "stated has no state $STATE although backend.tf says it was moved there; refusing to apply from scratch (restore it with statectl snapshots restore, or remove backend.tf and bootstrap.json if this configuration was never applied)"
  [ "$rc" -eq 0 ] || die "cannot read $STATE from stated"
  python3 "$HELPER" compare "$TMP/remote.tfstate" "$TMP/remote.tfstate" "$TMP/pulled.tfstate" >/dev/null ||
    die "what terraform reads through backend.tf differs from stated's copy"
  say "verified: stated serves $STATE and terraform reads it through backend.tf; nothing to do"
  exit 0
fi

# --- apply with a local state ---------------------------------------------------------------
if ours; then
  # Back to the local backend: without backend.tf, and without the http backend that
  # .terraform/terraform.tfstate (backend settings only, never a state) remembers from the
  # interrupted attempt, which `init -reconfigure` alone does not forget.
  say "resuming an interrupted bootstrap: the local state is still here"
  rm -f backend.tf .terraform/terraform.tfstate
fi
say "applying $DIR with a local state ($("$TF" version 2>/dev/null | head -n 1))"
tf init -reconfigure >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; die "terraform init failed"; }
tf plan -out=bootstrap.tfplan || die "terraform plan failed"
if [ "$AUTO" -eq 0 ]; then
  [ -t 0 ] || die "no terminal to confirm the plan: review it and re-run with --auto-approve"
  read -r -p "Apply this plan? Only 'yes' is accepted: " answer
  [ "$answer" = yes ] || die "not applied"
fi
tf apply bootstrap.tfplan || die "terraform apply failed; the local state (terraform.tfstate) is kept: fix the cause and re-run"
has_local_state || die "the apply left no terraform.tfstate"

"$TF" output -json >"$TMP/outputs.json" || die "terraform output failed"
outputs=$(python3 "$HELPER" outputs "$TMP/outputs.json") ||
  die "this configuration lacks the outputs bootstrap.sh reads (see outputs.tf)"
eval "$outputs"
say "stated: $URL ($PRIVACY, $REGION)"

# --- move the state into stated ---------------------------------------------------------------
credentials "$REGION" "$SECRET_ID" "$SECRET_REVISION"
connect "$URL" "$PRIVACY"
cp -p terraform.tfstate "$TMP/local.tfstate"
restore_local() {
  if ! cmp -s "$TMP/local.tfstate" terraform.tfstate 2>/dev/null; then
    cp -p "$TMP/local.tfstate" terraform.tfstate
  fi
  say "the local state is kept in $DIR/terraform.tfstate (re-running this script resumes)"
}

# Never overwrite a state that is not this one: stated may hold only our own earlier copy.
addr=$BASE/v1/states/$STATE
rc=0; python3 "$HELPER" get "$addr" "$TMP/remote.tfstate" || rc=$?
case $rc in
  3) ;;
  0) python3 "$HELPER" compare "$TMP/local.tfstate" "$TMP/remote.tfstate" "$TMP/remote.tfstate" >/dev/null ||
       die "stated already holds a different state $STATE: refusing to overwrite it (choose another --state)"
     say "stated already holds this state from an earlier attempt; copying it again" ;;
  *) die "cannot read $STATE from stated at $BASE (see above); the local state is kept in $DIR/terraform.tfstate" ;;
esac
{
  echo "$MARK"
  echo "# Credentials come from TF_HTTP_USERNAME/TF_HTTP_PASSWORD, never from this file."
  [ "$PRIVACY" = private ] && echo "# stated is private: run edge-forward.py on 127.0.0.1:$FORWARD_PORT first (README.md)."
  cat <<EOF
terraform {
  backend "http" {
    address        = "$addr"
    lock_address   = "$addr/lock"
    lock_method    = "POST"
    unlock_address = "$addr/lock"
    unlock_method  = "DELETE"
  }
}
EOF
} >backend.tf
python3 "$HELPER" facts-write bootstrap.json state="$STATE" backend_url="$URL" privacy="$PRIVACY" \
  region="$REGION" admin_token_secret_id="$SECRET_ID" forward_port="$FORWARD_PORT"

say "moving the state to $addr"
if ! tf init -migrate-state -force-copy >"$TMP/migrate.log" 2>&1; then
  sed 's/^/  /' "$TMP/migrate.log" | tail -n 15 >&2
  restore_local
  die "the migration into stated failed (is stated up and reachable at $URL?)"
fi

rc=0; fetch_remote || rc=$?
if [ "$rc" -ne 0 ]; then
  restore_local
  die "cannot read the migrated state back from stated"
fi
if ! verdict=$(python3 "$HELPER" compare "$TMP/local.tfstate" "$TMP/remote.tfstate" "$TMP/pulled.tfstate"); then
  restore_local
  die "the copy in stated does not match the local state; nothing was deleted"
fi
say "verified: $verdict"

rm -f terraform.tfstate terraform.tfstate.backup bootstrap.tfplan
say "deleted the local terraform.tfstate, terraform.tfstate.backup and bootstrap.tfplan"
next_steps
