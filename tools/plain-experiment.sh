#!/usr/bin/env bash
# An experiment, not a build of the library: what a one-thread path could
# save on a one-thread shape, piece by piece.  Copies the working tree into
# scratch directories, each changed in a way that is correct for one thread
# only, builds them alike, counts them under callgrind (tools/count.py),
# then times bench/cycles SHAPE in turns:
#   locked              the locked backend, as built;
#   locked,no-mutex     its mutex a compiler barrier (tools/no_mutex.h): the
#                       ceiling of any one-thread path on the shape, the
#                       sequential algorithm with nothing to exclude anyone;
#   lock-free           the lock-free backend, as built;
#   lock-free,plain     tools/plain_atomics.h first into the protocol's
#                       files: every read-modify-write and fence a relaxed
#                       load and store, the same instructions, none locked;
#   lock-free,plain,hot also a released node goes straight back to its
#                       CPU's free list, reused hot instead of after a grace
#                       period (no other thread can be reading it).
# BENCHMARKS.md, "Not the locked instructions" and "What one thread alone
# could save", are its runs.  Nothing of the copies is installed or kept.
#
# Usage: tools/plain-experiment.sh [SHAPE [ROUNDS [N]]]     (poll 4 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-poll} rounds=${2:-4} n=${3:-2000000}

tools/deps.sh bench
. tools/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# one_thread COPY: the plain atomics and the mutex-free locked backend.
one_thread() {
  for f in channel poll registers regmap request; do
    sed -i '1i #include "../../tools/plain_atomics.h"' "$1/core/lockfree/$f.c"
  done
  for f in bitmap grants pool request; do
    sed -i '1i #include "../../tools/no_mutex.h"' "$1/core/locked/$f.c"
  done
}

# hot_nodes COPY: node_free pushes on the free list, not the retired one.
hot_nodes() {
  /usr/bin/python3 - "$1/core/lockfree/node.c" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
old = "if (!list_push(&mine->retired, cpu, node, &retired))\n\t\t\tcontinue;\n"
new = "if (!list_push(&mine->free, cpu, node, &retired))\n\t\t\tcontinue;\n\t\treturn;\n"
if src.count(old) != 1:
    sys.exit("plain-experiment: node_free has changed; update hot_nodes()")
open(path, "w").write(src.replace(old, new))
PY
}

for copy in control plain hot; do
  scratch_copy "$work/$copy"
  case $copy in
    plain) one_thread "$work/$copy" ;;
    hot) one_thread "$work/$copy"; hot_nodes "$work/$copy" ;;
  esac
  build_bench_only "$work/$copy"
done

runs=("locked control locked" "locked,no-mutex plain locked"
      "lock-free control lockfree" "lock-free,plain plain lockfree"
      "lock-free,plain,hot hot lockfree")
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
    print(f"  {label:<20} {ins:6.0f} instructions {locked:6.2f} locked")
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
