/* SPDX-License-Identifier: MIT */
/* C27's statistics: racy by nature, summed over the CPUs' counters. */
#include "lockfree/lockfree.h"

static uint64_t sum_counter(const struct lf_pool *pool, enum lf_counter counter)
{
	uint64_t sum = 0;

	for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
		sum += atomic_load_explicit(&pool->cpu[cpu].counters[counter],
					    memory_order_relaxed);
	return sum + atomic_load_explicit(&pool->spare_counters[counter], memory_order_relaxed);
}

/* In-place grants (struct lf_adapter), of live adapters and destroyed ones. */
static uint64_t grants_in_place(const struct lf_pool *pool)
{
	struct lf_pool *writable = (struct lf_pool *)pool;	/* for the mutex */
	struct cds_list_head *link;
	uint64_t sum;

	pthread_mutex_lock(&writable->admin);
	sum = pool->grants_retired;
	/*
	 * By the links, not cds_list_for_each_entry: that one forms an
	 * adapter pointer from the pool's list head to end the loop, which
	 * UBSan rightly calls misaligned (adapters are 64-byte aligned).
	 */
	cds_list_for_each(link, &pool->adapters) {
		struct lf_adapter *adapter = caa_container_of(link, struct lf_adapter, link);

		sum += atomic_load_explicit(&adapter->grants_in_place, memory_order_relaxed);
	}
	pthread_mutex_unlock(&writable->admin);
	return sum;
}

void lf_pool_stats(const struct mapreg_pool *head, mapreg_pool_stats *out)
{
	struct lf_pool *pool = pool_of(head);
	uint64_t cached = 0;

	struct regmap *map = map_of(pool);
	uint64_t unclaimed = regmap_unclaimed(map), registers = regmap_registers(map);
	cached = cache_held(&pool->magazines);
	/* Racy by nature (C27): clamp so that a torn moment never underflows. */
	uint64_t held = registers - unclaimed;
	cached = cached < held ? cached : held;
	/* Left first: a node counted as left was counted as waiting before. */
	uint64_t left_channel = sum_counter(pool, LF_CHANNEL_LEFT);
	uint64_t waiting_channel = sum_counter(pool, LF_CHANNEL_WAITS) - left_channel;
	long waiting_registers = atomic_load_explicit(&pool->waiting_registers,
						      memory_order_relaxed);
	*out = (mapreg_pool_stats){
		.registers = registers,
		.free = unclaimed,
		.cached = cached,
		.held = held - cached,
		.waiting_channel = (int64_t)waiting_channel > 0 ? waiting_channel : 0,
		.waiting_registers = waiting_registers > 0 ? (uint64_t)waiting_registers : 0,
		.grants = sum_counter(pool, LF_GRANTS) + grants_in_place(pool),
		.cancels = sum_counter(pool, LF_CANCELS),
		.sync_failures = sum_counter(pool, LF_SYNC_FAILURES),
	};
}
