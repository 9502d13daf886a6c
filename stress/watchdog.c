/* SPDX-License-Identifier: MIT */
/*
 * The watchdog (C13, C14): a request must not stay ungranted while what it
 * needs is free.  It measures "ungranted while satisfiable" continuously,
 * never total waiting time, so that a correct library under any amount of
 * preemption is not blamed for waits that the holders of registers cause.
 *
 * Every SAMPLE_MS it takes a snapshot of the harness's view:
 *  - the pending requests (slot state PENDING: submitted or about to be,
 *    routine not run, not cancelled), with adapter and size;
 *  - the shadow: registers and channels claimed by routines, C8 holds and
 *    kept holds.
 * The snapshot is good only if no shadow change or library free was in
 * flight and none happened meanwhile (shadow.c).  The shadow holds a subset
 * of what the library holds, and the difference is what the library has
 * granted and not yet dispatched, or just been given back: both are
 * finished without any call of ours but a poller's mapreg_poll (C13, C16),
 * by threads that are running, so "promptly" means within a thread's
 * scheduling delay: the bound (main.c) has to outlast that, and is larger
 * under ThreadSanitizer.
 *
 * A pending request is satisfiable in a good snapshot if its adapter's
 * channel is free in the shadow and the largest free run of registers fits
 * every pending request: then whichever is at the head of the library's
 * register queue fits (C12 forbids serving anyone past it), so someone must
 * be granted.  A request that is satisfiable in every sample for stall_ms
 * (bad snapshots and gaps in sampling restart its clock) is a stall: the
 * run fails and prints the library's stats and the shadow.
 *
 * As a backstop, a run in which nothing is granted or cancelled for much
 * longer while requests are pending fails the "progress" check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stress.h"

enum {
	SAMPLE_MS = 10,
	GAP_MS = 200,			/* a longer gap between samples: start over */
	PROGRESS_FACTOR = 5,		/* the backstop: this many stall bounds */
	PROGRESS_MIN_MS = 10000,
};

struct view {				/* one slot in one snapshot */
	uint64_t state;
	uint32_t nregs;
	bool channel_free;
};

struct clock {				/* one slot's satisfiable-since clock */
	uint64_t state;
	uint64_t since;
	bool running;
};

struct watchdog {
	struct world *w;
	pthread_t thread;
	_Atomic bool stop;
	uint32_t nslots;
	struct view *views;
	struct clock *clocks;
	uint64_t last_sample, progress, progress_at;
};

static struct slot *slot_at(struct world *w, uint32_t k, struct actor **owner)
{
	for (uint32_t i = 0; i < w->nactors; i++) {
		struct actor *a = w->actors[i];

		if (k < a->nslots) {
			*owner = a;
			return &a->slots[k];
		}
		k -= a->nslots;
	}
	fail("harness", "the watchdog lost track of a slot");
}

/* Fills views; returns whether the snapshot is good, and the largest need. */
static bool snapshot(struct watchdog *wd, uint32_t *need, uint32_t *free_run)
{
	struct world *w = wd->w;
	struct shadow *sh = &w->shadow;
	uint32_t busy = atomic_load(&sh->busy);
	uint64_t version = atomic_load(&sh->version);
	uint32_t k = 0;

	*need = 0;
	for (uint32_t i = 0; i < w->nactors; i++) {
		struct actor *a = w->actors[i];

		for (uint32_t j = 0; j < a->nslots; j++, k++) {
			struct slot *s = &a->slots[j];
			struct view *v = &wd->views[k];

			v->state = atomic_load(&s->state);
			if (STATE_PHASE(v->state) != PHASE_PENDING)
				continue;
			uint32_t adapter = atomic_load(&s->adapter);
			v->nregs = atomic_load(&s->nregs);
			v->channel_free = atomic_load(&w->adapters[adapter].channel_owner) == 0;
			if (v->nregs > *need)
				*need = v->nregs;
		}
	}
	*free_run = shadow_largest_free_run(sh);
	return busy == 0 && atomic_load(&sh->busy) == 0 && atomic_load(&sh->version) == version;
}

