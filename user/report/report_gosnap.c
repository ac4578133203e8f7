// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The report's "Goroutine snapshots" section: per process, goroutines by
 * state over the snapshots (mean, max, last), how many appeared and ended
 * between snapshots, and the long-blocked goroutines (model/gosnapshot).
 * All sampled.
 */
#include <stdlib.h>
#include <string.h>
#include "report/report.h"

static struct rp_gsn_proc *gsn_proc(struct rp_gosnap *g, uint32_t tgid)
{
	struct rp_gsn_proc *p;

	for (size_t i = 0; i < g->nprocs; i++)
		if (g->procs[i].tgid == tgid)
			return &g->procs[i];
	p = realloc(g->procs, (g->nprocs + 1) * sizeof(*p));
	if (!p)
		return NULL;
	g->procs = p;
	p = &g->procs[g->nprocs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	return p;
}

static void on_snapshot(void *ctx, const struct gsm_snapshot *s)
{
	struct report *rp = ctx;
	struct rp_gsn_proc *p;

	if (rp->o.pid && s->tgid != rp->o.pid)
		return;
	p = gsn_proc(rp->gosnap, s->tgid);
	if (!p)
		return;
	if (!p->snapshots++)
		p->first_ts = s->ts;
	p->last_ts = s->ts;
	for (int k = 0; k < GSM__COUNT; k++) {
		p->sum[k] += s->by_state[k];
		if (s->by_state[k] > p->max[k])
			p->max[k] = s->by_state[k];
		p->last[k] = s->by_state[k];
	}
	p->sum_total += s->total;
	if (s->total > p->max_total)
		p->max_total = s->total;
	p->last_total = s->total;
	p->appeared += s->appeared;
	p->ended += s->ended;
}

int rp_gosnap_new(struct report *rp)
{
	static const struct gsm_ops ops = {.snapshot = on_snapshot};

	rp->gosnap = calloc(1, sizeof(*rp->gosnap));
	if (!rp->gosnap)
		return -1;
	rp->gosnap->m = gosnapm_new(rp->r, &ops, rp);
	return rp->gosnap->m ? 0 : -1;
}

void rp_gosnap_event(struct report *rp, const struct ev_header *h)
{
	if (rp->gosnap && h->type == REC_GO_SNAP)
		gosnapm_event(rp->gosnap->m, h);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct rp_gsn_proc *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

void rp_gosnap_finish(struct report *rp)
{
	struct rp_gosnap *g = rp->gosnap;
	const struct gsm_blocked *l;
	size_t n, k = 0;

	if (!g)
		return;
	gosnapm_finish(g->m);
	g->tot = gosnapm_totals(g->m);
	/* A capture without snapshots reports exactly as before. */
	if (!g->tot->snapshots && !g->tot->incomplete) {
		rp_gosnap_free(rp);
		return;
	}
	qsort(g->procs, g->nprocs, sizeof(*g->procs), cmp_proc);
	n = gosnapm_long_blocked(g->m, &l);
	g->longs = l;
	/* --pid: keep that process's rows (the list stays in order) */
	if (rp->o.pid) {
		struct gsm_blocked *w = (struct gsm_blocked *)l;

		for (size_t i = 0; i < n; i++)
			if (l[i].tgid == rp->o.pid)
				w[k++] = l[i];
		n = k;
	}
	g->nlongs = n;
}

void rp_gosnap_free(struct report *rp)
{
	if (!rp->gosnap)
		return;
	gosnapm_free(rp->gosnap->m);
	free(rp->gosnap->procs);
	free(rp->gosnap);
	rp->gosnap = NULL;
}
