/* SPDX-License-Identifier: MIT */
/* C4-C10: allocating the channel and registers, and parameter checks. */
#include "harness.h"

#include <string.h>

/* C4. */

static void c04_nregs_0_routine_gets_count_0(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	probe_init(&p, "channel only", MAPREG_KEEP_OBJECT);
	request(a, 0, &p);
	assert_ran_once(&p);
	assert_int_equal(p.base.count, 0);
	assert_held(pool, 0);
	assert_ok(mapreg_free_channel(a));
}

static void c04_nregs_0_granted_while_every_register_is_held(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	hold(holder, 8);
	probe_init(&p, "channel only", MAPREG_DEALLOCATE_OBJECT);
	assert_ok(try_sync(a, 0, &p));
	assert_ran_once(&p);
	assert_int_equal(p.base.count, 0);
	release_hold(holder);
}

static void c04_nregs_equal_to_pool_size_gets_whole_pool(void **state)
{
	mapreg_pool *pool = pool_new(16);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	probe_init(&p, "everything", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	request(a, 16, &p);
	assert_ran_once(&p);
	assert_int_equal(p.base.first, 0);
	assert_int_equal(p.base.count, 16);
	assert_held(pool, 16);
	assert_ok(mapreg_free_map_registers(a, p.base, 16));
}

/* Holds every register of `pool` as singles: runs[i] is register i. */
static void hold_each_register(mapreg_adapter *a, mapreg_base *runs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		mapreg_base base = keep_run(a, 1);
		assert_true(base.first < count);
		runs[base.first] = base;
	}
}

/*
 * C4 asks for contiguous registers: with registers 0 and 2 free (2 free in
 * all) a request for 2 does not fit.  A synchronous one fails (C8); an
 * asynchronous one waits (C6) until register 1, their neighbour, is freed.
 */
static void c04_fragmented_pool_sync_fails_async_waits_for_neighbour(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *keeper = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_base runs[4];
	struct probe sync_try, waiter;

	hold_each_register(keeper, runs, 4);
	assert_ok(mapreg_free_map_registers(keeper, runs[0], 1));
	assert_ok(mapreg_free_map_registers(keeper, runs[2], 1));
	assert_int_equal(stats_of(pool).held, 2);

	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	assert_status(try_sync(a, 2, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	assert_not_run(&sync_try);

	probe_init(&waiter, "waiter", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	request(a, 2, &waiter);
	assert_not_run(&waiter);
	assert_waiting(pool, 0, 1);

	assert_ok(MARKED(mapreg_free_map_registers(keeper, runs[1], 1)));
	assert_ran_inside_call(&waiter);
	assert_int_equal(waiter.base.count, 2);
	assert_true(waiter.base.first + 2 <= 3);	/* within 0..2: 3 is still held */
	assert_ok(mapreg_free_map_registers(a, waiter.base, 2));
	assert_ok(mapreg_free_map_registers(keeper, runs[3], 1));
}

/* C5. */

/* Every allocate call for `nregs` returns INSUFFICIENT_RESOURCES, changing nothing. */
static void assert_over_limit_fails_at_once(mapreg_pool *pool, mapreg_adapter *a,
					    uint32_t nregs)
{
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe p;

	probe_init(&p, "over the limit", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel(a, &p, nregs,
					probe_routine, &p), MAPREG_INSUFFICIENT_RESOURCES));
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel_ex(a, &p, &xfer,
					nregs, 0, probe_routine, &p, NULL),
					MAPREG_INSUFFICIENT_RESOURCES));
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel_ex(a, &p, &xfer,
					nregs, MAPREG_SYNCHRONOUS_CALLBACK, probe_routine, &p,
					NULL), MAPREG_INSUFFICIENT_RESOURCES));
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel_ex(a, &p, &xfer,
					nregs, MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, &base),
					MAPREG_INSUFFICIENT_RESOURCES));
	assert_not_run(&p);
	/* Nothing was queued: the transfer names no request (C10). */
	assert_ok(mapreg_transfer_init(a, &xfer));
}

