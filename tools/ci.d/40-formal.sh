#!/usr/bin/env bash
# CI: the SPIN models of the lock-free backend's protocols (formal/README.md).
# Installs spin where missing, then runs formal/check.sh: every model's
# exhaustive proof and reachability probes, and every planted mutation, which
# SPIN must catch.  About 6 minutes on 2 cores.  Its "N passed, N failed"
# joins the CI tally; any failure fails the step.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh formal
. tools/lib.sh

log=build-formal.log
rc=0
bash formal/check.sh 2>&1 | tee "$log" || rc=$?
if read -r p f < <(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1); then
  passed=$((passed + p)); failed=$((failed + f))
fi
[ "$rc" -eq 0 ] || failed=$((failed > 0 ? failed : 1))
tally
