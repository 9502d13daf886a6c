/* SPDX-License-Identifier: MIT */
/* C25-C27, C29: growing, the page-count helper, counters and eventfds. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

/* C25. */

static void c25_grow_serves_waiters_on_growing_thread_before_return(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	struct probe four, two;

	probe_init(&four, "four", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&two, "two", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	hold(holder, 4);
	request(a, 4, &four);
	request(b, 2, &two);
	assert_ok(MARKED(mapreg_pool_grow(pool, 8)));
	assert_routine_log(2, &four, &two);	/* two fits only once four is done */
	assert_ran_inside_call(&four);
	assert_ran_inside_call(&two);
	mapreg_pool_stats s = stats_of(pool);
	assert_int_equal(s.registers, 8);
	assert_int_equal(s.held, 6);
	assert_ok(mapreg_free_map_registers(b, two.base, 2));
	release_hold(holder);
}

static void c25_grow_below_current_or_above_2_24_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);

	assert_caller_error(pool, mapreg_pool_grow(pool, 7));
	assert_caller_error(pool, mapreg_pool_grow(pool, 0));
	assert_caller_error(pool, mapreg_pool_grow(pool, MAPREG_MAX_REGISTERS + 1));
	assert_status(mapreg_pool_grow(NULL, 16), MAPREG_INVALID_PARAMETER);
	/* The header's choice: the current size is a no-op. */
	assert_changes_nothing(pool, assert_ok(mapreg_pool_grow(pool, 8)));
	assert_ok(mapreg_pool_grow(pool, 9));
	assert_caller_error(pool, mapreg_pool_grow(pool, 8));
}

/* Runs held across a grow stay held and freeable; new registers are usable. */
static void c25_grow_keeps_held_runs_and_limits_fixed_at_creation(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *old = inline_adapter(pool);
	mapreg_base kept = keep_run(old, 3);
	mapreg_adapter *held_open = inline_adapter(pool);
	hold(held_open, 1);				/* now all 4 are held */
	struct probe p;
	uint32_t limit = 0;
	mapreg_adapter *young;

	assert_ok(mapreg_pool_grow(pool, 16));
	assert_held(pool, 4);
	/* The header's choice: a limit of 0 ("the pool's size") was fixed at 4. */
	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	assert_status(try_sync(old, 5, &p), MAPREG_INSUFFICIENT_RESOURCES);
	assert_ok(mapreg_adapter_create(pool, NULL, &young, &limit));
	assert_int_equal(limit, 16);
	assert_ok(try_sync(young, 12, &p));
	assert_ran_once(&p);
	assert_int_equal(p.base.first, 4);			/* only the new ones */
	assert_ok(adapter_destroy(young));
	assert_ok(mapreg_free_map_registers(old, kept, 3));
	release_hold(held_open);
	assert_int_equal(stats_of(pool).registers, 16);
}

/* C26. */

