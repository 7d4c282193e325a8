#!/bin/bash
# tests/bench/s3.sh: stated in S3 mode against Ceph RGW on loopback, bounded in time.
#
# In one run, against the same RGW and with the same files:
#   - GET and POST of a 100 KB and a 10 MB state through stated (curl, one request at a time),
#   - GET and PUT of the same bytes straight to RGW (curl --aws-sigv4, with the
#     x-amz-content-sha256 header curl does not add itself), as the floor stated sits on,
#   - the ratio stated / direct per operation (a POST is a HEAD of the current object, a
#     snapshot PUT and a server-side copy of it to current, so one PUT plus one copy is its floor).
# The peak memory of a large write is tests/bench/mem.sh's.
# Uses the RGW from S3_ENDPOINT/S3_KEY/S3_SECRET/S3_BUCKET when set, else starts a private one
# (tests/env/rgw-up.sh). Prints a table and rewrites the S3 section of docs/BENCHMARKS.md;
# BENCH_NO_DOC=1 leaves the file alone. Nothing asserts a timing; the run fails only when
# stated or RGW does not work.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$TOP"
. tests/lib/testlib.sh
. tests/lib/stated.sh
BW=$(mktemp -d /tmp/stated-s3bench.XXXXXX)
cleanup() {
  stated_cleanup 2>/dev/null
  rgw_private_down
  rm -rf "$BW"
}
trap cleanup EXIT
DOC=$TOP/docs/BENCHMARKS.md
N_SMALL=${BENCH_S3_N_SMALL:-20}
N_LARGE=${BENCH_S3_N_LARGE:-4}
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

if ! "$BIN/stated" --help >/dev/null 2>&1; then
  skip bench/s3 "build/bin/stated does not run yet (--help failed)"
  t_done
  exit
fi
if ! rgw_private "$BW/rgw"; then
  skip bench/s3 "no RGW: $RGW_ERR"
  t_done
  exit
fi

# A valid state of about SIZE bytes; serial makes each one distinct (identical re-POSTs are
# no-ops and would measure nothing).
make_state() { # make_state SIZE SERIAL FILE
  local pad=$(($1 - 120))
  {
    printf '{"version":4,"terraform_version":"1.6.0","serial":%d,"lineage":"bench-lineage","outputs":{"pad":{"type":"string","value":"' "$2"
    head -c $((pad * 3 / 4 + 3)) /dev/urandom | base64 -w0 | head -c "$pad"
    printf '"}},"resources":[]}\n'
  } >"$3"
}

# Each helper prints curl's time_total in seconds and fails on an unexpected status.
st_post() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 120 -X POST \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  --data-binary "@$2" "$STATED_URL/v1/states/$1"; }
st_get() { curl -s -o "$BW/got" -w '%{http_code} %{time_total}\n' --max-time 120 \
  -H "Authorization: Bearer $ADMIN_TOKEN" "$STATED_URL/v1/states/$1"; }
# (No "Expect:" override on the direct PUT: curl 7.88 would still sign the header it then drops,
# and RGW answers SignatureDoesNotMatch.)
s3_put() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 120 -T "$2" \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
  -H "x-amz-content-sha256: $(sha256sum "$2" | cut -d' ' -f1)" \
  "$S3_ENDPOINT/$S3_BUCKET/$1"; }
s3_get() { curl -s -o "$BW/got" -w '%{http_code} %{time_total}\n' --max-time 120 \
  --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
  -H "x-amz-content-sha256: $EMPTY" "$S3_ENDPOINT/$S3_BUCKET/$1"; }

# run_ops LABEL N CMD ARG...: runs CMD N times (ARG "%i" replaced by the index), checks the
# status is 200, prints the mean milliseconds.
mean_ms() { # mean_ms FILE
  awk '{ if ($1 != 200) bad++; s += $2; n++ } END { if (bad || n == 0) print "ERR"; else printf "%.1f", s * 1000 / n }' "$1"
}

