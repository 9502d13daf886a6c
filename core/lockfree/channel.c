/* SPDX-License-Identifier: MIT */
/*
 * The adapter's channel (C11, C14, C3): taken by CAS, handed to queued
 * requests in order by whoever holds it for nobody (channel_pass_on), and
 * freed only in a way that no new request overtakes a queued one.  The
 * proofs are in core/README.md ("Channels").  A BIASED channel is its
 * owner's (bias.h): each entry point below either is the owner's biased
 * transition or revokes the bias before it touches the word or the queue.
 */
#include "lockfree/bias.h"

/*
 * Takes the channel if it is in state `from`.  The relaxed look first spares
 * a locked instruction when it is not (the usual case for an enqueuer); the
 * enqueuer's Dekker read of the channel follows its seq_cst fence either way.
 */
bool channel_take(struct lf_adapter *adapter, unsigned int from)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	if (from == CH_SYNC && bias_mine(adapter, word)) {	/* ending a biased C8 hold */
		if (bias_state(adapter) != BIAS_SYNC)
			return false;				/* C24 */
		if (bias_store(adapter, BIAS_HELD))
			return true;
		word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);
	} else if (CH_STATE(word) >= CH_BIASED) {
		if (from == CH_KEPT)
			return false;		/* C24: a biased channel has no KEPT hold */
		bias_revoke(adapter);
		word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);
	}
	if (CH_STATE(word) != from)
		return false;
	PERTURB();
	return atomic_compare_exchange_strong_explicit(&adapter->channel, &word,
						       CH_WITH(word, CH_HELD),
						       memory_order_acq_rel,
						       memory_order_relaxed);
}

/*
 * The holder's release of the channel as `state` (FREE or PARKED): a seq_cst
 * exchange, which is both the release of our use of the channel to the next
 * taker and our half of the Dekker pair with the enqueuer (which exchanges
 * the tail, links, fences, then reads the channel): one locked instruction
 * where a store and a fence were two.  With the seq_cst load of the link the
 * caller makes next, if we miss its link its fence follows our exchange in
 * the single order, and its channel read sees our release.  The holder alone
 * writes a held word, so the relaxed load reads our own counts.
 */
static void channel_release(struct lf_adapter *adapter, unsigned int state)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	atomic_exchange_explicit(&adapter->channel, CH_WITH(word, state), memory_order_seq_cst);
}

/*
 * After releasing the channel as `state`, with `owed` the link an enqueuer
 * may still owe us: true if we are done (nothing was linked, or another
 * thread took the channel, and with it this duty); false if we took it back
 * to serve what was linked meanwhile.
 */
static bool channel_released(struct lf_adapter *adapter, unsigned int state,
			     struct cds_wfcq_node *owed)
{
	PAUSE(PAUSE_PASS_ON_RELEASED);
	PERTURB();
	/*
	 * TSan: `owed` may be a node we never dequeued; its enqueuer released
	 * it before linking it (rcu.h), and we reached it through that link.
	 */
	tsan_acquire(owed);
	if (wfcq_link_sc(owed) == NULL)
		return true;	/* empty, or its enqueuer will try the channel */
	return !channel_take(adapter, state);
}

/*
 * Hands the channel, held by the caller on nobody's behalf, to `node`, just
 * dequeued.  False if the node was cancelled first (the caller frees it).
 *
 * The node takes its registers at once if nobody waits for them, as a
 * submission that finds the channel free does (take_registers, C12); only
 * if it cannot does it wait for them.  Raising waiting_registers for a
 * request that can be served at once would tighten the magazines (cache.h)
 * and send every CPU's frees to the bitmap for as long as the pool stays
 * tight: a shared adapter's hand-overs alone would do it in a pool with
 * registers to spare.  A cancel that wins the node after the claim gets
 * the run given back as any free gives it (serving whoever waits, C13);
 * one that wins it after the raise gets the raise taken back, with the
 * round it owes the other waiters (registers_waiter_withdraw).
 */
static bool channel_hand_to(struct lf_pool *pool, struct lf_node *node,
			    struct grant_list *granted)
{
	uint32_t nregs = node->request.nregs;
	uint32_t first = take_registers(pool, nregs, granted);

	if (first != REGMAP_NONE) {
		PAUSE(PAUSE_HAND_TO_CLAIMED);
		PERTURB();
		if (!node_move(node, NS_WAIT_CHANNEL, NS_GRANTED)) {
			registers_return(pool, map_of(pool), (mapreg_base){ first, nregs },
					 granted);
			return false;
		}
		count(pool, LF_CHANNEL_LEFT);
		node->request.base = (mapreg_base){ first, nregs };
		grant(pool, node, granted);
		return true;
	}
	PERTURB();
	registers_waiter_raise(pool);
	if (!node_move(node, NS_WAIT_CHANNEL, NS_WAIT_REGISTERS)) {
		registers_waiter_withdraw(pool, granted);
		return false;
	}
	count(pool, LF_CHANNEL_LEFT);
	wait_for_registers(pool, node, granted);
	return true;
}

