#!/usr/bin/env bash
# Race hunting that does not depend on this machine's timing: the stress
# suite against the perturbation build (core/hooks/perturb.h), which naps, yields
# or spins at every protocol step, driven by each run's seed.  Both
# backends, both mixes, 2..16 worker threads, on two CPUs and pinned to one
# (where only preemption interleaves threads), plus C11's targeted
# reproducer with the pre-fix protocol planted, which must be caught, and
# the biased channel's revocations racing its owner (stress/revoke.c; its
# meson tests are in the stress-perturbed suite, so each pass runs them).
# About 3.5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh test
. tools/lib.sh

export MAPREG_STRESS_DURATION=${MAPREG_STRESS_DURATION:-4}

build build
for cpus in two one; do
  pin=()
  [ "$cpus" = one ] && pin=(--wrapper 'taskset -c 0')
  for threads in 2 4 8 16; do
    echo "== perturbed stress: $threads worker threads, $cpus CPU(s)"
    MAPREG_STRESS_THREADS=$threads suite build --suite stress-perturbed "${pin[@]}"
    grep -ho 'stress: ok: .*' build/meson-logs/testlog.txt | sed 's/^/   /' || true
  done
done

tally
