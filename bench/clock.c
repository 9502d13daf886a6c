/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct clock_info clock_info = { .tsc = false, .ns_per_tick = 1.0 };

/* Whether /proc/cpuinfo promises a TSC that ticks at one rate in every state. */
static bool invariant_tsc(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool constant = false, nonstop = false;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

static uint64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * TSC ticks per ns over a 20 ms window, taken three times; the median rate
 * resists a preemption landing inside one window.
 */
static double calibrate_ns_per_tick(void)
{
	double rates[3];

	for (int r = 0; r < 3; r++) {
		uint64_t ns0 = raw_ns(), t0 = clock_start(), ns1, t1;

		do {
			ns1 = raw_ns();
		} while (ns1 - ns0 < 20000000u);
		t1 = clock_stop();
		rates[r] = (double)(ns1 - ns0) / (double)(t1 - t0);
	}
	for (int i = 0; i < 2; i++)		/* sort three */
		for (int j = 0; j < 2 - i; j++)
			if (rates[j] > rates[j + 1]) {
				double x = rates[j];
				rates[j] = rates[j + 1];
				rates[j + 1] = x;
			}
	return rates[1];
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median cost of an empty window, in ticks. */
static uint64_t measure_overhead_ticks(void)
{
	enum { SAMPLES = 10001 };
	static uint64_t samples[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = clock_start();
		uint64_t t1 = clock_stop();

		samples[i] = t1 - t0;
	}
	qsort(samples, SAMPLES, sizeof(samples[0]), compare_u64);
	return samples[SAMPLES / 2];
}

void clock_init(bool allow_tsc)
{
#if defined(__x86_64__)
	clock_info.tsc = allow_tsc && invariant_tsc();
#else
	(void)allow_tsc;
	clock_info.tsc = false;
#endif
	clock_info.ns_per_tick = clock_info.tsc ? calibrate_ns_per_tick() : 1.0;
	clock_info.overhead_ticks = measure_overhead_ticks();
	clock_info.overhead_ns = (double)clock_info.overhead_ticks * clock_info.ns_per_tick;
}

const char *clock_source_name(void)
{
	return clock_info.tsc ? "tsc" : "clock_gettime";
}
