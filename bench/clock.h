/* SPDX-License-Identifier: MIT */
/*
 * Per-operation timestamps for latency histograms.
 *
 * On x86-64 with an invariant TSC (constant_tsc and nonstop_tsc in
 * /proc/cpuinfo) a timestamp is a fenced rdtsc: `lfence; rdtsc` before the
 * measured code, `rdtscp; lfence` after it, so the operation cannot drift
 * out of the window.  Ticks are converted to nanoseconds by a rate
 * calibrated against CLOCK_MONOTONIC_RAW.  Elsewhere, or with
 * clock_init(false), a timestamp is clock_gettime(CLOCK_MONOTONIC) in ns.
 *
 * The cost of an empty window (the two timestamps back to back) is measured
 * at start-up; clock_elapsed_ns() subtracts its median, and the benchmarks
 * report it, so a histogram holds the operation's time, not the timer's.
 * The invariant TSC is synchronised across CPUs, so a window may open on
 * one thread and close on another.
 */
#ifndef MAPREG_BENCH_CLOCK_H
#define MAPREG_BENCH_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

struct clock_info {
	bool tsc;			/* ticks are TSC cycles, else ns */
	double ns_per_tick;
	uint64_t overhead_ticks;	/* median of an empty window */
	double overhead_ns;
};

extern struct clock_info clock_info;

/* Chooses the source, calibrates it and measures the overhead; once, at start. */
void clock_init(bool allow_tsc);
const char *clock_source_name(void);

static inline uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Opens a window: later loads and stores cannot start before it. */
static inline uint64_t clock_start(void)
{
#if defined(__x86_64__)
	if (clock_info.tsc) {
		_mm_lfence();
		return __rdtsc();
	}
#endif
	return clock_monotonic_ns();
}

/* Closes a window: earlier instructions have finished before it. */
static inline uint64_t clock_stop(void)
{
#if defined(__x86_64__)
	if (clock_info.tsc) {
		unsigned int aux;
		uint64_t t = __rdtscp(&aux);

		_mm_lfence();
		return t;
	}
#endif
	return clock_monotonic_ns();
}

/* Nanoseconds between two timestamps, less the timer's own cost, never negative. */
static inline uint64_t clock_elapsed_ns(uint64_t start, uint64_t stop)
{
	uint64_t ticks = stop > start ? stop - start : 0;

	ticks = ticks > clock_info.overhead_ticks ? ticks - clock_info.overhead_ticks : 0;
	return (uint64_t)((double)ticks * clock_info.ns_per_tick + 0.5);
}

#endif /* MAPREG_BENCH_CLOCK_H */
