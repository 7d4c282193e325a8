#!/bin/bash
# Static checks of the C tree: clang-format (the project's .clang-format) and cppcheck, the
# same commands as `make lint`. A missing tool is a loud SKIPPED.
source "$(dirname "$0")/../lib/testlib.sh"
cd "$TOP" || exit 1
if command -v clang-format >/dev/null; then
  check "lint/clang-format" make --no-print-directory format-check
else
  skip "lint/clang-format" "clang-format not installed"
fi
if command -v cppcheck >/dev/null; then
  check "lint/cppcheck" make --no-print-directory cppcheck
else
  skip "lint/cppcheck" "cppcheck not installed"
fi
t_done
