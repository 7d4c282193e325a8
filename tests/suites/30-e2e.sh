#!/bin/bash
# 30-e2e: the real terraform binary against the real stated, in every available mode.
#
# init, apply, a second apply (serial grows), a no-change plan, state pull (same bytes as GET),
# state push -force of an older state, -lock-timeout waiting for a lock another client holds,
# force-unlock of a stuck lock, terraform_remote_state, the GitLab lock layout, a wrong password,
# and HTTPS with a client certificate. Configurations use only terraform_data (no provider
# download); TF_CLI_CONFIG_FILE=/dev/null, everything in temp dirs.
#
# Run alone: tests/suites/30-e2e.sh   (E2E_MODES="embedded pg" to choose modes)
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
. "$TOP/tests/lib/tls.sh"
E2E_TMP=$(mktemp -d /tmp/stated-e2e.XXXXXX)
. "$TOP/tests/e2e/lib.sh"
trap 'stated_cleanup; rm -rf "$E2E_TMP"' EXIT

if [ ! -x "$TF" ]; then
  skip e2e "terraform not found at $TF"
  echo "!!! SKIPPED e2e: terraform not found at $TF" >&2
  t_done
  exit
fi
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || { skip e2e "$tool not found"; t_done; exit; }
done
if ! "$BIN/stated" --help >/dev/null 2>&1; then
  fail e2e "$BIN/stated --help does not run; build it with make"
  t_done
  exit
fi
TOKENS=$E2E_TMP/tokens
READ_TOKEN=read-$RANDOM$RANDOM$RANDOM
echo "reader read ** $(printf '%s' "$READ_TOKEN" | sha256sum | cut -d' ' -f1)" >"$TOKENS"

# lock_is_free NAME SUFFIX LOCKM UNLOCKM: another client can take and release the lock.
lock_is_free() {
  local id
  id=$(cat /proc/sys/kernel/random/uuid)
  [ "$(curl_lock "$3" "$1$2" "$id")" = 200 ] && [ "$(curl_lock "$4" "$1$2" "$id")" = 200 ]
}

serial_of() { jq -r '.serial' "$1" 2>/dev/null; }
value_of() { jq -r '.outputs.v.value' "$1" 2>/dev/null; }

