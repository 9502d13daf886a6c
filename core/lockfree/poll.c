/* SPDX-License-Identifier: MIT */
/*
 * Grants and poll dispatch (C16, C29): a granted node goes to the caller's
 * grant list (inline adapters) or to the adapter's poll queue, whose eventfd
 * is readable while any grant is pending there.
 */
#include "base/barrier.h"
#include "lockfree/lockfree.h"

/*
 * The eventfd is written by the grant whose enqueue finds the poll queue
 * empty, and drained by the pop that empties it (C29), with no counter:
 * the queue's tail says both, and its exchange and compare-and-swap are
 * locked instructions the queue makes anyway (a fetch_add and a fetch_sub
 * on a count of pending grants were two more per grant).  After a drain
 * the popper looks at the tail again and writes again if anything is
 * queued, so that the write of a grant made between its emptying
 * compare-and-swap and its drain is not lost; a grant after that look
 * finds the queue empty and writes itself.  A popper that finds an
 * enqueue half done (WOULDBLOCK) neither drains nor writes: the queue has
 * not been empty since its last drain and look, so the write that made it
 * non-empty is still in the eventfd.  formal/poll.pml checks this.
 *
 * `eventfd_written` is set after each write and cleared before each drain,
 * so that a poll finding nothing queued reads the eventfd only when a write
 * may still be in it: a busy poller makes no system call while idle.  A
 * write whose flag is not set yet leaves the eventfd readable for that
 * moment; its flag makes the next poll drain it.
 *
 * The clear is a store, not an exchange: a flag set between the drainer's
 * load and its store is lost only if its write is one the drain reads.
 * The writer's store follows its write(2); if it comes before our store
 * (in the flag's order), our read(2), which our store precedes (a fence:
 * fence_before_locking_syscall), cannot have taken the eventfd's lock
 * before that write(2) did (else our store would happen before theirs),
 * so it empties that write too.  Two drainers at once: the second read
 * finds nothing (EAGAIN; the descriptor is non-blocking).  Whatever the
 * flag says, C29 rests on the queue: every drain looks at it again after.
 */
static void eventfd_signal(struct lf_adapter *adapter)
{
	adapter_eventfd_signal(&adapter->head);
	/*
	 * After the write, so that a set flag means a write was made.  The
	 * system calls are the ordering points; release and acquire keep the
	 * flag's store and exchange on their side of them on any machine.
	 */
	atomic_store_explicit(&adapter->eventfd_written, 1, memory_order_release);
}

/* Drains the eventfd if a write may be in it: true if it read it. */
static bool eventfd_drain_written(struct lf_adapter *adapter)
{
	/* Acquire: a set flag read here makes its write(2) happen before our read(2). */
	if (atomic_load_explicit(&adapter->eventfd_written, memory_order_acquire) == 0)
		return false;
	atomic_store_explicit(&adapter->eventfd_written, 0, memory_order_relaxed);
	fence_before_locking_syscall();		/* the store before the read(2)'s lock */
	adapter_eventfd_drain(&adapter->head);
	return true;
}

void grant(struct lf_pool *pool, struct lf_node *node, struct grant_list *granted)
{
	struct lf_adapter *adapter = adapter_of(node->request.adapter);

	count(pool, LF_GRANTS);
	if (adapter->head.dispatch == MAPREG_DISPATCH_INLINE) {
		grant_list_append(granted, &node->request);
		return;
	}
	/* The grant that makes the queue non-empty makes the eventfd readable (C29). */
	PERTURB();
	bool first_pending = wfcq_enqueue(&adapter->poll_queue, &adapter->poll_queue_tail,
					  &node->queue_node);
	PERTURB();
	if (first_pending)
		eventfd_signal(adapter);
}

/*
 * Whether anything is queued, a half-done enqueue included: the tail is
 * not the head's node (a seq_cst load; lf_poll_pop says what it pairs with).
 */
static bool poll_queued(struct lf_adapter *adapter)
{
	return !wfcq_untouched(&adapter->poll_queue, &adapter->poll_queue_tail);
}

struct request *lf_poll_pop(struct mapreg_adapter *head)
{
	struct lf_adapter *adapter = adapter_of(head);
	unsigned int idle = 0;
	struct request *req = NULL;
	bool last = false;

	/*
	 * Nothing queued and nothing written: nothing to pop and nothing to
	 * drain.  The idle busy poller's path: two loads.
	 */
	if (!poll_queued(adapter) &&
	    atomic_load_explicit(&adapter->eventfd_written, memory_order_relaxed) == 0)
		return NULL;
	/* One consumer at a time; a second poller finds nothing, never waits. */
	if (!atomic_compare_exchange_strong_explicit(&adapter->polling, &idle, 1,
						     memory_order_acquire, memory_order_relaxed))
		return NULL;
	rcu_enter();
	struct cds_wfcq_node *qnode = wfcq_dequeue_last(&adapter->poll_queue,
							&adapter->poll_queue_tail, &last);
	if (qnode != NULL && qnode != CDS_WFCQ_WOULDBLOCK)
		req = &node_of_queue(qnode)->request;
	rcu_leave();
	PERTURB();
	atomic_store_explicit(&adapter->polling, 0, memory_order_release);
	PERTURB();

	/*
	 * C29: drain the eventfd when the queue is empty (we emptied it, or
	 * found it so), then look again, since a grant may have written
	 * between the two.  Not on WOULDBLOCK: see the top of the file.
	 */
	if (req != NULL && !last)
		return req;
	if (qnode == CDS_WFCQ_WOULDBLOCK)
		return NULL;
	if (!eventfd_drain_written(adapter))
		return req;		/* nothing read: nothing to give back */
	PERTURB();
	/*
	 * After the drain's read(2), which took the eventfd's lock after the
	 * write(2) of any grant whose write it emptied; that grant's exchange
	 * of the tail came before its write(2), so this load sees it.
	 */
	if (poll_queued(adapter))
		eventfd_signal(adapter);
	return req;
}
