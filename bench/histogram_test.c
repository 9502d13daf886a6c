/* SPDX-License-Identifier: MIT */
/*
 * Unit test of the latency histogram (suite `bench`).  Every check compares
 * against exact arithmetic on the same samples, so a wrong bucket layout,
 * percentile rank or merge fails here rather than skewing a report.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

static unsigned int passed, failed;

static void check(bool ok, const char *name)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL: %s\n", name);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* splitmix64: a deterministic spread of test values. */
static uint64_t next_random(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A value of random magnitude below HIST_LIMIT. */
static uint64_t random_value(void)
{
	unsigned int bits = (unsigned int)(next_random() % HIST_LIMIT_BITS) + 1;

	return next_random() & ((UINT64_C(1) << bits) - 1);
}

static void test_small_values_are_exact(void)
{
	bool ok = true;

	for (uint64_t v = 0; v < 2 * HIST_SUB_COUNT; v++) {
		size_t i = hist_index(v);
		ok &= hist_bucket_low(i) == v && hist_bucket_high(i) == v;
	}
	check(ok, "values below 2^(SUB_BITS+1) have a bucket of their own");
}

static void test_buckets_tile_the_range(void)
{
	bool ok = hist_bucket_low(0) == 0;

	for (size_t i = 0; i + 1 < HIST_BUCKETS; i++)
		ok &= hist_bucket_high(i) + 1 == hist_bucket_low(i + 1) &&
		      hist_index(hist_bucket_low(i)) == i && hist_index(hist_bucket_high(i)) == i;
	check(ok, "buckets are contiguous, ordered, and index their own ends");
	check(hist_index(HIST_LIMIT) == HIST_BUCKETS - 1 &&
	      hist_index(UINT64_MAX) == HIST_BUCKETS - 1, "values past the limit land in the last bucket");
}

static void test_bucket_width_bounds_relative_error(void)
{
	bool ok = true;

	for (int n = 0; n < 100000; n++) {
		uint64_t v = random_value();
		size_t i = hist_index(v);
		uint64_t low = hist_bucket_low(i), width = hist_bucket_high(i) - low + 1;

		ok &= low <= v && v <= hist_bucket_high(i);
		ok &= width == 1 || width <= low / HIST_SUB_COUNT;
	}
	check(ok, "every value lies in its bucket, no wider than 1/2^SUB_BITS of it");
}

static void test_empty_histogram(void)
{
	struct hist h;

	hist_init(&h);
	check(h.count == 0 && hist_percentile(&h, 50) == 0 && hist_percentile(&h, 100) == 0 &&
	      hist_mean(&h) == 0.0, "an empty histogram reports zeros");
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact percentile by the same rank rule: ceil(n * p / 100), 1-based. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double percent)
{
	double exact = (double)n * percent / 100.0;
	size_t rank = (size_t)exact;

	if ((double)rank < exact || rank == 0)
		rank++;
	return sorted[rank - 1];
}

static void test_percentiles_match_exact_within_precision(void)
{
	enum { N = 50000 };
	static uint64_t samples[N];
	static const double percents[] = { 0, 1, 25, 50, 90, 99, 99.9, 99.99, 100 };
	struct hist h;
	bool never_under = true, within = true;

	hist_init(&h);
	for (size_t i = 0; i < N; i++) {
		samples[i] = random_value() >> (next_random() % 30);
		hist_record(&h, samples[i]);
	}
	qsort(samples, N, sizeof(samples[0]), compare_u64);
	for (size_t k = 0; k < sizeof(percents) / sizeof(percents[0]); k++) {
		uint64_t want = exact_percentile(samples, N, percents[k]);
		uint64_t got = hist_percentile(&h, percents[k]);

		never_under &= got >= want;
		within &= got - want <= want / HIST_SUB_COUNT;
	}
	check(never_under, "percentiles never under-report");
	check(within, "percentiles are within one bucket width of the exact value");
	check(hist_percentile(&h, 100) == samples[N - 1] && h.max == samples[N - 1] &&
	      h.min == samples[0], "p100, min and max are exact");
}

static void test_uniform_median(void)
{
	struct hist h;

	hist_init(&h);
	for (uint64_t v = 1; v <= 10000; v++)
		hist_record(&h, v);
	uint64_t p50 = hist_percentile(&h, 50), p99 = hist_percentile(&h, 99);
	check(p50 >= 5000 && p50 <= 5000 + 5000 / HIST_SUB_COUNT, "p50 of 1..10000 is 5000 to precision");
	check(p99 >= 9900 && p99 <= 9900 + 9900 / HIST_SUB_COUNT, "p99 of 1..10000 is 9900 to precision");
	check(hist_mean(&h) == 5000.5, "mean of 1..10000 is exact");
}

static void test_rank_rule_on_exact_values(void)
{
	struct hist h;

	hist_init(&h);
	for (uint64_t v = 1; v <= 10; v++)
		hist_record(&h, v);
	/* The sample of rank ceil(10 * p / 100): 5 for p50, 6 just above it. */
	check(hist_percentile(&h, 50) == 5 && hist_percentile(&h, 50.1) == 6 &&
	      hist_percentile(&h, 10) == 1 && hist_percentile(&h, 10.5) == 2 &&
	      hist_percentile(&h, 0) == 1 && hist_percentile(&h, 99.9) == 10,
	      "a percentile is the sample of rank ceil(count * p / 100)");
}

static void test_merge_equals_recording_together(void)
{
	static struct hist a, b, both;

	hist_init(&a);
	hist_init(&b);
	hist_init(&both);
	for (int n = 0; n < 20000; n++) {
		uint64_t v = random_value() + 1;

		hist_record(n % 3 ? &a : &b, v);
		hist_record(&both, v);
	}
	/* The extremes in `b`, so a merge that drops b's min or max shows. */
	hist_record(&b, 0);
	hist_record(&both, 0);
	hist_record(&b, HIST_LIMIT - 1);
	hist_record(&both, HIST_LIMIT - 1);
	hist_merge(&a, &b);
	check(memcmp(&a, &both, sizeof(a)) == 0, "merging two histograms equals recording into one");
}

static void test_overflow_keeps_exact_max(void)
{
	struct hist h;

	hist_init(&h);
	hist_record(&h, 7);
	hist_record(&h, HIST_LIMIT * 3);
	check(h.buckets[HIST_BUCKETS - 1] == 1 && h.max == HIST_LIMIT * 3 &&
	      hist_percentile(&h, 100) == HIST_LIMIT * 3 && hist_percentile(&h, 50) == 7,
	      "a value past the limit is counted in the last bucket with its exact max");
}

int main(void)
{
	test_small_values_are_exact();
	test_buckets_tile_the_range();
	test_bucket_width_bounds_relative_error();
	test_empty_histogram();
	test_percentiles_match_exact_within_precision();
	test_uniform_median();
	test_rank_rule_on_exact_values();
	test_merge_equals_recording_together();
	test_overflow_keeps_exact_max();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
