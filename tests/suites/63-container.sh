#!/bin/bash
# 63-container: the container image (Dockerfile, .dockerignore) and the laptop production stack
# (docker-compose.yml), checked without a Docker engine, and statectl health, the probe the
# image's HEALTHCHECK runs, against a real stated.
#
#   - the Dockerfile as Docker reads it (tests/container/inspect.py): two stages on
#     debian:12-slim, -dev packages only in the build stage, every library the built binaries
#     link provided by a runtime package, a numeric non-root USER that the image creates, no
#     secret in ARG/ENV/LABEL, OCI labels with the version of common/version.h, the data dir
#     under a VOLUME, a HEALTHCHECK that runs statectl health;
#   - the build context: the files `COPY . .` sends after .dockerignore (the real tree and one
#     with planted secrets and build output), then the build stage's own RUN command replayed
#     on exactly those files, which must produce every file the final stage copies, stripped;
#   - the HEALTHCHECK command line taken from the Dockerfile, run with the built binaries
#     against a running stated (0), a closed port and a stopped stated (1);
#   - statectl health and --deep: up, a deep check that finds the data dir gone (503), a
#     server that never answers (bounded by --timeout), nothing listening;
#   - docker-compose.yml (python3-yaml): services, ports on 127.0.0.1, no inline secret,
#     healthchecks and start order; and with Ceph RGW and PostgreSQL up, its bucket script
#     and stated's settings from it run against them.
# Each static check is also run on a broken copy of its file, which it must reject.
#
# Run alone: TOP=... BIN=.../build/bin tests/suites/63-container.sh   (after make all)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
W=$(mktemp -d /tmp/stated-container.XXXXXX)
chmod 755 "$W"
SILENT_PID=
trap 'stated_cleanup; [ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null; rm -rf "$W"' EXIT
INSPECT=$TOP/tests/container/inspect.py
DF=$TOP/Dockerfile
COMPOSE=$TOP/docker-compose.yml
SC=$BIN/statectl
VERSION=$(sed -n 's/^#define STATED_VERSION "\(.*\)"$/\1/p' "$TOP/common/version.h")

missing=$(for t in python3 jq curl; do command -v "$t" >/dev/null || printf '%s ' "$t"; done)
if [ -n "$missing" ]; then
  skip container "not found: ${missing}(apt-get install ${missing% })"
elif ! { [ -x "$SC" ] && "$BIN/stated" --version >/dev/null 2>&1; }; then
  fail container "no runnable $BIN/stated and statectl: run make all first"
fi
[ -z "$missing" ] && [ "$T_FAILED" = 0 ] || { t_done; exit; }

# ------------------------------------------------------------------ the Dockerfile

# dfq FILE JQ-FILTER: a query on the parsed Dockerfile (inspect.py dockerfile).
dfq() { python3 "$INSPECT" dockerfile "$1" | jq -r "$2"; }
FINAL='.[-1].ins[]'

# Each check_* prints why on stdout and returns 1 when the Dockerfile FILE fails it.
check_stages() {
  local n images names
  n=$(dfq "$1" 'length') || { echo "does not parse"; return 1; }
  images=$(dfq "$1" '[.[].image] | unique | join(" ")')
  names=$(dfq "$1" '[.[:-1][].name // empty] | join(" ")')
  [ "$n" -ge 2 ] || { echo "$n stage(s)"; return 1; }
  [ "$images" = "debian:12-slim" ] || { echo "stages FROM: $images"; return 1; }
  local from froms
  froms=$(dfq "$1" "[$FINAL | select(.cmd==\"COPY\") | .flags.from // empty] | join(\" \")")
  [ -n "$froms" ] || { echo "the final stage copies nothing from a build stage"; return 1; }
  for from in $froms; do
    case " $names " in *" $from "*) ;; *) echo "COPY --from=$from is not an earlier stage"; return 1 ;; esac
  done
}

check_packages() {
  local final build
  build=$(dfq "$1" '[.[0].ins[] | select(.cmd=="RUN") | .args] | join(" ")')
  final=$(dfq "$1" "[$FINAL | select(.cmd==\"RUN\") | .args] | join(\" \")")
  echo "$build" | grep -q -- '-dev\b' || { echo "the build stage installs no -dev package"; return 1; }
  local bad
  bad=$(echo "$final" | grep -oE '\S+-dev\b|\bbuild-essential\b|\bgcc\b|\bpkg-config\b|\bmake\b' | sort -u | tr '\n' ' ')
  [ -z "$bad" ] || { echo "the final stage installs $bad"; return 1; }
}