static void c26_transfer_registers_counts_pages_touched(void **state)
{
	static const struct {
		uintptr_t address;
		size_t length;
		uint32_t page_size;
		uint32_t pages;
	} table[] = {
		{ 0, 0, 4096, 0 },				/* length 0 */
		{ 0x1234, 0, 4096, 0 },
		{ 0, 1, 4096, 1 },
		{ 0, 4096, 4096, 1 },				/* exactly one page */
		{ 0, 4097, 4096, 2 },
		{ 4095, 1, 4096, 1 },				/* last byte of a page */
		{ 4095, 2, 4096, 2 },				/* crosses a boundary */
		{ 4096, 4096, 4096, 1 },
		{ 100, 8192, 4096, 3 },
		{ 4095, 4098, 4096, 3 },
		{ 4096 * 7 + 17, 4096 * 3, 4096, 4 },
		{ 5, 10, 1, 10 },				/* 1-byte pages */
		{ 0, 1u << 31, 1u << 31, 1 },			/* the largest page */
		{ 1, 1u << 31, 1u << 31, 2 },
		{ UINTPTR_MAX, 1, 4096, 1 },			/* the last byte */
		{ UINTPTR_MAX - 4095, 4096, 4096, 1 },		/* the last page */
		{ UINTPTR_MAX - 4095, 4097, 4096, 2 },		/* wraps: as if continued */
		{ UINTPTR_MAX, 2, 4096, 2 },
		{ UINTPTR_MAX - 10, SIZE_MAX, 4096, UINT32_MAX },	/* saturates */
		{ 0, SIZE_MAX, 1, UINT32_MAX },
		{ 0, (size_t)4096 * 0xfffffffeu, 4096, 0xfffffffeu },
		{ 0, (size_t)4096 * 0xffffffffu, 4096, UINT32_MAX },
		{ 0, (size_t)4096 << 32, 4096, UINT32_MAX },
		{ 0, 100, 3, 0 },				/* not a power of two */
		{ 0, 100, 0, 0 },
		{ 0, 100, 4097, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		uint32_t got = mapreg_transfer_registers(table[i].address, table[i].length,
							 table[i].page_size);
		if (got != table[i].pages)
			print_error("row %zu: %#jx + %zu in pages of %u: %u, expected %u\n", i,
				    (uintmax_t)table[i].address, table[i].length,
				    table[i].page_size, got, table[i].pages);
		assert_int_equal(got, table[i].pages);
	}
}

/* C27. */

struct counting {
	mapreg_pool *pool;
	mapreg_pool_stats want;
};

static void check_counts(struct counting *c, const char *file, int line)
{
	mapreg_pool_stats got = stats_of(c->pool);

	check_stats_equal(&c->want, &got, file, line);
	if (mapreg_pool_backend(c->pool) == MAPREG_BACKEND_LOCKED)
		assert_int_equal(got.cached, 0);	/* the header: no caches */
}
#define assert_counts(c) check_counts(c, __FILE__, __LINE__)

static void c27_counters_exact_in_scripted_scenario(void **state)
{
	struct counting c = { .pool = pool_new(8) };
	mapreg_adapter *a = inline_adapter(c.pool);
	mapreg_adapter *b = inline_adapter(c.pool);
	mapreg_adapter *x = inline_adapter(c.pool);
	mapreg_transfer cancelled, idle;
	mapreg_pool_stats ignored;
	struct probe sync_try, big, bad, never;

	probe_init(&sync_try, "sync", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&big, "big", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	probe_init(&bad, "bad answer", (mapreg_action)0);
	probe_init(&never, "cancelled", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(x, &cancelled);
	xfer_init_for(x, &idle);
	c.want = (mapreg_pool_stats){ .registers = 8, .free = 8 };
	assert_counts(&c);

	hold(a, 3);
	c.want.grants = 1, c.want.held = 3, c.want.free = 5;
	assert_counts(&c);
	assert_status(try_sync(b, 6, &sync_try), MAPREG_INSUFFICIENT_RESOURCES);
	c.want.sync_failures = 1;
	assert_counts(&c);
	request(b, 6, &big);
	request(a, 0, &bad);
	request_ex(x, &cancelled, 1, &never);
	c.want.waiting_registers = 2, c.want.waiting_channel = 1;
	assert_counts(&c);
	assert_true(mapreg_cancel_channel(x, NULL, &cancelled));
	assert_false(mapreg_cancel_channel(x, NULL, &idle));	/* a mark: not counted */
	c.want.cancels = 1, c.want.waiting_registers = 1;
	assert_counts(&c);
	assert_status(mapreg_free_channel(a), MAPREG_INVALID_PARAMETER);
	assert_status(mapreg_pool_get_stats(c.pool, NULL), MAPREG_INVALID_PARAMETER);
	assert_status(mapreg_pool_get_stats(NULL, &ignored), MAPREG_INVALID_PARAMETER);
	c.want.caller_errors = 2;				/* the last names no pool */
	assert_counts(&c);

	release_hold(a);		/* big: 6 registers; bad: a's channel, 0 registers */
	assert_routine_log(2, &big, &bad);
	c.want.grants = 3, c.want.waiting_registers = 0, c.want.waiting_channel = 0;
	c.want.held = 6, c.want.free = 2, c.want.caller_errors = 3;
	assert_counts(&c);
	assert_ok(mapreg_free_map_registers(b, big.base, 6));
	c.want.held = 0, c.want.free = 8;
	assert_counts(&c);
}

/* C29. */

static void c29_inline_adapter_has_no_eventfd(void **state)
{
	mapreg_pool *pool = pool_new(4);

	assert_int_equal(mapreg_adapter_eventfd(inline_adapter(pool)), -1);
	assert_int_equal(mapreg_adapter_eventfd(NULL), -1);
}

static void c29_eventfd_readable_while_poll_routines_pending(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	int fd = mapreg_adapter_eventfd(p);
	struct probe now, first, second;

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);		/* the header says so */
	assert_int_not_equal(fd, mapreg_adapter_eventfd(poll_adapter(pool)));
	assert_false(fd_readable(fd));
	probe_init(&now, "granted at submission", MAPREG_DEALLOCATE_OBJECT);
	request(p, 1, &now);					/* ran on this thread */
	assert_false(fd_readable(fd));

	probe_init(&first, "first", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&second, "second", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 4);
	request(p, 1, &first);
	request(p, 1, &second);
	assert_false(fd_readable(fd));				/* waiting is not pending */
	release_hold(holder);
	assert_true(fd_readable(fd));
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_true(fd_readable(fd));				/* second became pending */
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_false(fd_readable(fd));				/* drained once empty */
	assert_int_equal(mapreg_poll(p, 1), 0);
	assert_routine_log(3, &now, &first, &second);
}

static void c29_eventfd_closed_by_destroy_not_by_busy_destroy(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	int fd = mapreg_adapter_eventfd(p);
	struct probe pending;

	probe_init(&pending, "pending", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 4);
	request(p, 1, &pending);
	release_hold(holder);
	assert_status(adapter_destroy(p), MAPREG_BUSY);
	assert_true(fd_readable(fd));				/* still open and signalled */
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_ok(adapter_destroy(p));
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

/*
 * The library is no cancellation point: a thread with a cancellation
 * pending goes through a free that signals a poll adapter's eventfd and a
 * poll that drains it, and is cancelled only where it asks, after.  (With
 * glibc's read(2) and write(2) it was cancelled inside the free, the locked
 * backend's mutex held.)
 */
struct cancel_pending {
	mapreg_adapter *holder, *polled;
	mapreg_status freed;
	size_t ran;
	bool through;
};

static void *free_and_poll_with_cancel_pending(void *arg)
{
	struct cancel_pending *c = arg;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
	pthread_cancel(pthread_self());				/* pending */
	c->freed = mapreg_free_adapter_object(c->holder, MAPREG_DEALLOCATE_OBJECT);
	c->ran = mapreg_poll(c->polled, 1);
	c->through = true;
	pthread_testcancel();					/* acted on here */
	return NULL;
}

static void c29_eventfd_signal_and_drain_are_no_cancellation_points(void **state)
{
	mapreg_pool *pool = pool_new(4);
	struct cancel_pending c = { inline_adapter(pool), poll_adapter(pool), MAPREG_OK, 0, false };
	int fd = mapreg_adapter_eventfd(c.polled);
	struct probe waiting;
	pthread_t t;
	void *result;

	probe_init(&waiting, "waiting", MAPREG_DEALLOCATE_OBJECT);
	hold(c.holder, 4);
	request(c.polled, 1, &waiting);
	assert_int_equal(pthread_create(&t, NULL, free_and_poll_with_cancel_pending, &c), 0);
	assert_int_equal(pthread_join(t, &result), 0);
	assert_true(result == PTHREAD_CANCELED);
	assert_true(c.through);
	assert_ok(c.freed);
	assert_int_equal(c.ran, 1);
	assert_routine_log(1, &waiting);
	assert_false(fd_readable(fd));
}

static const struct CMUnitTest tests[] = {
	TEST(c25_grow_serves_waiters_on_growing_thread_before_return),
	TEST(c25_grow_below_current_or_above_2_24_rejected),
	TEST(c25_grow_keeps_held_runs_and_limits_fixed_at_creation),
	TEST(c26_transfer_registers_counts_pages_touched),
	TEST(c27_counters_exact_in_scripted_scenario),
	TEST(c29_inline_adapter_has_no_eventfd),
	TEST(c29_eventfd_readable_while_poll_routines_pending),
	TEST(c29_eventfd_closed_by_destroy_not_by_busy_destroy),
	TEST(c29_eventfd_signal_and_drain_are_no_cancellation_points),
};

HARNESS_MAIN("pool", tests)
