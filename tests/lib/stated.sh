# tests/lib/stated.sh: start and stop a real stated for a suite, in any storage/lock mode.
#
#   stated_start MODE [extra stated flags...]
#     MODE: embedded | s3 | pg | s3pg   (s3 needs S3_ENDPOINT/S3_KEY/S3_SECRET/S3_BUCKET,
#                                        pg needs PG_CONNINFO; both exported by tests/run-all.sh)
#     sets STATED_URL (http://127.0.0.1:PORT), STATED_PORT, STATED_PID, STATED_DATA (its data
#     dir), STATED_LOG, ADMIN_TOKEN (an admin token given through STATED_ADMIN_TOKEN), and
#     STATED_ARGS (the flags used, so stated_restart can start it again on the same storage).
#   stated_stop            SIGTERM, wait; stated's exit status in STATED_RC
#   stated_kill            SIGKILL (crash tests)
#   stated_restart         start again with the same port, data, storage and locks
#   mode_available MODE    0 when the services MODE needs are up
#   stated_arg FLAG        prints the value stated was started with for FLAG (--storage, --locks)
#
# STATED_CURL (array, default empty): extra curl arguments for the start-up health probe, e.g.
# (--cert client.pem --key client.key) when stated requires client certificates.
#
# Each start gets a fresh data dir, a fresh key prefix in the test bucket and a fresh
# PostgreSQL database, so suites never see each other's states or locks.
#
# The failed-login limit is off (--failed-logins-per-minute 0) unless a suite sets it: suites
# make many refused requests from 127.0.0.1 on purpose; 55-identity tests the limit itself.

mode_available() {
  case $1 in
    embedded) return 0 ;;
    s3) [ -n "${S3_ENDPOINT:-}" ] ;;
    pg) [ -n "${PG_CONNINFO:-}" ] ;;
    s3pg) [ -n "${S3_ENDPOINT:-}" ] && [ -n "${PG_CONNINFO:-}" ] ;;
    *) return 1 ;;
  esac
}

# new_pg_db: creates a fresh database on the test cluster, prints its conninfo.
new_pg_db() {
  local db="t_$(date +%s%N | tail -c 10)_$RANDOM"
  psql "$PG_CONNINFO" -qAt -c "CREATE DATABASE $db" >/dev/null || return 1
  echo "${PG_CONNINFO/dbname=tfstate/dbname=$db}"
}

stated_start() {
  local mode=$1; shift
  STATED_DATA=$(mktemp -d /tmp/stated-test.XXXXXX)
  STATED_LOG=$STATED_DATA/stated.log
  ADMIN_TOKEN=${ADMIN_TOKEN_FIXED:-admintoken-$RANDOM$RANDOM$RANDOM}
  local rest=(--data-dir "$STATED_DATA/data")
  # (older builds, which 45-layout runs, have no such option)
  "$BIN/stated" --help 2>/dev/null | grep -q -- --failed-logins-per-minute &&
    rest+=(--failed-logins-per-minute 0)
  case $mode in
    s3|s3pg)
      rest+=(--storage "s3://$S3_BUCKET/t$(date +%s%N)$RANDOM" --s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1) ;;
  esac
  case $mode in
    pg|s3pg)
      rest+=(--locks "$(new_pg_db)") ;;
  esac
  rest+=("$@")
  # A port found free may be taken before stated binds it: then try another one.
  local try
  for try in 1 2 3; do
    STATED_PORT=${STATED_PORT_FIXED:-$(free_port)}
    STATED_ARGS=(--listen "127.0.0.1:$STATED_PORT" "${rest[@]}")
    stated_launch && return 0
    [ -z "${STATED_PORT_FIXED:-}" ] && grep -q 'Address already in use' "$STATED_LOG" || return 1
  done
  return 1
}

STATED_CURL=()

stated_launch() {
  local scheme=http
  case " ${STATED_ARGS[*]} " in *" --tls-cert "*) scheme=https ;; esac
  STATED_URL="$scheme://127.0.0.1:$STATED_PORT"
  AWS_ACCESS_KEY_ID=${S3_KEY:-} AWS_SECRET_ACCESS_KEY=${S3_SECRET:-} \
  STATED_ADMIN_TOKEN=$ADMIN_TOKEN "$BIN/stated" "${STATED_ARGS[@]}" >>"$STATED_LOG" 2>&1 &
  STATED_PID=$!
  local i
  for i in $(seq 1 200); do
    if curl -sk "${STATED_CURL[@]}" -o /dev/null --max-time 1 "$STATED_URL/healthz"; then return 0; fi
    kill -0 "$STATED_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "stated did not start; log:" >&2
  tail -n 20 "$STATED_LOG" >&2
  return 1
}

stated_stop() {
  [ -n "${STATED_PID:-}" ] || return 0
  kill -TERM "$STATED_PID" 2>/dev/null
  local i
  for i in $(seq 1 100); do kill -0 "$STATED_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$STATED_PID" 2>/dev/null
  wait "$STATED_PID" 2>/dev/null
  STATED_RC=$?
  STATED_PID=
}

stated_kill() {
  kill -KILL "$STATED_PID" 2>/dev/null
  wait "$STATED_PID" 2>/dev/null
  STATED_PID=
}

stated_restart() {
  stated_stop
  stated_launch
}

# stated_cleanup: stop and remove the data dir (call from a trap).
stated_arg() {
  local i
  for ((i = 0; i < ${#STATED_ARGS[@]} - 1; i++)); do
    [ "${STATED_ARGS[i]}" = "$1" ] && { echo "${STATED_ARGS[i + 1]}"; return 0; }
  done
  return 1
}

stated_cleanup() {
  stated_stop
  [ -n "${STATED_DATA:-}" ] && rm -rf "$STATED_DATA"
}

# rgw_private DIR: S3_* from the environment when S3_ENDPOINT is set, else a private RGW under
# DIR (tests/env/rgw-up.sh) with OWN_RGW=DIR for rgw_private_down. Returns 1 when none can be
# started, with the reason in RGW_ERR.
OWN_RGW=
rgw_private() {
  [ -n "${S3_ENDPOINT:-}" ] && return 0
  local out
  if ! out=$("$TOP/tests/env/rgw-up.sh" "$1" 2>"$1.err"); then
    RGW_ERR=$(tail -n 2 "$1.err" | tr '\n' ' ')
    return 1
  fi
  OWN_RGW=$1
  eval "$out"
  export S3_ENDPOINT S3_KEY S3_SECRET S3_BUCKET
}
rgw_private_down() {
  [ -n "$OWN_RGW" ] && "$TOP/tests/env/rgw-down.sh" "$OWN_RGW" >/dev/null 2>&1
  OWN_RGW=
}
