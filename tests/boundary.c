/* SPDX-License-Identifier: MIT */
/*
 * C30, run boundaries: no run of registers a pool with a boundary grants
 * crosses a multiple of it; a request for more fails at once; an adapter's
 * limit is at most the boundary; a boundary is 0 or a power of two.
 */
#include "harness.h"

static void assert_within(mapreg_base base, uint32_t boundary)
{
	assert_true(base.count >= 1);
	assert_int_equal(base.first / boundary, (base.first + base.count - 1) / boundary);
}

static void c30_boundary_is_zero_or_a_power_of_two(void **state)
{
	static const uint32_t bad[] = { 3, 6, 12, MAPREG_MAX_REGISTERS * 2, 0x80000000u + 1 };
	mapreg_pool *pool = UNTOUCHED_POOL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		mapreg_pool_config cfg = { .registers = 64, .backend = test_backend,
					   .boundary = bad[i] };
		assert_status(mapreg_pool_create(&cfg, &pool), MAPREG_INVALID_PARAMETER);
		assert_ptr_equal(pool, UNTOUCHED_POOL);		/* C1: nothing changed */
	}
	pool_new_bounded(64, 1);
	pool_new_bounded(64, 64);
	pool_new_bounded(64, 1024);			/* larger than the pool: no effect */
}

/* C2, C5: the limit an adapter reports, and the one it enforces, is at most B. */
static void c30_adapter_limit_is_at_most_the_boundary(void **state)
{
	mapreg_pool *pool = pool_new_bounded(64, 8);
	mapreg_adapter *adapter;
	uint32_t limit;

	assert_ok(mapreg_adapter_create(pool, NULL, &adapter, &limit));
	assert_int_equal(limit, 8);
	assert_ok(adapter_destroy(adapter));
	assert_ok(mapreg_adapter_create(pool, &(mapreg_adapter_config){ .max_map_registers = 32 },
					&adapter, &limit));
	assert_int_equal(limit, 8);
	assert_ok(adapter_destroy(adapter));
	assert_ok(mapreg_adapter_create(pool, &(mapreg_adapter_config){ .max_map_registers = 4 },
					&adapter, &limit));
	assert_int_equal(limit, 4);
	assert_ok(adapter_destroy(adapter));
}

static void c30_request_longer_than_the_boundary_fails_at_once(void **state)
{
	mapreg_pool *pool = pool_new_bounded(64, 8);
	mapreg_adapter *adapter = inline_adapter(pool);
	struct probe p;

	probe_init(&p, "too long", MAPREG_DEALLOCATE_OBJECT);
	assert_status(mapreg_allocate_channel(adapter, &p, 9, probe_routine, &p),
		      MAPREG_INSUFFICIENT_RESOURCES);
	assert_status(try_sync(adapter, 9, &p), MAPREG_INSUFFICIENT_RESOURCES);
	assert_not_run(&p);
	request(adapter, 8, &p);				/* exactly B fits */
	assert_ran_once(&p);
	assert_quiescent(pool);
}

/* First fit skips a stretch that would cross: 0..2, 3..5, then 8..10. */
static void c30_first_fit_skips_a_run_that_would_cross(void **state)
{
	mapreg_pool *pool = pool_new_bounded(32, 8);
	mapreg_adapter *a = inline_adapter(pool), *b = inline_adapter(pool);
	mapreg_adapter *c = inline_adapter(pool);

	mapreg_base first = keep_run(a, 3), second = keep_run(b, 3), third = keep_run(c, 3);

	assert_within(first, 8);
	assert_within(second, 8);
	assert_within(third, 8);
	assert_int_equal(third.first % 8, 0);		/* 6 and 7 are left over */
	assert_ok(mapreg_free_map_registers(a, first, 3));
	assert_ok(mapreg_free_map_registers(b, second, 3));
	assert_ok(mapreg_free_map_registers(c, third, 3));
}

/*
 * Hold runs of random lengths 1..longest until the pool is full, free them
 * in a random order, many times: magazines (the lock-free backend) hand
 * back runs of the same length, which must still be inside one window, and
 * the lock-free search carries runs across bitmap words, which must stop at
 * a boundary of 64 or more.
 */
static void no_run_crosses_however_recycled(uint32_t registers, uint32_t boundary,
					    uint32_t longest)
{
	enum { ROUNDS = 200, MAX = 512 };
	mapreg_pool *pool = pool_new_bounded(registers, boundary);
	mapreg_adapter *adapter = inline_adapter(pool);
	mapreg_base held[MAX];
	uint64_t rng = 0x9e3779b97f4a7c15u;

	for (int round = 0; round < ROUNDS; round++) {
		size_t n = 0;
		for (;;) {
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			uint32_t count = 1 + (uint32_t)(rng >> 33) % longest;
			mapreg_transfer xfer;
			mapreg_base base;

			xfer_init_for(adapter, &xfer);
			mapreg_status s = mapreg_allocate_channel_ex(adapter, NULL, &xfer, count,
								     MAPREG_SYNCHRONOUS_CALLBACK,
								     NULL, NULL, &base);
			if (s == MAPREG_INSUFFICIENT_RESOURCES || n == MAX)
				break;
			assert_ok(s);
			if (boundary != 0)
				assert_within(base, boundary);
			assert_true(base.first + base.count <= registers);
			assert_ok(mapreg_free_adapter_object(adapter,
							     MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS));
			held[n++] = base;
		}
		while (n > 0) {
			rng = rng * 6364136223846793005u + 1442695040888963407u;
			size_t i = (size_t)(rng >> 33) % n;
			assert_ok(mapreg_free_map_registers(adapter, held[i], held[i].count));
			held[i] = held[--n];
		}
	}
	assert_quiescent(pool);
}

static void c30_no_run_crosses_however_runs_are_recycled(void **state)
{
	no_run_crosses_however_recycled(64, 8, 8);		/* windows inside a word */
	no_run_crosses_however_recycled(1000, 128, 128);	/* windows of two words */
	no_run_crosses_however_recycled(1000, 64, 64);		/* a window per word */
}

/* No boundary: runs up to 200 long, carried across words, inside the pool. */
static void c30_runs_without_boundary_span_words(void **state)
{
	no_run_crosses_however_recycled(1000, 0, 200);
}

static const struct CMUnitTest tests[] = {
	TEST(c30_boundary_is_zero_or_a_power_of_two),
	TEST(c30_adapter_limit_is_at_most_the_boundary),
	TEST(c30_request_longer_than_the_boundary_fails_at_once),
	TEST(c30_first_fit_skips_a_run_that_would_cross),
	TEST(c30_no_run_crosses_however_runs_are_recycled),
	TEST(c30_runs_without_boundary_span_words),
};

HARNESS_MAIN("boundary", tests)
