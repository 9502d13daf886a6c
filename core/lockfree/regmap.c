/* SPDX-License-Identifier: MIT */
/*
 * Claiming and releasing register runs in the chunked bitmap; see regmap.h.
 *
 * Memory orders.  A claim is a compare-and-swap per word (acquire: the
 * claimer then reads, for example, the run record left by the releaser); a
 * release is a fetch-and per word (release: everything the holder did with
 * the registers happens before the next claimer's acquire; seq_cst for the
 * waiters' Dekker pair, regmap_release).  The scan that
 * finds candidates uses relaxed loads: a stale view costs a failed claim,
 * never a wrong one, because only the compare-and-swap decides.
 */
#include <stdlib.h>

#include "base/boundary.h"
#include "hooks/perturb.h"
#include "lockfree/regmap.h"

static _Atomic uint64_t *word_of(struct regmap *map, uint32_t bit)
{
	struct regmap_chunk *chunk = map->chunks[bit >> REGMAP_CHUNK_SHIFT];

	return &chunk->words[(bit & (REGMAP_CHUNK - 1)) / REGMAP_WORD_BITS];
}

static uint64_t run_mask(uint32_t offset, uint32_t span)
{
	return (span == REGMAP_WORD_BITS ? ~0ull : ((1ull << span) - 1)) << offset;
}

/* Adds chunks up to `registers` to the directory; false (none added) on ENOMEM. */
static bool add_chunks(struct regmap *map, uint32_t registers)
{
	uint32_t chunks = (registers + REGMAP_CHUNK - 1) >> REGMAP_CHUNK_SHIFT;

	for (uint32_t i = map->chunks_used; i < chunks; i++) {
		/* Unseen until `registers` covers it (release): a plain store suffices. */
		map->chunks[i] = calloc(1, sizeof(struct regmap_chunk));
		if (map->chunks[i] == NULL) {
			while (i-- > map->chunks_used) {
				free(map->chunks[i]);
				map->chunks[i] = NULL;
			}
			return false;
		}
	}
	map->chunks_used = chunks > map->chunks_used ? chunks : map->chunks_used;
	return true;
}

bool regmap_init(struct regmap *map, uint32_t registers)
{
	map->chunks_used = 0;
	map->chunks = calloc(REGMAP_MAX_CHUNKS, sizeof(map->chunks[0]));
	if (map->chunks == NULL || !add_chunks(map, registers)) {
		free(map->chunks);
		return false;
	}
	atomic_init(&map->registers, registers);
	return true;
}

bool regmap_grow(struct regmap *map, uint32_t registers)
{
	if (!add_chunks(map, registers))
		return false;
	/* Release: a reader that sees the new size sees its chunks. */
	atomic_store_explicit(&map->registers, registers, memory_order_release);
	return true;
}

void regmap_fini(struct regmap *map)
{
	for (uint32_t i = 0; i < map->chunks_used; i++)
		free(map->chunks[i]);
	free(map->chunks);
}

void regmap_release(struct regmap *map, uint32_t first, uint32_t count)
{
	while (count > 0) {
		uint32_t offset = first % REGMAP_WORD_BITS;
		uint32_t span = REGMAP_WORD_BITS - offset < count ? REGMAP_WORD_BITS - offset : count;

		PERTURB();
		/*
		 * seq_cst, not only release: registers_return_slow reads
		 * waiting_registers right after, with no fence (the Dekker pair
		 * with waiters).  On x86 the same locked instruction.
		 */
		atomic_fetch_and_explicit(word_of(map, first), ~run_mask(offset, span),
					  memory_order_seq_cst);
		first += span;
		count -= span;
	}
}

/*
 * Sets [first, first + count) word by word.  On meeting a set bit, undoes
 * what it set and returns the position of that bit, else returns REGMAP_NONE.
 */
static uint32_t claim_range(struct regmap *map, uint32_t first, uint32_t count)
{
	uint32_t bit = first, left = count;

	while (left > 0) {
		uint32_t offset = bit % REGMAP_WORD_BITS;
		uint32_t span = REGMAP_WORD_BITS - offset < left ? REGMAP_WORD_BITS - offset : left;
		uint64_t mask = run_mask(offset, span);
		_Atomic uint64_t *word = word_of(map, bit);
		uint64_t seen = atomic_load_explicit(word, memory_order_relaxed);

		PERTURB();
		do {
			if (seen & mask) {
				if (bit > first)
					regmap_release(map, first, bit - first);
				return bit + (uint32_t)__builtin_ctzll((seen & mask) >> offset);
			}
		} while (!atomic_compare_exchange_weak_explicit(word, &seen, seen | mask,
							       memory_order_acquire,
							       memory_order_relaxed));
		bit += span;
		left -= span;
	}
	return REGMAP_NONE;
}

/*
 * Within a word's clear bits `clear`: the bits that start `count` (1..64)
 * clear bits inside the word.  And-ing the mask with itself shifted keeps a
 * bit only if the bits after it are clear too; each step doubles the length
 * checked, so a run of 64 takes six.
 */
static uint64_t run_starts(uint64_t clear, uint32_t count)
{
	for (uint32_t len = 1; len < count && clear != 0;) {
		uint32_t step = len < count - len ? len : count - len;

		clear &= clear >> step;
		len += step;
	}
	return clear;
}

