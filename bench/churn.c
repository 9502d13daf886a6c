/* SPDX-License-Identifier: MIT */
/*
 * The churn engine: see churn.h.  Who touches what:
 *  - submitter only: free_slots, all_slots, live, live_regs, next_seq,
 *    the cancel tallies; slots are made on demand, one adapter's each, so
 *    their number follows the in-flight budget;
 *  - a slot is owned by the submitter while free, by the library while
 *    submitted, then by whoever holds it in a queue (completions: the
 *    freer; returned: the submitter); its mpsc node is in one queue at a
 *    time;
 *  - routines may run on the submitter (granted at submission, or a grant
 *    its cancel made), the freer or the grower, and write only their own
 *    thread's histograms.
 */
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "churn.h"

enum slot_outcome {
	SLOT_LIVE = 1,		/* submitted; neither ran nor cancelled yet */
	SLOT_RAN,
	SLOT_CANCELLED,
};

struct slot {
	mapreg_transfer xfer;
	struct mpsc_node node;
	struct deferred done;		/* hands the run to the freer */
	struct churn *churn;
	struct slot *next_free;		/* the adapter's free slots */
	struct slot *next_all;		/* every slot, for the final free() */
	uint32_t adapter;		/* fixed: a transfer names one adapter (C9) */
	uint32_t nregs;
	uint32_t live_index;
	uint64_t seq;			/* per-adapter submission number */
	uint64_t submitted_at;		/* clock ticks */
	mapreg_base base;
	_Atomic uint32_t outcome;	/* enum slot_outcome */
};

/* A thread's latency records: written by that thread only. */
struct thread_hists {
	/*
	 * Start of the call the routine ran in -> routine start.  Each thread
	 * makes grants in one kind of call: the freer in frees, the submitter
	 * in cancels, the grower in grows (churn_report).
	 */
	struct hist grant;
	struct hist wait;		/* submission -> routine start */
	struct hist grow;		/* mapreg_pool_grow call */
};

/*
 * Grouped by who writes, a line group each (the struct is allocated on whole
 * lines): a run moves the lines the library's hand-over needs and the two
 * queues' ends, not lines of the bench's own bookkeeping that happen to
 * share them with what the other thread reads.
 */
struct churn {
	/* Set up before the threads start, then only read. */
	const struct churn_config *cfg;
	mapreg_pool *pool;
	mapreg_adapter **adapters;
	_Atomic uint64_t *last_seq;	/* per adapter: routines */
	struct thread_hists *submitter_h, *freer_h, *grower_h;
	struct grant_check gc;
	sem_t grow_due;

	/* Written on a broken contract only (C15, C20); the submitter reads them each turn. */
	_Atomic uint64_t routine_after_cancel __attribute__((aligned(64)));
	_Atomic uint64_t routine_twice;
	_Atomic bool stop;

	/* The submitter's. */
	uint64_t *next_seq __attribute__((aligned(64)));	/* per adapter */
	struct slot **free_slots;	/* per adapter: a stack */
	struct slot *all_slots;
	struct slot **live;		/* submitted, not back yet */
	uint32_t nlive, live_capacity;
	uint64_t live_regs;
	uint64_t cancels_true, cancels_false, remarked, bad_submits;

	struct mpsc completions;	/* routines -> freer */
	struct mpsc returned;		/* freer -> submitter */

	/* The routines' runners (mostly the freer, C16). */
	_Atomic uint64_t routines __attribute__((aligned(64)));
	_Atomic uint64_t immediate;

	/* The freer's. */
	_Atomic uint64_t completed __attribute__((aligned(64)));	/* runs freed */
	_Atomic uint64_t bad_frees;

	/* The grower's. */
	_Atomic uint32_t registers __attribute__((aligned(64)));	/* the pool's size */
	_Atomic uint64_t grows, failed_grows;
};

static __thread struct thread_hists *tls_hists;
static __thread uint64_t tls_release_start;	/* ticks; 0 outside a free/cancel/grow */
static __thread bool tls_in_submit;

static void count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static void hand_to_freer(struct deferred *d)
{
	struct slot *slot = container_of(d, struct slot, done);

	mpsc_push(&slot->churn->completions, &slot->node);
}