e2e_default_layout() {
  local M=$1 t="e2e/$1" name="e2e-$1/app" d s1 s2 flags
  d=$(e2e_dir app)
  mapfile -t flags < <(backend_flags "$name" state)

  if tf "$d" init -input=false "${flags[@]}"; then pass "$t init"; else fail "$t init" "$(tf_tail)"; return; fi
  # What terraform sent, as the audit trail recorded it: init only reads.
  local seq0 seq1
  seq0=$(audit_seq "$name")
  if [[ $seq0 =~ ^(get:404\ )+$ ]]; then pass "$t init only reads (audit: $seq0)"; else fail "$t init only reads" "audit: '$seq0'"; fi
  if state_json "$name" "$E2E_TMP/none"; then fail "$t init writes no state" "GET returned 200"; else pass "$t init writes no state"; fi

  if tf "$d" apply -input=false -auto-approve -var v=one; then pass "$t apply"; else fail "$t apply" "$(tf_tail)"; fi
  # apply: LOCK, reads, one POST ?ID=, UNLOCK, in that order, all 200 (GET 404 while empty).
  seq1=$(audit_seq "$name")
  seq1=${seq1#"$seq0"}
  seq1=${seq1#get:404 } # state_json's own GET above
  if [[ $seq1 =~ ^lock:200\ (get:404\ )+write:200\ unlock:200\ $ ]]; then
    pass "$t apply sent LOCK, GET…, POST, UNLOCK (audit: $seq1)"
  else
    fail "$t apply sent LOCK, GET…, POST, UNLOCK" "audit: '$seq1'"
  fi
  local users
  users=$(audit_lines | jq -r --arg n "$name" 'select(.state == $n and .action != "get") | "\(.actor)/\(.username)"' | sort -u | tr '\n' ' ')
  expect_eq "$t audit records the token and terraform's Basic username" "$users" "admin/ci "
  local lock_ids
  lock_ids=$(audit_lines | jq -r --arg n "$name" 'select(.state == $n and (.action == "lock" or .action == "write" or .action == "unlock")) | .lock_id' | sort -u)
  if [ "$(echo "$lock_ids" | wc -l)" = 1 ] && [ -n "$lock_ids" ]; then pass "$t LOCK, POST ?ID= and UNLOCK carry one lock ID"; else fail "$t LOCK, POST ?ID= and UNLOCK carry one lock ID" "$(echo "$lock_ids" | tr '\n' ' ')"; fi
  state_json "$name" "$E2E_TMP/s1"
  s1=$(serial_of "$E2E_TMP/s1")
  expect_eq "$t apply stored the output" "$(value_of "$E2E_TMP/s1")" one
  if lock_is_free "$name" "" LOCK UNLOCK; then pass "$t apply released its lock"; else fail "$t apply released its lock" "LOCK by another client refused"; fi
  cp "$E2E_TMP/s1" "$E2E_TMP/old.tfstate"

  if tf "$d" apply -input=false -auto-approve -var v=two; then pass "$t second apply"; else fail "$t second apply" "$(tf_tail)"; fi
  state_json "$name" "$E2E_TMP/s2"
  s2=$(serial_of "$E2E_TMP/s2")
  if [[ $s1 =~ ^[0-9]+$ ]] && [[ $s2 =~ ^[0-9]+$ ]] && [ "$s2" -gt "$s1" ]; then pass "$t second apply increments serial ($s1 -> $s2)"; else fail "$t second apply increments serial" "'$s1' -> '$s2'"; fi
  expect_eq "$t second apply stored the new output" "$(value_of "$E2E_TMP/s2")" two

  tf "$d" plan -input=false -detailed-exitcode -var v=two
  local rc=$?
  if [ $rc = 0 ]; then pass "$t plan with no changes (exit 0)"; else fail "$t plan with no changes (exit 0)" "exit $rc: $(tf_tail)"; fi

  if tf "$d" state pull; then
    cp "$TF_OUT.raw" "$E2E_TMP/pulled"
    # `state pull` prints the state followed by one newline of its own.
    if cmp -s "$E2E_TMP/pulled" <(cat "$E2E_TMP/s2"; echo); then pass "$t state pull equals GET bytes"; else fail "$t state pull equals GET bytes" "$(diff <(jq -S . "$E2E_TMP/pulled" 2>&1) <(jq -S . "$E2E_TMP/s2") | head -n 5 | tr '\n' ' ')"; fi
  else
    fail "$t state pull" "$(tf_tail)"
  fi

  if tf "$d" state push -force "$E2E_TMP/old.tfstate"; then pass "$t state push -force of an older state"; else fail "$t state push -force of an older state" "$(tf_tail)"; fi
  state_json "$name" "$E2E_TMP/s3"
  expect_eq "$t pushed state is current" "$(value_of "$E2E_TMP/s3")" one
  expect_eq "$t pushed state keeps the lineage" "$(jq -r .lineage "$E2E_TMP/s3")" "$(jq -r .lineage "$E2E_TMP/s1")"

  # -lock-timeout: another client holds the lock and releases it after ~3 s.
  local other start elapsed
  other=$(cat /proc/sys/kernel/random/uuid)
  expect_eq "$t another client takes the lock" "$(curl_lock LOCK "$name" "$other")" 200
  (sleep 3; curl_lock UNLOCK "$name" "$other" >"$E2E_TMP/bg-unlock") &
  local bg=$!
  start=$SECONDS
  if tf "$d" apply -input=false -auto-approve -lock-timeout=30s -var v=three; then pass "$t apply -lock-timeout=30s waits for the lock"; else fail "$t apply -lock-timeout=30s waits for the lock" "$(tf_tail)"; fi
  elapsed=$((SECONDS - start))
  wait "$bg"
  expect_eq "$t the other client's UNLOCK" "$(cat "$E2E_TMP/bg-unlock")" 200
  if [ "$elapsed" -ge 2 ]; then pass "$t apply waited (${elapsed}s)"; else fail "$t apply waited" "finished after ${elapsed}s while the lock was held ~3 s"; fi
  state_json "$name" "$E2E_TMP/s4"
  expect_eq "$t apply after waiting wrote its state" "$(value_of "$E2E_TMP/s4")" three

  # A stuck lock: terraform shows the holder, force-unlock removes it.
  local stuck
  stuck=$(cat /proc/sys/kernel/random/uuid)
  expect_eq "$t stuck lock taken" "$(curl_lock LOCK "$name" "$stuck")" 200
  if tf "$d" plan -input=false -var v=three; then
    fail "$t plan refused while locked" "plan succeeded"
  elif grep -q "ID=$stuck" "$TF_OUT"; then
    # Terraform before 1.15 prints its own lock info under "Lock Info" (fixed upstream in 1.15);
    # the error line carries the holder's ID from our 423 body.
    pass "$t plan refused while locked, the error names the holder's ID"
  else
    fail "$t plan refused while locked, the error names the holder's ID" "$(grep -A8 'Error' "$TF_OUT" | tr '\n' ' ' | cut -c1-300)"
  fi
  if tf "$d" force-unlock -force "$stuck" && grep -qi 'successfully unlocked' "$TF_OUT"; then pass "$t force-unlock -force ID"; else fail "$t force-unlock -force ID" "$(tf_tail)"; fi
  if lock_is_free "$name" "" LOCK UNLOCK; then pass "$t lock free after force-unlock"; else fail "$t lock free after force-unlock" "still held"; fi
  tf "$d" plan -input=false -detailed-exitcode -var v=three
  rc=$?
  if [ $rc = 0 ]; then pass "$t plan works after force-unlock"; else fail "$t plan works after force-unlock" "exit $rc: $(tf_tail)"; fi

  # terraform_remote_state from another configuration (local state), with a read-only token.
  local r
  r=$(mktemp -d "$E2E_TMP/remote.XXXX")
  cp "$TOP/tests/e2e/remote.tf" "$r/main.tf"
  if tf "$r" init -input=false && tf "$r" apply -input=false -auto-approve \
      -var "address=$STATED_URL/v1/states/$name" -var "password=$READ_TOKEN" && tf "$r" output -raw got; then
    expect_eq "$t terraform_remote_state reads the outputs" "$(cat "$TF_OUT.raw")" three
  else
    fail "$t terraform_remote_state reads the outputs" "$(tf_tail)"
  fi
}

e2e_gitlab_layout() {
  local M=$1 t="e2e/$1/gitlab" name="e2e-$1/gl" d s1 s2 flags
  d=$(e2e_dir gitlab)
  mapfile -t flags < <(backend_flags "$name" gitlab)
  if tf "$d" init -input=false "${flags[@]}"; then pass "$t init"; else fail "$t init" "$(tf_tail)"; return; fi
  if tf "$d" apply -input=false -auto-approve -var v=a; then pass "$t apply"; else fail "$t apply" "$(tf_tail)"; fi
  state_json "$name" "$E2E_TMP/g1"
  s1=$(serial_of "$E2E_TMP/g1")
  if tf "$d" apply -input=false -auto-approve -var v=b; then pass "$t second apply"; else fail "$t second apply" "$(tf_tail)"; fi
  state_json "$name" "$E2E_TMP/g2"
  s2=$(serial_of "$E2E_TMP/g2")
  if [[ $s1 =~ ^[0-9]+$ ]] && [[ $s2 =~ ^[0-9]+$ ]] && [ "$s2" -gt "$s1" ]; then pass "$t serial increments ($s1 -> $s2)"; else fail "$t serial increments" "'$s1' -> '$s2'"; fi
  expect_eq "$t stored the output" "$(value_of "$E2E_TMP/g2")" b
  if lock_is_free "$name" /lock POST DELETE; then pass "$t lock released (POST/DELETE …/lock)"; else fail "$t lock released (POST/DELETE …/lock)" "held"; fi
  local stuck
  stuck=$(cat /proc/sys/kernel/random/uuid)
  expect_eq "$t stuck lock taken with POST …/lock" "$(curl_lock POST "$name/lock" "$stuck")" 200
  if tf "$d" force-unlock -force "$stuck" && grep -qi 'successfully unlocked' "$TF_OUT"; then pass "$t force-unlock (DELETE without body)"; else fail "$t force-unlock (DELETE without body)" "$(tf_tail)"; fi
  if lock_is_free "$name" /lock POST DELETE; then pass "$t lock free after force-unlock"; else fail "$t lock free after force-unlock" "still held"; fi
}

e2e_wrong_password() {
  local M=$1 t="e2e/$1" d flags
  d=$(e2e_dir badpw)
  mapfile -t flags < <(backend_flags "e2e-$M/badpw" state "wrong-$RANDOM")
  local rc
  tf "$d" init -input=false "${flags[@]}"
  rc=$?
  if [ $rc = 0 ]; then
    tf "$d" plan -input=false
    rc=$?
  fi
  if [ $rc -ne 0 ] && grep -Eq 'requires auth|invalid auth' "$TF_OUT"; then
    pass "$t wrong password refused (\"$(grep -Eo 'HTTP remote state endpoint (requires|invalid) auth' "$TF_OUT" | head -n 1)\")"
  else
    fail "$t wrong password refused with the auth message" "exit $rc: $(tf_tail)"
  fi
}

e2e_mtls() {
  local M=$1 t="e2e/$1/mtls" certs=$E2E_TMP/certs name="e2e-$1/tls" d flags
  [ -f "$certs/client.pem" ] || tls_make_certs "$certs" || { fail "$t certificates" "openssl failed"; return; }
  STATED_CURL=(--cert "$certs/client.pem" --key "$certs/client.key")
  if ! stated_start "$M" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" --client-ca "$certs/ca.pem"; then
    fail "$t server starts" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    STATED_CURL=()
    stated_cleanup
    return
  fi
  STATED_CURL=()
  E2E_CURL=(--cacert "$certs/ca.pem" --cert "$certs/client.pem" --key "$certs/client.key")
  d=$(e2e_dir tls)
  mapfile -t flags < <(backend_flags "$name" state)
  local ca cert key
  ca=$(cat "$certs/ca.pem") cert=$(cat "$certs/client.pem") key=$(cat "$certs/client.key")
  if TF_HTTP_CLIENT_CA_CERTIFICATE_PEM=$ca TF_HTTP_CLIENT_CERTIFICATE_PEM=$cert TF_HTTP_CLIENT_PRIVATE_KEY_PEM=$key \
      tf "$d" init -input=false "${flags[@]}" &&
    TF_HTTP_CLIENT_CA_CERTIFICATE_PEM=$ca TF_HTTP_CLIENT_CERTIFICATE_PEM=$cert TF_HTTP_CLIENT_PRIVATE_KEY_PEM=$key \
      tf "$d" apply -input=false -auto-approve -var v=secure; then
    pass "$t init and apply over HTTPS with a client certificate (TF_HTTP_* env)"
  else
    fail "$t init and apply over HTTPS with a client certificate (TF_HTTP_* env)" "$(tf_tail)"
  fi
  state_json "$name" "$E2E_TMP/t1"
  expect_eq "$t state stored" "$(value_of "$E2E_TMP/t1")" secure

  d=$(e2e_dir tls2)
  if tf "$d" init -input=false "${flags[@]}" "-backend-config=client_ca_certificate_pem=$ca" \
      "-backend-config=client_certificate_pem=$cert" "-backend-config=client_private_key_pem=$key" &&
    tf "$d" plan -input=false -detailed-exitcode -var v=secure; then
    pass "$t plan with the certificate in -backend-config sees no change"
  else
    fail "$t plan with the certificate in -backend-config sees no change" "$(tf_tail)"
  fi

  d=$(e2e_dir tls3)
  if TF_HTTP_CLIENT_CA_CERTIFICATE_PEM=$ca tf "$d" init -input=false "${flags[@]}" &&
    TF_HTTP_CLIENT_CA_CERTIFICATE_PEM=$ca tf "$d" plan -input=false; then
    fail "$t refused without a client certificate" "terraform succeeded"
  else
    pass "$t refused without a client certificate ($(grep -Eo 'certificate required|tls: [a-z ]+' "$TF_OUT" | head -n 1))"
  fi
  E2E_CURL=()
  stated_cleanup
}

for M in ${E2E_MODES:-embedded s3 pg s3pg}; do
  if ! mode_available "$M"; then
    skip "e2e/$M" "services for mode $M not started (S3_ENDPOINT / PG_CONNINFO unset)"
    continue
  fi
  echo "--- mode $M"
  if ! stated_start "$M" --token-file "$TOKENS"; then
    fail "e2e/$M start" "$(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
    stated_cleanup
    continue
  fi
  e2e_default_layout "$M"
  e2e_gitlab_layout "$M"
  e2e_wrong_password "$M"
  stated_cleanup
  e2e_mtls "$M"
done
t_done
