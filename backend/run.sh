#!/bin/bash
# backend/run.sh: `make run`. Starts stated in embedded mode on 127.0.0.1:8080 with ./data,
# generating an admin token on first use (kept in data/admin.token, mode 0600), and prints the
# backend "http" block and TF_HTTP_* variables to paste into a tofu/terraform project.
# Honours STATED_LISTEN and STATED_DATA_DIR; STATED_ADMIN_TOKEN, when set, is used as is.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/build/bin}
LISTEN=${STATED_LISTEN:-127.0.0.1:8080}
DATA=${STATED_DATA_DIR:-./data}

mkdir -p "$DATA"
chmod 700 "$DATA"
if [ -z "${STATED_ADMIN_TOKEN:-}" ]; then
  TOKEN_FILE=$DATA/admin.token
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
URL=http://$HOSTPORT/v1/states/example

cat <<EOT

stated: Terraform/OpenTofu state server, embedded mode (data in $DATA)

Paste into your configuration (state "example"; any name works, e.g. team/app/prod):

terraform {
  backend "http" {
    address        = "$URL"
    lock_address   = "$URL"
    unlock_address = "$URL"
    username       = "admin"
    password       = "$STATED_ADMIN_TOKEN"
  }
}

or keep the credentials out of files:

export TF_HTTP_ADDRESS=$URL
export TF_HTTP_LOCK_ADDRESS=$URL
export TF_HTTP_UNLOCK_ADDRESS=$URL
export TF_HTTP_USERNAME=admin
export TF_HTTP_PASSWORD=$STATED_ADMIN_TOKEN

Admin token: $STATED_ADMIN_TOKEN
statectl: export STATECTL_URL=http://$HOSTPORT STATECTL_TOKEN=<the admin token>

EOT
exec "$BIN/stated" --listen "$LISTEN" --data-dir "$DATA"
