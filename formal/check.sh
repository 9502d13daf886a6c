#!/usr/bin/env bash
# Model-checks the lock-free backend's protocols with SPIN (formal/README.md).
#
# For every model: the proof (an exhaustive search that must find no error),
# the reachability probes (situations the proof must cover: SPIN must reach
# each), and the planted mutations (SPIN must find the error, and its trail
# must end in the violation named below).  Prints, per check, the states
# stored, the depth, the memory and the time, then PASS or FAIL, and ends
# with "N passed, N failed"; exits non-zero on any failure.
#
# Usage: formal/check.sh [FILTER]   (FILTER: run only checks whose name
# contains it, e.g. "channel" or "MUTANT_STALE").  Work files, pan binaries
# and the readable trail of every mutation go to $FORMAL_WORK (default
# build-formal/ at the top of the repository).  One pan runs at a time.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${FORMAL_WORK:-$here/../build-formal}
filter=${1:-}
cc=${CC:-cc}
mkdir -p "$work"
work=$(cd "$work" && pwd)

if ! command -v spin >/dev/null 2>&1; then
  echo "formal: spin is not installed (tools/deps.sh formal, or apt-get install spin)" >&2
  exit 2
fi

passed=0; failed=0
started=$SECONDS

# Compile flags.  Proofs: -O2 and COLLAPSE (exact state compression); no
# partial search is ever accepted: MEMLIM aborts instead of swapping, and a
# run that hits it or the depth limit fails.  Mutations stop at their first
# error: -O0 compiles in a tenth of the time.
PROOF_CC="-O2 -DSAFETY -DCOLLAPSE -DMEMLIM=8192"
MUTANT_CC="-O0 -DSAFETY -DMEMLIM=8192"
PAN="-m100000"

printf '%-44s %12s %6s %9s %8s  %s\n' check states depth "memory MB" "time s" result

# figures LOG: "states depth memory time" from a pan log.
figures() {
  awk '
    /states, stored/ { s = $1 }
    /depth reached/ { for (i = 1; i <= NF; i++) if ($i == "reached") { d = $(i + 1); sub(",", "", d) } }
    /total actual memory usage/ { m = $1 }
    /pan: elapsed time/ { t = $4 }
    END { printf "%s %s %s %s", s == "" ? "-" : s, d == "" ? "-" : d, m == "" ? "-" : m, t == "" ? "-" : t }
  ' "$1"
}

