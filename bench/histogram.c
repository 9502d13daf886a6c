/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "histogram.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t hist_index(uint64_t value)
{
	if (value >= HIST_LIMIT)
		return HIST_BUCKETS - 1;
	if (value < HIST_SUB_COUNT)
		return (size_t)value;			/* group 0: exact */
	unsigned int top = 63u - (unsigned int)__builtin_clzll(value);	/* >= SUB_BITS */
	unsigned int shift = top - HIST_SUB_BITS;
	size_t group = shift + 1;
	size_t sub = (size_t)(value >> shift) - HIST_SUB_COUNT;	/* 0 .. SUB_COUNT-1 */
	return group * HIST_SUB_COUNT + sub;
}

uint64_t hist_bucket_low(size_t index)
{
	size_t group = index / HIST_SUB_COUNT, sub = index % HIST_SUB_COUNT;

	if (group == 0)
		return sub;
	return (uint64_t)(HIST_SUB_COUNT + sub) << (group - 1);
}

uint64_t hist_bucket_high(size_t index)
{
	size_t group = index / HIST_SUB_COUNT;

	return hist_bucket_low(index) + (group == 0 ? 0 : (UINT64_C(1) << (group - 1)) - 1);
}

static uint64_t saturating_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void hist_record(struct hist *h, uint64_t value)
{
	h->buckets[hist_index(value)]++;
	h->count++;
	h->sum = saturating_add(h->sum, value);
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum = saturating_add(into->sum, from->sum);
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_percentile(const struct hist *h, double percent)
{
	if (h->count == 0)
		return 0;
	if (percent >= 100.0)
		return h->max;
	if (percent < 0.0)
		percent = 0.0;
	/* The rank of the sample wanted, 1-based: ceil(count * percent / 100). */
	double exact = (double)h->count * percent / 100.0;
	uint64_t rank = (uint64_t)exact;
	if ((double)rank < exact || rank == 0)
		rank++;
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			if (i == HIST_BUCKETS - 1)
				return h->max;		/* it also counts values past the limit */
			uint64_t high = hist_bucket_high(i);
			return high < h->max ? high : h->max;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count == 0 ? 0.0 : (double)h->sum / (double)h->count;
}
