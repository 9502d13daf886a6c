/* SPDX-License-Identifier: MIT */
/*
 * An experiment's program, not part of the library: what a load costs
 * right after a kernel entry, on this machine, against the same load warm.
 *
 * Each round makes getppid(2) (a kernel entry that does next to nothing)
 * or no system call, then follows a chain of K pointers: each load's
 * address is the previous load's value, as a request's code follows the
 * pool to its CPU's cache to a node.  The chain's links are either
 * 320 bytes apart (K lines on a few pages: what a line costs) or 4416
 * bytes apart (K pages, one line each: what a page costs).  Prints the
 * median over 9 runs of N rounds of the time a round, for K = 0, 16, 32,
 * 64, and the cost a link added by the kernel entry.  On a host whose
 * kernel entries flush the TLB (PTI without PCID, PVM), a page costs a
 * page walk after each entry (BENCHMARKS.md, "The one reactor's pages").
 *
 * Usage: kernel_entry_probe [N]     (100000)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RUNS 9
#define SPAN (1ul << 24)

static const int links[] = { 0, 16, 32, 64 };
#define NLINKS (sizeof(links) / sizeof(links[0]))

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median over RUNS runs of `rounds` rounds, ns a round. */
static double time_chain(char *mem, size_t stride, int k, int entry, long rounds)
{
	double runs[RUNS];

	for (int j = 0; j < k; j++)
		*(char **)(mem + (size_t)j * stride) = j + 1 < k ? mem + (size_t)(j + 1) * stride : NULL;
	for (int r = 0; r < RUNS; r++) {
		double start = now_ns();

		for (long i = 0; i < rounds; i++) {
			if (entry)
				syscall(SYS_getppid);
			for (char *p = k != 0 ? mem : NULL; p != NULL;)
				p = *(char *volatile *)p;
		}
		runs[r] = (now_ns() - start) / (double)rounds;
	}
	qsort(runs, RUNS, sizeof(runs[0]), by_value);
	return runs[RUNS / 2];
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 100000;
	char *mem = mmap(NULL, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (rounds <= 0 || mem == MAP_FAILED) {
		fprintf(stderr, "usage: %s [rounds > 0]\n", argv[0]);
		return 2;
	}
	madvise(mem, SPAN, MADV_NOHUGEPAGE);	/* 4 KiB pages, as malloc's */
	for (int layout = 0; layout < 2; layout++) {
		size_t stride = layout == 0 ? 5 * 64 : 4096 + 5 * 64;
		double t[2][NLINKS];

		for (int entry = 0; entry < 2; entry++)
			for (unsigned int i = 0; i < NLINKS; i++)
				t[entry][i] = time_chain(mem, stride, links[i], entry, rounds);
		printf("%s apart:\n", layout == 0 ? "links 320 bytes" : "links a page");
		for (unsigned int i = 0; i < NLINKS; i++) {
			double warm = t[0][i] - t[0][0], cold = t[1][i] - t[1][0];

			printf("  %2d links: %6.1f ns warm, %6.1f after getppid", links[i], warm, cold);
			if (links[i] != 0)
				printf(": +%.1f ns a link", (cold - warm) / links[i]);
			printf("\n");
		}
	}
	return 0;
}
