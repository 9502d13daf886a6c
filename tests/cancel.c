/* SPDX-License-Identifier: MIT */
/* C20-C21: cancelling requests, and cancel marks. */
#include "harness.h"

#include <string.h>

/* C20. */

static void c20_cancel_request_waiting_for_channel_removes_it(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe p;

	probe_init(&p, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	hold(a, 1);
	request_ex(a, &xfer, 2, &p);
	mapreg_pool_stats want = stats_of(pool);
	assert_true(mapreg_cancel_channel(a, NULL, &xfer));
	want.waiting_channel--;
	want.cancels++;
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	release_hold(a);
	assert_not_run(&p);
	/* Gone, not marked: the transfer works again at once (C10). */
	request_ex(a, &xfer, 2, &p);
	assert_ran_once(&p);
}

static void c20_cancel_request_waiting_for_registers_passes_channel_on(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer first, second;
	struct probe cancelled, next;

	probe_init(&cancelled, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&next, "next", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &first);
	xfer_init_for(a, &second);
	hold(holder, 4);
	request_ex(a, &first, 2, &cancelled);		/* holds a's channel */
	request_ex(a, &second, 2, &next);
	mapreg_pool_stats want = stats_of(pool);
	assert_true(mapreg_cancel_channel(a, NULL, &first));
	/* next took the channel: it now waits for registers instead. */
	want.waiting_channel--;
	want.cancels++;
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	release_hold(holder);
	assert_routine_log(1, &next);
}

/* The cancelled head held nothing: the waiter behind it takes all registers. */
static void c20_cancelled_head_register_waiter_holds_nothing(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe cancelled, whole;

	probe_init(&cancelled, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&whole, "whole", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	hold(holder, 3);
	request_ex(a, &xfer, 4, &cancelled);
	request(b, 4, &whole);
	assert_true(mapreg_cancel_channel(a, NULL, &xfer));
	assert_held(pool, 3);
	assert_waiting(pool, 0, 1);
	release_hold(holder);
	assert_routine_log(1, &whole);
	assert_int_equal(whole.base.count, 4);
}

/* A routine that has run: false, and (C21) the now idle transfer is marked. */
static void c20_cancel_after_routine_ran_returns_false(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe ran, marked;

	probe_init(&ran, "ran", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&marked, "marked", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	request_ex(a, &xfer, 1, &ran);
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL, &xfer)));
	assert_ran_once(&ran);
	assert_status(mapreg_allocate_channel_ex(a, NULL, &xfer, 1, 0, probe_routine, &marked,
						 NULL),
		      MAPREG_CANCELLED);
	assert_not_run(&marked);
}

/* Granted, not yet run (poll): false, it still runs, and nothing is marked. */
static void c20_cancel_granted_not_run_returns_false_and_routine_runs(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	mapreg_transfer xfer;
	struct probe granted, again;

	probe_init(&granted, "granted", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&again, "again", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(p, &xfer);
	hold(holder, 4);
	request_ex(p, &xfer, 2, &granted);
	release_hold(holder);
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(p, NULL, &xfer)));
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_ran_once(&granted);
	request_ex(p, &xfer, 2, &again);		/* not CANCELLED */
	assert_ran_once(&again);
}

static void cancel_own_request(struct probe *p)
{
	p->status = mapreg_cancel_channel(p->arg, NULL, p->xfer) ? MAPREG_CANCELLED
								 : MAPREG_OK;
}

/* Running: false, and nothing is marked. */
static void c20_cancel_from_inside_own_routine_returns_false(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe self, again;

	probe_init(&self, "self canceller", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&again, "again", MAPREG_DEALLOCATE_OBJECT);
	self.then = cancel_own_request;
	self.arg = a;
	xfer_init_for(a, &xfer);
	mapreg_pool_stats want = stats_of(pool);
	request_ex(a, &xfer, 2, &self);
	want.grants++;
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);		/* no cancel counted */
	assert_ok(self.status);
	request_ex(a, &xfer, 2, &again);
	assert_ran_once(&again);
}

