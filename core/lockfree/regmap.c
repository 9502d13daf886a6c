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

/* First bit in [from, limit) equal to `set` in a relaxed snapshot, or limit. */
static uint32_t find_next(struct regmap *map, uint32_t from, uint32_t limit, bool set)
{
	while (from < limit) {
		uint64_t word = atomic_load_explicit(word_of(map, from), memory_order_relaxed);

		word = (set ? word : ~word) & (~0ull << (from % REGMAP_WORD_BITS));
		if (word != 0) {
			uint32_t found = (from & ~(REGMAP_WORD_BITS - 1)) + (uint32_t)__builtin_ctzll(word);
			return found < limit ? found : limit;
		}
		from = (from & ~(REGMAP_WORD_BITS - 1)) + REGMAP_WORD_BITS;
	}
	return limit;
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

/* First fit among runs starting in [start, end). */
static uint32_t claim_first_fit(struct regmap *map, uint32_t count, uint32_t start,
				uint32_t end, uint32_t limit, uint32_t boundary,
				bool *rolled_back)
{
	while ((start = find_next(map, start, end, false)) < end && limit - start >= count) {
		uint32_t fit = run_start_within_boundary(start, count, boundary);	/* C30 */
		if (fit != start) {
			start = fit;
			continue;
		}
		uint32_t busy = find_next(map, start, start + count, true);

		if (busy == start + count) {
			busy = claim_range(map, start, count);
			if (busy == REGMAP_NONE)
				return start;
			*rolled_back |= busy > start;
		}
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
	if (first == REGMAP_NONE)
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
