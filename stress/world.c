/* SPDX-License-Identifier: MIT */
/*
 * One epoch's world: build it, run the actors, bring it to quiescence, check
 * the books (C27), tear it down (C3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "stress.h"

enum {
	WORKER_SLOTS = 6,
	PROBER_SLOTS = 4,
	CHURNER_SLOTS = 6,
	POLLER_SLOTS = 3,
	EPHEMERAL_ADAPTERS = 2,
};

static void *zalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		fail("harness", "out of memory");
	return p;
}

struct actor *actor_new(struct world *w, enum actor_kind kind, uint32_t nslots)
{
	struct actor *a = zalloc(1, sizeof(*a));

	a->w = w;
	a->index = w->nactors;
	a->last_adapter = -1;
	a->kind = kind;
	a->rng = rng_for(w->opt->seed, w->epoch + 1, a->index + 1);
	a->nslots = nslots;
	a->slots = zalloc(nslots, sizeof(*a->slots));
	for (uint32_t i = 0; i < nslots; i++)
		a->slots[i].owner = a;
	a->seq = zalloc(w->nadapters, sizeof(*a->seq));
	w->actors[w->nactors++] = a;
	return a;
}

static void adapter_add(struct world *w, uint32_t i, enum adapter_role role,
			mapreg_dispatch dispatch, uint32_t max_map_registers)
{
	struct sadapter *ad = &w->adapters[i];
	mapreg_adapter_config cfg = { max_map_registers, dispatch };
	uint32_t registers = atomic_load(&w->shadow.registers);
	mapreg_status st = mapreg_adapter_create(w->pool, &cfg, &ad->ad, &ad->max);

	if (st != MAPREG_OK)
		fail("api", "C2: creating adapter %u returned %s", i, mapreg_status_str(st));
	uint32_t expected = max_map_registers ? max_map_registers : registers;
	if (w->shadow.boundary != 0 && expected > w->shadow.boundary)
		expected = w->shadow.boundary;				/* C30 */
	if (ad->max != expected)
		fail("api", "C2: adapter %u's limit is %u, asked for %u of %u (boundary %u)", i,
		     ad->max, max_map_registers, registers, w->shadow.boundary);
	if ((mapreg_adapter_eventfd(ad->ad) >= 0) != (dispatch == MAPREG_DISPATCH_POLL))
		fail("api", "C29: adapter %u's eventfd does not match its dispatch", i);
	ad->role = role;
	ad->dispatch = dispatch;
	atomic_store(&ad->alive, true);
}

/* Shared adapters: at least one inline and one poll adapter, limits vary. */
static void shared_adapters(struct world *w, struct rng *r)
{
	uint32_t registers = w->opt->registers;

	for (uint32_t i = 0; i < w->nshared; i++) {
		mapreg_dispatch d = i == 0 ? MAPREG_DISPATCH_INLINE
				  : i == 1 || rng_percent(r, 40) ? MAPREG_DISPATCH_POLL
				  : MAPREG_DISPATCH_INLINE;
		uint32_t max = rng_percent(r, 50) ? 0 : 1 + rng_below(r, registers);

		adapter_add(w, i, ROLE_SHARED, d, max);
	}
}

static void create_pool(struct world *w, uint32_t boundary)
{
	const struct options *opt = w->opt;
	mapreg_pool_config cfg = { .registers = opt->registers, .backend = opt->backend,
				   .boundary = boundary };
	mapreg_status st = mapreg_pool_create(&cfg, &w->pool);

	if (st != MAPREG_OK)
		fail("api", "creating a %u-register %s pool returned %s", opt->registers,
		     opt->backend_name, mapreg_status_str(st));
	if (opt->backend != MAPREG_BACKEND_DEFAULT &&
	    mapreg_pool_backend(w->pool) != (int)opt->backend)
		fail("api", "the pool runs backend %d, not %s", mapreg_pool_backend(w->pool),
		     opt->backend_name);
}

static void create_actors(struct world *w)
{
	uint32_t pollers = 0;

	for (uint32_t i = 0; i < w->nshared; i++)
		pollers += w->adapters[i].dispatch == MAPREG_DISPATCH_POLL;
	w->actors = zalloc(w->opt->threads + 3 + pollers, sizeof(*w->actors));
	for (unsigned i = 0; i < w->opt->threads; i++)
		actor_new(w, ACTOR_WORKER, WORKER_SLOTS);
	actor_new(w, ACTOR_PROBER, PROBER_SLOTS);
	actor_new(w, ACTOR_CHURNER, CHURNER_SLOTS);
	actor_new(w, ACTOR_MAIN, 0);
	for (uint32_t i = 0; i < w->nshared; i++) {
		struct sadapter *ad = &w->adapters[i];

		if (ad->dispatch != MAPREG_DISPATCH_POLL)
			continue;
		ad->poller = actor_new(w, ACTOR_POLLER, POLLER_SLOTS);
		ad->poller->polls = ad;
		ad->stop_fd = eventfd(0, EFD_CLOEXEC);
		if (ad->stop_fd < 0)
			fail("harness", "eventfd failed");
	}
}

