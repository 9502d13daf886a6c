/* SPDX-License-Identifier: MIT */
/*
 * Races found once, replayed deterministically forever.  Each test sets a
 * pause hook (core/hooks/fault.h, in the fault-hook build) that runs, on the racing
 * thread at the racy point, what the other thread did when the race was
 * found; then it checks the contract still holds.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#include "hooks/fault.h"

static enum mapreg_pause rebind_at;	/* the hook's arguments */
static mapreg_adapter *rebind_to;
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
	if (where != rebind_at)
		return;
	mapreg_pause_hook = NULL;
	assert_ok(mapreg_transfer_init(rebind_to, rebind_xfer));
	if (rebind_submits)
		assert_ok(mapreg_allocate_channel_ex(rebind_to, NULL, rebind_xfer, 1, 0,
						     rebind_routine, rebind_context, NULL));
}

/*
 * B's request waits for B's channel (`for_registers` false) or, holding B's
 * channel, for registers: the case where the old code also passed A's
 * channel on.
 */
static void cancel_ignores_rebound_request(bool for_registers)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *a = inline_adapter(pool), *b = inline_adapter(pool);
	mapreg_adapter *c = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe waiting;

	probe_init(&waiting, "waiting on B", MAPREG_DEALLOCATE_OBJECT);
	hold(a, 1);			/* A's channel is held: nobody may pass it on */
	if (for_registers)
		hold(c, 1);		/* no register left: B's request holds B's channel */
	else
		hold(b, 1);		/* B's request waits for B's channel */
	xfer_init_for(a, &xfer);
	rebind_at = PAUSE_CANCEL_LOADED_STATE;
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
	release_hold(for_registers ? c : b);
	assert_not_run(&waiting);
}

static void c21_cancel_ignores_rebound_request_waiting_for_channel(void **state)
{
	cancel_ignores_rebound_request(false);
}

static void c21_cancel_ignores_rebound_request_waiting_for_registers(void **state)
{
	cancel_ignores_rebound_request(true);
}

