/* SPDX-License-Identifier: MIT */
/*
 * Scenario 1, the fast path: one thread, an idle pool, one synchronous I/O
 * per iteration (sync_io: allocate_ex with MAPREG_SYNCHRONOUS_CALLBACK and
 * no routine, free_adapter_object keeping the registers, free_map_registers).
 * Baseline: a glibc malloc(64)/free pair timed by the same loop, so every
 * figure is also a ratio to the allocator everyone knows.
 */
#include <stdlib.h>

#include "scenarios.h"

static void fastpath_body(cbench_state *s)
{
	uint32_t nregs = (uint32_t)cbench_arg(s, 0);
	mapreg_pool *pool = bench_pool(s, (uint32_t)cbench_arg(s, 1));
	mapreg_adapter *adapter = pool ? bench_adapter(s, pool, MAPREG_DISPATCH_INLINE) : NULL;
	struct hist *h = malloc(sizeof(*h));
	mapreg_transfer xfer;
	bool ok = true;

	if (adapter == NULL || h == NULL || mapreg_transfer_init(adapter, &xfer) != MAPREG_OK) {
		cbench_fail(s, "set-up failed");
		goto out;
	}
	hist_init(h);
	SAMPLED_LOOP(s, h, ok, sync_io(adapter, &xfer, nregs));
	if (!ok)
		cbench_fail(s, "a synchronous I/O failed on an idle pool (C8, C23, C24)");
	cbench_items_processed(s, cbench_iterations(s));
	cbench_report_latency(s, "op", h);
out:
	bench_destroy(s, pool, &adapter, 1);
	free(h);
}

static inline bool malloc_pair(void)
{
	void *p = malloc(64);

	bench_escape(p);		/* or the compiler drops the pair */
	free(p);
	return p != NULL;
}

static void malloc_body(cbench_state *s)
{
	struct hist *h = malloc(sizeof(*h));
	bool ok = true;

	if (h == NULL) {
		cbench_fail(s, "out of memory");
		return;
	}
	hist_init(h);
	SAMPLED_LOOP(s, h, ok, malloc_pair());
	if (!ok)
		cbench_fail(s, "malloc failed");
	cbench_items_processed(s, cbench_iterations(s));
	cbench_report_latency(s, "op", h);
	free(h);
}

static void fastpath_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "nregs", "pool" };
	cbench *b = scenario_register(sc, backend, fastpath_body);

	cbench_arg_names(b, 2, names);
	/* nregs 1, 8, 32 (a x8 range) on a small and a large pool. */
	for (int64_t pool = 64; pool <= 65536; pool *= 1024)
		cbench_ranges(b, 2, (const int64_t[]){ 1, pool }, (const int64_t[]){ 32, pool }, 8);
}

static void malloc_register(const struct scenario *sc)
{
	static const struct bench_backend malloc_baseline = { MAPREG_BACKEND_DEFAULT, "malloc" };

	scenario_register(sc, &malloc_baseline, malloc_body);
}

const struct scenario scenario_fastpath = {
	.name = "fastpath",
	.description = "1 thread, idle pool: sync allocate_ex (no routine, base_out) + "
		       "free_adapter_object(KEEP_REGISTERS) + free_map_registers; nregs 1/8/32, "
		       "pool 64/65536; baseline fastpath/malloc = malloc(64)+free",
	.register_runs = fastpath_register,
	.register_baselines = malloc_register,
};
