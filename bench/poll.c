/* SPDX-License-Identifier: MIT */
/*
 * Scenario 7, poll mode as in SPDK: one reactor thread per poll-mode adapter
 * (MAPREG_DISPATCH_POLL), all on one 64-register pool.  A reactor keeps 16
 * requests of 1..8 registers in flight: it submits, runs its granted
 * routines with mapreg_poll (C16), and "completes" the oldest held run by
 * freeing it, which grants waiters of every reactor into their own poll
 * queues and makes their eventfds readable (C29).
 *  - mode:0 busy polling: mapreg_poll on every turn of the loop;
 *  - mode:1 eventfd: a reactor with nothing to do blocks in poll(2) on its
 *    adapter's eventfd instead of spinning (interrupt mode).
 * One iteration is one request completed.  Latency: submission -> routine
 * for the requests that had to queue.
 */
#include <poll.h>
#include <stdlib.h>

#include "scenarios.h"

#define POLL_POOL 64
#define POLL_DEPTH 16
#define POLL_MAX_NREGS 8
#define POLL_MAX_REACTORS 2
#define POLL_WAIT_MS 1000

struct poll_shared {
	mapreg_pool *pool;
	struct grant_check gc;
	struct hist wait[POLL_MAX_REACTORS];
	_Atomic uint64_t failures, wakeups, timeouts;
};

struct request_slot {
	mapreg_transfer xfer;
	struct reactor *reactor;
	uint64_t seq;
	uint64_t submitted_at;
	uint32_t nregs;
	mapreg_base base;
};

struct reactor {
	struct poll_shared *sh;
	mapreg_adapter *adapter;
	struct hist *wait;
	_Atomic uint64_t last_seq;
	uint64_t next_seq;
	struct request_slot slots[POLL_DEPTH];
	struct request_slot *idle[POLL_DEPTH];	/* a stack */
	struct request_slot *held[POLL_DEPTH];	/* granted, FIFO ring */
	unsigned int nidle, held_head, nheld;
	bool in_submit;
};

static mapreg_action reactor_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
				     void *context)
{
	uint64_t now = clock_stop();
	struct request_slot *slot = context;
	struct reactor *re = slot->reactor;

	/* Poll mode: this runs on the reactor's own thread (C16), no hand-off needed. */
	if (!re->in_submit)
		hist_record(re->wait, clock_elapsed_ns(slot->submitted_at, now));
	fifo_check(&re->sh->gc, &re->last_seq, slot->seq);
	grant_check_take(&re->sh->gc, base, slot->nregs);
	slot->base = base;
	re->held[(re->held_head + re->nheld++) % POLL_DEPTH] = slot;
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static bool complete_oldest(struct reactor *re)
{
	struct request_slot *slot = re->held[re->held_head];

	re->held_head = (re->held_head + 1) % POLL_DEPTH;
	re->nheld--;
	grant_check_give(&re->sh->gc, slot->base);
	mapreg_status st = mapreg_free_map_registers(re->adapter, slot->base, slot->nregs);
	re->idle[re->nidle++] = slot;
	return st == MAPREG_OK;
}

static bool submit(struct reactor *re, struct rng *r)
{
	struct request_slot *slot = re->idle[--re->nidle];

	slot->nregs = 1 + rng_below(r, POLL_MAX_NREGS);
	slot->seq = ++re->next_seq;
	slot->submitted_at = clock_start();
	re->in_submit = true;
	mapreg_status st = mapreg_allocate_channel_ex(re->adapter, NULL, &slot->xfer, slot->nregs,
						      0, reactor_routine, slot, NULL);
	re->in_submit = false;
	return st == MAPREG_OK;
}

/* Blocks until the adapter's eventfd is readable (mode:1). */
static void wait_for_event(struct reactor *re)
{
	struct pollfd pfd = { .fd = mapreg_adapter_eventfd(re->adapter), .events = POLLIN };

	atomic_fetch_add_explicit(&re->sh->wakeups, 1, memory_order_relaxed);
	/* A time-out with requests queued would mean a lost eventfd signal (C29). */
	if (poll(&pfd, 1, POLL_WAIT_MS) == 0)
		atomic_fetch_add_explicit(&re->sh->timeouts, 1, memory_order_relaxed);
}

/* The reactor loop: returns false on a library error. */
static bool reactor_run(cbench_state *s, struct reactor *re, bool interrupt_mode)
{
	struct rng r = rng_for(7000 + (uint64_t)cbench_thread_index(s));
	struct spin sp = { 0 };
	int64_t n, submitted = 0, completed = 0;
	bool ok = true;

	while ((n = cbench_batch(s)) > 0) {
		while (ok && completed < n) {
			bool progress = false;

			if (re->nheld > 0) {
				ok &= complete_oldest(re);
				completed++;
				progress = true;
			}
			while (ok && re->nidle > 0 && submitted < n) {
				ok &= submit(re, &r);
				submitted++;
				progress = true;
			}
			progress |= mapreg_poll(re->adapter, POLL_DEPTH) > 0;
			if (progress || re->nheld > 0 || completed == n)
				continue;
			if (interrupt_mode)
				wait_for_event(re);
			else
				spin_once(&sp);
		}
	}
	cbench_items_processed(s, completed);
	return ok;
}

static void *poll_setup(cbench_state *s)
{
	struct poll_shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL || cbench_thread_count(s) > POLL_MAX_REACTORS ||
	    !grant_check_init(&sh->gc, POLL_POOL) || (sh->pool = bench_pool(s, POLL_POOL)) == NULL) {
		cbench_fail(s, "set-up failed");
		if (sh != NULL)
			grant_check_fini(&sh->gc);
		free(sh);
		return NULL;
	}
	for (int t = 0; t < POLL_MAX_REACTORS; t++)
		hist_init(&sh->wait[t]);
	return sh;
}

