/* SPDX-License-Identifier: MIT */
/*
 * Run boundaries (C30), one rule for both backends' first-fit searches: no
 * run of registers crosses a multiple of the pool's boundary (a power of
 * two, or 0 for none).  The API layer refuses runs longer than it.
 */
#ifndef MAPREG_BOUNDARY_H
#define MAPREG_BOUNDARY_H

#include <stdint.h>

/*
 * Where a run of `count` found free at `start` may start: `start`, or the
 * next multiple of `boundary` if the run would cross one.
 */
static inline uint32_t run_start_within_boundary(uint32_t start, uint32_t count,
						 uint32_t boundary)
{
	if (boundary == 0 || start / boundary == (start + count - 1) / boundary)
		return start;
	return (start / boundary + 1) * boundary;
}

/*
 * The same rule for a search that looks at 64 registers at once, from a
 * multiple of 64: the offsets in such a word at which a run of `count`
 * (at most `boundary`) crosses no multiple of a boundary of 64 or less.
 * A larger boundary (or none) cuts no word: every offset.
 */
static inline uint64_t boundary_start_mask(uint32_t count, uint32_t boundary)
{
	if (boundary == 0 || boundary > 64)
		return ~0ull;
	uint32_t starts = boundary - count + 1;		/* per window of `boundary` */
	uint64_t window = starts >= 64 ? ~0ull : (1ull << starts) - 1, mask = 0;

	for (uint32_t at = 0; at < 64; at += boundary)
		mask |= window << at;
	return mask;
}

#endif /* MAPREG_BOUNDARY_H */
