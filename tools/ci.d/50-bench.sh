#!/usr/bin/env bash
# CI: the README's benchmark command, end to end and small (every scenario
# once, 0.01 s a run; the I/O runs 0.05 s): it must build from what
# tools/deps.sh bench installs and exit 0, which it does only if every run's
# must-be-zero counts (FIFO inversions, double grants, leaks, lost eventfd
# signals) are 0.  Its figures are not read.  The benchmark build must not
# need the tests' packages (cmocka): on a fresh machine only the benchmark
# command may have run, and CI's test command has installed them by now,
# so the step checks that the configuration never looked for cmocka.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/lib.sh

rc=0
BENCH_MIN_TIME=0.01 BENCH_REPETITIONS=1 IO_BENCH_RUNTIME=0.05 bash tools/bench.sh \
  >build-ci-bench.log 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
  passed=$((passed + 1))
else
  tail -n 40 build-ci-bench.log
  echo "bench: tools/bench.sh exited $rc (build-ci-bench.log)"
  failed=$((failed + 1))
fi
if grep -qi cmocka build-bench/meson-logs/meson-log.txt; then
  echo "bench: the benchmark build looked for cmocka, which tools/deps.sh bench does not install"
  failed=$((failed + 1))
else
  passed=$((passed + 1))
fi
tally
