/* SPDX-License-Identifier: MIT */
/*
 * Grants and poll dispatch (C16, C29): a granted node goes to the caller's
 * grant list (inline adapters) or to the adapter's poll queue, whose eventfd
 * is readable while any grant is pending there.
 */
#include "lockfree/lockfree.h"

void grant(struct lf_pool *pool, struct lf_node *node, struct grant_list *granted)
{
	struct lf_adapter *adapter = adapter_of(node->request.adapter);

	count(pool, LF_GRANTS);
	if (adapter->head.dispatch == MAPREG_DISPATCH_INLINE) {
		grant_list_append(granted, &node->request);
		return;
	}
	/*
	 * Counted before it is queued, so that the poller's decrement never
	 * passes zero; the first pending grant makes the eventfd readable (C29),
	 * once it is queued, so that a woken poller finds it.
	 */
	PERTURB();
	bool first_pending = atomic_fetch_add_explicit(&adapter->poll_pending, 1,
						       memory_order_acq_rel) == 0;
	wfcq_enqueue(&adapter->poll_queue, &adapter->poll_queue_tail, &node->queue_node);
	PERTURB();
	if (first_pending)
		adapter_eventfd_signal(&adapter->head);
}

struct request *lf_poll_pop(struct mapreg_adapter *head)
{
	struct lf_adapter *adapter = adapter_of(head);
	unsigned int idle = 0;
	struct request *req = NULL;

	/* One consumer at a time; a second poller finds nothing, never waits. */
	if (!atomic_compare_exchange_strong_explicit(&adapter->polling, &idle, 1,
						     memory_order_acquire, memory_order_relaxed))
		return NULL;
	rcu_enter();
	struct cds_wfcq_node *qnode = wfcq_dequeue(&adapter->poll_queue, &adapter->poll_queue_tail);
	if (qnode != NULL && qnode != CDS_WFCQ_WOULDBLOCK)
		req = &node_of_queue(qnode)->request;
	rcu_leave();
	PERTURB();
	atomic_store_explicit(&adapter->polling, 0, memory_order_release);
	PERTURB();

	/*
	 * C29: drain the eventfd when the last pending grant goes, then look
	 * again, since a grant may have signalled between the two.
	 */
	if (req != NULL &&
	    atomic_fetch_sub_explicit(&adapter->poll_pending, 1, memory_order_acq_rel) != 1)
		return req;
	if (req == NULL && atomic_load_explicit(&adapter->poll_pending, memory_order_acquire) != 0)
		return NULL;
	adapter_eventfd_drain(head);
	PERTURB();
	if (atomic_load_explicit(&adapter->poll_pending, memory_order_seq_cst) != 0)
		adapter_eventfd_signal(head);
	return req;
}
