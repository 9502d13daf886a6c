#!/usr/bin/env bash
# Long race hunting with the perturbation build (core/hooks/perturb.h): for each
# backend, the stress torture program at 2, 4, 8 and 16 workers, both mixes,
# on two CPUs and pinned to one, SECONDS_PER_RUN each, until MINUTES per
# backend have passed.  Every failing run's report (with its replay command)
# is kept in build/hunt-*.log.  Usage: tools/hunt.sh [MINUTES] [SECONDS_PER_RUN]
# [BACKEND...]; ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}; per_run=${2:-30}; shift $(( $# > 2 ? 2 : $# )) || true
backends=("$@"); [ ${#backends[@]} -gt 0 ] || backends=(lockfree locked)
tools/deps.sh test
. tools/lib.sh
build build

runs=0; failures=0
for backend in "${backends[@]}"; do
  end=$(( $(date +%s) + minutes * 60 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    for threads in 2 4 8 16; do
      for mix in balanced keep-registers; do
        for pin in "" "taskset -c 0"; do
          [ "$(date +%s)" -lt "$end" ] || break 4
          log=build/hunt-$backend-$threads-$mix-${pin:+one-cpu-}$runs.log
          if $pin build/stress/stress-perturbed --backend "$backend" --threads "$threads" \
               --mix "$mix" --duration "$per_run" >"$log" 2>&1; then
            rm -f "$log"
          else
            failures=$((failures + 1)); echo "hunt: FAILED, see $log"; grep -m3 -E 'FAIL|replay' "$log" || true
          fi
          runs=$((runs + 1))
        done
      done
    done
  done
  echo "hunt: $backend: $minutes minutes done"
done
echo "$((runs - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