static void c05_nregs_above_limit_fails_at_once_on_idle_adapter(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *limited = adapter_new(pool, MAPREG_DISPATCH_INLINE, 4);
	mapreg_adapter *whole = inline_adapter(pool);

	assert_over_limit_fails_at_once(pool, limited, 5);
	assert_over_limit_fails_at_once(pool, whole, 9);
	assert_over_limit_fails_at_once(pool, whole, UINT32_MAX);
}

static void c05_nregs_above_limit_fails_at_once_on_busy_adapter(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = adapter_new(pool, MAPREG_DISPATCH_POLL, 4);
	struct probe queued[2];

	hold(holder, 8);
	probe_init(&queued[0], "queued 0", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&queued[1], "queued 1", MAPREG_DEALLOCATE_OBJECT);
	request(a, 1, &queued[0]);		/* holds a's channel, waits for registers */
	request(a, 1, &queued[1]);		/* waits for a's channel */
	assert_waiting(pool, 1, 1);
	assert_over_limit_fails_at_once(pool, a, 5);
	release_hold(holder);
	assert_int_equal(mapreg_poll(a, 8), 2);
	assert_routine_log(2, &queued[0], &queued[1]);
}

/* C6. */

static void c06_granted_routine_runs_on_caller_before_return(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = poll_adapter(pool);	/* C16: also in poll mode */
	mapreg_adapter *b = inline_adapter(pool);
	struct probe p, q;
	int device;

	probe_init(&p, "poll adapter", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&q, "inline adapter", MAPREG_DEALLOCATE_OBJECT);
	assert_ok(MARKED(mapreg_allocate_channel(a, &device, 3, probe_routine, &p)));
	assert_ok(MARKED(mapreg_allocate_channel(b, &device, 3, probe_routine, &q)));
	assert_ran_inside_call(&p);
	assert_ran_inside_call(&q);
	assert_ptr_equal(p.device, &device);
	assert_null(p.xfer);			/* no transfer for this call */
	assert_int_equal(p.base.count, 3);
}

static void c06_queued_request_returns_ok_and_runs_once_later(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	hold(a, 2);
	probe_init(&p, "queued", MAPREG_DEALLOCATE_OBJECT);
	request(a, 3, &p);
	assert_not_run(&p);
	assert_waiting(pool, 1, 0);
	release_hold(a);
	assert_ran_once(&p);
	assert_int_equal(p.base.count, 3);
	assert_quiescent(pool);
}

/* C7. */

