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

	mapreg_pool_unbiased(pool);	/* the shared protocol's window, from one thread */
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

/*
 * C13 in the window channel_hand_to opens: it claims the registers of the
 * request it hands the channel to (nobody waits for registers), then moves
 * the request to GRANTED.  A cancel that wins the request in between leaves
 * the releaser with a run for nobody, which a waiter that came meanwhile may
 * need.  The hook, on the releasing thread at that point, cancels the
 * request and submits a request for the whole pool, which must wait (one
 * register is claimed); the run given back must serve it before the release
 * returns.  Not a race found by the stress suite: the window is a design's
 * (issue 13), replayed before anything found it.  The lock-free backend
 * only: the locked one claims and grants under its mutex.
 */
struct claimed_hand_over {
	mapreg_adapter *adapter, *other;
	mapreg_transfer xfer;
	struct probe handed, whole;
	bool cancelled;
	int phase;			/* 0: before the claim, 1: after the hook */
};

static struct claimed_hand_over claimed;

static void claimed_hand_over_hook(enum mapreg_pause where)
{
	if (where != PAUSE_HAND_TO_CLAIMED)
		return;
	mapreg_pause_hook = NULL;
	claimed.phase = 1;
	claimed.cancelled = mapreg_cancel_channel(claimed.adapter, NULL, &claimed.xfer);
	request(claimed.other, 2, &claimed.whole);
	assert_not_run(&claimed.whole);		/* it waits for the claimed register */
}

static void c13_cancel_after_hand_over_claim_serves_waiter(void **state)
{
	mapreg_pool *pool = pool_new(2);

	mapreg_pool_unbiased(pool);	/* the shared protocol's hand-over, from one thread */
	claimed = (struct claimed_hand_over){ .adapter = inline_adapter(pool),
					      .other = inline_adapter(pool) };
	probe_init(&claimed.handed, "cancelled after its claim", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&claimed.whole, "the whole pool", MAPREG_DEALLOCATE_OBJECT);
	hold(claimed.adapter, 0);
	xfer_init_for(claimed.adapter, &claimed.xfer);
	request_ex(claimed.adapter, &claimed.xfer, 1, &claimed.handed);	/* queues */
	mapreg_pause_hook = claimed_hand_over_hook;
	release_hold(claimed.adapter);		/* hands the channel over: the claim */
	mapreg_pause_hook = NULL;
	assert_int_equal(claimed.phase, 1);	/* the claim was made */
	assert_true(claimed.cancelled);		/* C20: the request still waited */
	assert_not_run(&claimed.handed);
	assert_ran_once(&claimed.whole);	/* C13: the run came back to it */
	assert_quiescent(pool);
}

/*
 * The biased channel (core/lockfree/bias.h): an owner thread O and a
 * revoker, the test's thread, stopped by the hook after its fence and before
 * it reads what O holds.  What O does meanwhile is let go by the hook: the
 * hook then waits until O's store to bias_held is visible or O's call has
 * returned, so that the revoker reads exactly that store (no timing).
 * Lock-free backend, and only where adapters start biased (not on other
 * architectures, nor with MAPREG_NO_BIAS).
 */
struct revoke_race {
	mapreg_adapter *adapter;
	struct gate holding;		/* O holds the channel */
	struct gate go;			/* the hook lets O end its hold */
	atomic_bool returned;		/* O's ending call returned */
	bool let_go;			/* the hook lets O go (else later) */
	struct probe first;		/* O's request (async case) */
	mapreg_base run;		/* O's hold (sync case) */
	mapreg_status o_end;		/* O's free_adapter_object (sync case) */
	bool sync;
};

static struct revoke_race race;

static void revoke_hook(enum mapreg_pause where)
{
	if (where != PAUSE_BIAS_REVOKING)
		return;
	mapreg_pause_hook = NULL;
	if (!race.let_go)
		return;
	gate_open(&race.go);
	/* O's end stores BIAS_FREE (0), then finds REVOKING and waits for us. */
	while (mapreg_adapter_bias_held(race.adapter) != 0 && !atomic_load(&race.returned))
		;	/* O runs on the other CPU, or gets this one when we are preempted */
}

static void owner_waits_in_routine(struct probe *p)
{
	gate_open(&race.holding);
	assert_true(gate_wait(&race.go));
}

