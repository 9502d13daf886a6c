/* SPDX-License-Identifier: MIT */
/*
 * A small log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are unsigned integers (nanoseconds here).  Values below
 * 2^HIST_SUB_BITS are counted exactly; above that, every power-of-two range
 * [2^e, 2^(e+1)) is cut into 2^HIST_SUB_BITS equal buckets, so a bucket is
 * never wider than 2^-HIST_SUB_BITS of the values it holds (1.6 % with 6
 * bits).  Values at or above HIST_LIMIT land in the last bucket; the exact
 * maximum is kept on the side.
 *
 * A histogram is plain memory written by one thread: give each thread its
 * own and merge them once the threads are done.
 */
#ifndef MAPREG_BENCH_HISTOGRAM_H
#define MAPREG_BENCH_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIST_SUB_BITS 6
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_LIMIT_BITS 40				/* 2^40 ns: 18 minutes */
#define HIST_LIMIT (UINT64_C(1) << HIST_LIMIT_BITS)
/* Group 0 holds [0, 2^SUB_BITS); group g >= 1 holds [2^(SUB_BITS+g-1), 2^(SUB_BITS+g)). */
#define HIST_GROUPS (HIST_LIMIT_BITS - HIST_SUB_BITS + 1)
#define HIST_BUCKETS (HIST_GROUPS * HIST_SUB_COUNT)

struct hist {
	uint64_t count;
	uint64_t min;			/* exact; UINT64_MAX while empty */
	uint64_t max;			/* exact; 0 while empty */
	uint64_t sum;			/* for the mean; saturates, never wraps */
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
/* Adds every sample of `from` to `into`. */
void hist_merge(struct hist *into, const struct hist *from);

/* The bucket that counts `value`, and the range [low, high] it stands for. */
size_t hist_index(uint64_t value);
uint64_t hist_bucket_low(size_t index);
uint64_t hist_bucket_high(size_t index);

/*
 * The smallest value v such that at least `percent` % of the samples are
 * <= v, to the histogram's precision: the top of the bucket holding that
 * sample, but never above the exact maximum (so it never under-reports).
 * 0 for an empty histogram; percent >= 100 gives the exact maximum.
 */
uint64_t hist_percentile(const struct hist *h, double percent);
double hist_mean(const struct hist *h);

#ifdef __cplusplus
}
#endif

#endif /* MAPREG_BENCH_HISTOGRAM_H */
