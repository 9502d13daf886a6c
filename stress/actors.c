/* SPDX-License-Identifier: MIT */
/*
 * The actors: what each harness thread does in an epoch.
 *
 *  - Workers submit random requests (sync, async, with and without a
 *    transfer) of random sizes on the shared adapters of one small pool, so
 *    that exhaustion and waiting are constant; cancel anybody's requests
 *    (racing grants); free anybody's holds (so KEEP_OBJECT and
 *    KEEP_REGISTERS are ended from other threads); mark transfers (C21);
 *    probe C5.
 *  - The prober alone uses two probe adapters, so it knows when their
 *    channels are free, which makes C12 observable (probe_round).
 *  - The churner grows the pool (C25) and creates and destroys adapters of
 *    its own while everyone else runs (C3).
 *  - A poller per shared poll adapter waits on its eventfd with poll(2) and
 *    runs its routines with mapreg_poll (C16, C29).
 * Routines run on whichever actor the library picks, and do more (C18).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "stress.h"

/* --ops: one unit per operation; false once the run's budget is spent. */
static bool budget_take(struct world *w)
{
	if (w->ops_left == NULL)
		return true;
	uint64_t left = atomic_load_explicit(w->ops_left, memory_order_relaxed);
	do {
		if (left == 0)
			return false;
	} while (!atomic_compare_exchange_weak(w->ops_left, &left, left - 1));
	return true;
}

static bool running(struct world *w)
{
	return !atomic_load(&w->stopping) && budget_take(w);
}

void drain(struct actor *a, bool (*service)(struct actor *a))
{
	doing(a, "draining");
	while (atomic_load(&a->w->live) > 0) {
		publish_holds(a);
		if (!service(a))
			sched_yield();
	}
}

/* Workers. */

/* The *_service functions run between library calls, never in a routine. */
static bool worker_service(struct actor *a)
{
	publish_holds(a);
	return free_one_hold(a, &a->w->shared_holds);
}

static enum kind random_kind(struct rng *r)
{
	unsigned roll = rng_below(r, 100);

	return roll < 50 ? KIND_ASYNC_EX : roll < 65 ? KIND_ASYNC_PLAIN
			 : roll < 83 ? KIND_SYNC_ROUTINE : KIND_SYNC_HOLD;
}

static void worker_request(struct actor *a, unsigned roll)
{
	struct world *w = a->w;
	struct slot *s = slot_free(a);
	int adapter = pick_shared_adapter(a);

	if (s == NULL || adapter < 0) {		/* all our requests wait */
		if (!worker_service(a))
			sched_yield();
		return;
	}
	if (roll < 3) {
		mark_probe(a, s, (uint32_t)adapter);
		return;
	}
	struct submit req = {
		.kind = random_kind(&a->rng),
		.adapter = (uint32_t)adapter,
		.nregs = random_nregs(&a->rng, w->adapters[adapter].max),
		.plan = random_plan(a),
		.holds = &w->shared_holds,
	};
	submit(a, s, &req);
}

static void worker_op(struct actor *a)
{
	unsigned roll = rng_below(&a->rng, 100);

	doing(a, "between operations");
	publish_holds(a);
	if (roll < 14)
		worker_service(a);
	else if (roll < 26)
		cancel_random(a);
	else if (roll < 28)
		poll_elsewhere(a);
	else if (roll < 29)
		too_big_probe(a, rng_below(&a->rng, a->w->nshared));
	else
		worker_request(a, roll - 29);
}

void *worker_main(void *arg)
{
	struct actor *a = arg;

	self = a;
	while (running(a->w))
		worker_op(a);
	drain(a, worker_service);
	return NULL;
}

/* The prober: C12, and C11's "a queued request is never overtaken". */

static bool prober_service(struct actor *a)
{
	publish_holds(a);
	return free_one_hold(a, &a->w->probe_holds);
}

static void await_outcome(struct actor *a, struct slot *s)
{
	while (s != NULL && slot_pending(s))
		if (!prober_service(a))
			sched_yield();
}

