// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The go1.19 trace's rules, checked on each event before it is written.
 * Go 1.19's parser merges the per-P streams by goroutine state and sequence
 * number (order.go: an event is taken only when its goroutine is in the
 * state it needs) and then replays them (postProcessTrace): a goroutine runs
 * on one P at a time; GoStart needs it runnable and the P free; a block,
 * yield, preemption, syscall or end needs it running on that P; GoUnblock
 * and GoSysExit need it waiting (blocked, or in a syscall that lost its P);
 * GoCreate needs a goroutine id never seen; ProcStart/ProcStop alternate
 * and a P stops with no goroutine on it; g 0 never runs. Timestamps never go
 * back on a P or for a goroutine, so the merge, which takes the earliest
 * ready event, comes out in time order.
 *
 * Keeping those rules here, apart from the writer's reconstruction, makes
 * the file's consistency independent of how well the reconstruction went:
 * with lost, duplicated or reordered records the writer may ask for an
 * event that does not fit, and the checker writes the transition missing
 * before it (a preemption, a wake-up by the runtime on P -1, a ProcStart)
 * or leaves the event out, and counts either.
 */
#include <stdlib.h>
#include <string.h>
#include "formats/gotrace_rules.h"
#include "lib/idmap.h"

enum cg_state {
	CG_RUNNABLE = 1,
	CG_RUNNING,
	CG_WAITING,
	CG_DEAD,
};

struct cg {
	enum cg_state st;
	int p;	      /* while running */
	uint64_t seq; /* the parser's sequence number: the next GoStart/GoUnblock/GoSysExit's */
	uint64_t last_ts;
};

struct cp {
	bool running; /* ProcStart written, no ProcStop since */
	uint64_t cur; /* goroutine running on it, 0: none */
	uint64_t last_ts;
};

struct gtc {
	gtc_put_fn put;
	void *ctx;
	uint64_t t0;
	struct cp ps[GTC_MAX_P + 1]; /* index p + 1 */
	struct idmap gs;	     /* goid -> struct cg * */
	struct gtc_counts n;
};

#define MAX_ARGS 8

struct gtc *gtc_new(uint64_t t0, gtc_put_fn put, void *ctx)
{
	struct gtc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->put = put;
	c->ctx = ctx;
	c->t0 = t0;
	for (int i = 0; i <= GTC_MAX_P; i++)
		c->ps[i].last_ts = t0;
	return c;
}

void gtc_free(struct gtc *c)
{
	size_t it = 0;
	uint64_t v;

	if (!c)
		return;
	while (idmap_next(&c->gs, &it, NULL, &v))
		free((void *)(uintptr_t)v);
	idmap_free(&c->gs);
	free(c);
}

struct gtc_counts gtc_counts(const struct gtc *c)
{
	return c->n;
}

static struct cp *cp_of(struct gtc *c, int p)
{
	return p >= -1 && p < GTC_MAX_P ? &c->ps[p + 1] : NULL;
}

static struct cg *cg_find(const struct gtc *c, uint64_t goid)
{
	return goid ? idmap_get_ptr(&c->gs, goid) : NULL;
}

static struct cg *cg_add(struct gtc *c, uint64_t goid, enum cg_state st, uint64_t seq)
{
	struct cg *g = calloc(1, sizeof(*g));

	if (!g || idmap_put_ptr(&c->gs, goid, g)) {
		free(g);
		return NULL;
	}
	g->st = st;
	g->p = -1;
	g->seq = seq;
	g->last_ts = c->t0;
	return g;
}

uint64_t gtc_running(const struct gtc *c, int p)
{
	return p >= -1 && p < GTC_MAX_P ? c->ps[p + 1].cur : 0;
}

/* Writes an event no earlier than the P's and the goroutine's last one. */
static void put(struct gtc *c, int p, int type, uint64_t ts, struct cg *g, const uint64_t *args,
		int nargs)
{
	struct cp *ps = cp_of(c, p);

	if (ts < ps->last_ts)
		ts = ps->last_ts;
	if (g && ts < g->last_ts)
		ts = g->last_ts;
	ps->last_ts = ts;
	if (g)
		g->last_ts = ts;
	c->put(c->ctx, p, type, ts, args, nargs);
}

