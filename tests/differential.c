/* SPDX-License-Identifier: MIT */
/*
 * Differential test: the same random single-threaded sequences of calls run
 * against the locked and the lock-free backend, which must agree on every
 * status, on which routines run and in what order, and on the counters (C27).
 *
 * Where registers are placed is the backends' own business (the lock-free one
 * keeps per-CPU magazines and starts each CPU in its own stretch of the pool),
 * and placement decides fragmentation, and so later outcomes.  Two modes:
 *  - exact: the lock-free backend's test-only placement mode
 *    (mapreg_pool_place_first_fit, hooks/fault.h) turns
 *    magazines and hints off; both place first-fit, and bases must match;
 *  - magazines: magazines on, every request asks for 0 or 1 registers, so
 *    placement cannot change an outcome; bases are not compared, and free and
 *    cached are compared as a sum.
 * A failure prints the mode, seed and step; rerun one seed with
 * `unit_differential SEED`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mapreg.h>

#include "hooks/fault.h"

#define ADAPTERS 3		/* two inline, one poll */
#define SLOTS 3			/* transfers per adapter */
#define STEPS 3000
#define SEEDS 60
#define MAX_REQUESTS (STEPS + 1)
#define MAX_KEPT 256

enum mode { EXACT, MAGAZINES };

struct world;

struct request_ctx {
	struct world *world;
	uint32_t id;
	uint32_t adapter;
	mapreg_action answer;
};

struct world {
	mapreg_backend backend;
	mapreg_pool *pool;
	mapreg_adapter *adapters[ADAPTERS];
	mapreg_transfer xfers[ADAPTERS][SLOTS];
	struct request_ctx ctx[MAX_REQUESTS];
	uint32_t ran[MAX_REQUESTS];		/* ids in the order routines ran */
	mapreg_base ran_base[MAX_REQUESTS];
	size_t ran_count;
	mapreg_base kept[ADAPTERS][MAX_KEPT];	/* runs left to us, in keep order */
	size_t kept_count[ADAPTERS];
	mapreg_base hold[ADAPTERS];		/* a C8 hold's base */
};

static uint64_t rng_state;

static uint32_t rng(uint32_t bound)
{
	rng_state ^= rng_state << 13;		/* xorshift64 */
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return bound ? (uint32_t)(rng_state % bound) : 0;
}

static void keep_run(struct world *w, uint32_t adapter, mapreg_base base)
{
	if (base.count > 0 && w->kept_count[adapter] < MAX_KEPT)
		w->kept[adapter][w->kept_count[adapter]++] = base;
}

static mapreg_action record(void *device, mapreg_transfer *xfer, mapreg_base base, void *context)
{
	struct request_ctx *ctx = context;
	struct world *w = ctx->world;

	w->ran[w->ran_count] = ctx->id;
	w->ran_base[w->ran_count++] = base;
	if (ctx->answer == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)
		keep_run(w, ctx->adapter, base);
	return ctx->answer;
}

static void world_open(struct world *w, mapreg_backend backend, uint32_t registers)
{
	mapreg_pool_config config = { .registers = registers, .backend = backend };

	memset(w, 0, sizeof(*w));
	w->backend = backend;
	assert_int_equal(mapreg_pool_create(&config, &w->pool), MAPREG_OK);
	for (uint32_t a = 0; a < ADAPTERS; a++) {
		mapreg_adapter_config ac = {
			.dispatch = a == ADAPTERS - 1 ? MAPREG_DISPATCH_POLL : MAPREG_DISPATCH_INLINE,
		};
		assert_int_equal(mapreg_adapter_create(w->pool, &ac, &w->adapters[a], NULL),
				 MAPREG_OK);
		for (uint32_t s = 0; s < SLOTS; s++)
			assert_int_equal(mapreg_transfer_init(w->adapters[a], &w->xfers[a][s]),
					 MAPREG_OK);
	}
}