report() {	# report NAME LOG RESULT [NOTE]
  local s d m t
  read -r s d m t < <(figures "$2")
  printf '%-44s %12s %6s %9s %8s  %s\n' "$1" "$s" "$d" "$m" "$t" "$3${4:+  ($4)}"
  if [ "$3" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

wanted() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }

# build DIR MODEL "SPIN DEFINES" "CC FLAGS": generate and compile pan in DIR.
build() {
  local dir=$1 model=$2 defs=$3 ccflags=$4
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$here/$model" "$dir/"
  # shellcheck disable=SC2086
  (cd "$dir" && spin $defs -a "$model" >spin.log 2>&1 &&
     $cc -w $ccflags $defs -o pan pan.c >cc.log 2>&1)
}

# complete_search LOG: the search covered the whole state space.
complete_search() {
  ! grep -qE 'max search depth too small|MEMLIM|out of memory|Search not completed' "$1"
}

# proof NAME MODEL "DEFS" "PAN OPTIONS" PROBES...: no error allowed; then
# each probe n (REACH=n) must be reached with the same binary.
proof() {
  local name=$1 model=$2 defs=$3 panopts=$4; shift 4
  local dir="$work/$name"
  wanted "$name" || return 0
  if ! build "$dir" "$model" "-DNOCLAIM $defs" "$PROOF_CC -DNOCLAIM"; then
    report "$name" /dev/null FAIL "spin or cc failed: $dir"; return 0
  fi
  # shellcheck disable=SC2086
  (cd "$dir" && timeout 600 ./pan $PAN $panopts >pan.log 2>&1)
  if grep -q 'errors: 0' "$dir/pan.log" && complete_search "$dir/pan.log"; then
    report "$name" "$dir/pan.log" PASS
  else
    report "$name" "$dir/pan.log" FAIL "see $dir/pan.log"
  fi
  local n
  for n in "$@"; do
    # shellcheck disable=SC2086
    (cd "$dir" && REACH=$n timeout 600 ./pan $PAN $panopts >"reach-$n.log" 2>&1)
    if grep -q 'errors: [1-9]' "$dir/reach-$n.log" && grep -q 'assertion violated.*reach' "$dir/reach-$n.log"; then
      report "$name reach $n" "$dir/reach-$n.log" PASS
    else
      report "$name reach $n" "$dir/reach-$n.log" FAIL "never reached"
    fi
  done
}

# live NAME MODEL "DEFS" CLAIM: an LTL property under weak fairness.
live() {
  local name=$1 model=$2 defs=$3 claim=$4
  local dir="$work/$name"
  wanted "$name" || return 0
  if ! build "$dir" "$model" "$defs" "-O2 -DMEMLIM=8192"; then
    report "$name" /dev/null FAIL "spin or cc failed: $dir"; return 0
  fi
  (cd "$dir" && timeout 600 ./pan $PAN -a -f -N "$claim" >pan.log 2>&1)
  if grep -q 'errors: 0' "$dir/pan.log" && complete_search "$dir/pan.log"; then
    report "$name" "$dir/pan.log" PASS
  else
    report "$name" "$dir/pan.log" FAIL "see $dir/pan.log"
  fi
}

# mutant NAME MODEL "DEFS" "EXPECTED VIOLATION": SPIN must find an error,
# and the replayed trail must print "VIOLATION: EXPECTED...".
mutant() {
  local name=$1 model=$2 defs=$3 expect=$4 ccflags=${5:-$MUTANT_CC}
  local dir="$work/$name"
  wanted "$name" || return 0
  if ! build "$dir" "$model" "-DNOCLAIM $defs" "$ccflags -DNOCLAIM"; then
    report "$name" /dev/null FAIL "spin or cc failed: $dir"; return 0
  fi
  (cd "$dir" && timeout 600 ./pan $PAN >pan.log 2>&1)
  if ! grep -q 'errors: [1-9]' "$dir/pan.log"; then
    report "$name" "$dir/pan.log" FAIL "not caught"; return 0
  fi
  # shellcheck disable=SC2086
  (cd "$dir" && spin -DNOCLAIM $defs -t "$model" >trail.txt 2>&1)
  if grep -qF "VIOLATION: $expect" "$dir/trail.txt"; then
    report "$name" "$dir/pan.log" PASS "trail: ${dir#"$work"/}/trail.txt"
  else
    report "$name" "$dir/pan.log" FAIL "caught, but not as \"$expect\": $dir/trail.txt"
  fi
}

# Channel hand-off (C11, C14, C3): 3 threads, 3 requests, x86-TSO buffers.
proof  channel channel.pml "" "" 1 2 3 4 5 6 7 8 9 10 11 12 13 14
mutant channel.MUTANT_STALE_FREE.overtake channel.pml "-DMUTANT_STALE_FREE -DNO_DESTROY" \
  "C11 overtake"
mutant channel.MUTANT_STALE_FREE.destroy channel.pml "-DMUTANT_STALE_FREE -DNO_SECOND" \
  "C3: destroy dropped a live queued request"
mutant channel.MUTANT_NO_ENQ_FENCE channel.pml "-DMUTANT_NO_ENQ_FENCE" "C14 lost wake-up"
mutant channel.MUTANT_RELEASE_STORE channel.pml "-DMUTANT_RELEASE_STORE" "C14 lost wake-up"
mutant channel.MUTANT_REQUEUE_HEAD channel.pml "-DMUTANT_REQUEUE_HEAD" "C11"
mutant channel.MUTANT_FUSED_NO_RECHECK channel.pml "-DMUTANT_FUSED_NO_RECHECK" "C14 lost wake-up"

# Register serving round (C12, C13, C14, C25): 3 threads, 2 CPUs, 2 waiters;
# the guard fallback, then the rseq magazines.
proof  registers.strand registers.pml "" "" 1 2 3 4 5 6 7 8 14
proof  registers.order registers.pml "-DORDER" "" 1 3 4 5 6 7 8 14
proof  registers.grow registers.pml "-DGROW" "" 1 2 3 4 5 6 7 8 10 14
proof  registers.rseq.strand registers.pml "-DRSEQ" "" 3 4 6 7 8 11 12 13 14
proof  registers.rseq.order registers.pml "-DRSEQ -DORDER" "" 3 4 6 7 8 11 12 13 14
proof  registers.rseq.grow registers.pml "-DRSEQ -DGROW" "" 3 4 6 7 8 10 11 12 14
# A cancel racing a channel hand-over (channel_hand_to): after its claim,
# the run given back; after its raise, the raise taken back with a round.
proof  registers.handover registers.pml "-DHANDOVER -DORDER" "" 15 16
proof  registers.handover.strand registers.pml "-DHANDOVER" "" 15 16
proof  registers.rseq.handover registers.pml "-DHANDOVER -DRSEQ -DORDER" "" 11 15 16
proof  registers.rseq.handover.strand registers.pml "-DHANDOVER -DRSEQ" "" 15 16
# ... and with the putter alone on its CPU, both waiters on the other.
proof  registers.handover.lone0 registers.pml "-DHANDOVER -DORDER -DLONE0" "" 15 16
proof  registers.rseq.handover.lone0 registers.pml "-DHANDOVER -DRSEQ -DORDER -DLONE0" "" \
  11 12 15 16
proof  registers.rseq.handover.lone0.strand registers.pml "-DHANDOVER -DRSEQ -DLONE0" "" 15 16
# A cancel of a request waiting for registers (lf_cancel: CAS, withdraw,
# round; the round drops a cancelled head, a grant lost to a cancel gives
# its run back).  About 40 M states and 70 s with rseq, 90 M and 190 s
# (4.5 GB) with the guard.
proof  registers.rseq.cancelq registers.pml "-DRSEQ -DORDER -DCANCELQ=1" "" 17 18
proof  registers.rseq.cancelq.bighead registers.pml "-DRSEQ -DORDER -DBIGHEAD -DCANCELQ=1" ""
proof  registers.cancelq registers.pml "-DORDER -DCANCELQ=1" "" 17 18
mutant registers.MUTANT_CANCEL_NO_ROUND registers.pml \
  "-DORDER -DBIGHEAD -DCANCELQ=1 -DMUTANT_CANCEL_NO_ROUND" "C13/C14"
mutant registers.rseq.MUTANT_CANCEL_NO_ROUND registers.pml \
  "-DRSEQ -DORDER -DBIGHEAD -DCANCELQ=1 -DMUTANT_CANCEL_NO_ROUND" "C13/C14"
mutant registers.MUTANT_CANCEL_DROPS_RUN registers.pml \
  "-DHANDOVER -DORDER -DMUTANT_CANCEL_DROPS_RUN" "C13/C14"
mutant registers.rseq.MUTANT_WITHDRAW_NO_ROUND registers.pml \
  "-DHANDOVER -DRSEQ -DORDER -DLONE0 -DMUTANT_WITHDRAW_NO_ROUND" "C13/C14"
mutant registers.MUTANT_SKIP_MAGAZINE registers.pml "-DMUTANT_SKIP_MAGAZINE" "C13/C14"
mutant registers.MUTANT_SILENT_SKIP registers.pml "-DMUTANT_SILENT_SKIP" "C13/C14"
mutant registers.MUTANT_PUT_NO_RECHECK registers.pml "-DMUTANT_PUT_NO_RECHECK" "C13/C14"
mutant registers.MUTANT_NO_RETURN_FENCE registers.pml "-DMUTANT_NO_RETURN_FENCE" "C13/C14"
mutant registers.MUTANT_SERVE_PLAIN_COUNT registers.pml "-DMUTANT_SERVE_PLAIN_COUNT" "C13/C14"
mutant registers.MUTANT_HEAD_SKIPS_QUEUE registers.pml "-DORDER -DMUTANT_HEAD_SKIPS_QUEUE" \
  "C12: a waiter was granted before an older one"
mutant registers.MUTANT_IGNORE_WAITERS registers.pml "-DORDER -DMUTANT_IGNORE_WAITERS" \
  "C12: a new request took registers" "-O2 -DSAFETY -DCOLLAPSE -DMEMLIM=8192"
mutant registers.rseq.MUTANT_SKIP_MAGAZINE registers.pml "-DRSEQ -DMUTANT_SKIP_MAGAZINE" "C13/C14"
mutant registers.rseq.MUTANT_NO_WAITER_FENCE registers.pml "-DRSEQ -DMUTANT_NO_WAITER_FENCE" \
  "C13/C14"
mutant registers.rseq.MUTANT_PUT_IGNORES_TIGHT registers.pml \
  "-DRSEQ -DMUTANT_PUT_IGNORES_TIGHT" "C13/C14"
mutant registers.rseq.MUTANT_DRAIN_NO_FENCE registers.pml "-DRSEQ -DMUTANT_DRAIN_NO_FENCE" \
  "a register is handed out twice"
mutant registers.rseq.MUTANT_NO_RETURN_FENCE registers.pml "-DRSEQ -DMUTANT_NO_RETURN_FENCE" \
  "C13/C14"
mutant registers.rseq.MUTANT_IGNORE_WAITERS registers.pml \
  "-DRSEQ -DORDER -DMUTANT_IGNORE_WAITERS" "C12: a new request took registers"

# Grant versus cancel (C20, C21, C10): one transfer rebound from A to B.
proof  cancel cancel.pml "" "" 1 2 3 4 5 6 7 8 9 10 11
mutant cancel.MUTANT_NO_GEN_CHECK cancel.pml "-DMUTANT_NO_GEN_CHECK" "C21: a cancel acted on a newer"
mutant cancel.MUTANT_NO_BINDING_RECHECK cancel.pml "-DMUTANT_NO_BINDING_RECHECK" "C21"
mutant cancel.MUTANT_FREE_NOW cancel.pml "-DMUTANT_FREE_NOW" "a node is used after its free"
mutant cancel.MUTANT_ONE_OWNER cancel.pml "-DMUTANT_ONE_OWNER" "a node is used after its free"
mutant cancel.MUTANT_UNPUBLISH_LATE cancel.pml "-DMUTANT_UNPUBLISH_LATE" "C10"

# Poll dispatch and its eventfd (C16, C29): the one-grant slot, 2 granters, 2 pollers.
proof  poll poll.pml "" "" 1 2 3 4 5
live   poll.live poll.pml "" c29
mutant poll.MUTANT_NO_RECHECK poll.pml "-DMUTANT_NO_RECHECK" "C29"
mutant poll.MUTANT_WRITE_BEFORE_STORE poll.pml "-DMUTANT_WRITE_BEFORE_STORE" "C29"

# The biased channel (mutual exclusion, C11, C14, C24, C23): the owner's
# plain stores of bias_held and bias_busy against the revokers' CAS and
# membarrier, x86-TSO.  Two foreign threads; then one, with the kept-run
# records, and with the bias unclaimed at the start; then the records with
# two.
proof  bias bias.pml "" "" 1 2 3 4 5 6 7 8 9 10 11 12 17
proof  bias.record bias.pml "-DRECORD -DONE_FOREIGN" "" 1 2 3 4 5 6 7 8 9 10 11 12 14 15 16
proof  bias.claim bias.pml "-DCLAIM -DRECORD -DONE_FOREIGN" "" 1 2 3 4 5 7 9 10 13 14 15 16
# The records with both foreign threads: 90 M states, 4.3 GB, about 100 s;
# no probes (the configurations above reach them).
proof  bias.record2 bias.pml "-DRECORD" ""
mutant bias.MUTANT_NO_MEMBARRIER bias.pml "-DMUTANT_NO_MEMBARRIER" \
  "mutual exclusion: two holders of the channel"
mutant bias.MUTANT_IGNORE_SEEN bias.pml "-DMUTANT_IGNORE_SEEN" \
  "channel_pass_on by a thread that does not hold the channel"
mutant bias.MUTANT_READ_BEFORE_REVOKE bias.pml "-DMUTANT_READ_BEFORE_REVOKE" \
  "mutual exclusion: two holders of the channel"
mutant bias.MUTANT_HOLDER_SKIPS_REVOKING bias.pml "-DMUTANT_HOLDER_SKIPS_REVOKING" \
  "the real protocol runs on a BIASED or REVOKING word"
mutant bias.MUTANT_HOLDER_SKIPS_REVOKING.lost bias.pml \
  "-DMUTANT_HOLDER_SKIPS_REVOKING -DNO_REAL_CHECK" "deadlock: a thread waits forever"
mutant bias.MUTANT_NO_BUSY_WAIT bias.pml "-DRECORD -DONE_FOREIGN -DMUTANT_NO_BUSY_WAIT" \
  "C23: a kept run is freed twice"

echo "formal: $((SECONDS - started)) s; work files in $work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
