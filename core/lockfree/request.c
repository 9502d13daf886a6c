/* SPDX-License-Identifier: MIT */
/*
 * Requests: submission (granted at once, or queued for the channel or for
 * registers), cancel (C20, C21), retiring a request whose routine returned,
 * ending a hold, and freeing a kept run (C23).
 */
#include "base/transfer.h"
#include "lockfree/bias.h"

/* A submission that took the channel and its registers: no node needed. */
static mapreg_status submit_granted(struct lf_adapter *adapter, struct request *req,
				    bool *granted)
{
	atomic_store_explicit(&req->state, NS_IN_PLACE, memory_order_relaxed);
	count_grant_in_place(adapter);
	*granted = true;
	return MAPREG_OK;
}

/* An asynchronous submission that must wait: for the channel or, holding it, for registers. */
static mapreg_status submit_queued(struct lf_pool *pool, struct lf_adapter *adapter,
				   struct request *req, bool holds_channel,
				   struct grant_list *granted)
{
	uint32_t state = holds_channel ? NS_WAIT_REGISTERS : NS_WAIT_CHANNEL;

	/* A waiter's channel is handed on by others: not the owner's alone. */
	if (holds_channel)
		bias_settle(adapter);
	struct lf_node *node = node_copy(req, state);

	if (node == NULL) {
		if (holds_channel)
			channel_pass_on(pool, adapter, granted);
		return MAPREG_NO_MEMORY;
	}
	PERTURB();
	if (holds_channel)
		registers_waiter_raise(pool);
	else
		count(pool, LF_CHANNEL_WAITS);			/* statistic */
	/* The linearization point: from here a cancel can find the node (C20). */
	PAUSE(PAUSE_SUBMIT_BEFORE_COMMIT);
	if (req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
		PAUSE(PAUSE_SUBMIT_COMMIT_FAILED);
		if (holds_channel)
			registers_waiter_withdraw(pool, granted);
		else
			count(pool, LF_CHANNEL_LEFT);
		/* A stale cancel may have loaded the pointer: RCU, not free(). */
		node_unpublish(node);
		node_free(node);		/* never queued */
		if (holds_channel)
			channel_pass_on(pool, adapter, granted);
		return MAPREG_CANCELLED;
	}
	if (holds_channel) {
		wait_for_registers(pool, node, granted);
		return MAPREG_OK;
	}
	wfcq_enqueue(&adapter->channel_queue, &adapter->channel_queue_tail, &node->queue_node);
	PERTURB();
	atomic_thread_fence(memory_order_seq_cst);	/* pairs with channel_pass_on */
	PERTURB();
	if (channel_take(adapter, CH_FREE) || channel_take(adapter, CH_PARKED))
		channel_pass_on(pool, adapter, granted);
	return MAPREG_OK;
}

/*
 * The channel and `nregs` registers now, if a FREE channel with an empty
 * queue (taking it overtakes nobody, C11) and registers nobody waits for
 * (C12) are there: the first register, or REGMAP_NONE (*holds_channel then
 * tells whether the channel was taken: the caller waits for registers with
 * it or passes it on).
 *
 * No RCU read-side section on this path: the caller's call keeps the
 * adapter alive, the register map lives as long as the pool, and what reads
 * nodes (channel_pass_on, serve) enters its own.
 */
static inline __attribute__((always_inline))
uint32_t take_now(struct lf_pool *pool, struct lf_adapter *adapter, uint32_t nregs,
		  bool *holds_channel, struct grant_list *others)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	*holds_channel = bias_mine(adapter, word) ? bias_take(pool, adapter, others)
						  : channel_take_free(pool, adapter, others);
	if (!*holds_channel)
		return REGMAP_NONE;
	return take_registers(pool, nregs, others);
}

