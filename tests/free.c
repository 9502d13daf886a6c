/* SPDX-License-Identifier: MIT */
/* C22-C24: freeing channels, runs and synchronous holds. */
#include "harness.h"

/* C22. */

static void c22_free_channel_frees_channel_and_registers_of_keep_object(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	struct probe keeper, on_a, on_b;

	probe_init(&keeper, "keeper", MAPREG_KEEP_OBJECT);
	probe_init(&on_a, "channel waiter", MAPREG_DEALLOCATE_OBJECT);
	probe_init(&on_b, "register waiter", MAPREG_DEALLOCATE_OBJECT);
	request(a, 4, &keeper);
	request(a, 0, &on_a);
	request(b, 4, &on_b);
	assert_waiting(pool, 1, 1);
	mapreg_pool_stats want = stats_of(pool);
	assert_ok(MARKED(mapreg_free_channel(a)));
	assert_ran_inside_call(&on_a);
	assert_ran_inside_call(&on_b);
	want.grants += 2;
	want.waiting_channel--;
	want.waiting_registers--;
	want.free += 4;
	want.held -= 4;
	mapreg_pool_stats got = stats_of(pool);
	assert_stats_equal(&want, &got);
}

static void check_free_channel_rejected(mapreg_pool *pool, mapreg_adapter *a)
{
	assert_caller_error(pool, mapreg_free_channel(a));
}

static void free_channel_of_own_adapter(struct probe *p)
{
	p->status = mapreg_free_channel(p->arg);
}

static void c22_free_channel_without_keep_object_holder_rejected(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe keeps_registers, waiting, running;

	check_free_channel_rejected(pool, a);			/* idle */
	hold(a, 1);
	check_free_channel_rejected(pool, a);			/* a synchronous hold */
	release_hold(a);

	probe_init(&keeps_registers, "keeps registers", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	request(a, 1, &keeps_registers);
	check_free_channel_rejected(pool, a);			/* only the run is kept */

	hold(holder, 3);
	probe_init(&waiting, "waiting", MAPREG_DEALLOCATE_OBJECT);
	request(a, 1, &waiting);
	check_free_channel_rejected(pool, a);			/* held by a waiter */
	assert_ok(mapreg_free_map_registers(a, keeps_registers.base, 1));
	assert_ran_once(&waiting);
	release_hold(holder);

	probe_init(&running, "running", MAPREG_KEEP_OBJECT);
	running.then = free_channel_of_own_adapter;
	running.arg = a;
	request(a, 1, &running);
	assert_status(running.status, MAPREG_INVALID_PARAMETER);	/* not answered yet */
	assert_ok(mapreg_free_channel(a));
	check_free_channel_rejected(pool, a);			/* twice */
	assert_status(mapreg_free_channel(NULL), MAPREG_INVALID_PARAMETER);
}

/* C23. */

struct two_runs {
	mapreg_pool *pool;
	mapreg_adapter *a, *b;
	mapreg_base on_a, on_b;
	struct probe keeper;
};

/* a keeps 3 registers through a routine's answer, b 2 through a C8 hold. */
static void two_runs_init(struct two_runs *t)
{
	t->pool = pool_new(8);
	t->a = inline_adapter(t->pool);
	t->b = inline_adapter(t->pool);
	probe_init(&t->keeper, "keeps registers", MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
	request(t->a, 3, &t->keeper);
	t->on_a = t->keeper.base;
	t->on_b = keep_run(t->b, 2);
	assert_held(t->pool, 5);
}

static void two_runs_free(struct two_runs *t)
{
	assert_ok(mapreg_free_map_registers(t->a, t->on_a, 3));
	assert_ok(mapreg_free_map_registers(t->b, t->on_b, 2));
	assert_held(t->pool, 0);
}

static mapreg_base shifted(mapreg_base base, uint32_t by)
{
	return (mapreg_base){ base.first + by, base.count };
}

static void c23_free_of_run_held_through_another_adapter_rejected(void **state)
{
	struct two_runs t;

	two_runs_init(&t);
	assert_caller_error(t.pool, mapreg_free_map_registers(t.b, t.on_a, 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, t.on_b, 2));
	two_runs_free(&t);
}

static void c23_free_with_base_not_starting_a_run_rejected(void **state)
{
	struct two_runs t;

	two_runs_init(&t);
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, shifted(t.on_a, 1), 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, shifted(t.on_a, 2), 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, (mapreg_base){ 8, 3 }, 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, (mapreg_base){ 1000, 3 }, 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a,
							      (mapreg_base){ UINT32_MAX, 3 }, 3));
	two_runs_free(&t);
}

static void c23_free_with_wrong_count_rejected(void **state)
{
	struct two_runs t;

	two_runs_init(&t);
	mapreg_base first = t.on_a;
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, (mapreg_base){ first.first, 2 },
							      2));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, (mapreg_base){ first.first, 4 },
							      4));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, first, 2));	/* nregs */
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, first, 4));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, (mapreg_base){ first.first, 0 },
							      0));
	two_runs_free(&t);
}

static void c23_second_free_of_same_run_rejected(void **state)
{
	struct two_runs t;

	two_runs_init(&t);
	two_runs_free(&t);
	assert_caller_error(t.pool, mapreg_free_map_registers(t.a, t.on_a, 3));
	assert_caller_error(t.pool, mapreg_free_map_registers(t.b, t.on_b, 2));
}