/* Ends every hold and kept run and polls what is pending, until quiet. */
static void world_close(struct world *w)
{
	for (int round = 0; round < 1000; round++) {
		bool busy = false;

		for (uint32_t a = 0; a < ADAPTERS; a++) {
			mapreg_adapter *adapter = w->adapters[a];

			busy |= mapreg_poll(adapter, SIZE_MAX) > 0;
			busy |= mapreg_free_channel(adapter) == MAPREG_OK;
			busy |= mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT) ==
				MAPREG_OK;
			while (w->kept_count[a] > 0) {
				mapreg_base base = w->kept[a][--w->kept_count[a]];
				assert_int_equal(mapreg_free_map_registers(adapter, base, base.count),
						 MAPREG_OK);
				busy = true;
			}
		}
		if (!busy)
			break;
	}
	for (uint32_t a = 0; a < ADAPTERS; a++)
		for (uint32_t s = 0; s < SLOTS; s++)
			mapreg_cancel_channel(w->adapters[a], NULL, &w->xfers[a][s]);
	for (uint32_t a = 0; a < ADAPTERS; a++)
		assert_int_equal(mapreg_adapter_destroy(w->adapters[a]), MAPREG_OK);
	assert_int_equal(mapreg_pool_destroy(w->pool), MAPREG_OK);
}

/* One step's choices, drawn once and applied to both worlds. */
struct step {
	uint32_t op, adapter, slot, nregs, which, max, grow_to;
	mapreg_action answer;
};

/* Mostly DEALLOCATE_OBJECT, so that queues move; every answer often enough. */
static mapreg_action random_answer(void)
{
	static const mapreg_action answers[16] = {
		MAPREG_KEEP_OBJECT, MAPREG_KEEP_OBJECT, MAPREG_KEEP_OBJECT,
		MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS,
		MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS,
		(mapreg_action)99,			/* C19: a bad answer */
		MAPREG_DEALLOCATE_OBJECT, MAPREG_DEALLOCATE_OBJECT, MAPREG_DEALLOCATE_OBJECT,
		MAPREG_DEALLOCATE_OBJECT, MAPREG_DEALLOCATE_OBJECT, MAPREG_DEALLOCATE_OBJECT,
		MAPREG_DEALLOCATE_OBJECT, MAPREG_DEALLOCATE_OBJECT,
	};
	return answers[rng(16)];
}

static struct step draw_step(enum mode mode, uint32_t registers)
{
	struct step s = {
		.op = rng(16),
		.adapter = rng(ADAPTERS),
		.slot = rng(SLOTS),
		.which = rng(MAX_KEPT + 1),
		.max = rng(4),
		.answer = random_answer(),
	};
	s.nregs = mode == MAGAZINES ? rng(2) : (rng(4) == 0 ? rng(registers + 2) : rng(9));
	/* Mostly a refused shrink (C25); now and then a real growth. */
	s.grow_to = rng(16) == 0 ? registers + 1 + rng(8) : registers - 1;
	return s;
}

static mapreg_status apply(struct world *w, const struct step *s, uint32_t id)
{
	mapreg_adapter *adapter = w->adapters[s->adapter];
	mapreg_transfer *xfer = &w->xfers[s->adapter][s->slot];
	struct request_ctx *ctx = &w->ctx[id];
	mapreg_base base;

	*ctx = (struct request_ctx){ w, id, s->adapter, s->answer };
	switch (s->op) {
	case 0:
		return mapreg_allocate_channel(adapter, NULL, s->nregs, record, ctx);
	case 1:
	case 2:
		return mapreg_allocate_channel_ex(adapter, NULL, xfer, s->nregs, 0, record, ctx,
						  NULL);
	case 3:
		return mapreg_allocate_channel_ex(adapter, NULL, xfer, s->nregs,
						  MAPREG_SYNCHRONOUS_CALLBACK, record, ctx, &base);
	case 4:
		return mapreg_allocate_channel_ex(adapter, NULL, xfer, s->nregs,
						  MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						  &w->hold[s->adapter]);
	case 5:
	case 6:
		return mapreg_cancel_channel(adapter, NULL, xfer) ? MAPREG_OK : MAPREG_BUSY;
	case 7:
	case 13:
		return mapreg_free_channel(adapter);
	case 8:
	case 14: {
		size_t *count = &w->kept_count[s->adapter];
		if (*count == 0 || s->which == MAX_KEPT)	/* past the pool: never kept */
			return mapreg_free_map_registers(adapter,
				(mapreg_base){ UINT32_MAX - s->nregs, 1 }, 1);
		size_t index = s->which % *count;
		mapreg_base run = w->kept[s->adapter][index];
		if (s->which % 7 == 0) {			/* C23: a wrong count */
			mapreg_base wrong = { run.first, run.count + 1 };
			return mapreg_free_map_registers(adapter, wrong, wrong.count);
		}
		mapreg_status status = mapreg_free_map_registers(adapter, run, run.count);
		if (status == MAPREG_OK)
			w->kept[s->adapter][index] = w->kept[s->adapter][--*count];
		return status;
	}
	case 9:
	case 15: {
		mapreg_action action = s->answer == MAPREG_KEEP_OBJECT ?
				       MAPREG_DEALLOCATE_OBJECT : s->answer;
		mapreg_base held = w->hold[s->adapter];
		mapreg_status status = mapreg_free_adapter_object(adapter, action);
		if (status == MAPREG_OK && action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)
			keep_run(w, s->adapter, held);
		return status;
	}
	case 10:
		return mapreg_poll(adapter, s->max) == 0 ? MAPREG_BUSY : MAPREG_OK;
	case 11:
		return mapreg_pool_grow(w->pool, s->grow_to);
	default:
		return mapreg_transfer_init(adapter, xfer);
	}
}

