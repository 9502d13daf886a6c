/* SPDX-License-Identifier: MIT */
/*
 * The locked backend: the classic HAL design, and the reference the
 * lock-free core is checked and measured against.  One mutex per pool
 * guards a first-fit bitmap of registers, the per-adapter FIFO channel
 * queues, the pool's FIFO register queue and every counter.  Routines never
 * run under the mutex: grants are handed back on a grant_list (inline
 * adapters) or queued on the adapter's poll queue (poll adapters).
 *
 * Invariants, all under pool->lock:
 *  - free == registers - (bits set in bitmap); held == registers - free;
 *  - a request is in at most one queue: an adapter's channel_waiters
 *    (RS_WAIT_CHANNEL), the pool's register_waiters (RS_WAIT_REGISTERS,
 *    holding its channel) or an adapter's poll_ready (RS_GRANTED);
 *  - adapter->channel is CHANNEL_FREE only if no request of it is waiting
 *    for registers, granted or running: so channel_waiters is non-empty
 *    only while the channel is held, except for the instant inside
 *    channel_release() that hands it on (C11);
 *  - register_waiters is served head first, and a request takes registers
 *    only if register_waiters is empty or it is the head (C12);
 *  - run_length[first] is set exactly for the first register of each run
 *    held by a request or caller, with RUN_KEPT once the run was left to
 *    the caller by DEALLOCATE_OBJECT_KEEP_REGISTERS, and run_owner[first]
 *    names the adapter it was allocated through (C23).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locked/bitmap.h"
#include "hooks/fault.h"
#include "hooks/perturb.h"
#include "base/transfer.h"

enum request_state {
	RS_WAIT_CHANNEL = 1,
	RS_WAIT_REGISTERS,
	RS_GRANTED,		/* granted: stays so once its routine returned */
	RS_DONE,		/* cancelled, or a sync hold's request */
};

enum channel_state {
	CHANNEL_FREE,
	CHANNEL_REQUEST,	/* a request that has not answered yet holds it */
	CHANNEL_KEPT,		/* its request answered MAPREG_KEEP_OBJECT */
	CHANNEL_SYNC,		/* a C8 hold without a routine */
};

#define RUN_KEPT (1u << 31)

struct locked_pool {
	struct mapreg_pool head;
	pthread_mutex_t lock;
	uint32_t registers;
	uint32_t free;
	uint64_t *bitmap;
	uint32_t *run_length;		/* see the invariants above */
	uint32_t *run_owner;
	struct cds_list_head register_waiters;
	uint32_t adapters;
	uint32_t next_adapter_id;
	uint64_t waiting_channel, waiting_registers;
	uint64_t grants, cancels, sync_failures;
};

struct locked_adapter {
	struct mapreg_adapter head __attribute__((aligned(64)));
	enum channel_state channel;
	mapreg_base holder_base;	/* CHANNEL_KEPT and CHANNEL_SYNC */
	uint32_t runs_kept;		/* runs left to the caller, not yet freed */
	struct cds_list_head channel_waiters;
	struct cds_list_head poll_ready;
};

/* The one lock; the perturbation build (perturb.h) varies who gets it next. */
static void pool_lock(struct locked_pool *pool)
{
	PERTURB();
	pthread_mutex_lock(&pool->lock);
}

static void pool_unlock(struct locked_pool *pool)
{
	pthread_mutex_unlock(&pool->lock);
	PERTURB();
}

static struct locked_pool *pool_of(const struct mapreg_pool *pool)
{
	return caa_container_of(pool, struct locked_pool, head);
}

static struct locked_adapter *adapter_of(const struct mapreg_adapter *adapter)
{
	return caa_container_of(adapter, struct locked_adapter, head);
}

static struct locked_pool *pool_of_adapter(const struct mapreg_adapter *adapter)
{
	return pool_of(adapter->pool);
}

/* Registers. */

