# tests/protocol/lib.sh: HTTP request functions for the protocol suite (sourced after testlib.sh and
# stated.sh). Requests go through curl against the real stated at $STATED_URL; each sets
#   CODE   the HTTP status ("000" when no response arrived)
#   $RESP  the response body (a file), $RESP_H the response headers
# and appends "METHOD PATH CODE" to $CODES_LOG so a suite can assert that no 5xx ever appeared.
#
# Layouts (P_LAYOUT) decide how a lock is taken and released, as the clients configure it:
#   state   LOCK/UNLOCK on the state URL          (backend "http" default, lock_address = address)
#   lockurl LOCK/UNLOCK on NAME/lock
#   gitlab  POST/DELETE on NAME/lock              (lock_method = POST, unlock_method = DELETE)

P_TMP=${P_TMP:-$(mktemp -d /tmp/stated-proto.XXXXXX)}
RESP=$P_TMP/resp
RESP_H=$P_TMP/resp.h
CODES_LOG=$P_TMP/codes.log
: >"$CODES_LOG"
P_LAYOUT=state
# Credentials used by `req` unless the caller passes its own: admin token over Basic auth.
P_AUTH=()
P_CURL_TLS=()

p_use_admin() { P_AUTH=(-u "admin:$ADMIN_TOKEN"); }

# req METHOD PATH [curl args...]: one request; PATH is sent as is (no ../ squashing).
req() {
  local m=$1 p=$2
  shift 2
  CODE=$(curl -s --path-as-is -o "$RESP" -D "$RESP_H" -w '%{http_code}' --max-time 15 \
    "${P_CURL_TLS[@]}" -X "$m" "${P_AUTH[@]}" "$@" "$STATED_URL$p")
  [ -n "$CODE" ] || CODE=000
  echo "$m $p $CODE" >>"$CODES_LOG"
}

# req_noauth METHOD PATH [curl args...]: the same without any Authorization header.
req_noauth() {
  local saved=("${P_AUTH[@]}")
  P_AUTH=()
  req "$@"
  P_AUTH=("${saved[@]}")
}

md5_b64() { openssl md5 -binary "$1" | base64; }

# post_state PATH FILE [curl args...]: POST a state body with a valid Content-MD5.
post_state() {
  local p=$1 f=$2
  shift 2
  req POST "$p" -H 'Content-Type: application/json' -H "Content-MD5: $(md5_b64 "$f")" \
    --data-binary "@$f" "$@"
}
put_state() {
  local p=$1 f=$2
  shift 2
  req PUT "$p" -H 'Content-Type: application/json' -H "Content-MD5: $(md5_b64 "$f")" \
    --data-binary "@$f" "$@"
}

new_id() { cat /proc/sys/kernel/random/uuid; }

# mkstate FILE SERIAL LINEAGE [PAD_BYTES]: a v4 state, pretty-printed like the clients write it.
mkstate() {
  local f=$1 serial=$2 lineage=$3 pad=${4:-0} padding=
  [ "$pad" -gt 0 ] && padding=$(head -c "$pad" /dev/zero | tr '\0' 'x')
  cat >"$f" <<EOF
{
  "version": 4,
  "terraform_version": "1.11.4",
  "serial": $serial,
  "lineage": "$lineage",
  "outputs": {
    "v": {
      "value": "serial-$serial$padding",
      "type": "string"
    }
  },
  "resources": [],
  "check_results": null
}
EOF
}

# mklock FILE ID WHO OPERATION: a lock body exactly as Go's json.Marshal(LockInfo) writes it.
mklock() {
  printf '{"ID":"%s","Operation":"%s","Info":"","Who":"%s","Version":"1.11.4","Created":"%s","Path":""}' \
    "$2" "$4" "$3" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" >"$1"
}
# mkforce FILE ID: OpenTofu's force-unlock body (only the ID set).
mkforce() {
  printf '{"ID":"%s","Operation":"","Info":"","Who":"","Version":"","Created":"0001-01-01T00:00:00Z","Path":""}' \
    "$2" >"$1"
}

