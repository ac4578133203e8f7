// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include "report/stats.h"

unsigned int hist_index(uint64_t v)
{
	unsigned int msb;

	if (v < HIST_LINEAR)
		return v;
	msb = 63 - __builtin_clzll(v);
	/* msb >= SUB_BITS + 1: the top SUB_BITS bits below the msb pick the bucket. */
	return HIST_LINEAR + (msb - HIST_SUB_BITS - 1) * HIST_SUB +
	       ((v >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

void hist_bucket_range(unsigned int idx, uint64_t *lo, uint64_t *width)
{
	unsigned int k, shift;

	if (idx < HIST_LINEAR) {
		*lo = idx;
		*width = 1;
		return;
	}
	k = idx - HIST_LINEAR;
	shift = k / HIST_SUB + 1;
	*lo = (uint64_t)(HIST_SUB + k % HIST_SUB) << shift;
	*width = 1ull << shift;
}

int hist_add(struct hist *h, uint64_t v)
{
	unsigned int i = hist_index(v), c = i / HIST_CHUNK;

	if (!h->chunk[c]) {
		h->chunk[c] = calloc(HIST_CHUNK, sizeof(uint64_t));
		if (!h->chunk[c])
			return -1;
	}
	h->chunk[c][i % HIST_CHUNK]++;
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	return 0;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return 0;
	for (unsigned int c = 0; c < HIST_CHUNKS; c++) {
		if (!src->chunk[c])
			continue;
		if (!dst->chunk[c]) {
			dst->chunk[c] = calloc(HIST_CHUNK, sizeof(uint64_t));
			if (!dst->chunk[c])
				return -1;
		}
		for (unsigned int j = 0; j < HIST_CHUNK; j++)
			dst->chunk[c][j] += src->chunk[c][j];
	}
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	return 0;
}

uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (p >= 100)
		return h->max;
	if (p <= 0)
		return h->min;
	/* The smallest sample with at least p% of samples at or below it. */
	rank = (uint64_t)(p / 100.0 * h->count);
	if ((double)rank < p / 100.0 * h->count)
		rank++;
	if (!rank)
		rank = 1;
	for (unsigned int c = 0; c < HIST_CHUNKS; c++) {
		if (!h->chunk[c])
			continue;
		for (unsigned int j = 0; j < HIST_CHUNK; j++) {
			uint64_t lo, w, v;

			seen += h->chunk[c][j];
			if (seen < rank)
				continue;
			hist_bucket_range(c * HIST_CHUNK + j, &lo, &w);
			v = lo + w / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

uint64_t hist_mean(const struct hist *h)
{
	return h->count ? h->sum / h->count : 0;
}

void hist_free(struct hist *h)
{
	for (unsigned int c = 0; c < HIST_CHUNKS; c++)
		free(h->chunk[c]);
	memset(h, 0, sizeof(*h));
}

int hist_log2(const struct hist *h, uint64_t out[64])
{
	int top = 0;

	memset(out, 0, 64 * sizeof(uint64_t));
	for (unsigned int c = 0; c < HIST_CHUNKS; c++) {
		if (!h->chunk[c])
			continue;
		for (unsigned int j = 0; j < HIST_CHUNK; j++) {
			uint64_t lo, w;
			int k;

			if (!h->chunk[c][j])
				continue;
			/* A bucket never straddles a power of two. */
			hist_bucket_range(c * HIST_CHUNK + j, &lo, &w);
			k = lo ? 63 - __builtin_clzll(lo) : 0;
			out[k] += h->chunk[c][j];
			if (k + 1 > top)
				top = k + 1;
		}
	}
	return top;
}
