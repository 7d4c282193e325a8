# tests/e2e/lib.sh: drive the real terraform binary against a running stated.
#
#   e2e_dir NAME              a fresh working directory with tests/e2e/main.tf, printed
#   tf DIR ARGS...            terraform ARGS in DIR; output (colours stripped) in $TF_OUT;
#                             returns terraform's exit status. Bounded to 120 s.
#   backend_flags NAME LAYOUT [PASSWORD]
#                             the -backend-config flags for state NAME (LAYOUT: state|gitlab)
#   state_json NAME FILE      GET the state into FILE (admin token); 0 when 200

TF=${TF:-/usr/local/bin/terraform}
E2E_TMP=${E2E_TMP:-$(mktemp -d /tmp/stated-e2e.XXXXXX)}
TF_OUT=$E2E_TMP/tf.out

e2e_dir() {
  local d
  d=$(mktemp -d "$E2E_TMP/$1.XXXX")
  cp "$TOP/tests/e2e/main.tf" "$d/"
  echo "$d"
}

tf() {
  local d=$1
  shift
  (cd "$d" && TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1 \
    timeout 120 "$TF" "$@") >"$TF_OUT.raw" 2>&1
  local rc=$?
  sed 's/\x1b\[[0-9;]*m//g' "$TF_OUT.raw" >"$TF_OUT"
  return $rc
}

# The last lines of terraform's output, on one line, for FAIL messages.
tf_tail() { grep -v '^\s*$' "$TF_OUT" | tail -n 4 | tr '\n' ' ' | cut -c1-400; }

backend_flags() {
  local name=$1 layout=$2 pw=${3:-$ADMIN_TOKEN} url="$STATED_URL/v1/states/$1"
  printf '%s\n' "-backend-config=address=$url" "-backend-config=username=ci" "-backend-config=password=$pw"
  case $layout in
    state)
      printf '%s\n' "-backend-config=lock_address=$url" "-backend-config=unlock_address=$url" ;;
    gitlab)
      printf '%s\n' "-backend-config=lock_address=$url/lock" "-backend-config=unlock_address=$url/lock" \
        "-backend-config=lock_method=POST" "-backend-config=unlock_method=DELETE" ;;
  esac
}

state_json() {
  local code
  code=$(curl -sk "${E2E_CURL[@]}" -o "$2" -w '%{http_code}' --max-time 10 -u "admin:$ADMIN_TOKEN" \
    "$STATED_URL/v1/states/$1")
  [ "$code" = 200 ]
}
E2E_CURL=()

# curl_lock METHOD NAME-URL-SUFFIX ID: take or release a lock as another client would; prints the
# HTTP status.
curl_lock() {
  local m=$1 path=$2 id=$3 body
  body=$(printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"other@ci","Version":"1.11.4","Created":"%s","Path":""}' \
    "$id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  curl -sk "${E2E_CURL[@]}" -o /dev/null -w '%{http_code}' --max-time 10 -X "$m" -u "admin:$ADMIN_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "$body" "$STATED_URL/v1/states/$path"
}

# audit_lines: every audit event of the running stated (JSON Lines), from the data dir or from
# PostgreSQL when --locks points there.
audit_lines() {
  local i
  for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
    if [ "${STATED_ARGS[i]}" = --locks ]; then
      psql "${STATED_ARGS[i + 1]}" -qAt -c 'SELECT line FROM audit_events ORDER BY seq'
      return
    fi
  done
  cat "$STATED_DATA/data/audit.jsonl" 2>/dev/null
}
# audit_seq NAME: the events on state NAME in order, as "action:status" words.
audit_seq() {
  audit_lines | jq -r --arg n "$1" 'select(.state == $n) | "\(.action):\(.status)"' | tr '\n' ' '
}