/* Runs still held with their channel are freed by the channel's owner only. */
static void c23_free_of_run_held_with_channel_rejected(void **state)
{
	mapreg_pool *pool = pool_new(8);
	mapreg_adapter *a = inline_adapter(pool);
	mapreg_adapter *b = inline_adapter(pool);
	struct probe keeper;

	probe_init(&keeper, "keeps object", MAPREG_KEEP_OBJECT);
	request(a, 3, &keeper);
	mapreg_base hold_base = hold(b, 2);
	assert_caller_error(pool, mapreg_free_map_registers(a, keeper.base, 3));
	assert_caller_error(pool, mapreg_free_map_registers(b, hold_base, 2));
	assert_ok(mapreg_free_channel(a));
	release_hold(b);
	assert_held(pool, 0);
}

static void c23_free_map_registers_rejects_null_adapter(void **state)
{
	struct two_runs t;

	two_runs_init(&t);
	assert_changes_nothing(t.pool, assert_status(mapreg_free_map_registers(NULL, t.on_a, 3),
						     MAPREG_INVALID_PARAMETER));
	two_runs_free(&t);
}

/* C24. */

static void c24_free_adapter_object_deallocate_frees_channel_and_registers(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe next;

	probe_init(&next, "next", MAPREG_DEALLOCATE_OBJECT);
	hold(a, 4);
	request(a, 4, &next);
	assert_ok(MARKED(mapreg_free_adapter_object(a, MAPREG_DEALLOCATE_OBJECT)));
	assert_ran_inside_call(&next);
	assert_held(pool, 0);
}

static void c24_free_adapter_object_keep_registers_frees_channel_only(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe channel_only;

	probe_init(&channel_only, "channel only", MAPREG_DEALLOCATE_OBJECT);
	mapreg_base base = hold(a, 3);
	request(a, 0, &channel_only);
	assert_ok(MARKED(mapreg_free_adapter_object(a, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)));
	assert_ran_inside_call(&channel_only);
	assert_held(pool, 3);
	assert_ok(mapreg_free_map_registers(a, base, 3));
}

/* Policy: KEEP_OBJECT and any other value are refused; the hold stays open. */
static void c24_keep_object_and_garbage_actions_rejected(void **state)
{
	static const int bad[] = { MAPREG_KEEP_OBJECT, 0, 4, 99, -1 };
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *a = inline_adapter(pool);

	hold(a, 2);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_caller_error(pool, mapreg_free_adapter_object(a, (mapreg_action)bad[i]));
	assert_held(pool, 2);
	release_hold(a);
}

static void check_free_adapter_object_rejected(mapreg_pool *pool, mapreg_adapter *a)
{
	mapreg_action keep_registers = MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;

	assert_caller_error(pool, mapreg_free_adapter_object(a, MAPREG_DEALLOCATE_OBJECT));
	assert_caller_error(pool, mapreg_free_adapter_object(a, keep_registers));
}

/* Policy: without an open synchronous hold it is refused, changing nothing. */
static void c24_free_adapter_object_without_open_hold_rejected(void **state)
{
	mapreg_pool *pool = pool_new(4);
	mapreg_adapter *holder = inline_adapter(pool);
	mapreg_adapter *a = inline_adapter(pool);
	struct probe keeper, waiting;

	check_free_adapter_object_rejected(pool, a);		/* idle */
	probe_init(&keeper, "keeps object", MAPREG_KEEP_OBJECT);
	request(a, 1, &keeper);
	check_free_adapter_object_rejected(pool, a);		/* a routine's hold */
	assert_ok(mapreg_free_channel(a));

	hold(holder, 4);
	probe_init(&waiting, "waiting", MAPREG_DEALLOCATE_OBJECT);
	request(a, 1, &waiting);
	check_free_adapter_object_rejected(pool, a);		/* a waiter's channel */
	release_hold(holder);
	assert_ran_once(&waiting);

	hold(a, 1);
	release_hold(a);
	check_free_adapter_object_rejected(pool, a);		/* already ended */
	assert_status(mapreg_free_adapter_object(NULL, MAPREG_DEALLOCATE_OBJECT),
		      MAPREG_INVALID_PARAMETER);
}

static const struct CMUnitTest tests[] = {
	TEST(c22_free_channel_frees_channel_and_registers_of_keep_object),
	TEST(c22_free_channel_without_keep_object_holder_rejected),
	TEST(c23_free_of_run_held_through_another_adapter_rejected),
	TEST(c23_free_with_base_not_starting_a_run_rejected),
	TEST(c23_free_with_wrong_count_rejected),
	TEST(c23_second_free_of_same_run_rejected),
	TEST(c23_free_of_run_held_with_channel_rejected),
	TEST(c23_free_map_registers_rejects_null_adapter),
	TEST(c24_free_adapter_object_deallocate_frees_channel_and_registers),
	TEST(c24_free_adapter_object_keep_registers_frees_channel_only),
	TEST(c24_keep_object_and_garbage_actions_rejected),
	TEST(c24_free_adapter_object_without_open_hold_rejected),
};

HARNESS_MAIN("free", tests)