static void drop(struct gtc *c)
{
	c->n.dropped++;
}

/* Repair: the goroutine running on p stops, preempted (the trace's most neutral stop). */
static void preempt_cur(struct gtc *c, int p, uint64_t ts)
{
	struct cp *ps = cp_of(c, p);
	struct cg *g = cg_find(c, ps->cur);
	uint64_t stk = 0;

	ps->cur = 0;
	if (!g)
		return;
	g->st = CG_RUNNABLE;
	put(c, p, EV_GO_PREEMPT, ts, g, &stk, 1);
	c->n.repaired++;
}

/* Repair: a waiting goroutine is woken by the runtime (P -1, no stack). */
static void unblock_repair(struct gtc *c, uint64_t goid, struct cg *g, uint64_t ts)
{
	uint64_t args[3] = {goid, g->seq++, 0};

	g->st = CG_RUNNABLE;
	put(c, -1, EV_GO_UNBLOCK_T, ts, g, args, 3);
	c->n.repaired++;
}

bool gtc_declare(struct gtc *c, uint64_t goid, bool waiting)
{
	/* GoCreate makes seq 1; GoWaiting/GoInSyscall (at seq 1) makes 2. */
	if (!goid || cg_find(c, goid))
		return false;
	return cg_add(c, goid, waiting ? CG_WAITING : CG_RUNNABLE, waiting ? 2 : 1) != NULL;
}

static void ev_start(struct gtc *c, int p, uint64_t ts, uint64_t goid, uint64_t *args, int nargs)
{
	struct cp *ps = cp_of(c, p);
	struct cg *g = cg_find(c, goid);
	uint64_t tid = 0;

	if (p < 0 || !g || g->st == CG_DEAD || nargs < 2) {
		drop(c);
		return;
	}
	if (g->st == CG_RUNNING && g->p == p && ps->cur == goid) {
		drop(c); /* it runs there already */
		return;
	}
	if (ps->cur)
		preempt_cur(c, p, ts);
	if (g->st == CG_RUNNING)
		preempt_cur(c, g->p, ts);
	if (g->st == CG_WAITING)
		unblock_repair(c, goid, g, ts);
	if (!ps->running) {
		ps->running = true;
		put(c, p, EV_PROC_START, ts, NULL, &tid, 1);
		c->n.repaired++;
	}
	args[1] = g->seq++;
	g->st = CG_RUNNING;
	g->p = p;
	ps->cur = goid;
	put(c, p, EV_GO_START_T, ts, g, args, nargs);
}

/*
 * An event that needs goid running on p: a stop, a syscall. Written on the
 * P it does run on if that is another one; dropped if it runs nowhere.
 */
static struct cg *running_on(struct gtc *c, int *p, uint64_t goid)
{
	struct cg *g = cg_find(c, goid);

	if (!g || g->st != CG_RUNNING || cp_of(c, g->p)->cur != goid) {
		drop(c);
		return NULL;
	}
	if (g->p != *p) {
		*p = g->p;
		c->n.repaired++;
	}
	return g;
}

static void ev_stop(struct gtc *c, int p, int type, uint64_t ts, uint64_t goid,
		    const uint64_t *args, int nargs)
{
	struct cg *g = running_on(c, &p, goid);

	if (!g)
		return;
	cp_of(c, p)->cur = 0;
	switch (type) {
	case EV_GO_END:
		g->st = CG_DEAD;
		break;
	case EV_GO_SCHED_T:
	case EV_GO_PREEMPT:
		g->st = CG_RUNNABLE;
		break;
	default:
		g->st = CG_WAITING;
		break;
	}
	put(c, p, type, ts, g, args, nargs);
}

