/* SPDX-License-Identifier: MIT */
/*
 * The biased channel: an adapter used by one thread alone costs that thread
 * no locked instruction to take and give back its channel.
 *
 * While the channel word is BIASED, the channel belongs to one thread, its
 * owner (`bias_owner`, claimed by the first thread that takes it), and its
 * state is `bias_held` (FREE, HELD, SYNC), which only the owner writes, with
 * plain stores.  Any other use of the channel (another thread's request,
 * end of a hold or destroy; or the owner's own request that must queue or
 * wait for registers or is made while its C8 hold is open, a KEEP_OBJECT
 * hold) first revokes the bias, for good (bias.c): the word goes BIASED ->
 * REVOKING -> the state `bias_held` says, and the protocol of channel.c runs
 * from then on.
 *
 * Invariants:
 *  - while the word is BIASED its queue is empty and nobody but the owner
 *    holds the channel: nothing is queued, and no operation of channel.c
 *    runs, before the word has left BIASED;
 *  - while `bias_records` is 1, only the owner claims records naming the
 *    adapter (below); it is revoked apart from the channel;
 *  - the word never returns to BIASED;
 *  - every store of the owner to `bias_held` changes its value, and is
 *    followed by a look at the word (bias_store): if the word left BIASED,
 *    the owner learns from `bias_seen` whether the revoker read this store
 *    or the one before, and so whether the real word already says it.
 *
 * Why a plain store suffices (an asymmetric Dekker pair, as liburcu-memb's
 * read side against synchronize_rcu): the owner stores `bias_held`, then
 * loads the word, with only a compiler barrier between them; the revoker
 * CASes the word to REVOKING, runs fence_heavy() (membarrier: a full barrier
 * on every CPU running one of our threads), then loads `bias_held`.  If the
 * owner's load saw BIASED, its store came before the barrier the membarrier
 * made it execute (or before it was last switched out), so the revoker reads
 * that store or a later one.  If the owner's load missed BIASED, it waits
 * for the revoker to publish the real word and reconciles (bias.c).  The
 * model is formal/bias.pml.
 *
 * What it assumes, and costs.  A thread is its thread pointer: one owner
 * per live thread (threads that share a thread pointer, as green threads
 * switching %fs do, are not supported), and a thread that reuses a dead
 * owner's pointer inherits its bias, safely, since the dead thread's stores
 * were made visible at its exit.  No call is async-signal-safe (mapreg.h):
 * a signal handler calling in on the owner's adapter would break the
 * one-store-then-check rule.  A revocation makes others wait: the owner
 * that finds the word REVOKING, and another revoker, wait for the revoker
 * to publish; a records' revoker waits for the owner's claim in progress.
 * The waits spin, then yield; with real-time priorities, a revoker of lower
 * priority preempted on the CPU of a higher-priority waiter would not run
 * again, and the waiter would not return (priority inversion, as with any
 * lock).  The owner's own request that must wait for registers ends the
 * bias too, and a pool-wide register shortage makes every request wait.
 */
#ifndef MAPREG_LOCKFREE_BIAS_H
#define MAPREG_LOCKFREE_BIAS_H

#include "lockfree/lockfree.h"

enum bias_held { BIAS_FREE, BIAS_HELD, BIAS_SYNC };

/*
 * What the owner's fast paths call only when the bias is being revoked or
 * claimed: out of line even under LTO, so that those paths stay leaves with
 * no registers to save (their spin-then-yield waits would need them).
 */
#define BIAS_SLOW __attribute__((noinline, cold))

/* This thread, as an owner: its thread pointer, unique among live threads. */
static inline uintptr_t bias_self(void)
{
	return (uintptr_t)__builtin_thread_pointer();
}

/*
 * Whether new adapters start biased: where the heavy fence is available, and
 * unless MAPREG_NO_BIAS is set to something other than 0 (A/B runs, and the
 * test suites of the shared protocol alone).
 */
bool bias_available(void);

/* The first thread to take an unclaimed BIASED channel becomes its owner. */
BIAS_SLOW bool bias_claim(struct lf_adapter *adapter);

/* Ends the bias if the word is BIASED (any thread), and waits out a revoker. */
BIAS_SLOW void bias_revoke(struct lf_adapter *adapter);

