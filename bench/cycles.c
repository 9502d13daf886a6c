/* SPDX-License-Identifier: MIT */
/*
 * One fast-path shape, N times, for counting what a cycle costs without the
 * machine's noise: tools/count.sh runs it under callgrind at two values of
 * N and divides the difference of the totals (set-up cancels out).
 *
 * Shapes (1 thread, idle pool of 64, inline adapter, nregs 1):
 *   sync    allocate_channel_ex(SYNCHRONOUS_CALLBACK, no routine, base_out)
 *           + free_adapter_object(KEEP_REGISTERS) + free_map_registers
 *   async   allocate_channel_ex(asynchronous), granted at once; its routine
 *           answers DEALLOCATE_OBJECT
 *   wait    an asynchronous request that must wait for registers (the
 *           pool's one register is held), then the free of the held run,
 *           which grants it: its routine runs inside that free and keeps
 *           the run for the next cycle.  What a request that waits costs
 *           (poll reactors, exhausted pools), one thread, so no contention
 *   poll    one poll reactor's request (bench/poll.c, whose requests
 *           mostly wait), on a poll adapter and a pool of 1: the free of
 *           the held run grants the request waiting for registers into
 *           the poll queue (an eventfd write), mapreg_poll runs its
 *           routine (the eventfd's drain), whose return passes the
 *           channel to the next request, which waits for registers; a
 *           new request then queues for the channel.  Two requests wait
 *           at every cycle's start, one for registers, one for the channel
 *   malloc  malloc(64) + free
 *
 * Usage: cycles SHAPE BACKEND N     (SHAPE: sync | async | wait | poll | malloc;
 *                                    BACKEND: locked | lockfree)
 * The process has a second thread, asleep (as any user of mapreg has more
 * than one), so that glibc's mutex takes its atomic path and the kernel's
 * read(2) and write(2) their shared-file-table path (main, below).
 * cycles-hooked (the counting build: the library's code with only the hook
 * below) with MAPREG_ASSUME_RSEQ set runs the lock-free backend's
 * restartable sequences under callgrind, which has none.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mapreg.h>

#ifdef MAPREG_RSEQ_ASSUMABLE
#include "hooks/fault.h"
#endif

static mapreg_action deallocate(void *device, mapreg_transfer *xfer, mapreg_base base,
				void *context)
{
	(void)device, (void)xfer, (void)base, (void)context;
	return MAPREG_DEALLOCATE_OBJECT;
}

/* The wait shape's request: its run, and how many times a routine ran. */
struct waited {
	mapreg_base base;
	long runs;
};

