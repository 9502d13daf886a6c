/* SPDX-License-Identifier: MIT */
/* C11-C14: order, fairness, per-CPU caches and wake-ups. */
#include "harness.h"

/* C11. */

static void c11_requests_get_channel_in_order_made(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	static const char *const names[] = { "p0", "p1", "p2", "p3", "p4" };
	mapreg_transfer x[2];
	struct probe p[5];

	for (int i = 0; i < 5; i++)
		probe_init(&p[i], names[i], MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &x[0]);
	xfer_init_for(a, &x[1]);
	hold(a, 0);
	/* Mixed sizes and calls: only the order made counts. */
	request(a, 8, &p[0]);
	request_ex(a, &x[0], 1, &p[1]);
	request(a, 0, &p[2]);
	request_ex(a, &x[1], 5, &p[3]);
	request(a, 2, &p[4]);
	assert_waiting(pool, 5, 0);
	assert_ok(MARKED(mapreg_free_adapter_object(a, MAPREG_DEALLOCATE_OBJECT)));
	assert_routine_log(5, &p[0], &p[1], &p[2], &p[3], &p[4]);
	for (int i = 0; i < 5; i++)
		assert_ran_inside_call(&p[i]);
}

static void c11_sync_fails_while_queued(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe head, behind, sync_try, late;

	probe_init(&head, "head", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&behind, "behind", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&late, "late", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 7);
	request(a, 4, &head);			/* waits for registers */
	request(a, 1, &behind);			/* waits for the channel */

	mapreg_pool_stats want = stats_of(pool);
	want.sync_failures += 2;
	assert_status(try_sync(a, 0, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	xfer_init_for(a, &xfer);
	assert_status(mapreg_allocate_channel_ex(a, NULL, &xfer, 0, MAPREG_SYNCHRONOUS_CALLBACK,
						 NULL, NULL, &base),
		      MAPREG_INSUFFICIENT_RESOURCES);
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);

	request(a, 0, &late);			/* queues behind them */
	assert_waiting(pool, 2, 1);
	release_hold(holder);
	assert_routine_log(3, &head, &behind, &late);
	assert_not_run(&sync_try);
}

/* C12. */

/*
 * The head register waiter (6 of 8, 5 free) does not fit; a later one for 1
 * would, but nobody behind the head is served, and new requests neither
 * (sync fails, async queues).  Once the head fits, all go in order.
 */
static void c12_head_waiter_that_does_not_fit_blocks_later_smaller_ones(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *h1 = inline_adapter(pool);
	mapreg_adapter *h2 = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_adapter *c = inline_adapter(pool);
	mapreg_adapter *d = inline_adapter(pool);
	struct probe big, small, sync_try, late;

	mapreg_base run1 = keep_run(h1, 3);
	mapreg_base run2 = keep_run(h2, 3);
	probe_init(&big, "big", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&small, "small", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&late, "late", MAPREG_DEALLOCATE_OBJECT);
	request(a, 6, &big);
	request(b, 1, &small);
	assert_waiting(pool, 0, 2);

	assert_ok(mapreg_free_map_registers(h1, run1, 3));	/* 5 free: small fits */
	assert_no_routine_ran();
	assert_waiting(pool, 0, 2);

	mapreg_pool_stats want = stats_of(pool);
	want.sync_failures++;
	assert_status(try_sync(c, 1, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	request(d, 1, &late);
	assert_waiting(pool, 0, 3);
	assert_no_routine_ran();

	assert_ok(MARKED(mapreg_free_map_registers(h2, run2, 3)));
	assert_routine_log(3, &big, &small, &late);
	assert_ran_inside_call(&big);
	assert_ran_inside_call(&small);
	assert_ran_inside_call(&late);
}

/* The register queue is ordered by when waiting began, not by adapter. */
static void c12_order_is_when_waiting_for_registers_began(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_adapter *c = inline_adapter(pool);
	struct probe a_for_channel, b_first, c_second;

	probe_init(&a_for_channel, "a (made first)", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&b_first, "b", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&c_second, "c", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 4);
	hold(a, 0);
	request(a, 1, &a_for_channel);		/* made first, but waits for a's channel */
	request(b, 1, &b_first);		/* waits for registers from now */
	request(c, 1, &c_second);
	assert_waiting(pool, 1, 2);
	release_hold(a);			/* a's request starts waiting for registers */
	assert_waiting(pool, 0, 3);
	release_hold(holder);
	assert_routine_log(3, &b_first, &c_second, &a_for_channel);
}

/* While anyone waits for registers, nobody takes them, however many are free. */
static void c12_sync_fails_and_async_queues_while_anyone_waits(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe whole, sync_try, queued;

	probe_init(&whole, "whole pool", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&queued, "queued", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 1);			/* 7 free */
	request(a, 8, &whole);
	xfer_init_for(b, &xfer);
	assert_status(try_sync(b, 1, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	assert_status(mapreg_allocate_channel_ex(b, NULL, &xfer, 1, MAPREG_SYNCHRONOUS_CALLBACK,
						 NULL, NULL, &base),
		      MAPREG_INSUFFICIENT_RESOURCES);
	request(b, 1, &queued);
	assert_no_routine_ran();
	assert_held(pool, 1);
	release_hold(holder);
	assert_routine_log(2, &whole, &queued);
}

/* C13. */

#define C13_POOL 64
#define C13_THREADS 16
#define C13_CYCLES 600

struct c13_worker {
	mapreg_adapter *adapter;
	struct cycle_counts counts;
	/* the waiter test */
	struct gate *holding, *go;
	mapreg_status hold_status, free_status;
	bool went;
};

static void c13_workers_new(mapreg_pool *pool, struct c13_worker *w)
{
	for (int i = 0; i < C13_THREADS; i++)
		w[i] = (struct c13_worker){ .adapter = inline_adapter(pool) };
}

static void *c13_churn(void *arg)
{
	struct c13_worker *w = arg;

	sync_cycles(w->adapter, 1, C13_CYCLES, &w->counts);
	return NULL;
}

/* 16 threads churn 1-register cycles, each on its own adapter; all succeed. */
static void c13_churn_on_own_adapters(struct c13_worker *w)
{
	pthread_t threads[C13_THREADS];

	for (int i = 0; i < C13_THREADS; i++)
		threads[i] = thread_start(c13_churn, &w[i], 0);
	for (int i = 0; i < C13_THREADS; i++)
		thread_join(threads[i]);
	for (int i = 0; i < C13_THREADS; i++) {
		/* At most 16 of 64 are ever held: a refusal means a cache blocked it. */
		assert_int_equal(w[i].counts.wrong, 0);
		assert_int_equal(w[i].counts.insufficient, 0);
		assert_int_equal(w[i].counts.granted, C13_CYCLES);
	}
}

static void c13_cached_registers_never_block_sync_request_for_whole_pool(void **state)
{
	mapreg_pool *pool = pool_new(C13_POOL);
	mapreg_adapter *whole = inline_adapter(pool);
	struct c13_worker w[C13_THREADS];
	struct probe p;

	c13_workers_new(pool, w);
	c13_churn_on_own_adapters(w);
	probe_init(&p, "whole pool", MAPREG_DEALLOCATE_OBJECT);
	assert_ok(try_sync(whole, C13_POOL, &p));
	assert_ran_once(&p);
	assert_int_equal(p.base.first, 0);
	assert_int_equal(p.base.count, C13_POOL);
	assert_quiescent(pool);
}

static void *c13_hold_then_free(void *arg)
{
	struct c13_worker *w = arg;
	mapreg_transfer xfer;
	mapreg_base base;

	sync_cycles(w->adapter, 1, C13_CYCLES, &w->counts);
	w->hold_status = mapreg_transfer_init(w->adapter, &xfer);
	if (w->hold_status == MAPREG_OK)
		w->hold_status = mapreg_allocate_channel_ex(w->adapter, NULL, &xfer, 1,
							    MAPREG_SYNCHRONOUS_CALLBACK,
							    NULL, NULL, &base);
	gate_open(w->holding);
	w->went = gate_wait(w->go);
	if (w->hold_status == MAPREG_OK)
		w->free_status = MARKED(mapreg_free_adapter_object(w->adapter,
								   MAPREG_DEALLOCATE_OBJECT));
	return NULL;
}

/*
 * A waiter for all 64 queues while 16 threads (whose frees went through the
 * caches) hold one each; they free concurrently.  The waiter must have run
 * by the time the last free returns, inside one of those frees, with nobody
 * calling the library afterwards.
 */
static void c13_waiter_for_whole_pool_granted_when_last_holder_frees(void **state)
{
	mapreg_pool *pool = pool_new(C13_POOL);
	mapreg_adapter *whole = inline_adapter(pool);
	struct c13_worker w[C13_THREADS];
	pthread_t threads[C13_THREADS];
	struct gate holding, go;
	struct probe waiter;

	c13_workers_new(pool, w);
	gate_init(&holding);
	gate_init(&go);
	for (int i = 0; i < C13_THREADS; i++) {
		w[i].holding = &holding;
		w[i].go = &go;
		threads[i] = thread_start(c13_hold_then_free, &w[i], 0);
	}
	bool all_holding = gate_wait_for(&holding, C13_THREADS);
	probe_init(&waiter, "whole pool", MAPREG_DEALLOCATE_OBJECT);
	if (all_holding)
		request(whole, C13_POOL, &waiter);
	gate_open(&go);
	for (int i = 0; i < C13_THREADS; i++)
		thread_join(threads[i]);

	assert_true(all_holding);
	assert_ran_once(&waiter);			/* before anything else is called */
	assert_false(pthread_equal(waiter.thread, pthread_self()));
	assert_true(waiter.during_call);		/* inside a worker's free */
	for (int i = 0; i < C13_THREADS; i++) {
		assert_int_equal(w[i].counts.wrong, 0);
		assert_int_equal(w[i].counts.granted, C13_CYCLES);
		assert_ok(w[i].hold_status);
		assert_true(w[i].went);
		assert_ok(w[i].free_status);
	}
	assert_int_equal(waiter.base.count, C13_POOL);
	assert_quiescent(pool);
	gate_destroy(&holding);
	gate_destroy(&go);
}

/* Single-threaded: churn on many adapters leaves the whole pool grantable. */
static void c13_whole_pool_grantable_after_churn_on_many_adapters(void **state)
{
	mapreg_pool *pool = pool_new(C13_POOL);
	mapreg_adapter *whole = inline_adapter(pool);
	struct cycle_counts counts = { 0 };
	struct probe p;

	for (int i = 0; i < 8; i++)
		sync_cycles(inline_adapter(pool), 1 + i, 50, &counts);
	assert_int_equal(counts.wrong, 0);
	assert_int_equal(counts.insufficient, 0);
	probe_init(&p, "whole pool", MAPREG_DEALLOCATE_OBJECT);
	assert_ok(try_sync(whole, C13_POOL, &p));
	assert_ran_once(&p);
}

/* C14. */

static size_t poll_all(mapreg_adapter **a, int count)
{
	size_t ran = 0;

	for (int i = 0; i < count; i++)
		ran += mapreg_poll(a[i], SIZE_MAX);
	return ran;
}

/* Queued everywhere (for channels and registers); freeing everything grants all. */
static void c14_every_queued_request_granted_once_resources_free(void **state)
{
	enum { ADAPTERS = 6, PER_ADAPTER = 5 };
	mapreg_pool *pool = pool_new(16);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a[ADAPTERS];
	struct probe p[ADAPTERS][PER_ADAPTER];

	hold(holder, 16);
	for (int i = 0; i < ADAPTERS; i++)
		a[i] = i % 2 ? poll_adapter(pool) : inline_adapter(pool);
	for (int j = 0; j < PER_ADAPTER; j++) {
		for (int i = 0; i < ADAPTERS; i++) {
			probe_init(&p[i][j], "queued", MAPREG_DEALLOCATE_OBJECT);
			request(a[i], 1 + (uint32_t)(i * 3 + j) % 16, &p[i][j]);
		}
	}
	assert_waiting(pool, ADAPTERS * (PER_ADAPTER - 1), ADAPTERS);
	release_hold(holder);
	while (poll_all(a, ADAPTERS) > 0)
		;
	for (int i = 0; i < ADAPTERS; i++)
		for (int j = 0; j < PER_ADAPTER; j++)
			assert_ran_once(&p[i][j]);
	assert_quiescent(pool);
}

static const struct CMUnitTest tests[] = {
	TEST(c11_requests_get_channel_in_order_made),
	TEST(c11_sync_fails_while_queued),
	TEST(c12_head_waiter_that_does_not_fit_blocks_later_smaller_ones),
	TEST(c12_order_is_when_waiting_for_registers_began),
	TEST(c12_sync_fails_and_async_queues_while_anyone_waits),
	TEST(c13_cached_registers_never_block_sync_request_for_whole_pool),
	TEST(c13_waiter_for_whole_pool_granted_when_last_holder_frees),
	TEST(c13_whole_pool_grantable_after_churn_on_many_adapters),
	TEST(c14_every_queued_request_granted_once_resources_free),
};

HARNESS_MAIN("order", tests)
