// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The overhead governor: see governor.h. */
#include "record/governor.h"

/*
 * A nearly idle target would be judged against a tiny CPU time, where a
 * handful of hits reads as a large share: the denominator is at least this
 * fraction of one CPU over the interval.
 */
#define GOV_MIN_CPU_SHARE 0.1

void gov_init(struct governor *g, double ns_per_hit, double max_pct, uint64_t now, uint64_t hits,
	      uint64_t cpu_ns)
{
	g->ns_per_hit = ns_per_hit;
	g->max_share = max_pct / 100.0;
	g->ts = now;
	g->hits = hits;
	g->cpu_ns = cpu_ns;
	g->last_share = 0;
}

bool gov_over(struct governor *g, uint64_t now, uint64_t hits, uint64_t cpu_ns)
{
	uint64_t dt = now - g->ts;
	double probe_ns, cpu;

	if (now < g->ts || dt < GOV_MIN_INTERVAL_NS)
		return false;
	probe_ns = (double)(hits >= g->hits ? hits - g->hits : 0) * g->ns_per_hit;
	cpu = cpu_ns >= g->cpu_ns ? (double)(cpu_ns - g->cpu_ns) : 0;
	if (cpu < GOV_MIN_CPU_SHARE * dt)
		cpu = GOV_MIN_CPU_SHARE * dt;
	g->last_share = probe_ns / cpu;
	g->ts = now;
	g->hits = hits;
	g->cpu_ns = cpu_ns;
	return g->last_share > g->max_share;
}