static void fail_at(enum mode mode, uint64_t seed, int step, const char *what)
{
	fail_msg("%s mode, seed %llu, step %d: %s (rerun: unit_differential %llu)",
		 mode == EXACT ? "exact" : "magazines", (unsigned long long)seed, step, what,
		 (unsigned long long)seed);
}

static void compare(enum mode mode, uint64_t seed, int step, struct world *l, struct world *f)
{
	mapreg_pool_stats a, b;

	if (l->ran_count != f->ran_count ||
	    memcmp(l->ran, f->ran, l->ran_count * sizeof(l->ran[0])) != 0)
		fail_at(mode, seed, step, "routines ran differently");
	for (size_t i = 0; i < l->ran_count; i++)
		if (l->ran_base[i].count != f->ran_base[i].count ||
		    (mode == EXACT && l->ran_base[i].first != f->ran_base[i].first))
			fail_at(mode, seed, step, "a routine got a different base");
	assert_int_equal(mapreg_pool_get_stats(l->pool, &a), MAPREG_OK);
	assert_int_equal(mapreg_pool_get_stats(f->pool, &b), MAPREG_OK);
	if (a.registers != b.registers || a.free + a.cached != b.free + b.cached ||
	    a.held != b.held || a.waiting_channel != b.waiting_channel ||
	    a.waiting_registers != b.waiting_registers || a.grants != b.grants ||
	    a.cancels != b.cancels || a.sync_failures != b.sync_failures ||
	    a.caller_errors != b.caller_errors)
		fail_at(mode, seed, step, "the counters differ");
	if (mode == EXACT && (a.free != b.free || b.cached != 0))
		fail_at(mode, seed, step, "free registers differ with magazines off");
}

static void run_seed(enum mode mode, uint64_t seed)
{
	static struct world locked, lockfree;
	uint32_t registers = 8 + (uint32_t)(seed % 57);

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	world_open(&locked, MAPREG_BACKEND_LOCKED, registers);
	world_open(&lockfree, MAPREG_BACKEND_LOCKFREE, registers);
	if (mode == EXACT)
		mapreg_pool_place_first_fit(lockfree.pool);
	for (int step = 0; step < STEPS; step++) {
		struct step s = draw_step(mode, registers);
		mapreg_status a = apply(&locked, &s, (uint32_t)step);
		mapreg_status b = apply(&lockfree, &s, (uint32_t)step);
		if (s.op == 11 && a == MAPREG_OK)
			registers = s.grow_to;
		if (a != b) {
			char what[128];
			snprintf(what, sizeof(what), "op %u: locked %s, lock-free %s", s.op,
				 mapreg_status_str(a), mapreg_status_str(b));
			fail_at(mode, seed, step, what);
		}
		compare(mode, seed, step, &locked, &lockfree);
	}
	world_close(&locked);
	world_close(&lockfree);
	mapreg_fault_set(0);
}

static uint64_t only_seed;

static void run_mode(enum mode mode)
{
	if (only_seed != 0) {
		run_seed(mode, only_seed);
		return;
	}
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		run_seed(mode, seed);
}

static void backends_agree_first_fit_exactly(void **state)
{
	run_mode(EXACT);
}

static void backends_agree_with_magazines_on(void **state)
{
	run_mode(MAGAZINES);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backends_agree_first_fit_exactly),
		cmocka_unit_test(backends_agree_with_magazines_on),
	};

	if (argc > 1)
		only_seed = strtoull(argv[1], NULL, 10);
	return cmocka_run_group_tests_name("differential", tests, NULL, NULL);
}
