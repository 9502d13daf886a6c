#!/usr/bin/env bash
# The lock-free backend's fallback paths: the unit and stress suites again
# with glibc's rseq registration turned off, so that per-CPU magazines and
# counters use their atomic fallback (core/lockfree/cache.h) on a machine
# where the README's test command exercised the restartable sequences, and
# with no biased channel (MAPREG_NO_BIAS=1), so that every adapter runs the
# shared channel protocol from its first call (core/lockfree/bias.h).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh test
. tools/lib.sh

build build
echo "== rseq off (GLIBC_TUNABLES=glibc.pthread.rseq=0), no bias (MAPREG_NO_BIAS=1)"
GLIBC_TUNABLES=glibc.pthread.rseq=0 MAPREG_NO_BIAS=1 suite build --suite unit --suite stress-run --suite stress-perturbed
tally