/*
 * r1, on probe adapter P1 whose channel we know is free, asks for many
 * registers.  If its routine has not run when the call returns, it was not
 * granted at submission, so it holds P1's channel and waits for registers
 * since before the call returned.  Then:
 *  - r2, a small request on P2, starts waiting (or is granted) after r1
 *    started waiting: by C12 r1 is granted first, so when r2's routine (or,
 *    for a synchronous hold, its grant) comes, cancelling r1 must fail;
 *  - or a synchronous call on P1 must fail: r1 holds that channel (C11).
 * r1 keeps its channel (KEEP_OBJECT), and the round ends with a successful
 * mapreg_free_channel, so P1's channel is known free for the next round.
 */
static void probe_round(struct actor *a)
{
	struct world *w = a->w;
	uint32_t p1 = w->first_probe, p2 = p1 + 1, max = w->adapters[p1].max;
	struct slot *r1 = slot_free(a), *r2 = NULL;
	struct submit first = {
		.kind = KIND_ASYNC_EX, .adapter = p1, .plan = PLAN_KEEP_OBJECT,
		.nregs = max / 2 + 1 + rng_below(&a->rng, max - max / 2),
		.holds = &w->probe_holds,
	};

	publish_holds(a);
	if (r1 == NULL) {		/* routines run here took our slots */
		if (!prober_service(a))
			sched_yield();
		return;
	}
	if (submit(a, r1, &first) != MAPREG_OK)
		return;
	r1->reserved = true;		/* r2's routine may still cancel it */
	unsigned roll = rng_below(&a->rng, 100);
	if (slot_pending(r1) && roll < 90) {
		struct submit second = {
			.kind = roll < 45 ? KIND_ASYNC_EX : KIND_SYNC_HOLD, .adapter = p2,
			.nregs = 1 + rng_below(&a->rng, 3), .plan = PLAN_DEALLOCATE,
			.holds = &w->probe_holds, .granted_after = r1,
		};
		r2 = slot_free(a);
		if (r2 != NULL)
			submit(a, r2, &second);
	} else if (slot_pending(r1) && slot_free(a) != NULL) {
		struct submit same = {
			.kind = KIND_SYNC_HOLD, .adapter = p1, .nregs = 0,
			.plan = PLAN_DEALLOCATE, .holds = &w->probe_holds,
		};
		if (submit(a, slot_free(a), &same) == MAPREG_OK)
			fail("order-channel", "C11: a synchronous call on adapter %u was granted "
			     "while a request queued on it held its channel", p1);
	}
	await_outcome(a, r1);
	await_outcome(a, r2);
	r1->reserved = false;
	/* r1's kept channel may wait on the actor that ran its routine. */
	while (!hold_list_empty(&w->probe_holds) ||
	       atomic_load(&w->adapters[p1].channel_owner) != 0)
		if (!prober_service(a))
			sched_yield();
	if (rng_percent(&a->rng, 10)) {
		mapreg_status st = mapreg_free_channel(w->adapters[p1].ad);

		count(&a->tally.ops);
		if (st != MAPREG_INVALID_PARAMETER)
			fail("api", "C22: mapreg_free_channel with no kept channel returned %s",
			     mapreg_status_str(st));
		count(&a->tally.caller_errors);
	}
}

void *prober_main(void *arg)
{
	struct actor *a = arg;

	self = a;
	while (running(a->w))
		probe_round(a);
	drain(a, prober_service);
	return NULL;
}

/* The churner: pool growth and adapters that come and go. */

static bool ephemeral_alive(struct world *w, uint32_t i)
{
	return w->adapters[i].ad != NULL;
}

static uint32_t random_ephemeral(struct actor *a)
{
	struct world *w = a->w;

	return w->first_ephemeral + rng_below(&a->rng, w->nadapters - w->first_ephemeral);
}

