# tests/protocol/cases.sh: the conformance cases of the http backend protocol (C1-C22), as
# black-box exchanges with a running stated. Sourced by tests/suites/20-protocol.sh after
# tests/protocol/lib.sh. Every function takes the check-name prefix as $1 and uses $P_LAYOUT for
# how locks are taken, so each case runs once per layout. State names carry the layout so the
# layouts never share a state.

# C1-C4: plain reads and writes, no lock.
cases_rw() {
  local t=$1 n="rw-$P_LAYOUT" lin
  lin=$(new_id)

  req GET "/v1/states/$n/never-written"
  expect_code "$t/C1 GET unknown state is 404" 404

  mkstate "$P_TMP/c2" 1 "$lin"
  post_state "/v1/states/$n/c2" "$P_TMP/c2"
  expect_code "$t/C2 POST with valid Content-MD5" 200
  fetch "$n/c2" "$P_TMP/c2.got"
  if [ "$CODE" = 200 ] && cmp -s "$P_TMP/c2" "$P_TMP/c2.got"; then
    pass "$t/C2 GET returns identical bytes"
  else
    fail "$t/C2 GET returns identical bytes" "HTTP $CODE, $(stat -c %s "$P_TMP/c2.got") bytes vs $(stat -c %s "$P_TMP/c2")"
  fi
  # A Content-MD5 on a GET answer is decoded by the clients: if present it must be right.
  local md5
  md5=$(grep -i '^content-md5:' "$RESP_H" | head -n 1 | cut -d: -f2- | tr -d ' \r')
  if [ -z "$md5" ] || [ "$md5" = "$(md5_b64 "$P_TMP/c2")" ]; then
    pass "$t/C2 GET Content-MD5 absent or correct"
  else
    fail "$t/C2 GET Content-MD5 absent or correct" "header '$md5'"
  fi

  # C3: PUT twice with identical bytes: both 200, one snapshot only.
  mkstate "$P_TMP/c3" 5 "$lin"
  local before after
  before=$(snapshot_count "$n/c3") || before=
  put_state "/v1/states/$n/c3" "$P_TMP/c3"
  expect_code "$t/C3 PUT" 200
  put_state "/v1/states/$n/c3" "$P_TMP/c3"
  expect_code "$t/C3 identical PUT again" 200
  if same_state "$n/c3" "$P_TMP/c3"; then pass "$t/C3 GET after PUT identical"; else fail "$t/C3 GET after PUT identical" "HTTP $CODE"; fi
  after=$(snapshot_count "$n/c3") || after=
  if [ -z "$before" ] || [ -z "$after" ]; then
    skip "$t/C3 one snapshot for two identical PUTs" "cannot list snapshots in this mode (no /usr/bin/aws)"
  else
    expect_eq "$t/C3 one snapshot for two identical PUTs" "$((after - before))" 1
  fi

  # Chunked request body on POST (clients behind proxies, curl users).
  mkstate "$P_TMP/chunked" 7 "$lin" 3000
  req POST "/v1/states/$n/chunked" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
    -H "Content-MD5: $(md5_b64 "$P_TMP/chunked")" --data-binary "@$P_TMP/chunked"
  expect_code "$t/chunked POST body accepted" 200
  if same_state "$n/chunked" "$P_TMP/chunked"; then pass "$t/chunked POST stored verbatim"; else fail "$t/chunked POST stored verbatim" "HTTP $CODE"; fi

  # A larger state (2 MB) round trip.
  mkstate "$P_TMP/big" 8 "$lin" 2000000
  post_state "/v1/states/$n/big" "$P_TMP/big"
  expect_code "$t/POST 2 MB state" 200
  if same_state "$n/big" "$P_TMP/big"; then pass "$t/GET 2 MB state identical"; else fail "$t/GET 2 MB state identical" "HTTP $CODE"; fi

  # C4: DELETE then GET.
  req DELETE "/v1/states/$n/c2"
  expect_code "$t/C4 DELETE" 200
  req GET "/v1/states/$n/c2"
  expect_code "$t/C4 GET after DELETE is 404" 404

  # C21: an OpenTofu-encrypted envelope is stored and returned verbatim.
  printf '{"serial":3,"lineage":"%s","meta":{"key_provider.pbkdf2.k":"eyJzYWx0IjoiQUFBQSIsIml0ZXJhdGlvbnMiOjYwMDAwMH0="},"encrypted_data":"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=","encryption_version":"v0"}' \
    "$lin" >"$P_TMP/c21"
  post_state "/v1/states/$n/c21" "$P_TMP/c21"
  expect_code "$t/C21 POST encrypted envelope" 200
  if same_state "$n/c21" "$P_TMP/c21"; then pass "$t/C21 encrypted envelope returned verbatim"; else fail "$t/C21 encrypted envelope returned verbatim" "HTTP $CODE"; fi
}