/* The re-init comes after the cancel's binding check, before its marking CAS. */
static void cancel_does_not_mark_rebound_transfer(enum mapreg_pause at)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *a = inline_adapter(pool), *b = inline_adapter(pool);
	mapreg_transfer xfer;
	struct probe later;

	probe_init(&later, "later on B", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	rebind_at = at;
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

static void c21_cancel_does_not_mark_transfer_rebound_before_its_check(void **state)
{
	cancel_does_not_mark_rebound_transfer(PAUSE_CANCEL_LOADED_STATE);
}

/* The re-init's new generation makes the cancel's CAS fail and look again. */
static void c21_cancel_does_not_mark_transfer_rebound_before_its_cas(void **state)
{
	cancel_does_not_mark_rebound_transfer(PAUSE_CANCEL_BEFORE_MARK);
}

/*
 * C11's overtake, found on a second CPU (an Intel Xeon): a thread passing a
 * channel on decides FREE with the queue empty; before it stores FREE, a
 * request queues (finding the channel HELD) and its submitter returns; then
 * the submitter's next request takes the stale FREE.  The hook runs that
 * submitter on the releasing thread: the request at the decision, the next
 * call once FREE is stored.  The lock-free backend only: the locked one
 * decides and releases under one mutex.
 */
struct stale_free {
	mapreg_adapter *adapter;
	struct probe queued, later;
	mapreg_status later_status;
	bool destroy;			/* the next call: destroy, else a sync request */
	bool keep;			/* the hold ends keeping its run (one CAS) */
	int phase;			/* 0: before the decision, 1: queued, 2: done */
};

static struct stale_free stale;

static void stale_free_hook(enum mapreg_pause where)
{
	if (where == PAUSE_PASS_ON_DECIDED && stale.phase == 0) {
		stale.phase = 1;
		request(stale.adapter, 0, &stale.queued);
		assert_not_run(&stale.queued);		/* queued behind our HELD */
	} else if (where == PAUSE_PASS_ON_RELEASED && stale.phase == 1) {
		stale.phase = 2;
		mapreg_pause_hook = NULL;
		stale.later_status = stale.destroy ? mapreg_adapter_destroy(stale.adapter)
						   : try_sync(stale.adapter, 0, &stale.later);
	}
}

static void next_call_does_not_pass_request_queued_behind_stale_free(bool destroy, bool keep)
{
	mapreg_pool *pool = pool_new(2);
	stale = (struct stale_free){ .adapter = inline_adapter(pool), .destroy = destroy,
				     .keep = keep };
	probe_init(&stale.queued, "queued", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&stale.later, "later sync", MAPREG_DEALLOCATE_OBJECT);

	mapreg_base kept = hold(stale.adapter, 1);
	mapreg_pause_hook = stale_free_hook;
	/* Decides FREE: the queue is empty. */
	if (keep)
		assert_ok(mapreg_free_adapter_object(stale.adapter,
						     MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS));
	else
		release_hold(stale.adapter);
	mapreg_pause_hook = NULL;
	assert_int_equal(stale.phase, 2);	/* both pause points were reached */
	/* C8, C11: a request was queued ahead, so the synchronous call fails;
	 * C3: destroy is BUSY while a request is queued, and drops nothing. */
	assert_status(stale.later_status, destroy ? MAPREG_BUSY : MAPREG_INSUFFICIENT_RESOURCES);
	assert_not_run(&stale.later);
	assert_ran_once(&stale.queued);		/* the channel reached it (C14) */
	if (keep)
		assert_ok(mapreg_free_map_registers(stale.adapter, kept, 1));
	assert_quiescent(pool);
}

static void c11_sync_request_does_not_pass_request_queued_behind_stale_free(void **state)
{
	next_call_does_not_pass_request_queued_behind_stale_free(false, false);
}

/* The same window in the one-CAS end of a hold that keeps its run (C24). */
static void c11_sync_request_does_not_pass_request_queued_behind_stale_free_keeping(void **state)
{
	next_call_does_not_pass_request_queued_behind_stale_free(false, true);
}

/*
 * Before the fix, destroy took the stale FREE, freed the queued request as
 * if cancelled, and then waited for a grace period inside the releaser's
 * read-side section: a hang.  The alarm turns it into a failure.
 */
static void hung(int sig)
{
	static const char msg[] = "destroy hung: it took a channel past a queued request\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static void c3_destroy_does_not_drop_request_queued_behind_stale_free(void **state)
{
	signal(SIGALRM, hung);
	alarm(20);
	next_call_does_not_pass_request_queued_behind_stale_free(true, false);
	alarm(0);
}

static void c3_destroy_does_not_drop_request_queued_behind_stale_free_keeping(void **state)
{
	signal(SIGALRM, hung);
	alarm(20);
	next_call_does_not_pass_request_queued_behind_stale_free(true, true);
	alarm(0);
}

/*
 * C20, found in review: a submission whose commit failed (a cancel marked
 * its transfer) gave the transfer back (IDLE) and only then unpublished its
 * copy by storing NULL.  A second user of the transfer could submit in
 * between and publish its own copy; the late store hid that one, and a
 * cancel of the waiting request returned false.  The hook runs the cancel
 * before the commit and the second submission after the failed commit, on
 * the submitting thread.  The lock-free backend only (its pause points).
 */
struct reused_transfer {
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	struct probe never;
	mapreg_status second;
	int phase;			/* 0: before the cancel, 1: marked, 2: resubmitted */
};

static struct reused_transfer reused;

static void reused_transfer_hook(enum mapreg_pause where)
{
	if (where == PAUSE_SUBMIT_BEFORE_COMMIT && reused.phase == 0) {
		reused.phase = 1;
		assert_false(mapreg_cancel_channel(reused.adapter, NULL, &reused.xfer));
	} else if (where == PAUSE_SUBMIT_COMMIT_FAILED && reused.phase == 1) {
		reused.phase = 2;
		mapreg_pause_hook = NULL;
		reused.second = mapreg_allocate_channel_ex(reused.adapter, NULL, &reused.xfer, 1, 0,
							   probe_routine, &reused.never, NULL);
	}
}

static void c20_cancel_finds_request_on_transfer_reused_after_failed_commit(void **state)
{
	mapreg_pool *pool = pool_new(2);
	struct probe first;

	reused = (struct reused_transfer){ .adapter = inline_adapter(pool) };
	probe_init(&first, "cancelled before its commit", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&reused.never, "cancelled while waiting", MAPREG_DEALLOCATE_OBJECT);
	hold(reused.adapter, 1);		/* requests queue for the channel */
	xfer_init_for(reused.adapter, &reused.xfer);
	mapreg_pause_hook = reused_transfer_hook;
	assert_status(mapreg_allocate_channel_ex(reused.adapter, NULL, &reused.xfer, 1, 0,
						 probe_routine, &first, NULL),
		      MAPREG_CANCELLED);
	mapreg_pause_hook = NULL;
	assert_int_equal(reused.phase, 2);
	assert_ok(reused.second);		/* queued behind the hold */
	assert_true(mapreg_cancel_channel(reused.adapter, NULL, &reused.xfer));	/* C20 */
	release_hold(reused.adapter);
	assert_not_run(&first);
	assert_not_run(&reused.never);
	assert_quiescent(pool);
}

static const struct CMUnitTest tests[] = {
	TEST(c21_cancel_ignores_rebound_request_waiting_for_channel),
	TEST(c21_cancel_ignores_rebound_request_waiting_for_registers),
	TEST(c21_cancel_does_not_mark_transfer_rebound_before_its_check),
	TEST(c21_cancel_does_not_mark_transfer_rebound_before_its_cas),
	TEST(c11_sync_request_does_not_pass_request_queued_behind_stale_free),
	TEST(c3_destroy_does_not_drop_request_queued_behind_stale_free),
	TEST(c11_sync_request_does_not_pass_request_queued_behind_stale_free_keeping),
	TEST(c3_destroy_does_not_drop_request_queued_behind_stale_free_keeping),
	TEST(c20_cancel_finds_request_on_transfer_reused_after_failed_commit),
};

/* The stale-FREE and reused-transfer replays need the lock-free backend's pause points. */
static bool runs_on_this_backend(const struct CMUnitTest *test)
{
	return test_backend != MAPREG_BACKEND_LOCKED ||
	       (strstr(test->name, "stale_free") == NULL && strstr(test->name, "reused") == NULL);
}

int main(int argc, char **argv)
{
	return harness_run_only("regressions", tests, ARRAY_SIZE(tests), argc, argv,
				runs_on_this_backend);
}
