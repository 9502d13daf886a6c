/* SPDX-License-Identifier: MIT */
/* C15-C19: running routines, where, how deep, what they may do, their answers. */
#include "harness.h"

#include <stdlib.h>

/* C15. */

static void c15_each_routine_runs_exactly_once(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	mapreg_transfer xfer;
	struct probe now, queued_inline, queued_poll, ex;

	probe_init(&now, "now", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&queued_inline, "queued inline", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&queued_poll, "queued poll", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&ex, "ex", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &xfer);
	request(a, 4, &now);
	hold(a, 4);
	request(a, 2, &queued_inline);
	request(p, 2, &queued_poll);
	request_ex(a, &xfer, 2, &ex);
	release_hold(a);
	assert_int_equal(mapreg_poll(p, 10), 1);
	/* More traffic, more polling: nobody runs twice. */
	for (int i = 0; i < 3; i++) {
		hold(a, 4);
		release_hold(a);
	}
	assert_int_equal(mapreg_poll(p, 10), 0);
	assert_routine_log(4, &now, &queued_inline, &ex, &queued_poll);
	assert_ran_once(&now);
	assert_ran_once(&queued_inline);
	assert_ran_once(&queued_poll);
	assert_ran_once(&ex);
}

/*
 * While a routine runs, another thread can use the same pool: get its stats
 * and allocate and free on another adapter.  If the library held a lock
 * across the routine, the helper would block until the routine's bounded
 * wait gives up.
 */
struct lock_check {
	struct probe p;
	mapreg_pool *pool;
	mapreg_adapter *other;
	pthread_t helper;
	bool helper_started, helper_finished;
	struct gate done;
	struct cycle_counts counts;
	mapreg_status stats_status;
};

static void *use_pool_meanwhile(void *arg)
{
	struct lock_check *c = arg;
	mapreg_pool_stats s;

	c->stats_status = mapreg_pool_get_stats(c->pool, &s);
	sync_cycles(c->other, 1, 3, &c->counts);
	gate_open(&c->done);
	return NULL;
}

static void wait_for_helper(struct probe *p)
{
	struct lock_check *c = container_of(p, struct lock_check, p);

	c->helper_started = pthread_create(&c->helper, NULL, use_pool_meanwhile, c) == 0;
	if (c->helper_started)
		c->helper_finished = gate_wait(&c->done);
}

static void check_routine_runs_without_lock(mapreg_pool *pool, mapreg_adapter *a,
					    mapreg_adapter *holder)
{
	struct lock_check c = { .pool = pool, .other = inline_adapter(pool) };

	gate_init(&c.done);
	probe_init(&c.p, "waits for a helper", MAPREG_DEALLOCATE_OBJECT);
	c.p.then = wait_for_helper;
	if (holder == NULL) {
		request(a, 1, &c.p);			/* granted at submission */
	} else {
		hold(holder, 2);
		request(a, 1, &c.p);			/* granted by a free */
		release_hold(holder);
		mapreg_poll(a, 1);			/* in case it is a poll adapter */
	}
	assert_ran_once(&c.p);
	assert_true(c.helper_started);
	thread_join(c.helper);
	assert_true(c.helper_finished);
	assert_ok(c.stats_status);
	assert_int_equal(c.counts.granted, 3);
	gate_destroy(&c.done);
}

static void c15_routine_runs_without_library_lock(void **state)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *holder = inline_adapter(pool);

	check_routine_runs_without_lock(pool, inline_adapter(pool), NULL);
	check_routine_runs_without_lock(pool, inline_adapter(pool), holder);
	check_routine_runs_without_lock(pool, poll_adapter(pool), holder);
}

/* C16: one waiter for the whole pool, released by a call on another thread. */
struct c16_case {
	mapreg_pool *pool;
	mapreg_adapter *holder, *w;
	struct probe waiter;
};

static void c16_case_init(struct c16_case *c)
{
	c->pool = pool_new(4);
	c->holder = inline_adapter(c->pool);
	c->w = inline_adapter(c->pool);
	probe_init(&c->waiter, "waiter", MAPREG_DEALLOCATE_OBJECT);
}