static void c07_async_ex_granted_runs_before_return_with_its_xfer(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe p;

	probe_init(&p, "async", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_ok(MARKED(mapreg_allocate_channel_ex(a, &p, &xfer, 2, 0, probe_routine, &p,
						    NULL)));
	assert_ran_inside_call(&p);
	assert_ptr_equal(p.xfer, &xfer);
	assert_ptr_equal(p.device, &p);
	assert_int_equal(p.base.count, 2);
}

static void c07_async_ex_queued_runs_once_later_or_is_cancelled(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer x1, x2;
	struct probe runs, cancelled;

	probe_init(&runs, "runs", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&cancelled, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &x1);
	xfer_init_for(a, &x2);
	hold(a, 8);
	request_ex(a, &x1, 4, &runs);
	request_ex(a, &x2, 4, &cancelled);
	assert_true(mapreg_cancel_channel(a, NULL, &x2));
	release_hold(a);
	assert_routine_log(1, &runs);
	assert_ptr_equal(runs.xfer, &x1);
}

/* C8. */

static void c08_sync_fails_without_registers_runs_and_holds_nothing(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base = { 99, 99 };
	struct probe p;

	hold(holder, 6);
	probe_init(&p, "sync", MAPREG_DEALLOCATE_OBJECT);
	mapreg_pool_stats want = stats_of(pool);
	want.sync_failures += 2;
	assert_status(try_sync(a, 3, &p), MAPREG_INSUFFICIENT_RESOURCES);
	xfer_init_for(a, &xfer);
	assert_status(mapreg_allocate_channel_ex(a, NULL, &xfer, 3, MAPREG_SYNCHRONOUS_CALLBACK,
						 NULL, NULL, &base),
		      MAPREG_INSUFFICIENT_RESOURCES);
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	assert_not_run(&p);
	/* a's channel is free: nothing of the failed calls is held. */
	assert_ok(try_sync(a, 2, &p));
	assert_ran_once(&p);
	release_hold(holder);
}

static void c08_sync_fails_while_channel_held(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	hold(a, 1);
	probe_init(&p, "sync", MAPREG_DEALLOCATE_OBJECT);
	mapreg_pool_stats want = stats_of(pool);
	want.sync_failures++;
	assert_status(try_sync(a, 1, &p), MAPREG_INSUFFICIENT_RESOURCES);
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	assert_not_run(&p);
	release_hold(a);
}

/* The contract's policy: with a routine, *base_out is written too. */
static void c08_sync_with_routine_runs_before_return_and_writes_base_out(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base = { 99, 99 };
	struct probe p;

	probe_init(&p, "sync", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_ok(MARKED(mapreg_allocate_channel_ex(a, NULL, &xfer, 5,
						    MAPREG_SYNCHRONOUS_CALLBACK,
						    probe_routine, &p, &base)));
	assert_ran_inside_call(&p);
	assert_ptr_equal(p.xfer, &xfer);
	assert_int_equal(base.count, 5);
	assert_memory_equal(&base, &p.base, sizeof(base));
	assert_held(pool, 0);
}

static void c08_sync_without_routine_holds_until_free_adapter_object(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	mapreg_base base = hold(a, 5);
	assert_true(base.first + base.count <= 8);
	assert_held(pool, 5);
	probe_init(&p, "sync", MAPREG_DEALLOCATE_OBJECT);
	assert_status(try_sync(a, 0, &p), MAPREG_INSUFFICIENT_RESOURCES);	/* channel */
	release_hold(a);
	assert_held(pool, 0);
	assert_ok(try_sync(a, 0, &p));
	assert_ran_once(&p);
}

/* C9: every bad call returns INVALID_PARAMETER, changing nothing but caller_errors. */

static void c09_null_adapter_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	/* No adapter, no pool to count it in: nothing changes anywhere. */
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel(NULL, NULL, 1,
					probe_routine, &p), MAPREG_INVALID_PARAMETER));
	assert_changes_nothing(pool, assert_status(mapreg_allocate_channel_ex(NULL, NULL,
					&xfer, 1, 0, probe_routine, &p, NULL),
					MAPREG_INVALID_PARAMETER));
	assert_not_run(&p);
}

static void c09_missing_routine_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;

	xfer_init_for(a, &xfer);
	assert_caller_error(pool, mapreg_allocate_channel(a, NULL, 1, NULL, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1, 0, NULL, NULL,
							     NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1,
							     MAPREG_SYNCHRONOUS_CALLBACK,
							     NULL, NULL, NULL));
	assert_held(pool, 0);
}

static void c09_base_out_without_sync_flag_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1, 0,
							     probe_routine, &p, &base));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1, 0, NULL, NULL,
							     &base));
	assert_not_run(&p);
}

static void c09_unknown_flag_bits_rejected(void **state)
{
	static const uint32_t bad[] = { 0x2, 0x3, 0x100, 0x80000000u, 0x80000001u, ~0u };
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1, bad[i],
								     probe_routine, &p, NULL));
		assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &xfer, 1, bad[i],
								     NULL, NULL, &base));
	}
	assert_not_run(&p);
}