/* A synchronous request or C8 hold refused (C8): the channel, if taken, passes on. */
static mapreg_status sync_refused(struct lf_pool *pool, struct lf_adapter *adapter,
				  bool holds_channel, struct grant_list *others)
{
	if (holds_channel)
		channel_pass_on(pool, adapter, others);
	count(pool, LF_SYNC_FAILURES);
	return MAPREG_INSUFFICIENT_RESOURCES;
}

mapreg_status lf_submit(struct mapreg_adapter *head, struct request *req, bool sync,
			       bool *granted, struct grant_list *others)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);
	bool holds_channel;
	uint32_t first = take_now(pool, adapter, req->nregs, &holds_channel, others);

	*granted = false;
	req->base = (mapreg_base){ first, req->nregs };
	/*
	 * Granted at once: no commit.  The request never waits, so no cancel
	 * can remove it; one that marks the transfer meanwhile came after the
	 * grant (C20: the routine runs), and xfer_finish drops its mark.
	 */
	if (first != REGMAP_NONE)
		return submit_granted(adapter, req, granted);
	if (!sync)
		return submit_queued(pool, adapter, req, holds_channel, others);
	return sync_refused(pool, adapter, holds_channel, others);
}

/*
 * A C8 hold granted: the run to the caller, the channel held SYNC.  `owned`:
 * bias_store found the word still BIASED after the owner's take (lf_hold's
 * fast path), so channel_hold need not read it again.
 */
static inline mapreg_status hold_granted(struct lf_adapter *adapter, uint32_t first,
					 uint32_t nregs, mapreg_base *base, bool owned)
{
	/*
	 * From the local, not *base: reading back the two halves just stored
	 * would be a load the store buffer cannot forward (a stall of its own).
	 */
	mapreg_base held = { first, nregs };

	*base = held;
	count_grant_in_place(adapter);
	if (owned)
		channel_hold_owned(adapter, held);
	else
		channel_hold(adapter, CH_SYNC, held);
	return MAPREG_OK;
}

/* The whole of lf_hold, from its start. */
static __attribute__((noinline))
mapreg_status hold_slow(struct mapreg_adapter *head, uint32_t nregs, mapreg_base *base,
			struct grant_list *others)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);
	bool holds_channel;
	uint32_t first = take_now(pool, adapter, nregs, &holds_channel, others);

	if (first == REGMAP_NONE)
		return sync_refused(pool, adapter, holds_channel, others);
	return hold_granted(adapter, first, nregs, base, false);
}

/* lf_hold once its owner holds the biased channel, HELD: registers past the magazine. */
static __attribute__((noinline))
mapreg_status hold_holding(struct lf_pool *pool, struct lf_adapter *adapter, uint32_t nregs,
			   mapreg_base *base, struct grant_list *others)
{
	uint32_t first = take_registers(pool, nregs, others);

	if (first == REGMAP_NONE)
		return sync_refused(pool, adapter, true, others);
	return hold_granted(adapter, first, nregs, base, false);
}

/*
 * The common case first, calling nothing: the owner of a biased channel
 * takes it (bias_take's FREE -> HELD) and a run from its CPU's magazine,
 * then holds it SYNC.  Every other case goes on out of line, by a tail
 * call, from where it left: hold_slow from the start (the word is no
 * longer BIASED if bias_store failed, so take_now uses the shared
 * protocol, as bias_take would), hold_holding with the channel held.
 * (The magazine's sequence still makes it save six registers: what it
 * keeps live across the sequence does not fit in the caller-saved ones.)
 */
mapreg_status lf_hold(struct mapreg_adapter *head, uint32_t nregs, mapreg_base *base,
		      struct grant_list *others)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);
	uint32_t first;

	if (!bias_owned(adapter) || bias_state(adapter) != BIAS_FREE ||
	    !bias_store(adapter, BIAS_HELD))
		return hold_slow(head, nregs, base, others);
	/* A count of 0 is no magazine's class: hold_holding's (C4). */
	if (anyone_waits_for_registers(pool) || pool->head.first_fit ||
	    !cache_take_fast(&pool->magazines, nregs, &first))
		return hold_holding(pool, adapter, nregs, base, others);
	return hold_granted(adapter, first, nregs, base, true);
}

