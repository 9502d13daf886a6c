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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mapreg.h>

static mapreg_action deallocate(void *device, mapreg_transfer *xfer, mapreg_base base,
				void *context)
{
	(void)device, (void)xfer, (void)base, (void)context;
	return MAPREG_DEALLOCATE_OBJECT;
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
	if (strcmp(argv[1], "malloc") == 0) {
		for (long i = 0; i < n; i++) {
			void *volatile p = malloc(64);
			free(p);
		}
		return 0;
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
	return 0;
}