# C5-C15: locks, in the order a pair of real clients produce them.
cases_locks() {
  local t=$1 n="locks-$P_LAYOUT/s" lin A B C
  lin=$(new_id)
  A=$(new_id) B=$(new_id) C=$(new_id)
  mklock "$P_TMP/lockA" "$A" "alice@host-a" OperationTypeApply
  mklock "$P_TMP/lockB" "$B" "bob@host-b" OperationTypePlan
  mklock "$P_TMP/lockC" "$C" "carol@host-c" state-push
  mkstate "$P_TMP/s1" 1 "$lin"
  post_state "/v1/states/$n" "$P_TMP/s1"
  expect_code "$t/setup POST state" 200

  do_lock "$n" "$P_TMP/lockA"
  expect_code "$t/C5 LOCK A" 200

  do_lock "$n" "$P_TMP/lockB"
  expect_code "$t/C6 LOCK B while A holds is 423" 423
  local id who op created
  id=$(json_field "$RESP" ID) who=$(json_field "$RESP" Who) op=$(json_field "$RESP" Operation)
  created=$(json_field "$RESP" Created)
  expect_eq "$t/C6 conflict body ID is A's" "$id" "$A"
  expect_eq "$t/C6 conflict body Who is A's" "$who" "alice@host-a"
  expect_eq "$t/C6 conflict body Operation is A's" "$op" OperationTypeApply
  if [[ $created =~ $RFC3339_RE ]]; then pass "$t/C6 conflict body Created is RFC 3339"; else fail "$t/C6 conflict body Created is RFC 3339" "'$created'"; fi

  do_lock "$n" "$P_TMP/lockA"
  expect_code "$t/C7 LOCK A again (retry) is 200" 200

  mkstate "$P_TMP/s2" 2 "$lin"
  post_state "/v1/states/$n?ID=$A" "$P_TMP/s2"
  expect_code "$t/C8 POST ?ID=A while A holds" 200
  if same_state "$n" "$P_TMP/s2"; then pass "$t/C8 state written"; else fail "$t/C8 state written" "HTTP $CODE"; fi

  mkstate "$P_TMP/s3" 3 "$lin"
  post_state "/v1/states/$n?ID=$B" "$P_TMP/s3"
  expect_code "$t/C9 POST ?ID=B while A holds is 423" 423
  post_state "/v1/states/$n" "$P_TMP/s3"
  expect_code "$t/C9 POST without ID while A holds is 423" 423
  put_state "/v1/states/$n" "$P_TMP/s3"
  expect_code "$t/C9 PUT without ID while A holds is 423" 423
  req DELETE "/v1/states/$n"
  expect_code "$t/C9 DELETE while A holds is refused" 409 423
  if same_state "$n" "$P_TMP/s2"; then pass "$t/C9 state unchanged by refused writes"; else fail "$t/C9 state unchanged by refused writes" "HTTP $CODE"; fi

  do_unlock "$n" "$P_TMP/lockA"
  expect_code "$t/C10 UNLOCK with A's full body" 200
  do_unlock "$n" "$P_TMP/lockA"
  expect_code "$t/C11 UNLOCK again (nothing held) is 200" 200

  post_state "/v1/states/$n?ID=$A" "$P_TMP/s3"
  expect_code "$t/POST ?ID=A after A unlocked is refused" 409 423

  # C12: OpenTofu force-unlock body.
  do_lock "$n" "$P_TMP/lockB"
  expect_code "$t/C12 LOCK B" 200
  mkforce "$P_TMP/forceB" "$B"
  do_unlock "$n" "$P_TMP/forceB"
  expect_code "$t/C12 UNLOCK with OpenTofu force-unlock body" 200
  do_lock "$n" "$P_TMP/lockC"
  expect_code "$t/C12 lock is free afterwards" 200
  do_unlock "$n" "$P_TMP/lockC"
  expect_code "$t/C12 cleanup UNLOCK C" 200

  # C13: wrong ID.
  do_lock "$n" "$P_TMP/lockB"
  expect_code "$t/C13 LOCK B" 200
  do_unlock "$n" "$P_TMP/lockC"
  expect_code "$t/C13 UNLOCK with a wrong ID is 423" 423
  expect_eq "$t/C13 body carries B's ID" "$(json_field "$RESP" ID)" "$B"
  expect_eq "$t/C13 body carries B's Who" "$(json_field "$RESP" Who)" "bob@host-b"
  mkforce "$P_TMP/forceC" "$C"
  do_unlock "$n" "$P_TMP/forceC"
  expect_code "$t/C13 force-unlock body with a wrong ID is 423" 423
  do_lock "$n" "$P_TMP/lockC"
  expect_code "$t/C13 B still holds after wrong UNLOCKs" 423

  # C14: Terraform force-unlock (empty body), both framings.
  do_unlock "$n" --chunked-empty
  expect_code "$t/C14(i) UNLOCK with empty chunked body releases" 200
  do_lock "$n" "$P_TMP/lockC"
  expect_code "$t/C14(i) lock is free afterwards" 200
  do_unlock "$n" --no-body
  expect_code "$t/C14(ii) UNLOCK with no body releases" 200
  do_lock "$n" "$P_TMP/lockA"
  expect_code "$t/C14(ii) lock is free afterwards" 200

  # C15: B polls like -lock-timeout (backoff); every conflict names the holder.
  local i ok=1 ids=
  for i in 1 2 3 4; do
    do_lock "$n" "$P_TMP/lockB"
    if [ "$CODE" != 423 ] || [ -z "$(json_field "$RESP" ID)" ]; then
      ok=0 ids="$ids try $i: HTTP $CODE ID '$(json_field "$RESP" ID)';"
    fi
    sleep "0.$i"
  done
  if [ $ok = 1 ]; then pass "$t/C15 every conflict carries a non-empty ID"; else fail "$t/C15 every conflict carries a non-empty ID" "$ids"; fi
  do_unlock "$n" "$P_TMP/lockA"
  expect_code "$t/C15 holder unlocks" 200
  do_lock "$n" "$P_TMP/lockB"
  expect_code "$t/C15 next LOCK after UNLOCK is 200" 200
  do_unlock "$n" "$P_TMP/lockB"
  expect_code "$t/C15 cleanup" 200

  # Racing LOCKs from many clients on a free state: exactly one wins, every loser is told the
  # winner's ID.
  local race="locks-$P_LAYOUT/race" i winners=0 losers=0 bad= winner_id=
  for i in $(seq 1 10); do
    mklock "$P_TMP/race$i" "race-$i-$(new_id)" "racer$i@ci" OperationTypeApply
  done
  local pids=()
  for i in $(seq 1 10); do
    curl -s --max-time 15 "${P_CURL_TLS[@]}" -o "$P_TMP/race$i.out" -w '%{http_code}' -X "$(lock_method)" \
      "${P_AUTH[@]}" -H 'Content-Type: application/json' --data-binary "@$P_TMP/race$i" \
      "$STATED_URL$(lock_path "$race")" >"$P_TMP/race$i.code" &
    pids+=($!)
  done
  wait "${pids[@]}" # not a bare wait: stated itself is a child of this shell
  for i in $(seq 1 10); do
    case $(cat "$P_TMP/race$i.code") in
      200) winners=$((winners + 1)) winner_id=$(json_field "$P_TMP/race$i" ID) ;;
      423) losers=$((losers + 1)) ;;
      *) bad="$bad $i:$(cat "$P_TMP/race$i.code")" ;;
    esac
  done
  if [ $winners = 1 ] && [ $losers = 9 ]; then pass "$t/10 racing LOCKs: one 200, nine 423"; else fail "$t/10 racing LOCKs: one 200, nine 423" "$winners won, $losers lost, other:$bad"; fi
  bad=
  for i in $(seq 1 10); do
    if [ "$(cat "$P_TMP/race$i.code")" = 423 ] && [ "$(json_field "$P_TMP/race$i.out" ID)" != "$winner_id" ]; then
      bad="$bad $i"
    fi
  done
  if [ -z "$bad" ]; then pass "$t/racing LOCKs: every 423 names the winner"; else fail "$t/racing LOCKs: every 423 names the winner" "losers$bad saw another ID"; fi
  for i in $(seq 1 10); do
    [ "$(cat "$P_TMP/race$i.code")" = 200 ] && do_unlock "$race" "$P_TMP/race$i"
  done

  # C20: the address has its own query; the client re-encodes it with the ID, keys sorted.
  local m="locks-$P_LAYOUT/c20"
  mkstate "$P_TMP/c20a" 1 "$lin"
  post_state "/v1/states/$m?a=1&b=x/y" "$P_TMP/c20a"
  expect_code "$t/C20 POST with the address query" 200
  do_lock "$m" "$P_TMP/lockA" "?a=1&b=x/y"
  expect_code "$t/C20 LOCK with the address query" 200
  mkstate "$P_TMP/c20b" 2 "$lin"
  post_state "/v1/states/$m?ID=$A&a=1&b=x%2Fy" "$P_TMP/c20b"
  expect_code "$t/C20 POST ?ID=…&a=1&b=x%2Fy (url.Values.Encode order)" 200
  req GET "/v1/states/$m?a=1&b=x/y"
  if [ "$CODE" = 200 ] && cmp -s "$RESP" "$P_TMP/c20b"; then pass "$t/C20 GET with the query sees the write"; else fail "$t/C20 GET with the query sees the write" "HTTP $CODE"; fi
  if same_state "$m" "$P_TMP/c20b"; then pass "$t/C20 same state as without the query"; else fail "$t/C20 same state as without the query" "HTTP $CODE"; fi
  do_unlock "$m" "$P_TMP/lockA"
  expect_code "$t/C20 UNLOCK" 200
}