static void c16_check_released_by(struct c16_case *c, mapreg_status (*call)(void *arg),
				  void *arg)
{
	mapreg_status status;

	request(c->w, 4, &c->waiter);
	assert_not_run(&c->waiter);
	pthread_t thread = marked_call_on_thread(call, arg, &status);
	assert_ok(status);
	assert_ran_inside_call_on(&c->waiter, thread);
}

static mapreg_status call_free_channel(void *adapter)
{
	return mapreg_free_channel(adapter);
}

static void c16_free_channel_grant_runs_on_freeing_thread(void **state)
{
	struct c16_case c;
	struct probe keeper;

	c16_case_init(&c);
	probe_init(&keeper, "keeper", MAPREG_KEEP_OBJECT);
	request(c.holder, 4, &keeper);
	c16_check_released_by(&c, call_free_channel, c.holder);
}

struct run_of {
	mapreg_adapter *adapter;
	mapreg_base base;
};

static mapreg_status call_free_map_registers(void *arg)
{
	struct run_of *r = arg;

	return mapreg_free_map_registers(r->adapter, r->base, r->base.count);
}

static void c16_free_map_registers_grant_runs_on_freeing_thread(void **state)
{
	struct c16_case c;

	c16_case_init(&c);
	struct run_of run = { c.holder, keep_run(c.holder, 4) };
	c16_check_released_by(&c, call_free_map_registers, &run);
}

static mapreg_status call_release_hold(void *adapter)
{
	return mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT);
}

static void c16_free_adapter_object_grant_runs_on_freeing_thread(void **state)
{
	struct c16_case c;

	c16_case_init(&c);
	hold(c.holder, 4);
	c16_check_released_by(&c, call_release_hold, c.holder);
}

struct cancel_of {
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
};

static mapreg_status call_cancel(void *arg)
{
	struct cancel_of *c = arg;

	return mapreg_cancel_channel(c->adapter, NULL, &c->xfer) ? MAPREG_OK
								 : MAPREG_INVALID_PARAMETER;
}

