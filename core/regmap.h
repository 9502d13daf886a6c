/* SPDX-License-Identifier: MIT */
/*
 * The register map of the lock-free backend: which registers are claimed
 * (a bitmap, sbitmap-style: 64-bit words changed only by compare-and-swap or
 * fetch-and), and which runs were left to callers (C23).
 *
 * The map is cut into chunks of REGMAP_CHUNK registers that never move; a
 * directory of chunk pointers is published with RCU.  mapreg_pool_grow
 * publishes a larger directory that shares the old chunks, so claims and
 * releases running on the old directory stay valid, and frees the old
 * directory after a grace period (C25).
 *
 * Memory: a chunk is 1 bit + 8 bytes per register (the run records); the
 * directory adds 8 bytes per chunk.  A 2^20-register pool: 8.13 MiB, or
 * 8.13 bytes per register.
 *
 * Invariants:
 *  - bits at or past `registers` are never set by anyone using this map;
 *  - a claimed bit belongs to exactly one claimer until it releases it;
 *  - runs[first] is non-zero exactly while the run starting at `first` is
 *    kept by a caller: RUN_RECORD(owner, count); moving it back to zero is a
 *    compare-and-swap, so a run is freed at most once.
 */
#ifndef MAPREG_REGMAP_H
#define MAPREG_REGMAP_H

#include <stdatomic.h>
#include <stdint.h>

#include "rcu.h"

#define REGMAP_CHUNK_SHIFT 12u
#define REGMAP_CHUNK (1u << REGMAP_CHUNK_SHIFT)
#define REGMAP_WORD_BITS 64u
#define REGMAP_NONE UINT32_MAX

struct regmap_chunk {
	_Atomic uint64_t words[REGMAP_CHUNK / REGMAP_WORD_BITS];
	_Atomic uint64_t runs[REGMAP_CHUNK];
};

struct regmap {
	uint32_t registers;
	uint32_t chunks_used;
	struct rcu_head rcu;
	struct regmap_chunk *chunks[];
};

#define RUN_RECORD(owner, count) (((uint64_t)(owner) << 32) | (count))

/* A map of `registers`, reusing `old`'s chunks when not NULL; NULL on ENOMEM. */
struct regmap *regmap_create(const struct regmap *old, uint32_t registers);
/* Frees the directory; with `chunks` also the chunks (pool destroy). */
void regmap_destroy(struct regmap *map, bool chunks);

/*
 * Claims `count` (>= 1) contiguous registers: the first fit at or after
 * `hint`, else the first fit before it; REGMAP_NONE if none.  Callers on
 * different CPUs pass hints far apart, so that their runs (and the cache
 * lines of their bitmap words and run records) do not meet (sbitmap's
 * per-CPU hints).
 */
uint32_t regmap_claim(struct regmap *map, uint32_t count, uint32_t hint);
void regmap_release(struct regmap *map, uint32_t first, uint32_t count);
/* Registers with a clear bit: exact when nobody changes the map. */
uint32_t regmap_unclaimed(struct regmap *map);

static inline _Atomic uint64_t *regmap_run(struct regmap *map, uint32_t first)
{
	return &map->chunks[first >> REGMAP_CHUNK_SHIFT]->runs[first & (REGMAP_CHUNK - 1)];
}

#endif /* MAPREG_REGMAP_H */