if ! stated_start s3; then
  fail bench/s3 "stated did not start in S3 mode: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
  t_done
  exit
fi
PFX=bench-direct/$(date +%s%N)
results=$BW/results
: >"$results"
for spec in "100k 102400 $N_SMALL" "10m 10485760 $N_LARGE"; do
  set -- $spec
  label=$1 size=$2 n=$3
  for i in $(seq 1 "$n"); do make_state "$size" "$i" "$BW/$label.$i.json"; done
  : >"$BW/sp" ; : >"$BW/sg"; : >"$BW/dp"; : >"$BW/dg"
  for i in $(seq 1 "$n"); do
    st_post "bench/$label" "$BW/$label.$i.json" >>"$BW/sp"
    st_get "bench/$label" >>"$BW/sg"
    s3_put "$PFX/$label" "$BW/$label.$i.json" >>"$BW/dp"
    s3_get "$PFX/$label" >>"$BW/dg"
  done
  cmp -s "$BW/got" "$BW/$label.$n.json" || fail "bench/s3 $label" "direct GET bytes differ"
  echo "$label $(mean_ms "$BW/sp") $(mean_ms "$BW/dp") $(mean_ms "$BW/sg") $(mean_ms "$BW/dg") $n" >>"$results"
  rm -f "$BW/$label".*.json
done
stated_cleanup


table=$BW/table
{
  echo "| state | stated POST ms | RGW PUT ms | POST ratio | stated GET ms | RGW GET ms | GET ratio | runs |"
  echo "|---|---|---|---|---|---|---|---|"
  while read -r label sp dp sg dg n; do
    rp=$(awk -v a="$sp" -v b="$dp" 'BEGIN { if (a == "ERR" || b == "ERR" || b == 0) print "-"; else printf "%.2fx", a / b }')
    rg=$(awk -v a="$sg" -v b="$dg" 'BEGIN { if (a == "ERR" || b == "ERR" || b == 0) print "-"; else printf "%.2fx", a / b }')
    size=$([ "$label" = 100k ] && echo "100 KB" || echo "10 MB")
    echo "| $size | $sp | $dp | $rp | $sg | $dg | $rg | $n |"
  done <"$results"
} >"$table"
cat "$table"
if grep -q ERR "$results"; then fail bench/s3 "a request failed (see the table)"; else pass bench/s3; fi

if [ -z "${BENCH_NO_DOC:-}" ]; then
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  rgwv=$(radosgw --version 2>/dev/null | awk '{print $3; exit}')
  section=$BW/section
  {
    echo "<!-- s3-bench:start (written by tests/bench/s3.sh; edit the script, not this part) -->"
    echo "## S3 (Ceph RGW)"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($cpu), $(uname -sr),"
    echo "single-node Ceph RGW ${rgwv:-?} (memstore OSD) on loopback, curl one request at a time, mean of"
    echo "the runs shown. Reproduce with \`tests/bench/s3.sh\` (BENCH_S3_N_SMALL, BENCH_S3_N_LARGE)."
    echo
    cat "$table"
    echo
    echo "- Memory: see \"Memory accepting a large state\" (tests/bench/mem.sh)."
    echo "- A stated POST is a HEAD of the current object (to skip identical re-POSTs), a snapshot"
    echo "  PUT (the body's SHA-256, computed once, is its x-amz-content-sha256) and a server-side"
    echo "  copy of the snapshot to current (CopyObject: the bytes are uploaded once), plus a"
    echo "  durable audit append; its floor is one direct PUT plus one copy (RGW: ~6 ms for"
    echo "  100 KB, ~17 ms for 10 MB). A stated GET is one S3 GET plus the HTTP hop to the client."
    echo "- RGW, stated and curl share the machine's cores; on Scaleway the network dominates."
    echo "<!-- s3-bench:end -->"
  } >"$section"
  doc_section s3-bench "$section" "$DOC"
  echo "wrote the S3 section of $DOC"
fi
t_done