bool lf_cancel(struct mapreg_adapter *head, struct request *req, uint32_t generation,
		      struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	bool cancelled = false;

	/*
	 * The node is freed only after a grace period that starts once its
	 * pointer is unpublished: a pointer loaded inside this section stays
	 * valid to the end of it.  A node of another generation is a newer
	 * submission's, made after this cancel read BUSY: not ours to cancel.
	 */
	rcu_enter();
	struct request *queued = atomic_load_explicit(&req->queued, memory_order_acquire);
	if (queued != NULL &&
	    atomic_load_explicit(&queued->generation, memory_order_relaxed) == generation) {
		struct lf_node *node = node_of(queued);
		uint32_t state = node_state(node);

		while (!cancelled && (state == NS_WAIT_CHANNEL || state == NS_WAIT_REGISTERS)) {
			if (!node_move(node, state, NS_CANCELLED)) {
				state = node_state(node);	/* handed on or granted */
				continue;
			}
			cancelled = true;
			node_unpublish(node);
			node_release_cancelled(node);	/* the queue's consumer frees it */
			if (state == NS_WAIT_CHANNEL) {
				count(pool, LF_CHANNEL_LEFT);
				break;
			}
			/*
			 * It may have been the head waiter: serve those behind
			 * it, then pass its channel on (the locked backend's
			 * order, so that both grant in the same order).
			 */
			registers_waiter_withdraw(pool, granted);
			channel_pass_on(pool, adapter_of(head), granted);
		}
		if (!cancelled && state == NS_GRANTED && FAULT(FAULT_CANCEL_GRANTED))
			cancelled = true;		/* claims it; the routine still runs */
	}
	if (cancelled)
		count(pool, LF_CANCELS);
	rcu_leave();
	return cancelled;
}

/* Ends a hold: registers back, then the channel on (C12: waiters first). */
static void release_all(struct lf_pool *pool, struct lf_adapter *adapter, struct regmap *map,
			mapreg_base base, struct grant_list *granted)
{
	registers_return(pool, map, base, granted);
	channel_pass_on(pool, adapter, granted);
}

/*
 * The routine returned: unpublish the node (a stale cancel then finds no
 * copy, and one that loaded the pointer earlier finds NS_DONE) and free it
 * after a grace period.  A request granted at submission has no node.
 */
void lf_retire(struct request *req)
{
	if (!req->owned)
		return;
	atomic_store_explicit(&req->state, NS_DONE, memory_order_release);
	node_unpublish_done(node_of(req));
	node_free(node_of(req));
}

void lf_keep_channel(struct mapreg_adapter *head, mapreg_base base)
{
	channel_hold(adapter_of(head), CH_KEPT, base);
}

static const unsigned int held_by[] = {
	[HOLDER_SYNC] = CH_SYNC,
	[HOLDER_KEPT] = CH_KEPT,
};

static __attribute__((noinline))
mapreg_status end_hold_slow(struct mapreg_adapter *head, enum holder holder, mapreg_base base,
			    bool keep_run, struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);

	if (holder == HOLDER_SYNC && keep_run)
		return channel_end_sync_keeping_run(pool, adapter, &base, granted)
		       ? MAPREG_OK : MAPREG_INVALID_PARAMETER;		/* C24 */
	/* A routine's request holds HELD; a C8 or KEEP_OBJECT holder takes it back. */
	if (!holder_is_request(holder)) {
		if (!channel_take(adapter, held_by[holder]))
			return MAPREG_INVALID_PARAMETER;	/* C22, C24 */
		base = channel_held_run(adapter);
	}
	/*
	 * A caller's own call keeps the adapter alive to its end (C28), the
	 * submitter's included; the runner of a routine granted after it waited
	 * is no caller of this adapter's (a free on another adapter granted
	 * it), and the adapter may be destroyed the moment its channel is
	 * FREE: the read-side section makes destroy wait for our last look at
	 * it (lf_adapter_destroy).
	 */
	if (holder == HOLDER_REQUEST)
		rcu_enter();
	struct regmap *map = map_of(pool);
	if (keep_run) {
		registers_keep(adapter, map, base);
		channel_pass_on(pool, adapter, granted);
	} else {
		release_all(pool, adapter, map, base, granted);
	}
	if (holder == HOLDER_REQUEST)
		rcu_leave();
	return MAPREG_OK;
}

