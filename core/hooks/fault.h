/* SPDX-License-Identifier: MIT */
/*
 * Test-only fault injection.  The stress self-tests and the fuzzers must show
 * that each of their checks catches the bug it exists for; these hooks plant
 * those bugs.  They are compiled in only when MAPREG_FAULT_INJECTION is
 * defined (the `mapreg_faulty` static library, never installed); in the real
 * library FAULT() is the constant false and the hooks vanish.
 */
#ifndef MAPREG_FAULT_H
#define MAPREG_FAULT_H

enum mapreg_fault {
	FAULT_CHANNEL_OVERTAKE,		/* C11: the channel skips its oldest waiter */
	FAULT_REGISTER_OVERTAKE,	/* C12: take registers past waiters */
	FAULT_LOST_WAKEUP,		/* C14: freeing a kept run serves nobody */
	FAULT_DOUBLE_GRANT,		/* registers granted without being marked held */
	FAULT_CANCEL_GRANTED,		/* C20: cancel claims a granted request */
	FAULT_FOREIGN_FREE,		/* C23: free_map_registers skips the owner check */
	FAULT_STATS_SKEW,		/* C27: a grant is not counted */
	/*
	 * C11, C3: the channel protocol before its fix: a FREE channel is
	 * taken without looking at the queue, so a request that queued behind
	 * a stale FREE decision is overtaken (or dropped by destroy).
	 */
	FAULT_FREE_CHANNEL_UNCHECKED,
	FAULT_BOUNDARY_IGNORED,		/* C30: runs placed across boundaries */
	FAULT_COUNT
};

/*
 * Test-only pause points: a regression test runs code of its own there, on
 * the thread that reached them, to replay a race deterministically.
 */
enum mapreg_pause {
	PAUSE_CANCEL_LOADED_STATE,	/* xfer_cancel_needs_backend, after a load */
	PAUSE_CANCEL_BEFORE_MARK,	/* xfer_cancel_needs_backend, before its CAS */
	PAUSE_PASS_ON_DECIDED,		/* channel_pass_on, decided FREE/PARKED, not stored */
	PAUSE_PASS_ON_RELEASED,		/* channel_pass_on, stored, before its fence */
	PAUSE_SUBMIT_BEFORE_COMMIT,	/* submit_queued, node published, not committed */
	PAUSE_SUBMIT_COMMIT_FAILED,	/* submit_queued, commit failed (IDLE), not unpublished */
	PAUSE_BIAS_REVOKING,		/* bias_revoke, REVOKING and fenced, bias_held not read */
	PAUSE_HAND_TO_CLAIMED,		/* channel_hand_to, registers claimed, node not moved */
};

#ifdef MAPREG_FAULT_INJECTION
#include <stdatomic.h>
#include <stdbool.h>

/* Bit i set: fault i is active.  Relaxed: tests set it while quiescent. */
extern atomic_uint mapreg_fault_mask;
void mapreg_fault_set(unsigned int mask);
#define FAULT(which) \
	((atomic_load_explicit(&mapreg_fault_mask, memory_order_relaxed) >> (which)) & 1u)

/*
 * Not a fault: a placement mode for the differential test.  The lock-free
 * pool skips its magazines and per-CPU hints, so that it places runs
 * first-fit exactly as the locked backend does.  Call it on a new pool,
 * before any request (api/api.c).
 */
#include <mapreg.h>
void mapreg_pool_place_first_fit(mapreg_pool *pool);

/*
 * Not a fault either: the lock-free pool's adapters start unbiased
 * (lockfree/bias.h), so that a test replaying a race of the shared channel
 * protocol from one thread reaches its pause points.  Call it on a new
 * pool, before its adapters are created (api/api.c).
 */
void mapreg_pool_unbiased(mapreg_pool *pool);

/*
 * For tests replaying races of the biased channel, lock-free adapters only:
 * whether the channel word is BIASED, and the owner's bias_held (bias.h).
 */
bool mapreg_adapter_biased(mapreg_adapter *adapter);
unsigned int mapreg_adapter_bias_held(mapreg_adapter *adapter);

/* Called at every pause point while set (tests set it while quiescent). */
extern void (*mapreg_pause_hook)(enum mapreg_pause where);
#define PAUSE(where) do { if (mapreg_pause_hook != NULL) mapreg_pause_hook(where); } while (0)
#else
#define FAULT(which) 0
#define PAUSE(where) do { } while (0)
#endif

#if defined(MAPREG_FAULT_INJECTION) || defined(MAPREG_RSEQ_ASSUMABLE)
/*
 * For counting instructions under callgrind, which has no rseq: makes the
 * library use its restartable sequences as if the calling thread were on
 * CPU 0 with rseq registered (it writes 0 into the thread's rseq area).
 * The sections run as plain code, and the fences (rseq_fence, fence_heavy)
 * do nothing: correct only single-threaded.  Call it before the first pool
 * is created (base/rseq.c).  Compiled in the fault-hook
 * build and, alone, in the counting build (MAPREG_RSEQ_ASSUMABLE: the real
 * library's code, which tools/count.py counts).
 */
void mapreg_rseq_assume_cpu0(void);
#endif

#endif /* MAPREG_FAULT_H */
