/* SPDX-License-Identifier: MIT */
/*
 * The biased channel's slow side (bias.h): claiming an adapter, and ending
 * the bias of its channel or of its kept-run records.  Neither is on a path
 * that repeats: a bias is claimed once and revoked at most once per adapter.
 */
#include <sched.h>
#include <stdlib.h>

#include "lockfree/bias.h"

static bool available;
static pthread_once_t available_once = PTHREAD_ONCE_INIT;

/*
 * x86-64 only: the protocol is the membarrier pattern liburcu uses on every
 * architecture, but formal/bias.pml checks it under x86-TSO, and no other
 * architecture runs the tests here.
 */
static void available_check(void)
{
#ifdef __x86_64__
	const char *off = getenv("MAPREG_NO_BIAS");

	available = fence_heavy_ready() && (off == NULL || *off == '\0' || *off == '0');
#endif
}

bool bias_available(void)
{
	pthread_once(&available_once, available_check);
	return available;
}

/*
 * Relaxed: the owner's identity orders nothing.  A thread that loses (or
 * reads 0 late) is not the owner and revokes with fence_heavy(), which is
 * right whoever won.
 */
bool bias_claim(struct lf_adapter *adapter)
{
	uintptr_t none = 0;

	return atomic_compare_exchange_strong_explicit(&adapter->bias_owner, &none, bias_self(),
						       memory_order_relaxed, memory_order_relaxed);
}

/* Waits for another thread's few instructions, which a preemption may stretch. */
static void pause_briefly(unsigned int *spins)
{
	if (++*spins < 128)
		caa_cpu_relax();
	else
		sched_yield();
}

/*
 * A revoker does a CAS, a membarrier and three stores: it is not long gone,
 * unless preempted in between; then we yield to it.  (A revoker of lower
 * real-time priority preempted on our CPU would not get it back: bias.h.)
 */
static uint64_t wait_while_revoking(struct lf_adapter *adapter)
{
	unsigned int spins = 0;
	uint64_t word;

	/* Acquire: the real word, and bias_seen before it (bias_revoke). */
	while (CH_STATE(word = atomic_load_explicit(&adapter->channel,
						    memory_order_acquire)) == CH_REVOKING)
		pause_briefly(&spins);
	return word;
}

unsigned int bias_revoked_seen(struct lf_adapter *adapter)
{
	wait_while_revoking(adapter);
	return atomic_load_explicit(&adapter->bias_seen, memory_order_relaxed);
}

/*
 * The word goes BIASED -> REVOKING (one revoker wins the CAS; the others
 * wait for it), then to the state the owner left in `bias_held`: FREE, HELD
 * (the owner holds the channel, and passes it on in the real word when it
 * gives it back: bias_release), or SYNC (a C8 hold, whose run the owner
 * wrote before it; a new hold count, as channel_hold gives one).
 *
 * The CAS is seq_cst and fence_heavy() follows it: every owner load of the
 * word after the fence sees REVOKING, and every owner store to `bias_held`
 * before it is visible to our load after it (bias.h).  The owner revoking
 * its own bias needs no fence: it reads its own last store.  `bias_seen`
 * goes before the release store of the real word, which the owner's
 * acquire load (wait_while_revoking) pairs with.
 */
void bias_revoke(struct lf_adapter *adapter)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	if (CH_STATE(word) == CH_BIASED) {
		PERTURB();
		if (atomic_compare_exchange_strong_explicit(&adapter->channel, &word,
							    CH_WITH(word, CH_REVOKING),
							    memory_order_seq_cst,
							    memory_order_relaxed)) {
			if (atomic_load_explicit(&adapter->bias_owner, memory_order_relaxed) !=
			    bias_self())
				fence_heavy();
			PAUSE(PAUSE_BIAS_REVOKING);
			/* Acquire: the run a SYNC store published (bias_store). */
			unsigned int held = atomic_load_explicit(&adapter->bias_held,
								 memory_order_acquire);
			uint64_t real = held == BIAS_SYNC ? CH_WITH(word + CH_ONE_HOLD, CH_SYNC)
				      : CH_WITH(word, held == BIAS_HELD ? CH_HELD : CH_FREE);

			atomic_store_explicit(&adapter->bias_seen, held, memory_order_relaxed);
			atomic_store_explicit(&adapter->channel, real, memory_order_release);
			return;
		}
	}
	wait_while_revoking(adapter);
}

/*
 * Ends the records' bias (bias.h): 1 -> 2 by CAS (one revoker; the others
 * wait for it), then, unless we are the owner, fence_heavy(): every owner
 * claim after it sees 2 and uses the CAS; one before it has raised
 * `bias_busy`, visible to us now, and we wait for it to fall (acquire: its
 * store to the record before our CAS on the record).  Then 0, for good.
 */
void bias_records_revoke(struct lf_adapter *adapter)
{
	unsigned int biased = 1, spins = 0;

	/* Acquire: the revoker's wait, and so the owner's last claim, before us. */
	if (atomic_load_explicit(&adapter->bias_records, memory_order_acquire) == 0)
		return;
	PERTURB();
	if (atomic_compare_exchange_strong_explicit(&adapter->bias_records, &biased, 2,
						    memory_order_seq_cst, memory_order_relaxed)) {
		if (atomic_load_explicit(&adapter->bias_owner, memory_order_relaxed) !=
		    bias_self())
			fence_heavy();
		while (atomic_load_explicit(&adapter->bias_busy, memory_order_acquire) != 0)
			pause_briefly(&spins);
		atomic_store_explicit(&adapter->bias_records, 0, memory_order_release);
		return;
	}
	/* Acquire, as above: the winner's wait before our CAS on a record. */
	while (atomic_load_explicit(&adapter->bias_records, memory_order_acquire) != 0)
		pause_briefly(&spins);
}

#ifdef MAPREG_FAULT_INJECTION
bool mapreg_adapter_biased(mapreg_adapter *head)
{
	return CH_STATE(atomic_load_explicit(&adapter_of(head)->channel,
					     memory_order_relaxed)) == CH_BIASED;
}

unsigned int mapreg_adapter_bias_held(mapreg_adapter *head)
{
	return atomic_load_explicit(&adapter_of(head)->bias_held, memory_order_relaxed);
}
#endif