/*
 * The channel queue's dequeue, by its one consumer, the channel's holder.
 * The seam of FAULT_CHANNEL_OVERTAKE: the head goes last when its successor
 * is linked (so that dequeuing that successor cannot block).
 */
static struct cds_wfcq_node *channel_dequeue(struct lf_adapter *adapter)
{
	struct cds_wfcq_node *qnode = wfcq_dequeue(&adapter->channel_queue,
						   &adapter->channel_queue_tail);

	if (FAULT(FAULT_CHANNEL_OVERTAKE) && qnode != NULL && qnode != CDS_WFCQ_WOULDBLOCK &&
	    wfcq_link(&adapter->channel_queue.node) != NULL) {
		wfcq_enqueue(&adapter->channel_queue, &adapter->channel_queue_tail, qnode);
		qnode = wfcq_dequeue(&adapter->channel_queue, &adapter->channel_queue_tail);
	}
	return qnode;
}

/*
 * The caller holds the channel (HELD) for nobody: give it to the oldest live
 * waiter, or free it (C11, C14).  Freeing it races with an enqueuer that
 * found it taken: the enqueuer links its node, fences, then tries the
 * channel; we free it, fence, then look at the link that was missing.  One
 * of us sees the other, and neither waits for the other.
 */
void channel_pass_on(struct lf_pool *pool, struct lf_adapter *adapter,
			    struct grant_list *granted)
{
	struct __cds_wfcq_head *queue = &adapter->channel_queue;
	bool reading = false;

	/*
	 * The holder of a BIASED channel is its owner, and its queue is empty;
	 * REVOKING, the revoker is reading what the owner holds.
	 */
	if (CH_STATE(atomic_load_explicit(&adapter->channel, memory_order_relaxed)) >= CH_BIASED &&
	    bias_release(adapter))
		return;
	for (;;) {
		PERTURB();
		/*
		 * Which link an enqueuer may still owe us (wfcq layout): with
		 * nothing linked at the head, the head's own; else, should the
		 * dequeue find the first node's successor unlinked, that node's.
		 * It is decided before dequeuing, since enqueuers may link the
		 * head at any moment.
		 */
		struct cds_wfcq_node *owed = wfcq_link(&queue->node);
		unsigned int release_as = CH_PARKED;

		if (owed == NULL) {
			owed = &queue->node;
			/*
			 * Empty: FREE.  Else an enqueuer owes the head.  The
			 * decision may be stale by the time we store it: a
			 * request may queue in between and its submitter return.
			 * So a FREE channel's taker checks the queue itself
			 * (channel_take_free).
			 */
			if (wfcq_untouched(queue, &adapter->channel_queue_tail))
				release_as = CH_FREE;
		} else {
			/*
			 * Nodes: a queued one stays allocated while we hold the
			 * channel (we are its queue's one consumer), but once we
			 * let go, the next holder may grant it and its runner free
			 * it.  So from here to our last look at `owed`, we read
			 * inside an RCU read-side section.  The empty queue's
			 * case needs none: the head is the adapter's, and the
			 * caller keeps the adapter alive (lf_end_hold).
			 */
			if (!reading) {
				rcu_enter();
				reading = true;
			}
			struct cds_wfcq_node *qnode = channel_dequeue(adapter);
			if (qnode != CDS_WFCQ_WOULDBLOCK) {
				struct lf_node *node = node_of_queue(qnode);

				if (channel_hand_to(pool, node, granted))
					break;
				node_release_cancelled(node);	/* it was cancelled */
				continue;
			}
		}
		PAUSE(PAUSE_PASS_ON_DECIDED);
		PERTURB();
		channel_release(adapter, release_as);
		if (channel_released(adapter, release_as, owed))
			break;
	}
	if (reading)
		rcu_leave();
}

/*
 * Takes a FREE channel for a new request or for destroy, neither of which
 * may pass a request already queued (C11, C3).  FREE does not say the queue
 * is empty: channel_pass_on decides FREE, then stores it, and a request may
 * queue and its submitter return in between (it finds the channel HELD).
 * So the taker, holding the channel, looks at the queue: anything there
 * (a live request, or an enqueue not yet finished) and it passes the
 * channel on to the queue and reports the channel taken.
 *
 * The check is a Dekker pair with the enqueuer: it exchanges the tail (a
 * full barrier), fences, then reads the channel; we CAS the channel, then
 * read the tail, both seq_cst.  If our read misses its exchange, the
 * exchange follows our CAS in the single order S, so its channel read sees
 * our HELD or later: its submission had not finished before ours began
 * (it then serves the queue itself if it finds the channel FREE or PARKED).
 * On x86 both are the instructions the weaker orders would give: no cost.
 */
