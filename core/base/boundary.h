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

#endif /* MAPREG_BOUNDARY_H */
