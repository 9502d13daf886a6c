/* SPDX-License-Identifier: MIT */
/*
 * Scenario 4, mixed sizes: one thread simulates a device whose requests have
 * Pareto-distributed sizes and lifetimes, in ticks.  Each tick frees the runs
 * whose lifetime ended, then tries one synchronous allocation (C8).  The
 * draws are seeded, so every backend sees the same requests.
 *
 * What it measures, after a warm-up of three mean lifetimes:
 *  - sync_fail_pct: synchronous allocations refused;
 *  - frag_fail_pct: refused although enough registers were free in total
 *    (the free space was cut into runs too short: fragmentation);
 *  - the largest free run over time (a series in the histogram file), and
 *    its mean and minimum as a fraction of the free registers.
 * Time is manual: the sum of the timed library calls, so the simulation's
 * own bookkeeping (a heap of expiries) is not counted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"

#define MIXED_ALPHA 1.5		/* sizes and lifetimes: heavy tails, finite means */
#define MIXED_MAX_NREGS 64
#define MIXED_SERIES_POINTS 200

struct held_run {
	uint64_t expiry;
	mapreg_base base;
};

struct mixed {
	uint32_t registers;
	uint32_t free;				/* by our own count */
	uint64_t *busy;				/* our own bitmap of held registers */
	struct held_run *heap;			/* min-heap by expiry */
	size_t nheld, capacity;
	double lifetime_xmin, lifetime_cap;
	uint64_t double_grants, bad_frees, expected_fails;
	double ns;				/* timed library calls */
	struct hist alloc;
};

static uint32_t draw_size(struct rng *r)
{
	double x = floor(rng_pareto(r, MIXED_ALPHA, 1.0));

	return x > MIXED_MAX_NREGS ? MIXED_MAX_NREGS : (uint32_t)x;
}

static double mean_size(void)
{
	struct rng r = rng_for(4001);
	double sum = 0;

	for (int i = 0; i < 100000; i++)
		sum += draw_size(&r);
	return sum / 100000;
}

static void heap_push(struct mixed *m, struct held_run run)
{
	size_t i = m->nheld++;

	while (i > 0 && m->heap[(i - 1) / 2].expiry > run.expiry) {
		m->heap[i] = m->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	m->heap[i] = run;
}

static struct held_run heap_pop(struct mixed *m)
{
	struct held_run top = m->heap[0], last = m->heap[--m->nheld];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m->nheld)
			break;
		if (c + 1 < m->nheld && m->heap[c + 1].expiry < m->heap[c].expiry)
			c++;
		if (m->heap[c].expiry >= last.expiry)
			break;
		m->heap[i] = m->heap[c];
		i = c;
	}
	if (m->nheld > 0)
		m->heap[i] = last;
	return top;
}

static bool bit(const uint64_t *map, uint32_t r)
{
	return map[r / 64] >> (r % 64) & 1;
}

/* Marks a run in our own bitmap; counts registers that were already busy. */
static void mark(struct mixed *m, mapreg_base base, bool busy)
{
	for (uint32_t r = base.first; r < base.first + base.count; r++) {
		if (busy && bit(m->busy, r))
			m->double_grants++;
		if (busy)
			m->busy[r / 64] |= UINT64_C(1) << (r % 64);
		else
			m->busy[r / 64] &= ~(UINT64_C(1) << (r % 64));
	}
	if (busy)
		m->free -= base.count;
	else
		m->free += base.count;
}

