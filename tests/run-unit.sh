#!/bin/bash
# Runs every unit-test binary and corpus replay in DIR (default build/san/bin); prints each
# binary's PASS/FAIL lines and a total "N passed, N failed".
DIR=${1:-build/san/bin}
TOP=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0
for t in "$DIR"/test_* "$DIR"/replay_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  case $name in
    replay_*) corpus="$TOP/tests/fuzz/corpus/${name#replay_}"; out=$("$t" "$corpus" 2>&1) ;;
    *) out=$(cd "$TOP" && "$t" 2>&1) ;;
  esac
  rc=$?
  echo "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed'
  p=$(echo "$out" | grep -c '^PASS ')
  f=$(echo "$out" | grep -c '^FAIL ')
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL $name: exited $rc"; f=1
  fi
  passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