static mapreg_action churn_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
				   void *context)
{
	uint64_t now = clock_stop();
	struct slot *slot = context;
	struct churn *c = slot->churn;

	if (tls_hists != NULL) {
		hist_record(&tls_hists->wait, clock_elapsed_ns(slot->submitted_at, now));
		if (tls_release_start != 0)
			hist_record(&tls_hists->grant, clock_elapsed_ns(tls_release_start, now));
	}
	uint32_t before = atomic_exchange(&slot->outcome, SLOT_RAN);
	if (before == SLOT_CANCELLED)
		count(&c->routine_after_cancel);	/* C20 */
	else if (before == SLOT_RAN)
		count(&c->routine_twice);		/* C15 */
	count(&c->routines);
	if (tls_in_submit)
		count(&c->immediate);
	fifo_check(&c->gc, &c->last_seq[slot->adapter], slot->seq);
	grant_check_take(&c->gc, base, slot->nregs);
	slot->base = base;
	defer_until_return(&slot->done);
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* Freer. */

static void free_one(struct churn *c, struct slot *slot)
{
	grant_check_give(&c->gc, slot->base);	/* before: nobody can take them yet */
	tls_release_start = clock_start();
	mapreg_status st = mapreg_free_map_registers(c->adapters[slot->adapter], slot->base,
						     slot->nregs);
	tls_release_start = 0;
	run_deferred();
	if (st != MAPREG_OK)
		count(&c->bad_frees);
	uint64_t done = atomic_fetch_add_explicit(&c->completed, 1, memory_order_relaxed) + 1;
	mpsc_push(&c->returned, &slot->node);
	if (c->cfg->grow_step != 0 && done % c->cfg->grow_every == 0)
		sem_post(&c->grow_due);
}

static void *freer_main(void *arg)
{
	struct churn *c = arg;
	struct spin sp = { 0 };

	tls_hists = c->freer_h;
	pin_self(1);	/* the submitter is on the first CPU (churn_scenarios.c) */
	for (;;) {
		struct mpsc_node *n = mpsc_pop(&c->completions);

		if (n != NULL) {
			free_one(c, container_of(n, struct slot, node));
			continue;
		}
		if (atomic_load_explicit(&c->stop, memory_order_acquire))
			return NULL;
		spin_once(&sp);
	}
}

/* Grower: woken every grow_every completions, never spinning. */
static void *grower_main(void *arg)
{
	struct churn *c = arg;

	tls_hists = c->grower_h;
	for (;;) {
		while (sem_wait(&c->grow_due) != 0)
			;
		if (atomic_load_explicit(&c->stop, memory_order_acquire))
			return NULL;
		uint32_t target = atomic_load(&c->registers) + c->cfg->grow_step;
		if (target > c->gc.registers)
			continue;		/* sized for the run: cannot happen */
		uint64_t t0 = clock_start();
		tls_release_start = t0;
		mapreg_status st = mapreg_pool_grow(c->pool, target);
		uint64_t t1 = clock_stop();
		tls_release_start = 0;
		run_deferred();
		hist_record(&tls_hists->grow, clock_elapsed_ns(t0, t1));
		if (st == MAPREG_OK) {
			atomic_store(&c->registers, target);
			count(&c->grows);
		} else {
			count(&c->failed_grows);
		}
	}
}

/* Submitter. */

static void live_remove(struct churn *c, struct slot *slot)
{
	struct slot *last = c->live[--c->nlive];

	c->live[slot->live_index] = last;
	last->live_index = slot->live_index;
	c->live_regs -= slot->nregs;
	slot->next_free = c->free_slots[slot->adapter];
	c->free_slots[slot->adapter] = slot;
}

static void reclaim(struct churn *c)
{
	struct mpsc_node *n;

	while ((n = mpsc_pop(&c->returned)) != NULL)
		live_remove(c, container_of(n, struct slot, node));
}

static void stalled(struct churn *c)
{
	mapreg_pool_stats st;

	mapreg_pool_get_stats(c->pool, &st);
	fprintf(stderr, "churn: no progress for 20 s with %u requests live (C14 lost wake-up?): "
		"free %llu held %llu waiting channel %llu registers %llu\n", c->nlive,
		(unsigned long long)st.free, (unsigned long long)st.held,
		(unsigned long long)st.waiting_channel, (unsigned long long)st.waiting_registers);
	abort();
}

/*
 * A request both cancelled and run (or run twice) breaks the contract the
 * bookkeeping rests on: its slot is back in use twice.  Say so and stop the
 * process, rather than hang or corrupt memory on a state that cannot be.
 */
static void stop_if_broken(struct churn *c)
{
	uint64_t after_cancel = atomic_load(&c->routine_after_cancel);
	uint64_t twice = atomic_load(&c->routine_twice);

	if (after_cancel == 0 && twice == 0)
		return;
	fprintf(stderr, "churn: routine_after_cancel = %llu, routine_twice = %llu, must be 0 "
		"(C15, C20): stopping\n", (unsigned long long)after_cancel,
		(unsigned long long)twice);
	fflush(stdout);
	_exit(1);
}

/* Waits until `nregs` more fit in the in-flight budget. */
static void wait_for_room(struct churn *c, uint32_t nregs)
{
	struct spin sp = { 0 };
	struct progress_watch w = { 0 };

	for (;;) {
		reclaim(c);
		uint64_t budget = (uint64_t)c->cfg->inflight_factor * atomic_load(&c->registers);
		stop_if_broken(c);
		if (c->live_regs + nregs <= budget || c->nlive == 0)
			return;
		if (progress_stalled(&w, atomic_load(&c->completed)))
			stalled(c);
		spin_once(&sp);
	}
}

/* A free slot of adapter `a`, made (and its transfer bound, C9) if none is. */
static struct slot *slot_take(struct churn *c, uint32_t a)
{
	struct slot *slot = c->free_slots[a];

	if (slot != NULL) {
		c->free_slots[a] = slot->next_free;
		return slot;
	}
	slot = bench_zalloc_lines(sizeof(*slot));
	if (slot == NULL)
		return NULL;
	slot->churn = c;
	slot->adapter = a;
	slot->done.run = hand_to_freer;
	slot->next_all = c->all_slots;
	c->all_slots = slot;
	if (mapreg_transfer_init(c->adapters[a], &slot->xfer) != MAPREG_OK)
		return NULL;
	return slot;
}

/* Room in `live` for one more. */
static bool live_reserve(struct churn *c)
{
	if (c->nlive < c->live_capacity)
		return true;
	uint32_t capacity = c->live_capacity ? 2 * c->live_capacity : 256;
	struct slot **live = realloc(c->live, capacity * sizeof(*live));
	if (live == NULL)
		return false;
	c->live = live;
	c->live_capacity = capacity;
	return true;
}

static void submit_one(struct churn *c, struct rng *r)
{
	uint32_t a = rng_below(r, c->cfg->adapters);
	uint32_t nregs = 1 + rng_below(r, c->cfg->max_nregs);
	mapreg_status st;

	wait_for_room(c, nregs);
	struct slot *slot = live_reserve(c) ? slot_take(c, a) : NULL;
	if (slot == NULL) {
		c->bad_submits++;
		return;
	}
	slot->nregs = nregs;
	slot->live_index = c->nlive;
	c->live[c->nlive++] = slot;
	c->live_regs += nregs;
	do {
		slot->seq = ++c->next_seq[a];
		atomic_store_explicit(&slot->outcome, SLOT_LIVE, memory_order_relaxed);
		slot->submitted_at = clock_start();
		tls_in_submit = true;
		st = mapreg_allocate_channel_ex(c->adapters[a], NULL, &slot->xfer, nregs, 0,
						churn_routine, slot, NULL);
		tls_in_submit = false;
		run_deferred();
		/* A cancel that lost to the routine marked the idle transfer (C21). */
		c->remarked += st == MAPREG_CANCELLED;
	} while (st == MAPREG_CANCELLED);
	if (st != MAPREG_OK) {
		c->bad_submits++;
		live_remove(c, slot);
	}
}

/* Cancels a random live request; a true answer must mean its routine never runs. */
static void cancel_one(struct churn *c, struct rng *r)
{
	if (c->nlive == 0)
		return;
	struct slot *slot = c->live[rng_below(r, c->nlive)];
	tls_release_start = clock_start();
	bool cancelled = mapreg_cancel_channel(c->adapters[slot->adapter], NULL, &slot->xfer);
	tls_release_start = 0;
	run_deferred();
	if (!cancelled) {
		c->cancels_false++;
		return;
	}
	c->cancels_true++;
	if (atomic_exchange(&slot->outcome, SLOT_CANCELLED) != SLOT_LIVE)
		count(&c->routine_after_cancel);		/* C20 */
	stop_if_broken(c);
	live_remove(c, slot);
}

static void drain(struct churn *c)
{
	struct spin sp = { 0 };
	struct progress_watch w = { 0 };

	for (reclaim(c); c->nlive > 0; reclaim(c)) {
		stop_if_broken(c);
		if (progress_stalled(&w, atomic_load(&c->completed)))
			stalled(c);
		spin_once(&sp);
	}
}

/* Set-up and tear-down. */

/* The most registers the pool can reach in this run (growth). */
static uint32_t registers_limit(const struct churn_config *cfg, int64_t iterations)
{
	uint64_t limit = cfg->registers;

	if (cfg->grow_step != 0)
		limit += (uint64_t)cfg->grow_step * ((uint64_t)iterations / cfg->grow_every + 1);
	return limit > MAPREG_MAX_REGISTERS ? MAPREG_MAX_REGISTERS : (uint32_t)limit;
}

static bool churn_init(cbench_state *s, struct churn *c, const struct churn_config *cfg)
{
	c->cfg = cfg;
	atomic_init(&c->registers, cfg->registers);
	c->free_slots = calloc(cfg->adapters, sizeof(*c->free_slots));
	c->adapters = calloc(cfg->adapters, sizeof(*c->adapters));
	c->last_seq = calloc(cfg->adapters, sizeof(*c->last_seq));
	c->next_seq = calloc(cfg->adapters, sizeof(*c->next_seq));
	c->submitter_h = malloc(sizeof(*c->submitter_h));
	c->freer_h = malloc(sizeof(*c->freer_h));
	c->grower_h = malloc(sizeof(*c->grower_h));
	mpsc_init(&c->completions);
	mpsc_init(&c->returned);
	sem_init(&c->grow_due, 0, 0);
	if (!c->free_slots || !c->adapters || !c->last_seq || !c->next_seq || !c->submitter_h ||
	    !c->freer_h || !c->grower_h ||
	    !grant_check_init(&c->gc, registers_limit(cfg, cbench_max_iterations(s)))) {
		cbench_fail(s, "out of memory");
		return false;
	}
	struct thread_hists *all[] = { c->submitter_h, c->freer_h, c->grower_h };
	for (size_t i = 0; i < 3; i++) {
		hist_init(&all[i]->grant);
		hist_init(&all[i]->wait);
		hist_init(&all[i]->grow);
	}
	c->pool = bench_pool(s, cfg->registers);
	for (uint32_t a = 0; c->pool != NULL && a < cfg->adapters; a++)
		c->adapters[a] = bench_adapter(s, c->pool, MAPREG_DISPATCH_INLINE);
	return !cbench_failed(s);
}

static void churn_free(struct churn *c)
{
	for (struct slot *slot = c->all_slots, *next; slot != NULL; slot = next) {
		next = slot->next_all;
		free(slot);
	}
	grant_check_fini(&c->gc);
	sem_destroy(&c->grow_due);
	free(c->free_slots);
	free(c->live);
	free(c->adapters);
	free(c->last_seq);
	free(c->next_seq);
	free(c->submitter_h);
	free(c->freer_h);
	free(c->grower_h);
}

/* Checks what must hold after a drained run and sets the counters. */
static void churn_report(cbench_state *s, struct churn *c, int64_t submitted)
{
	mapreg_pool_stats st;
	uint64_t routines = atomic_load(&c->routines);

	cbench_items_processed(s, submitted);
	grant_check_report(s, &c->gc);
	expect_zero(s, "routine_after_cancel", atomic_load(&c->routine_after_cancel));
	expect_zero(s, "routine_twice", atomic_load(&c->routine_twice));
	expect_zero(s, "bad_frees", atomic_load(&c->bad_frees));
	expect_zero(s, "bad_submits", c->bad_submits);
	/* Every submission either ran its routine or was cancelled (C15, C20). */
	expect_zero(s, "leaked_requests", (uint64_t)submitted - c->bad_submits -
		    routines - c->cancels_true);
	if (mapreg_pool_get_stats(c->pool, &st) == MAPREG_OK) {
		/* C27: the pool counted what the routines saw. */
		expect_zero(s, "stats_grants_mismatch", st.grants != routines);
		expect_zero(s, "stats_cancels_mismatch", st.cancels != c->cancels_true);
	}
	cbench_counter(s, "queued_pct", routines ? 100.0 * (double)(routines -
		       atomic_load(&c->immediate)) / (double)routines : 0, CBENCH_VALUE);
	if (c->cfg->cancel_percent != 0) {
		cbench_counter(s, "cancelled", (double)c->cancels_true, CBENCH_VALUE);
		cbench_counter(s, "cancel_too_late", (double)c->cancels_false, CBENCH_VALUE);
		cbench_counter(s, "remarked", (double)c->remarked, CBENCH_VALUE);
	}
	if (c->cfg->grow_step != 0) {
		expect_zero(s, "failed_grows", atomic_load(&c->failed_grows));
		cbench_counter(s, "grows", (double)atomic_load(&c->grows), CBENCH_VALUE);
		cbench_counter(s, "final_registers", (double)atomic_load(&c->registers),
			       CBENCH_VALUE);
	}
	/*
	 * Grants by the call they ran in, apart: "grant" in a free (the
	 * scenarios' measure: free start -> routine start), "cancel_grant" in
	 * a cancel, "grow_grant" in a grow.  A call may make grants that
	 * another thread's free made possible: with the lock-free backend the
	 * thread holding the serving role serves the rounds others ask for
	 * (README, "Grants under concurrent frees"), so a cancel or a grow
	 * may run routines for frees made while it ran, timed from its own
	 * start.  Merged, those decided the growth and storm rows' grant
	 * tails (BENCHMARKS.md, "Grants by the call that made them").
	 */
	struct hist wait = c->freer_h->wait;
	hist_merge(&wait, &c->submitter_h->wait);
	hist_merge(&wait, &c->grower_h->wait);
	cbench_report_latency(s, "grant", &c->freer_h->grant);
	if (c->cfg->cancel_percent != 0)
		cbench_report_latency(s, "cancel_grant", &c->submitter_h->grant);
	cbench_report_latency(s, "wait", &wait);
	if (c->cfg->grow_step != 0) {
		cbench_report_latency(s, "grow_grant", &c->grower_h->grant);
		cbench_report_latency(s, "grow", &c->grower_h->grow);
	}
}

void churn_run(cbench_state *s, const struct churn_config *cfg)
{
	struct churn *c = bench_zalloc_lines(sizeof(*c));
	pthread_t freer, grower;
	bool freer_up = false, grower_up = false;
	struct rng r = rng_for(1);
	int64_t n, submitted = 0;

	if (c == NULL) {
		cbench_fail(s, "out of memory");
		return;
	}
	if (!churn_init(s, c, cfg))
		goto out;
	tls_hists = c->submitter_h;
	freer_up = helper_start(&freer, freer_main, c);
	grower_up = cfg->grow_step == 0 || helper_start(&grower, grower_main, c);
	if (!freer_up || !grower_up) {
		cbench_fail(s, "cannot start helper threads");
		goto stop;
	}
	while ((n = cbench_batch(s)) > 0) {
		for (int64_t i = 0; i < n; i++) {
			submit_one(c, &r);
			if (cfg->cancel_percent != 0 && rng_below(&r, 100) < cfg->cancel_percent)
				cancel_one(c, &r);
		}
		drain(c);
		submitted += n;
	}
stop:
	atomic_store_explicit(&c->stop, true, memory_order_release);
	if (freer_up)
		helper_join(freer);
	if (cfg->grow_step != 0 && grower_up) {
		sem_post(&c->grow_due);
		helper_join(grower);
	}
	tls_hists = NULL;
	if (!cbench_failed(s))
		churn_report(s, c, submitted);
out:
	bench_destroy(s, c->pool, c->adapters, cfg->adapters);
	churn_free(c);
	free(c);
}