struct world *world_create(const struct options *opt, uint32_t epoch, _Atomic uint64_t *ops_left)
{
	struct world *w = zalloc(1, sizeof(*w));
	struct rng r = rng_for(opt->seed, epoch + 1, 0);

	w->opt = opt;
	w->epoch = epoch;
	w->ops_left = ops_left;
	/*
	 * C30: every other epoch's pool has run boundaries, a power of two
	 * near a quarter of the pool, so that long requests meet them.
	 */
	uint32_t boundary = 0;
	if (epoch % 2 == 1)
		for (boundary = 2; boundary * 8 <= opt->registers; boundary *= 2)
			;
	create_pool(w, boundary);
	shadow_init(&w->shadow, opt->registers, opt->registers * 2);
	w->shadow.boundary = boundary;
	w->nshared = opt->adapters;
	w->first_probe = w->nshared;
	w->first_ephemeral = w->first_probe + 2;
	w->nadapters = w->first_ephemeral + EPHEMERAL_ADAPTERS;
	w->adapters = zalloc(w->nadapters, sizeof(*w->adapters));
	for (uint32_t i = 0; i < w->nadapters; i++) {
		w->adapters[i].index = i;
		w->adapters[i].role = ROLE_EPHEMERAL;
		w->adapters[i].stop_fd = -1;
		pthread_mutex_init(&w->adapters[i].destroying, NULL);
	}
	shared_adapters(w, &r);
	adapter_add(w, w->first_probe, ROLE_PROBE, MAPREG_DISPATCH_INLINE, 0);
	adapter_add(w, w->first_probe + 1, ROLE_PROBE, MAPREG_DISPATCH_INLINE, 0);
	pthread_mutex_init(&w->deferred_lock, NULL);
	hold_list_init(&w->shared_holds);
	hold_list_init(&w->probe_holds);
	hold_list_init(&w->churn_holds);
	create_actors(w);
	w->last_granted = zalloc((size_t)w->nactors * w->nadapters, sizeof(*w->last_granted));
	return w;
}

static void start(struct actor *a, void *(*fn)(void *))
{
	if (pthread_create(&a->thread, NULL, fn, a) != 0)
		fail("harness", "pthread_create failed");
}

static void *(*actor_fn(enum actor_kind kind))(void *)
{
	switch (kind) {
	case ACTOR_WORKER:	return worker_main;
	case ACTOR_PROBER:	return prober_main;
	case ACTOR_CHURNER:	return churner_main;
	case ACTOR_POLLER:	return poller_main;
	case ACTOR_MAIN:	break;
	}
	return NULL;
}

static struct actor *main_actor(struct world *w)
{
	for (uint32_t i = 0; i < w->nactors; i++)
		if (w->actors[i]->kind == ACTOR_MAIN)
			return w->actors[i];
	return NULL;
}

static struct watchdog *watchdog;

void world_run(struct world *w)
{
	self = main_actor(w);
	watchdog = watchdog_start(w);
	for (uint32_t i = 0; i < w->nactors; i++)
		if (w->actors[i]->kind != ACTOR_MAIN)
			start(w->actors[i], actor_fn(w->actors[i]->kind));
}

static void join_kind(struct world *w, enum actor_kind kind)
{
	for (uint32_t i = 0; i < w->nactors; i++)
		if (w->actors[i]->kind == kind)
			pthread_join(w->actors[i]->thread, NULL);
}

static bool main_service(struct actor *a)
{
	publish_holds(a);
	return free_one_hold(a, &a->w->shared_holds);
}

/*
 * Workers, prober and churner each drain until nothing is live; a request
 * made late by a routine extra is drained by main.  Then the pollers stop:
 * nothing is pending, so no poll-mode routine is left to run.
 */
void world_quiesce(struct world *w)
{
	uint64_t one = 1;

	atomic_store(&w->stopping, true);
	join_kind(w, ACTOR_WORKER);
	join_kind(w, ACTOR_PROBER);
	join_kind(w, ACTOR_CHURNER);
	drain(self, main_service);
	for (uint32_t i = 0; i < w->nshared; i++)
		if (w->adapters[i].stop_fd >= 0 &&
		    write(w->adapters[i].stop_fd, &one, sizeof(one)) != sizeof(one))
			fail("harness", "cannot stop a poller");
	join_kind(w, ACTOR_POLLER);
	watchdog_stop(watchdog);
}

