/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU magazines; see cache.h.  The guard's acquire (compare-and-swap)
 * and release (store) order the magazine contents between the threads that
 * take it in turn; `cached` is only read racily by the stats reader.
 */
#include "cache.h"

static bool guard_take(struct cpu_cache *cache)
{
	unsigned int free_guard = 0;

	return atomic_compare_exchange_strong_explicit(&cache->guard, &free_guard, 1,
						       memory_order_acquire,
						       memory_order_relaxed);
}

static void guard_drop(struct cpu_cache *cache)
{
	atomic_store_explicit(&cache->guard, 0, memory_order_release);
}

static void cached_add(struct cpu_cache *cache, int32_t delta)
{
	/* Only the guard holder writes it: a plain read-modify-write suffices. */
	uint32_t now = atomic_load_explicit(&cache->cached, memory_order_relaxed);

	atomic_store_explicit(&cache->cached, now + (uint32_t)delta, memory_order_relaxed);
}

bool cache_take(struct cpu_cache *cache, uint32_t count, uint32_t *first)
{
	if (count > CACHE_CLASSES || !guard_take(cache))
		return false;
	uint8_t *depth = &cache->depth[count - 1];
	bool hit = *depth > 0;
	if (hit) {
		*first = cache->runs[count - 1][--*depth];
		cached_add(cache, -(int32_t)count);
	}
	guard_drop(cache);
	return hit;
}

bool cache_put(struct cpu_cache *cache, uint32_t first, uint32_t count)
{
	if (count > CACHE_CLASSES || !guard_take(cache))
		return false;
	uint8_t *depth = &cache->depth[count - 1];
	uint32_t cached = atomic_load_explicit(&cache->cached, memory_order_relaxed);
	bool kept = *depth < CACHE_DEPTH &&
		    cached + count <= atomic_load_explicit(&cache->limit, memory_order_relaxed);
	if (kept) {
		cache->runs[count - 1][(*depth)++] = first;
		cached_add(cache, (int32_t)count);
	}
	guard_drop(cache);
	return kept;
}

bool cache_flush(struct cpu_cache *cache, struct regmap *map)
{
	if (!guard_take(cache))
		return false;
	for (uint32_t class = 0; class < CACHE_CLASSES; class++) {
		while (cache->depth[class] > 0)
			regmap_release(map, cache->runs[class][--cache->depth[class]], class + 1);
	}
	atomic_store_explicit(&cache->cached, 0, memory_order_relaxed);
	guard_drop(cache);
	return true;
}