# C14 with --no-force-unlock: empty and ID-only unlocks are refused, the lock stays.
cases_no_force() {
  local t=$1 n="noforce-$P_LAYOUT/s" B C
  B=$(new_id) C=$(new_id)
  mklock "$P_TMP/nfB" "$B" "bob@host-b" OperationTypeApply
  mklock "$P_TMP/nfC" "$C" "carol@host-c" OperationTypeApply
  do_lock "$n" "$P_TMP/nfB"
  expect_code "$t/C14 LOCK B" 200
  do_unlock "$n" --chunked-empty
  expect_code "$t/C14(i) empty chunked UNLOCK refused with --no-force-unlock" 423
  do_unlock "$n" --no-body
  expect_code "$t/C14(ii) body-less UNLOCK refused with --no-force-unlock" 423
  do_lock "$n" "$P_TMP/nfC"
  expect_code "$t/C14 B still holds" 423
  expect_eq "$t/C14 refusal names B" "$(json_field "$RESP" ID)" "$B"
  do_unlock "$n" "$P_TMP/nfB"
  expect_code "$t/C14 B's own UNLOCK still works" 200

  # OpenTofu's force-unlock (only the ID, zero fields) is a force-unlock too.
  local m="noforce-$P_LAYOUT/ot"
  do_lock "$m" "$P_TMP/nfB"
  expect_code "$t/C12 LOCK B" 200
  mkforce "$P_TMP/nfForceB" "$B"
  do_unlock "$m" "$P_TMP/nfForceB"
  expect_code "$t/C12 OpenTofu force-unlock body (ID only) refused with --no-force-unlock" 423
  do_lock "$m" "$P_TMP/nfC"
  expect_code "$t/C12 B still holds after the refused force-unlock" 423
  do_unlock "$m" "$P_TMP/nfC" # only matters when the force-unlock wrongly released B
  do_unlock "$m" "$P_TMP/nfB"
  expect_code "$t/C12 cleanup: B's own UNLOCK" 200
}

