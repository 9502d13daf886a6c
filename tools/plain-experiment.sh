#!/usr/bin/env bash
# An experiment, not a build of the library: how much of a one-thread
# shape's cost is the lock-free protocol's locked instructions.  Copies the
# working tree twice into a scratch directory, includes
# tools/plain_atomics.h first into the protocol's files of one copy (every
# read-modify-write and fence made a relaxed load and store: right for one
# thread only), builds both alike, counts both under callgrind
# (tools/count.py), then times bench/cycles SHAPE in turns: the locked
# backend, the lock-free one, and the lock-free one with no locked
# instruction.  BENCHMARKS.md, "Not the locked instructions", is its first
# run.  Nothing of the plain copy is installed or kept.
#
# Usage: tools/plain-experiment.sh [SHAPE [ROUNDS [N]]]     (poll 4 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-poll} rounds=${2:-4} n=${3:-2000000}

tools/deps.sh bench
. tools/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for copy in control plain; do
  scratch_copy "$work/$copy"
  [ "$copy" = control ] || for f in channel poll registers regmap request; do
    sed -i '1i #include "../../tools/plain_atomics.h"' "$work/plain/core/lockfree/$f.c"
  done
  build_bench_only "$work/$copy"
done

runs=("locked control locked" "lock-free control lockfree" "lock-free,plain plain lockfree")
echo "Counted (callgrind, $shape):"
/usr/bin/python3 - "$work" "$shape" "${runs[@]}" <<'PY'
import sys
sys.path.insert(0, "tools")
import count
work, shape = sys.argv[1:3]
for run in sys.argv[3:]:
    label, copy, backend = run.split()
    hooked = backend == "lockfree"
    binary = f"{work}/{copy}/build/bench/" + ("cycles-hooked" if hooked else "cycles")
    ins, locked = count.measure(binary, shape, backend, {"MAPREG_ASSUME_RSEQ": "1"} if hooked else {})
    print(f"  {label:<16} {ins:6.0f} instructions {locked:6.2f} locked")
PY

echo "Timed ($rounds rounds of bench/cycles $shape B $n, ns per cycle):"
TIMEFORMAT=%R
for ((r = 1; r <= rounds; r++)); do
  line="  round $r:"
  for run in "${runs[@]}"; do
    read -r label copy backend <<<"$run"
    s=$( { time "$work/$copy/build/bench/cycles" "$shape" "$backend" "$n" >/dev/null; } 2>&1 )
    line+=$(awk -v l="$label" -v s="$s" -v n="$n" 'BEGIN { printf "  %s %.0f", l, s * 1e9 / n }')
  done
  echo "$line"
done