static void c09_null_or_uninitialized_xfer_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer zeroed, garbage;
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	memset(&zeroed, 0, sizeof(zeroed));
	memset(&garbage, 0xa5, sizeof(garbage));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, NULL, 1, 0, probe_routine,
							     &p, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &zeroed, 1, 0,
							     probe_routine, &p, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &garbage, 1,
							     MAPREG_SYNCHRONOUS_CALLBACK,
							     probe_routine, &p, NULL));
	assert_not_run(&p);
}

static void c09_xfer_of_another_adapter_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_pool *other_pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_adapter *c = inline_adapter(other_pool);
	mapreg_transfer of_b, of_c;
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(b, &of_b);
	xfer_init_for(c, &of_c);
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &of_b, 1, 0,
							     probe_routine, &p, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, &of_c, 1,
							     MAPREG_SYNCHRONOUS_CALLBACK,
							     probe_routine, &p, NULL));
	assert_not_run(&p);
	/* Re-initialized for a, it is accepted. */
	assert_ok(mapreg_transfer_init(a, &of_b));
	request_ex(a, &of_b, 1, &p);
	assert_ran_once(&p);
}

/* `xfer` names a request: _ex and init refuse it, changing nothing. */
static void assert_xfer_refused(mapreg_pool *pool, mapreg_adapter *a, mapreg_transfer *xfer)
{
	mapreg_base base;
	struct probe p;

	probe_init(&p, "reuse", MAPREG_DEALLOCATE_OBJECT);
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, xfer, 1, 0,
							     probe_routine, &p, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, xfer, 0,
							     MAPREG_SYNCHRONOUS_CALLBACK,
							     probe_routine, &p, NULL));
	assert_caller_error(pool, mapreg_allocate_channel_ex(a, NULL, xfer, 0,
							     MAPREG_SYNCHRONOUS_CALLBACK,
							     NULL, NULL, &base));
	assert_caller_error(pool, mapreg_transfer_init(a, xfer));
	assert_not_run(&p);
}

static void c09_xfer_naming_queued_request_rejected(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer for_registers, for_channel;
	struct probe p1, p2;

	probe_init(&p1, "waits for registers", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&p2, "waits for channel", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &for_registers);
	xfer_init_for(a, &for_channel);
	hold(holder, 4);
	request_ex(a, &for_registers, 2, &p1);
	request_ex(a, &for_channel, 2, &p2);
	assert_waiting(pool, 1, 1);
	assert_xfer_refused(pool, a, &for_registers);
	assert_xfer_refused(pool, a, &for_channel);
	release_hold(holder);
	assert_routine_log(2, &p1, &p2);
}

