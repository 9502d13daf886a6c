/* SPDX-License-Identifier: MIT */
/*
 * Registers, grants and the FIFO queues of the locked backend (C11, C12,
 * C14), every function called with pool->lock held.
 */
#include "locked/locked.h"

/* Registers. */

bool locked_registers_take(struct locked_pool *pool, struct request *req)
{
	uint32_t count = req->nregs;

	if (count == 0) {			/* C4: the channel only */
		req->base = (mapreg_base){ 0, 0 };
		return true;
	}
	uint32_t first = bitmap_find_clear_run(pool->bitmap, pool->registers, count,
					       FAULT(FAULT_BOUNDARY_IGNORED) ? 0 : pool->head.boundary);
	if (first == BITMAP_NONE)
		return false;
	if (!FAULT(FAULT_DOUBLE_GRANT))
		bitmap_set_run(pool->bitmap, first, count);
	pool->free -= count;
	pool->run_length[first] = count;
	pool->run_owner[first] = req->adapter->id;
	req->base = (mapreg_base){ first, count };
	return true;
}

void locked_registers_release(struct locked_pool *pool, mapreg_base base)
{
	if (base.count == 0)
		return;
	bitmap_clear_run(pool->bitmap, base.first, base.count);
	pool->free += base.count;
	pool->run_length[base.first] = 0;
}

void locked_registers_keep(struct locked_adapter *adapter, mapreg_base base)
{
	if (base.count == 0)
		return;
	pool_of_adapter(&adapter->head)->run_length[base.first] |= RUN_KEPT;
	adapter->runs_kept++;
}

/* C12: nobody takes registers past a waiter. */
bool locked_registers_take_unqueued(struct locked_pool *pool, struct request *req)
{
	if (req->nregs == 0 || FAULT(FAULT_REGISTER_OVERTAKE))
		return locked_registers_take(pool, req);
	return cds_list_empty(&pool->register_waiters) && locked_registers_take(pool, req);
}

/* Grants and queues. */

void locked_grant(struct locked_pool *pool, struct request *req, struct grant_list *granted)
{
	struct locked_adapter *adapter = adapter_of(req->adapter);

	request_set_state(req, RS_GRANTED);
	pool->grants += !FAULT(FAULT_STATS_SKEW);
	if (adapter->head.dispatch == MAPREG_DISPATCH_INLINE) {
		grant_list_append(granted, req);
		return;
	}
	if (cds_list_empty(&adapter->poll_ready))
		adapter_eventfd_signal(&adapter->head);		/* C29 */
	cds_list_add_tail(&req->link, &adapter->poll_ready);
}

void locked_wait_for_registers(struct locked_pool *pool, struct request *req)
{
	request_set_state(req, RS_WAIT_REGISTERS);
	pool->waiting_registers++;
	cds_list_add_tail(&req->link, &pool->register_waiters);
}

/* `req` has just taken its adapter's channel. */
void locked_channel_taken(struct locked_pool *pool, struct request *req,
			  struct grant_list *granted)
{
	adapter_of(req->adapter)->channel = CHANNEL_REQUEST;
	if (locked_registers_take_unqueued(pool, req))
		locked_grant(pool, req, granted);
	else
		locked_wait_for_registers(pool, req);
}

/* C12, C14: serve the register queue head first, stop at the first misfit. */
void locked_serve_register_waiters(struct locked_pool *pool, struct grant_list *granted)
{
	while (!cds_list_empty(&pool->register_waiters)) {
		struct request *head = cds_list_first_entry(&pool->register_waiters,
							    struct request, link);
		if (!locked_registers_take(pool, head))
			return;
		cds_list_del(&head->link);
		pool->waiting_registers--;
		locked_grant(pool, head, granted);
	}
}

/* C11, C14: the channel passes to the oldest request queued for it. */
void locked_channel_release(struct locked_pool *pool, struct locked_adapter *adapter,
			    struct grant_list *granted)
{
	adapter->channel = CHANNEL_FREE;
	if (cds_list_empty(&adapter->channel_waiters))
		return;
	struct request *next = FAULT(FAULT_CHANNEL_OVERTAKE) ?	/* newest first */
		cds_list_entry(adapter->channel_waiters.prev, struct request, link) :
		cds_list_first_entry(&adapter->channel_waiters, struct request, link);
	cds_list_del(&next->link);
	pool->waiting_channel--;
	locked_channel_taken(pool, next, granted);
}

/* Frees registers, then the channel: waiters of registers were first (C12). */
void locked_release_all(struct locked_pool *pool, struct locked_adapter *adapter,
			mapreg_base base, struct grant_list *granted)
{
	locked_registers_release(pool, base);
	locked_serve_register_waiters(pool, granted);
	locked_channel_release(pool, adapter, granted);
}
