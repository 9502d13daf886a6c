/* SPDX-License-Identifier: MIT */
/* Pools and adapters: creation, growth (C25) and destruction (C3). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockfree/bias.h"

mapreg_status lf_pool_create(const mapreg_pool_config *cfg, struct mapreg_pool **out)
{
	struct lf_pool *pool = calloc(1, sizeof(*pool));
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	if (pool == NULL)
		return MAPREG_NO_MEMORY;
	pool->cpus = cpus > 0 ? (unsigned int)cpus : 1;
	pool->cpu = aligned_alloc(64, pool->cpus * sizeof(*pool->cpu));
	if (pool->cpu == NULL || !regmap_init(&pool->map, cfg->registers)) {
		free(pool->cpu);
		free(pool);
		return MAPREG_NO_MEMORY;
	}
	memset(pool->cpu, 0, pool->cpus * sizeof(*pool->cpu));
	cache_init(&pool->magazines, &pool->cpu[0].cache, sizeof(*pool->cpu), pool->cpus,
		   &pool->waiting_registers, cfg->registers);
	claim_hints_set(pool);
	node_prepare();
	pthread_mutex_init(&pool->admin, NULL);
	CDS_INIT_LIST_HEAD(&pool->adapters);
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
	regmap_fini(&pool->map);
	pthread_mutex_destroy(&pool->admin);
	free(pool->cpu);
	free(pool);
}

mapreg_status lf_pool_grow(struct mapreg_pool *head, uint32_t registers,
				  struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head);
	mapreg_status status = MAPREG_OK;

	pthread_mutex_lock(&pool->admin);		/* grows take turns */
	uint32_t current = regmap_registers(&pool->map);
	if (registers < current) {
		status = MAPREG_INVALID_PARAMETER;	/* a concurrent grow won */
	} else if (registers > current) {
		if (!regmap_grow(&pool->map, registers)) {
			status = MAPREG_NO_MEMORY;
		} else {
			cache_set_limit(&pool->magazines, registers);
			claim_hints_set(pool);
		}
	}
	pthread_mutex_unlock(&pool->admin);
	if (status == MAPREG_OK)
		serve(pool, granted);			/* C25 */
	return status;
}

uint32_t lf_pool_registers(const struct mapreg_pool *head)
{
	return regmap_registers(map_of(pool_of(head)));
}

mapreg_status lf_adapter_init(struct mapreg_pool *head_pool, struct mapreg_adapter *head)
{
	struct lf_pool *pool = pool_of(head_pool);
	struct lf_adapter *adapter = adapter_of(head);

	__cds_wfcq_init(&adapter->channel_queue, &adapter->channel_queue_tail);
	atomic_init(&adapter->poll_slot, NULL);
	/* Biased to its first taker where revoking can fence (bias.h). */
	bool biased = bias_available() && !head_pool->unbiased;

	atomic_init(&adapter->channel, biased ? CH_BIASED : CH_FREE);
	atomic_init(&adapter->bias_records, biased);
	pthread_mutex_lock(&pool->admin);
	cds_list_add_tail(&adapter->link, &pool->adapters);
	pthread_mutex_unlock(&pool->admin);
	return MAPREG_OK;
}

mapreg_status lf_adapter_destroy(struct mapreg_adapter *head,
					struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);

	/*
	 * A grant pending for mapreg_poll: its request holds the channel, so
	 * channel_take_free would refuse too; the relaxed look is the cheap
	 * refusal, and orders nothing.  Taking a FREE channel whose queue is
	 * empty also makes us its queue's only consumer; a live request queued
	 * behind a stale FREE gets the channel instead (channel_take_free).
	 */
	if (atomic_load_explicit(&adapter->poll_slot, memory_order_relaxed) != NULL ||
	    !channel_take_free(pool, adapter, granted))
		return MAPREG_BUSY;				/* C3 */
	/*
	 * A run kept through the adapter is outstanding while its record
	 * names the adapter.  Every keep was recorded while its maker held the
	 * channel, so before we took it, or (a C8 hold's end, which records
	 * after its release) inside a call on this adapter; every free of one
	 * is a call on this adapter; C28 puts such calls before destroy.  So
	 * the records say it exactly, and destroy, no request path, reads
	 * them all.
	 */
	if (regmap_kept_by(map_of(pool), head->id)) {
		/*
		 * Give the channel back the one safe way: requests may have
		 * queued for it since we took it (they found it HELD).
		 */
		channel_pass_on(pool, adapter, granted);
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
	pthread_mutex_lock(&pool->admin);
	cds_list_del(&adapter->link);
	pool->grants_retired += atomic_load_explicit(&adapter->grants_in_place,
						     memory_order_relaxed);
	pthread_mutex_unlock(&pool->admin);
	return MAPREG_OK;
}
