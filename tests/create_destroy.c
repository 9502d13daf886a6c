/* SPDX-License-Identifier: MIT */
/* C1-C3: creating and destroying pools and adapters. */
#include "harness.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* C1: a rejected config returns INVALID_PARAMETER and leaves *out alone. */
static void assert_config_rejected(uint32_t registers, uint32_t page_size,
				   mapreg_backend backend)
{
	mapreg_pool_config cfg = { registers, page_size, backend, 0 };
	mapreg_pool *pool = UNTOUCHED_POOL;

	assert_status(mapreg_pool_create(&cfg, &pool), MAPREG_INVALID_PARAMETER);
	assert_ptr_equal(pool, UNTOUCHED_POOL);
}

static void assert_config_accepted(uint32_t registers, uint32_t page_size)
{
	mapreg_pool_config cfg = { registers, page_size, test_backend, 0 };
	mapreg_pool *pool = NULL;

	assert_ok(mapreg_pool_create(&cfg, &pool));
	assert_int_equal(stats_of(pool).registers, registers);
	assert_int_equal(stats_of(pool).free + stats_of(pool).cached, registers);
	assert_ok(mapreg_pool_destroy(pool));
}

static void c01_create_rejects_null_cfg_or_out(void **state)
{
	mapreg_pool_config cfg = { .registers = 8, .backend = test_backend };
	mapreg_pool *pool = UNTOUCHED_POOL;

	assert_status(mapreg_pool_create(NULL, &pool), MAPREG_INVALID_PARAMETER);
	assert_ptr_equal(pool, UNTOUCHED_POOL);
	assert_status(mapreg_pool_create(&cfg, NULL), MAPREG_INVALID_PARAMETER);
}

static void c01_create_rejects_registers_outside_1_to_2_24(void **state)
{
	assert_config_rejected(0, 0, test_backend);
	assert_config_rejected(MAPREG_MAX_REGISTERS + 1, 0, test_backend);
	assert_config_rejected(UINT32_MAX, 0, test_backend);
}

static void c01_create_accepts_1_and_2_24_registers(void **state)
{
	assert_config_accepted(1, 0);
	assert_config_accepted(MAPREG_MAX_REGISTERS, 0);
}

static void c01_create_rejects_page_size_not_power_of_two(void **state)
{
	static const uint32_t bad[] = { 3, 6, 4095, 4097, 0x80000001u, UINT32_MAX };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_config_rejected(8, bad[i], test_backend);
}

static void c01_create_accepts_powers_of_two_and_default_page_size(void **state)
{
	static const uint32_t good[] = { 0, 1, 512, 4096, 65536, 1u << 31 };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_config_accepted(8, good[i]);
}

/* The header's choice: an unknown backend is a bad parameter. */
static void c01_create_rejects_unknown_backend(void **state)
{
	assert_config_rejected(8, 0, (mapreg_backend)77);
	assert_config_rejected(8, 0, (mapreg_backend)-1);
}

/* C2. */

static void c02_adapter_create_rejects_null_pool_or_out(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *adapter = UNTOUCHED_ADAPTER;

	assert_status(mapreg_adapter_create(NULL, NULL, &adapter, NULL),
		      MAPREG_INVALID_PARAMETER);
	assert_ptr_equal(adapter, UNTOUCHED_ADAPTER);
	assert_caller_error(pool, mapreg_adapter_create(pool, NULL, NULL, NULL));
}

static void assert_adapter_config_rejected(mapreg_pool *pool, uint32_t max,
					   mapreg_dispatch dispatch)
{
	mapreg_adapter_config cfg = { max, dispatch };
	mapreg_adapter *adapter = UNTOUCHED_ADAPTER;
	uint32_t limit = 12345;

	assert_caller_error(pool, mapreg_adapter_create(pool, &cfg, &adapter, &limit));
	assert_ptr_equal(adapter, UNTOUCHED_ADAPTER);
	assert_int_equal(limit, 12345);
}

static void c02_adapter_create_rejects_limit_above_pool(void **state)
{
	mapreg_pool *pool = pool_new(8);

	assert_adapter_config_rejected(pool, 9, MAPREG_DISPATCH_INLINE);
	assert_adapter_config_rejected(pool, UINT32_MAX, MAPREG_DISPATCH_POLL);
	adapter_new(pool, MAPREG_DISPATCH_INLINE, 8);
}

