/* SPDX-License-Identifier: MIT */
/* Pools and adapters: creation, growth (C25) and destruction (C3). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockfree/lockfree.h"

mapreg_status lf_pool_create(const mapreg_pool_config *cfg, struct mapreg_pool **out)
{
	struct lf_pool *pool = calloc(1, sizeof(*pool));
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	if (pool == NULL)
		return MAPREG_NO_MEMORY;
	pool->cpus = cpus > 0 ? (unsigned int)cpus : 1;
	pool->cpu = aligned_alloc(64, pool->cpus * sizeof(*pool->cpu));
	struct regmap *map = regmap_create(NULL, cfg->registers);
	if (pool->cpu == NULL || map == NULL) {
		free(pool->cpu);
		if (map != NULL)
			regmap_destroy(map, true);
		free(pool);
		return MAPREG_NO_MEMORY;
	}
	atomic_init(&pool->map, map);
	memset(pool->cpu, 0, pool->cpus * sizeof(*pool->cpu));
	cache_init(&pool->magazines, &pool->cpu[0].cache, sizeof(*pool->cpu), pool->cpus,
		   &pool->waiting_registers, cfg->registers);
	pthread_mutex_init(&pool->admin, NULL);
	__cds_wfcq_init(&pool->register_queue, &pool->register_queue_tail);
	*out = &pool->head;
	return MAPREG_OK;
}

static void queue_free_all(struct __cds_wfcq_head *queue, struct cds_wfcq_tail *tail)
{
	struct cds_wfcq_node *qnode;

	while ((qnode = wfcq_dequeue(queue, tail)) != NULL && qnode != CDS_WFCQ_WOULDBLOCK)
		node_release_cancelled(node_of_queue(qnode));
}

void lf_pool_destroy(struct mapreg_pool *head)
{
	struct lf_pool *pool = pool_of(head);

	/* Only cancelled nodes can be left: their adapters are gone. */
	if (pool->register_head != NULL)
		node_release_cancelled(pool->register_head);
	queue_free_all(&pool->register_queue, &pool->register_queue_tail);
	regmap_destroy(atomic_load_explicit(&pool->map, memory_order_relaxed), true);
	pthread_mutex_destroy(&pool->admin);
	free(pool->cpu);
	free(pool);
}

static void regmap_free_rcu(struct rcu_head *head)
{
	rcu_grace_period_ended();
	regmap_destroy(caa_container_of(head, struct regmap, rcu), false);
}

mapreg_status lf_pool_grow(struct mapreg_pool *head, uint32_t registers,
				  struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head);
	mapreg_status status = MAPREG_OK;

	pthread_mutex_lock(&pool->admin);		/* grows take turns */
	struct regmap *old = atomic_load_explicit(&pool->map, memory_order_relaxed);
	if (registers < old->registers) {
		status = MAPREG_INVALID_PARAMETER;	/* a concurrent grow won */
	} else if (registers > old->registers) {
		struct regmap *map = regmap_create(old, registers);
		if (map == NULL) {
			status = MAPREG_NO_MEMORY;
		} else {
			/* Release (rcu_assign_pointer): readers see the map whole. */
			atomic_store_explicit(&pool->map, map, memory_order_release);
			cache_set_limit(&pool->magazines, registers);
			rcu_free_later(&old->rcu, regmap_free_rcu);
		}
	}
	pthread_mutex_unlock(&pool->admin);
	if (status == MAPREG_OK)
		serve(pool, granted);			/* C25 */
	return status;
}

uint32_t lf_pool_registers(const struct mapreg_pool *head)
{
	struct lf_pool *pool = pool_of(head);

	rcu_enter();
	uint32_t registers = map_of(pool)->registers;
	rcu_leave();
	return registers;
}

mapreg_status lf_adapter_init(struct mapreg_pool *head_pool, struct mapreg_adapter *head)
{
	struct lf_pool *pool = pool_of(head_pool);
	struct lf_adapter *adapter = adapter_of(head);
	size_t size = (pool->cpus + 1) * sizeof(*adapter->runs_freed);

	adapter->runs_freed = aligned_alloc(64, size);
	if (adapter->runs_freed == NULL)
		return MAPREG_NO_MEMORY;
	memset(adapter->runs_freed, 0, size);
	__cds_wfcq_init(&adapter->channel_queue, &adapter->channel_queue_tail);
	__cds_wfcq_init(&adapter->poll_queue, &adapter->poll_queue_tail);
	return MAPREG_OK;
}

/* Whether a run kept through the adapter is not freed yet (C3); the channel's holder asks. */
static bool adapter_keeps_runs(struct lf_pool *pool, struct lf_adapter *adapter)
{
	uint64_t freed = 0;

	for (unsigned int cpu = 0; cpu <= pool->cpus; cpu++)
		freed += atomic_load_explicit(&adapter->runs_freed[cpu].value,
					      memory_order_acquire);
	return freed != atomic_load_explicit(&adapter->runs_kept, memory_order_relaxed);
}

mapreg_status lf_adapter_destroy(struct mapreg_adapter *head,
					struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);

	/*
	 * Taking a FREE channel whose queue is empty also makes us its queue's
	 * only consumer; a live request queued behind a stale FREE gets the
	 * channel instead (channel_take_free).
	 */
	if (atomic_load_explicit(&adapter->poll_pending, memory_order_acquire) != 0 ||
	    !channel_take_free(pool, adapter, granted))
		return MAPREG_BUSY;				/* C3 */
	if (adapter_keeps_runs(pool, adapter)) {
		/*
		 * Give the channel back the one safe way: requests may have
		 * queued for it since we took it (they found it HELD).
		 */
		rcu_enter();
		channel_pass_on(pool, adapter, granted);
		rcu_leave();
		return MAPREG_BUSY;				/* C3 */
	}
	/*
	 * The queue was empty when we took the channel, and C28 forbids a new
	 * request to race with destroy: it can hold nothing now.  Dequeue to
	 * be sure the wfcq is left as liburcu expects.
	 */
	rcu_enter();
	queue_free_all(&adapter->channel_queue, &adapter->channel_queue_tail);
	rcu_leave();
	/*
	 * A thread that passed the channel on and stored FREE (the moment
	 * destroy can succeed) may still read the adapter, and a thread that
	 * granted its last request may still write its eventfd, until they
	 * leave their read-side sections; neither need be a caller of ours (a
	 * routine of this adapter, granted by a free on another, runs on the
	 * freeing thread).  Destroy is no request path: it waits for them.
	 */
	rcu_wait_for_readers();
	free(adapter->runs_freed);
	return MAPREG_OK;
}
