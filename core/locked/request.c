/* SPDX-License-Identifier: MIT */
/*
 * Requests of the locked backend: submission, cancel (C20), retiring, the
 * holds' ends, kept runs (C23) and poll; and the ops table.
 */
#include <stdlib.h>

#include "base/transfer.h"
#include "locked/locked.h"
#include "locked/ops.h"

/* Requests. */

/*
 * A request that will wait must outlive its submitter: the transfer's own
 * request does (C10), one on mapreg_allocate_channel's stack is copied.
 */
static struct request *request_to_queue(struct request *req)
{
	if (req->xfer != NULL)
		return req;
	struct request *copy = malloc(sizeof(*copy));
	if (copy != NULL) {
		*copy = *req;
		copy->owned = true;
	}
	return copy;
}

mapreg_status locked_submit(struct mapreg_adapter *head, struct request *req,
				   bool sync, bool *granted, struct grant_list *others)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	mapreg_status status = MAPREG_OK;
	struct request *copy = NULL;

	*granted = false;
	/* Copy before locking; a copy the grant does not need is dropped. */
	if (!sync && req->xfer == NULL && (copy = request_to_queue(req)) == NULL)
		return MAPREG_NO_MEMORY;
	pool_lock(pool);
	/* C11: a new request never overtakes a queued one. */
	bool channel_free = adapter->channel == CHANNEL_FREE &&
			    cds_list_empty(&adapter->channel_waiters);
	bool now = channel_free && locked_registers_take_unqueued(pool, req);

	/*
	 * A request about to wait commits first: a cancel that marked it
	 * meanwhile wins (C21, C20).  One granted at once never commits, as
	 * in the lock-free backend (base/transfer.h).
	 */
	if (!now && !sync && req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
		pool_unlock(pool);
		return MAPREG_CANCELLED;
	}
	if (now) {
		adapter->channel = CHANNEL_REQUEST;
		request_set_state(req, RS_GRANTED);
		pool->grants++;
		*granted = true;
		if (sync && req->fn == NULL) {		/* C8: the caller holds */
			adapter->channel = CHANNEL_SYNC;
			adapter->holder_base = req->base;
			request_set_state(req, RS_DONE);
		}
	} else if (sync) {
		pool->sync_failures++;
		status = MAPREG_INSUFFICIENT_RESOURCES;
	} else if (channel_free) {
		adapter->channel = CHANNEL_REQUEST;
		locked_wait_for_registers(pool, copy ? copy : req);
		copy = NULL;
	} else {
		req = copy ? copy : req;
		copy = NULL;
		request_set_state(req, RS_WAIT_CHANNEL);
		pool->waiting_channel++;
		cds_list_add_tail(&req->link, &adapter->channel_waiters);
	}
	pool_unlock(pool);
	free(copy);
	return status;
}

/* A C8 hold: a synchronous submission without a routine, of a request on this stack. */
mapreg_status locked_hold(struct mapreg_adapter *head, uint32_t nregs, mapreg_base *base,
			  struct grant_list *others)
{
	struct request req = { .adapter = head, .nregs = nregs };
	bool granted;
	mapreg_status status = locked_submit(head, &req, true, &granted, others);

	if (status == MAPREG_OK)
		*base = req.base;
	return status;
}

bool locked_cancel(struct mapreg_adapter *head, struct request *req,
			  uint32_t generation, struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	bool cancelled = true;

	pool_lock(pool);
	if (atomic_load_explicit(&req->generation, memory_order_relaxed) != generation) {
		cancelled = false;		/* over; the transfer names a newer one */
	} else if (request_state(req) == RS_WAIT_CHANNEL) {
		cds_list_del(&req->link);
		pool->waiting_channel--;
	} else if (request_state(req) == RS_WAIT_REGISTERS) {
		bool was_head = pool->register_waiters.next == &req->link;

		cds_list_del(&req->link);
		pool->waiting_registers--;
		if (was_head)			/* the next waiter may fit now */
			locked_serve_register_waiters(pool, granted);
		locked_channel_release(pool, adapter_of(head), granted);
	} else if (request_state(req) == RS_GRANTED && FAULT(FAULT_CANCEL_GRANTED)) {
		pool->cancels++;		/* claims it; the routine still runs */
		pool_unlock(pool);
		return true;
	} else {
		cancelled = false;		/* granted, running or done (C20) */
	}
	if (cancelled) {
		request_set_state(req, RS_DONE);
		pool->cancels++;
	}
	pool_unlock(pool);
	return cancelled;
}

/*
 * A request whose routine returned: a stale cancel finds it RS_DONE (or,
 * once the transfer is finished and reused, another generation), and a copy
 * of a stack request is ours to free.
 */
void locked_retire(struct request *req)
{
	if (req->owned)
		free(req);
	else	/* Relaxed: ordered before the reuse by the transfer's finish. */
		request_set_state(req, RS_DONE);
}

void locked_keep_channel(struct mapreg_adapter *head, mapreg_base base)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);

	pool_lock(pool);
	adapter->channel = CHANNEL_KEPT;
	adapter->holder_base = base;
	pool_unlock(pool);
}

static const enum channel_state held_by[] = {
	[HOLDER_REQUEST] = CHANNEL_REQUEST,
	[HOLDER_SUBMITTER] = CHANNEL_REQUEST,
	[HOLDER_SYNC] = CHANNEL_SYNC,
	[HOLDER_KEPT] = CHANNEL_KEPT,
};

mapreg_status locked_end_hold(struct mapreg_adapter *head, enum holder holder,
				     mapreg_base base, bool keep_run, struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	mapreg_status status = MAPREG_INVALID_PARAMETER;	/* C22, C24 */

	pool_lock(pool);
	if (adapter->channel == held_by[holder]) {
		if (!holder_is_request(holder))
			base = adapter->holder_base;
		if (keep_run) {
			locked_registers_keep(adapter, base);
			locked_channel_release(pool, adapter, granted);
		} else {
			locked_release_all(pool, adapter, base, granted);
		}
		status = MAPREG_OK;
	}
	pool_unlock(pool);
	return status;
}

mapreg_status locked_free_map_registers(struct mapreg_adapter *head, mapreg_base base,
					       struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	mapreg_status status = MAPREG_INVALID_PARAMETER;	/* C23 */

	pool_lock(pool);
	if (base.first < pool->registers &&
	    pool->run_length[base.first] == (base.count | RUN_KEPT) &&
	    (pool->run_owner[base.first] == head->id || FAULT(FAULT_FOREIGN_FREE))) {
		locked_registers_release(pool, base);
		adapter->runs_kept--;
		if (!FAULT(FAULT_LOST_WAKEUP))
			locked_serve_register_waiters(pool, granted);
		status = MAPREG_OK;
	}
	pool_unlock(pool);
	return status;
}

struct request *locked_poll_pop(struct mapreg_adapter *head)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	struct request *req = NULL;

	pool_lock(pool);
	if (!cds_list_empty(&adapter->poll_ready)) {
		req = cds_list_first_entry(&adapter->poll_ready, struct request, link);
		cds_list_del(&req->link);
		if (cds_list_empty(&adapter->poll_ready))
			adapter_eventfd_drain(head);		/* C29 */
	}
	pool_unlock(pool);
	return req;
}

_Static_assert(offsetof(struct locked_adapter, head) == 0, "the API layer allocates adapters");

const struct backend_ops locked_backend_ops = BACKEND_OPS(locked, struct locked_adapter);