_Noreturn static void stalled(struct watchdog *wd, uint32_t k, uint64_t waited,
			      uint32_t free_run)
{
	struct actor *owner = NULL;
	struct slot *s = slot_at(wd->w, k, &owner);

	fail("watchdog", "C13/C14: actor %u's request %llu on adapter %u for %u registers has "
	     "stayed ungranted for %llu ms while its channel was free and the free registers "
	     "(largest run %u) fitted every pending request", owner->index,
	     (unsigned long long)STATE_GEN(wd->views[k].state), atomic_load(&s->adapter),
	     wd->views[k].nregs, (unsigned long long)(waited / 1000000), free_run);
}

static void tick_clocks(struct watchdog *wd, bool fits, bool continuous, uint64_t now,
			uint32_t free_run)
{
	uint64_t bound = (uint64_t)wd->w->opt->stall_ms * 1000000;

	for (uint32_t k = 0; k < wd->nslots; k++) {
		struct view *v = &wd->views[k];
		struct clock *c = &wd->clocks[k];
		bool satisfiable = continuous && fits && v->channel_free &&
				   STATE_PHASE(v->state) == PHASE_PENDING;

		if (!satisfiable) {
			c->running = false;
		} else if (!c->running || c->state != v->state) {
			*c = (struct clock){ v->state, now, true };
		} else if (now - c->since > bound) {
			stalled(wd, k, now - c->since, free_run);
		}
	}
}

static uint64_t progress_now(struct world *w)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < w->nactors; i++) {
		struct tally *t = &w->actors[i]->tally;

		sum += tally_get(&t->routines) + tally_get(&t->cancels) +
		       tally_get(&t->sync_holds);
	}
	return sum;
}

static void check_progress(struct watchdog *wd, uint64_t now, bool continuous, bool pending)
{
	uint64_t progress = progress_now(wd->w);
	uint64_t limit = (uint64_t)wd->w->opt->stall_ms * PROGRESS_FACTOR;

	if (limit < PROGRESS_MIN_MS)
		limit = PROGRESS_MIN_MS;
	if (progress != wd->progress || !continuous || !pending) {
		wd->progress = progress;
		wd->progress_at = now;
	} else if (now - wd->progress_at > limit * 1000000) {
		fail("progress", "nothing was granted or cancelled for %llu ms while requests "
		     "were pending", (unsigned long long)((now - wd->progress_at) / 1000000));
	}
}

static void sample(struct watchdog *wd)
{
	uint64_t now = now_ns();
	bool continuous = now - wd->last_sample < (uint64_t)GAP_MS * 1000000;
	uint32_t need, free_run;
	bool good = snapshot(wd, &need, &free_run);
	bool pending = false;

	wd->last_sample = now;
	for (uint32_t k = 0; k < wd->nslots && !pending; k++)
		pending = STATE_PHASE(wd->views[k].state) == PHASE_PENDING;
	tick_clocks(wd, good && need <= free_run, continuous, now, free_run);
	check_progress(wd, now, continuous, pending);
}

static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	struct timespec period = { 0, SAMPLE_MS * 1000000L };

	wd->last_sample = now_ns();
	wd->progress_at = wd->last_sample;
	while (!atomic_load(&wd->stop)) {
		nanosleep(&period, NULL);
		sample(wd);
	}
	return NULL;
}

struct watchdog *watchdog_start(struct world *w)
{
	struct watchdog *wd = calloc(1, sizeof(*wd));

	if (wd == NULL)
		fail("harness", "out of memory");
	wd->w = w;
	for (uint32_t i = 0; i < w->nactors; i++)
		wd->nslots += w->actors[i]->nslots;
	wd->views = calloc(wd->nslots, sizeof(*wd->views));
	wd->clocks = calloc(wd->nslots, sizeof(*wd->clocks));
	if (wd->views == NULL || wd->clocks == NULL)
		fail("harness", "out of memory");
	atomic_init(&wd->stop, false);
	if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0)
		fail("harness", "pthread_create failed");
	return wd;
}

void watchdog_stop(struct watchdog *wd)
{
	atomic_store(&wd->stop, true);
	pthread_join(wd->thread, NULL);
	free(wd->views);
	free(wd->clocks);
	free(wd);
}
