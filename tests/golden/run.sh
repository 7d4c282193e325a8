#!/bin/bash
# tests/golden/run.sh [--update]: stackgen golden files, and the value-level diff's.
#
# Each tests/golden/<case>/ holds stack.json and expected/:
#   - a valid stack: expected/tofu/ and expected/terragrunt/ are the render output without the
#     copied modules/ (checked separately: each must equal module/scaleway/<component>), and
#     expected/<format>.modules lists the copied components (empty when the case's args name a
#     --module-source, so nothing may be copied); compared with diff -r. What stackgen prints
#     is golden too: expected/validate.stdout is validate's report, expected/<format>.stdout
#     render's, with the output directory written DIR; neither may print on stderr;
#   - an invalid stack: expected/error is stackgen's exact stderr followed by "exit: N"; it may
#     print nothing on stdout.
# An optional <case>/args holds extra render flags (e.g. --backend-url ...). Every case also
# renders twice to prove the output is byte-identical across runs.
# A directory holding from.tfstate and to.tfstate instead (two versions terraform wrote) is a
# diff case: both are written to a stated started for the purpose, and expected/diff.stdout and
# expected/diff.json are what `statectl snapshots diff` prints for them (text and --output
# json, the snapshot IDs, which hold the write time, written SNAP-FROM and SNAP-TO).
# --update rewrites expected/ from the current stackgen and statectl (review the diff like code).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$TOP/build/bin}
SG=$BIN/stackgen
update=0
[ "${1:-}" = "--update" ] && update=1
work=$(mktemp -d /tmp/stackgen-golden.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

[ -x "$SG" ] || { echo "FAIL golden: $SG not built"; exit 1; }

for dir in "$TOP"/tests/golden/*/; do
  dir=${dir%/}
  name=golden/$(basename "$dir")
  [ -f "$dir/stack.json" ] || continue
  args=()
  [ -f "$dir/args" ] && read -r -a args <"$dir/args"
  out=$work/$(basename "$dir")
  mkdir -p "$out"
  "$SG" validate "$dir/stack.json" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  if [ $rc -ne 0 ] || [ -f "$dir/expected/error" ]; then
    { cat "$out/stderr"; echo "exit: $rc"; } >"$out/error"
    if [ $update -eq 1 ]; then
      rm -rf "$dir/expected"; mkdir -p "$dir/expected"; cp "$out/error" "$dir/expected/error"
      echo "updated $name"; continue
    fi
    if [ -s "$out/stdout" ]; then fail "$name" "printed on stdout: $(head -c 200 "$out/stdout")"
    elif d=$(diff -u "$dir/expected/error" "$out/error" 2>&1); then pass "$name"
    else fail "$name" "$(echo "$d" | head -n 20 | tr '\n' '|')"; fi
    # render must refuse the same stack with the same errors and write nothing
    "$SG" render "$dir/stack.json" -o "$out/refused" "${args[@]}" >"$out/render-stdout" 2>"$out/render-stderr"
    rrc=$?
    if [ $rrc -eq $rc ] && cmp -s "$out/stderr" "$out/render-stderr" && [ ! -s "$out/render-stdout" ] &&
       [ -z "$(ls -A "$out/refused" 2>/dev/null)" ]; then
      pass "$name/render-refuses"
    else
      fail "$name/render-refuses" "render exit $rrc, stderr, stdout or output differ"
    fi
    continue
  fi
  if [ $update -eq 1 ]; then
    mkdir -p "$dir/expected"; cp "$out/stdout" "$dir/expected/validate.stdout"
  elif [ -s "$out/stderr" ]; then fail "$name/validate" "printed on stderr: $(head -c 200 "$out/stderr")"
  elif d=$(diff -u "$dir/expected/validate.stdout" "$out/stdout" 2>&1); then pass "$name/validate"
  else fail "$name/validate" "$(echo "$d" | head -n 10 | tr '\n' '|')"; fi
  for fmt in tofu terragrunt; do
    d= d2= d3=
    for n in 1 2; do
      if ! "$SG" render "$dir/stack.json" -o "$out/$fmt.$n" --format "$fmt" "${args[@]}" >"$out/$fmt.$n.stdout" 2>"$out/$fmt.err"; then
        fail "$name/$fmt" "render failed: $(tr '\n' ' ' <"$out/$fmt.err")"; continue 2
      fi
      [ -s "$out/$fmt.err" ] && { fail "$name/$fmt" "printed on stderr: $(head -c 200 "$out/$fmt.err")"; continue 2; }
    done
    if [ -d "$out/$fmt.1/modules" ]; then (cd "$out/$fmt.1/modules" && ls); fi >"$out/$fmt.modules"
    # The report names the output directory, a temporary one here: written DIR in the golden.
    sed "s|$out/$fmt.1|DIR|g" "$out/$fmt.1.stdout" >"$out/$fmt.stdout"
    if [ $update -eq 1 ]; then
      rm -rf "$dir/expected/$fmt"; mkdir -p "$dir/expected"
      cp -r "$out/$fmt.1" "$dir/expected/$fmt"; rm -rf "$dir/expected/$fmt/modules"
      cp "$out/$fmt.modules" "$dir/expected/$fmt.modules"
      cp "$out/$fmt.stdout" "$dir/expected/$fmt.stdout"
      echo "updated $name/$fmt"; continue
    fi
    if d=$(diff -r -u --exclude=modules "$dir/expected/$fmt" "$out/$fmt.1" 2>&1) &&
       d2=$(diff -u "$dir/expected/$fmt.modules" "$out/$fmt.modules" 2>&1) &&
       d3=$(diff -u "$dir/expected/$fmt.stdout" "$out/$fmt.stdout" 2>&1); then
      pass "$name/$fmt"
    else
      fail "$name/$fmt" "$(echo "$d${d2:-}${d3:-}" | head -n 30 | tr '\n' '|')"
    fi
    if diff -r "$out/$fmt.1" "$out/$fmt.2" >/dev/null; then pass "$name/$fmt/deterministic"
    else fail "$name/$fmt/deterministic" "two renders differ"; fi
    bad=
    for m in $(cat "$out/$fmt.modules"); do
      diff -r "$TOP/module/scaleway/$m" "$out/$fmt.1/modules/$m" >/dev/null || bad="$bad $m"
    done
    if [ -z "$bad" ]; then pass "$name/$fmt/modules-copied"; else fail "$name/$fmt/modules-copied" "differ:$bad"; fi
  done
done
# diff_case DIR: the diff of DIR's two states, through stated and statectl, against expected/.
diff_case() {
  local dir=$1 name=golden/$(basename "$1") out=$work/$(basename "$1") st=diff-golden/case f
  mkdir -p "$out"
  for f in from to; do
    if [ "$(curl -s -o "$out/$f.put" -w '%{http_code}' -u "golden:$ADMIN_TOKEN" \
      --data-binary "@$dir/$f.tfstate" "$STATED_URL/v1/states/$st")" != 200 ]; then
      fail "$name" "writing $f.tfstate: $(head -c 200 "$out/$f.put")"; return
    fi
  done
  local a b
  a=$(jq -r .snapshot "$out/from.put") b=$(jq -r .snapshot "$out/to.put")
  for fmt in stdout json; do
    local args=()
    [ $fmt = json ] && args=(--output json)
    if ! STATECTL_URL=$STATED_URL STATECTL_TOKEN=$ADMIN_TOKEN "$BIN/statectl" snapshots diff "$st" \
      "$a" "$b" "${args[@]}" >"$out/raw.$fmt" 2>"$out/err"; then
      fail "$name/$fmt" "statectl: $(head -c 300 "$out/err")"; continue
    fi
    sed -e "s/$a/SNAP-FROM/g" -e "s/$b/SNAP-TO/g" "$out/raw.$fmt" >"$out/diff.$fmt"
    if [ $update -eq 1 ]; then
      mkdir -p "$dir/expected"; cp "$out/diff.$fmt" "$dir/expected/diff.$fmt"; echo "updated $name/$fmt"
    elif d=$(diff -u "$dir/expected/diff.$fmt" "$out/diff.$fmt" 2>&1); then pass "$name/$fmt"
    else fail "$name/$fmt" "$(echo "$d" | head -n 20 | tr '\n' '|')"; fi
  done
  curl -s -o /dev/null -X DELETE -u "golden:$ADMIN_TOKEN" "$STATED_URL/v1/states/$st"
}

diff_cases=()
for dir in "$TOP"/tests/golden/*/; do
  [ -f "$dir/from.tfstate" ] && diff_cases+=("${dir%/}")
done
if [ ${#diff_cases[@]} -gt 0 ]; then
  . "$TOP/tests/lib/testlib.sh" # free_port, for stated.sh; this runner keeps its own counts
  . "$TOP/tests/lib/stated.sh"
  pass() { echo "PASS $1"; passed=$((passed + 1)); }
  fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
  trap 'stated_cleanup; rm -rf "$work"' EXIT
  if ! command -v jq >/dev/null; then
    fail golden/diff "jq not found"
  elif ! stated_start embedded; then
    fail golden/diff "stated did not start: $(tail -n 3 "$STATED_LOG" | tr '\n' ' ')"
  else
    for dir in "${diff_cases[@]}"; do
      diff_case "$dir"
    done
    stated_stop
  fi
fi

[ $update -eq 1 ] && exit 0
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