# The package that provides each shared library a binary needs must be installed in the final
# stage (libc6 is in debian:12-slim itself). Library -> package is looked up on this machine,
# which is Debian 12 like the image.
check_runtime_libs() {
  local final lib path dir pkg missing=
  final=" $(dfq "$1" "[$FINAL | select(.cmd==\"RUN\") | .args] | join(\" \")") "
  for lib in $(for b in stated statectl stackgen; do readelf -d "$2/$b" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'; done | sort -u); do
    path=$(ldconfig -p | awk -v s="$lib" '$1 == s && /x86-64|x32|AArch64|64bit/ {print $NF; exit}')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v s="$lib" '$1 == s {print $NF; exit}')
    dir=$(basename "$(dirname "$path")")
    pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -F "/$dir/$lib" | head -n 1 | cut -d: -f1)
    if [ -z "$pkg" ]; then missing+="$lib (no package) "; continue; fi
    [ "$pkg" = libc6 ] && continue
    case $final in *" $pkg "*) ;; *) missing+="$lib ($pkg) " ;; esac
  done
  [ -z "$missing" ] || { echo "not installed in the final stage: $missing"; return 1; }
}

check_user() {
  local user uid gid
  user=$(dfq "$1" "[$FINAL | select(.cmd==\"USER\") | .args] | last // empty")
  [ -n "$user" ] || { echo "no USER: runs as root"; return 1; }
  uid=${user%%:*}
  gid=${user#*:}
  [ "$gid" != "$user" ] || gid=
  case $uid in ''|*[!0-9]*) echo "USER $user is not numeric (runAsNonRoot cannot verify a name)"; return 1 ;; esac
  [ "$uid" -ne 0 ] || { echo "USER $user is root"; return 1; }
  if [ -n "$gid" ]; then
    case $gid in *[!0-9]*) echo "group of USER $user is not numeric"; return 1 ;; esac
    [ "$gid" -ne 0 ] || { echo "USER $user has group root"; return 1; }
  fi
  dfq "$1" "[$FINAL | select(.cmd==\"RUN\") | .args] | join(\" \")" |
    grep -Eq "useradd .*(--uid|-u) $uid\b" || { echo "no RUN creates user $uid (useradd --uid $uid)"; return 1; }
}

check_secrets() {
  local found
  found=$(python3 "$INSPECT" dockerfile-secrets "$1") || { echo "does not parse"; return 1; }
  [ -z "$found" ] || { echo "$found" | tr '\n' ';'; return 1; }
}

