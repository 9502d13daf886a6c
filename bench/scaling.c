/* SPDX-License-Identifier: MIT */
/*
 * Scenario 2, scaling: 1 and 2 threads pinned one per CPU, then 4, 8 and 16
 * threads oversubscribing the machine, all on one pool.
 *  - own adapter (shared:0): each thread runs the fast path's sync_io on its
 *    own adapter: what the pool's shared state costs under contention;
 *  - one shared adapter (shared:1): each thread asks the one channel with
 *    an asynchronous request and waits for its routine (granted inline on
 *    whichever thread released the channel, C16), then frees the registers:
 *    what a channel hand-off costs.
 * Items are I/Os of all threads per wall-clock second.
 */
#include <stdlib.h>

#include "scenarios.h"

#define SCALING_NREGS 8
#define SCALING_POOL 1024
#define SCALING_MAX_THREADS 16

struct scaling {
	mapreg_pool *pool;
	mapreg_adapter *shared_adapter;		/* shared:1 only */
	struct hist hists[SCALING_MAX_THREADS];
	_Atomic bool failed;
};

/* A thread's request on the shared adapter. */
struct waiter {
	mapreg_transfer xfer;
	struct deferred done;
	_Atomic bool granted;
	mapreg_base base;
};

static void waiter_granted(struct deferred *d)
{
	struct waiter *w = container_of(d, struct waiter, done);

	atomic_store_explicit(&w->granted, true, memory_order_release);
}

static mapreg_action waiter_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
				    void *context)
{
	struct waiter *w = context;

	w->base = base;
	defer_until_return(&w->done);	/* the owner frees only after the library is done */
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* One I/O through the shared channel: queue, wait to be granted, free. */
static bool shared_io(mapreg_adapter *adapter, struct waiter *w)
{
	struct spin sp = { 0 };

	atomic_store_explicit(&w->granted, false, memory_order_relaxed);
	mapreg_status st = mapreg_allocate_channel_ex(adapter, NULL, &w->xfer, SCALING_NREGS, 0,
						      waiter_routine, w, NULL);
	run_deferred();
	if (st != MAPREG_OK)
		return false;
	while (!atomic_load_explicit(&w->granted, memory_order_acquire))
		spin_once(&sp);
	st = mapreg_free_map_registers(adapter, w->base, SCALING_NREGS);
	run_deferred();				/* routines this free granted */
	return st == MAPREG_OK;
}

static void *scaling_setup(cbench_state *s)
{
	struct scaling *sh = calloc(1, sizeof(*sh));

	if (sh == NULL || cbench_thread_count(s) > SCALING_MAX_THREADS) {
		cbench_fail(s, "set-up failed");
		free(sh);
		return NULL;
	}
	for (int t = 0; t < SCALING_MAX_THREADS; t++)
		hist_init(&sh->hists[t]);
	sh->pool = bench_pool(s, SCALING_POOL);
	if (sh->pool != NULL && cbench_arg(s, 0) != 0)
		sh->shared_adapter = bench_adapter(s, sh->pool, MAPREG_DISPATCH_INLINE);
	if (cbench_failed(s)) {
		bench_destroy(s, sh->pool, &sh->shared_adapter, 1);
		free(sh);
		return NULL;
	}
	return sh;
}

static void scaling_own_adapter(cbench_state *s, struct scaling *sh, struct hist *h)
{
	mapreg_adapter *adapter = bench_adapter(s, sh->pool, MAPREG_DISPATCH_INLINE);
	mapreg_transfer xfer;
	bool ok = true;

	if (adapter == NULL || mapreg_transfer_init(adapter, &xfer) != MAPREG_OK) {
		atomic_store(&sh->failed, true);
		return;
	}
	SAMPLED_LOOP(s, h, ok, sync_io(adapter, &xfer, SCALING_NREGS));
	if (!ok || mapreg_adapter_destroy(adapter) != MAPREG_OK)
		atomic_store(&sh->failed, true);
}

static void scaling_shared_adapter(cbench_state *s, struct scaling *sh, struct hist *h)
{
	struct waiter w = { .done.run = waiter_granted };
	bool ok = true;

	if (mapreg_transfer_init(sh->shared_adapter, &w.xfer) != MAPREG_OK) {
		atomic_store(&sh->failed, true);
		return;
	}
	SAMPLED_LOOP(s, h, ok, shared_io(sh->shared_adapter, &w));
	if (!ok)
		atomic_store(&sh->failed, true);
}

static void scaling_body(cbench_state *s)
{
	struct scaling *sh = cbench_shared(s);
	struct hist *h = &sh->hists[cbench_thread_index(s)];

	if (sh->shared_adapter != NULL)
		scaling_shared_adapter(s, sh, h);
	else
		scaling_own_adapter(s, sh, h);
	cbench_items_processed(s, cbench_iterations(s));
}

static void scaling_teardown(cbench_state *s, void *shared)
{
	struct scaling *sh = shared;

	if (atomic_load(&sh->failed))
		cbench_fail(s, "an I/O failed (C8, C7, C23, C24)");
	for (int t = 1; t < cbench_thread_count(s); t++)
		hist_merge(&sh->hists[0], &sh->hists[t]);
	cbench_report_latency(s, "op", &sh->hists[0]);
	bench_destroy(s, sh->pool, &sh->shared_adapter, 1);
	free(sh);
}

static void scaling_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "shared" };
	static const int threads[] = { 1, 2, 4, 8, SCALING_MAX_THREADS };
	cbench *b = scenario_register(sc, backend, scaling_body);

	cbench_fixture(b, scaling_setup, scaling_teardown);
	cbench_arg_names(b, 1, names);
	cbench_args(b, 1, (const int64_t[]){ 0 });
	cbench_args(b, 1, (const int64_t[]){ 1 });
	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		cbench_threads(b, threads[i]);
	cbench_pin_threads(b);			/* the runs with no more threads than CPUs */
	cbench_use_wall_time(b);
}

const struct scenario scenario_scaling = {
	.name = "scaling",
	.description = "1,2 pinned then 4,8,16 oversubscribed threads on one pool (nregs 8): "
		       "shared:0 own adapter per thread (sync fast path), shared:1 one adapter "
		       "(async, wait for grant)",
	.register_runs = scaling_register,
};
