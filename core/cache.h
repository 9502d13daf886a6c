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
 *  - a waiter that does not fit drains every cache it can take
 *    (cache_flush), and a cache it could not take is flushed by its holder:
 *    cache_put re-checks for waiters after it lets go of the guard (the
 *    waiter counts itself before draining: the two sides are a Dekker pair
 *    with a full fence each, so one of them sees the other).
 *
 * Invariant: `cached` equals the registers in the magazines, except while
 * the guard is held.
 */
#ifndef MAPREG_CACHE_H
#define MAPREG_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "regmap.h"

#define CACHE_CLASSES 32u	/* runs of 1..32 registers are cached */
#define CACHE_DEPTH 8u		/* runs per class */

struct cpu_cache {
	atomic_uint guard;			/* 0 free, 1 taken */
	_Atomic uint32_t cached;		/* registers in the magazines */
	_Atomic uint32_t limit;			/* most it may hold */
	uint8_t depth[CACHE_CLASSES];
	uint32_t runs[CACHE_CLASSES][CACHE_DEPTH];
	/* C27 counters of this CPU: relaxed, summed by the stats reader. */
	atomic_uint_fast64_t grants, sync_failures, cancels;
} __attribute__((aligned(64)));

/* Takes a cached run of exactly `count` registers; false on a miss. */
bool cache_take(struct cpu_cache *cache, uint32_t count, uint32_t *first);
/* Keeps a run; false if it does not fit (size, depth, limit, guard taken). */
bool cache_put(struct cpu_cache *cache, uint32_t first, uint32_t count);
/* Returns every cached run to `map`; false if the guard was taken. */
bool cache_flush(struct cpu_cache *cache, struct regmap *map);

#endif /* MAPREG_CACHE_H */