/* The bias is over when this returns (inline: the unbiased case is a load). */
static inline void bias_settle(struct lf_adapter *adapter)
{
	if (CH_STATE(atomic_load_explicit(&adapter->channel, memory_order_relaxed)) >= CH_BIASED)
		bias_revoke(adapter);
}

/* The word left BIASED: waits for the real word; returns what the revoker read. */
BIAS_SLOW unsigned int bias_revoked_seen(struct lf_adapter *adapter);

/* `word` is BIASED and the caller owns it (or has just claimed it). */
static inline bool bias_mine(struct lf_adapter *adapter, uint64_t word)
{
	if (CH_STATE(word) != CH_BIASED)
		return false;
	uintptr_t owner = atomic_load_explicit(&adapter->bias_owner, memory_order_relaxed);

	if (__builtin_expect(owner == bias_self(), 1))
		return true;
	return owner == 0 && bias_claim(adapter);
}

/*
 * The channel is BIASED and the caller its owner: the fast paths' test,
 * which claims nothing (bias_mine claims an unowned bias).  Relaxed: while
 * the word is BIASED the owner reads only its own stores (bias_held,
 * holder_run); what decides is bias_store's look at the word after its
 * store, as for bias_mine.
 */
static inline bool bias_owned(struct lf_adapter *adapter)
{
	return CH_STATE(atomic_load_explicit(&adapter->channel, memory_order_relaxed)) ==
		       CH_BIASED &&
	       atomic_load_explicit(&adapter->bias_owner, memory_order_relaxed) == bias_self();
}

/* The owner's view of its channel (its own stores: relaxed). */
static inline unsigned int bias_state(struct lf_adapter *adapter)
{
	return atomic_load_explicit(&adapter->bias_held, memory_order_relaxed);
}

/*
 * The owner's transition of the channel to `to`: true if it is in effect,
 * false if the bias was revoked before it (the caller then makes it in the
 * shared protocol).  In effect: the word is still BIASED after the store, or
 * the revoker read this store (`bias_seen`), so that the real word says it.
 * The revoker read this store or the one before (bias.c), and consecutive
 * stores differ, so `bias_seen` tells which.
 *
 * Release: a revoker that reads `to` (acquire) also reads what the owner
 * wrote before it (holder_run, grants_in_place).  The compiler barrier
 * keeps the load after the store in program order; the hardware may still
 * satisfy the load first (store buffer): the revoker's fence_heavy() is the
 * other half (above).  Relaxed load: the pair orders it, not the load.
 */