# C18: bodies over --max-state-bytes (the suite starts stated with 65536).
cases_limit() {
  local t=$1 n="limit-$P_LAYOUT/s" lin
  lin=$(new_id)
  mkstate "$P_TMP/small" 1 "$lin" 30000
  post_state "/v1/states/$n" "$P_TMP/small"
  expect_code "$t/C18 state under the limit accepted" 200
  mkstate "$P_TMP/huge" 2 "$lin" 100000
  post_state "/v1/states/$n" "$P_TMP/huge"
  expect_error "$t/C18 body over --max-state-bytes is 413" 413 INFRA_002
  req POST "/v1/states/$n" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
    --data-binary "@$P_TMP/huge"
  expect_error "$t/C18 chunked body over the limit is 413" 413 INFRA_002
  if same_state "$n" "$P_TMP/small"; then pass "$t/C18 state unchanged"; else fail "$t/C18 state unchanged" "HTTP $CODE"; fi
}

# C16: authentication and authorisation on every method. Tokens come from the suite's token
# file: $RO_TOKEN (role read, every state) and $SCOPED_TOKEN (role write, pattern allowed/*).
cases_auth() {
  local t=$1 n="auth-$P_LAYOUT" lin A
  lin=$(new_id)
  A=$(new_id)
  mkstate "$P_TMP/auth0" 1 "$lin"
  mkstate "$P_TMP/auth1" 2 "$lin"
  mklock "$P_TMP/authA" "$A" "mallory@host" OperationTypeApply
  post_state "/v1/states/$n" "$P_TMP/auth0"
  expect_code "$t/C16 setup" 200
  local md5
  md5=$(md5_b64 "$P_TMP/auth1")
  local body=(-H 'Content-Type: application/json' -H "Content-MD5: $md5" --data-binary "@$P_TMP/auth1")
  local lbody=(-H 'Content-Type: application/json' --data-binary "@$P_TMP/authA")
  # method, path, body args name
  local -a calls=(
    "GET /v1/states/$n -"
    "POST /v1/states/$n state"
    "PUT /v1/states/$n state"
    "DELETE /v1/states/$n -"
    "LOCK /v1/states/$n lock"
    "UNLOCK /v1/states/$n lock"
    "LOCK /v1/states/$n/lock lock"
    "UNLOCK /v1/states/$n/lock lock"
    "POST /v1/states/$n/lock lock"
    "DELETE /v1/states/$n/lock -"
  )
  local c m p b args who bad
  for who in missing wrong-basic wrong-bearer basic-no-password; do
    bad=
    for c in "${calls[@]}"; do
      read -r m p b <<<"$c"
      args=()
      [ "$b" = state ] && args=("${body[@]}")
      [ "$b" = lock ] && args=("${lbody[@]}")
      case $who in
        missing) req_noauth "$m" "$p" "${args[@]}" ;;
        wrong-basic) req_noauth "$m" "$p" -u "admin:not-a-token-$RANDOM" "${args[@]}" ;;
        wrong-bearer) req_noauth "$m" "$p" -H "Authorization: Bearer not-a-token-$RANDOM" "${args[@]}" ;;
        basic-no-password) req_noauth "$m" "$p" -u "admin:" "${args[@]}" ;;
      esac
      if [ "$CODE" != 401 ] || ! is_json_error "$RESP" INFRA_003; then bad="$bad $m $p: $CODE;"; fi
    done
    if [ -z "$bad" ]; then pass "$t/C16 $who credentials: 401 INFRA_003 on every method"; else fail "$t/C16 $who credentials: 401 INFRA_003 on every method" "$bad"; fi
  done

  # Read-only token: reads work, every change is 403.
  req_noauth GET "/v1/states/$n" -u "reader:$RO_TOKEN"
  expect_code "$t/C16 read token may GET" 200
  req_noauth GET "/v1/states/$n" -H "Authorization: Bearer $RO_TOKEN"
  expect_code "$t/C16 read token may GET with Bearer" 200
  bad=
  for c in "${calls[@]:1}"; do
    read -r m p b <<<"$c"
    args=()
    [ "$b" = state ] && args=("${body[@]}")
    [ "$b" = lock ] && args=("${lbody[@]}")
    req_noauth "$m" "$p" -u "reader:$RO_TOKEN" "${args[@]}"
    if [ "$CODE" != 403 ] || ! is_json_error "$RESP" INFRA_003; then bad="$bad $m $p: $CODE;"; fi
  done
  if [ -z "$bad" ]; then pass "$t/C16 read token: 403 INFRA_003 on every change"; else fail "$t/C16 read token: 403 INFRA_003 on every change" "$bad"; fi

  # Token whose pattern does not cover the state: 403 on every method, reads included.
  bad=
  for c in "${calls[@]}"; do
    read -r m p b <<<"$c"
    args=()
    [ "$b" = state ] && args=("${body[@]}")
    [ "$b" = lock ] && args=("${lbody[@]}")
    req_noauth "$m" "$p" -H "Authorization: Bearer $SCOPED_TOKEN" "${args[@]}"
    if [ "$CODE" != 403 ] || ! is_json_error "$RESP" INFRA_003; then bad="$bad $m $p: $CODE;"; fi
  done
  if [ -z "$bad" ]; then pass "$t/C16 out-of-pattern token: 403 on every method"; else fail "$t/C16 out-of-pattern token: 403 on every method" "$bad"; fi
  # ... while it works inside its pattern (so the 403s above are about the pattern).
  mkstate "$P_TMP/auth2" 1 "$lin"
  req_noauth POST "/v1/states/allowed/$n" -u "ci:$SCOPED_TOKEN" -H 'Content-Type: application/json' \
    -H "Content-MD5: $(md5_b64 "$P_TMP/auth2")" --data-binary "@$P_TMP/auth2"
  expect_code "$t/C16 scoped token may write inside its pattern" 200

  if same_state "$n" "$P_TMP/auth0"; then pass "$t/C16 state unchanged by refused requests"; else fail "$t/C16 state unchanged by refused requests" "HTTP $CODE"; fi
  do_lock "$n" "$P_TMP/authA"
  expect_code "$t/C16 no lock left behind by refused requests" 200
  do_unlock "$n" "$P_TMP/authA"
}