/* GoUnblock, GoSysExit: goid waits, and becomes runnable. */
static void ev_wake(struct gtc *c, int p, int type, uint64_t ts, uint64_t goid, uint64_t *args,
		    int nargs)
{
	struct cg *g = cg_find(c, goid);

	if (!g || g->st != CG_WAITING || nargs < 2) {
		drop(c);
		return;
	}
	args[1] = g->seq++;
	g->st = CG_RUNNABLE;
	put(c, p, type, ts, g, args, nargs);
}

static void ev_create(struct gtc *c, int p, uint64_t ts, uint64_t goid, const uint64_t *args,
		      int nargs)
{
	struct cg *g;

	/* The parser refuses an id seen before, even a dead goroutine's. */
	if (!goid || cg_find(c, goid) || !(g = cg_add(c, goid, CG_RUNNABLE, 1))) {
		drop(c);
		return;
	}
	put(c, p, EV_GO_CREATE_T, ts, g, args, nargs);
}

static void ev_proc(struct gtc *c, int p, int type, uint64_t ts, const uint64_t *args, int nargs)
{
	struct cp *ps = cp_of(c, p);

	if (p < 0 || ps->running == (type == EV_PROC_START)) {
		drop(c);
		return;
	}
	if (type == EV_PROC_STOP && ps->cur)
		preempt_cur(c, p, ts);
	ps->running = type == EV_PROC_START;
	put(c, p, type, ts, NULL, args, nargs);
}

static void check(struct gtc *c, int p, int type, uint64_t ts, uint64_t goid, uint64_t *args,
		  int nargs)
{
	switch (type) {
	case EV_PROC_START:
	case EV_PROC_STOP:
		ev_proc(c, p, type, ts, args, nargs);
		return;
	case EV_GO_CREATE_T:
		ev_create(c, p, ts, goid, args, nargs);
		return;
	case EV_GO_START_T:
		ev_start(c, p, ts, goid, args, nargs);
		return;
	case EV_GO_END:
	case EV_GO_SCHED_T:
	case EV_GO_PREEMPT:
	case EV_GO_SLEEP:
	case EV_GO_BLOCK_T:
	case EV_GO_BLOCK_SEND:
	case EV_GO_BLOCK_RECV:
	case EV_GO_BLOCK_SELECT:
	case EV_GO_BLOCK_SYNC:
	case EV_GO_BLOCK_COND:
	case EV_GO_BLOCK_NET:
	case EV_GO_BLOCK_GC:
	case EV_GO_SYSBLOCK:
		ev_stop(c, p, type, ts, goid, args, nargs);
		return;
	case EV_GO_SYSCALL: {
		struct cg *g = running_on(c, &p, goid);

		if (g)
			put(c, p, type, ts, g, args, nargs);
		return;
	}
	case EV_GO_UNBLOCK_T:
	case EV_GO_SYSEXIT:
		ev_wake(c, p, type, ts, goid, args, nargs);
		return;
	default:
		/* No ordering rule (the writer writes no other event types through here). */
		put(c, p, type, ts, NULL, args, nargs);
		return;
	}
}

bool gtc_event(struct gtc *c, int p, int type, uint64_t ts, uint64_t goid, const uint64_t *in,
	       int nargs)
{
	uint64_t args[MAX_ARGS], dropped = c->n.dropped;

	if (!cp_of(c, p) || nargs < 0 || nargs > MAX_ARGS) {
		drop(c);
		return false;
	}
	if (ts < c->t0)
		ts = c->t0;
	if (nargs)
		memcpy(args, in, nargs * sizeof(*in));
	check(c, p, type, ts, goid, args, nargs);
	return c->n.dropped == dropped;
}

void gtc_finish(struct gtc *c, uint64_t ts)
{
	for (int p = 0; p < GTC_MAX_P; p++) {
		struct cp *ps = cp_of(c, p);

		if (ps->cur)
			preempt_cur(c, p, ts);
		if (ps->running) {
			ps->running = false;
			put(c, p, EV_PROC_STOP, ts, NULL, NULL, 0);
			c->n.repaired++;
		}
	}
}
