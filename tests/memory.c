/* SPDX-License-Identifier: MIT */
/*
 * Pool memory per register, measured with mallinfo2: at most 16 bytes per
 * register plus a fixed per-CPU cost (the lock-free issue's bound), for a
 * 2^20-register pool on each backend.  Prints the figure the README quotes.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mapreg.h>

#define REGISTERS (1u << 20)
#define BYTES_PER_REGISTER_MAX 16.0

/* Bytes in use from the heap and from malloc's own mmaps (large blocks). */
static size_t allocated(void)
{
	struct mallinfo2 info = mallinfo2();

	return info.uordblks + info.hblkhd;
}

int main(int argc, char **argv)
{
	const char *name = argc > 2 && strcmp(argv[1], "--backend") == 0 ? argv[2] : "lockfree";
	mapreg_pool_config config = { .registers = REGISTERS };

	if (mapreg_backend_by_name(name, &config.backend) != MAPREG_OK)
		return 2;
	mapreg_pool *pool;

	size_t before = allocated();
	if (mapreg_pool_create(&config, &pool) != MAPREG_OK)
		return 1;
	size_t bytes = allocated() - before;
	double per_register = (double)bytes / REGISTERS;
	printf("1..1\n");
	printf("%s - %s: a 2^20-register pool takes %zu bytes: %.3f bytes per register "
	       "(bound %.0f)\n", per_register <= BYTES_PER_REGISTER_MAX ? "ok 1" : "not ok 1",
	       name, bytes, per_register, BYTES_PER_REGISTER_MAX);
	mapreg_pool_destroy(pool);
	return per_register <= BYTES_PER_REGISTER_MAX ? 0 : 1;
}