# C17 and malformed input: each refused with its status and a JSON error, nothing changes.
cases_bad_input() {
  local t=$1 n="bad-$P_LAYOUT/s" lin snaps
  lin=$(new_id)
  mklock "$P_TMP/lockZ" "$(new_id)" z@z OperationTypeApply
  mkstate "$P_TMP/good" 4 "$lin"
  post_state "/v1/states/$n" "$P_TMP/good"
  expect_code "$t/bad input setup" 200
  snaps=$(snapshot_count "$n") || snaps=

  mkstate "$P_TMP/next" 5 "$lin"
  req POST "/v1/states/$n" -H 'Content-Type: application/json' -H 'Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==' \
    --data-binary "@$P_TMP/next"
  expect_error "$t/C17 wrong Content-MD5 is 400" 400 INFRA_001
  req POST "/v1/states/$n" -H 'Content-Type: application/json' -H 'Content-MD5: not*base64!' \
    --data-binary "@$P_TMP/next"
  expect_error "$t/C17 undecodable Content-MD5 is 400" 400 INFRA_001
  req PUT "/v1/states/$n" -H 'Content-Type: application/json' -H "Content-MD5: $(printf x | openssl md5 -binary | base64)" \
    --data-binary "@$P_TMP/next"
  expect_error "$t/C17 wrong Content-MD5 on PUT is 400" 400 INFRA_001

  local body
  printf '{"version":4,"serial":5,' >"$P_TMP/b1"
  printf '{"version":4,"terraform_version":"1.11.4"}' >"$P_TMP/b2"
  printf '{"version":4,"serial":"5","lineage":"%s"}' "$lin" >"$P_TMP/b3"
  printf '{"version":4,"serial":5,"lineage":7}' >"$P_TMP/b4"
  printf '[{"serial":5,"lineage":"%s"}]' "$lin" >"$P_TMP/b5"
  printf '{"version":4,"serial":5}' >"$P_TMP/b6"
  printf '{"version":4,"lineage":"%s"}' "$lin" >"$P_TMP/b7"
  printf '\xff\xfe{"serial":5}' >"$P_TMP/b8"
  for body in "b1 malformed JSON" "b2 JSON without serial and lineage" "b3 string serial" \
    "b4 numeric lineage" "b5 JSON array" "b6 no lineage" "b7 no serial" "b8 binary garbage"; do
    post_state "/v1/states/$n" "$P_TMP/${body%% *}"
    expect_error "$t/body ${body#* }: 400" 400 INFRA_001
  done
  : >"$P_TMP/empty"
  req POST "/v1/states/$n" -H 'Content-Type: application/json'
  expect_error "$t/body empty POST: 400" 400 INFRA_001

  # Names: 1-8 segments of [A-Za-z0-9._-]{1,128}, never . or .., last never "lock".
  local long p
  long=$(head -c 129 /dev/zero | tr '\0' a)
  local -a paths=(
    "/v1/states/../etc/passwd" "/v1/states/a/../b" "/v1/states/%2e%2e/x" "/v1/states/a/%2e%2e"
    "/v1/states/a/%2E%2E/b" "/v1/states/a/./b" "/v1/states/." "/v1/states/a//b" "/v1/states//a" "/v1/states/a/"
    "/v1/states/1/2/3/4/5/6/7/8/9" "/v1/states/lock" "/v1/states/a/lock/lock" "/v1/states/a%20b"
    "/v1/states/a:b" "/v1/states/a@b" "/v1/states/a%00b" "/v1/states/$long" "/v1/states/%C3%A9t%C3%A9"
  )
  local bad_get= bad_post= objects_before objects_after
  objects_before=$(storage_objects)
  for p in "${paths[@]}"; do
    req GET "$p"
    if [ "$CODE" != 400 ] || ! is_json_error "$RESP" INFRA_001; then bad_get="$bad_get $p: $CODE;"; fi
    post_state "$p" "$P_TMP/next"
    if [ "$CODE" != 400 ] || ! is_json_error "$RESP" INFRA_001; then bad_post="$bad_post $p: $CODE;"; fi
  done
  if [ -z "$bad_get" ]; then pass "$t/bad names: GET is 400 INFRA_001"; else fail "$t/bad names: GET is 400 INFRA_001" "$bad_get"; fi
  if [ -z "$bad_post" ]; then pass "$t/bad names: POST is 400 INFRA_001"; else fail "$t/bad names: POST is 400 INFRA_001" "$bad_post"; fi
  objects_after=$(storage_objects)
  if [ "$objects_before" = "$objects_after" ]; then
    pass "$t/bad names: no object created or changed in storage"
  else
    fail "$t/bad names: no object created or changed in storage" "$(diff <(echo "$objects_before") <(echo "$objects_after") | head -n 4 | tr '\n' ' ' | cut -c1-300)"
  fi
  req "$(lock_method)" "/v1/states/a/lock/lock" -H 'Content-Type: application/json' --data-binary "@$P_TMP/lockZ"
  expect_error "$t/bad names: lock of a state named …/lock is 400" 400 INFRA_001

  # The longest valid name still works (8 segments of 128 characters).
  local seg maxname
  seg=$(head -c 128 /dev/zero | tr '\0' b)
  maxname="$seg/$seg/$seg/$seg/$seg/$seg/$seg/A.b_c-$P_LAYOUT"
  req GET "/v1/states/$maxname"
  expect_code "$t/8 segments of valid characters is a valid name (404)" 404

  req FOO "/v1/states/$n"
  expect_error "$t/unknown method FOO is 405" 405 INFRA_001
  req PATCH "/v1/states/$n" -H 'Content-Type: application/json' --data-binary "@$P_TMP/next"
  expect_error "$t/PATCH is 405" 405 INFRA_001
  req GET "/v1/states/$n/lock"
  expect_error "$t/GET on the lock URL is 405" 405 INFRA_001
  req PUT "/v1/states/$n/lock" -H 'Content-Type: application/json' --data-binary "@$P_TMP/lockZ"
  expect_error "$t/PUT on the lock URL is 405" 405 INFRA_001

  # Malformed lock bodies are 400; the state and lock stay untouched.
  printf '{"ID":' >"$P_TMP/lbad1"
  printf '{"Operation":"x"}' >"$P_TMP/lbad2"
  printf '{"ID":123}' >"$P_TMP/lbad3"
  for body in "lbad1 malformed lock JSON" "lbad2 lock without ID" "lbad3 numeric ID"; do
    do_lock "$n" "$P_TMP/${body%% *}"
    expect_error "$t/lock body ${body#* }: 400" 400 INFRA_001
  done

  if same_state "$n" "$P_TMP/good"; then pass "$t/bad input left the state unchanged"; else fail "$t/bad input left the state unchanged" "HTTP $CODE"; fi
  local after
  after=$(snapshot_count "$n") || after=
  if [ -n "$snaps" ] && [ -n "$after" ]; then
    expect_eq "$t/bad input wrote no snapshot" "$after" "$snaps"
  fi
  do_lock "$n" "$P_TMP/lockZ"
  expect_code "$t/bad input left no lock" 200
  do_unlock "$n" "$P_TMP/lockZ"
}