lock_path() {
  case $P_LAYOUT in
    state) echo "/v1/states/$1" ;;
    *) echo "/v1/states/$1/lock" ;;
  esac
}
lock_method() { case $P_LAYOUT in gitlab) echo POST ;; *) echo LOCK ;; esac; }
unlock_method() { case $P_LAYOUT in gitlab) echo DELETE ;; *) echo UNLOCK ;; esac; }

# do_lock NAME BODYFILE [QUERY]: take the lock the way the layout's clients do.
do_lock() {
  req "$(lock_method)" "$(lock_path "$1")${3:-}" -H 'Content-Type: application/json' \
    -H "Content-MD5: $(md5_b64 "$2")" --data-binary "@$2"
}
# do_unlock NAME BODYFILE | --chunked-empty | --no-body
do_unlock() {
  local p m
  p=$(lock_path "$1")
  m=$(unlock_method)
  case $2 in
    --chunked-empty)
      req "$m" "$p" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
        -H 'Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==' --data-binary @/dev/null ;;
    --no-body) req "$m" "$p" ;;
    *) req "$m" "$p" -H 'Content-Type: application/json' -H "Content-MD5: $(md5_b64 "$2")" \
      --data-binary "@$2" ;;
  esac
}

# json_field FILE KEY: the string value of a top-level key ("" when absent or not JSON).
json_field() { jq -r --arg k "$2" 'if type == "object" then (.[$k] // "") | tostring else "" end' "$1" 2>/dev/null; }

# is_json_error FILE CODE: the body is {"code":CODE,"message":"non-empty"}.
is_json_error() {
  jq -e --arg c "$2" '.code == $c and (.message | type == "string" and length > 0)' "$1" >/dev/null 2>&1
}

RFC3339_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'

# expect_code NAME WANT...: PASS when $CODE is one of WANT, else FAIL with the body's start.
expect_code() {
  local name=$1 w
  shift
  for w in "$@"; do
    if [ "$CODE" = "$w" ]; then pass "$name"; return 0; fi
  done
  fail "$name" "got HTTP $CODE, want $*; body: $(head -c 200 "$RESP" 2>/dev/null | tr '\n' ' ')"
  return 1
}

# expect_error NAME STATUS INFRA_CODE: the status and a JSON error body with that code.
expect_error() {
  if [ "$CODE" != "$2" ]; then
    fail "$1" "got HTTP $CODE, want $2 $3; body: $(head -c 200 "$RESP" | tr '\n' ' ')"
  elif ! is_json_error "$RESP" "$3"; then
    fail "$1" "HTTP $CODE but body is not {\"code\":\"$3\",\"message\":…}: $(head -c 200 "$RESP" | tr '\n' ' ')"
  else
    pass "$1"
  fi
}

# fetch NAME OUTFILE: GET with admin credentials into OUTFILE; sets CODE.
fetch() {
  req GET "/v1/states/$1"
  cp "$RESP" "$2"
}

# same_state NAME FILE: the current state's bytes equal FILE.
same_state() {
  local got=$P_TMP/same.$$
  fetch "$1" "$got"
  [ "$CODE" = 200 ] && cmp -s "$got" "$2"
}

