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
#ifndef MAPREG_LOCKED_H
#define MAPREG_LOCKED_H

#include <pthread.h>

#include "base/backend.h"
#include "hooks/fault.h"
#include "hooks/perturb.h"
#include "locked/bitmap.h"

enum request_state {
	RS_WAIT_CHANNEL = 1,
	RS_WAIT_REGISTERS,
	RS_GRANTED,		/* granted, its routine not returned yet */
	RS_DONE,		/* answered (retired), cancelled, or a sync hold's request */
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
static inline void pool_lock(struct locked_pool *pool)
{
	PERTURB();
	pthread_mutex_lock(&pool->lock);
}

static inline void pool_unlock(struct locked_pool *pool)
{
	pthread_mutex_unlock(&pool->lock);
	PERTURB();
}

static inline struct locked_pool *pool_of(const struct mapreg_pool *pool)
{
	return caa_container_of(pool, struct locked_pool, head);
}

static inline struct locked_adapter *adapter_of(const struct mapreg_adapter *adapter)
{
	return caa_container_of(adapter, struct locked_adapter, head);
}

static inline struct locked_pool *pool_of_adapter(const struct mapreg_adapter *adapter)
{
	return pool_of(adapter->pool);
}

/* Request states change only under the mutex: relaxed atomics, plain moves. */
static inline void request_set_state(struct request *req, enum request_state state)
{
	atomic_store_explicit(&req->state, state, memory_order_relaxed);
}

static inline enum request_state request_state(struct request *req)
{
	return atomic_load_explicit(&req->state, memory_order_relaxed);
}

/* grants.c: registers, grants and the queues, all under pool->lock. */
bool locked_registers_take(struct locked_pool *pool, struct request *req);
void locked_registers_release(struct locked_pool *pool, mapreg_base base);
void locked_registers_keep(struct locked_adapter *adapter, mapreg_base base);
bool locked_registers_take_unqueued(struct locked_pool *pool, struct request *req);
void locked_grant(struct locked_pool *pool, struct request *req, struct grant_list *granted);
void locked_wait_for_registers(struct locked_pool *pool, struct request *req);
void locked_channel_taken(struct locked_pool *pool, struct request *req,
			  struct grant_list *granted);
void locked_serve_register_waiters(struct locked_pool *pool, struct grant_list *granted);
void locked_channel_release(struct locked_pool *pool, struct locked_adapter *adapter,
			    struct grant_list *granted);
void locked_release_all(struct locked_pool *pool, struct locked_adapter *adapter,
			mapreg_base base, struct grant_list *granted);

/* The ops (pool.c, request.c; the table is in request.c). */
BACKEND_DECLARE(locked);

#endif /* MAPREG_LOCKED_H */
