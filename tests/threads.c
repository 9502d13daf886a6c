/* SPDX-License-Identifier: MIT */
/*
 * C28 and races: threads that never register with anything call the library
 * on their own and on shared objects; cancels race grants (C20), synchronous
 * callers race hand-offs (C11, C12), and nothing is lost (C14).  Worker
 * threads record; the main thread asserts after joining them.
 */
#include "harness.h"

#define WORKERS 4

/* C28. */

struct counter_routine {
	atomic_ulong runs;
};

static mapreg_action count_and_deallocate(void *device, mapreg_transfer *xfer,
					  mapreg_base base, void *context)
{
	struct counter_routine *c = context;

	atomic_fetch_add(&c->runs, 1);
	return MAPREG_DEALLOCATE_OBJECT;
}

struct worker {
	mapreg_adapter *own, *shared_inline, *shared_poll;
	mapreg_pool *pool;
	unsigned int seed;
	unsigned long requests, wrong;
	struct cycle_counts cycles;
	struct counter_routine *routine;
};

/* A small deterministic generator: each worker's mix is repeatable. */
static unsigned int next_random(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

static void *own_adapter_worker(void *arg)
{
	struct worker *w = arg;

	for (int round = 0; round < 200; round++) {
		uint32_t nregs = next_random(&w->seed) % 5;

		sync_cycles(w->own, nregs, 3, &w->cycles);
		if (mapreg_allocate_channel(w->own, NULL, nregs, count_and_deallocate,
					    w->routine) == MAPREG_OK)
			w->requests++;
		else
			w->wrong++;
	}
	return NULL;
}

static void run_workers(struct worker *w, void *(*fn)(void *))
{
	pthread_t threads[WORKERS];

	for (int i = 0; i < WORKERS; i++)
		threads[i] = thread_start(fn, &w[i], 0);
	for (int i = 0; i < WORKERS; i++)
		thread_join(threads[i]);
}

static unsigned long total_requests(const struct worker *w)
{
	unsigned long requests = 0;

	for (int i = 0; i < WORKERS; i++)
		requests += w[i].requests;
	return requests;
}

static void c28_unregistered_threads_allocate_and_free_on_own_adapters(void **state)
{
	mapreg_pool *pool = pool_new(16);
	struct counter_routine routine = { 0 };
	struct worker w[WORKERS];

	for (int i = 0; i < WORKERS; i++)
		w[i] = (struct worker){ .own = inline_adapter(pool), .seed = (unsigned)i,
					.routine = &routine };
	run_workers(w, own_adapter_worker);
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].wrong, 0);
		assert_int_equal(w[i].cycles.wrong, 0);
	}
	/* Every request was granted and ran, by its own thread or another's free. */
	assert_int_equal(atomic_load(&routine.runs), total_requests(w));
	assert_quiescent(pool);
	assert_held(pool, 0);
}

static void *shared_adapter_worker(void *arg)
{
	struct worker *w = arg;

	for (int round = 0; round < 300; round++) {
		unsigned int r = next_random(&w->seed);
		mapreg_adapter *a = r & 1 ? w->shared_poll : w->shared_inline;

		if (mapreg_allocate_channel(a, NULL, (r >> 1) % 6, count_and_deallocate,
					    w->routine) == MAPREG_OK)
			w->requests++;
		else
			w->wrong++;
		/* Sync calls may be refused (the channel is shared): never wrong. */
		sync_cycles(r & 2 ? w->shared_inline : w->own, (r >> 4) % 3, 1, &w->cycles);
		mapreg_poll(w->shared_poll, 1 + r % 3);
	}
	return NULL;
}

static void c28_unregistered_threads_share_adapters_and_nothing_is_lost(void **state)
{
	mapreg_pool *pool = pool_new(12);
	mapreg_adapter *shared_inline = inline_adapter(pool);
	mapreg_adapter *shared_poll = poll_adapter(pool);
	struct counter_routine routine = { 0 };
	struct worker w[WORKERS];

	for (int i = 0; i < WORKERS; i++)
		w[i] = (struct worker){ .own = inline_adapter(pool),
					.shared_inline = shared_inline,
					.shared_poll = shared_poll,
					.seed = 100u + (unsigned)i, .routine = &routine };
	run_workers(w, shared_adapter_worker);
	/* What is left is pending on the poll adapter: polling grants the rest (C14). */
	while (mapreg_poll(shared_poll, SIZE_MAX) > 0)
		;
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].wrong, 0);
		assert_int_equal(w[i].cycles.wrong, 0);
	}
	assert_int_equal(atomic_load(&routine.runs), total_requests(w));
	assert_false(fd_readable(mapreg_adapter_eventfd(shared_poll)));
	assert_quiescent(pool);
	assert_held(pool, 0);
}