static bool registers_take(struct locked_pool *pool, struct request *req)
{
	uint32_t count = req->nregs;

	if (count == 0) {			/* C4: the channel only */
		req->base = (mapreg_base){ 0, 0 };
		return true;
	}
	uint32_t first = bitmap_find_clear_run(pool->bitmap, pool->registers, count);
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

static void registers_release(struct locked_pool *pool, mapreg_base base)
{
	if (base.count == 0)
		return;
	bitmap_clear_run(pool->bitmap, base.first, base.count);
	pool->free += base.count;
	pool->run_length[base.first] = 0;
}

static void registers_keep(struct locked_adapter *adapter, mapreg_base base)
{
	if (base.count == 0)
		return;
	pool_of_adapter(&adapter->head)->run_length[base.first] |= RUN_KEPT;
	adapter->runs_kept++;
}

/* C12: nobody takes registers past a waiter. */
static bool registers_take_unqueued(struct locked_pool *pool, struct request *req)
{
	if (req->nregs == 0 || FAULT(FAULT_REGISTER_OVERTAKE))
		return registers_take(pool, req);
	return cds_list_empty(&pool->register_waiters) && registers_take(pool, req);
}

/* Grants and queues. */

static void grant(struct locked_pool *pool, struct request *req, struct grant_list *granted)
{
	struct locked_adapter *adapter = adapter_of(req->adapter);

	req->state = RS_GRANTED;
	pool->grants += !FAULT(FAULT_STATS_SKEW);
	if (adapter->head.dispatch == MAPREG_DISPATCH_INLINE) {
		grant_list_append(granted, req);
		return;
	}
	if (cds_list_empty(&adapter->poll_ready))
		adapter_eventfd_signal(&adapter->head);		/* C29 */
	cds_list_add_tail(&req->link, &adapter->poll_ready);
}

static void wait_for_registers(struct locked_pool *pool, struct request *req)
{
	req->state = RS_WAIT_REGISTERS;
	pool->waiting_registers++;
	cds_list_add_tail(&req->link, &pool->register_waiters);
}

/* `req` has just taken its adapter's channel. */
static void channel_taken(struct locked_pool *pool, struct request *req,
			  struct grant_list *granted)
{
	adapter_of(req->adapter)->channel = CHANNEL_REQUEST;
	if (registers_take_unqueued(pool, req))
		grant(pool, req, granted);
	else
		wait_for_registers(pool, req);
}

/* C12, C14: serve the register queue head first, stop at the first misfit. */
static void serve_register_waiters(struct locked_pool *pool, struct grant_list *granted)
{
	while (!cds_list_empty(&pool->register_waiters)) {
		struct request *head = cds_list_first_entry(&pool->register_waiters,
							    struct request, link);
		if (!registers_take(pool, head))
			return;
		cds_list_del(&head->link);
		pool->waiting_registers--;
		grant(pool, head, granted);
	}
}

/* C11, C14: the channel passes to the oldest request queued for it. */
static void channel_release(struct locked_pool *pool, struct locked_adapter *adapter,
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
	channel_taken(pool, next, granted);
}

/* Frees registers, then the channel: waiters of registers were first (C12). */
static void release_all(struct locked_pool *pool, struct locked_adapter *adapter,
			mapreg_base base, struct grant_list *granted)
{
	registers_release(pool, base);
	serve_register_waiters(pool, granted);
	channel_release(pool, adapter, granted);
}

/* Pools. */

static void pool_free(struct locked_pool *pool)
{
	free(pool->bitmap);
	free(pool->run_length);
	free(pool->run_owner);
	free(pool);
}

/* Register arrays for `registers`, holding the contents of `pool`'s. */
static bool arrays_resize(struct locked_pool *pool, uint32_t registers)
{
	uint64_t *bitmap = calloc(bitmap_words(registers), sizeof(*bitmap));
	uint32_t *run_length = calloc(registers, sizeof(*run_length));
	uint32_t *run_owner = calloc(registers, sizeof(*run_owner));

	if (bitmap == NULL || run_length == NULL || run_owner == NULL) {
		free(bitmap);
		free(run_length);
		free(run_owner);
		return false;
	}
	if (pool->registers != 0) {
		memcpy(bitmap, pool->bitmap, bitmap_words(pool->registers) * sizeof(*bitmap));
		memcpy(run_length, pool->run_length, pool->registers * sizeof(*run_length));
		memcpy(run_owner, pool->run_owner, pool->registers * sizeof(*run_owner));
	}
	free(pool->bitmap);
	free(pool->run_length);
	free(pool->run_owner);
	pool->bitmap = bitmap;
	pool->run_length = run_length;
	pool->run_owner = run_owner;
	pool->free += registers - pool->registers;
	pool->registers = registers;
	return true;
}

static mapreg_status locked_pool_create(const mapreg_pool_config *cfg, struct mapreg_pool **out)
{
	struct locked_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return MAPREG_NO_MEMORY;
	if (!arrays_resize(pool, cfg->registers)) {
		pool_free(pool);
		return MAPREG_NO_MEMORY;
	}
	pthread_mutex_init(&pool->lock, NULL);
	CDS_INIT_LIST_HEAD(&pool->register_waiters);
	*out = &pool->head;
	return MAPREG_OK;
}

static mapreg_status locked_pool_destroy(struct mapreg_pool *head)
{
	struct locked_pool *pool = pool_of(head);

	pool_lock(pool);
	uint32_t adapters = pool->adapters;
	pool_unlock(pool);
	if (adapters != 0)
		return MAPREG_BUSY;			/* C3 */
	pthread_mutex_destroy(&pool->lock);
	pool_free(pool);
	return MAPREG_OK;
}

static mapreg_status locked_pool_grow(struct mapreg_pool *head, uint32_t registers,
				      struct grant_list *granted)
{
	struct locked_pool *pool = pool_of(head);
	mapreg_status status = MAPREG_OK;

	pool_lock(pool);
	if (registers < pool->registers)
		status = MAPREG_INVALID_PARAMETER;	/* a concurrent grow won */
	else if (registers > pool->registers && !arrays_resize(pool, registers))
		status = MAPREG_NO_MEMORY;
	else
		serve_register_waiters(pool, granted);	/* C25 */
	pool_unlock(pool);
	return status;
}

static uint32_t locked_pool_registers(const struct mapreg_pool *head)
{
	struct locked_pool *pool = pool_of(head);

	pool_lock(pool);
	uint32_t registers = pool->registers;
	pool_unlock(pool);
	return registers;
}

static void locked_pool_stats(const struct mapreg_pool *head, mapreg_pool_stats *out)
{
	struct locked_pool *pool = pool_of(head);

	pool_lock(pool);
	*out = (mapreg_pool_stats){
		.registers = pool->registers,
		.free = pool->free,
		.cached = 0,
		.held = pool->registers - pool->free,
		.waiting_channel = pool->waiting_channel,
		.waiting_registers = pool->waiting_registers,
		.grants = pool->grants,
		.cancels = pool->cancels,
		.sync_failures = pool->sync_failures,
	};
	pool_unlock(pool);
}

/* Adapters. */

static mapreg_status locked_adapter_create(struct mapreg_pool *head,
					   const struct mapreg_adapter *fields,
					   struct mapreg_adapter **out)
{
	struct locked_pool *pool = pool_of(head);
	/* Cache-line aligned, as the lock-free backend's: a fair baseline. */
	struct locked_adapter *adapter = aligned_alloc(64, sizeof(*adapter));

	if (adapter == NULL)
		return MAPREG_NO_MEMORY;
	memset(adapter, 0, sizeof(*adapter));
	adapter->head = *fields;
	adapter->channel = CHANNEL_FREE;
	CDS_INIT_LIST_HEAD(&adapter->channel_waiters);
	CDS_INIT_LIST_HEAD(&adapter->poll_ready);
	pool_lock(pool);
	adapter->head.id = ++pool->next_adapter_id;
	pool->adapters++;
	pool_unlock(pool);
	*out = &adapter->head;
	return MAPREG_OK;
}

static mapreg_status locked_adapter_destroy(struct mapreg_adapter *head,
					    struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	bool busy;

	pool_lock(pool);
	busy = adapter->channel != CHANNEL_FREE || adapter->runs_kept != 0 ||
	       !cds_list_empty(&adapter->channel_waiters) ||
	       !cds_list_empty(&adapter->poll_ready);
	if (!busy)
		pool->adapters--;
	pool_unlock(pool);
	if (busy)
		return MAPREG_BUSY;			/* C3 */
	/* Grants (eventfd writes) happen under the lock: none can follow. */
	if (head->eventfd >= 0)
		close(head->eventfd);
	free(adapter);
	return MAPREG_OK;
}

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

static mapreg_status locked_submit(struct mapreg_adapter *head, struct request *req,
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
	if (req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
		pool_unlock(pool);
		return MAPREG_CANCELLED;		/* C21, C20 */
	}
	/* C11: a new request never overtakes a queued one. */
	bool channel_free = adapter->channel == CHANNEL_FREE &&
			    cds_list_empty(&adapter->channel_waiters);

	if (channel_free && registers_take_unqueued(pool, req)) {
		adapter->channel = CHANNEL_REQUEST;
		req->state = RS_GRANTED;
		pool->grants++;
		*granted = true;
		if (sync && req->fn == NULL) {		/* C8: the caller holds */
			adapter->channel = CHANNEL_SYNC;
			adapter->holder_base = req->base;
			req->state = RS_DONE;
		}
	} else if (sync) {
		pool->sync_failures++;
		status = MAPREG_INSUFFICIENT_RESOURCES;
	} else if (channel_free) {
		adapter->channel = CHANNEL_REQUEST;
		wait_for_registers(pool, copy ? copy : req);
		copy = NULL;
	} else {
		req = copy ? copy : req;
		copy = NULL;
		req->state = RS_WAIT_CHANNEL;
		pool->waiting_channel++;
		cds_list_add_tail(&req->link, &adapter->channel_waiters);
	}
	pool_unlock(pool);
	free(copy);
	return status;
}

static bool locked_cancel(struct mapreg_adapter *head, struct request *req,
			  uint32_t generation, struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	bool cancelled = true;

	pool_lock(pool);
	if (atomic_load_explicit(&req->generation, memory_order_relaxed) != generation) {
		cancelled = false;		/* over; the transfer names a newer one */
	} else if (req->state == RS_WAIT_CHANNEL) {
		cds_list_del(&req->link);
		pool->waiting_channel--;
	} else if (req->state == RS_WAIT_REGISTERS) {
		bool was_head = pool->register_waiters.next == &req->link;

		cds_list_del(&req->link);
		pool->waiting_registers--;
		if (was_head)			/* the next waiter may fit now */
			serve_register_waiters(pool, granted);
		channel_release(pool, adapter_of(head), granted);
	} else if (req->state == RS_GRANTED && FAULT(FAULT_CANCEL_GRANTED)) {
		pool->cancels++;		/* claims it; the routine still runs */
		pool_unlock(pool);
		return true;
	} else {
		cancelled = false;		/* granted, running or done (C20) */
	}
	if (cancelled) {
		req->state = RS_DONE;
		pool->cancels++;
	}
	pool_unlock(pool);
	return cancelled;
}

/*
 * A request whose routine returned: cancel can no longer reach it (its
 * transfer is finished next, and a stale cancel finds another generation
 * or RS_GRANTED), and a copy of a stack request is ours to free.
 */
static void locked_retire(struct request *req)
{
	if (req->owned)
		free(req);
}

static void locked_keep_channel(struct mapreg_adapter *head, mapreg_base base)
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
	[HOLDER_SYNC] = CHANNEL_SYNC,
	[HOLDER_KEPT] = CHANNEL_KEPT,
};