/* C21. */

/* Every _ex form meets the mark once: CANCELLED, nothing run, nothing changed. */
static void c21_cancel_on_idle_xfer_marks_it_for_next_ex_only(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	mapreg_base base = { 7, 7 };
	struct probe p, after;

	probe_init(&p, "never", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&after, "after", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	for (int form = 0; form < 3; form++) {
		uint32_t flags = form == 0 ? 0 : MAPREG_SYNCHRONOUS_CALLBACK;
		mapreg_control_fn fn = form == 2 ? NULL : probe_routine;
		mapreg_base *out = form == 2 ? &base : NULL;

		assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL, &xfer)));
		assert_changes_nothing(pool, assert_status(mapreg_allocate_channel_ex(a, NULL,
						&xfer, 1, flags, fn, &p, out),
						MAPREG_CANCELLED));
	}
	assert_not_run(&p);
	assert_int_equal(base.first, 7);
	request_ex(a, &xfer, 1, &after);		/* the mark was cleared */
	assert_ran_once(&after);
}

static void c21_second_cancel_on_marked_xfer_marks_once(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe p;

	probe_init(&p, "after", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));
	assert_status(mapreg_allocate_channel_ex(a, NULL, &xfer, 1, 0, probe_routine, &p, NULL),
		      MAPREG_CANCELLED);
	request_ex(a, &xfer, 1, &p);
	assert_ran_once(&p);
}

static void c21_transfer_init_clears_mark(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe on_a, on_b;

	probe_init(&on_a, "on a", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&on_b, "on b", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));
	assert_ok(mapreg_transfer_init(a, &xfer));
	request_ex(a, &xfer, 1, &on_a);
	assert_ran_once(&on_a);
	/* Also when re-initialized for another adapter. */
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));
	assert_ok(mapreg_transfer_init(b, &xfer));
	request_ex(b, &xfer, 1, &on_b);
	assert_ran_once(&on_b);
}

static void c21_cancel_with_null_foreign_or_uninitialized_xfer_changes_nothing(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	mapreg_transfer idle_of_b, queued_of_b, zeroed;
	struct probe idle, queued;

	probe_init(&idle, "idle", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&queued, "queued", MAPREG_DEALLOCATE_OBJECT);
	memset(&zeroed, 0, sizeof(zeroed));
	xfer_init_for(b, &idle_of_b);
	xfer_init_for(b, &queued_of_b);
	hold(b, 0);
	request_ex(b, &queued_of_b, 1, &queued);

	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL, NULL)));
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(NULL, NULL, &idle_of_b)));
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL, &zeroed)));
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL, &idle_of_b)));
	assert_changes_nothing(pool, assert_false(mapreg_cancel_channel(a, NULL,
									&queued_of_b)));
	/* None of them was marked or removed. */
	release_hold(b);
	assert_ran_once(&queued);
	request_ex(b, &idle_of_b, 1, &idle);
	assert_ran_once(&idle);
	assert_memory_equal(&zeroed, &(mapreg_transfer){ { 0 } }, sizeof(zeroed));
}

static const struct CMUnitTest tests[] = {
	TEST(c20_cancel_request_waiting_for_channel_removes_it),
	TEST(c20_cancel_request_waiting_for_registers_passes_channel_on),
	TEST(c20_cancelled_head_register_waiter_holds_nothing),
	TEST(c20_cancel_after_routine_ran_returns_false),
	TEST(c20_cancel_granted_not_run_returns_false_and_routine_runs),
	TEST(c20_cancel_from_inside_own_routine_returns_false),
	TEST(c21_cancel_on_idle_xfer_marks_it_for_next_ex_only),
	TEST(c21_second_cancel_on_marked_xfer_marks_once),
	TEST(c21_transfer_init_clears_mark),
	TEST(c21_cancel_with_null_foreign_or_uninitialized_xfer_changes_nothing),
};

HARNESS_MAIN("cancel", tests)