static void *owner(void *arg)
{
	(void)arg;
	if (race.sync) {
		race.run = hold(race.adapter, 1);
		gate_open(&race.holding);
		assert_true(gate_wait(&race.go));
		race.o_end = mapreg_free_adapter_object(race.adapter,
							   MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	} else {
		request(race.adapter, 1, &race.first);	/* granted at once: waits inside */
	}
	atomic_store(&race.returned, true);
	return NULL;
}

/* O, on a thread of its own, holds its biased channel when this returns. */
static pthread_t owner_holding(mapreg_pool *pool, bool sync, bool let_go)
{
	race = (struct revoke_race){ .adapter = inline_adapter(pool), .sync = sync,
				     .let_go = let_go };
	gate_init(&race.holding);
	gate_init(&race.go);
	probe_init(&race.first, "the owner's request", MAPREG_DEALLOCATE_OBJECT);
	race.first.then = owner_waits_in_routine;
	pthread_t thread = thread_start(owner, NULL, 0);

	assert_true(gate_wait(&race.holding));
	return thread;
}

static void owner_done(pthread_t thread)
{
	gate_open(&race.go);			/* if the hook did not */
	thread_join(thread);
	gate_destroy(&race.holding);
	gate_destroy(&race.go);
}

/* Whether this process's lock-free adapters start biased (no rseq, MAPREG_NO_BIAS: not). */
static bool adapters_start_biased(void)
{
	mapreg_pool_config pcfg = { .registers = 1, .backend = MAPREG_BACKEND_LOCKFREE };
	mapreg_adapter_config acfg = { 0 };
	mapreg_pool *pool = NULL;
	mapreg_adapter *adapter = NULL;
	bool biased = false;

	if (mapreg_pool_create(&pcfg, &pool) != MAPREG_OK)
		return false;
	if (mapreg_adapter_create(pool, &acfg, &adapter, NULL) == MAPREG_OK) {
		biased = mapreg_adapter_biased(adapter);
		mapreg_adapter_destroy(adapter);
	}
	mapreg_pool_destroy(pool);
	return biased;
}

/*
 * The revoker's request while O's routine holds the channel: the hook lets
 * O's routine return during the revocation (`owner_lets_go`), or not.
 */
static void revoker_requests_while_owner_holds(bool owner_lets_go)
{
	mapreg_pool *pool = pool_new(4);
	struct probe later;
	pthread_t o = owner_holding(pool, false, owner_lets_go);

	probe_init(&later, "the revoker's request", MAPREG_DEALLOCATE_OBJECT);
	mapreg_pause_hook = revoke_hook;
	request(race.adapter, 1, &later);
	mapreg_pause_hook = NULL;
	if (!owner_lets_go)
		assert_not_run(&later);			/* C11: O holds the channel */
	owner_done(o);
	assert_ran_once(&race.first);
	assert_ran_once(&later);			/* C14 */
	assert_quiescent(pool);
}

/*
 * C14, found by the stress suite (keep-registers mix: a stall with requests
 * queued on a free channel): the owner giving its channel back while the
 * word read REVOKING ran the shared protocol's release, whose exchange the
 * revoker's conversion then overwrote with the HELD it read: a channel held
 * by nobody.  O's routine returns while the revoker is stopped; the revoker's
 * request must still be granted.
 */
static void c14_owner_release_during_revocation_loses_no_request(void **state)
{
	revoker_requests_while_owner_holds(true);
}

/*
 * The same revocation with O still inside its routine: the revoker reads
 * HELD, queues behind it (C11), and O's release, in the shared protocol
 * now, hands the channel to it (C14).
 */
static void c11_revoker_queues_behind_owner_holding(void **state)
{
	revoker_requests_while_owner_holds(false);
}

/*
 * C24: another thread ends O's C8 hold, revoking the bias, which finds
 * SYNC and hands the hold over to the shared protocol; O's own end then
 * fails, and the run is freed once.  (The interleaving where O stores its
 * end between the revoker's CAS and its read is formal/bias.pml's: no pause
 * point on the owner's path, which the counted build would pay for.)
 */
static void c24_revoker_ends_owner_hold_once(void **state)
{
	mapreg_pool *pool = pool_new(4);
	pthread_t o = owner_holding(pool, true, false);

	mapreg_pause_hook = revoke_hook;
	assert_ok(mapreg_free_adapter_object(race.adapter,
					     MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS));
	mapreg_pause_hook = NULL;
	owner_done(o);
	assert_status(race.o_end, MAPREG_INVALID_PARAMETER);	/* C24: ended already */
	assert_ok(mapreg_free_map_registers(race.adapter, race.run, 1));
	assert_status(mapreg_free_map_registers(race.adapter, race.run, 1),
		      MAPREG_INVALID_PARAMETER);		/* C23: once */
	assert_quiescent(pool);
}

/*
 * C23: a run the owner kept, freed on another thread (a completion on
 * another CPU), ends only the records' bias: the channel stays biased, the
 * free succeeds once, and the owner's own free of it then fails.
 */
static void *keep_one(void *arg)
{
	race.run = keep_run(race.adapter, 1);
	(void)arg;
	return NULL;
}

static void c23_free_on_another_thread_keeps_channel_biased(void **state)
{
	mapreg_pool *pool = pool_new(4);

	race = (struct revoke_race){ .adapter = inline_adapter(pool) };
	thread_join(thread_start(keep_one, NULL, 0));	/* the owner kept a run */
	assert_ok(mapreg_free_map_registers(race.adapter, race.run, 1));
	assert_status(mapreg_free_map_registers(race.adapter, race.run, 1),
		      MAPREG_INVALID_PARAMETER);		/* C23: once */
	assert_true(mapreg_adapter_biased(race.adapter));
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
	TEST(c13_cancel_after_hand_over_claim_serves_waiter),
	TEST(c14_owner_release_during_revocation_loses_no_request),
	TEST(c11_revoker_queues_behind_owner_holding),
	TEST(c24_revoker_ends_owner_hold_once),
	TEST(c23_free_on_another_thread_keeps_channel_biased),
};

/*
 * The stale-FREE, reused-transfer, hand-over and bias replays need the
 * lock-free backend's pause points; the bias replays, adapters that start biased.
 */
static bool runs_on_this_backend(const struct CMUnitTest *test)
{
	bool about_bias = strstr(test->name, "revo") != NULL ||
			  strstr(test->name, "owner") != NULL || strstr(test->name, "biased") != NULL;

	if (test_backend == MAPREG_BACKEND_LOCKED)
		return strstr(test->name, "stale_free") == NULL &&
		       strstr(test->name, "reused") == NULL &&
		       strstr(test->name, "hand_over") == NULL && !about_bias;
	return !about_bias || adapters_start_biased();
}

int main(int argc, char **argv)
{
	return harness_run_only("regressions", tests, ARRAY_SIZE(tests), argc, argv,
				runs_on_this_backend);
}