check_labels() {
  local v def
  v=$(dfq "$1" "[$FINAL | select(.cmd==\"LABEL\") | .pairs[\"org.opencontainers.image.version\"] // empty] | last // empty")
  def=$(dfq "$1" "[$FINAL | select(.cmd==\"ARG\" and .name==\"VERSION\") | .default] | last // empty")
  [ "$v" = '${VERSION}' ] || { echo "org.opencontainers.image.version is '$v', not \${VERSION}"; return 1; }
  [ "$def" = "$VERSION" ] || { echo "ARG VERSION defaults to '$def', common/version.h says $VERSION"; return 1; }
  local l
  for l in title description revision created; do
    [ "$(dfq "$1" "[$FINAL | select(.cmd==\"LABEL\") | .pairs | has(\"org.opencontainers.image.$l\")] | any")" = true ] ||
      { echo "no org.opencontainers.image.$l"; return 1; }
  done
}

# ENV default listen address and data dir; the data dir under a VOLUME and created for the
# USER; EXPOSE matches the port; ENTRYPOINT runs stated.
check_env() {
  local listen data vols exposed entry uid
  listen=$(dfq "$1" "[$FINAL | select(.cmd==\"ENV\") | .pairs.STATED_LISTEN // empty] | last // empty")
  data=$(dfq "$1" "[$FINAL | select(.cmd==\"ENV\") | .pairs.STATED_DATA_DIR // empty] | last // empty")
  vols=$(dfq "$1" "[$FINAL | select(.cmd==\"VOLUME\") | .raw] | join(\" \")" | tr -d '[]",')
  exposed=$(dfq "$1" "[$FINAL | select(.cmd==\"EXPOSE\") | .args] | join(\" \")")
  entry=$(dfq "$1" "[$FINAL | select(.cmd==\"ENTRYPOINT\") | .exec[0] // .args] | last // empty")
  uid=$(dfq "$1" "[$FINAL | select(.cmd==\"USER\") | .args] | last // empty")
  uid=${uid%%:*}
  [ "$listen" = "0.0.0.0:8080" ] || { echo "STATED_LISTEN=$listen"; return 1; }
  case " $exposed " in *" ${listen##*:} "*|*" ${listen##*:}/tcp "*) ;; *) echo "EXPOSE $exposed, listening on ${listen##*:}"; return 1 ;; esac
  [ -n "$data" ] || { echo "no STATED_DATA_DIR"; return 1; }
  local v under=
  for v in $vols; do case $data/ in "${v%/}"/*) under=$v ;; esac; done
  [ -n "$under" ] || { echo "STATED_DATA_DIR=$data is under no VOLUME ($vols)"; return 1; }
  dfq "$1" "[$FINAL | select(.cmd==\"RUN\") | .args] | join(\" \")" |
    grep -Eq "install -d .*-o $uid .*$data\b" || { echo "$data is not created owned by $uid"; return 1; }
  [ "$entry" = /usr/local/bin/stated ] || { echo "ENTRYPOINT $entry"; return 1; }
}

# The HEALTHCHECK command of the final stage, as /bin/sh runs it (shell form) or the argv.
healthcheck_cmd() {
  dfq "$1" "[$FINAL | select(.cmd==\"HEALTHCHECK\")] | last | if . == null then empty
           elif .exec then (.exec | if .[0] == \"CMD\" then .[1:] else . end | @sh)
           else .shell end"
}

check_healthcheck() {
  local cmd hc_timeout probe_timeout
  cmd=$(healthcheck_cmd "$1")
  [ -n "$cmd" ] || { echo "no HEALTHCHECK"; return 1; }
  echo "$cmd" | grep -q 'statectl health' || { echo "HEALTHCHECK does not run statectl health: $cmd"; return 1; }
  hc_timeout=$(dfq "$1" "[$FINAL | select(.cmd==\"HEALTHCHECK\") | .flags.timeout // \"30s\"] | last")
  probe_timeout=$(echo "$cmd" | sed -n 's/.*--timeout[ =]\([0-9]*\)s.*/\1/p')
  [ -n "$probe_timeout" ] && [ "$probe_timeout" -lt "${hc_timeout%s}" ] ||
    { echo "statectl --timeout ${probe_timeout:-none}s must end before HEALTHCHECK --timeout $hc_timeout"; return 1; }
}

# dfcheck NAME CHECK [ARGS]: runs CHECK on the Dockerfile, then on each broken copy given as
# "sed-expression" in MUTANTS, which CHECK must reject.
dfcheck() {
  local name=$1 fn=$2 why m i=0
  shift 2
  if why=$($fn "$DF" "$@"); then pass "container/dockerfile/$name"; else fail "container/dockerfile/$name" "$why"; fi
  for m in "${MUTANTS[@]}"; do
    i=$((i + 1))
    sed -e "$m" "$DF" >"$W/Dockerfile.mutant"
    if cmp -s "$DF" "$W/Dockerfile.mutant"; then
      fail "container/dockerfile/$name rejects a broken copy ($m)" "the edit changed nothing"
    elif why=$($fn "$W/Dockerfile.mutant" "$@"); then
      fail "container/dockerfile/$name rejects a broken copy ($m)" "accepted"
    else
      pass "container/dockerfile/$name rejects a broken copy ($m): $why"
    fi
  done
  MUTANTS=()
}

if ! python3 "$INSPECT" dockerfile "$DF" >/dev/null 2>"$W/df.err"; then
  fail container/dockerfile/parses "$(tail -n 2 "$W/df.err")"
