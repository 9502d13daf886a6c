/* SPDX-License-Identifier: MIT */
/*
 * Running out of memory (C1, C2, C6, C25): each call that allocates is
 * repeated with its 1st, 2nd, ... allocation failing, until it succeeds
 * without a failure.  Every failure must return MAPREG_NO_MEMORY, leave the
 * caller's objects as they were and leak nothing.
 *
 * This program links the static library, built from the same sources, with
 * `-Wl,--wrap=` for the allocator (tests/meson.build): every allocation made
 * by the library's objects (and the harness's) goes through the wrappers
 * below, which fail on demand and count live blocks.
 */
#include "harness.h"

#include <errno.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
void __real_free(void *ptr);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void __wrap_free(void *ptr);
void *__wrap_aligned_alloc(size_t alignment, size_t size);
int __wrap_posix_memalign(void **out, size_t alignment, size_t size);

/* Allocations left before the failing one; negative: none fails. */
static atomic_long countdown = -1;
static atomic_bool failed_one;
/* Blocks allocated through the wrappers and not yet freed. */
static atomic_long live;

static bool allocation_fails(void)
{
	long left = atomic_load(&countdown);

	while (left >= 0 && !atomic_compare_exchange_weak(&countdown, &left, left - 1))
		;
	if (left != 0)
		return false;
	atomic_store(&failed_one, true);
	return true;
}

static void *counted(void *p)
{
	if (p != NULL)
		atomic_fetch_add(&live, 1);
	return p;
}

void *__wrap_malloc(size_t size)
{
	return allocation_fails() ? NULL : counted(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return allocation_fails() ? NULL : counted(__real_calloc(n, size));
}

void *__wrap_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return __wrap_malloc(size);
	if (allocation_fails())
		return NULL;
	void *p = __real_realloc(ptr, size);
	if (p == NULL && size == 0)
		atomic_fetch_sub(&live, 1);		/* glibc freed it */
	return p;
}

void __wrap_free(void *ptr)
{
	if (ptr != NULL)
		atomic_fetch_sub(&live, 1);
	__real_free(ptr);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
	return allocation_fails() ? NULL : counted(__real_aligned_alloc(alignment, size));
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
	if (allocation_fails())
		return ENOMEM;
	int rc = __real_posix_memalign(out, alignment, size);
	if (rc == 0)
		counted(*out);
	return rc;
}

/* Arms the wrappers so that allocation number `k` (from 0) fails. */
static void fail_allocation(long k)
{
	atomic_store(&failed_one, false);
	atomic_store(&countdown, k);
}

/* Disarms them; true if an allocation failed since fail_allocation(). */
static bool allocations_restored(void)
{
	atomic_store(&countdown, -1);
	return atomic_load(&failed_one);
}

/* Enough for any sane implementation; a loop that reaches it is a bug. */
#define MAX_ALLOCATIONS_PER_CALL 64

/* One call under test, and what must hold after it failed or succeeded. */
struct oom_case {
	mapreg_pool *pool;		/* its stats must not change on failure */
	bool allocates;			/* the call surely allocates (any backend) */
	bool serves_older;		/* success frees requests queued before it */
	mapreg_status (*call)(struct oom_case *c);
	void (*after_failure)(struct oom_case *c);	/* extra checks */
	void (*after_success)(struct oom_case *c);	/* checks, then undo */
	/* for the calls */
	mapreg_adapter *adapter;
	mapreg_dispatch dispatch;
	mapreg_pool *created_pool;
	mapreg_adapter *created_adapter;
	uint32_t limit;
	atomic_uint runs;
	mapreg_transfer xfer;
};

/*
 * Live blocks once every free the library deferred (RCU) has run: the
 * header's mapreg_barrier() exists for tests that count memory.
 */
static long settled_live(void)
{
	mapreg_barrier();
	return atomic_load(&live);
}

/*
 * Runs c->call with its allocation 0, 1, 2, ... failing, until it succeeds
 * with none failing.  A failure must be MAPREG_NO_MEMORY, change nothing in
 * the pool's stats and leak nothing; a success must leak nothing once
 * after_success has undone it.
 */
static void run_oom_case(struct oom_case *c)
{
	static const mapreg_pool_stats none;

	for (long k = 0;; k++) {
		assert_true(k < MAX_ALLOCATIONS_PER_CALL);
		mapreg_pool_stats before = c->pool ? stats_of(c->pool) : none;
		long live_before = settled_live();
		fail_allocation(k);
		mapreg_status status = c->call(c);
		bool failed = allocations_restored();
		if (k == 0 && c->allocates)
			assert_true(failed);		/* the wrappers are in effect */
		if (status == MAPREG_OK) {
			c->after_success(c);
			if (!c->serves_older)
				assert_int_equal(settled_live(), live_before);
			if (!failed)
				return;
			continue;
		}
		assert_true(failed);
		assert_status(status, MAPREG_NO_MEMORY);
		mapreg_pool_stats after = c->pool ? stats_of(c->pool) : none;
		assert_stats_equal(&before, &after);
		if (c->after_failure != NULL)
			c->after_failure(c);
		assert_int_equal(settled_live(), live_before);
	}
}

/* C1. */

static mapreg_status pool_create_1000(struct oom_case *c)
{
	mapreg_pool_config cfg = { .registers = 1000, .backend = test_backend };

	c->created_pool = UNTOUCHED_POOL;
	return mapreg_pool_create(&cfg, &c->created_pool);
}