# C22: the connection drops after the request was sent; the client retries; the outcome equals
# the single-request outcome. Needs plain HTTP (raw TCP).
cases_chaos() {
  local t=$1 n="chaos-$P_LAYOUT/s" lin A B raw
  lin=$(new_id)
  A=$(new_id) B=$(new_id)
  raw=$P_TMP/raw
  mklock "$P_TMP/chA" "$A" "alice@host-a" OperationTypeApply
  mklock "$P_TMP/chB" "$B" "bob@host-b" OperationTypeApply
  mkstate "$P_TMP/ch1" 1 "$lin"
  mkstate "$P_TMP/ch2" 2 "$lin"
  post_state "/v1/states/$n" "$P_TMP/ch1"
  expect_code "$t/C22 setup" 200
  local lp
  lp=$(lock_path "$n")

  raw_request "$raw" "$(lock_method)" "$lp" "$P_TMP/chA"
  raw_send "$STATED_PORT" "$raw"
  sleep 0.3
  do_lock "$n" "$P_TMP/chA"
  expect_code "$t/C22 LOCK dropped then retried is 200" 200
  do_lock "$n" "$P_TMP/chB"
  expect_code "$t/C22 A holds after the retried LOCK" 423

  raw_request "$raw" POST "/v1/states/$n?ID=$A" "$P_TMP/ch2"
  raw_send "$STATED_PORT" "$raw"
  sleep 0.3
  post_state "/v1/states/$n?ID=$A" "$P_TMP/ch2"
  expect_code "$t/C22 POST dropped then retried is 200" 200
  if same_state "$n" "$P_TMP/ch2"; then pass "$t/C22 state is the retried write"; else fail "$t/C22 state is the retried write" "HTTP $CODE"; fi

  raw_request "$raw" "$(unlock_method)" "$lp" "$P_TMP/chA"
  raw_send "$STATED_PORT" "$raw"
  sleep 0.3
  do_unlock "$n" "$P_TMP/chA"
  expect_code "$t/C22 UNLOCK dropped then retried is 200" 200
  do_lock "$n" "$P_TMP/chB"
  expect_code "$t/C22 lock free after the retried UNLOCK" 200
  do_unlock "$n" "$P_TMP/chB"

  # Same with curl giving up after a few milliseconds (the request may or may not be complete).
  local i ok=1
  for i in 1 2 3 4 5; do
    curl -s -o /dev/null --max-time 0.00$i -X "$(lock_method)" -u "admin:$ADMIN_TOKEN" \
      -H 'Content-Type: application/json' --data-binary "@$P_TMP/chA" "$STATED_URL$lp" 2>/dev/null
    do_lock "$n" "$P_TMP/chA"
    [ "$CODE" = 200 ] || ok=0
    curl -s -o /dev/null --max-time 0.00$i -X "$(unlock_method)" -u "admin:$ADMIN_TOKEN" \
      -H 'Content-Type: application/json' --data-binary "@$P_TMP/chA" "$STATED_URL$lp" 2>/dev/null
    do_unlock "$n" "$P_TMP/chA"
    [ "$CODE" = 200 ] || ok=0
  done
  if [ $ok = 1 ]; then pass "$t/C22 timed-out LOCK/UNLOCK then retries all 200"; else fail "$t/C22 timed-out LOCK/UNLOCK then retries all 200" "last HTTP $CODE"; fi
}

