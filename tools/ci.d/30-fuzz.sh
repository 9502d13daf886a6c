#!/usr/bin/env bash
# CI: the fuzz targets (fuzz/).  Builds them with clang (libFuzzer + ASan +
# UBSan), replays the committed corpus under the sanitizers on every backend,
# fuzzes each target for a bounded time (FUZZ_SECONDS, default 60) starting
# from that corpus, and checks that every planted fault of core/hooks/fault.h is
# caught (fuzz/demo-faults.sh).  Any crash or difference fails the step; its
# input is left in build-fuzz/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh test
. tools/lib.sh

seconds=${FUZZ_SECONDS:-60}
CC=clang build build-fuzz -Dfuzz=enabled -Dtests=false -Dbench=disabled
suite build-fuzz --suite fuzz

artifacts=build-fuzz/fuzz-artifacts
mkdir -p "$artifacts"
for target in api_sequence arguments; do
  work=$(mktemp -d)
  # New inputs go to $work; the committed corpus is only read.  Per-input leak
  # checks are off: the lock-free backend frees after an RCU grace period, so
  # every input would look like a leak and run LeakSanitizer (30x slower);
  # LeakSanitizer still runs at exit.
  if "build-fuzz/fuzz/fuzz-${target//_/-}" -max_total_time="$seconds" -max_len=256 \
      -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$work" "fuzz/corpus/$target" >"$artifacts/$target.log" 2>&1; then
    passed=$((passed + 1))
    echo "fuzz $target: $(grep -m1 'stat::number_of_executed_units' "$artifacts/$target.log")"
  else
    failed=$((failed + 1))
    echo "fuzz $target: FAILED"; grep -A12 -E 'FAILED|ERROR' "$artifacts/$target.log" | head -40
  fi
  rm -rf "$work"
done

if bash fuzz/demo-faults.sh --ci build-fuzz; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
tally
