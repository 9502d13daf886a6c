/* SPDX-License-Identifier: MIT */
/*
 * Scenario 9, batches: what a storage reactor does at queue depth.  Each
 * thread (1, or 2 pinned one per CPU) has its own adapter on one pool and
 * keeps BATCHES_DEPTH single-register runs; an iteration frees them all, as
 * a batch of completions would, then claims as many (C8, then
 * FreeAdapterObject keeping the registers: C24; FreeMapRegisters: C23).
 * A batch larger than a CPU's magazine sends most runs to the shared
 * bitmap, so this measures how CPUs share it (registers.c: claim_hint):
 * pool:4096 has a cache line of bitmap words for each CPU's claims, while
 * pool:512's bitmap is one line that both write.  Items are runs freed and
 * claimed again, per second of all threads.
 */
#include <stdlib.h>

#include "scenarios.h"

#define BATCHES_DEPTH 32
#define BATCHES_MAX_THREADS 2

struct batches {
	mapreg_pool *pool;
	struct hist hists[BATCHES_MAX_THREADS];
	_Atomic bool failed;
};

struct window {
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	mapreg_base runs[BATCHES_DEPTH];
};

static bool claim_one(struct window *w, mapreg_base *base)
{
	return mapreg_allocate_channel_ex(w->adapter, NULL, &w->xfer, 1,
					  MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
					  base) == MAPREG_OK &&
	       mapreg_free_adapter_object(w->adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) ==
		       MAPREG_OK;
}

/* One batch: every run back, then as many claimed. */
static bool batch(struct window *w)
{
	bool ok = true;

	for (int i = 0; i < BATCHES_DEPTH; i++)
		ok &= mapreg_free_map_registers(w->adapter, w->runs[i], 1) == MAPREG_OK;
	for (int i = 0; i < BATCHES_DEPTH; i++)
		ok &= claim_one(w, &w->runs[i]);
	return ok;
}

static void *batches_setup(cbench_state *s)
{
	struct batches *b = calloc(1, sizeof(*b));

	if (b == NULL || cbench_thread_count(s) > BATCHES_MAX_THREADS) {
		cbench_fail(s, "set-up failed");
		free(b);
		return NULL;
	}
	for (int t = 0; t < BATCHES_MAX_THREADS; t++)
		hist_init(&b->hists[t]);
	b->pool = bench_pool(s, (uint32_t)cbench_arg(s, 0));
	if (cbench_failed(s)) {
		free(b);
		return NULL;
	}
	return b;
}

static void batches_body(cbench_state *s)
{
	struct batches *b = cbench_shared(s);
	struct hist *h = &b->hists[cbench_thread_index(s)];
	struct window w = { .adapter = bench_adapter(s, b->pool, MAPREG_DISPATCH_INLINE) };
	bool ok = w.adapter != NULL && mapreg_transfer_init(w.adapter, &w.xfer) == MAPREG_OK;

	for (int i = 0; ok && i < BATCHES_DEPTH; i++)
		ok = claim_one(&w, &w.runs[i]);
	if (ok)
		SAMPLED_LOOP(s, h, ok, batch(&w));
	for (int i = 0; ok && i < BATCHES_DEPTH; i++)
		ok = mapreg_free_map_registers(w.adapter, w.runs[i], 1) == MAPREG_OK;
	if (!ok || w.adapter == NULL || mapreg_adapter_destroy(w.adapter) != MAPREG_OK)
		atomic_store(&b->failed, true);
	cbench_items_processed(s, cbench_iterations(s) * BATCHES_DEPTH);
}

static void batches_teardown(cbench_state *s, void *shared)
{
	struct batches *b = shared;

	if (atomic_load(&b->failed))
		cbench_fail(s, "a claim or free failed (C8, C23, C24)");
	for (int t = 1; t < cbench_thread_count(s); t++)
		hist_merge(&b->hists[0], &b->hists[t]);
	cbench_report_latency(s, "batch", &b->hists[0]);
	bench_destroy(s, b->pool, NULL, 0);
	free(b);
}

static void batches_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "pool" };
	cbench *b = scenario_register(sc, backend, batches_body);

	cbench_fixture(b, batches_setup, batches_teardown);
	cbench_arg_names(b, 1, names);
	cbench_args(b, 1, (const int64_t[]){ 512 });
	cbench_args(b, 1, (const int64_t[]){ 4096 });
	cbench_threads(b, 1);
	cbench_threads(b, 2);
	cbench_pin_threads(b);
	cbench_use_wall_time(b);
}

const struct scenario scenario_batches = {
	.name = "batches",
	.description = "1,2 pinned threads, own adapters, one pool (512 or 4096): free 32 "
		       "single-register runs, then claim 32 (completion batches beyond a magazine)",
	.register_runs = batches_register,
};
