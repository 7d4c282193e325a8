# tests/oidc/issuer.sh: the local OIDC issuer (tests/oidc/issuer.py) for shell tests; sourced.
#
#   issuer ARGS...            issuer.py ARGS (keygen, sign, down, up, stop)
#   start_issuer DIR PORT     serves DIR's keys on http://127.0.0.1:PORT in the background;
#                             sets ISSUER_PID and ISSUER_URL; its stderr goes to DIR/serve.err
#   stop_issuer DIR           stops it (the issuer unreachable)
#   issuer_rules FILE URL     writes an --oidc-config with the two rules the tests use:
#                             platform/* on a protected ref -> write, gitlab:{project_path}@{ref};
#                             any other platform/* ref -> plan, plan:{project_path}
# Needs PY (default /usr/bin/python3) with python3-cryptography.

PY=${PY:-/usr/bin/python3}
ISSUER_PID=

issuer() { "$PY" "$TOP/tests/oidc/issuer.py" "$@"; }

start_issuer() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  rm -f "$dir/url"
  # Python itself in the background, not the issuer function: $! is then the server, and
  # killing it at cleanup leaves no orphan behind.
  "$PY" "$TOP/tests/oidc/issuer.py" serve "$dir" --port "$port" >/dev/null 2>"$dir/serve.err" &
  ISSUER_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$dir/url" ] && { ISSUER_URL=$(cat "$dir/url"); return 0; }
    sleep 0.05
  done
  return 1
}

stop_issuer() {
  issuer stop "$1" >/dev/null 2>&1
  [ -n "$ISSUER_PID" ] && wait "$ISSUER_PID" 2>/dev/null
  ISSUER_PID=
}

issuer_rules() {
  printf '%s\n' \
    "{\"issuers\": [{\"issuer\": \"$2\", \"audience\": \"stated\", \"rules\": [" \
    '  {"claims": {"project_path": "platform/*", "ref_protected": "true"}, "role": "write",' \
    '   "states": "{project_path}/**", "name": "gitlab:{project_path}@{ref}"},' \
    '  {"claims": {"project_path": "platform/*"}, "role": "plan",' \
    '   "states": "{project_path}/**", "name": "plan:{project_path}"}]}]}' >"$1"
}
