#!/usr/bin/env bash
# The stress suite (stress/README.md) under ThreadSanitizer (clang) and
# AddressSanitizer + UndefinedBehaviorSanitizer: the torture runs of every
# backend in mapreg_backends (meson registers one per backend and mix) at 2,
# 4, 8 and 16 worker threads, then the fault self-tests and, under TSan, the
# racy self-test that TSan must still catch.  About 4 minutes on 2 cores
# (two backends), the TSan build included.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh test
. tools/lib.sh

# Seconds per torture run; each prints its operation count at the end.
export MAPREG_STRESS_DURATION=${MAPREG_STRESS_DURATION:-6}

# TSan needs clang here (b_lundef=false for its shared library); only the
# library and the stress programs are needed (stress is asked for by name:
# without the tests it is off by default).
CC=clang build build-stress-tsan -Db_sanitize=thread -Db_lundef=false \
  -Dtests=false -Dstress=enabled -Dbench=disabled -Dfuzz=disabled
# The same options as tools/test.sh's ASan build, so both share it.
build build-asan -Db_sanitize=address,undefined -Dbench=disabled

for dir in build-stress-tsan build-asan; do
  for threads in 2 4 8 16; do
    echo "== stress: $dir, $threads worker threads"
    MAPREG_STRESS_THREADS=$threads suite "$dir" --suite stress-run
    grep -ho 'stress: ok: .*' "$dir"/meson-logs/testlog.txt | sed 's/^/   /' || true
  done
  echo "== stress: $dir, fault self-tests"
  suite "$dir" --suite stress-fault
done

tally