/* C25: grow a little, up to the shadow's capacity; and two refusals. */
static void grow(struct actor *a)
{
	struct world *w = a->w;
	uint32_t cur = atomic_load(&w->shadow.registers);
	mapreg_status st;

	if (cur > 1 && rng_percent(&a->rng, 20)) {
		count(&a->tally.ops);
		st = mapreg_pool_grow(w->pool, cur - 1);
		if (st != MAPREG_INVALID_PARAMETER)
			fail("api", "C25: shrinking the pool returned %s", mapreg_status_str(st));
		count(&a->tally.caller_errors);
	}
	if (cur == w->shadow.capacity)
		return;
	uint32_t to = cur + 1 + rng_below(&a->rng, 4);
	if (to > w->shadow.capacity)
		to = w->shadow.capacity;
	count(&a->tally.ops);
	doing(a, "growing the pool");
	st = mapreg_pool_grow(w->pool, to);
	if (st != MAPREG_OK)
		fail("api", "C25: growing the pool from %u to %u returned %s", cur, to,
		     mapreg_status_str(st));
	atomic_store(&w->shadow.registers, to);
}

static void create_ephemeral(struct actor *a, uint32_t i)
{
	struct world *w = a->w;
	struct sadapter *ad = &w->adapters[i];
	uint32_t registers = atomic_load(&w->shadow.registers), max = 0;
	mapreg_adapter_config cfg = {
		.max_map_registers = rng_percent(&a->rng, 50) ? 0 : 1 + rng_below(&a->rng, registers),
		.dispatch = rng_percent(&a->rng, 50) ? MAPREG_DISPATCH_POLL : MAPREG_DISPATCH_INLINE,
	};
	doing(a, "creating an adapter");
	mapreg_status st = mapreg_adapter_create(w->pool, &cfg, &ad->ad, &max);

	count(&a->tally.ops);
	if (st != MAPREG_OK)
		fail("api", "C2: creating an adapter returned %s", mapreg_status_str(st));
	uint32_t expected = cfg.max_map_registers ? cfg.max_map_registers : registers;
	if (w->shadow.boundary != 0 && expected > w->shadow.boundary)
		expected = w->shadow.boundary;				/* C30 */
	if (max != expected)
		fail("api", "C2: adapter limit %u, asked for %u of a %u-register pool", max,
		     cfg.max_map_registers, registers);
	if ((mapreg_adapter_eventfd(ad->ad) >= 0) != (cfg.dispatch == MAPREG_DISPATCH_POLL))
		fail("api", "C29: the eventfd of a new adapter does not match its dispatch");
	ad->dispatch = cfg.dispatch;
	ad->max = max;
	atomic_store(&ad->alive, true);
}

static bool churn_holds_on(struct world *w, uint32_t adapter)
{
	bool found = false;

	pthread_mutex_lock(&w->churn_holds.lock);
	for (struct hold *h = w->churn_holds.head; h != NULL && !found; h = h->next)
		found = h->adapter == adapter;
	pthread_mutex_unlock(&w->churn_holds.lock);
	return found;
}

static bool requests_on(struct actor *a, uint32_t adapter)
{
	for (uint32_t i = 0; i < a->nslots; i++)
		if (slot_pending(&a->slots[i]) && atomic_load(&a->slots[i].adapter) == adapter)
			return true;
	return false;
}

/*
 * C3.  A hold on the adapter is ours to free, so destroy must say BUSY.  A
 * pending request may finish meanwhile, so either answer is right, but
 * after MAPREG_OK none may still be pending (its routine runs before its
 * channel is let go).  MAPREG_BUSY with nothing outstanding is right too
 * while a routine is returning; we try again later.
 */