else
  pass container/dockerfile/parses
  MUTANTS=('s/^FROM debian:12-slim$/FROM debian:12/' '/^COPY --from=build/d' 's/--from=build/--from=builder/')
  dfcheck "two stages on debian:12-slim, the final one copying from the build stage" check_stages
  MUTANTS=('s/libpq5 /libpq-dev /')
  dfcheck "-dev packages in the build stage only" check_packages
  if command -v readelf >/dev/null && command -v dpkg >/dev/null && command -v ldconfig >/dev/null; then
    MUTANTS=('s/ libpq5 / /')
    dfcheck "final stage installs the package of every library stated, statectl and stackgen link" check_runtime_libs "$BIN"
  else
    skip "container/dockerfile/runtime libraries" "readelf, dpkg or ldconfig not found"
  fi
  MUTANTS=('s/^USER .*/USER root/' 's/^USER .*/USER 0:0/' 's/^USER .*/USER stated/' '/^USER /d' 's/--uid 10001/--uid 10002/')
  dfcheck "numeric non-root USER created in the image" check_user
  MUTANTS=('s/^ARG REVISION=$/ARG ADMIN_TOKEN=tok/' 's/^ARG CREATED=$/ARG CREATED=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b/')
  dfcheck "no secret in ARG defaults, ENV, LABEL or any instruction" check_secrets
  MUTANTS=('s/^ARG VERSION=.*/ARG VERSION=0.0.1/' 's/image.version="${VERSION}"/image.version="0.2.0"/')
  dfcheck "OCI labels, version from ARG VERSION=$VERSION (common/version.h)" check_labels
  MUTANTS=('s/STATED_LISTEN=0.0.0.0:8080/STATED_LISTEN=127.0.0.1:8080/' '/^VOLUME /d' 's/^EXPOSE 8080/EXPOSE 9090/')
  dfcheck "listens on 0.0.0.0:8080, data dir under a VOLUME and owned by the USER, ENTRYPOINT stated" check_env
  MUTANTS=('s/statectl health/statectl states list/' '/^HEALTHCHECK/,/^ *CMD/d' 's/--timeout 4s/--timeout 9s/')
  dfcheck "HEALTHCHECK runs statectl health, which gives up before Docker does" check_healthcheck
fi

# ------------------------------------------------------------------ the build context

context() { python3 "$INSPECT" context "$1" "${2:-$1/.dockerignore}"; }

# Nothing secret or generated, and every tracked source the build needs.
check_context_list() { # LIST-FILE
  local leaked
  leaked=$(grep -E '^(\.git|build|data|tests)(/|$)|(^|/)[^/]*\.token$|(^|/)\.env(\.|$)|\.swp$|~$|(^|/)\.terraform(/|$)|\.tfstate$' "$1" | head -n 5 | tr '\n' ' ')
  [ -z "$leaked" ] || { echo "sent: $leaked"; return 1; }
}

if ! context "$TOP" >"$W/context.real" 2>"$W/context.err"; then
  fail "container/context/.dockerignore parses" "$(tail -n 2 "$W/context.err")"