/* Cancelling the head register waiter (wants 4 of 4) lets the next (2) fit. */
static void c16_cancel_grant_runs_on_cancelling_thread(void **state)
{
	struct c16_case c;
	struct cancel_of head;
	struct probe never;

	c16_case_init(&c);
	head.adapter = inline_adapter(c.pool);
	probe_init(&never, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	hold(c.holder, 2);
	xfer_init_for(head.adapter, &head.xfer);
	request_ex(head.adapter, &head.xfer, 4, &never);
	request(c.w, 2, &c.waiter);
	assert_waiting(c.pool, 0, 2);
	mapreg_status status;
	pthread_t thread = marked_call_on_thread(call_cancel, &head, &status);
	assert_ok(status);
	assert_ran_inside_call_on(&c.waiter, thread);
	assert_not_run(&never);
	release_hold(c.holder);
}

struct grow_to {
	mapreg_pool *pool;
	uint32_t registers;
};

static mapreg_status call_grow(void *arg)
{
	struct grow_to *g = arg;

	return mapreg_pool_grow(g->pool, g->registers);
}

static void c16_grow_grant_runs_on_growing_thread(void **state)
{
	struct c16_case c;

	c16_case_init(&c);
	hold(c.holder, 4);
	struct grow_to grow = { c.pool, 8 };
	c16_check_released_by(&c, call_grow, &grow);
	release_hold(c.holder);
}

/* A routine's answer frees; the grant that makes possible runs on the same thread. */
static void c16_grant_made_by_routine_answer_runs_on_same_thread(void **state)
{
	struct c16_case c;
	struct probe first;

	c16_case_init(&c);
	probe_init(&first, "first", MAPREG_DEALLOCATE_OBJECT);
	hold(c.holder, 4);
	request(c.w, 4, &first);
	c16_check_released_by(&c, call_release_hold, c.holder);
	assert_ran_inside_call_on(&first, c.waiter.thread);
	assert_routine_log(2, &first, &c.waiter);
}

struct poll_of {
	mapreg_adapter *adapter;
	size_t max, ran;
};

static mapreg_status call_poll(void *arg)
{
	struct poll_of *p = arg;

	p->ran = mapreg_poll(p->adapter, p->max);
	return MAPREG_OK;
}

static void c16_poll_grant_runs_only_in_mapreg_poll_on_polling_thread(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	struct poll_of poll = { poll_adapter(pool), 5, 0 };
	struct probe p;
	mapreg_status status;

	probe_init(&p, "polled", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 4);
	request(poll.adapter, 4, &p);
	release_hold(holder);
	assert_not_run(&p);
	assert_true(fd_readable(mapreg_adapter_eventfd(poll.adapter)));
	pthread_t thread = marked_call_on_thread(call_poll, &poll, &status);
	assert_int_equal(poll.ran, 1);
	assert_ran_inside_call_on(&p, thread);
}

/*
 * Six requests on one poll adapter: one is granted at a time (it holds the
 * channel until its routine has run), and running it grants the next.  A
 * poll runs at most `max` of them, however many become runnable meanwhile.
 */
static void c16_poll_runs_at_most_max_and_returns_count(void **state)
{
	static const char *const names[] = { "p0", "p1", "p2", "p3", "p4", "p5" };
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = poll_adapter(pool);
	struct probe p[6];

	hold(holder, 8);
	for (int i = 0; i < 6; i++) {
		probe_init(&p[i], names[i], MAPREG_DEALLOCATE_OBJECT);
		request(a, 1, &p[i]);
	}
	release_hold(holder);
	assert_int_equal(mapreg_poll(a, 0), 0);
	assert_no_routine_ran();
	assert_int_equal(mapreg_poll(a, 1), 1);
	assert_routine_log(1, &p[0]);
	assert_int_equal(mapreg_poll(a, 2), 2);
	assert_routine_log(3, &p[0], &p[1], &p[2]);
	assert_int_equal(mapreg_poll(a, 2), 2);
	assert_int_equal(mapreg_poll(a, 10), 1);
	assert_int_equal(mapreg_poll(a, 10), 0);
	assert_routine_log(6, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
}

static void poll_own_adapter(struct probe *p)
{
	p->status = mapreg_poll(p->arg, 10) == 0 ? MAPREG_OK : MAPREG_INVALID_PARAMETER;
}

/* The header's choice: 0 for NULL, an inline adapter, or its own routine. */
static void c16_poll_returns_0_for_null_inline_or_from_own_routine(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	mapreg_adapter *holder = inline_adapter(pool);
	struct probe first, second;

	assert_int_equal(mapreg_poll(NULL, 10), 0);
	assert_int_equal(mapreg_poll(a, 10), 0);
	probe_init(&first, "first", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	probe_init(&second, "second", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	first.then = poll_own_adapter;
	first.arg = p;
	hold(holder, 4);
	request(p, 1, &first);
	request(p, 1, &second);
	release_hold(holder);		/* first granted; second gets the channel after it */
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_ok(first.status);		/* its poll ran nothing */
	assert_not_run(&second);
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_ran_once(&second);
	assert_ok(mapreg_free_map_registers(p, first.base, 1));
	assert_ok(mapreg_free_map_registers(p, second.base, 1));
}

/* C17: 100,000 grants made runnable by one call, on a 64 KiB stack. */

#define CHAIN_LENGTH 100000ul
#define CHAIN_ADAPTERS 1000ul
#define CHAIN_STACK (64 * 1024)

struct chain {
	pthread_t thread;		/* the chain's thread */
	unsigned long next;		/* index of the routine expected next */
	unsigned long out_of_order, elsewhere, free_failures;
	uintptr_t lowest_frame, highest_frame;
	struct run_of kept;		/* the previous routine's run */
	/* the call that releases the chain */
	mapreg_adapter *holder;
	mapreg_status status;
};

struct chain_link {
	struct chain *chain;
	unsigned long index;
	mapreg_adapter *adapter;
};

/* Records order, thread and stack depth; no cmocka inside routines. */
static void chain_note(struct chain_link *link)
{
	struct chain *c = link->chain;
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);

	if (link->index != c->next++)
		c->out_of_order++;
	if (!pthread_equal(pthread_self(), c->thread) || marked_calls == 0)
		c->elsewhere++;
	if (c->lowest_frame == 0 || frame < c->lowest_frame)
		c->lowest_frame = frame;
	if (frame > c->highest_frame)
		c->highest_frame = frame;
}

static mapreg_action chain_deallocate(void *device, mapreg_transfer *xfer, mapreg_base base,
				      void *context)
{
	chain_note(context);
	return MAPREG_DEALLOCATE_OBJECT;
}

/* Frees the previous routine's run (on another adapter), keeps its own. */
static mapreg_action chain_free_previous(void *device, mapreg_transfer *xfer,
					 mapreg_base base, void *context)
{
	struct chain_link *link = context;
	struct chain *c = link->chain;

	chain_note(link);
	if (c->kept.adapter != NULL && call_free_map_registers(&c->kept) != MAPREG_OK)
		c->free_failures++;
	c->kept = (struct run_of){ link->adapter, base };
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void *release_chain(void *arg)
{
	struct chain *c = arg;

	c->thread = pthread_self();
	c->status = MARKED(mapreg_free_adapter_object(c->holder, MAPREG_DEALLOCATE_OBJECT));
	return NULL;
}

/* Queues the chain behind c->holder's hold, releases it on a small stack, checks. */
static void run_chain(mapreg_pool *pool, struct chain *c, mapreg_adapter **adapters,
		      unsigned long nadapters, mapreg_control_fn fn)
{
	struct chain_link *links = calloc(CHAIN_LENGTH, sizeof(*links));

	assert_non_null(links);
	for (unsigned long i = 0; i < CHAIN_LENGTH; i++) {
		links[i] = (struct chain_link){ c, i, adapters[i % nadapters] };
		assert_ok(mapreg_allocate_channel(links[i].adapter, NULL, 1, fn, &links[i]));
	}
	assert_int_equal(stats_of(pool).waiting_channel + stats_of(pool).waiting_registers,
			 CHAIN_LENGTH);
	thread_join(thread_start(release_chain, c, CHAIN_STACK));
	free(links);
	assert_ok(c->status);
	assert_int_equal(c->next, CHAIN_LENGTH);
	assert_int_equal(c->out_of_order, 0);
	assert_int_equal(c->elsewhere, 0);		/* C16 */
	assert_int_equal(c->free_failures, 0);
	/* Bounded: the last routine runs no deeper than the first. */
	assert_true(c->highest_frame - c->lowest_frame < 1024);
}

static void c17_100000_grants_on_one_adapter_run_on_64k_stack(void **state)
{
	mapreg_pool *pool = pool_new(1);
	mapreg_adapter *a = inline_adapter(pool);
	struct chain c = { .holder = a };

	hold(a, 1);
	run_chain(pool, &c, &a, 1, chain_deallocate);
	assert_quiescent(pool);
	assert_held(pool, 0);
}

static void c17_100000_grants_across_adapters_each_freeing_run_on_64k_stack(void **state)
{
	mapreg_pool *pool = pool_new(2);
	mapreg_adapter *adapters[CHAIN_ADAPTERS];
	struct chain c = { .holder = inline_adapter(pool) };

	for (unsigned long i = 0; i < CHAIN_ADAPTERS; i++)
		adapters[i] = inline_adapter(pool);
	hold(c.holder, 2);
	run_chain(pool, &c, adapters, CHAIN_ADAPTERS, chain_free_previous);
	assert_held(pool, 1);				/* the last routine's run */
	assert_ok(call_free_map_registers(&c.kept));
}

/* C18. */

struct free_and_reallocate {
	struct probe p;
	struct run_of run;
	struct probe sync_child, async_child;
	mapreg_adapter *third;
	mapreg_status free_status, sync_status, async_status;
};

static void free_then_allocate_elsewhere(struct probe *p)
{
	struct free_and_reallocate *f = container_of(p, struct free_and_reallocate, p);

	f->free_status = call_free_map_registers(&f->run);
	f->sync_status = try_sync(f->run.adapter, 2, &f->sync_child);
	f->async_status = mapreg_allocate_channel(f->third, NULL, 2, probe_routine,
						  &f->async_child);
}

static void c18_routine_frees_and_reallocates_on_other_adapters(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	struct free_and_reallocate f;

	f.third = inline_adapter(pool);
	f.run = (struct run_of){ b, keep_run(b, 4) };
	probe_init(&f.p, "frees b", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&f.sync_child, "sync on b", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	probe_init(&f.async_child, "async on third", MAPREG_DEALLOCATE_OBJECT);
	f.p.then = free_then_allocate_elsewhere;
	request(a, 0, &f.p);
	assert_ok(f.free_status);
	assert_ok(f.sync_status);
	assert_ok(f.async_status);
	assert_routine_log(3, &f.p, &f.sync_child, &f.async_child);
	assert_held(pool, 2);
	assert_ok(mapreg_free_map_registers(b, f.sync_child.base, 2));
}

struct canceller {
	struct probe p;
	mapreg_adapter *same, *other;
	mapreg_transfer same_xfer, other_xfer;
	bool same_cancelled, other_cancelled;
};

static void cancel_two(struct probe *p)
{
	struct canceller *c = container_of(p, struct canceller, p);

	c->same_cancelled = mapreg_cancel_channel(c->same, NULL, &c->same_xfer);
	c->other_cancelled = mapreg_cancel_channel(c->other, NULL, &c->other_xfer);
}

/* Also C20: cancel from inside a routine, on the same and another adapter. */
static void c18_routine_cancels_requests_on_same_and_other_adapter(void **state)
{
	mapreg_pool *pool = pool_new(4);
	struct canceller c;
	struct probe on_same, on_other;

	c.same = inline_adapter(pool);
	c.other = inline_adapter(pool);
	probe_init(&c.p, "canceller", MAPREG_DEALLOCATE_OBJECT);
	c.p.then = cancel_two;
	probe_init(&on_same, "queued on same", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&on_other, "queued on other", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(c.same, &c.same_xfer);
	xfer_init_for(c.other, &c.other_xfer);
	hold(c.same, 0);
	hold(c.other, 4);
	request(c.same, 0, &c.p);
	request_ex(c.same, &c.same_xfer, 1, &on_same);	/* behind c.p for the channel */
	request_ex(c.other, &c.other_xfer, 1, &on_other);
	mapreg_pool_stats want = stats_of(pool);
	release_hold(c.same);
	assert_ran_once(&c.p);
	assert_true(c.same_cancelled);
	assert_true(c.other_cancelled);
	want.cancels += 2;
	want.grants += 1;
	want.waiting_channel -= 3;
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
	release_hold(c.other);
	assert_routine_log(1, &c.p);
}

static void poll_other_adapter(struct probe *p)
{
	p->status = mapreg_poll(p->arg, 10) == 1 ? MAPREG_OK : MAPREG_INVALID_PARAMETER;
}

static void c18_routine_polls_another_adapter(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	mapreg_adapter *holder = inline_adapter(pool);
	struct probe poller, polled;

	probe_init(&poller, "poller", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&polled, "polled", MAPREG_DEALLOCATE_OBJECT);
	poller.then = poll_other_adapter;
	poller.arg = p;
	hold(holder, 4);
	request(p, 2, &polled);
	release_hold(holder);			/* polled: granted, pending */
	assert_ok(MARKED(mapreg_allocate_channel(a, NULL, 2, probe_routine, &poller)));
	assert_ok(poller.status);
	assert_routine_log(2, &poller, &polled);
	assert_ran_inside_call(&polled);
	assert_false(fd_readable(mapreg_adapter_eventfd(p)));
}

/* C19. */

static void c19_keep_object_holds_channel_and_registers_until_free_channel(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe keeper, sync_try, behind;

	probe_init(&keeper, "keeper", MAPREG_KEEP_OBJECT);
	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&behind, "behind", MAPREG_DEALLOCATE_OBJECT);
	request(a, 3, &keeper);
	assert_held(pool, 3);
	assert_status(try_sync(a, 0, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	request(a, 1, &behind);
	assert_not_run(&behind);
	assert_ok(MARKED(mapreg_free_channel(a)));
	assert_ran_inside_call(&behind);
	assert_held(pool, 0);
}

static void c19_deallocate_object_frees_channel_and_registers(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p, next;

	probe_init(&p, "deallocates", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&next, "next", MAPREG_DEALLOCATE_OBJECT);
	request(a, 4, &p);
	assert_held(pool, 0);
	assert_ok(try_sync(a, 4, &next));
	assert_status(mapreg_free_channel(a), MAPREG_INVALID_PARAMETER);
}

static void c19_deallocate_keep_registers_frees_channel_only(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p, channel_only;

	probe_init(&p, "keeps registers", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	probe_init(&channel_only, "channel only", MAPREG_DEALLOCATE_OBJECT);
	request(a, 3, &p);
	assert_held(pool, 3);
	assert_ok(try_sync(a, 0, &channel_only));	/* the channel is free */
	assert_ok(mapreg_free_map_registers(a, p.base, 3));
	assert_held(pool, 0);
}

/* Any other answer: DEALLOCATE_OBJECT, counted as a caller error. */
static void c19_bad_answer_counted_and_treated_as_deallocate(void **state)
{
	static const int bad[] = { 0, 4, 99, -1 };
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *holder = inline_adapter(pool);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct probe p, next;

		probe_init(&p, "bad answer", (mapreg_action)bad[i]);
		probe_init(&next, "next", MAPREG_DEALLOCATE_OBJECT);
		hold(holder, 4);
		request(a, 2, &p);
		request(a, 2, &next);		/* gets the channel back */
		mapreg_pool_stats want = stats_of(pool);
		release_hold(holder);
		assert_ran_once(&p);
		assert_ran_once(&next);
		want.grants += 2;
		want.caller_errors += 1;
		want.waiting_channel -= 1;
		want.waiting_registers -= 1;
		want.free += 4;
		want.held -= 4;
		mapreg_pool_stats got = stats_of(pool);
		assert_stats_equal(&want, &got);
		assert_status(mapreg_free_channel(a), MAPREG_INVALID_PARAMETER);
	}
}

static const struct CMUnitTest tests[] = {
	TEST(c15_each_routine_runs_exactly_once),
	TEST(c15_routine_runs_without_library_lock),
	TEST(c16_free_channel_grant_runs_on_freeing_thread),
	TEST(c16_free_map_registers_grant_runs_on_freeing_thread),
	TEST(c16_free_adapter_object_grant_runs_on_freeing_thread),
	TEST(c16_cancel_grant_runs_on_cancelling_thread),
	TEST(c16_grow_grant_runs_on_growing_thread),
	TEST(c16_grant_made_by_routine_answer_runs_on_same_thread),
	TEST(c16_poll_grant_runs_only_in_mapreg_poll_on_polling_thread),
	TEST(c16_poll_runs_at_most_max_and_returns_count),
	TEST(c16_poll_returns_0_for_null_inline_or_from_own_routine),
	TEST(c17_100000_grants_on_one_adapter_run_on_64k_stack),
	TEST(c17_100000_grants_across_adapters_each_freeing_run_on_64k_stack),
	TEST(c18_routine_frees_and_reallocates_on_other_adapters),
	TEST(c18_routine_cancels_requests_on_same_and_other_adapter),
	TEST(c18_routine_polls_another_adapter),
	TEST(c19_keep_object_holds_channel_and_registers_until_free_channel),
	TEST(c19_deallocate_object_frees_channel_and_registers),
	TEST(c19_deallocate_keep_registers_frees_channel_only),
	TEST(c19_bad_answer_counted_and_treated_as_deallocate),
};

HARNESS_MAIN("routines", tests)
