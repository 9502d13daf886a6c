/* SPDX-License-Identifier: MIT */
/*
 * Churn: a small pool kept exhausted by asynchronous requests, the engine of
 * the exhaustion, cancellation-storm and growth scenarios.
 *
 *  - The submitter (the benchmark's thread) keeps up to `inflight_factor`
 *    times the pool's registers asked for by live requests, each for 1..
 *    max_nregs registers on a random adapter (inline dispatch), and, in a
 *    storm, cancels a random live request after `cancel_percent` % of its
 *    submissions.
 *  - The routine claims its registers in the grant checker, checks FIFO
 *    order per adapter (C11), records latencies, hands its run to the freer
 *    and answers MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS (the channel passes
 *    on at once, the registers stay held).
 *  - The freer (a helper thread) frees each run with
 *    mapreg_free_map_registers as soon as it gets it, so waiters are
 *    granted, and their routines run, on the freer's thread (C16).
 *  - In growth runs a grower thread calls mapreg_pool_grow by `grow_step`
 *    every `grow_every` completed requests.
 *
 * One iteration is one request submitted, and the timed loop ends only when
 * every request has been granted and freed, or cancelled.
 */
#ifndef MAPREG_BENCH_CHURN_H
#define MAPREG_BENCH_CHURN_H

#include "harness.h"

struct churn_config {
	uint32_t registers;		/* the pool's size at the start */
	uint32_t adapters;
	uint32_t max_nregs;		/* sizes are uniform in 1..max_nregs */
	uint32_t inflight_factor;
	uint32_t cancel_percent;	/* 0: no cancellations */
	uint32_t grow_step;		/* 0: no grower */
	uint32_t grow_every;
};

/* Runs churn as the body of a one-thread, real-time benchmark. */
void churn_run(cbench_state *s, const struct churn_config *cfg);

#endif /* MAPREG_BENCH_CHURN_H */
