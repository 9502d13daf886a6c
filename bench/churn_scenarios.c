/* SPDX-License-Identifier: MIT */
/*
 * Scenarios 3, 5 and 8: the churn engine (churn.h) on a 64-register pool,
 * requests of 1..8 registers, up to 4x the pool asked for at once.
 */
#include "churn.h"
#include "scenarios.h"

#define CHURN_POOL 64
#define CHURN_MAX_NREGS 8
#define CHURN_INFLIGHT_FACTOR 4
/* Growth: +8 registers every 1024 requests over a fixed-length run. */
#define GROW_STEP 8
#define GROW_EVERY 1024
#define GROW_ITERATIONS 200000

static void churn_body(cbench_state *s, uint32_t cancel_percent, uint32_t grow_step)
{
	struct churn_config cfg = {
		.registers = CHURN_POOL,
		.adapters = (uint32_t)cbench_arg(s, 0),
		.max_nregs = CHURN_MAX_NREGS,
		.inflight_factor = CHURN_INFLIGHT_FACTOR,
		.cancel_percent = cancel_percent,
		.grow_step = grow_step,
		.grow_every = GROW_EVERY,
	};

	churn_run(s, &cfg);
}

static void exhaustion_body(cbench_state *s)
{
	churn_body(s, 0, 0);
}

static void cancel_body(cbench_state *s)
{
	churn_body(s, 50, 0);
}

static void growth_body(cbench_state *s)
{
	churn_body(s, 0, GROW_STEP);
}

static cbench *churn_register(const struct scenario *sc, const struct bench_backend *backend,
			      cbench_body_fn body, size_t nadapters, const int64_t adapters[])
{
	static const char *const names[] = { "adapters" };
	cbench *b = scenario_register(sc, backend, body);

	cbench_arg_names(b, 1, names);
	for (size_t i = 0; i < nadapters; i++)
		cbench_args(b, 1, &adapters[i]);
	cbench_use_real_time(b);
	/*
	 * The submitter on the first CPU, the freer on the second (churn.c),
	 * as crossfree does: unpinned, the scheduler put them on one CPU in
	 * some repetitions and on two in others, and the rows' coefficients of
	 * variation were 50-76 % on both backends (BENCHMARKS.md).
	 */
	cbench_pin_threads(b);
	return b;
}

static void exhaustion_register(const struct scenario *sc, const struct bench_backend *backend)
{
	churn_register(sc, backend, exhaustion_body, 2, (const int64_t[]){ 1, 4 });
}

static void cancel_register(const struct scenario *sc, const struct bench_backend *backend)
{
	churn_register(sc, backend, cancel_body, 2, (const int64_t[]){ 1, 4 });
}

static void growth_register(const struct scenario *sc, const struct bench_backend *backend)
{
	cbench *b = churn_register(sc, backend, growth_body, 1, (const int64_t[]){ 4 });

	/* The pool's size follows the run's length: fix it, so runs compare. */
	cbench_fixed_iterations(b, GROW_ITERATIONS);
}

const struct scenario scenario_exhaustion = {
	.name = "exhaustion",
	.description = "pool 64, async requests of 1..8 regs (4x the pool in flight) on 1 or 4 "
		       "adapters, freed by another thread on the other CPU: grant latency "
		       "(free->routine) percentiles, throughput, FIFO inversions (must be 0)",
	.register_runs = exhaustion_register,
};

const struct scenario scenario_cancel = {
	.name = "cancel",
	.description = "exhaustion plus a cancel of a random live request after half the "
		       "submissions, racing the frees: throughput; grant latency of the frees' "
		       "grants and, apart, of the cancels' (cancel->routine); leaked, "
		       "double-granted, routine-after-cancel counts (must be 0)",
	.register_runs = cancel_register,
};

const struct scenario scenario_growth = {
	.name = "growth",
	.description = "exhaustion on 4 adapters while a third thread calls mapreg_pool_grow "
		       "(+8 registers every 1024 requests, fixed 200k requests): grow latency, "
		       "grant latency of the frees' grants and, apart, of the grows' "
		       "(grow->routine), throughput",
	.register_runs = growth_register,
};
