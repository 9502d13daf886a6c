/* SPDX-License-Identifier: MIT */
#include <stdbool.h>

#include "base/boundary.h"
#include "locked/bitmap.h"

/*
 * The first index in [from, limit) whose bit equals `set`, or `limit`.
 * Word at a time: invert the word when looking for a clear bit.
 */
static uint32_t find_next(const uint64_t *words, uint32_t from, uint32_t limit, bool set)
{
	while (from < limit) {
		uint32_t index = from / BITMAP_WORD_BITS;
		uint64_t word = set ? words[index] : ~words[index];

		word &= ~0ull << (from % BITMAP_WORD_BITS);
		if (word != 0) {
			uint32_t found = index * BITMAP_WORD_BITS + (uint32_t)__builtin_ctzll(word);
			return found < limit ? found : limit;
		}
		from = (index + 1) * BITMAP_WORD_BITS;
	}
	return limit;
}

uint32_t bitmap_find_clear_run(const uint64_t *words, uint32_t nbits, uint32_t count,
			       uint32_t boundary)
{
	uint32_t start = 0;

	while ((start = find_next(words, start, nbits, false)) < nbits) {
		uint32_t fit = run_start_within_boundary(start, count, boundary);
		if (fit != start) {
			start = fit;
			continue;
		}
		if (nbits - start < count)
			break;
		uint32_t end = find_next(words, start, start + count, true);
		if (end == start + count)
			return start;
		start = end;
	}
	return BITMAP_NONE;
}

/* Applies `set` to [first, first + count), a word at a time. */
static void assign_run(uint64_t *words, uint32_t first, uint32_t count, bool set)
{
	while (count > 0) {
		uint32_t offset = first % BITMAP_WORD_BITS;
		uint32_t span = BITMAP_WORD_BITS - offset < count ? BITMAP_WORD_BITS - offset : count;
		uint64_t mask = (span == BITMAP_WORD_BITS ? ~0ull : ((1ull << span) - 1)) << offset;

		if (set)
			words[first / BITMAP_WORD_BITS] |= mask;
		else
			words[first / BITMAP_WORD_BITS] &= ~mask;
		first += span;
		count -= span;
	}
}

void bitmap_set_run(uint64_t *words, uint32_t first, uint32_t count)
{
	assign_run(words, first, count, true);
}

void bitmap_clear_run(uint64_t *words, uint32_t first, uint32_t count)
{
	assign_run(words, first, count, false);
}