static void *grow_while_allocating_worker(void *arg)
{
	struct worker *w = arg;

	if (w->pool != NULL) {			/* the growing thread */
		for (uint32_t size = 5; size <= 64; size++)
			if (mapreg_pool_grow(w->pool, size) != MAPREG_OK)
				w->wrong++;
		return NULL;
	}
	return own_adapter_worker(arg);
}

static void c28_pool_grows_while_threads_allocate(void **state)
{
	mapreg_pool *pool = pool_new(4);
	struct counter_routine routine = { 0 };
	struct worker w[WORKERS];

	for (int i = 0; i < WORKERS; i++)
		w[i] = (struct worker){ .own = inline_adapter(pool), .seed = 7u * (unsigned)i,
					.routine = &routine, .pool = i == 0 ? pool : NULL };
	run_workers(w, grow_while_allocating_worker);
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].wrong, 0);
		assert_int_equal(w[i].cycles.wrong, 0);
	}
	assert_int_equal(atomic_load(&routine.runs), total_requests(w));
	assert_int_equal(stats_of(pool).registers, 64);
	assert_quiescent(pool);
	assert_held(pool, 0);
}

/*
 * Races, each run for many rounds against one helper thread.  The helper
 * waits for round i's `go`, acts, and opens `done` for it; it never asserts.
 */
#define RACE_ROUNDS 1000

struct race {
	struct gate go, done;
	unsigned int rounds_done;
	void (*act)(struct race *r);
	/* per round */
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	bool cancelled;
	struct probe sync_probe;
	unsigned long sync_refusals;
	mapreg_status sync_status;
};

static void *race_helper(void *arg)
{
	struct race *r = arg;

	for (unsigned int i = 1; i <= RACE_ROUNDS; i++) {
		if (!gate_wait_for(&r->go, i))
			break;
		r->act(r);
		gate_open(&r->done);
	}
	return NULL;
}

static pthread_t race_start(struct race *r, void (*act)(struct race *r))
{
	gate_init(&r->go);
	gate_init(&r->done);
	r->act = act;
	return thread_start(race_helper, r, 0);
}

static void race_stop(struct race *r, pthread_t helper)
{
	/* Let a helper that is still waiting run out its rounds. */
	for (unsigned int i = r->rounds_done; i < RACE_ROUNDS; i++)
		gate_open(&r->go);
	thread_join(helper);
	gate_destroy(&r->go);
	gate_destroy(&r->done);
}

static void race_cancel(struct race *r)
{
	r->cancelled = mapreg_cancel_channel(r->adapter, NULL, &r->xfer);
}

/* C20: a cancel racing the grant of a register waiter: exactly one happens. */
static void check_cancel_races_grant(mapreg_dispatch dispatch)
{
	mapreg_pool *pool = pool_new(1);
	mapreg_adapter *holder = inline_adapter(pool);
	struct race r = { .adapter = adapter_new(pool, dispatch, 0) };
	unsigned long cancelled = 0, ran = 0;

	pthread_t helper = race_start(&r, race_cancel);
	mapreg_pool_stats before = stats_of(pool);
	for (r.rounds_done = 0; r.rounds_done < RACE_ROUNDS; r.rounds_done++) {
		struct probe p;

		probe_init(&p, "raced", MAPREG_DEALLOCATE_OBJECT);
		hold(holder, 1);
		xfer_init_for(r.adapter, &r.xfer);	/* clears a mark of a late cancel */
		request_ex(r.adapter, &r.xfer, 1, &p);
		gate_open(&r.go);
		release_hold(holder);
		assert_true(gate_wait_for(&r.done, r.rounds_done + 1));
		mapreg_poll(r.adapter, 1);
		assert_int_equal(atomic_load(&p.runs) + r.cancelled, 1);
		cancelled += r.cancelled;
		ran += atomic_load(&p.runs);
	}
	race_stop(&r, helper);
	mapreg_pool_stats after = stats_of(pool);
	assert_int_equal(after.cancels - before.cancels, cancelled);
	assert_int_equal(after.grants - before.grants, RACE_ROUNDS + ran);
	assert_quiescent(pool);
}

static void c20_cancel_racing_grant_exactly_one_happens(void **state)
{
	check_cancel_races_grant(MAPREG_DISPATCH_INLINE);
	check_cancel_races_grant(MAPREG_DISPATCH_POLL);
}