static void poll_body(cbench_state *s)
{
	struct poll_shared *sh = cbench_shared(s);
	struct reactor *re = calloc(1, sizeof(*re));

	if (re == NULL ||
	    (re->adapter = bench_adapter(s, sh->pool, MAPREG_DISPATCH_POLL)) == NULL) {
		atomic_fetch_add(&sh->failures, 1);
		free(re);
		return;
	}
	re->sh = sh;
	re->wait = &sh->wait[cbench_thread_index(s)];
	for (unsigned int i = 0; i < POLL_DEPTH; i++) {
		re->slots[i].reactor = re;
		if (mapreg_transfer_init(re->adapter, &re->slots[i].xfer) != MAPREG_OK)
			atomic_fetch_add(&sh->failures, 1);
		re->idle[re->nidle++] = &re->slots[i];
	}
	if (!reactor_run(s, re, cbench_arg(s, 0) != 0) ||
	    mapreg_adapter_destroy(re->adapter) != MAPREG_OK)
		atomic_fetch_add(&sh->failures, 1);
	free(re);
}

static void poll_teardown(cbench_state *s, void *shared)
{
	struct poll_shared *sh = shared;

	expect_zero(s, "failed_calls", atomic_load(&sh->failures));
	grant_check_report(s, &sh->gc);
	cbench_counter(s, "eventfd_waits", (double)atomic_load(&sh->wakeups), CBENCH_VALUE);
	cbench_counter(s, "eventfd_timeouts", (double)atomic_load(&sh->timeouts), CBENCH_VALUE);
	for (int t = 1; t < cbench_thread_count(s); t++)
		hist_merge(&sh->wait[0], &sh->wait[t]);
	cbench_report_latency(s, "wait", &sh->wait[0]);
	bench_destroy(s, sh->pool, NULL, 0);
	grant_check_fini(&sh->gc);
	free(sh);
}

static void poll_register(const struct scenario *sc, const struct bench_backend *backend)
{
	static const char *const names[] = { "mode" };
	cbench *b = scenario_register(sc, backend, poll_body);

	cbench_fixture(b, poll_setup, poll_teardown);
	cbench_arg_names(b, 1, names);
	cbench_args(b, 1, (const int64_t[]){ 0 });
	cbench_args(b, 1, (const int64_t[]){ 1 });
	cbench_threads(b, 1);
	cbench_threads(b, POLL_MAX_REACTORS);
	cbench_pin_threads(b);
	cbench_use_wall_time(b);
}

const struct scenario scenario_poll = {
	.name = "poll",
	.description = "1 or 2 reactor threads, each with a poll-mode adapter on one 64-register "
		       "pool, 16 requests of 1..8 in flight: mode:0 busy mapreg_poll, mode:1 "
		       "block on the eventfd when idle (SPDK-style)",
	.register_runs = poll_register,
};
