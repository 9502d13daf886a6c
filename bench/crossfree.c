/* SPDX-License-Identifier: MIT */
/*
 * Scenario 6, cross-thread free: the storage completion path.  The
 * benchmark's thread allocates synchronously (C8, then FreeAdapterObject
 * keeping the registers) and passes each run through a ring to a helper
 * thread on the other CPU, which frees it (C23) as a completion would.
 * Compare with fastpath at the same nregs: the difference is what moving
 * the pool's state between CPUs costs.  A full pool is not expected (the
 * ring holds at most 256 runs); the allocator retries if it happens and
 * counts it.
 */
#include <stdlib.h>

#include "scenarios.h"

#define CROSS_POOL 4096
#define CROSS_RING 256

/*
 * Who writes what, a line each: the bench's own false sharing would add a
 * line's move per run to both backends (the helper's count of frees once
 * shared a line with the ring's mask and items, or not, as calloc placed
 * the struct: 120-530 ns per run of the lock-free backend's nregs 1 row).
 */
struct crossfree {
	/* Set before the helper starts, then only read. */
	mapreg_adapter *adapter;
	uint32_t nregs;
	struct spsc ring;
	struct {
		_Atomic uint64_t freed;
		_Atomic uint64_t bad_frees;
		struct hist free_ns;
	} helper __attribute__((aligned(64)));
	_Atomic bool stop __attribute__((aligned(64)));	/* the allocator's */
};

static void *completion_main(void *arg)
{
	struct crossfree *x = arg;
	struct spin sp = { 0 };
	mapreg_base base;

	pin_self(1);
	for (uint64_t i = 0;; i++) {
		if (!spsc_pop(&x->ring, &base)) {
			if (atomic_load_explicit(&x->stop, memory_order_acquire))
				return NULL;
			spin_once(&sp);
			continue;
		}
		mapreg_status st;
		if (sample_this((int64_t)i)) {
			uint64_t t0 = clock_start();
			st = mapreg_free_map_registers(x->adapter, base, x->nregs);
			hist_record(&x->helper.free_ns, clock_elapsed_ns(t0, clock_stop()));
		} else {
			st = mapreg_free_map_registers(x->adapter, base, x->nregs);
		}
		if (st != MAPREG_OK)
			atomic_fetch_add_explicit(&x->helper.bad_frees, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&x->helper.freed, 1, memory_order_release);
	}
}

/* Allocates one run, retrying while the pool is full; false on a real error. */
static bool allocate(struct crossfree *x, mapreg_transfer *xfer, mapreg_base *base,
		     uint64_t *retries)
{
	struct spin sp = { 0 };

	for (;;) {
		mapreg_status st = mapreg_allocate_channel_ex(x->adapter, NULL, xfer, x->nregs,
							      MAPREG_SYNCHRONOUS_CALLBACK, NULL,
							      NULL, base);
		if (st == MAPREG_OK)
			return mapreg_free_adapter_object(x->adapter,
					MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) == MAPREG_OK;
		if (st != MAPREG_INSUFFICIENT_RESOURCES)
			return false;
		++*retries;
		spin_once(&sp);
	}
}

static void submit_all(cbench_state *s, struct crossfree *x, mapreg_transfer *xfer)
{
	uint64_t retries = 0, full = 0, sent = 0;
	bool ok = true;
	int64_t n;

	while ((n = cbench_batch(s)) > 0) {
		for (int64_t i = 0; i < n && ok; i++) {
			mapreg_base base;
			struct spin sp = { 0 };

			ok = allocate(x, xfer, &base, &retries);
			while (ok && !spsc_push(&x->ring, base)) {
				full++;
				spin_once(&sp);
			}
			sent += ok;
		}
		struct spin sp = { 0 };
		while (atomic_load_explicit(&x->helper.freed, memory_order_acquire) < sent)
			spin_once(&sp);		/* the batch ends when its runs are freed */
	}
	if (!ok)
		cbench_fail(s, "a synchronous allocation failed (C8, C24)");
	cbench_items_processed(s, (int64_t)sent);
	cbench_counter(s, "alloc_retries", (double)retries, CBENCH_VALUE);
	cbench_counter(s, "ring_full_waits", (double)full, CBENCH_VALUE);
}

static void crossfree_body(cbench_state *s)
{
	struct crossfree *x = bench_zalloc_lines(sizeof(*x));
	mapreg_pool *pool = bench_pool(s, CROSS_POOL);
	mapreg_transfer xfer;
	pthread_t helper;

	if (x == NULL || pool == NULL || !spsc_init(&x->ring, CROSS_RING) ||
	    (x->adapter = bench_adapter(s, pool, MAPREG_DISPATCH_INLINE)) == NULL ||
	    mapreg_transfer_init(x->adapter, &xfer) != MAPREG_OK) {
		cbench_fail(s, "set-up failed");
		goto out;
	}
	x->nregs = (uint32_t)cbench_arg(s, 0);
	hist_init(&x->helper.free_ns);
	if (!helper_start(&helper, completion_main, x)) {
		cbench_fail(s, "cannot start the completion thread");
		goto out;
	}
	submit_all(s, x, &xfer);
	atomic_store_explicit(&x->stop, true, memory_order_release);
	helper_join(helper);
	expect_zero(s, "bad_frees", atomic_load(&x->helper.bad_frees));
	cbench_report_latency(s, "free", &x->helper.free_ns);
out:
	if (x != NULL) {
		bench_destroy(s, pool, &x->adapter, 1);
		spsc_fini(&x->ring);
	} else {
		bench_destroy(s, pool, NULL, 0);
	}
	free(x);
}

static void crossfree_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "nregs" };
	cbench *b = scenario_register(sc, backend, crossfree_body);

	cbench_arg_names(b, 1, names);
	cbench_args(b, 1, (const int64_t[]){ 1 });
	cbench_args(b, 1, (const int64_t[]){ 8 });
	cbench_pin_threads(b);			/* allocator on CPU 0, completions on CPU 1 */
	cbench_use_real_time(b);
}

const struct scenario scenario_crossfree = {
	.name = "crossfree",
	.description = "allocate (sync) on one CPU, free_map_registers on the other through a "
		       "ring, as a storage completion does; nregs 1/8, pool 4096",
	.register_runs = crossfree_register,
};
