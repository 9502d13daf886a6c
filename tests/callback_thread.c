/* SPDX-License-Identifier: MIT */
/*
 * Where the lock-free backend's deferred frees run: liburcu's default
 * call_rcu thread, which liburcu starts from the thread of the process's
 * first call_rcu and which would inherit that thread's CPU affinity.  A
 * reactor pinned to one CPU would then have every callback batch and grace
 * period run on its own CPU, preempting it (core/base/rcu.c).  Here the
 * first deferred free comes from a thread pinned to one CPU; the callback
 * thread must have the CPUs the process had at start.  Then
 * mapreg_deferred_cpus: bad sets are refused and change nothing, a good one
 * moves the running thread; with --choose-first, a set chosen before the
 * first deferred free is where the thread starts.  TAP; skipped on a
 * process allowed one CPU, where the sets cannot differ.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <urcu/urcu-memb.h>
#include <urcu/call-rcu.h>

#include <mapreg.h>

#define WAITS 256	/* requests that wait: their nodes' frees reach call_rcu */

struct waited {
	mapreg_base base;
	long runs;
};

static mapreg_action keep_run(void *device, mapreg_transfer *xfer, mapreg_base base,
			      void *context)
{
	struct waited *w = context;

	(void)device, (void)xfer;
	w->base = base;
	w->runs++;
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* WAITS requests that each wait for the pool's one register, then get it. */
static const char *make_requests_wait(void)
{
	mapreg_pool *pool;
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	mapreg_base base;
	struct waited w = { { 0, 0 }, 0 };

	if (mapreg_pool_create(&(mapreg_pool_config){ .registers = 1,
						      .backend = MAPREG_BACKEND_LOCKFREE },
			       &pool) != MAPREG_OK ||
	    mapreg_adapter_create(pool, NULL, &adapter, NULL) != MAPREG_OK ||
	    mapreg_transfer_init(adapter, &xfer) != MAPREG_OK ||
	    mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1, MAPREG_SYNCHRONOUS_CALLBACK, NULL,
				       NULL, &base) != MAPREG_OK ||
	    mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) !=
		    MAPREG_OK)
		return "set-up failed";
	for (long i = 0; i < WAITS; i++) {
		if (mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1, 0, keep_run, &w, NULL) !=
			    MAPREG_OK ||
		    w.runs != i || mapreg_free_map_registers(adapter, base, 1) != MAPREG_OK ||
		    w.runs != i + 1)
			return "a request did not wait, or its free did not grant it";
		base = w.base;
	}
	if (mapreg_free_map_registers(adapter, base, 1) != MAPREG_OK ||
	    mapreg_adapter_destroy(adapter) != MAPREG_OK || mapreg_pool_destroy(pool) != MAPREG_OK)
		return "tear-down failed";
	mapreg_barrier();		/* every deferred free has run */
	return NULL;
}

static bool thread_cpus(cpu_set_t *out)
{
	/* The thread the library's first call_rcu started (no other caller here). */
	pthread_t thread = urcu_memb_get_call_rcu_thread(urcu_memb_get_default_call_rcu_data());

	return pthread_getaffinity_np(thread, sizeof(*out), out) == 0;
}

static int report(int n, bool ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", n, what);
	return ok ? 0 : 1;
}

/* Bad sets are refused and the thread's CPUs stay `now`; `good` is one the process may use. */
static int refuse_bad_sets(int n, const cpu_set_t *at_start, const cpu_set_t *now,
			   unsigned int good)
{
	unsigned int outside = CPU_SETSIZE, too_big = CPU_SETSIZE;
	cpu_set_t after;

	for (unsigned int cpu = 0; cpu < CPU_SETSIZE && outside == CPU_SETSIZE; cpu++)
		if (!CPU_ISSET(cpu, at_start))
			outside = cpu;
	unsigned int mixed[2] = { good, outside };
	bool refused = mapreg_deferred_cpus(NULL, 1) == MAPREG_INVALID_PARAMETER &&
		       mapreg_deferred_cpus(&good, 0) == MAPREG_INVALID_PARAMETER &&
		       mapreg_deferred_cpus(&too_big, 1) == MAPREG_INVALID_PARAMETER &&
		       (outside == CPU_SETSIZE ||
			mapreg_deferred_cpus(mixed, 2) == MAPREG_INVALID_PARAMETER);
	bool unchanged = thread_cpus(&after) && CPU_EQUAL(&after, now);

	return report(n, refused && unchanged,
		      "mapreg_deferred_cpus refuses NULL, 0 CPUs, CPU_SETSIZE and a CPU the "
		      "process may not use, and the thread's CPUs do not change");
}

int main(int argc, char **argv)
{
	cpu_set_t at_start, one, callbacks;
	int first = -1, second = -1;
	bool choose_first = argc > 1 && strcmp(argv[1], "--choose-first") == 0;

	printf("1..%d\n", choose_first ? 1 : 3);
	if (sched_getaffinity(0, sizeof(at_start), &at_start) != 0)
		return 1;
	for (int cpu = 0; cpu < CPU_SETSIZE && second < 0; cpu++)
		if (CPU_ISSET(cpu, &at_start))
			*(first < 0 ? &first : &second) = cpu;
	if (CPU_COUNT(&at_start) < 2) {
		printf("ok 1 # SKIP the process may use one CPU only\n");
		return 0;
	}
	/* Chosen before anything is deferred: the thread starts there. */
	unsigned int chosen = (unsigned int)second;
	if (choose_first && mapreg_deferred_cpus(&chosen, 1) != MAPREG_OK)
		return report(1, false, "mapreg_deferred_cpus refused a CPU the process may use");
	/* A reactor: pinned to one CPU before its first call into mapreg. */
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
		return 1;
	const char *failed = make_requests_wait();
	if (failed != NULL) {
		printf("not ok 1 - %s\n", failed);
		return 1;
	}
	if (!thread_cpus(&callbacks))
		return 1;
	if (choose_first) {
		CPU_ZERO(&one);
		CPU_SET(second, &one);
		return report(1, CPU_EQUAL(&callbacks, &one),
			      "the call_rcu thread starts on the CPU chosen before the first "
			      "deferred free");
	}
	bool same = CPU_EQUAL(&callbacks, &at_start);
	printf("%s 1 - the call_rcu thread started by a thread pinned to CPU %d may run on "
	       "the %d CPUs the process had at start (it may run on %d)\n",
	       same ? "ok" : "not ok", first, CPU_COUNT(&at_start), CPU_COUNT(&callbacks));
	int failures = same ? 0 : 1;
	failures += refuse_bad_sets(2, &at_start, &callbacks, (unsigned int)first);
	/* A good set, once the thread runs: it moves there. */
	CPU_ZERO(&one);
	CPU_SET(second, &one);
	bool moved = mapreg_deferred_cpus(&chosen, 1) == MAPREG_OK && thread_cpus(&callbacks) &&
		     CPU_EQUAL(&callbacks, &one);
	failures += report(3, moved, "mapreg_deferred_cpus moves the running call_rcu thread");
	return failures ? 1 : 0;
}
