#!/usr/bin/env bash
# The README's benchmark command.  Installs what is missing, configures a
# release build in build-bench/, runs every scenario against every backend
# the library serves (and the glibc malloc baseline) in one process, and
# writes under build-bench/results/:
#   bench.json  Google Benchmark JSON (every repetition, and their medians)
#   hist.json   latency histograms and series (mapreg-bench --hist-out)
#   results.md  the table of ratios, also printed at the end
#   *.png       throughput vs threads, grant-latency CDF, largest free run
#   machine.txt lscpu
# Usage: tools/bench.sh [--publish] [mapreg-bench options...]
#   --publish  also copies the PNGs to bench/results/ and rewrites the
#              generated part of BENCHMARKS.md (how the lead regenerates it)
# BENCH_MIN_TIME (default 0.2 s) and BENCH_REPETITIONS (default 3) set the
# size; the default run takes about 3 minutes on 2 CPUs, io-bench included.
set -euo pipefail
cd "$(dirname "$0")/.."

publish=()
if [ "${1:-}" = "--publish" ]; then
  publish=(--publish BENCHMARKS.md --publish-plots bench/results)
  shift
fi

tools/deps.sh bench
. tools/lib.sh
build build-bench "${bench_build_options[@]}"

out=build-bench/results
mkdir -p "$out"
lscpu >"$out/machine.txt" 2>/dev/null || true
# Repetitions are interleaved at random across benchmarks, so a burst of
# load from other processes spreads over all of them instead of one.  A run
# whose must-be-zero counts are not 0 fails: the rest is still reported (but
# not published), and the script exits non-zero.
rc=0
build-bench/bench/mapreg-bench \
  --benchmark_min_time="${BENCH_MIN_TIME:-0.2}" \
  --benchmark_repetitions="${BENCH_REPETITIONS:-3}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json \
  --hist-out="$out/hist.json" "$@" >"$out/console.txt" || rc=$?
if [ "$rc" -ne 0 ] && [ ${#publish[@]} -gt 0 ]; then
  echo "bench: runs failed: not publishing" >&2
  publish=()
fi
command="tools/bench.sh $* (BENCH_MIN_TIME=${BENCH_MIN_TIME:-0.2} BENCH_REPETITIONS=${BENCH_REPETITIONS:-3})"
/usr/bin/python3 bench/report.py --json "$out/bench.json" --hist "$out/hist.json" \
  --machine "$out/machine.txt" --command "$command" --out "$out" "${publish[@]}"
# What does not depend on the machine's noise: instructions and locked
# instructions per fast-path cycle, under callgrind (tools/count.py).
echo
echo "Per cycle, counted under callgrind (tools/count.py build-bench):"
/usr/bin/python3 tools/count.py build-bench --markdown | tee "$out/counts.md"
if [ "$rc" -ne 0 ]; then
  echo "bench: mapreg-bench exited $rc: failed runs (ERROR OCCURRED) in $out/console.txt:" >&2
  grep 'ERROR OCCURRED' "$out/console.txt" >&2 || true
fi
# Real I/O: the io_uring engine beside fio (under 30 s; its table is
# build-bench/results/io.md).  Its failure fails this script too, and a
# failed mapreg-bench run keeps its own exit code.
echo
io_args=()
[ ${#publish[@]} -eq 0 ] || io_args=(--publish)
if ! tools/io-bench.sh "${io_args[@]}"; then
  echo "bench: tools/io-bench.sh failed" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