static void pool_left_untouched(struct oom_case *c)
{
	assert_ptr_equal(c->created_pool, UNTOUCHED_POOL);
}

static void destroy_created_pool(struct oom_case *c)
{
	assert_int_equal(stats_of(c->created_pool).registers, 1000);
	assert_ok(mapreg_pool_destroy(c->created_pool));
}

static void c01_pool_create_out_of_memory_leaks_nothing(void **state)
{
	struct oom_case c = {
		.allocates = true,
		.call = pool_create_1000,
		.after_failure = pool_left_untouched,
		.after_success = destroy_created_pool,
	};

	run_oom_case(&c);
}

/* C2. */

static mapreg_status adapter_create(struct oom_case *c)
{
	mapreg_adapter_config cfg = { .dispatch = c->dispatch };

	c->created_adapter = UNTOUCHED_ADAPTER;
	c->limit = 777;
	return mapreg_adapter_create(c->pool, &cfg, &c->created_adapter, &c->limit);
}

static void adapter_left_untouched(struct oom_case *c)
{
	assert_ptr_equal(c->created_adapter, UNTOUCHED_ADAPTER);
	assert_int_equal(c->limit, 777);
}

static void destroy_created_adapter(struct oom_case *c)
{
	assert_int_equal(c->limit, 16);
	assert_ok(mapreg_adapter_destroy(c->created_adapter));
}

static void c02_adapter_create_out_of_memory_leaks_nothing(void **state)
{
	static const mapreg_dispatch dispatches[] = { MAPREG_DISPATCH_INLINE,
						      MAPREG_DISPATCH_POLL };

	for (size_t i = 0; i < ARRAY_SIZE(dispatches); i++) {
		struct oom_case c = {
			.pool = pool_new(16),
			.call = adapter_create,
			.after_failure = adapter_left_untouched,
			.after_success = destroy_created_adapter,
			.dispatch = dispatches[i],
		};
		run_oom_case(&c);
	}
}

/*
 * C6 and the header's choice: MAPREG_NO_MEMORY if the request cannot be
 * queued; then nothing is queued and the routine never runs.  Tried with the
 * channel free (granted at once) and held (the request would queue).
 */

/* A routine that allocates nothing (the harness's routine log would). */
static mapreg_action count_run(void *device, mapreg_transfer *xfer, mapreg_base base,
			       void *context)
{
	struct oom_case *c = context;

	atomic_fetch_add(&c->runs, 1);
	return MAPREG_DEALLOCATE_OBJECT;
}

static mapreg_status allocate_one(struct oom_case *c)
{
	atomic_store(&c->runs, 0);
	return mapreg_allocate_channel(c->adapter, NULL, 1, count_run, c);
}

static void routine_not_run(struct oom_case *c)
{
	assert_int_equal(atomic_load(&c->runs), 0);
}

static void routine_ran(struct oom_case *c)
{
	assert_int_equal(atomic_load(&c->runs), 1);
}

/* The request queued behind a hold of the channel: end the hold, hold again. */
static void queued_routine_runs_after_release(struct oom_case *c)
{
	assert_waiting(c->pool, 1, 0);
	routine_not_run(c);
	release_hold(c->adapter);
	routine_ran(c);
	hold(c->adapter, 0);
}

static void c06_allocate_out_of_memory_queues_nothing(void **state)
{
	struct oom_case c = {
		.pool = pool_new(4),
		.call = allocate_one,
		.after_failure = routine_not_run,
		.after_success = routine_ran,
	};

	c.adapter = inline_adapter(c.pool);
	run_oom_case(&c);
	hold(c.adapter, 0);
	c.after_success = queued_routine_runs_after_release;
	run_oom_case(&c);
	release_hold(c.adapter);
}

/* C25 and the header's choice: MAPREG_NO_MEMORY leaves the pool as it was. */
static mapreg_status grow_to_4096(struct oom_case *c)
{
	return mapreg_pool_grow(c->pool, 4096);
}

static void grown_and_waiter_served(struct oom_case *c)
{
	assert_int_equal(stats_of(c->pool).registers, 4096);
	routine_ran(c);
}

static void c25_grow_out_of_memory_leaves_pool_as_it_was(void **state)
{
	struct oom_case c = {
		.pool = pool_new(4),
		.serves_older = true,
		.call = grow_to_4096,
		.after_failure = routine_not_run,
		.after_success = grown_and_waiter_served,
	};
	mapreg_adapter *holder = inline_adapter(c.pool);

	c.adapter = inline_adapter(c.pool);
	hold(holder, 4);
	/* Waits for registers; in caller memory, so that serving it frees nothing. */
	xfer_init_for(c.adapter, &c.xfer);
	assert_ok(mapreg_allocate_channel_ex(c.adapter, NULL, &c.xfer, 1, 0, count_run, &c,
					     NULL));
	run_oom_case(&c);
	release_hold(holder);
}

static const struct CMUnitTest tests[] = {
	TEST(c01_pool_create_out_of_memory_leaks_nothing),
	TEST(c02_adapter_create_out_of_memory_leaks_nothing),
	TEST(c06_allocate_out_of_memory_queues_nothing),
	TEST(c25_grow_out_of_memory_leaves_pool_as_it_was),
};

HARNESS_MAIN("no_memory", tests)
