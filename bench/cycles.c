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
 *   malloc  malloc(64) + free
 *
 * Usage: cycles SHAPE BACKEND N     (BACKEND: locked | lockfree)
 * The process has had a second thread (as any user of mapreg has), so that
 * glibc's mutex takes its atomic path.
 * cycles-hooked (the counting build: the library's code with only the hook
 * below) with MAPREG_ASSUME_RSEQ set runs the lock-free backend's
 * restartable sequences under callgrind, which has none.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void *nothing(void *arg)
{
	return arg;
}

static int fail(const char *what, mapreg_status s)
{
	fprintf(stderr, "cycles: %s: %s\n", what, mapreg_status_str(s));
	return 1;
}

int main(int argc, char **argv)
{
	mapreg_backend backend;

	if (argc != 4 || mapreg_backend_by_name(argv[2], &backend) != MAPREG_OK) {
		fprintf(stderr, "usage: %s sync|async|malloc locked|lockfree N\n", argv[0]);
		return 2;
	}
	long n = strtol(argv[3], NULL, 10);
	/*
	 * glibc skips the atomics of a mutex while the process has only ever
	 * had one thread; a program that uses mapreg has more.  One thread
	 * started and joined makes every lock count as it would there.
	 */
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
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

	mapreg_pool *pool;
	mapreg_adapter *adapter;
	mapreg_transfer xfer;
	mapreg_base base;
	mapreg_status s = mapreg_pool_create(&(mapreg_pool_config){ .registers = 64,
								    .backend = backend }, &pool);
	if (s != MAPREG_OK)
		return fail("pool_create", s);
	if ((s = mapreg_adapter_create(pool, NULL, &adapter, NULL)) != MAPREG_OK ||
	    (s = mapreg_transfer_init(adapter, &xfer)) != MAPREG_OK)
		return fail("set-up", s);
	bool sync = strcmp(argv[1], "sync") == 0;
	if (!sync && strcmp(argv[1], "async") != 0) {
		fprintf(stderr, "cycles: unknown shape %s\n", argv[1]);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		if (sync) {
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
	if ((s = mapreg_adapter_destroy(adapter)) != MAPREG_OK ||
	    (s = mapreg_pool_destroy(pool)) != MAPREG_OK)
		return fail("teardown", s);
	return copy_maps();
}
