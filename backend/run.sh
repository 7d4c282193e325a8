#!/bin/bash
# backend/run.sh: `make run`. Starts stated in embedded mode on 127.0.0.1:8080 with ./data,
# generating an admin token on first use (kept in data/admin.token, mode 0600), and prints what
# to paste: an http backend block without credentials, a backend config file with the state's
# address, the TF_HTTP_* credentials and the statectl settings, both reading the token where it
# is kept. Nothing printed contains a secret.
# Honours STATED_LISTEN and STATED_DATA_DIR; STATED_ADMIN_TOKEN, when set, is used as is.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/build/bin}
LISTEN=${STATED_LISTEN:-127.0.0.1:8080}
DATA=${STATED_DATA_DIR:-./data}

mkdir -p "$DATA"
chmod 700 "$DATA"
TOKEN_FILE=
if [ -z "${STATED_ADMIN_TOKEN:-}" ]; then
  TOKEN_FILE=$(cd "$DATA" && pwd)/admin.token
  if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077; openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n' >"$TOKEN_FILE")
    echo "Generated an admin token in $TOKEN_FILE (kept for the next runs)."
  fi
  chmod 600 "$TOKEN_FILE"
  STATED_ADMIN_TOKEN=$(cat "$TOKEN_FILE")
fi
export STATED_ADMIN_TOKEN

# Clients connect to the loopback address when stated listens on every address.
HOSTPORT=$LISTEN
case $HOSTPORT in
  :*) HOSTPORT=127.0.0.1$HOSTPORT ;;
  0.0.0.0:*) HOSTPORT=127.0.0.1:${HOSTPORT#0.0.0.0:} ;;
esac
BASE=http://$HOSTPORT
URL=$BASE/v1/states/example
# The printed commands read the token from its file (by absolute path: they work from any
# directory), or from the variable the caller set.
if [ -n "$TOKEN_FILE" ]; then
  TOKEN_REF="\$(cat $TOKEN_FILE)"
else
  TOKEN_REF='"$STATED_ADMIN_TOKEN"'
fi

# The block has no credentials: they would land in .terraform/ and in plan files, and a
# username there overrides TF_HTTP_USERNAME. The address goes into a file of the
# configuration's own directory: a global TF_HTTP_ADDRESS would point every configuration run
# from that shell at the same state.
cat <<EOT

$("$BIN/stated" --version): Terraform/OpenTofu state server, embedded mode (data in $DATA)

1. In the configuration, an empty http backend:

terraform {
  backend "http" {}
}

2. Next to it, the state's address (one state per configuration: name it after the
   directory, e.g. team/app/prod), then init with it:

cat > stated.tfbackend <<'EOF'
address        = "$URL"
lock_address   = "$URL"
unlock_address = "$URL"
EOF
terraform init -backend-config=stated.tfbackend

3. The credentials, in the shell only (the username is recorded in the audit trail):

export TF_HTTP_USERNAME="\$(id -un)" TF_HTTP_PASSWORD=$TOKEN_REF

statectl (states, snapshots, locks, audit, tokens):

export STATECTL_URL=$BASE STATECTL_TOKEN=$TOKEN_REF

EOT
exec "$BIN/stated" --listen "$LISTEN" --data-dir "$DATA"