else
  n=$(wc -l <"$W/context.real")
  if why=$(check_context_list "$W/context.real"); then
    pass "container/context/this tree: $n files, no .git, build, data, tests, *.token, .env or editor files"
  else
    fail "container/context/this tree: nothing secret or generated" "$why"
  fi
  # Every tracked file is sent except the ones deliberately left out.
  missing=$(git -C "$TOP" ls-files 2>/dev/null | grep -vE '^(tests/|\.ci/|\.gitignore$)' | sort | comm -23 - <(sort "$W/context.real") | head -n 5 | tr '\n' ' ')
  if ! git -C "$TOP" rev-parse >/dev/null 2>&1; then
    skip "container/context/every tracked source is sent" "$TOP is not a git work tree"
  elif [ -z "$missing" ]; then
    pass "container/context/every tracked file outside tests/ and .ci/ is sent"
  else
    fail "container/context/every tracked file outside tests/ and .ci/ is sent" "left out: $missing"
  fi

  # A tree with what a working copy collects: make run's data dir and token, build output,
  # compose's .env, keys, terraform state, editor files, test work dirs.
  P=$W/planted
  mkdir -p "$P"
  while read -r f; do mkdir -p "$P/$(dirname "$f")"; : >"$P/$f"; done <"$W/context.real"
  planted="data/admin.token data/states/team/app/current.tfstate data/audit/audit.jsonl
    build/bin/stated build/obj/common/buf.o build/san/bin/test_common admin.token ci.token
    examples/tofu/.terraform/terraform.tfstate examples/tofu/terraform.tfstate .env .env.local
    backend/.main.c.swp backend/main.c~ .git/config .git/objects/ab/cdef tests/work/run1/log
    module/scaleway/bucket/.terraform.lock.hcl tls/server.key tls/server.pem deep/er/ops.token
    s3.credentials/credentials stated.log"
  for f in $planted; do mkdir -p "$P/$(dirname "$f")"; echo secret >"$P/$f"; done
  cp "$TOP/.dockerignore" "$P/.dockerignore"
  context "$P" >"$W/context.planted"
  sent=$(for f in $planted; do grep -qxF "$f" "$W/context.planted" && echo "$f"; done | tr '\n' ' ')
  if [ -z "$sent" ] && grep -qxF Makefile "$W/context.planted" && grep -qxF backend/main.c "$W/context.planted"; then
    pass "container/context/planted data/admin.token, build/, .env, keys, state, .git, editor files: none sent, sources are"
  else
    fail "container/context/planted secrets and build output stay out" "sent: ${sent:-(sources missing)}"
  fi
  # Broken copies of .dockerignore: the same listing must show what they let through.
  # data/admin.token is kept out twice (data, **/*.token): it leaks only without both lines.
  leak_check() { # NAME FILE-THAT-MUST-LEAK LINE...
    local name=$1 want=$2
    shift 2
    grep -vxF "$(printf '%s\n' "$@")" "$TOP/.dockerignore" >"$P/.dockerignore"
    context "$P" >"$W/context.mutant"
    if grep -qxF "$want" "$W/context.mutant" && ! check_context_list "$W/context.mutant" >/dev/null; then
      pass "container/context/$name: $want would be sent, and the check sees it"
    else
      fail "container/context/$name: $want would be sent, and the check sees it" "not detected"
    fi
  }
  leak_check "without the 'data' line" data/audit/audit.jsonl data
  leak_check "without 'data' and '**/*.token'" data/admin.token data '**/*.token'
  leak_check "without the 'build' line" build/bin/stated build
  leak_check "without '**/.env'" .env '**/.env'
  cp "$TOP/.dockerignore" "$P/.dockerignore"

  # COPY sources taken from the context (not --from) exist after filtering.
  bad=
  for src in $(dfq "$DF" '[.[].ins[] | select(.cmd=="COPY" and (.flags.from == null)) | .src[]] | join(" ")'); do
    s=${src#./}
    [ "$s" = . ] && { [ -s "$W/context.real" ] || bad+=". "; continue; }
    grep -qE "^${s%/}(/|$)" "$W/context.real" || bad+="$src "
  done
  if [ -z "$bad" ]; then
    pass "container/context/every COPY source from the context is in it after .dockerignore"
  else
    fail "container/context/every COPY source from the context is in it after .dockerignore" "missing: $bad"
  fi

  # The build stage replayed: its WORKDIR gets exactly the filtered files, its RUN commands
  # after COPY . . run there, and they must produce what the final stage copies --from it.
  workdir=$(dfq "$DF" '[.[0].ins[] | select(.cmd=="WORKDIR") | .args] | last')
  CTX=$W/ctx
  mkdir -p "$CTX"
  (cd "$TOP" && tar -cf - -T "$W/context.real") | tar -C "$CTX" -xf -
  runs=$(dfq "$DF" '.[0].ins | (map(.cmd == "COPY" and .args == ". .") | index(true)) as $i
                   | .[$i + 1:][] | select(.cmd == "RUN") | .args')
  start=$SECONDS
  if [ -z "$runs" ]; then
    fail "container/build/replay" "no RUN after COPY . . in the build stage"
  elif (cd "$CTX" && timeout 900 sh -ec "$runs") >"$W/replay.log" 2>&1; then
    pass "container/build/the build stage's RUN on the filtered context succeeds ($((SECONDS - start)) s)"
    bad=
    for src in $(dfq "$DF" "[$FINAL | select(.cmd==\"COPY\" and .flags.from != null) | .src[]] | join(\" \")"); do
      f=$CTX/${src#"$workdir"/}
      [ -e "$f" ] || { bad+="$src (absent) "; continue; }
      if [ -f "$f" ] && [ -x "$f" ] && readelf -S "$f" 2>/dev/null | grep -q '\.debug_info'; then
        bad+="$src (not stripped) "
      fi
    done
    if [ -z "$bad" ]; then
      pass "container/build/every COPY --from=build source is produced; the binaries carry no debug info"
    else
      fail "container/build/every COPY --from=build source is produced, stripped" "$bad"
    fi
    for b in stated statectl stackgen; do
      [ -x "$CTX/build/bin/$b" ] || continue
      printf '%s %s\n' "$b" "$(stat -c %s "$CTX/build/bin/$b")"
    done >"$W/sizes"
    echo "  stripped binary sizes (bytes): $(tr '\n' ' ' <"$W/sizes")"
  else
    fail "container/build/the build stage's RUN on the filtered context succeeds" "$(tail -n 3 "$W/replay.log" | tr '\n' ' ')"
  fi
fi
# The HEALTHCHECK runs with the binaries the replay built when there are some.
HC_BIN=$BIN
[ -x "${CTX:-/nonexistent}/build/bin/statectl" ] && HC_BIN=$CTX/build/bin

# ------------------------------------------------------------------ statectl health, live

# health_run NAME WANT-EXIT GREP CMD...: runs CMD (at most 20 s), checks exit and output.
health_run() {
  local name=$1 want=$2 pat=$3 rc
  shift 3
  timeout 20 "$@" >"$W/h.out" 2>"$W/h.err"
  rc=$?
  if [ "$rc" = "$want" ] && grep -qE -- "$pat" "$W/h.out" "$W/h.err"; then
    pass "$name"
  else
    fail "$name" "exit $rc (want $want), output: $(cat "$W/h.out" "$W/h.err" | tr '\n' ' ' | cut -c1-300)"
  fi
}

unset STATECTL_TOKEN STATECTL_URL
if ! stated_start embedded; then
  fail container/health/start "stated did not start"
else
  U=$STATED_URL
  health_run "container/health/up: exit 0, no token needed" 0 ": ok$" "$SC" --url "$U" health
  health_run "container/health/--deep: storage, locks and audit reached" 0 ": ok: storage dir, locks embedded, audit jsonl$" "$SC" --url "$U" health --deep
  health_run "container/health/--output json is stated's document" 0 '"status": "ok"' "$SC" --url "$U" --output json health --deep
  # A deep check sees what a shallow one cannot: the data dir gone while the loop serves.
  mv "$STATED_DATA/data" "$STATED_DATA/data.away"
  health_run "container/health/--deep with the data dir gone: exit 1, INFRA_006 503" 1 "INFRA_006: HTTP 503: health check failed" "$SC" --url "$U" health --deep
  health_run "container/health/shallow with the data dir gone: still 0 (the process serves)" 0 ": ok$" "$SC" --url "$U" health
  mv "$STATED_DATA/data.away" "$STATED_DATA/data"
  health_run "container/health/--deep after the data dir is back: 0" 0 ": ok: storage dir" "$SC" --url "$U" health --deep

  # The Dockerfile's own HEALTHCHECK command with the image's environment, STATED_LISTEN on
  # this stated's port, /usr/local/bin replaced by the built binaries.
  hc=$(healthcheck_cmd "$DF")
  if [ -z "$hc" ]; then
    fail container/healthcheck/extract "no HEALTHCHECK in the Dockerfile"
  else
    hc=${hc//\/usr\/local\/bin\//$HC_BIN/}
    envs=()
    while IFS='=' read -r k v; do envs+=("$k=$v"); done < <(dfq "$DF" "$FINAL | select(.cmd==\"ENV\") | .pairs | to_entries[] | \"\(.key)=\(.value)\"")
    listen=$(printf '%s\n' "${envs[@]}" | sed -n 's/^STATED_LISTEN=//p')
    health_run "container/healthcheck/the Dockerfile's HEALTHCHECK passes against stated (${hc:0:60}...)" 0 ": ok$" \
      env "${envs[@]}" "STATED_LISTEN=${listen%:*}:$STATED_PORT" sh -c "$hc"
    closed=$(free_port)
    health_run "container/healthcheck/fails (exit 1) when STATED_LISTEN names a closed port" 1 "INFRA_006: cannot reach" \
      env "${envs[@]}" "STATED_LISTEN=${listen%:*}:$closed" sh -c "$hc"
  fi

  # Accepted but never answered: the probe gives up at --timeout.
  silent=$(free_port)
  python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); print("up", flush=True)
conns=[]
end=time.time()+30
while time.time() < end:
    s.settimeout(max(0.1, end-time.time())); 
    try: conns.append(s.accept()[0])
    except OSError: pass' "$silent" >"$W/silent.out" &
  SILENT_PID=$!
  for _ in $(seq 1 50); do grep -q up "$W/silent.out" 2>/dev/null && break; sleep 0.1; done
  t0=$SECONDS
  health_run "container/health/a server that never answers: exit 5 at --timeout 1s" 5 "INFRA_006: cannot reach .*[Tt]imeout" "$SC" --url "http://127.0.0.1:$silent" health --timeout 1s
  [ $((SECONDS - t0)) -le 4 ] && pass "container/health/--timeout 1s ends the probe within 4 s" ||
    fail "container/health/--timeout 1s ends the probe within 4 s" "took $((SECONDS - t0)) s"
  kill "$SILENT_PID" 2>/dev/null
  wait "$SILENT_PID" 2>/dev/null
  SILENT_PID=

  stated_stop
  health_run "container/health/stated stopped: exit 5, INFRA_006 cannot reach" 5 "INFRA_006: cannot reach $U" "$SC" --url "$U" health
  health_run "container/health/--deep, stated stopped: exit 5" 5 "INFRA_006: cannot reach" "$SC" --url "$U" health --deep
  if [ -n "${hc:-}" ]; then
    health_run "container/healthcheck/the Dockerfile's HEALTHCHECK fails (exit 1) once stated is stopped" 1 "INFRA_006" \
      env "${envs[@]}" "STATED_LISTEN=${listen%:*}:$STATED_PORT" sh -c "$hc"
  fi
  stated_cleanup
fi

# ------------------------------------------------------------------ docker-compose.yml

compose_results() { # FILE: PASS/FAIL lines from inspect.py compose-check
  local status name why
  if ! python3 "$INSPECT" compose-check "$1" "$TOP/docs/container.md" >"$W/compose.res" 2>"$W/compose.err"; then
    fail container/compose/check "$(tail -n 2 "$W/compose.err" | tr '\n' ' ')"
  fi
  while IFS=$'\t' read -r status name why; do
    if [ "$status" = ok ]; then pass "container/$name"; else fail "container/$name" "$why"; fi
  done <"$W/compose.res"
}
# compose_rejects NAME SED-EXPR GREP: the check named GREP fails on the edited copy.
compose_rejects() {
  sed -e "$2" "$COMPOSE" >"$W/compose.mutant.yml"
  if cmp -s "$COMPOSE" "$W/compose.mutant.yml"; then
    fail "container/compose/$1" "the edit changed nothing"
  elif python3 "$INSPECT" compose-check "$W/compose.mutant.yml" "$TOP/docs/container.md" 2>&1 | grep -P "^fail\t" | grep -q -- "$3"; then
    pass "container/compose/$1"
  else
    fail "container/compose/$1" "accepted"
  fi
}

if ! python3 -c 'import yaml' 2>/dev/null; then
  skip container/compose "python3-yaml not installed (apt-get install python3-yaml)"
else
  compose_results "$COMPOSE"
  img=$(python3 "$INSPECT" compose-get "$COMPOSE" stated image)
  expect_eq "container/compose/stated's image tag is the release (common/version.h)" "$img" "stated:$VERSION"
  compose_rejects "rejects a port published on every address" 's/"127.0.0.1:8080:8080"/"8080:8080"/' 'ports published'
  compose_rejects "rejects an inline password" 's/POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?[^}]*}/POSTGRES_PASSWORD: hunter2/' 'no inline secrets'
  compose_rejects "rejects a password with a default" 's/${STATED_ADMIN_TOKEN:?[^}]*}/${STATED_ADMIN_TOKEN:-changeme}/' 'no inline secrets'
  compose_rejects "rejects a literal key" 's/S3_ENDPOINT: http:\/\/s3:8333/S3_ENDPOINT: http:\/\/s3:8333\n      X_KEY_ID: K8C09F221C93178573C08078F/' 'no inline secrets'
  compose_rejects "rejects a missing healthcheck" '/test: \["CMD", "pg_isready"/d' 'healthchecks on'
  compose_rejects "rejects stated starting before the bucket exists" 's/condition: service_completed_successfully/condition: service_started/' 'start order'

  # With Ceph RGW and PostgreSQL up: the s3-init script and stated's settings, from the file.
  if [ -z "${S3_ENDPOINT:-}" ] || [ -z "${PG_CONNINFO:-}" ]; then
    skip container/compose/live "needs Ceph RGW and PostgreSQL (S3_ENDPOINT, PG_CONNINFO: tests/run-all.sh starts them)"
  else
    bucket=compose-$(date +%s)$RANDOM
    # compose_env SERVICE: the service's environment from the file, with the test's secrets
    # standing in for .env, into the array CENV.
    compose_env() {
      mapfile -d '' -t CENV < <(S3_ACCESS_KEY=$S3_KEY S3_SECRET_KEY=$S3_SECRET S3_BUCKET=$bucket \
        POSTGRES_PASSWORD=unused STATED_ADMIN_TOKEN=$ADMIN_TOKEN python3 "$INSPECT" compose-env "$COMPOSE" "$1")
    }
    # compose_cmd SERVICE KEY...: a command list of the file as one /bin/sh command line.
    compose_cmd() {
      local -a c
      mapfile -t c < <(python3 "$INSPECT" compose-get "$COMPOSE" "$@")
      case ${c[0]:-} in
        CMD-SHELL) printf '%s\n' "${c[@]:1}" ;;
        CMD) printf '%q ' "${c[@]:1}" ;;
        *) printf '%s\n' "${c[@]}" ;;
      esac
    }
    ADMIN_TOKEN=admintoken-$RANDOM$RANDOM$RANDOM
    init=$(compose_cmd s3-init command)
    compose_env s3-init
    # Only the file's environment reaches the script and stated (env -i), with the service host
    # names replaced by the local RGW and database.
    run_init() { env -i PATH="$PATH" "${CENV[@]}" S3_ENDPOINT="$S3_ENDPOINT" "$@" timeout 30 sh -c "$init"; }
    out=$(run_init 2>&1)
    expect_eq "container/compose/s3-init creates the bucket on RGW" "$out" "bucket $bucket created"
    out=$(run_init 2>&1)
    expect_eq "container/compose/s3-init run again finds it" "$out" "bucket $bucket exists"
    if out=$(run_init AWS_SECRET_ACCESS_KEY=wrong-secret 2>&1); then
      fail "container/compose/s3-init with a wrong secret fails" "exit 0: $out"
    else
      case $out in *"HTTP 403"*) pass "container/compose/s3-init with a wrong secret fails (HTTP 403)" ;;
        *) fail "container/compose/s3-init with a wrong secret fails with HTTP 403" "$out" ;; esac
    fi

    compose_env stated
    STATED_DATA=$(mktemp -d /tmp/stated-test.XXXXXX)
    STATED_LOG=$STATED_DATA/stated.log
    STATED_PORT=$(free_port)
    STATED_URL=http://127.0.0.1:$STATED_PORT
    env -i PATH="$PATH" "${CENV[@]}" STATED_S3_ENDPOINT="$S3_ENDPOINT" STATED_LOCKS="$(new_pg_db)" \
      "$BIN/stated" --listen "127.0.0.1:$STATED_PORT" --data-dir "$STATED_DATA/data" \
      --failed-logins-per-minute 0 >>"$STATED_LOG" 2>&1 &
    STATED_PID=$!
    for _ in $(seq 1 200); do
      curl -s -o /dev/null --max-time 1 "$STATED_URL/healthz" && break
      kill -0 "$STATED_PID" 2>/dev/null || break
      sleep 0.05
    done
    if curl -s -o /dev/null --max-time 1 "$STATED_URL/healthz"; then
      hc=$(compose_cmd stated healthcheck test)
      hc=${hc//\/usr\/local\/bin\//$BIN/}
      health_run "container/compose/stated with only the file's environment: its healthcheck passes, storage s3, locks and audit in PostgreSQL" \
        0 ": ok: storage s3, locks postgres, audit postgres$" env STATED_LISTEN="0.0.0.0:$STATED_PORT" sh -c "$hc"
      printf '{"version":4,"serial":1,"lineage":"compose","outputs":{},"resources":[]}' >"$W/state.json"
      st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "ci:$ADMIN_TOKEN" --data-binary "@$W/state.json" "$STATED_URL/v1/states/laptop/demo")
      got=$(curl -s --max-time 10 -u "ci:$ADMIN_TOKEN" "$STATED_URL/v1/states/laptop/demo")
      listing=$(curl -s --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
        -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d ' ' -f 1)" "$S3_ENDPOINT/$bucket?list-type=2")
      if [ "$st" = 200 ] && [ "$got" = "$(cat "$W/state.json")" ] && echo "$listing" | grep -q '<Key>[^<]*laptop/demo'; then
        pass "container/compose/a state written with the file's admin token lands in the file's bucket"
      else
        fail "container/compose/a state written with the file's admin token lands in the file's bucket" "POST $st, GET '${got:0:80}', listing ${listing:0:200}"
      fi
    else
      fail "container/compose/stated starts with only the file's environment" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    fi
    stated_cleanup
  fi
fi

t_done
