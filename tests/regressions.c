/* SPDX-License-Identifier: MIT */
/*
 * Races found once, replayed deterministically forever.  Each test sets a
 * pause hook (core/fault.h, in the fault-hook build) that runs, on the racing
 * thread at the racy point, what the other thread did when the race was
 * found; then it checks the contract still holds.
 */
#include "harness.h"

#include "fault.h"

static mapreg_adapter *rebind_to;	/* the hook's arguments */
static mapreg_transfer *rebind_xfer;
static mapreg_control_fn rebind_routine;
static void *rebind_context;
static bool rebind_submits;

/*
 * Found by the stress suite (a watchdog stall and a double channel grant):
 * a cancel naming adapter A checked the transfer's binding, then its owner
 * re-initialized the transfer for B and submitted there, then the cancel
 * read BUSY and cancelled B's request, passing A's channel on without
 * holding it.  Once only: the hook is cleared before it runs.
 */
static void rebind_once(enum mapreg_pause where)
{
	if (where != PAUSE_CANCEL_LOADED_STATE)
		return;
	mapreg_pause_hook = NULL;
	assert_ok(mapreg_transfer_init(rebind_to, rebind_xfer));
	if (rebind_submits)
		assert_ok(mapreg_allocate_channel_ex(rebind_to, NULL, rebind_xfer, 1, 0,
						     rebind_routine, rebind_context, NULL));
}

static void c21_cancel_ignores_transfer_rebound_and_resubmitted_meanwhile(void **state)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *a = inline_adapter(pool), *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe waiting;

	probe_init(&waiting, "waiting on B", MAPREG_DEALLOCATE_OBJECT);
	hold(a, 1);			/* A's channel is held: nobody may pass it on */
	hold(b, 1);			/* B's request will wait for B's channel */
	xfer_init_for(a, &xfer);
	rebind_to = b;
	rebind_xfer = &xfer;
	rebind_routine = probe_routine;
	rebind_context = &waiting;
	rebind_submits = true;
	mapreg_pause_hook = rebind_once;
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));	/* foreign now: C21 */
	mapreg_pause_hook = NULL;
	/* B's request still waits: its owner can cancel it. */
	assert_true(mapreg_cancel_channel(b, NULL, &xfer));
	/* A's channel is still held: a second hold on A fails (C11). */
	mapreg_transfer other;
	mapreg_base base;
	xfer_init_for(a, &other);
	assert_status(mapreg_allocate_channel_ex(a, NULL, &other, 0, MAPREG_SYNCHRONOUS_CALLBACK,
						 NULL, NULL, &base),
		      MAPREG_INSUFFICIENT_RESOURCES);
	release_hold(a);
	release_hold(b);
	assert_not_run(&waiting);
}

static void c21_cancel_does_not_mark_transfer_rebound_meanwhile(void **state)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *a = inline_adapter(pool), *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe later;

	probe_init(&later, "later on B", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	rebind_to = b;
	rebind_xfer = &xfer;
	rebind_submits = false;
	mapreg_pause_hook = rebind_once;
	assert_false(mapreg_cancel_channel(a, NULL, &xfer));
	mapreg_pause_hook = NULL;
	/* No mark was left on the transfer now bound to B (C21). */
	assert_ok(mapreg_allocate_channel_ex(b, NULL, &xfer, 1, 0, probe_routine, &later, NULL));
	assert_ran_once(&later);
}

static const struct CMUnitTest tests[] = {
	TEST(c21_cancel_ignores_transfer_rebound_and_resubmitted_meanwhile),
	TEST(c21_cancel_does_not_mark_transfer_rebound_meanwhile),
};

HARNESS_MAIN("regressions", tests)
