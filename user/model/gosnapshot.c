// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine snapshots, assembled from their chunks and compared one with
 * the next: counts by state, goroutines appearing and ending, and waits
 * that lasted across snapshots. A snapshot with a chunk missing or out of
 * order is dropped whole and counted.
 */
#include <stdlib.h>
#include <string.h>
#include "model/gosnapshot.h"

/* Entries one snapshot may hold here; the collector writes at most 100k. */
#define GSM_MAX_ENTS (1u << 20)

/* One goroutine of a snapshot, with its wait as followed across snapshots. */
struct mg {
	int64_t goid;
	uint64_t startpc;
	uint16_t reason;
	uint8_t state;	    /* enum gsm_state */
	uint64_t first_ts;  /* waiting: first snapshot of this wait */
	uint64_t ws_waited; /* waiting: mono_ts - g.waitsince, 0 unknown */
};

struct mproc {
	uint32_t tgid;
	int minor;
	const struct go_gstatus *gs;
	bool assembling;
	uint32_t seq;
	uint16_t next_chunk;
	struct rec_go_snap hdr; /* of the first chunk */
	struct mg *cur, *prev;
	uint32_t ncur, nprev, cap;
	bool have_prev;
	uint64_t prev_ts;
};

struct gosnapm {
	struct ctr_reader *r;
	const struct gsm_ops *ops;
	void *ctx;
	struct mproc *procs;
	uint32_t nprocs;
	struct gsm_totals tot;
	struct gsm_blocked longs[GSM_LONG_MAX];
	uint32_t nlong;
	bool finished;
};

static const char *const state_names[GSM__COUNT] = {
    [GSM_RUNNING] = "running", [GSM_RUNNABLE] = "runnable", [GSM_SYSCALL] = "syscall",
    [GSM_WAITING] = "waiting", [GSM_OTHER] = "other",
};

const char *gsm_state_name(enum gsm_state s)
{
	return (unsigned)s < GSM__COUNT ? state_names[s] : "other";
}

struct gosnapm *gosnapm_new(struct ctr_reader *r, const struct gsm_ops *ops, void *ctx)
{
	struct gosnapm *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->r = r;
	m->ops = ops;
	m->ctx = ctx;
	return m;
}

static struct mproc *proc_get(struct gosnapm *m, uint32_t tgid)
{
	const struct ctr_go_proc *gp;
	struct mproc *p;

	for (uint32_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].tgid == tgid)
			return &m->procs[i];
	/* Without its REC_GO_PROC the status values are unknown. */
	gp = ctr_go_proc_find(m->r, tgid);
	if (!gp || !go_gstatus_for_version(gp->major, gp->minor) || m->nprocs >= GO_MAX_PROCS)
		return NULL;
	p = realloc(m->procs, (m->nprocs + 1) * sizeof(*p));
	if (!p)
		return NULL;
	m->procs = p;
	p = &m->procs[m->nprocs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	p->minor = gp->minor;
	p->gs = go_gstatus_for_version(gp->major, gp->minor);
	m->tot.nprocs = m->nprocs;
	return p;
}

static enum gsm_state state_of(const struct go_gstatus *gs, uint32_t st)
{
	if (st == (uint32_t)gs->running)
		return GSM_RUNNING;
	if (st == (uint32_t)gs->runnable)
		return GSM_RUNNABLE;
	if (st == (uint32_t)gs->syscall)
		return GSM_SYSCALL;
	if (st == (uint32_t)gs->waiting)
		return GSM_WAITING;
	return GSM_OTHER;
}

static int grow(struct mproc *p, uint32_t need)
{
	uint32_t cap = p->cap ? p->cap : 1024;
	struct mg *a, *b;

	if (need <= p->cap)
		return 0;
	if (need > GSM_MAX_ENTS)
		return -1;
	while (cap < need)
		cap *= 2;
	a = realloc(p->cur, cap * sizeof(*a));
	if (a)
		p->cur = a;
	b = realloc(p->prev, cap * sizeof(*b));
	if (b)
		p->prev = b;
	if (!a || !b)
		return -1;
	p->cap = cap;
	return 0;
}

