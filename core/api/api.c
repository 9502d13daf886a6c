/* SPDX-License-Identifier: MIT */
/*
 * The public API: checks arguments (check.c), drives the transfer state
 * machine (transfer.c), calls the pool's backend through its ops table and
 * runs the routines the backend grants (dispatch.c).  Everything here is
 * backend-independent; a backend adds a file and an ops table, not a fork.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/answer.h"
#include "api/check.h"
#include "api/dispatch.h"
#include "base/rcu.h"
#include "base/transfer.h"
#include "hooks/fault.h"
#include "locked/ops.h"
#include "lockfree/ops.h"

static const struct backend_ops *backend_ops_of(mapreg_backend backend)
{
	switch (backend) {
	case MAPREG_BACKEND_LOCKED:
		return &locked_backend_ops;
	case MAPREG_BACKEND_LOCKFREE:
		return &lockfree_backend_ops;
	default:
		return NULL;
	}
}

/* C27: every MAPREG_INVALID_PARAMETER returned on a known pool is counted. */
static mapreg_status caller_error(struct mapreg_pool *pool)
{
	atomic_fetch_add_explicit(&pool->caller_errors, 1, memory_order_relaxed);
	return MAPREG_INVALID_PARAMETER;
}

static mapreg_status counted(struct mapreg_pool *pool, mapreg_status status)
{
	return status == MAPREG_INVALID_PARAMETER ? caller_error(pool) : status;
}

/* The list by value: its callers then keep no pointer to it for this call. */
static __attribute__((noinline))
mapreg_status call_end_slow(struct mapreg_pool *pool, mapreg_status status,
			    struct grant_list granted)
{
	dispatch_grants(&granted);
	return pool != NULL ? counted(pool, status) : status;
}

/*
 * The end of a call that went to the backend: the routines it granted run
 * (C16), a caller error is counted in `pool` (C27; NULL after an op that
 * returns none, ops->hold, whose caller then keeps no pool across the call).
 * Inline, the common case of neither, so that the fast paths save no
 * registers for the rare one.
 */
static inline mapreg_status call_end(struct mapreg_pool *pool, mapreg_status status,
				     const struct grant_list *granted)
{
	if (__builtin_expect(granted->head == NULL && status != MAPREG_INVALID_PARAMETER, 1))
		return status;
	return call_end_slow(pool, status, *granted);
}

mapreg_status mapreg_pool_create(const mapreg_pool_config *cfg, mapreg_pool **out)
{
	mapreg_pool_config resolved;
	struct mapreg_pool *pool;

	if (out == NULL || check_pool_config(cfg, &resolved) != MAPREG_OK)
		return MAPREG_INVALID_PARAMETER;
	const struct backend_ops *ops = backend_ops_of(resolved.backend);
	mapreg_status status = ops->pool_create(&resolved, &pool);
	if (status != MAPREG_OK)
		return status;
	pool->ops = ops;
	pool->backend = resolved.backend;
	pool->page_size = resolved.page_size;
	pool->boundary = resolved.boundary;
	atomic_init(&pool->caller_errors, 0);
	atomic_init(&pool->adapters, 0);
	atomic_init(&pool->next_adapter_id, 0);
	*out = pool;
	return MAPREG_OK;
}

