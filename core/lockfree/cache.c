/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU magazines; see cache.h for the two ways of changing one and why
 * neither strands a waiter.
 */
#include <stddef.h>

#include "base/cpu.h"
#include "base/rseq.h"
#include "hooks/perturb.h"
#include "lockfree/cache.h"

enum guard_state { GUARD_FREE, GUARD_TAKEN, GUARD_FLUSH_WANTED };

void cache_init(struct magazines *m, void *first, size_t stride, unsigned int cpus,
		const atomic_long *waiters, uint32_t registers)
{
	bool rseq = rseq_ready();

	*m = (struct magazines){ first, stride, cpus, rseq ? cpus : 0, rseq, waiters, 0, 0 };
	atomic_init(&m->tight, 0);
	atomic_init(&m->untighten_after, CACHE_UNTIGHTEN);
	for (unsigned int cpu = 0; cpu < cpus; cpu++) {
		struct cpu_cache *cache = magazine(m, cpu);

		atomic_init(&cache->state, 0);
		atomic_init(&cache->lock, 0);
		atomic_init(&cache->refused, 0);
	}
	cache_set_limit(m, registers);
}

/*
 * A magazine holds 1/128 of the pool's share of its CPU, and at least two
 * runs of the largest class, but never more than a quarter of that share.
 * Small on purpose: a cached run stays claimed where it was freed, and a
 * magazine that reuses many of them keeps the free space from coalescing
 * (measured by bench/mixed.c: at 85% load, a quarter of the share per CPU
 * left the largest free run at 0.22 of the free registers against the
 * locked backend's first-fit 0.39, 1/128 at 0.35).
 */
static uint32_t magazine_limit(uint32_t registers, unsigned int cpus)
{
	uint32_t share = registers / cpus;
	uint32_t floor = 2 * CACHE_CLASSES < share / 4 ? 2 * CACHE_CLASSES : share / 4;

	return share / 128 > floor ? share / 128 : floor;
}

void cache_set_limit(struct magazines *m, uint32_t registers)
{
	/* Relaxed: a stale limit only caches a little more or less. */
	for (unsigned int cpu = 0; cpu < m->cpus; cpu++)
		atomic_store_explicit(&magazine(m, cpu)->limit, magazine_limit(registers, m->cpus),
				      memory_order_relaxed);
}

/*
 * With the magazine to ourselves (guard or drainer's lock held, and, for
 * rseq, running sequences fenced): every run back to the bitmap.
 */
static uint32_t flush_owned(struct cpu_cache *cache, struct regmap *map)
{
	uint64_t state = atomic_load_explicit(&cache->state, memory_order_relaxed);

	if (state == 0)
		return 0;
	for (uint32_t count = 1; count <= CACHE_CLASSES; count++) {
		for (uint32_t depth = STATE_DEPTH(state, count); depth > 0; depth--)
			regmap_release(map, cache->runs[count - 1][depth - 1], count);
	}
	atomic_store_explicit(&cache->state, 0, memory_order_relaxed);
	return STATE_HELD(state);
}

uint64_t cache_held(const struct magazines *m)
{
	uint64_t held = 0;

	for (unsigned int cpu = 0; cpu < m->cpus; cpu++)
		held += STATE_HELD(atomic_load_explicit(&magazine(m, cpu)->state,
							memory_order_relaxed));
	return held;
}

/* The fallback: a guard word per magazine. */