static void c09_xfer_naming_granted_not_run_request_rejected(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = poll_adapter(pool);
	mapreg_transfer xfer;
	struct probe p;

	probe_init(&p, "granted", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	hold(holder, 4);
	request_ex(a, &xfer, 2, &p);
	release_hold(holder);			/* granted; runs at mapreg_poll */
	assert_not_run(&p);
	assert_xfer_refused(pool, a, &xfer);
	assert_int_equal(mapreg_poll(a, 1), 1);
	assert_ran_once(&p);
}

/* A routine that reports it is running, then waits to be let go. */
struct blocking_routine {
	struct probe p;
	struct gate running, release;
	bool released;
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	mapreg_status status;
};

static void block_until_released(struct probe *p)
{
	struct blocking_routine *b = container_of(p, struct blocking_routine, p);

	gate_open(&b->running);
	b->released = gate_wait(&b->release);
}

static void *submit_blocking(void *arg)
{
	struct blocking_routine *b = arg;

	b->status = mapreg_allocate_channel_ex(b->adapter, NULL, &b->xfer, 1, 0, probe_routine,
					       &b->p, NULL);
	return NULL;
}

static void c09_xfer_whose_routine_is_running_rejected(void **state)
{
	mapreg_pool *pool = pool_new(4);
	struct blocking_routine b;

	b.adapter = inline_adapter(pool);
	probe_init(&b.p, "blocking", MAPREG_DEALLOCATE_OBJECT);
	b.p.then = block_until_released;
	gate_init(&b.running);
	gate_init(&b.release);
	xfer_init_for(b.adapter, &b.xfer);
	pthread_t thread = thread_start(submit_blocking, &b, 0);
	bool running = gate_wait(&b.running);
	if (running) {
		/* The running routine belongs to another thread: the xfer is what is refused. */
		mapreg_pool_stats before = stats_of(pool);
		mapreg_status again = mapreg_allocate_channel_ex(b.adapter, NULL, &b.xfer, 1, 0,
								 probe_routine, &b.p, NULL);
		mapreg_status init = mapreg_transfer_init(b.adapter, &b.xfer);
		mapreg_pool_stats after = stats_of(pool);
		gate_open(&b.release);
		thread_join(thread);
		assert_status(again, MAPREG_INVALID_PARAMETER);
		assert_status(init, MAPREG_INVALID_PARAMETER);
		before.caller_errors += 2;
		assert_stats_equal(&before, &after);
	} else {
		gate_open(&b.release);
		thread_join(thread);
	}
	assert_true(running);
	assert_true(b.released);
	assert_ok(b.status);
	assert_ran_once(&b.p);
	gate_destroy(&b.running);
	gate_destroy(&b.release);
}

/* Calls on its own adapter from inside a routine, each with stats around it. */
struct self_caller {
	struct probe p;
	mapreg_adapter *adapter;
	mapreg_pool *pool;
	mapreg_transfer xfer;
	struct probe victim;
	mapreg_status status[3];
	mapreg_pool_stats before[3], after[3];
};

static void call_own_adapter(struct probe *p)
{
	struct self_caller *s = container_of(p, struct self_caller, p);
	mapreg_base base;

	for (int i = 0; i < 3; i++) {
		mapreg_pool_get_stats(s->pool, &s->before[i]);
		switch (i) {
		case 0:
			s->status[i] = mapreg_allocate_channel(s->adapter, NULL, 1,
							       probe_routine, &s->victim);
			break;
		case 1:
			s->status[i] = mapreg_allocate_channel_ex(s->adapter, NULL, &s->xfer, 1,
								  0, probe_routine, &s->victim,
								  NULL);
			break;
		default:
			s->status[i] = mapreg_allocate_channel_ex(s->adapter, NULL, &s->xfer, 0,
								  MAPREG_SYNCHRONOUS_CALLBACK,
								  NULL, NULL, &base);
			break;
		}
		mapreg_pool_get_stats(s->pool, &s->after[i]);
	}
}

static void c09_call_on_own_adapter_inside_routine_rejected(void **state)
{
	struct self_caller s;

	s.pool = pool_new(8);
	s.adapter = inline_adapter(s.pool);
	probe_init(&s.p, "self caller", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&s.victim, "never", MAPREG_DEALLOCATE_OBJECT);
	s.p.then = call_own_adapter;
	xfer_init_for(s.adapter, &s.xfer);
	request(s.adapter, 1, &s.p);
	assert_ran_once(&s.p);
	for (int i = 0; i < 3; i++) {
		assert_status(s.status[i], MAPREG_INVALID_PARAMETER);
		s.before[i].caller_errors++;
		assert_stats_equal(&s.before[i], &s.after[i]);
	}
	assert_not_run(&s.victim);
}

static void c09_transfer_init_rejects_null(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;

	memset(&xfer, 0, sizeof(xfer));
	assert_changes_nothing(pool, assert_status(mapreg_transfer_init(NULL, &xfer),
						   MAPREG_INVALID_PARAMETER));
	assert_caller_error(pool, mapreg_transfer_init(a, NULL));
}

/* C10. */

static void c10_xfer_reusable_after_routine_returned(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe first, second;

	probe_init(&first, "first", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&second, "second", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	hold(a, 4);
	request_ex(a, &xfer, 4, &first);
	release_hold(a);
	request_ex(a, &xfer, 4, &second);
	assert_routine_log(2, &first, &second);
}

static void c10_xfer_reusable_after_sync_call_returned(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base;
	struct probe ran, failed, later;

	probe_init(&ran, "ran", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&failed, "failed", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&later, "later", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_ok(mapreg_allocate_channel_ex(a, NULL, &xfer, 1, MAPREG_SYNCHRONOUS_CALLBACK,
					     probe_routine, &ran, NULL));
	/* A hold: the call has returned, so the transfer is free while the hold lasts. */
	assert_ok(mapreg_allocate_channel_ex(a, NULL, &xfer, 4, MAPREG_SYNCHRONOUS_CALLBACK,
					     NULL, NULL, &base));
	assert_status(mapreg_allocate_channel_ex(a, NULL, &xfer, 1,
						 MAPREG_SYNCHRONOUS_CALLBACK, probe_routine,
						 &failed, NULL),
		      MAPREG_INSUFFICIENT_RESOURCES);
	request_ex(a, &xfer, 1, &later);	/* after a failed sync call too */
	release_hold(a);
	assert_routine_log(2, &ran, &later);
}

static void c10_xfer_reusable_after_cancel_returned_true(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe cancelled, again;

	probe_init(&cancelled, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&again, "again", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	hold(a, 0);
	request_ex(a, &xfer, 1, &cancelled);
	assert_true(mapreg_cancel_channel(a, NULL, &xfer));
	/* Free again: it may even be bound to another adapter. */
	assert_ok(mapreg_transfer_init(b, &xfer));
	request_ex(b, &xfer, 1, &again);
	release_hold(a);
	assert_routine_log(1, &again);
}

static const struct CMUnitTest tests[] = {
	TEST(c04_nregs_0_routine_gets_count_0),
	TEST(c04_nregs_0_granted_while_every_register_is_held),
	TEST(c04_nregs_equal_to_pool_size_gets_whole_pool),
	TEST(c04_fragmented_pool_sync_fails_async_waits_for_neighbour),
	TEST(c05_nregs_above_limit_fails_at_once_on_idle_adapter),
	TEST(c05_nregs_above_limit_fails_at_once_on_busy_adapter),
	TEST(c06_granted_routine_runs_on_caller_before_return),
	TEST(c06_queued_request_returns_ok_and_runs_once_later),
	TEST(c07_async_ex_granted_runs_before_return_with_its_xfer),
	TEST(c07_async_ex_queued_runs_once_later_or_is_cancelled),
	TEST(c08_sync_fails_without_registers_runs_and_holds_nothing),
	TEST(c08_sync_fails_while_channel_held),
	TEST(c08_sync_with_routine_runs_before_return_and_writes_base_out),
	TEST(c08_sync_without_routine_holds_until_free_adapter_object),
	TEST(c09_null_adapter_rejected),
	TEST(c09_missing_routine_rejected),
	TEST(c09_base_out_without_sync_flag_rejected),
	TEST(c09_unknown_flag_bits_rejected),
	TEST(c09_null_or_uninitialized_xfer_rejected),
	TEST(c09_xfer_of_another_adapter_rejected),
	TEST(c09_xfer_naming_queued_request_rejected),
	TEST(c09_xfer_naming_granted_not_run_request_rejected),
	TEST(c09_xfer_whose_routine_is_running_rejected),
	TEST(c09_call_on_own_adapter_inside_routine_rejected),
	TEST(c09_transfer_init_rejects_null),
	TEST(c10_xfer_reusable_after_routine_returned),
	TEST(c10_xfer_reusable_after_sync_call_returned),
	TEST(c10_xfer_reusable_after_cancel_returned_true),
};

HARNESS_MAIN("allocate", tests)