# The storage prefix of the running stated ("" in embedded mode) and the S3 client for it.
s3_prefix() {
  local i
  for ((i = 0; i < ${#STATED_ARGS[@]}; i++)); do
    if [ "${STATED_ARGS[i]}" = --storage ]; then
      echo "${STATED_ARGS[i + 1]}"
      return 0
    fi
  done
}
s3_cli() {
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    /usr/bin/aws --endpoint-url "$S3_ENDPOINT" "$@"
}

# snapshot_list NAME: one snapshot object name per line (basename), from the data dir in
# embedded mode or from the bucket in s3 modes. Fails when it cannot tell.
snapshot_list() {
  local st
  st=$(s3_prefix)
  if [ -z "$st" ]; then
    local d="$STATED_DATA/data/states/$1/@snapshots"
    [ -d "$d" ] || return 0
    find "$d" -maxdepth 1 -type f -name '*.tfstate' -printf '%f\n' | sort
  else
    [ -x /usr/bin/aws ] || return 1
    local rest=${st#s3://} bucket prefix
    bucket=${rest%%/*}
    prefix=${rest#*/}
    [ "$prefix" = "$rest" ] && prefix=
    s3_cli s3api list-objects-v2 --bucket "$bucket" --prefix "${prefix:+$prefix/}states/$1/@snapshots/" \
      --query 'Contents[].Key' --output text 2>/dev/null | tr '\t' '\n' | grep -v '^None$' |
      sed 's|.*/||' | grep '\.tfstate$' | sort
    return "${PIPESTATUS[0]}"
  fi
}
snapshot_count() {
  local l
  l=$(snapshot_list "$1") || return 1
  if [ -z "$l" ]; then echo 0; else echo "$l" | wc -l; fi
}
# storage_objects: every object under states/ with its size (and mtime in embedded mode), one
# per line, sorted: two equal listings mean nothing was created, deleted or rewritten.
storage_objects() {
  local st
  st=$(s3_prefix)
  if [ -z "$st" ]; then
    (cd "$STATED_DATA/data/states" 2>/dev/null && find . -type f -printf '%p %s %T@\n' | sort)
  else
    local rest=${st#s3://} bucket prefix
    bucket=${rest%%/*}
    prefix=${rest#*/}
    [ "$prefix" = "$rest" ] && prefix=
    s3_cli s3api list-objects-v2 --bucket "$bucket" --prefix "${prefix:+$prefix/}states/" \
      --query 'Contents[].[Key,Size,ETag]' --output text 2>/dev/null | sort
  fi
}

# snapshot_get NAME SNAPSHOT OUTFILE: the bytes of one snapshot object.
snapshot_get() {
  local st
  st=$(s3_prefix)
  if [ -z "$st" ]; then
    cp "$STATED_DATA/data/states/$1/@snapshots/$2" "$3"
  else
    local rest=${st#s3://} bucket prefix
    bucket=${rest%%/*}
    prefix=${rest#*/}
    [ "$prefix" = "$rest" ] && prefix=
    s3_cli s3api get-object --bucket "$bucket" --key "${prefix:+$prefix/}states/$1/@snapshots/$2" "$3" >/dev/null
  fi
}

# raw_send PORT FILE: write FILE's bytes on a fresh TCP connection and close it at once, without
# reading the answer (a client that dies or loses the connection mid-request).
raw_send() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    cat "$2" >&3
    exec 3>&-
  ) 2>/dev/null
}

# raw_request FILE METHOD PATH BODYFILE: build an HTTP/1.1 request with admin Basic auth.
raw_request() {
  local f=$1 m=$2 p=$3 body=${4:-} auth
  auth=$(printf 'admin:%s' "$ADMIN_TOKEN" | base64 -w0)
  {
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Basic %s\r\n' "$m" "$p" "$STATED_PORT" "$auth"
    if [ -n "$body" ]; then
      printf 'Content-Type: application/json\r\nContent-MD5: %s\r\nContent-Length: %s\r\n' \
        "$(md5_b64 "$body")" "$(stat -c %s "$body")"
    fi
    printf 'Connection: close\r\n\r\n'
    [ -n "$body" ] && cat "$body"
  } >"$f"
}

# no_5xx NAME: PASS when no request logged since the last call got a 5xx.
no_5xx() {
  local bad
  bad=$(grep -E ' 5[0-9][0-9]$' "$CODES_LOG" | awk '{ p = $2; if (length(p) > 70) p = substr(p, 1, 60) "…(" length(p) " bytes)"; printf "%s %s %s; ", $1, p, $3 }' | head -c 600)
  if [ -z "$bad" ]; then pass "$1"; else fail "$1" "5xx answers: $bad"; fi
  : >"$CODES_LOG"
}