/* The wait shape's routine: the run is the caller's, for the next free. */
static mapreg_action keep_run(void *device, mapreg_transfer *xfer, mapreg_base base,
			      void *context)
{
	struct waited *w = context;

	(void)device, (void)xfer;
	w->base = base;
	w->runs++;
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* tools/count.py maps callgrind's addresses to the objects through this. */
static int copy_maps(void)
{
	const char *to = getenv("COUNT_MAPS");
	char line[512];

	if (to == NULL)
		return 0;
	FILE *in = fopen("/proc/self/maps", "r"), *out = fopen(to, "w");
	if (in == NULL || out == NULL)
		return 1;
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(line, out);
	fclose(in);
	return fclose(out) != 0;
}

/* The second thread: alive and asleep until the process exits. */
static void *sleep_forever(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static int fail(const char *what, mapreg_status s)
{
	fprintf(stderr, "cycles: %s: %s\n", what, mapreg_status_str(s));
	return 1;
}

/*
 * The poll shape, after run()'s set-up: the pool's one register held, then
 * two requests queued behind it (one holds the channel and waits for
 * registers, one waits for the channel), on three transfers in turn.
 */
static int run_poll(mapreg_pool *pool, mapreg_adapter *adapter, mapreg_transfer *set_up,
		    long n)
{
	mapreg_transfer xfer[3];
	mapreg_base base;
	struct waited waited = { { 0, 0 }, 0 };
	mapreg_status s;

	if ((s = mapreg_transfer_init(adapter, &xfer[0])) != MAPREG_OK ||
	    (s = mapreg_transfer_init(adapter, &xfer[1])) != MAPREG_OK ||
	    (s = mapreg_transfer_init(adapter, &xfer[2])) != MAPREG_OK ||
	    (s = mapreg_allocate_channel_ex(adapter, NULL, set_up, 1,
					    MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, &base)) !=
		    MAPREG_OK ||
	    (s = mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)) !=
		    MAPREG_OK)
		return fail("poll set-up", s);
	for (long i = 0; i < n + 2; i++) {
		if (i >= 2) {
			s = mapreg_free_map_registers(adapter, base, 1);
			if (s != MAPREG_OK)
				return fail("poll: free", s);
			/* The free queued the grant; the routine runs in the poll. */
			if (waited.runs != i - 2 || mapreg_poll(adapter, 2) != 1 ||
			    waited.runs != i - 1)
				return fail("poll: not granted by the free and the poll",
					    MAPREG_INVALID_PARAMETER);
			base = waited.base;
		}
		if (i < n &&
		    (s = mapreg_allocate_channel_ex(adapter, NULL, &xfer[i % 3], 1, 0, keep_run,
						    &waited, NULL)) != MAPREG_OK)
			return fail("poll: submit", s);
	}
	if ((s = mapreg_free_map_registers(adapter, base, 1)) != MAPREG_OK ||
	    waited.runs != n || mapreg_adapter_destroy(adapter) != MAPREG_OK ||
	    mapreg_pool_destroy(pool) != MAPREG_OK)
		return fail("poll tear-down", s);
	return 0;
}

/* N cycles of a mapreg shape, on a pool and an adapter of its own. */
static int run(const char *shape, mapreg_backend backend, long n)
{
	mapreg_pool *pool;
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	mapreg_base base;
	bool poll = strcmp(shape, "poll") == 0;
	bool wait = poll || strcmp(shape, "wait") == 0;
	struct waited waited = { { 0, 0 }, 0 };
	mapreg_status s = mapreg_pool_create(&(mapreg_pool_config){ .registers = wait ? 1 : 64,
								    .backend = backend }, &pool);
	if (s != MAPREG_OK)
		return fail("pool_create", s);
	mapreg_adapter_config polled = { .dispatch = MAPREG_DISPATCH_POLL };
	if ((s = mapreg_adapter_create(pool, poll ? &polled : NULL, &adapter, NULL)) !=
		    MAPREG_OK ||
	    (s = mapreg_transfer_init(adapter, &xfer)) != MAPREG_OK)
		return fail("set-up", s);
	bool sync = strcmp(shape, "sync") == 0;
	if (!sync && !wait && strcmp(shape, "async") != 0) {
		fprintf(stderr, "cycles: unknown shape %s\n", shape);
		return 2;
	}
	if (poll)
		return run_poll(pool, adapter, &xfer, n);
	/* wait: the pool's one register, held as a kept run. */
	if (wait && ((s = mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1,
						     MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						     &base)) != MAPREG_OK ||
		     (s = mapreg_free_adapter_object(adapter,
						     MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)) !=
			     MAPREG_OK))
		return fail("wait set-up", s);
	for (long i = 0; i < n; i++) {
		if (wait) {
			s = mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1, 0, keep_run, &waited,
						       NULL);
			if (s == MAPREG_OK && waited.runs != i)
				return fail("wait: granted at once", MAPREG_INVALID_PARAMETER);
			if (s == MAPREG_OK)
				s = mapreg_free_map_registers(adapter, base, 1);
			/* Its routine ran inside the free, and keeps the run. */
			if (s == MAPREG_OK && waited.runs != i + 1)
				return fail("wait: not granted by the free", MAPREG_INVALID_PARAMETER);
			base = waited.base;
		} else if (sync) {
			s = mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1,
						       MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						       &base);
			if (s == MAPREG_OK)
				s = mapreg_free_adapter_object(adapter,
							       MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS);
			if (s == MAPREG_OK)
				s = mapreg_free_map_registers(adapter, base, 1);
		} else {
			s = mapreg_allocate_channel_ex(adapter, NULL, &xfer, 1, 0, deallocate, NULL,
						       NULL);
		}
		if (s != MAPREG_OK)
			return fail("cycle", s);
	}
	if (wait && (s = mapreg_free_map_registers(adapter, base, 1)) != MAPREG_OK)
		return fail("wait tear-down", s);
	if ((s = mapreg_adapter_destroy(adapter)) != MAPREG_OK ||
	    (s = mapreg_pool_destroy(pool)) != MAPREG_OK)
		return fail("teardown", s);
	return 0;
}

int main(int argc, char **argv)
{
	mapreg_backend backend;

	if (argc != 4 || mapreg_backend_by_name(argv[2], &backend) != MAPREG_OK) {
		fprintf(stderr, "usage: %s sync|async|wait|poll|malloc locked|lockfree N\n", argv[0]);
		return 2;
	}
	long n = strtol(argv[3], NULL, 10);
	/*
	 * A program that uses mapreg has more than one thread, and two things
	 * cost more then: glibc's mutex takes its atomics once the process has
	 * ever had a second thread, and Linux's read(2) and write(2) take and
	 * drop a file reference (two locked instructions in fdget and fput)
	 * while another thread shares the file table.  The lock-free backend's
	 * process has liburcu's call_rcu thread; a thread of ours, alive and
	 * asleep for the whole run, puts the locked backend's eventfd calls on
	 * the same kernel path when the shapes are timed (BENCHMARKS.md).
	 */
	pthread_t t;
	if (pthread_create(&t, NULL, sleep_forever, NULL) != 0 || pthread_detach(t) != 0)
		return 2;
#ifdef MAPREG_RSEQ_ASSUMABLE
	/* cycles-hooked under callgrind: run the rseq path's code (hooks/fault.h). */
	if (getenv("MAPREG_ASSUME_RSEQ") != NULL)
		mapreg_rseq_assume_cpu0();
#endif
	if (strcmp(argv[1], "malloc") == 0) {
		for (long i = 0; i < n; i++) {
			void *volatile p = malloc(64);
			free(p);
		}
		return copy_maps();
	}

	if (run(argv[1], backend, n) != 0)
		return 1;
	return copy_maps();
}
