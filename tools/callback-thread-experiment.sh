#!/usr/bin/env bash
# An experiment, not a build of the library: do the lock-free tails come
# from liburcu's call_rcu thread waking onto a busy CPU?  Copies the working
# tree into a scratch directory, includes tools/batch_callbacks.h first into
# its core/base/rcu.c (with MAPREG_EXPERIMENT_BATCH set, the call_rcu thread
# runs SCHED_BATCH: it never preempts on waking), builds the benchmarks, and
# runs the rows FILTER matches in turns, one process each: as built ("no"),
# SCHED_BATCH ("batch"), and with mapreg-bench --deferred-cpu=N (the library's
# mapreg_deferred_cpus) on the churn submitter's CPU ("cpu0") and on its
# freer's ("cpu1").  Prints each run's mean time, grant and wait tails and
# cross-CPU probe.  BENCHMARKS.md, "The call_rcu thread as SCHED_BATCH" and
# "Where the call_rcu thread runs", are its runs.
#
# Usage: tools/callback-thread-experiment.sh [ROUNDS [FILTER]]
#        (5 '^(exhaustion/lockfree/adapters:1|cancel/lockfree/adapters:4)/')
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
filter=${2:-'^(exhaustion/lockfree/adapters:1|cancel/lockfree/adapters:4)/'}

tools/deps.sh bench
. tools/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scratch_copy "$work"
sed -i '1i #include "../../tools/batch_callbacks.h"' "$work/core/base/rcu.c"
build_bench_only "$work"

for ((r = 1; r <= rounds; r++)); do
  for variant in no batch cpu0 cpu1; do
    vars=() args=()
    case $variant in
      batch) vars=(MAPREG_EXPERIMENT_BATCH=1) ;;
      cpu*) args=(--deferred-cpu="${variant#cpu}") ;;
    esac
    env "${vars[@]}" "$work/build/bench/mapreg-bench" "${args[@]}" --benchmark_filter="$filter" \
      --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null |
      /usr/bin/python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    name, ns = b["name"], b["real_time"]
    tails = " ".join(f"{k[:-3]} {b[k] / 1e3:7.1f}" for k in
                     ("grant_p999_ns", "grant_p9999_ns", "wait_p999_ns", "wait_p9999_ns") if k in b)
    probe = b.get("cpu_line_ns")
    line = f" line {probe:3.0f} ns" if probe else ""
    print(f"round {sys.argv[1]} {sys.argv[2]:<5} {name:<48} {ns:5.0f} ns  {tails} (us){line}")
' "$r" "$variant"
  done
done
