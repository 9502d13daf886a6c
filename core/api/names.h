/* SPDX-License-Identifier: MIT */
/*
 * Names and numbers (names.c): status and backend names, C26's page count.
 * Stateless; the argument checks (check.c) use them, never the reverse.
 */
#ifndef MAPREG_NAMES_H
#define MAPREG_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include <mapreg.h>

static inline bool is_power_of_two(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

#endif /* MAPREG_NAMES_H */
