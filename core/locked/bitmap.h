/* SPDX-License-Identifier: MIT */
/*
 * A plain (not concurrent) bitmap of registers: bit set = held.  The caller
 * serializes all access; bits past `nbits` in the last word stay clear.
 */
#ifndef MAPREG_BITMAP_H
#define MAPREG_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define BITMAP_WORD_BITS 64u
#define BITMAP_NONE UINT32_MAX

static inline uint32_t bitmap_words(uint32_t nbits)
{
	return (nbits + BITMAP_WORD_BITS - 1) / BITMAP_WORD_BITS;
}

/* First-fit: the lowest index starting `count` (>= 1) clear bits, or BITMAP_NONE. */
/* First fit of `count` clear bits, crossing no multiple of `boundary` (C30). */
uint32_t bitmap_find_clear_run(const uint64_t *words, uint32_t nbits, uint32_t count,
			       uint32_t boundary);
void bitmap_set_run(uint64_t *words, uint32_t first, uint32_t count);
void bitmap_clear_run(uint64_t *words, uint32_t first, uint32_t count);

#endif /* MAPREG_BITMAP_H */