static uint32_t largest_free_run(const struct mixed *m)
{
	uint32_t best = 0, run = 0;

	for (uint32_t r = 0; r < m->registers; r++) {
		run = bit(m->busy, r) ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return best;
}

static void expire(struct mixed *m, mapreg_adapter *adapter, uint64_t tick)
{
	while (m->nheld > 0 && m->heap[0].expiry <= tick) {
		struct held_run run = heap_pop(m);

		mark(m, run.base, false);
		uint64_t t0 = clock_start();
		mapreg_status st = mapreg_free_map_registers(adapter, run.base, run.base.count);
		m->ns += (double)clock_elapsed_ns(t0, clock_stop());
		m->bad_frees += st != MAPREG_OK;
	}
}

/* One synchronous attempt; true if it was refused. */
static bool attempt(struct mixed *m, mapreg_adapter *adapter, mapreg_transfer *xfer,
		    uint32_t nregs, uint64_t expiry)
{
	mapreg_base base;
	uint64_t t0 = clock_start();
	mapreg_status st = mapreg_allocate_channel_ex(adapter, NULL, xfer, nregs,
						      MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						      &base);
	uint64_t ns = clock_elapsed_ns(t0, clock_stop());

	hist_record(&m->alloc, ns);
	m->ns += (double)ns;
	if (st != MAPREG_OK) {
		m->expected_fails += st != MAPREG_INSUFFICIENT_RESOURCES;
		return true;
	}
	t0 = clock_start();
	st = mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	m->ns += (double)clock_elapsed_ns(t0, clock_stop());
	m->expected_fails += st != MAPREG_OK;
	if (m->nheld == m->capacity) {		/* more runs than registers: granted twice */
		m->double_grants++;
		mapreg_free_map_registers(adapter, base, base.count);
		return false;
	}
	mark(m, base, true);
	heap_push(m, (struct held_run){ expiry, base });
	return false;
}

static bool mixed_init(struct mixed *m, uint32_t registers, double load)
{
	/* Little's law: registers held = arrivals per tick (1) x size x lifetime. */
	double lifetime = load * registers / mean_size();

	memset(m, 0, sizeof(*m));
	m->registers = m->free = registers;
	m->lifetime_xmin = lifetime * (MIXED_ALPHA - 1) / MIXED_ALPHA;
	m->lifetime_cap = 50 * lifetime;
	m->capacity = registers;		/* every held run has >= 1 register */
	m->busy = calloc((registers + 63) / 64, sizeof(*m->busy));
	m->heap = calloc(m->capacity, sizeof(*m->heap));
	hist_init(&m->alloc);
	return m->busy != NULL && m->heap != NULL;
}

static void mixed_report(cbench_state *s, struct mixed *m, uint64_t attempts, uint64_t fails,
			 uint64_t frag_fails, double run_share_sum, double run_share_min,
			 uint64_t samples)
{
	expect_zero(s, "double_grants", m->double_grants);
	expect_zero(s, "bad_frees", m->bad_frees);
	expect_zero(s, "unexpected_status", m->expected_fails);
	cbench_set_iteration_time(s, m->ns / 1e9);
	cbench_items_processed(s, cbench_iterations(s));
	cbench_counter(s, "measured_attempts", (double)attempts, CBENCH_VALUE);
	cbench_counter(s, "sync_fail_pct", attempts ? 100.0 * (double)fails / (double)attempts : 0,
		       CBENCH_VALUE);
	cbench_counter(s, "frag_fail_pct",
		       attempts ? 100.0 * (double)frag_fails / (double)attempts : 0, CBENCH_VALUE);
	cbench_counter(s, "largest_run_share_mean", samples ? run_share_sum / (double)samples : 0,
		       CBENCH_VALUE);
	cbench_counter(s, "largest_run_share_min", samples ? run_share_min : 0, CBENCH_VALUE);
	cbench_report_latency(s, "alloc", &m->alloc);
}

static void mixed_body(cbench_state *s)
{
	uint32_t registers = (uint32_t)cbench_arg(s, 0);
	struct mixed m;
	mapreg_pool *pool = bench_pool(s, registers);
	mapreg_adapter *adapter = pool ? bench_adapter(s, pool, MAPREG_DISPATCH_INLINE) : NULL;
	mapreg_transfer xfer;
	struct rng r = rng_for(4);
	double xs[MIXED_SERIES_POINTS], ys[MIXED_SERIES_POINTS];
	int points = 0;
	uint64_t attempts = 0, fails = 0, frag_fails = 0, samples = 0, tick = 0;
	double share_sum = 0, share_min = 1;
	int64_t n;

	if (!mixed_init(&m, registers, (double)cbench_arg(s, 1) / 100) || adapter == NULL ||
	    mapreg_transfer_init(adapter, &xfer) != MAPREG_OK) {
		cbench_fail(s, "set-up failed");
		goto out;
	}
	uint64_t warmup = (uint64_t)(3 * m.lifetime_xmin * MIXED_ALPHA / (MIXED_ALPHA - 1));
	uint64_t every = (uint64_t)cbench_max_iterations(s) / MIXED_SERIES_POINTS + 1;
	while ((n = cbench_batch(s)) > 0) {
		for (int64_t i = 0; i < n; i++, tick++) {
			uint32_t nregs = draw_size(&r);
			double life = rng_pareto(&r, MIXED_ALPHA, m.lifetime_xmin);
			uint64_t expiry = tick + 1 + (uint64_t)fmin(life, m.lifetime_cap);

			expire(&m, adapter, tick);
			uint32_t free_before = m.free;
			bool refused = attempt(&m, adapter, &xfer, nregs, expiry);
			if (tick % every == 0 && points < MIXED_SERIES_POINTS) {
				xs[points] = (double)tick;
				ys[points++] = largest_free_run(&m);
			}
			if (tick < warmup)
				continue;
			attempts++;
			fails += refused;
			frag_fails += refused && free_before >= nregs;
			if (tick % every == 0 && m.free > 0) {
				double share = (double)largest_free_run(&m) / m.free;
				share_sum += share;
				share_min = fmin(share_min, share);
				samples++;
			}
		}
	}
	expire(&m, adapter, UINT64_MAX);		/* give everything back */
	mixed_report(s, &m, attempts, fails, frag_fails, share_sum, share_min, samples);
	cbench_report_series(s, "largest_free_run", points, xs, ys);
out:
	bench_destroy(s, pool, &adapter, 1);
	free(m.busy);
	free(m.heap);
}

static void mixed_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "pool", "load" };
	cbench *b = scenario_register(sc, backend, mixed_body);

	cbench_arg_names(b, 2, names);
	cbench_args(b, 2, (const int64_t[]){ 4096, 50 });
	cbench_args(b, 2, (const int64_t[]){ 4096, 85 });
	cbench_use_manual_time(b);
}

const struct scenario scenario_mixed = {
	.name = "mixed",
	.description = "1 thread, pool 4096, sync allocations with Pareto sizes (1..64) and "
		       "lifetimes at 50%/85% load: sync failure rate while enough registers are "
		       "free in total, largest free run over time",
	.register_runs = mixed_register,
};