/*
 * The first start in [from, end) of `count` clear bits that all lie below
 * `limit`, in a relaxed snapshot of the words; `end` if none.  A word at a
 * time: a run that spans words is carried across them (`run` clear bits
 * from `run_start`), one inside a word is found by run_starts().  A run may
 * not cross a multiple of the boundary (C30): the carried run starts again
 * at each one that falls between words, and a boundary of 64 or less keeps
 * only the starts inside a word that stay in their window.
 */
static uint32_t find_clear_run(struct regmap *map, uint32_t from, uint32_t end, uint32_t limit,
			       uint32_t count, uint32_t boundary)
{
	uint64_t allowed = boundary_start_mask(count, boundary);
	uint32_t run = 0, run_start = from;

	for (uint32_t base = from & ~(REGMAP_WORD_BITS - 1); base < limit;
	     base += REGMAP_WORD_BITS) {
		if (run == 0 && base >= end)
			break;				/* no start left in [from, end) */
		if (boundary != 0 && base % boundary == 0)
			run = 0;			/* C30: no run crosses here */
		uint64_t clear = ~atomic_load_explicit(word_of(map, base), memory_order_relaxed);

		if (base < from)
			clear &= ~0ull << (from - base);		/* not ours to start in */
		if (limit - base < REGMAP_WORD_BITS)
			clear &= (1ull << (limit - base)) - 1;	/* past the pool */
		if (clear == 0) {
			/*
			 * Full: it neither starts a run nor carries one, and
			 * neither do the full words after it, which a load
			 * each skips (a scan meets many in a busy pool).
			 */
			run = 0;
			while (base + REGMAP_WORD_BITS < end &&
			       atomic_load_explicit(word_of(map, base + REGMAP_WORD_BITS),
						    memory_order_relaxed) == ~0ull)
				base += REGMAP_WORD_BITS;
			continue;
		}
		if (run != 0) {
			uint32_t more = clear == ~0ull ? REGMAP_WORD_BITS
						       : (uint32_t)__builtin_ctzll(~clear);
			if (run + more >= count)
				return run_start;
			if (more == REGMAP_WORD_BITS) {
				run += REGMAP_WORD_BITS;
				continue;
			}
			run = 0;
		}
		if (count <= REGMAP_WORD_BITS) {
			uint64_t starts = run_starts(clear, count) & allowed;
			if (starts != 0) {
				uint32_t first = base + (uint32_t)__builtin_ctzll(starts);
				return first < end ? first : end;
			}
		}
		/* What reaches the word's top end may go on in the next word. */
		uint32_t top = clear == ~0ull ? REGMAP_WORD_BITS : (uint32_t)__builtin_clzll(~clear);
		if (top != 0 && base + REGMAP_WORD_BITS - top < end) {
			run = top;
			run_start = base + REGMAP_WORD_BITS - top;
		}
	}
	return end;
}

/*
 * First fit among runs starting in [start, end): the search proposes, the
 * claim's compare-and-swaps decide; a run taken meanwhile sends the search on
 * past the bit that was found set.
 */
static uint32_t claim_first_fit(struct regmap *map, uint32_t count, uint32_t start,
				uint32_t end, uint32_t limit, uint32_t boundary,
				bool *rolled_back)
{
	while (start < end) {
		start = find_clear_run(map, start, end, limit, count, boundary);
		if (start >= end)
			break;
		uint32_t busy = claim_range(map, start, count);

		if (busy == REGMAP_NONE)
			return start;
		*rolled_back |= busy > start;
		start = busy + 1;
	}
	return REGMAP_NONE;
}

uint32_t regmap_claim(struct regmap *map, uint32_t count, uint32_t hint, uint32_t boundary,
		      bool *rolled_back)
{
	uint32_t first = REGMAP_NONE, limit = regmap_registers(map);

	*rolled_back = false;
	if (count > limit)
		return REGMAP_NONE;
	if (hint < limit)
		first = claim_first_fit(map, count, hint, limit, limit, boundary, rolled_back);
	/* Then below the hint, if there is a below: no call for nothing to search. */
	if (first == REGMAP_NONE && hint > 0)
		first = claim_first_fit(map, count, 0, hint < limit ? hint : limit, limit, boundary,
					rolled_back);
	return first;
}

uint32_t regmap_unclaimed(struct regmap *map)
{
	uint32_t claimed = 0, registers = regmap_registers(map);

	for (uint32_t bit = 0; bit < registers; bit += REGMAP_WORD_BITS)
		claimed += (uint32_t)__builtin_popcountll(
			atomic_load_explicit(word_of(map, bit), memory_order_relaxed));
	return registers - claimed;
}

/*
 * Relaxed loads: destroy's caller has the channel (taken by an acquiring
 * CAS after every keep that recorded under it) and C28 puts every other keep
 * and free of this adapter before destroy, so the records it must see
 * happen before these loads.
 */
bool regmap_kept_by(struct regmap *map, uint32_t owner)
{
	uint32_t registers = regmap_registers(map);

	for (uint32_t chunk = 0; chunk << REGMAP_CHUNK_SHIFT < registers; chunk++) {
		_Atomic uint64_t *runs = map->chunks[chunk]->runs;
		bool found = false;

		for (uint32_t i = 0; i < REGMAP_CHUNK; i++)
			found |= atomic_load_explicit(&runs[i], memory_order_relaxed) >> 32 == owner;
		if (found)
			return true;
	}
	return false;
}