# Lock leases (the suite starts stated with --lock-ttl 2s): a write carrying the ID renews the
# lease; an expired lease is free for the next LOCK; the expired holder's writes are refused.
cases_ttl() {
  local t=$1 n="ttl-$P_LAYOUT/s" lin A B
  lin=$(new_id)
  A=$(new_id) B=$(new_id)
  mklock "$P_TMP/ttlA" "$A" "alice@host-a" OperationTypeApply
  mklock "$P_TMP/ttlB" "$B" "bob@host-b" OperationTypeApply
  mkstate "$P_TMP/ttl1" 1 "$lin"
  mkstate "$P_TMP/ttl2" 2 "$lin"
  mkstate "$P_TMP/ttl3" 3 "$lin"
  do_lock "$n" "$P_TMP/ttlA"
  expect_code "$t/lease LOCK A (ttl 2s)" 200
  sleep 1.2
  post_state "/v1/states/$n?ID=$A" "$P_TMP/ttl1"
  expect_code "$t/lease write by A at 1.2 s renews the lease" 200
  sleep 1.2
  do_lock "$n" "$P_TMP/ttlB"
  expect_code "$t/lease still held 1.2 s after the renewal (2.4 s after LOCK)" 423
  sleep 1.5
  do_lock "$n" "$P_TMP/ttlB"
  expect_code "$t/lease expired: LOCK B takes it over" 200
  post_state "/v1/states/$n?ID=$A" "$P_TMP/ttl2"
  expect_code "$t/lease write by the expired holder A is refused" 423
  post_state "/v1/states/$n?ID=$B" "$P_TMP/ttl3"
  expect_code "$t/lease write by the new holder B" 200
  if same_state "$n" "$P_TMP/ttl3"; then pass "$t/lease state is B's write"; else fail "$t/lease state is B's write" "HTTP $CODE"; fi
  do_unlock "$n" "$P_TMP/ttlB"
  expect_code "$t/lease UNLOCK B" 200
}