static bool guard_take(struct cpu_cache *cache)
{
	unsigned int free_guard = GUARD_FREE;

	PERTURB();
	/* Acquire: we see the magazine as the last holder left it. */
	return atomic_compare_exchange_strong_explicit(&cache->lock, &free_guard, GUARD_TAKEN,
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
	return atomic_exchange_explicit(&cache->lock, GUARD_FREE, memory_order_acq_rel) ==
	       GUARD_FLUSH_WANTED;
}

static uint32_t guard_flush(struct cpu_cache *cache, struct regmap *map)
{
	for (;;) {
		if (guard_take(cache)) {
			uint32_t moved = flush_owned(cache, map);
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
		if (atomic_compare_exchange_strong_explicit(&cache->lock, &taken,
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
	return guard_drop(cache) ? guard_flush(cache, map) : 0;
}

static struct cpu_cache *this_magazine(const struct magazines *m)
{
	return magazine(m, cpu_current() % m->cpus);
}

static bool guarded_take(struct magazines *m, struct regmap *map, uint32_t count,
			 uint32_t *first, uint32_t *moved)
{
	struct cpu_cache *cache = this_magazine(m);

	if (!guard_take(cache))
		return false;
	uint64_t state = atomic_load_explicit(&cache->state, memory_order_relaxed);
	uint32_t depth = STATE_DEPTH(state, count);
	if (depth > 0) {
		*first = cache->runs[count - 1][depth - 1];
		atomic_store_explicit(&cache->state, state - STATE_RUN(count),
				      memory_order_relaxed);
	}
	*moved = guard_drop_and_flush(cache, map);
	return depth > 0;
}

static enum cache_put guarded_put(struct magazines *m, struct regmap *map, uint32_t first,
				  uint32_t count, uint32_t *moved)
{
	struct cpu_cache *cache = this_magazine(m);

	if (atomic_load_explicit(m->waiters, memory_order_relaxed) > 0 || !guard_take(cache))
		return PUT_REFUSED;
	uint64_t state = atomic_load_explicit(&cache->state, memory_order_relaxed);
	uint32_t depth = STATE_DEPTH(state, count);
	bool kept = depth < CACHE_DEPTH &&
		    STATE_HELD(state) + count <= atomic_load_explicit(&cache->limit,
								       memory_order_relaxed);
	if (kept) {
		cache->runs[count - 1][depth] = first;
		atomic_store_explicit(&cache->state, state + STATE_RUN(count),
				      memory_order_relaxed);
	}
	*moved = guard_drop_and_flush(cache, map);
	if (!kept)
		return PUT_REFUSED;
	/*
	 * A waiter that drained this magazine before our put counted itself
	 * before that drain, and our guard take acquired its release: we see
	 * it here, and drain the magazine again.
	 */
	if (*moved == 0 && atomic_load_explicit(m->waiters, memory_order_relaxed) == 0)
		return PUT_CACHED;
	*moved += guard_flush(cache, map);
	return PUT_FLUSHED;
}

/* The rseq way (x86-64). */

#ifdef MAPREG_HAVE_RSEQ
/*
 * A put was refused: if the pool is tight with nobody waiting, count it on
 * this CPU, and after `untighten_after` in a row clear `tight` (cache.h says
 * why that is safe); one refused while anyone waits ends the quiet stretch.
 * Counted in total instead, a pool whose waiters come and go (a poll
 * reactor's, always someone in its queue and not always for registers)
 * untightened every 65536 puts and paid a fence, tens of microseconds on
 * a virtual machine, each time it was waited on again (BENCHMARKS.md).
 * The count is a hint: racing updates may lose one.
 */
static void untighten(struct magazines *m)
{
	unsigned int tight = atomic_load_explicit(&m->tight, memory_order_relaxed);
	int cpu = rseq_cpu();

	if (!(tight & 1) || cpu < 0 || (unsigned int)cpu >= m->cpus)
		return;
	struct cpu_cache *cache = magazine(m, (unsigned int)cpu);
	uint32_t refused = atomic_load_explicit(&cache->refused, memory_order_relaxed);
	if (atomic_load_explicit(m->waiters, memory_order_relaxed) > 0) {
		if (refused != 0)	/* the quiet stretch is over */
			atomic_store_explicit(&cache->refused, 0, memory_order_relaxed);
		return;
	}
	refused++;
	if (refused < atomic_load_explicit(&m->untighten_after, memory_order_relaxed)) {
		atomic_store_explicit(&cache->refused, refused, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&cache->refused, 0, memory_order_relaxed);
	/* A locked CAS: visible to every later put before it reads `waiters`. */
	atomic_compare_exchange_strong_explicit(&m->tight, &tight, tight + 1,
						memory_order_seq_cst, memory_order_relaxed);
}

/*
 * Locks, fences and empties the magazines of CPUs [from, to) that hold
 * something.  An empty one is left alone: a put that may be in flight on it
 * read no waiter before the episode's first waiter fenced (cache.h), so the
 * waiter's own round sees it, and no later put is kept.  Magazines another
 * drainer holds are its to empty (its caller asks for a serving round if it
 * moved registers and anyone waits).
 */
static uint32_t rseq_drain_some(struct magazines *m, struct regmap *map, unsigned int from,
				unsigned int to)
{
	uint64_t locked = 0;
	uint32_t moved = 0;

	for (unsigned int cpu = from; cpu < to; cpu++) {
		struct cpu_cache *cache = magazine(m, cpu);
		unsigned int unlocked = 0;

		if (atomic_load_explicit(&cache->state, memory_order_relaxed) == 0)
			continue;
		PERTURB();
		/* Relaxed: the fence below orders the sequences. */
		if (atomic_compare_exchange_strong_explicit(&cache->lock, &unlocked, 1,
							    memory_order_relaxed,
							    memory_order_relaxed))
			locked |= 1ull << (cpu - from);
	}
	if (locked == 0)
		return 0;
	/*
	 * Every sequence that may have read the lock free is over: aborted, or
	 * committed before this returns.  membarrier also orders their stores
	 * before our loads.
	 */
	rseq_fence();
	for (unsigned int cpu = from; cpu < to; cpu++) {
		if (!(locked & (1ull << (cpu - from))))
			continue;
		struct cpu_cache *cache = magazine(m, cpu);
		moved += flush_owned(cache, map);
		/* Release: the emptied state before the sequences that see it free. */
		atomic_store_explicit(&cache->lock, 0, memory_order_release);
	}
	return moved;
}
#endif /* MAPREG_HAVE_RSEQ */

bool cache_take(struct magazines *m, struct regmap *map, uint32_t count, uint32_t *first,
		uint32_t *moved)
{
	*moved = 0;
	if (count == 0 || count > CACHE_CLASSES)
		return false;
#ifdef MAPREG_HAVE_RSEQ
	if (m->rseq)
		return false;		/* cache_take_fast's miss */
#endif
	return guarded_take(m, map, count, first, moved);
}

enum cache_put cache_put(struct magazines *m, struct regmap *map, uint32_t first,
			 uint32_t count, uint32_t *moved)
{
	*moved = 0;
	if (count == 0 || count > CACHE_CLASSES)
		return PUT_REFUSED;
#ifdef MAPREG_HAVE_RSEQ
	if (m->rseq) {
		untighten(m);		/* cache_put_fast refused it */
		return PUT_REFUSED;
	}
#endif
	return guarded_put(m, map, first, count, moved);
}

void cache_waiter_arrives(struct magazines *m)
{
#ifdef MAPREG_HAVE_RSEQ
	if (!m->rseq)
		return;
	unsigned int tight = atomic_load_explicit(&m->tight, memory_order_seq_cst);
	while (!(tight & 1)) {
		if (atomic_compare_exchange_weak_explicit(&m->tight, &tight, tight + 1,
							  memory_order_seq_cst,
							  memory_order_seq_cst)) {
			rseq_fence();	/* puts that read it clear: over */
			/*
			 * Untightened before (tight > 0) and waited on again: an
			 * episode costs a fence here and one to drain, so the next
			 * must be twice as long to cost as much.  A hint: racing
			 * doublings may lose one.
			 */
			unsigned int after = atomic_load_explicit(&m->untighten_after,
								  memory_order_relaxed);
			if (tight > 0 && after < CACHE_UNTIGHTEN_MAX)
				atomic_store_explicit(&m->untighten_after, 2 * after,
						      memory_order_relaxed);
			return;
		}
	}
#else
	(void)m;
#endif
}

uint32_t cache_drain(struct magazines *m, struct regmap *map)
{
	uint32_t moved = 0;

#ifdef MAPREG_HAVE_RSEQ
	if (m->rseq) {
		for (unsigned int from = 0; from < m->cpus; from += 64)
			moved += rseq_drain_some(m, map, from,
						 m->cpus - from > 64 ? from + 64 : m->cpus);
		return moved;
	}
#endif
	for (unsigned int cpu = 0; cpu < m->cpus; cpu++)
		moved += guard_flush(magazine(m, cpu), map);
	return moved;
}
