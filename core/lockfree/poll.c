/* SPDX-License-Identifier: MIT */
/*
 * Grants and poll dispatch (C16, C29): a granted node goes to the caller's
 * grant list (inline adapters) or to the adapter's poll slot, whose eventfd
 * is readable while any grant is pending there.
 */
#include "base/barrier.h"
#include "lockfree/lockfree.h"

/*
 * An adapter has at most one grant pending for mapreg_poll: a request is
 * granted only while it holds the adapter's channel (C11), and the one
 * granted before it gave the channel back only once its routine had run,
 * after mapreg_poll took it.  So the pending grant lives in one slot,
 * `poll_slot`: the grant stores it (release) and writes the eventfd; a
 * poller takes it with one exchange (acquire), which is also what lets one
 * poller at a time have it (a second one gets NULL and returns 0 at once,
 * C16).  A queue with a consumer token cost two locked instructions more
 * per grant (the enqueue's exchange, the dequeue's CAS, the token's CAS,
 * against one exchange).
 *
 * C29: the taker, whether it got the grant or found the slot empty,
 * drains the eventfd, then looks at the slot again and writes if a grant
 * is there: a grant that stored and wrote between the taker's exchange and
 * its drain lost its write to the drain, and that look sees its store (it
 * came before its write(2), whose lock our read(2) took after it).  A
 * grant after the look writes after our drain.  formal/poll.pml checks it.
 *
 * `eventfd_written` is set after each write and cleared before each drain,
 * so that a poll finding nothing pending reads the eventfd only when a
 * write may still be in it: a busy poller makes no system call while idle.
 * A write whose flag is not set yet leaves the eventfd readable for that
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
 * flag says, C29 rests on the slot: every drain looks at it again after.
 */
static void eventfd_signal(struct lf_adapter *adapter)
{
	adapter_eventfd_signal(&adapter->head);
	/*
	 * After the write, so that a set flag means a write was made.  The
	 * system calls are the ordering points; release and acquire keep the
	 * flag's store and the drainer's load on their side of them on any
	 * machine.
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
	/*
	 * The slot is empty (top of the file).  Release: the node's request
	 * before the poller's exchange; the write(2) after the store (C29).
	 */
	PERTURB();
	atomic_store_explicit(&adapter->poll_slot, node, memory_order_release);
	PERTURB();
	eventfd_signal(adapter);
}

struct request *lf_poll_pop(struct mapreg_adapter *head)
{
	struct lf_adapter *adapter = adapter_of(head);

	/*
	 * Nothing pending and nothing written: nothing to take and nothing to
	 * drain.  The idle busy poller's path: two loads.
	 */
	if (atomic_load_explicit(&adapter->poll_slot, memory_order_relaxed) == NULL &&
	    atomic_load_explicit(&adapter->eventfd_written, memory_order_relaxed) == 0)
		return NULL;
	/* One taker; acquire: pairs with grant's release store. */
	struct lf_node *node = atomic_exchange_explicit(&adapter->poll_slot, NULL,
							memory_order_acquire);
	struct request *req = node != NULL ? &node->request : NULL;

	PERTURB();
	/* C29: the slot is empty: drain, then look again. */
	if (!eventfd_drain_written(adapter))
		return req;		/* nothing read: nothing to give back */
	PERTURB();
	/* seq_cst: after the drain's read(2) (top of the file). */
	if (atomic_load_explicit(&adapter->poll_slot, memory_order_seq_cst) != NULL)
		eventfd_signal(adapter);
	return req;
}