bool channel_take_free(struct lf_pool *pool, struct lf_adapter *adapter,
			      struct grant_list *granted)
{
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);

	if (CH_STATE(word) >= CH_BIASED) {		/* not the owner's take: bias_take */
		bias_revoke(adapter);
		word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);
	}
	if (CH_STATE(word) != CH_FREE)
		return false;
	PERTURB();
	if (!atomic_compare_exchange_strong_explicit(&adapter->channel, &word,
						     CH_WITH(word, CH_HELD),
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	PERTURB();
	if (FAULT(FAULT_FREE_CHANNEL_UNCHECKED) ||
	    wfcq_untouched(&adapter->channel_queue, &adapter->channel_queue_tail))
		return true;
	channel_pass_on(pool, adapter, granted);
	return false;
}

/*
 * channel_hold (bias.h) in the real word: a KEPT hold, or a biased one whose
 * bias was revoked (as HELD) before its SYNC took effect.  `word` is the
 * word as channel_hold read it, before it stored the run.
 */
void channel_hold_shared(struct lf_adapter *adapter, unsigned int state, uint64_t word)
{
	if (CH_STATE(word) >= CH_BIASED) {
		bias_revoke(adapter);		/* KEPT: not biased; or revoked as HELD */
		word = atomic_load_explicit(&adapter->channel, memory_order_relaxed);
	}
	PERTURB();
	atomic_store_explicit(&adapter->channel, CH_WITH(word + CH_ONE_HOLD, state),
			      memory_order_release);
}

/* The run of the hold the caller has just taken the channel from (acquire). */
mapreg_base channel_held_run(struct lf_adapter *adapter)
{
	uint64_t run = atomic_load_explicit(&adapter->holder_run, memory_order_relaxed);

	return (mapreg_base){ (uint32_t)run, (uint32_t)(run >> 32) };
}

/*
 * Ends a C8 hold whose run the caller keeps (free_adapter_object with
 * DEALLOCATE_OBJECT_KEEP_REGISTERS, C24): false if no C8 hold is open.
 * With nobody queued it is one compare-and-swap, SYNC -> FREE, where taking
 * the channel back and then releasing it would be two: the CAS is the whole of both, the claim that this hold is ours to end
 * (one of two racing ends wins, and the hold count in the word fails a CAS
 * against a later hold) and, being seq_cst, the release half of the Dekker
 * pair with enqueuers (channel_release).  The run's record is stored after
 * (registers_keep): the registers stay claimed, so nobody else can reach
 * it, and it is ours to free once this returns; destroy, which would look
 * for it, is not ours to race with (C28).
 */
bool channel_end_sync_keeping_run(struct lf_pool *pool, struct lf_adapter *adapter,
				  mapreg_base *base, struct grant_list *granted)
{
	struct __cds_wfcq_head *queue = &adapter->channel_queue;
	/* Acquire: the run of the hold, written before its SYNC (channel_hold). */
	uint64_t word = atomic_load_explicit(&adapter->channel, memory_order_acquire);

	if (bias_mine(adapter, word)) {
		if (bias_state(adapter) != BIAS_SYNC)
			return false;				/* C24 */
		*base = channel_held_run(adapter);
		if (bias_end_sync_keeping_run(adapter, *base))
			return true;
		word = atomic_load_explicit(&adapter->channel, memory_order_acquire);
	} else if (CH_STATE(word) >= CH_BIASED) {
		bias_revoke(adapter);
		word = atomic_load_explicit(&adapter->channel, memory_order_acquire);
	}
	if (CH_STATE(word) != CH_SYNC)
		return false;
	*base = channel_held_run(adapter);
	bool idle = wfcq_link(&queue->node) == NULL &&
		    wfcq_untouched(queue, &adapter->channel_queue_tail);
	PAUSE(PAUSE_PASS_ON_DECIDED);
	PERTURB();
	if (!atomic_compare_exchange_strong_explicit(&adapter->channel, &word,
						     CH_WITH(word, idle ? CH_FREE : CH_HELD),
						     memory_order_seq_cst, memory_order_relaxed))
		return false;					/* C24: ended already */
	registers_keep(adapter, map_of(pool), *base);
	if (!idle || !channel_released(adapter, CH_FREE, &queue->node))
		channel_pass_on(pool, adapter, granted);
	return true;
}
