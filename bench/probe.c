/* SPDX-License-Identifier: MIT */
/*
 * The line-transfer probe (probe.h).  The two threads take turns on one
 * counter, on a line of its own: each waits to see the other's last value,
 * then stores the next, so each move is one trip of the line from one CPU
 * to the other.  Acquire and release only make the handshake a handshake;
 * it is the line's trips that are timed.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "probe.h"

/* The counter alone on its line; the count of moves on the next. */
struct ping_pong {
	_Alignas(64) _Atomic unsigned long turn;	/* odd: the helper's move */
	_Alignas(64) unsigned long last;
};

/* The moves first, first + 2, ... below `last`: each waits for its turn. */
static void play_until(struct ping_pong *pp, unsigned long first, unsigned long last)
{
	for (unsigned long t = first; t < last; t += 2) {
		while (atomic_load_explicit(&pp->turn, memory_order_acquire) != t)
			;
		atomic_store_explicit(&pp->turn, t + 1, memory_order_release);
	}
}

static void *helper(void *arg)
{
	pin_self(1);
	struct ping_pong *pp = arg;

	play_until(pp, 1, pp->last);
	return NULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * The quickest of a probe's chunks: a chunk in which either thread was
 * preempted (by the call_rcu thread a run's teardown woke, say) reads long,
 * and the machine's state is what every chunk shares.
 */
#define PROBE_CHUNK 2000ul

double cpu_line_transfer_ns(unsigned int transfers)
{
	cpu_set_t saved;
	pthread_t t;
	double ns = 0;

	if (allowed_cpu_count() < 2 || transfers < 2 + PROBE_CHUNK ||
	    pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0)
		return 0;
	struct ping_pong *pp = bench_zalloc_lines(sizeof(*pp));
	if (pp == NULL)
		return 0;
	pp->last = transfers;
	/* Free to start anywhere, so that the helper need not wait for our CPU to pin itself. */
	unpin_self();
	bool started = helper_start(&t, helper, pp);
	pin_self(0);
	if (started) {
		/* Move 0, untimed: the clock starts once the helper is playing. */
		atomic_store_explicit(&pp->turn, 1, memory_order_release);
		for (unsigned long from = 2; from + PROBE_CHUNK <= pp->last; from += PROBE_CHUNK) {
			while (atomic_load_explicit(&pp->turn, memory_order_acquire) != from)
				;
			double start = now_ns();

			play_until(pp, from, from + PROBE_CHUNK);
			while (atomic_load_explicit(&pp->turn, memory_order_acquire) != from + PROBE_CHUNK)
				;
			double took = (now_ns() - start) / (double)PROBE_CHUNK;
			if (ns == 0 || took < ns)
				ns = took;
		}
		/* The helper plays to pp->last: our moves after the last whole chunk. */
		unsigned long rest = 2 + (pp->last - 2) / PROBE_CHUNK * PROBE_CHUNK;
		play_until(pp, rest, pp->last);
		helper_join(t);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	free(pp);
	return ns;
}