mapreg_status mapreg_pool_destroy(mapreg_pool *pool)
{
	if (pool == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (atomic_load_explicit(&pool->adapters, memory_order_acquire) != 0)
		return MAPREG_BUSY;				/* C3 */
	pool->ops->pool_destroy(pool);
	return MAPREG_OK;
}

mapreg_status mapreg_pool_grow(mapreg_pool *pool, uint32_t registers)
{
	struct grant_list granted = GRANT_LIST_INIT;

	if (pool == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (registers > MAPREG_MAX_REGISTERS)
		return caller_error(pool);
	uint32_t current = pool->ops->pool_registers(pool);
	if (registers < current)
		return caller_error(pool);
	if (registers == current)
		return MAPREG_OK;
	mapreg_status status = pool->ops->pool_grow(pool, registers, &granted);
	dispatch_grants(&granted);			/* C25, C16 */
	return counted(pool, status);
}

void mapreg_barrier(void)
{
	if (!dispatch_in_any_routine())
		rcu_wait_for_callbacks();
}

mapreg_status mapreg_deferred_cpus(const unsigned int *cpus, size_t count)
{
	if (cpus == NULL || count == 0 || !rcu_callback_cpus_choose(cpus, count))
		return MAPREG_INVALID_PARAMETER;
	return MAPREG_OK;
}

#ifdef MAPREG_FAULT_INJECTION
void mapreg_pool_place_first_fit(mapreg_pool *pool)
{
	pool->first_fit = true;
}

void mapreg_pool_unbiased(mapreg_pool *pool)
{
	pool->unbiased = true;
}
#endif

int mapreg_pool_backend(const mapreg_pool *pool)
{
	return pool == NULL ? -1 : (int)pool->backend;
}

mapreg_status mapreg_pool_get_stats(const mapreg_pool *pool, mapreg_pool_stats *out)
{
	if (pool == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (out == NULL)
		return caller_error((struct mapreg_pool *)pool);
	pool->ops->pool_stats(pool, out);
	out->caller_errors = atomic_load_explicit(&pool->caller_errors, memory_order_relaxed);
	return MAPREG_OK;
}

mapreg_status mapreg_adapter_create(mapreg_pool *pool, const mapreg_adapter_config *cfg,
				    mapreg_adapter **out, uint32_t *max_map_registers)
{
	struct mapreg_adapter head, *adapter;

	if (pool == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (out == NULL || check_adapter_config(pool, cfg, &head) != MAPREG_OK)
		return caller_error(pool);
	if (head.dispatch == MAPREG_DISPATCH_POLL) {
		head.eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (head.eventfd < 0)
			return MAPREG_NO_MEMORY;
	}
	adapter = aligned_alloc(64, pool->ops->adapter_size);
	if (adapter == NULL) {
		if (head.eventfd >= 0)
			close(head.eventfd);
		return MAPREG_NO_MEMORY;
	}
	memset(adapter, 0, pool->ops->adapter_size);
	*adapter = head;
	adapter->id = atomic_fetch_add_explicit(&pool->next_adapter_id, 1,
						memory_order_relaxed) + 1;
	if (pool->ops->adapter_init(pool, adapter) != MAPREG_OK) {
		if (head.eventfd >= 0)
			close(head.eventfd);
		free(adapter);
		return MAPREG_NO_MEMORY;
	}
	atomic_fetch_add_explicit(&pool->adapters, 1, memory_order_relaxed);
	if (max_map_registers != NULL)
		*max_map_registers = adapter->max_map_registers;
	*out = adapter;
	return MAPREG_OK;
}

mapreg_status mapreg_adapter_destroy(mapreg_adapter *adapter)
{
	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	struct grant_list granted = GRANT_LIST_INIT;
	struct mapreg_pool *pool = adapter->pool;
	/* This thread is polling it, further up: it would be used after free. */
	if (dispatch_polling(adapter))
		return MAPREG_BUSY;
	mapreg_status status = pool->ops->adapter_destroy(adapter, &granted);
	if (status == MAPREG_OK) {
		if (adapter->eventfd >= 0)
			close(adapter->eventfd);
		free(adapter);
		atomic_fetch_sub_explicit(&pool->adapters, 1, memory_order_release);
	}
	dispatch_grants(&granted);
	return counted(pool, status);
}

mapreg_status mapreg_transfer_init(mapreg_adapter *adapter, mapreg_transfer *xfer)
{
	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (xfer == NULL)
		return caller_error(adapter->pool);
	return counted(adapter->pool, xfer_init(adapter, xfer));
}

static void request_fill(struct request *req, struct mapreg_adapter *adapter, void *device,
			 mapreg_transfer *xfer, uint32_t nregs, mapreg_control_fn fn,
			 void *context)
{
	req->next = NULL;
	atomic_store_explicit(&req->queued, NULL, memory_order_relaxed);
	req->owned = false;
	atomic_store_explicit(&req->generation, 0, memory_order_relaxed);
	req->adapter = adapter;
	req->device = device;
	req->fn = fn;
	req->context = context;
	req->xfer = xfer;
	req->base = (mapreg_base){ 0, 0 };
	req->nregs = nregs;
	/* A stale cancel of the locked backend may read it (relaxed). */
	atomic_store_explicit(&req->state, 0, memory_order_relaxed);
}

/*
 * After a successful submit: run the routine now if the request was granted
 * at submission (C6, C8), or leave it queued.  A synchronous call without a
 * routine leaves the caller holding channel and registers (C8).
 */
static mapreg_status after_submit(struct request *req, bool granted, mapreg_base *base_out,
				  struct grant_list *others)
{
	if (granted) {
		if (base_out != NULL)
			*base_out = req->base;
		if (req->fn != NULL)
			dispatch_run_now(req);
		else
			xfer_finish(req->xfer);		/* C10: the sync call returned */
	}
	dispatch_grants(others);
	return MAPREG_OK;
}

mapreg_status mapreg_allocate_channel(mapreg_adapter *adapter, void *device, uint32_t nregs,
				      mapreg_control_fn fn, void *context)
{
	struct grant_list others = GRANT_LIST_INIT;
	struct request req;
	bool granted;

	mapreg_status status = check_allocate(adapter, false, NULL, nregs, 0, fn, NULL);
	if (status != MAPREG_OK)
		return adapter == NULL ? status : counted(adapter->pool, status);
	request_fill(&req, adapter, device, NULL, nregs, fn, context);
	status = adapter->pool->ops->submit(adapter, &req, false, &granted, &others);
	if (status != MAPREG_OK) {
		dispatch_grants(&others);
		return status;
	}
	return after_submit(&req, granted, NULL, &others);
}

/* A C8 hold (synchronous, no routine): nothing outside the call names a request. */
static inline mapreg_status allocate_hold(struct mapreg_adapter *adapter, mapreg_transfer *xfer,
					  uint32_t nregs, mapreg_base *base_out)
{
	struct grant_list others = GRANT_LIST_INIT;

	mapreg_status status = xfer_check_hold(xfer);	/* C9, C21 */

	if (status != MAPREG_OK)
		return counted(adapter->pool, status);
	status = adapter->pool->ops->hold(adapter, nregs, base_out, &others);
	return call_end(NULL, status, &others);	/* OK or INSUFFICIENT_RESOURCES */
}

/* mapreg_allocate_channel_ex with a routine, or asynchronous, or refused. */
static __attribute__((noinline))
mapreg_status allocate_submit(struct mapreg_adapter *adapter, void *device, mapreg_transfer *xfer,
			      uint32_t nregs, uint32_t flags, mapreg_control_fn fn, void *context,
			      mapreg_base *base_out)
{
	struct grant_list others = GRANT_LIST_INIT;
	bool sync = flags & MAPREG_SYNCHRONOUS_CALLBACK;
	bool granted;

	uint32_t generation = 0;
	mapreg_status status = check_allocate(adapter, true, xfer, nregs, flags, fn, base_out);
	if (status == MAPREG_OK)
		status = xfer_begin_submit(adapter, xfer, sync, &generation);
	if (status != MAPREG_OK)
		return adapter == NULL ? status : counted(adapter->pool, status);

	struct request *req = &xfer_impl(xfer)->request;
	request_fill(req, adapter, device, xfer, nregs, fn, context);
	/* Relaxed: see struct request. */
	atomic_store_explicit(&req->generation, generation, memory_order_relaxed);
	status = adapter->pool->ops->submit(adapter, req, sync, &granted, &others);
	if (status == MAPREG_INSUFFICIENT_RESOURCES)
		xfer_finish(xfer);		/* committed, then refused (C8) */
	else if (status == MAPREG_NO_MEMORY)
		xfer_abort_submit(xfer);	/* never committed */
	if (status != MAPREG_OK) {		/* CANCELLED left it IDLE already */
		dispatch_grants(&others);
		return status;
	}
	return after_submit(req, granted, base_out, &others);
}

/*
 * The C8 hold first, the fast path of a synchronous caller: with its flags,
 * routine and base_out as check_allocate wants them for a hold, the rest of
 * check_allocate is check_allocate_here.  Anything else, an error included,
 * is allocate_submit's, which checks it all.
 */
mapreg_status mapreg_allocate_channel_ex(mapreg_adapter *adapter, void *device,
					 mapreg_transfer *xfer, uint32_t nregs, uint32_t flags,
					 mapreg_control_fn fn, void *context,
					 mapreg_base *base_out)
{
	if (flags == MAPREG_SYNCHRONOUS_CALLBACK && fn == NULL && base_out != NULL &&
	    adapter != NULL && xfer_adapter(xfer) == adapter &&
	    check_allocate_here(adapter, nregs) == MAPREG_OK)
		return allocate_hold(adapter, xfer, nregs, base_out);
	return allocate_submit(adapter, device, xfer, nregs, flags, fn, context, base_out);
}

bool mapreg_cancel_channel(mapreg_adapter *adapter, void *device, mapreg_transfer *xfer)
{
	struct grant_list granted = GRANT_LIST_INIT;
	uint32_t generation;

	if (!xfer_cancel_needs_backend(adapter, xfer, &generation))
		return false;
	if (!adapter->pool->ops->cancel(adapter, &xfer_impl(xfer)->request, generation,
					&granted))
		return false;
	xfer_finish(xfer);				/* C10 */
	dispatch_grants(&granted);			/* C16 */
	return true;
}

mapreg_status mapreg_free_channel(mapreg_adapter *adapter)
{
	struct grant_list granted = GRANT_LIST_INIT;

	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	/* A routine run below may destroy the adapter: keep only its pool. */
	struct mapreg_pool *pool = adapter->pool;
	mapreg_status status = answer_end_hold(adapter, HOLDER_KEPT, MAPREG_DEALLOCATE_OBJECT,
					       &granted);			/* C22 */
	dispatch_grants(&granted);
	return counted(pool, status);
}

mapreg_status mapreg_free_map_registers(mapreg_adapter *adapter, mapreg_base base,
					uint32_t nregs)
{
	struct grant_list granted = GRANT_LIST_INIT;

	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	struct mapreg_pool *pool = adapter->pool;		/* as in mapreg_free_channel */
	if (nregs == 0 || nregs != base.count)			/* C23 */
		return caller_error(pool);
	mapreg_status status = pool->ops->free_map_registers(adapter, base, &granted);
	return call_end(pool, status, &granted);
}

mapreg_status mapreg_free_adapter_object(mapreg_adapter *adapter, mapreg_action action)
{
	struct grant_list granted = GRANT_LIST_INIT;

	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	struct mapreg_pool *pool = adapter->pool;		/* as in mapreg_free_channel */
	if (!check_free_adapter_object_action(action))		/* C24 */
		return caller_error(pool);
	mapreg_status status = answer_end_hold(adapter, HOLDER_SYNC, action, &granted);
	return call_end(pool, status, &granted);
}

size_t mapreg_poll(mapreg_adapter *adapter, size_t max)
{
	if (adapter == NULL || adapter->dispatch != MAPREG_DISPATCH_POLL ||
	    dispatch_in_routine_of(adapter))
		return 0;
	return dispatch_poll(adapter, max);
}

int mapreg_adapter_eventfd(mapreg_adapter *adapter)
{
	return adapter == NULL ? -1 : adapter->eventfd;
}
