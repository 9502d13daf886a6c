/* SPDX-License-Identifier: MIT */
/*
 * The register map of the lock-free backend: which registers are claimed
 * (a bitmap, sbitmap-style: 64-bit words changed only by compare-and-swap or
 * fetch-and), and which runs were left to callers (C23).
 *
 * The map is cut into chunks of REGMAP_CHUNK registers that never move,
 * found through a directory with room for MAPREG_MAX_REGISTERS that never
 * moves either (32 KiB per pool), and the map itself lives as long as its
 * pool: so no reader needs RCU to use it, and any register number, however
 * it was obtained, is addressed the same way at any time.  Grow (C25)
 * writes new chunks into the directory, then raises `registers` with a
 * release store; readers load `registers` with acquire, so every chunk
 * below the size they read is there.
 *
 * Memory: a chunk is 1 bit + 8 bytes per register (the run records), plus
 * the fixed directory.  A 2^20-register pool: 8.16 MiB, or 8.16 bytes per
 * register.
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

#include <mapreg.h>

#include <stdbool.h>

#define REGMAP_CHUNK_SHIFT 12u
#define REGMAP_CHUNK (1u << REGMAP_CHUNK_SHIFT)
#define REGMAP_WORD_BITS 64u
#define REGMAP_LINE_BITS (REGMAP_WORD_BITS * 8u)	/* registers per 64-byte line of words */
#define REGMAP_NONE UINT32_MAX

struct regmap_chunk {
	_Atomic uint64_t words[REGMAP_CHUNK / REGMAP_WORD_BITS];
	_Atomic uint64_t runs[REGMAP_CHUNK];
};

#define REGMAP_MAX_CHUNKS (MAPREG_MAX_REGISTERS / REGMAP_CHUNK)

struct regmap {
	_Atomic uint32_t registers;		/* grows only: release / acquire */
	uint32_t chunks_used;			/* grow's, under the pool's admin lock */
	struct regmap_chunk **chunks;		/* the fixed directory */
};

#define RUN_RECORD(owner, count) (((uint64_t)(owner) << 32) | (count))

/* A map of `registers`, all free; false on ENOMEM. */
bool regmap_init(struct regmap *map, uint32_t registers);
/* Grows to `registers` (more than now; one grower at a time); false on ENOMEM, unchanged. */
bool regmap_grow(struct regmap *map, uint32_t registers);
void regmap_fini(struct regmap *map);

/* The size; every chunk below it is in the directory (acquire). */
static inline uint32_t regmap_registers(struct regmap *map)
{
	return atomic_load_explicit(&map->registers, memory_order_acquire);
}

/*
 * Claims `count` (>= 1) contiguous registers: the first fit at or after
 * `hint`, else the first fit before it; REGMAP_NONE if none.  Callers on
 * different CPUs pass hints apart, so that their runs (and the cache lines
 * of their run records and, in a pool large enough, of their bitmap words)
 * do not meet (sbitmap's per-CPU hints; registers.c: claim_hint).  *rolled_back tells whether it set bits it then had to
 * clear again: for that instant a concurrent claimer (a waiter's round) may
 * have seen them taken, and must be given another look (C13).
 */
uint32_t regmap_claim(struct regmap *map, uint32_t count, uint32_t hint, uint32_t boundary,
		      bool *rolled_back);
void regmap_release(struct regmap *map, uint32_t first, uint32_t count);
/* Whether a run kept by `owner` (RUN_RECORD) is recorded: reads every record. */
bool regmap_kept_by(struct regmap *map, uint32_t owner);
/* Registers with a clear bit: exact when nobody changes the map. */
uint32_t regmap_unclaimed(struct regmap *map);

static inline _Atomic uint64_t *regmap_run(struct regmap *map, uint32_t first)
{
	return &map->chunks[first >> REGMAP_CHUNK_SHIFT]->runs[first & (REGMAP_CHUNK - 1)];
}

#endif /* MAPREG_REGMAP_H */