static void c02_adapter_create_rejects_unknown_dispatch(void **state)
{
	mapreg_pool *pool = pool_new(8);

	assert_adapter_config_rejected(pool, 0, (mapreg_dispatch)2);
	assert_adapter_config_rejected(pool, 4, (mapreg_dispatch)-1);
}

static void adapter_with_limit(mapreg_pool *pool, const mapreg_adapter_config *cfg,
			       uint32_t *limit)
{
	mapreg_adapter *adapter = NULL;

	assert_ok(mapreg_adapter_create(pool, cfg, &adapter, limit));
	assert_ok(adapter_destroy(adapter));
}

static void c02_adapter_create_reports_effective_limit(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter_config pool_size = { 0, MAPREG_DISPATCH_INLINE };
	mapreg_adapter_config three = { 3, MAPREG_DISPATCH_POLL };
	uint32_t limit = 0;

	adapter_with_limit(pool, &pool_size, &limit);
	assert_int_equal(limit, 8);
	adapter_with_limit(pool, &three, &limit);
	assert_int_equal(limit, 3);
	adapter_with_limit(pool, NULL, &limit);			/* NULL cfg: defaults */
	assert_int_equal(limit, 8);
	adapter_with_limit(pool, &three, NULL);			/* the pointer is optional */
}

/* The effective limit is enforced: C5 at limit + 1, granted at the limit. */
static void c02_adapter_limit_is_enforced(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *adapter = adapter_new(pool, MAPREG_DISPATCH_INLINE, 3);
	struct probe p;

	probe_init(&p, "p", MAPREG_DEALLOCATE_OBJECT);
	assert_status(try_sync(adapter, 4, &p), MAPREG_INSUFFICIENT_RESOURCES);
	assert_ok(try_sync(adapter, 3, &p));
	assert_ran_once(&p);
}

/* The header's choice: a poll adapter without an eventfd is MAPREG_NO_MEMORY. */
static void c02_poll_adapter_without_eventfd_is_no_memory(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter_config cfg = { 0, MAPREG_DISPATCH_POLL };
	mapreg_adapter *adapter = UNTOUCHED_ADAPTER;
	struct rlimit saved, tight;

	/* The lowest free descriptor becomes the limit: no new one can be had. */
	int lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	tight = saved;
	tight.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
	mapreg_pool_stats before = stats_of(pool);
	mapreg_status status = mapreg_adapter_create(pool, &cfg, &adapter, NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

	assert_status(status, MAPREG_NO_MEMORY);
	assert_ptr_equal(adapter, UNTOUCHED_ADAPTER);
	mapreg_pool_stats after = stats_of(pool);
	assert_stats_equal(&before, &after);
	/* The pool counts no adapter: it can go (the harness destroys it). */
}

/* C3: `adapter` cannot be destroyed now, and trying changes nothing. */
#define assert_adapter_busy(pool, adapter) \
	assert_changes_nothing(pool, assert_status(adapter_destroy(adapter), MAPREG_BUSY))

static void c03_adapter_destroy_busy_while_channel_held_by_sync_hold(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);

	hold(a, 2);
	assert_adapter_busy(pool, a);
	release_hold(a);
	assert_ok(adapter_destroy(a));
}

static void c03_adapter_destroy_busy_while_channel_kept_by_routine(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	probe_init(&p, "keeper", MAPREG_KEEP_OBJECT);
	request(a, 0, &p);		/* the channel alone is enough to be busy */
	assert_adapter_busy(pool, a);
	assert_ok(mapreg_free_channel(a));
	assert_ok(adapter_destroy(a));
}

static void c03_adapter_destroy_busy_while_request_queued(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_transfer first, second;
	struct probe p1, p2;

	probe_init(&p1, "first", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&p2, "second", MAPREG_DEALLOCATE_OBJECT);
	xfer_init_for(a, &first);
	xfer_init_for(a, &second);
	hold(holder, 4);
	request_ex(a, &first, 1, &p1);		/* waits for registers */
	assert_adapter_busy(pool, a);
	request_ex(a, &second, 1, &p2);		/* waits for the channel */
	assert_waiting(pool, 1, 1);
	assert_adapter_busy(pool, a);
	assert_true(mapreg_cancel_channel(a, NULL, &first));
	assert_adapter_busy(pool, a);		/* second now waits for registers */
	assert_true(mapreg_cancel_channel(a, NULL, &second));
	assert_ok(adapter_destroy(a));
	release_hold(holder);
	assert_no_routine_ran();
}