static inline bool bias_store(struct lf_adapter *adapter, unsigned int to)
{
	PERTURB();	/* widens the window after the caller's look at the word */
	atomic_store_explicit(&adapter->bias_held, to, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	PERTURB();
	if (__builtin_expect(CH_STATE(atomic_load_explicit(&adapter->channel,
							   memory_order_relaxed)) == CH_BIASED, 1))
		return true;
	return bias_revoked_seen(adapter) == to;
}

/*
 * The owner takes its channel (FREE -> HELD): true if it holds it, biased
 * or, revoked meanwhile, in the real word.  Its queue is empty while biased,
 * so taking overtakes nobody (C11).  Held already (a request made while
 * the owner's own C8 hold is open) and the bias ends: the request queues,
 * as on any channel.
 */
static inline bool bias_take(struct lf_pool *pool, struct lf_adapter *adapter,
			     struct grant_list *granted)
{
	if (bias_state(adapter) == BIAS_FREE) {
		if (bias_store(adapter, BIAS_HELD))
			return true;
	} else {
		bias_revoke(adapter);
	}
	return channel_take_free(pool, adapter, granted);
}

/*
 * The owner gives its channel back (HELD -> FREE): true if done; false if
 * the bias was revoked while it held the channel, which it then holds in the
 * real word and passes on (channel_pass_on).
 */
static inline bool bias_release(struct lf_adapter *adapter)
{
	return bias_store(adapter, BIAS_FREE);
}

/*
 * Kept-run records (C23) have a bias of their own, `bias_records`, so that
 * completions on another CPU end only it, and the channel stays biased:
 * 1 while the owner claims records naming its adapter with plain loads and
 * stores, 2 while a thread ends that (bias_records_revoke), 0 for good
 * after.  Records are written by whoever keeps a run (the channel's
 * holder), but claimed only by a free through the adapter: another thread's
 * free revokes first, and the revoker waits for `bias_busy` to fall after
 * its membarrier, so that its compare-and-swap cannot claim a record the
 * owner's section is claiming: the asymmetric pair of bias_store, with
 * `bias_busy` for `bias_held` and `bias_records` for the word.
 */
BIAS_SLOW void bias_records_revoke(struct lf_adapter *adapter);

/*
 * The owner frees a run kept through its adapter: 1 if it claimed the record
 * `run` (it said `kept`), 0 if the record says otherwise (a double or
 * foreign free), -1 if the records are not biased to us (the caller revokes
 * and uses its compare-and-swap).
 */
static inline int bias_claim_record(struct lf_adapter *adapter, _Atomic uint64_t *run,
				    uint64_t kept)
{
	int claimed = -1;

	/* Relaxed looks: they decide nothing the re-check below does not. */
	if (atomic_load_explicit(&adapter->bias_records, memory_order_relaxed) != 1 ||
	    atomic_load_explicit(&adapter->bias_owner, memory_order_relaxed) != bias_self())
		return -1;
	/*
	 * Relaxed store and load: the revoker's fence_heavy() orders them, as
	 * bias_store's (the store before the re-check, for the revoker's look).
	 */
	atomic_store_explicit(&adapter->bias_busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	PERTURB();
	if (__builtin_expect(atomic_load_explicit(&adapter->bias_records,
						  memory_order_relaxed) == 1, 1)) {
		/* Acquire pairs with registers_keep's release, as the CAS does. */
		claimed = atomic_load_explicit(run, memory_order_acquire) == kept;
		PERTURB();	/* the window a revoker's wait for bias_busy covers */
		if (claimed)
			atomic_store_explicit(run, 0, memory_order_relaxed);
	}
	/* Release: the record's store before a revoker's look at `bias_busy`. */
	atomic_store_explicit(&adapter->bias_busy, 0, memory_order_release);
	return claimed;
}

/*
 * The run of a hold about to begin, for channel_held_run.  Relaxed: the
 * store that begins the hold (bias_held, or the channel word) publishes it.
 */
static inline void channel_hold_set_run(struct lf_adapter *adapter, mapreg_base base)
{
	atomic_store_explicit(&adapter->holder_run, base.first | (uint64_t)base.count << 32,
			      memory_order_relaxed);
}

/*
 * channel_hold(SYNC) by the owner of a channel that bias_store found still
 * BIASED after its take: the word need not be read again first.
 */
static inline void channel_hold_owned(struct lf_adapter *adapter, mapreg_base base)
{
	channel_hold_set_run(adapter, base);
	if (!bias_store(adapter, BIAS_SYNC))
		channel_hold_shared(adapter, CH_SYNC, CH_BIASED);
}

/*
 * A hold (KEPT, SYNC) begins: its run, then the state with the hold count
 * raised (the channel word), released together by the store; the owner's
 * biased SYNC hold is a store to bias_held (inline: the C8 fast path).
 * Only the owner holds a biased channel.
 */
static inline void channel_hold(struct lf_adapter *adapter, unsigned int state,
				mapreg_base base)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	if (CH_STATE(word) >= CH_BIASED && state == CH_SYNC) {
		channel_hold_owned(adapter, base);
		return;
	}
	channel_hold_set_run(adapter, base);
	channel_hold_shared(adapter, state, word);
}

/*
 * The owner ends its biased C8 hold (bias_state is BIAS_SYNC), whose run is
 * `held` (channel_held_run), and keeps the run (channel_end_sync_keeping_run,
 * lf_end_hold): true if done; false if the bias was revoked first, and the
 * caller goes on in the real word.
 */
static inline bool bias_end_sync_keeping_run(struct lf_adapter *adapter, mapreg_base held)
{
	if (!bias_store(adapter, BIAS_FREE))
		return false;
	/* The map looked up after the store: nothing to keep across its slow path. */
	registers_keep(adapter, map_of(pool_of(adapter->head.pool)), held);
	return true;
}

#endif /* MAPREG_LOCKFREE_BIAS_H */