/*
 * C20, C21: a cancel racing the submission of the request it names.  The
 * channel stays held, so the request can only queue: either the cancel
 * removed it (true, and the submission returned OK) or it linearized before
 * the submission (false, and the submission returned MAPREG_CANCELLED).
 * False with OK would be a cancel lost: the request left waiting.
 */
static void c21_cancel_racing_submission_is_never_lost(void **state)
{
	mapreg_pool *pool = pool_new(4);
	struct race r = { .adapter = inline_adapter(pool) };
	unsigned long removed = 0, refused = 0;
	struct probe never;

	probe_init(&never, "never", MAPREG_DEALLOCATE_OBJECT);
	hold(r.adapter, 0);
	pthread_t helper = race_start(&r, race_cancel);
	for (r.rounds_done = 0; r.rounds_done < RACE_ROUNDS; r.rounds_done++) {
		xfer_init_for(r.adapter, &r.xfer);
		gate_open(&r.go);
		mapreg_status status = mapreg_allocate_channel_ex(r.adapter, NULL, &r.xfer, 1, 0,
								  probe_routine, &never, NULL);
		assert_true(gate_wait_for(&r.done, r.rounds_done + 1));
		if (!r.cancelled && status == MAPREG_OK)
			mapreg_cancel_channel(r.adapter, NULL, &r.xfer);	/* tidy up */
		assert_true(r.cancelled ? status == MAPREG_OK : status == MAPREG_CANCELLED);
		removed += r.cancelled;
		refused += !r.cancelled;
	}
	race_stop(&r, helper);
	release_hold(r.adapter);
	assert_not_run(&never);
	assert_int_equal(stats_of(pool).cancels, removed);
	assert_int_equal(removed + refused, RACE_ROUNDS);
}

/* The helper tries synchronous requests until one is granted. */
static void race_sync_until_granted(struct race *r)
{
	r->sync_refusals = 0;
	while ((r->sync_status = try_sync(r->adapter, 1, &r->sync_probe)) ==
	       MAPREG_INSUFFICIENT_RESOURCES)
		r->sync_refusals++;
}

/*
 * A synchronous caller spins on `contested` while the main thread releases
 * what a queued request waits for: the queued request must run first.
 * `queued_on` is contested itself (C11) or another adapter (C12).
 */
static void check_sync_never_overtakes(bool same_adapter)
{
	mapreg_pool *pool = pool_new(1);
	mapreg_adapter *holder = inline_adapter(pool);
	struct race r = { .adapter = inline_adapter(pool) };
	mapreg_adapter *queued_on = same_adapter ? r.adapter : inline_adapter(pool);

	pthread_t helper = race_start(&r, race_sync_until_granted);
	for (r.rounds_done = 0; r.rounds_done < RACE_ROUNDS; r.rounds_done++) {
		struct probe queued;

		probe_init(&queued, "queued", MAPREG_DEALLOCATE_OBJECT);
		probe_init(&r.sync_probe, "sync", MAPREG_DEALLOCATE_OBJECT);
		hold(same_adapter ? r.adapter : holder, 1);
		request(queued_on, 1, &queued);
		gate_open(&r.go);
		release_hold(same_adapter ? r.adapter : holder);
		assert_true(gate_wait_for(&r.done, r.rounds_done + 1));
		assert_ok(r.sync_status);
		assert_ran_once(&queued);
		assert_ran_once(&r.sync_probe);
		assert_true(queued.order < r.sync_probe.order);
	}
	race_stop(&r, helper);
	assert_quiescent(pool);
}

static void c11_sync_never_overtakes_queued_request_under_race(void **state)
{
	check_sync_never_overtakes(true);
}

static void c12_sync_never_takes_registers_from_waiter_under_race(void **state)
{
	check_sync_never_overtakes(false);
}

static const struct CMUnitTest tests[] = {
	TEST(c28_unregistered_threads_allocate_and_free_on_own_adapters),
	TEST(c28_unregistered_threads_share_adapters_and_nothing_is_lost),
	TEST(c28_pool_grows_while_threads_allocate),
	TEST(c20_cancel_racing_grant_exactly_one_happens),
	TEST(c21_cancel_racing_submission_is_never_lost),
	TEST(c11_sync_never_overtakes_queued_request_under_race),
	TEST(c12_sync_never_takes_registers_from_waiter_under_race),
};

HARNESS_MAIN("threads", tests)
