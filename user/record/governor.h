/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The overhead governor of auto mode: full goroutine tracing costs the
 * target one probe hit per scheduler transition, so the recorder estimates
 * that cost (hits in an interval times the calibrated cost of a hit) and
 * asks to fall back to sampled mode once it exceeds a share of the target's
 * CPU time over the same interval.
 */
#ifndef CTRACE_GOVERNOR_H
#define CTRACE_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

/* Intervals shorter than this are not judged: too few hits and CPU ticks. */
#define GOV_MIN_INTERVAL_NS 50000000ull

struct governor {
	double ns_per_hit;
	double max_share;	   /* --max-overhead / 100 */
	uint64_t ts, hits, cpu_ns; /* at the start of the current interval */
	double last_share;	   /* the estimate of the last interval judged */
};

void gov_init(struct governor *g, double ns_per_hit, double max_pct, uint64_t now, uint64_t hits,
	      uint64_t cpu_ns);
/*
 * Judges the interval since the last call that returned (or gov_init) once
 * it is long enough. True when the estimated probe cost over it exceeds the
 * limit; g->last_share then holds the estimate (probe time over the
 * target's CPU time).
 */
bool gov_over(struct governor *g, uint64_t now, uint64_t hits, uint64_t cpu_ns);

#endif /* CTRACE_GOVERNOR_H */