/*
 * The common case first, calling nothing: the owner ends its biased C8
 * hold and keeps the run (channel_end_sync_keeping_run's biased half).  Anything
 * else, a failed bias_store included (the word is then no longer BIASED),
 * is end_hold_slow's, from the start.
 */
mapreg_status lf_end_hold(struct mapreg_adapter *head, enum holder holder,
			  mapreg_base base, bool keep_run, struct grant_list *granted)
{
	struct lf_adapter *adapter = adapter_of(head);

	if (holder == HOLDER_SYNC && keep_run && bias_owned(adapter) &&
	    bias_state(adapter) == BIAS_SYNC &&
	    bias_end_sync_keeping_run(adapter, channel_held_run(adapter)))
		return MAPREG_OK;
	return end_hold_slow(head, holder, base, keep_run, granted);
}

/*
 * A kept run's record claimed: its registers go back.  Out of line, so that
 * lf_free_map_registers's common case (the owner's plain claim, a put in
 * its CPU's magazine) calls nothing.
 */
static __attribute__((noinline))
mapreg_status free_claimed_run(struct lf_pool *pool, mapreg_base base, struct grant_list *granted)
{
	registers_return_slow(pool, map_of(pool), base, granted);
	return MAPREG_OK;
}

/* Not the owner's: no plain claim may race our CAS. */
static __attribute__((noinline))
mapreg_status free_run_unbiased(struct mapreg_adapter *head, mapreg_base base,
				_Atomic uint64_t *run, uint64_t kept, struct grant_list *granted)
{
	bias_records_revoke(adapter_of(head));
	/* Acquire pairs with registers_keep; one freer wins (double free). */
	PERTURB();
	if (!atomic_compare_exchange_strong_explicit(run, &kept, 0, memory_order_acquire,
						     memory_order_relaxed))
		return MAPREG_INVALID_PARAMETER;			/* C23 */
	struct lf_pool *pool = pool_of(head->pool);

	registers_return(pool, map_of(pool), base, granted);	/* the magazine first */
	return MAPREG_OK;
}

mapreg_status lf_free_map_registers(struct mapreg_adapter *head, mapreg_base base,
				    struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct regmap *map = map_of(pool);
	uint32_t registers = regmap_registers(map);

	if (base.first >= registers || base.count > registers - base.first)
		return MAPREG_INVALID_PARAMETER;			/* C23 */
	_Atomic uint64_t *run = regmap_run(map, base.first);
	uint64_t kept = RUN_RECORD(head->id, base.count | RUN_KEPT);

	if (FAULT(FAULT_FOREIGN_FREE)) {
		uint64_t seen = atomic_load_explicit(run, memory_order_relaxed);
		if ((uint32_t)seen == (base.count | RUN_KEPT))
			kept = seen;
	}
	int claimed = bias_claim_record(adapter_of(head), run, kept);

	if (claimed < 0)
		return free_run_unbiased(head, base, run, kept, granted);
	if (!claimed)
		return MAPREG_INVALID_PARAMETER;			/* C23 */
	if (!pool->head.first_fit && cache_put_fast(&pool->magazines, base.first, base.count))
		return MAPREG_OK;	/* nobody can be stranded by it (cache.h) */
	return free_claimed_run(pool, base, granted);
}