static void c03_adapter_destroy_busy_while_granted_not_run(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *p = poll_adapter(pool);
	struct probe pending;

	probe_init(&pending, "pending", MAPREG_DEALLOCATE_OBJECT);
	hold(holder, 4);
	request(p, 2, &pending);
	release_hold(holder);			/* granted, waiting for mapreg_poll */
	assert_not_run(&pending);
	assert_adapter_busy(pool, p);
	assert_int_equal(mapreg_poll(p, 1), 1);
	assert_ran_once(&pending);
	assert_ok(adapter_destroy(p));
}

static void c03_adapter_destroy_busy_while_kept_registers_not_freed(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	struct probe p;

	mapreg_base by_free_adapter_object = keep_run(a, 2);
	probe_init(&p, "keeps registers", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	request(b, 3, &p);
	assert_adapter_busy(pool, a);
	assert_adapter_busy(pool, b);
	assert_ok(mapreg_free_map_registers(a, by_free_adapter_object, 2));
	assert_ok(mapreg_free_map_registers(b, p.base, 3));
	assert_ok(adapter_destroy(a));
	assert_ok(adapter_destroy(b));
}

static void destroy_own_adapter(struct probe *p)
{
	p->status = mapreg_adapter_destroy(p->arg);
}

static void c03_adapter_destroy_busy_inside_own_routine(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe p;

	probe_init(&p, "self-destroyer", MAPREG_DEALLOCATE_OBJECT);
	p.then = destroy_own_adapter;
	p.arg = a;
	request(a, 1, &p);
	assert_ran_once(&p);
	assert_status(p.status, MAPREG_BUSY);
	assert_ok(adapter_destroy(a));
}

static void c03_pool_destroy_busy_while_adapters_exist(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = poll_adapter(pool);

	assert_changes_nothing(pool, assert_status(pool_destroy(pool), MAPREG_BUSY));
	assert_ok(adapter_destroy(a));
	assert_changes_nothing(pool, assert_status(pool_destroy(pool), MAPREG_BUSY));
	assert_ok(adapter_destroy(b));
	assert_ok(pool_destroy(pool));
}

static void c03_destroy_rejects_null(void **state)
{
	assert_status(mapreg_adapter_destroy(NULL), MAPREG_INVALID_PARAMETER);
	assert_status(mapreg_pool_destroy(NULL), MAPREG_INVALID_PARAMETER);
}

static const struct CMUnitTest tests[] = {
	TEST(c01_create_rejects_null_cfg_or_out),
	TEST(c01_create_rejects_registers_outside_1_to_2_24),
	TEST(c01_create_accepts_1_and_2_24_registers),
	TEST(c01_create_rejects_page_size_not_power_of_two),
	TEST(c01_create_accepts_powers_of_two_and_default_page_size),
	TEST(c01_create_rejects_unknown_backend),
	TEST(c02_adapter_create_rejects_null_pool_or_out),
	TEST(c02_adapter_create_rejects_limit_above_pool),
	TEST(c02_adapter_create_rejects_unknown_dispatch),
	TEST(c02_adapter_create_reports_effective_limit),
	TEST(c02_adapter_limit_is_enforced),
	TEST(c02_poll_adapter_without_eventfd_is_no_memory),
	TEST(c03_adapter_destroy_busy_while_channel_held_by_sync_hold),
	TEST(c03_adapter_destroy_busy_while_channel_kept_by_routine),
	TEST(c03_adapter_destroy_busy_while_request_queued),
	TEST(c03_adapter_destroy_busy_while_granted_not_run),
	TEST(c03_adapter_destroy_busy_while_kept_registers_not_freed),
	TEST(c03_adapter_destroy_busy_inside_own_routine),
	TEST(c03_pool_destroy_busy_while_adapters_exist),
	TEST(c03_destroy_rejects_null),
};

HARNESS_MAIN("create_destroy", tests)
