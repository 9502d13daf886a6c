#!/usr/bin/env bash
# Shows that fuzz-api-sequence catches each bug core/hooks/fault.h can plant, on
# every backend: runs fuzz-api-sequence-faulty with MAPREG_FUZZ_FAULT=NAME
# for at most 60 s and reports how long it took to find a difference.
#
#   fuzz/demo-faults.sh [--ci] [BUILD_DIR]     (BUILD_DIR: a clang -Dfuzz=enabled build)
#
# By default it starts from an empty corpus with a fixed seed (-seed=1), the
# honest time-to-detection; --ci starts from the committed corpus instead,
# which is quicker.  Exits non-zero if any fault goes unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=false
if [ "${1:-}" = "--ci" ]; then ci=true; shift; fi
build=${1:-build-fuzz}
bin=$build/fuzz/fuzz-api-sequence-faulty
[ -x "$bin" ] || { echo "demo-faults: $bin not built (CC=clang meson setup $build -Dfuzz=enabled)" >&2; exit 2; }

# The faults (core/hooks/fault.h) and backends (meson.build) come from their one place.
# FREE_CHANNEL_UNCHECKED is a two-thread race (a releaser's stale decision),
# which a single-threaded fuzzer cannot interleave: stress-overtake-perturbed
# and tests/regressions.c catch it.
faults=$(sed -n '/^enum mapreg_fault {/,/FAULT_COUNT/p' core/hooks/fault.h |
         grep -oE '^\s*FAULT_[A-Z_]+' | sed 's/^\s*FAULT_//' |
         grep -vx -e COUNT -e FREE_CHANNEL_UNCHECKED)
backends=$(sed -n 's/^mapreg_backends = \[\(.*\)\]/\1/p' meson.build | tr -d "' " | tr ',' ' ')

missed=0
for fault in $faults; do
  for backend in $backends; do
    work=$(mktemp -d); log=$work/log; mkdir "$work/new"	# the log must not be an input
    corpus=()
    $ci && corpus=(fuzz/corpus/api_sequence)
    start=$(date +%s%N)
    rc=0
    MAPREG_FUZZ_FAULT=$fault MAPREG_FUZZ_BACKEND=$backend "$bin" -seed=1 -max_total_time=60 \
      -max_len=256 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$work/" \
      "$work/new" "${corpus[@]}" >"$log" 2>&1 || rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    took=$(printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)))
    # The last status line's count (the crash's final stats undercount).
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#' || true)
    execs=">${execs:-0}"
    if [ "$rc" -ne 0 ] && grep -qE 'fuzz: FAILED|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)' "$log"; then
      why=$(grep -m1 -E 'differ in|fuzz: FAILED|ERROR: AddressSanitizer' "$log")
      printf 'FAULT_%-18s %-9s caught in %6.2f s, %8s execs: %s\n' "$fault" "$backend" "$took" "$execs" "$why"
      grep -m2 -E '^  (model expects|library did)' "$log" | sed 's/^/      /' || true
    else
      printf 'FAULT_%-18s %-9s NOT CAUGHT in %6.2f s (%s execs)\n' "$fault" "$backend" "$took" "$execs"
      missed=$((missed + 1))
    fi
    rm -rf "$work"
  done
done
[ "$missed" -eq 0 ]
