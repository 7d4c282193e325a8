#!/bin/bash
# tests/suites/40-s3.sh: the S3 storage driver against a real Ceph RGW.
#
#  1. driver level: tests/integration/s3_driver_test.c, built here against build/obj/libstated.a,
#     runs the objstore contract (put/get/head/del, NOT_FOUND, metadata, odd keys, >1000-key
#     listings, concurrency, credentials, versioning) against the shared RGW;
#  2. server level (when build/bin/stated runs): layout of the objects in the bucket as seen
#     by an independent client (awscli), encryption at rest, a wrong secret key refusing the
#     start, and RGW outages (frozen with SIGSTOP, then killed) answered with 503 + Retry-After
#     in bounded time, then served again without a restart of stated. The outages use a
#     second, private RGW so the shared one stays up.
#
# Needs S3_ENDPOINT, S3_KEY, S3_SECRET, S3_BUCKET (tests/run-all.sh starts the shared RGW).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP"
. tests/lib/testlib.sh
. tests/lib/stated.sh

if [ -z "${S3_ENDPOINT:-}" ]; then
  skip "s3 suite" "S3_ENDPOINT not set (no RGW: tests/env/rgw-up.sh failed or radosgw is not installed)"
  t_done
  exit $?
fi

WORK=$(mktemp -d /tmp/stated-s3suite.XXXXXX)
RGW2=
cleanup() {
  stated_cleanup 2>/dev/null
  if [ -n "$RGW2" ]; then tests/env/rgw-down.sh "$RGW2" >/dev/null 2>&1; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

AWS=/usr/bin/aws
# awscli as an independent S3 client: no config files, no instance metadata, our keys only.
awss3() {
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_DEFAULT_REGION=us-east-1 \
    timeout 60 "$AWS" --endpoint-url "$S3_ENDPOINT" "$@"
}

# ------------------------------------------------------------------ 1. driver level
LIB=build/obj/libstated.a
make --no-print-directory -j2 "$LIB" >"$WORK/make.log" 2>&1
if [ ! -f "$LIB" ]; then
  fail "s3 driver: build" "$LIB did not build: $(tail -n 3 "$WORK/make.log" | tr '\n' ' ')"
else
  CSTD="-std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
  WARN="-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-unused-parameter"
  PKGS="libh2o-evloop libcurl libpq jansson openssl"
  if cc $CSTD $WARN -g -O1 -I. $(pkg-config --cflags $PKGS) -o "$WORK/s3_driver_test" \
      tests/integration/s3_driver_test.c tests/unit/t.c "$LIB" \
      $(pkg-config --libs $PKGS) -lpthread -lm >"$WORK/cc.log" 2>&1; then
    timeout 180 "$WORK/s3_driver_test" >"$WORK/driver.out" 2>&1
    rc=$?
    sed -n 's/^\(PASS\|FAIL\) \(.*\)/\1 s3 driver: \2/p; /^  /p' "$WORK/driver.out"
    T_PASSED=$((T_PASSED + $(grep -c '^PASS ' "$WORK/driver.out")))
    T_FAILED=$((T_FAILED + $(grep -c '^FAIL ' "$WORK/driver.out")))
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$WORK/driver.out"; then
      fail "s3 driver: run" "exited $rc: $(tail -n 3 "$WORK/driver.out" | tr '\n' ' ')"
    fi
  else
    fail "s3 driver: compile" "$(grep -m3 error "$WORK/cc.log" | tr '\n' ' ')"
  fi
fi

# ------------------------------------------------------------------ 2. server level
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip "s3 server checks" "build/bin/stated does not run (--help failed): layout, encryption, wrong secret and outage checks not run"
  t_done
  exit $?
fi
if [ ! -x "$AWS" ]; then
  skip "s3 server checks" "$AWS (awscli) not installed"
  t_done
  exit $?
fi

state_body() { # state_body SERIAL MARKER
  printf '{"version":4,"terraform_version":"1.6.0","serial":%s,"lineage":"s3-suite-lineage","outputs":{"marker":{"value":"%s","type":"string"}},"resources":[]}\n' "$1" "$2"
}
# http METHOD PATH [BODYFILE]: prints "STATUS" and leaves headers/body in $WORK/h and $WORK/b
http() {
  local args=(-s -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' --max-time 90 -X "$1"
              -H "Authorization: Bearer $ADMIN_TOKEN")
  [ -n "${3:-}" ] && args+=(--data-binary "@$3" -H 'Content-Type: application/json')
  curl "${args[@]}" "$STATED_URL$2"
}
prefix_of_run() { # the s3://bucket/PREFIX stated_start chose
  local a
  for a in "${STATED_ARGS[@]}"; do
    case $a in s3://*) a=${a#s3://}; echo "${a#*/}"; return ;; esac
  done
}

# --- layout: current and one snapshot at the documented paths, exact bytes
if stated_start s3; then
  P=$(prefix_of_run)
  state_body 1 "layout-$RANDOM" >"$WORK/s1.json"
  st=$(http POST /v1/states/s3suite/net "$WORK/s1.json")
  expect_eq "s3 POST state" "$st" 200
  if awss3 s3 cp "s3://$S3_BUCKET/$P/states/s3suite/net/@current.tfstate" "$WORK/cur" >/dev/null 2>"$WORK/aws.err"; then
    check "s3 @current.tfstate bytes as written" cmp "$WORK/cur" "$WORK/s1.json"
  else
    fail "s3 @current.tfstate at states/NAME/@current.tfstate" "$(tail -n 2 "$WORK/aws.err" | tr '\n' ' ')"
  fi
  awss3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$P/states/s3suite/net/@snapshots/" \
    --query 'Contents[].Key' --output text >"$WORK/snaps" 2>"$WORK/aws.err"
  nsnap=$(tr '\t' '\n' <"$WORK/snaps" | grep -c '\.tfstate$')
  expect_eq "s3 one snapshot under states/NAME/@snapshots/" "$nsnap" 1
  snap=$(tr '\t' '\n' <"$WORK/snaps" | grep '\.tfstate$' | head -n 1)
  if [ -n "$snap" ]; then
    if [[ $(basename "$snap") =~ ^[0-9]{16}-1-[0-9a-f]{12}\.tfstate$ ]]; then
      pass "s3 snapshot name SEQ-SERIAL-SHA12.tfstate"
    else
      fail "s3 snapshot name SEQ-SERIAL-SHA12.tfstate" "got $snap"
    fi
    awss3 s3 cp "s3://$S3_BUCKET/$snap" "$WORK/snap" >/dev/null 2>&1
    check "s3 snapshot bytes as written" cmp "$WORK/snap" "$WORK/s1.json"
  fi
  st=$(http GET /v1/states/s3suite/net)
  if [ "$st" = 200 ] && cmp -s "$WORK/b" "$WORK/s1.json"; then pass "s3 GET returns the bytes"; else fail "s3 GET returns the bytes" "status $st"; fi
  stated_cleanup
else
  fail "s3 stated start" "$(tail -n 3 "$STATED_LOG" 2>/dev/null | tr '\n' ' ')"
fi

# --- encryption at rest: the bucket never sees the plaintext
head -c 32 /dev/urandom | base64 >"$WORK/enc.key"
if stated_start s3 --encryption-key-file "$WORK/enc.key"; then
  P=$(prefix_of_run)
  MARK="plaintext-marker-$RANDOM$RANDOM"
  state_body 1 "$MARK" >"$WORK/e1.json"
  expect_eq "s3 encrypted POST" "$(http POST /v1/states/s3suite/secret "$WORK/e1.json")" 200
  mkdir -p "$WORK/dump"
  awss3 s3 cp --recursive "s3://$S3_BUCKET/$P/" "$WORK/dump/" >/dev/null 2>"$WORK/aws.err"
  nobj=$(find "$WORK/dump" -type f | wc -l)
  if [ "$nobj" -ge 2 ]; then pass "s3 encrypted objects present ($nobj)"; else fail "s3 encrypted objects present" "found $nobj"; fi
  if grep -rqa -e "$MARK" -e 's3-suite-lineage' "$WORK/dump"; then
    fail "s3 no plaintext in the bucket" "marker or lineage found in $(grep -rla "$MARK" "$WORK/dump" | head -n 1)"
  else
    pass "s3 no plaintext in the bucket"
  fi
  st=$(http GET /v1/states/s3suite/secret)
  if [ "$st" = 200 ] && cmp -s "$WORK/b" "$WORK/e1.json"; then pass "s3 encrypted GET returns the plaintext"; else fail "s3 encrypted GET returns the plaintext" "status $st"; fi
  stated_cleanup
else
  fail "s3 stated start with encryption" "$(tail -n 3 "$STATED_LOG" 2>/dev/null | tr '\n' ' ')"
fi

# --- a wrong secret key: stated refuses to start, saying why, without printing the secret
BADSECRET="wrong-secret-$RANDOM$RANDOM"
port=$(free_port)
AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$BADSECRET STATED_ADMIN_TOKEN=x$RANDOM$RANDOM \
  timeout 30 "$BIN/stated" --listen "127.0.0.1:$port" --data-dir "$WORK/baddata" \
  --storage "s3://$S3_BUCKET/bad$RANDOM" --s3-endpoint "$S3_ENDPOINT" --s3-region us-east-1 \
  >"$WORK/bad.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then pass "s3 wrong secret: stated refuses to start"; else fail "s3 wrong secret: stated refuses to start" "exit $rc"; fi
if grep -q "check the secret key" "$WORK/bad.log"; then pass "s3 wrong secret: clear message"; else fail "s3 wrong secret: clear message" "$(tail -n 2 "$WORK/bad.log" | tr '\n' ' ')"; fi
if grep -q -e "$BADSECRET" -e "$S3_SECRET" "$WORK/bad.log"; then fail "s3 wrong secret: no secret in the log" "secret printed"; else pass "s3 wrong secret: no secret in the log"; fi

# --- outage: a private RGW goes away and comes back; stated answers 503 meanwhile
RGW2=$WORK/rgw2
if out=$(tests/env/rgw-up.sh "$RGW2" 2>"$WORK/rgw2.err"); then
  (
    eval "$out"
    # In this subshell S3_* (and so stated_start) point at the private RGW.
    if ! stated_start s3; then
      fail "s3 outage: stated start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
      echo "T_COUNTS $T_PASSED $T_FAILED $T_SKIPPED"
      exit 0
    fi
    trap 'stated_cleanup' EXIT
    state_body 1 before >"$WORK/o1.json"
    state_body 2 during >"$WORK/o2.json"
    expect_eq "s3 outage: write before" "$(http POST /v1/states/s3suite/outage "$WORK/o1.json")" 200
    rgwpid=$(cat "$RGW2/run/client.rgw.pid")
    # Frozen RGW (SIGSTOP: connections accepted, nothing answered): stated gives up on the
    # stalled transfer and answers 503 in bounded time; the trap always resumes RGW.
    trap 'kill -CONT "$rgwpid" 2>/dev/null; stated_cleanup' EXIT
    kill -STOP "$rgwpid"
    t0=$SECONDS
    st=$(http GET /v1/states/s3suite/outage)
    kill -CONT "$rgwpid"
    ra=$(grep -i '^retry-after:' "$WORK/h" | tr -d '\r' | awk '{print $2}')
    expect_eq "s3 frozen RGW: GET answers 503" "$st" 503
    if [ -n "$ra" ]; then pass "s3 frozen RGW: 503 carries Retry-After ($ra)"; else fail "s3 frozen RGW: 503 carries Retry-After" "none"; fi
    if [ $((SECONDS - t0)) -le 45 ]; then pass "s3 frozen RGW: answer within 45 s ($((SECONDS - t0)) s)"; else fail "s3 frozen RGW: bounded answer" "$((SECONDS - t0)) s"; fi
    st=$(http GET /v1/states/s3suite/outage)
    if [ "$st" = 200 ] && cmp -s "$WORK/b" "$WORK/o1.json"; then pass "s3 frozen RGW: served again once resumed"; else fail "s3 frozen RGW: served again once resumed" "status $st"; fi
    # RGW gone (killed): connection refused, retried briefly, then 503.
    kill -KILL "$rgwpid"
    for _ in $(seq 1 100); do kill -0 "$rgwpid" 2>/dev/null || break; sleep 0.05; done
    t0=$SECONDS
    st=$(http POST /v1/states/s3suite/outage "$WORK/o2.json")
    ra=$(grep -i '^retry-after:' "$WORK/h" | tr -d '\r' | awk '{print $2}')
    expect_eq "s3 outage: POST answers 503" "$st" 503
    if [ -n "$ra" ]; then pass "s3 outage: POST 503 carries Retry-After ($ra)"; else fail "s3 outage: POST 503 carries Retry-After" "none"; fi
    st=$(http GET /v1/states/s3suite/outage)
    ra=$(grep -i '^retry-after:' "$WORK/h" | tr -d '\r' | awk '{print $2}')
    expect_eq "s3 outage: GET answers 503" "$st" 503
    if [ -n "$ra" ]; then pass "s3 outage: GET 503 carries Retry-After ($ra)"; else fail "s3 outage: GET 503 carries Retry-After" "none"; fi
    if [ $((SECONDS - t0)) -le 60 ]; then pass "s3 outage: answers within 60 s ($((SECONDS - t0)) s)"; else fail "s3 outage: bounded answers" "$((SECONDS - t0)) s"; fi
    # RGW back, same cluster and data; stated is not restarted.
    radosgw -c "$RGW2/ceph.conf" -n client.rgw 2>>"$WORK/rgw2.err"
    wait_http "$S3_ENDPOINT/" 30 || fail "s3 outage: RGW restart" "no answer"
    ok=0
    for _ in $(seq 1 30); do
      st=$(http GET /v1/states/s3suite/outage)
      [ "$st" = 200 ] && { ok=1; break; }
      sleep 1
    done
    if [ $ok = 1 ] && cmp -s "$WORK/b" "$WORK/o1.json"; then
      pass "s3 outage: served again, nothing changed by the failed write"
    else
      fail "s3 outage: served again, nothing changed by the failed write" "status $st"
    fi
    expect_eq "s3 outage: write after" "$(http POST /v1/states/s3suite/outage "$WORK/o2.json")" 200
    st=$(http GET /v1/states/s3suite/outage)
    if [ "$st" = 200 ] && cmp -s "$WORK/b" "$WORK/o2.json"; then pass "s3 outage: new write readable"; else fail "s3 outage: new write readable" "status $st"; fi
    echo "T_COUNTS $T_PASSED $T_FAILED $T_SKIPPED"
  ) >"$WORK/outage.out" 2>&1
  grep -v '^T_COUNTS' "$WORK/outage.out"
  if grep -q '^T_COUNTS' "$WORK/outage.out"; then
    read -r _ p f s < <(grep '^T_COUNTS' "$WORK/outage.out")
    T_PASSED=$p T_FAILED=$f T_SKIPPED=$s
  else
    fail "s3 outage" "checks ended early: $(tail -n 3 "$WORK/outage.out" | tr '\n' ' ')"
  fi
else
  fail "s3 outage: private RGW" "$(tail -n 3 "$WORK/rgw2.err" | tr '\n' ' ')"
fi

t_done