void world_totals(struct world *w, struct tally *sum)
{
	for (uint32_t i = 0; i < w->nactors; i++) {
		struct tally *t = &w->actors[i]->tally;

		atomic_fetch_add(&sum->ops, tally_get(&t->ops));
		atomic_fetch_add(&sum->routines, tally_get(&t->routines));
		atomic_fetch_add(&sum->sync_holds, tally_get(&t->sync_holds));
		atomic_fetch_add(&sum->cancels, tally_get(&t->cancels));
		atomic_fetch_add(&sum->sync_failures, tally_get(&t->sync_failures));
		atomic_fetch_add(&sum->caller_errors, tally_get(&t->caller_errors));
	}
}

static void expect_equal(const char *what, uint64_t library, uint64_t ours)
{
	if (library != ours)
		fail("balance", "C27 at quiescence: the library counts %s %llu, the harness %llu",
		     what, (unsigned long long)library, (unsigned long long)ours);
}

/* Nothing is pending, held or kept, as far as the harness knows. */
static void check_harness_idle(struct world *w)
{
	if (atomic_load(&w->live) != 0)
		fail("harness", "quiescent with %lld live requests and holds",
		     (long long)atomic_load(&w->live));
	if (shadow_held(&w->shadow) != 0)
		fail("shadow", "quiescent, yet the shadow holds registers");
	for (uint32_t i = 0; i < w->nadapters; i++)
		if (atomic_load(&w->adapters[i].channel_owner) != 0)
			fail("shadow", "quiescent, yet the shadow holds channel %u", i);
}

void world_check_balance(struct world *w)
{
	struct tally sum = { 0 };
	mapreg_pool_stats st;

	fail_deferred(w);
	check_harness_idle(w);
	world_totals(w, &sum);
	if (mapreg_pool_get_stats(w->pool, &st) != MAPREG_OK)
		fail("api", "mapreg_pool_get_stats failed");
	expect_equal("registers", st.registers, atomic_load(&w->shadow.registers));
	expect_equal("held registers", st.held, 0);
	expect_equal("free + cached registers", st.free + st.cached, st.registers - st.held);
	expect_equal("requests waiting for a channel", st.waiting_channel, 0);
	expect_equal("requests waiting for registers", st.waiting_registers, 0);
	expect_equal("grants (routines run + synchronous holds)", st.grants,
		     tally_get(&sum.routines) + tally_get(&sum.sync_holds));
	expect_equal("cancels (true returns)", st.cancels, tally_get(&sum.cancels));
	expect_equal("synchronous failures", st.sync_failures, tally_get(&sum.sync_failures));
	expect_equal("caller errors", st.caller_errors, tally_get(&sum.caller_errors));
}

static void destroy_adapter(struct world *w, uint32_t i)
{
	struct sadapter *ad = &w->adapters[i];

	if (ad->ad == NULL)
		return;
	pthread_mutex_lock(&ad->destroying);
	mapreg_status st = mapreg_adapter_destroy(ad->ad);
	if (st == MAPREG_OK) {
		ad->ad = NULL;
		atomic_store(&ad->alive, false);
	}
	pthread_mutex_unlock(&ad->destroying);
	if (st != MAPREG_OK)
		fail("api", "C3: destroying idle adapter %u at quiescence returned %s", i,
		     mapreg_status_str(st));
	if (ad->stop_fd >= 0)
		close(ad->stop_fd);
}

static void free_actor(struct actor *a)
{
	free(a->slots);
	free(a->seq);
	free(a);
}

void world_destroy(struct world *w)
{
	mapreg_status st = mapreg_pool_destroy(w->pool);

	if (st != MAPREG_BUSY)
		fail("api", "C3: destroying a pool that has adapters returned %s",
		     mapreg_status_str(st));
	for (uint32_t i = 0; i < w->nadapters; i++)
		destroy_adapter(w, i);
	st = mapreg_pool_destroy(w->pool);
	if (st != MAPREG_OK)
		fail("api", "C3: destroying a pool without adapters returned %s",
		     mapreg_status_str(st));
	self = NULL;
	for (uint32_t i = 0; i < w->nactors; i++)
		free_actor(w->actors[i]);
	free(w->actors);
	free(w->adapters);
	free(w->last_granted);
	shadow_fini(&w->shadow);
	free(w);
}
