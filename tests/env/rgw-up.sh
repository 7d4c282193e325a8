#!/bin/bash
# tests/env/rgw-up.sh DIR: a throwaway single-node Ceph (one monitor, one in-memory OSD, no
# manager) plus radosgw on 127.0.0.1, for the S3 tests. Everything (config, monitor store,
# logs, pid files, admin sockets) lives under DIR; nothing is written to /etc/ceph or
# /var/lib/ceph. Stop it with tests/env/rgw-down.sh DIR.
#
# On success prints exactly these lines on stdout (tests/run-all.sh evals them):
#   S3_ENDPOINT=http://127.0.0.1:PORT
#   S3_KEY=...
#   S3_SECRET=...
#   S3_BUCKET=stated-test
# Env: RGW_PORT, MON_PORT (default: free ports), S3_BUCKET (default stated-test),
# RGW_MEMSTORE_BYTES (the in-memory OSD's size, default 1 GiB; a full OSD blocks every write).
# Exits non-zero with the log tail when RGW is not serving within 60 s.
#
# Why this shape: Ceph 16 (Debian 12) has no single-process backend for radosgw, so a monitor
# and an OSD are needed; memstore keeps the OSD in RAM (no block device). cephx is off and
# only msgr v1 is bound, on loopback. A short paxos interval cuts start-up from ~12 s to ~1 s.
set -euo pipefail
DIR=${1:?usage: rgw-up.sh DIR}
BUCKET=${S3_BUCKET:-stated-test}
HERE=$(cd "$(dirname "$0")" && pwd)

# With ports of our own choosing, a port taken between the check and the bind (another test,
# a TIME_WAIT socket) is retried on fresh ports, within the same 60 s.
if [ -z "${RGW_UP_END:-}" ]; then
  export RGW_UP_END=$(($(date +%s) + 60))
  tries=1
  [ -z "${RGW_PORT:-}" ] && [ -z "${MON_PORT:-}" ] && tries=3
  for i in $(seq 1 $tries); do
    "$0" "$@" && exit 0
    rc=$?
    "$HERE/rgw-down.sh" "$DIR" >/dev/null 2>&1
    [ "$(date +%s)" -lt "$RGW_UP_END" ] || break
    [ "$i" -lt "$tries" ] && echo "rgw-up: attempt $i failed, trying again on other ports" >&2
  done
  exit $rc
fi
DEADLINE=$((SECONDS + RGW_UP_END - $(date +%s)))

for t in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool curl; do
  command -v "$t" >/dev/null || { echo "rgw-up: $t not installed (tests/env/install-deps.sh)" >&2; exit 1; }
done

# Ports below the kernel's ephemeral range (32768+ by default), so outgoing connections of
# other tests never hold them.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((12000 + RANDOM % 20000))
    port_free "$p" && port_free $((p + 1)) && { echo "$p"; return 0; }
  done
  return 1
}
RGW_PORT=${RGW_PORT:-$(pick_port)}
MON_PORT=${MON_PORT:-$(pick_port)}
# The OSD binds a few messenger ports: give it a random window that holds neither of ours.
while :; do
  MS_LO=$((12000 + RANDOM % 20000)); MS_HI=$((MS_LO + 100))
  in_win() { [ "$1" -ge "$MS_LO" ] && [ "$1" -le "$MS_HI" ]; }
  in_win "$RGW_PORT" || in_win "$MON_PORT" || break
done

rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw}
LOG=$DIR/log
fail() {
  echo "rgw-up: $*" >&2
  for f in "$LOG"/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}
left() { echo $((DEADLINE - SECONDS)); }

FSID=$(cat /proc/sys/kernel/random/uuid)
CONF=$DIR/ceph.conf
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr2 = false
ms bind port min = $MS_LO
ms bind port max = $MS_HI
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $LOG/\$name.log
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $DIR/mon.\$id
mon cluster log file = $LOG/cluster.log
paxos propose interval = 0.05
paxos min wait = 0.01
mon osd min up ratio = 0
[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-1073741824}
# S3 keys go up to 1024 bytes and RGW prefixes them with the bucket marker; memstore has no
# file-name limit, so allow RADOS names well past that (the default 460 gives UnknownError).
osd max object name len = 2048
osd max object namespace len = 64
# The OSD's own start-up crush/device-class commands can race its monitor client under load
# and make it exit; it is placed in the CRUSH map by this script instead.
osd crush update on start = false
osd class update on start = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw dns name = localhost
rgw enable usage log = false
CONF
export CEPH_CONF=$CONF

ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" 2>>"$LOG/mon-mkfs.log" ||
  fail "ceph-mon --mkfs failed"
ceph-mon -c "$CONF" -i a 2>>"$LOG/mon-start.log" || fail "ceph-mon did not start"

# The monitor daemonizes before it answers; the first commands may fail for a moment.
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=
while [ "$(left)" -gt 0 ]; do
  OSD_ID=$(ceph -c "$CONF" --connect-timeout 5 osd new "$OSD_UUID" 2>>"$LOG/ceph-cli.log") && break
  OSD_ID=; sleep 0.2
done
[ -n "$OSD_ID" ] || fail "the monitor does not answer"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>>"$LOG/osd-mkfs.log" >/dev/null ||
  fail "ceph-osd --mkfs failed"
ceph -c "$CONF" osd crush add "osd.$OSD_ID" 1.0 root=default host=localhost >/dev/null 2>>"$LOG/ceph-cli.log" ||
  fail "crush add failed"
ceph-osd -c "$CONF" -i "$OSD_ID" 2>>"$LOG/osd-start.log" || fail "ceph-osd did not start"
radosgw -c "$CONF" -n client.rgw 2>>"$LOG/rgw-start.log" || fail "radosgw did not start"

up=0
while [ "$(left)" -gt 0 ]; do
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/"; then up=1; break; fi
  sleep 0.1
done
[ $up = 1 ] || fail "radosgw did not answer on 127.0.0.1:$RGW_PORT within 60 s"

S3_KEY=K$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
S3_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '\n/+=')
radosgw-admin -c "$CONF" user create --uid=stated-test --display-name=stated-test \
  --access-key="$S3_KEY" --secret-key="$S3_SECRET" >/dev/null 2>>"$LOG/admin.log" ||
  fail "radosgw-admin user create failed"

# Create the bucket with a signed request (curl signs; it needs the payload hash header).
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
made=0
while [ "$(left)" -gt 0 ]; do
  code=$(curl -s -o "$LOG/mb.out" -w '%{http_code}' --max-time 5 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
    -H "x-amz-content-sha256: $EMPTY" "http://127.0.0.1:$RGW_PORT/$BUCKET" || true)
  if [ "$code" = 200 ]; then made=1; break; fi
  sleep 0.2
done
[ $made = 1 ] || fail "could not create bucket $BUCKET (last HTTP ${code:-none}: $(head -c 300 "$LOG/mb.out" 2>/dev/null))"

echo "S3_ENDPOINT=http://127.0.0.1:$RGW_PORT"
echo "S3_KEY=$S3_KEY"
echo "S3_SECRET=$S3_SECRET"
echo "S3_BUCKET=$BUCKET"
