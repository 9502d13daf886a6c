#!/usr/bin/env bash
# The README's test command.  Installs what is missing, then runs every quick
# suite (unit, stress, fuzz replay, bench smoke) on a release build, and the
# unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero on any failure; ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh test
. tools/lib.sh

build build
suite build

build build-asan -Db_sanitize=address,undefined -Dbench=disabled
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  suite build-asan --suite unit

tally
