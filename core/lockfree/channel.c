/* SPDX-License-Identifier: MIT */
/*
 * The adapter's channel (C11, C14, C3): taken by CAS, handed to queued
 * requests in order by whoever holds it for nobody (channel_pass_on), and
 * freed only in a way that no new request overtakes a queued one.  The
 * proofs are in core/README.md ("Channels").
 */
#include "lockfree/lockfree.h"

/*
 * Takes the channel if it is in state `from`.  The relaxed look first spares
 * a locked instruction when it is not (the usual case for an enqueuer); the
 * enqueuer's Dekker read of the channel follows its seq_cst fence either way.
 */
bool channel_take(struct lf_adapter *adapter, unsigned int from)
{
	if (atomic_load_explicit(&adapter->channel, memory_order_relaxed) != from)
		return false;
	PERTURB();
	return atomic_compare_exchange_strong_explicit(&adapter->channel, &from, CH_HELD,
						       memory_order_acq_rel,
						       memory_order_relaxed);
}

/*
 * Hands the channel, held by the caller on nobody's behalf, to `node`, just
 * dequeued.  False if the node was cancelled first (the caller frees it).
 */
static bool channel_hand_to(struct lf_pool *pool, struct lf_node *node,
			    struct grant_list *granted)
{
	if (node->request.nregs == 0) {				/* C4: nothing to wait for */
		if (!node_move(node, NS_WAIT_CHANNEL, NS_GRANTED))
			return false;
		atomic_fetch_sub_explicit(&pool->waiting_channel, 1, memory_order_relaxed);
		node->request.base = (mapreg_base){ 0, 0 };
		grant(pool, node, granted);
		return true;
	}
	PERTURB();
	registers_waiter_raise(pool);
	if (!node_move(node, NS_WAIT_CHANNEL, NS_WAIT_REGISTERS)) {
		atomic_fetch_sub_explicit(&pool->waiting_registers, 1, memory_order_relaxed);
		return false;
	}
	atomic_fetch_sub_explicit(&pool->waiting_channel, 1, memory_order_relaxed);
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
			struct cds_wfcq_node *qnode = channel_dequeue(adapter);
			if (qnode != CDS_WFCQ_WOULDBLOCK) {
				struct lf_node *node = node_of_queue(qnode);

				if (channel_hand_to(pool, node, granted))
					return;
				node_release_cancelled(node);	/* it was cancelled */
				continue;
			}
		}
		PAUSE(PAUSE_PASS_ON_DECIDED);
		PERTURB();
		/*
		 * A seq_cst exchange: the release of our use of the channel to
		 * the next taker, and our half of the Dekker pair with the
		 * enqueuer (which exchanges the tail, links, fences, then reads
		 * the channel): one locked instruction where a store and a fence
		 * were two instructions.  With the seq_cst load of the link
		 * below, if we miss its link its fence follows our exchange in
		 * the single order, and its channel read sees our release.
		 */
		atomic_exchange_explicit(&adapter->channel, release_as, memory_order_seq_cst);
		PAUSE(PAUSE_PASS_ON_RELEASED);
		PERTURB();
		/*
		 * TSan: `owed` may be a node we never dequeued; its enqueuer
		 * released it before linking it (rcu.h), and we reached it
		 * through that link.
		 */
		tsan_acquire(owed);
		if (wfcq_link_sc(owed) == NULL)
			return;		/* empty, or its enqueuer will try the channel */
		if (!channel_take(adapter, release_as))
			return;		/* someone took it, and with it this duty */
	}
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
	unsigned int free_channel = CH_FREE;

	if (atomic_load_explicit(&adapter->channel, memory_order_relaxed) != CH_FREE)
		return false;
	PERTURB();
	if (!atomic_compare_exchange_strong_explicit(&adapter->channel, &free_channel, CH_HELD,
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

/* A hold (KEPT, SYNC) publishes its base before the state: release. */
void channel_hold(struct lf_adapter *adapter, unsigned int state, mapreg_base base)
{
	adapter->holder_base = base;
	PERTURB();
	atomic_store_explicit(&adapter->channel, state, memory_order_release);
}
