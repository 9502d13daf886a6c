/* SPDX-License-Identifier: MIT */
/* The scenarios, in the order --help lists and the runs register them. */
#ifndef MAPREG_BENCH_SCENARIOS_H
#define MAPREG_BENCH_SCENARIOS_H

#include "harness.h"

extern const struct scenario scenario_fastpath;		/* 1 */
extern const struct scenario scenario_scaling;		/* 2 */
extern const struct scenario scenario_exhaustion;	/* 3 */
extern const struct scenario scenario_mixed;		/* 4 */
extern const struct scenario scenario_cancel;		/* 5 */
extern const struct scenario scenario_crossfree;	/* 6 */
extern const struct scenario scenario_poll;		/* 7 */
extern const struct scenario scenario_growth;		/* 8 */
extern const struct scenario scenario_batches;		/* 9 */

#endif /* MAPREG_BENCH_SCENARIOS_H */
