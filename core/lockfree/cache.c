/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU magazines; see cache.h.  The guard's acquire (compare-and-swap)
 * and release (store) order the magazine contents between the threads that
 * take it in turn; `cached` is only read racily by the stats reader.
 */
#include "hooks/perturb.h"
#include "lockfree/cache.h"

enum guard_state { GUARD_FREE, GUARD_TAKEN, GUARD_FLUSH_WANTED };

static bool guard_take(struct cpu_cache *cache)
{
	unsigned int free_guard = GUARD_FREE;

	PERTURB();
	/* Acquire: we see the magazines as the last holder left them. */
	return atomic_compare_exchange_strong_explicit(&cache->guard, &free_guard, GUARD_TAKEN,
						       memory_order_acquire,
						       memory_order_relaxed);
}

/*
 * Lets go; true if a drainer asked for a flush meanwhile.  An exchange, not a
 * store, so that the request and the release are one step (no Dekker pair);
 * release: our magazine changes happen before the next holder's take.
 */
static bool guard_drop(struct cpu_cache *cache)
{
	PERTURB();
	return atomic_exchange_explicit(&cache->guard, GUARD_FREE, memory_order_acq_rel) ==
	       GUARD_FLUSH_WANTED;
}

static void cached_add(struct cpu_cache *cache, int32_t delta)
{
	/* Only the guard holder writes it: a plain read-modify-write suffices. */
	uint32_t now = atomic_load_explicit(&cache->cached, memory_order_relaxed);

	atomic_store_explicit(&cache->cached, now + (uint32_t)delta, memory_order_relaxed);
}

/* With the guard held: every run back to the bitmap. */
static uint32_t flush_held(struct cpu_cache *cache, struct regmap *map)
{
	uint32_t moved = atomic_load_explicit(&cache->cached, memory_order_relaxed);

	if (moved == 0)
		return 0;	/* the guard holder's count is exact */
	for (uint32_t class = 0; class < CACHE_CLASSES; class++) {
		while (cache->depth[class] > 0)
			regmap_release(map, cache->runs[class][--cache->depth[class]], class + 1);
	}
	atomic_store_explicit(&cache->cached, 0, memory_order_relaxed);
	return moved;
}

uint32_t cache_flush(struct cpu_cache *cache, struct regmap *map)
{
	for (;;) {
		if (guard_take(cache)) {
			uint32_t moved = flush_held(cache, map);
			guard_drop(cache);	/* a request made meanwhile: served */
			return moved;
		}
		/*
		 * Relaxed, and still the holder's flush sees the waiter that
		 * made us drain: a drain for a waiter runs in a serving round,
		 * after serve()'s seq_cst fence, which acts as a release fence
		 * for this write; the holder's guard_drop (acq_rel) reads it and
		 * so synchronizes with that fence, and the registers_return or
		 * registers_claim that called it then reads waiting_registers
		 * (after its own fence) at least as new as the waiter's raise.
		 * A drain by an allocation (registers_claim) needs no such order:
		 * it serves only its own claim.
		 */
		unsigned int taken = GUARD_TAKEN;
		PERTURB();
		if (atomic_compare_exchange_strong_explicit(&cache->guard, &taken,
							    GUARD_FLUSH_WANTED,
							    memory_order_relaxed,
							    memory_order_relaxed) ||
		    taken == GUARD_FLUSH_WANTED)
			return 0;	/* its holder flushes as it lets go */
		/* It was let go between our two tries: each retry means progress. */
	}
}

/* Lets go, and does the flush a drainer asked for meanwhile. */
static uint32_t guard_drop_and_flush(struct cpu_cache *cache, struct regmap *map)
{
	return guard_drop(cache) ? cache_flush(cache, map) : 0;
}

bool cache_take(struct cpu_cache *cache, struct regmap *map, uint32_t count, uint32_t *first,
		uint32_t *moved)
{
	*moved = 0;
	if (count > CACHE_CLASSES || !guard_take(cache))
		return false;
	uint8_t *depth = &cache->depth[count - 1];
	bool hit = *depth > 0;
	if (hit) {
		*first = cache->runs[count - 1][--*depth];
		cached_add(cache, -(int32_t)count);
	}
	*moved = guard_drop_and_flush(cache, map);
	return hit;
}

bool cache_put(struct cpu_cache *cache, struct regmap *map, uint32_t first, uint32_t count,
	       uint32_t *moved)
{
	*moved = 0;
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
	*moved = guard_drop_and_flush(cache, map);
	return kept;
}