/* Keeps the GSM_LONG_MAX longest waits, shortest replaced first. */
static void offer_long(struct gosnapm *m, const struct mproc *p, const struct mg *g,
		       uint64_t last_ts, bool ongoing)
{
	uint64_t waited = last_ts - g->first_ts;
	struct gsm_blocked *b;
	bool ws = false;

	if (g->ws_waited > waited) {
		waited = g->ws_waited;
		ws = true;
	}
	if (waited < GSM_LONG_BLOCK_NS)
		return;
	if (m->nlong < GSM_LONG_MAX) {
		b = &m->longs[m->nlong++];
	} else {
		b = &m->longs[0];
		for (uint32_t i = 1; i < m->nlong; i++)
			if (m->longs[i].waited_ns < b->waited_ns)
				b = &m->longs[i];
		if (b->waited_ns >= waited)
			return;
	}
	*b = (struct gsm_blocked){
	    .tgid = p->tgid,
	    .goid = g->goid,
	    .reason = g->reason,
	    .kind = go_waitreason_kind(p->minor, g->reason),
	    .first_ts = g->first_ts,
	    .last_ts = last_ts,
	    .waited_ns = waited,
	    .from_waitsince = ws,
	    .ongoing = ongoing,
	    .startpc = g->startpc,
	};
}

static int cmp_mg(const void *a, const void *b)
{
	const struct mg *x = a, *y = b;

	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

/* Whether cur continues prev's wait: same reason, still waiting. */
static bool same_wait(const struct mg *prev, const struct mg *cur)
{
	return prev->state == GSM_WAITING && cur->state == GSM_WAITING &&
	       prev->reason == cur->reason && prev->startpc == cur->startpc;
}

/*
 * Walks prev and cur (both in goid order) together: carries waits over,
 * closes those that ended, counts goroutines that appeared and ended.
 */
static void compare(struct gosnapm *m, struct mproc *p, struct gsm_snapshot *s)
{
	uint32_t i = 0, j = 0;

	while (i < p->nprev || j < p->ncur) {
		struct mg *a = i < p->nprev ? &p->prev[i] : NULL;
		struct mg *b = j < p->ncur ? &p->cur[j] : NULL;

		if (a && (!b || a->goid < b->goid)) {
			s->ended += p->have_prev;
			if (a->state == GSM_WAITING)
				offer_long(m, p, a, p->prev_ts, false);
			i++;
		} else if (b && (!a || b->goid < a->goid)) {
			s->appeared += p->have_prev;
			j++;
		} else {
			if (same_wait(a, b))
				b->first_ts = a->first_ts;
			else if (a->state == GSM_WAITING)
				offer_long(m, p, a, p->prev_ts, false);
			i++;
			j++;
		}
	}
}

static void finish_snapshot(struct gosnapm *m, struct mproc *p, const struct rec_go_snap *last)
{
	struct gsm_snapshot s = {
	    .tgid = p->tgid,
	    .seq = p->seq,
	    .ts = p->hdr.h.ts,
	    .total = p->ncur,
	    .implausible = last->implausible,
	    .unreadable = last->unreadable,
	    .read_us = last->read_us,
	    .capped = p->hdr.h.flags & GO_SNAP_CAPPED,
	};
	struct mg *t;

	qsort(p->cur, p->ncur, sizeof(*p->cur), cmp_mg);
	for (uint32_t k = 0; k < p->ncur; k++) {
		s.by_state[p->cur[k].state]++;
		if (p->cur[k].state == GSM_WAITING)
			s.waiting_by_kind[go_waitreason_kind(p->minor, p->cur[k].reason)]++;
	}
	compare(m, p, &s);
	m->tot.snapshots++;
	m->tot.implausible += s.implausible;
	m->tot.unreadable += s.unreadable;
	m->tot.capped += s.capped;
	if (s.read_us > m->tot.max_read_us)
		m->tot.max_read_us = s.read_us;
	if (m->ops && m->ops->snapshot)
		m->ops->snapshot(m->ctx, &s);
	t = p->prev;
	p->prev = p->cur;
	p->cur = t;
	p->nprev = p->ncur;
	p->ncur = 0;
	p->have_prev = true;
	p->prev_ts = s.ts;
}

static void add_entries(struct mproc *p, const struct rec_go_snap *e)
{
	for (uint32_t k = 0; k < e->count; k++) {
		const struct go_snap_ent *x = &e->ent[k];
		struct mg *g = &p->cur[p->ncur++];

		g->goid = x->goid;
		g->startpc = x->startpc;
		g->state = state_of(p->gs, x->status);
		g->reason = g->state == GSM_WAITING ? x->reason : 0;
		g->first_ts = e->h.ts;
		g->ws_waited = 0;
		/* the runtime's nanotime; set by the GC for goroutines it found waiting */
		if (g->state == GSM_WAITING && x->waitsince > 0 &&
		    (uint64_t)x->waitsince <= e->mono_ts)
			g->ws_waited = e->mono_ts - x->waitsince;
	}
}

void gosnapm_event(struct gosnapm *m, const struct ev_header *h)
{
	const struct rec_go_snap *e = (const void *)h;
	struct mproc *p;

	if (h->type != REC_GO_SNAP || m->finished || !(p = proc_get(m, h->tgid)))
		return;
	if (h->flags & GO_SNAP_FIRST) {
		if (p->assembling)
			m->tot.incomplete++;
		p->assembling = true;
		p->seq = e->seq;
		p->next_chunk = 0;
		p->hdr = *e;
		p->ncur = 0;
	} else if (!p->assembling || e->seq != p->seq || e->chunk != p->next_chunk) {
		m->tot.incomplete += p->assembling;
		p->assembling = false;
		return;
	}
	if (e->chunk != p->next_chunk || grow(p, p->ncur + e->count)) {
		m->tot.incomplete++;
		p->assembling = false;
		return;
	}
	add_entries(p, e);
	p->next_chunk++;
	if (h->flags & GO_SNAP_LAST) {
		p->assembling = false;
		finish_snapshot(m, p, e);
	}
}

static int cmp_long(const void *a, const void *b)
{
	const struct gsm_blocked *x = a, *y = b;

	if (x->waited_ns != y->waited_ns)
		return x->waited_ns > y->waited_ns ? -1 : 1;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->goid != y->goid)
		return x->goid < y->goid ? -1 : 1;
	return x->first_ts < y->first_ts ? -1 : x->first_ts > y->first_ts;
}

