/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Log-linear latency histograms for the report: memory is bounded by the
 * value range, not by the number of samples, and any percentile is read
 * back within 1/64 (1.6%) of the true sample value.
 *
 * Values below 64 get a bucket each; above, every power of two is split into
 * 32 equal buckets. Buckets are allocated in chunks on first use, so a
 * histogram whose samples span a few octaves costs a few KiB.
 */
#ifndef CTRACE_STATS_H
#define CTRACE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS) /* buckets per power of two */
#define HIST_LINEAR   (2 * HIST_SUB)	    /* values with a bucket each */
#define HIST_BUCKETS  (HIST_LINEAR + (64 - HIST_SUB_BITS - 1) * HIST_SUB)
#define HIST_CHUNK    64
#define HIST_CHUNKS   ((HIST_BUCKETS + HIST_CHUNK - 1) / HIST_CHUNK)

struct hist {
	uint64_t count, sum, min, max;
	uint64_t *chunk[HIST_CHUNKS];
};

/* Returns -1 only when a bucket chunk cannot be allocated (the sample is lost). */
int hist_add(struct hist *h, uint64_t v);
int hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100): the bucket's midpoint, within [min, max]. */
uint64_t hist_pct(const struct hist *h, double p);
uint64_t hist_mean(const struct hist *h);
void hist_free(struct hist *h);

/* Bucket index for v and the range of values [lo, lo + width) it holds. */
unsigned int hist_index(uint64_t v);
void hist_bucket_range(unsigned int idx, uint64_t *lo, uint64_t *width);

/*
 * Power-of-two view as runqlat prints it: out[k] counts samples in
 * [2^k, 2^(k+1)) (out[0] also holds 0). Returns the highest k in use + 1.
 */
int hist_log2(const struct hist *h, uint64_t out[64]);

#endif /* CTRACE_STATS_H */