static mapreg_status locked_end_hold(struct mapreg_adapter *head, enum holder holder,
				     mapreg_base base, bool keep_run, struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	mapreg_status status = MAPREG_INVALID_PARAMETER;	/* C22, C24 */

	pool_lock(pool);
	if (adapter->channel == held_by[holder]) {
		if (holder != HOLDER_REQUEST)
			base = adapter->holder_base;
		if (keep_run) {
			registers_keep(adapter, base);
			channel_release(pool, adapter, granted);
		} else {
			release_all(pool, adapter, base, granted);
		}
		status = MAPREG_OK;
	}
	pool_unlock(pool);
	return status;
}

static mapreg_status locked_free_map_registers(struct mapreg_adapter *head, mapreg_base base,
					       struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);
	mapreg_status status = MAPREG_INVALID_PARAMETER;	/* C23 */

	pool_lock(pool);
	if (base.first < pool->registers &&
	    pool->run_length[base.first] == (base.count | RUN_KEPT) &&
	    (pool->run_owner[base.first] == head->id || FAULT(FAULT_FOREIGN_FREE))) {
		registers_release(pool, base);
		adapter->runs_kept--;
		if (!FAULT(FAULT_LOST_WAKEUP))
			serve_register_waiters(pool, granted);
		status = MAPREG_OK;
	}
	pool_unlock(pool);
	return status;
}

static struct request *locked_poll_pop(struct mapreg_adapter *head)
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

const struct backend_ops locked_backend_ops = {
	.pool_create = locked_pool_create,
	.pool_destroy = locked_pool_destroy,
	.pool_grow = locked_pool_grow,
	.pool_registers = locked_pool_registers,
	.pool_stats = locked_pool_stats,
	.adapter_create = locked_adapter_create,
	.adapter_destroy = locked_adapter_destroy,
	.submit = locked_submit,
	.cancel = locked_cancel,
	.retire = locked_retire,
	.keep_channel = locked_keep_channel,
	.end_hold = locked_end_hold,
	.free_map_registers = locked_free_map_registers,
	.poll_pop = locked_poll_pop,
};
