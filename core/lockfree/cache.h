/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU register caches of the lock-free backend: magazines of runs in the
 * manner of Bonwick's vmem quantum caches and the Linux IOVA rcache.  A run
 * of 1..CACHE_CLASSES registers freed on a CPU is kept there for the next
 * allocation of the same size on that CPU, so the common cycle touches one
 * cache line that no other CPU writes.
 *
 * Guard: one word per cache, taken by compare-and-swap and never waited for.
 * A thread that finds it taken (a thread preempted on the same CPU, or a
 * drainer) goes to the shared bitmap instead, so nobody ever waits for a
 * preempted guard holder.
 *
 * No stranding (C13):
 *  - a cache holds at most `limit` registers (a quarter of the pool shared
 *    among the CPUs) and accepts nothing while anyone waits for registers;
 *  - a waiter's serving round drains every cache (cache_flush).  A cache
 *    whose guard is taken is not skipped silently: the drainer turns the
 *    guard from TAKEN into FLUSH_WANTED, in the same word, and the holder's
 *    release (an exchange) sees it and flushes, reporting what it moved so
 *    that its caller asks for a serving round;
 *  - a run put into a cache after a waiter's round drained it: the put's
 *    guard take reads the FREE that round's release wrote, so the put
 *    happens after the waiter counted itself and sees it (cache_put's
 *    caller re-checks, and flushes).
 *
 * Invariant: `cached` equals the registers in the magazines, except while
 * the guard is held.
 */
#ifndef MAPREG_CACHE_H
#define MAPREG_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lockfree/regmap.h"

#define CACHE_CLASSES 32u	/* runs of 1..32 registers are cached */
#define CACHE_DEPTH 8u		/* runs per class */

struct cpu_cache {
	atomic_uint guard;			/* enum guard_state (cache.c) */
	_Atomic uint32_t cached;		/* registers in the magazines */
	_Atomic uint32_t limit;			/* most it may hold */
	uint8_t depth[CACHE_CLASSES];
	uint32_t runs[CACHE_CLASSES][CACHE_DEPTH];
};

/*
 * Takes a cached run of exactly `count` registers; false on a miss.  *moved:
 * registers a drainer's request made this call flush to `map`.
 */
bool cache_take(struct cpu_cache *cache, struct regmap *map, uint32_t count, uint32_t *first,
		uint32_t *moved);
/* Keeps a run; false if it does not fit (size, depth, limit, guard taken). */
bool cache_put(struct cpu_cache *cache, struct regmap *map, uint32_t first, uint32_t count,
	       uint32_t *moved);
/*
 * Returns every cached run to `map` and says how many registers moved, or,
 * if the guard is taken, asks its holder to (and returns 0).
 */
uint32_t cache_flush(struct cpu_cache *cache, struct regmap *map);

#endif /* MAPREG_CACHE_H */