static void destroy_ephemeral(struct actor *a, uint32_t i)
{
	struct world *w = a->w;
	struct sadapter *ad = &w->adapters[i];
	bool held = churn_holds_on(w, i);
	doing(a, "destroying an adapter");
	pthread_mutex_lock(&ad->destroying);
	mapreg_status st = mapreg_adapter_destroy(ad->ad);

	if (st == MAPREG_OK) {
		atomic_store(&ad->alive, false);
		ad->ad = NULL;
	}
	pthread_mutex_unlock(&ad->destroying);
	count(&a->tally.ops);
	if (held && st != MAPREG_BUSY)
		fail("api", "C3: destroying adapter %u that has a kept channel or run returned %s",
		     i, mapreg_status_str(st));
	if (st == MAPREG_BUSY)
		return;
	if (st != MAPREG_OK)
		fail("api", "C3: destroying adapter %u returned %s", i, mapreg_status_str(st));
	if (requests_on(a, i))
		fail("api", "C3: adapter %u was destroyed while a request of it was pending", i);
}

/* Runs our poll-mode adapters' routines (C16); whether any ran. */
static bool poll_ephemeral(struct actor *a)
{
	struct world *w = a->w;
	size_t ran = 0;

	for (uint32_t i = w->first_ephemeral; i < w->nadapters; i++) {
		if (ephemeral_alive(w, i) && w->adapters[i].dispatch == MAPREG_DISPATCH_POLL) {
			doing(a, "polling its adapters");
			ran += mapreg_poll(w->adapters[i].ad, 4);
			count(&a->tally.ops);
		}
	}
	return ran > 0;
}

static bool churner_service(struct actor *a)
{
	bool polled = poll_ephemeral(a);

	publish_holds(a);
	return free_one_hold(a, &a->w->churn_holds) || polled;
}

static void churn_request(struct actor *a, uint32_t i)
{
	struct world *w = a->w;
	struct slot *s = slot_free(a);
	enum kind kind = (enum kind)rng_below(&a->rng, 4);

	if (s == NULL) {
		churner_service(a);
		return;
	}
	struct submit req = {
		.kind = kind, .adapter = i,
		.nregs = random_nregs(&a->rng, w->adapters[i].max),
		.plan = random_plan(a), .holds = &w->churn_holds,
	};
	submit(a, s, &req);
}

static void churn_op(struct actor *a)
{
	uint32_t i = random_ephemeral(a);
	unsigned roll = rng_below(&a->rng, 100);

	doing(a, "between operations");
	publish_holds(a);
	if (roll < 4)
		grow(a);
	else if (!ephemeral_alive(a->w, i))
		create_ephemeral(a, i);
	else if (roll < 14)
		destroy_ephemeral(a, i);
	else if (roll < 34)
		churner_service(a);
	else if (roll < 40)
		cancel_own(a, &a->slots[rng_below(&a->rng, a->nslots)]);
	else
		churn_request(a, i);
}

void *churner_main(void *arg)
{
	struct actor *a = arg;

	self = a;
	while (running(a->w)) {
		churn_op(a);
		/*
		 * Its poll adapters' grants run only when it polls (C16): after
		 * every operation, so that a grant the library has signalled
		 * (C29) does not wait through several of our yields, which on 2
		 * CPUs under ThreadSanitizer can add up to the watchdog's bound.
		 */
		poll_ephemeral(a);
		sched_yield();		/* a side show: leave the CPUs to the workers */
	}
	drain(a, churner_service);
	return NULL;
}

/* Pollers (C16, C29): sleep in poll(2) until the eventfd says work is pending. */

void *poller_main(void *arg)
{
	struct actor *a = arg;
	struct sadapter *ad = a->polls;
	int efd = mapreg_adapter_eventfd(ad->ad);

	self = a;
	for (;;) {
		struct pollfd fds[2] = { { efd, POLLIN, 0 }, { ad->stop_fd, POLLIN, 0 } };

		doing(a, "asleep in poll(2)");
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("harness", "poll: errno %d", errno);
		}
		if (fds[1].revents != 0)
			return NULL;
		if (fds[0].revents & POLLIN) {
			count(&a->tally.ops);
			doing(a, "in mapreg_poll");
			if (mapreg_poll(ad->ad, 1 + rng_below(&a->rng, 8)) == 0)
				sched_yield();	/* readable, nothing yet: let the granter finish */
			publish_holds(a);
		}
	}
}