void gosnapm_finish(struct gosnapm *m)
{
	if (m->finished)
		return;
	m->finished = true;
	for (uint32_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];

		m->tot.incomplete += p->assembling;
		for (uint32_t k = 0; k < p->nprev; k++)
			if (p->prev[k].state == GSM_WAITING)
				offer_long(m, p, &p->prev[k], p->prev_ts, true);
	}
	qsort(m->longs, m->nlong, sizeof(m->longs[0]), cmp_long);
	for (uint32_t i = 0; i < m->nlong; i++) {
		struct gsm_blocked *b = &m->longs[i];
		const struct ctr_go_proc *gp = ctr_go_proc_find(m->r, b->tgid);
		const struct ctr_go_sym *sym = ctr_go_sym(m->r, b->tgid, b->startpc, true);
		const char *rs = gp ? go_waitreason_string(gp->minor, b->reason) : NULL;

		b->reason_str = rs ? rs : "";
		b->start_func = sym ? sym->func : NULL;
	}
}

const struct gsm_totals *gosnapm_totals(const struct gosnapm *m)
{
	return &m->tot;
}

size_t gosnapm_long_blocked(const struct gosnapm *m, const struct gsm_blocked **out)
{
	*out = m->longs;
	return m->nlong;
}

void gosnapm_free(struct gosnapm *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nprocs; i++) {
		free(m->procs[i].cur);
		free(m->procs[i].prev);
	}
	free(m->procs);
	free(m);
}
