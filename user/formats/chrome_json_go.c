// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutines in the Chrome JSON trace, as pseudo-threads of their process.
 *
 *  - tid = base + goid. With one Go process base is 0x40000000 (real tids
 *    stay below 2^22); with several the range is split between them, since
 *    Trace Processor keys threads by tid alone.
 *  - A goroutine's states are consecutive X slices named by gostate's label
 *    ("Running", "Runnable", "Blocked: chan receive", "Syscall: read").
 *  - base + 0 (no goroutine has goid 0) is "Go runtime": a 2 ns slice per
 *    wake-up the runtime did (timer, netpoller, ...), ending at the wake.
 *  - Wake-ups and go statements are v1 flows, cat "goroutine", name
 *    "unblock" or "create": "s" at the wake strictly inside the waker's
 *    open slice, "f" (bp:e) at the start of the wakee's next slice. Both are
 *    written with that slice, so a flow that cannot bind is dropped whole
 *    (and counted in the metadata).
 *
 * Slices are written when they end; state is kept per live goroutine.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/chrome_json_go.h"
#include "lib/json.h"
#include "model/gostate.h"

#define GO_TID_BASE 0x40000000u
#define GO_TID_SPAN 0x40000000u /* shared by the Go processes */
#define RT_SLICE_NS 2		/* a runtime wake-up's slice, ending at the wake */

#define OUT_LIT(o, s) out_write(o, s, sizeof(s) - 1)

#define FLOW_CAT "goroutine"

struct gtrk;

struct gproc {
	uint32_t tgid;
	uint32_t base; /* pseudo-tid of goid 0, the "Go runtime" thread */
	bool rt_named;
	bool rt_used;
	uint64_t rt_end;   /* end of its last slice */
	bool dead;	   /* the process exited: its goroutines are over */
	struct gtrk *live; /* its goroutines */
};

/* What a Runnable slice follows, and what a pending flow is. */
enum why { W_NONE, W_WAKE, W_CREATE };

struct gtrk {
	struct gproc *proc;
	struct gtrk *prev, *next; /* in proc->live */
	uint32_t tid;

	/* The open slice. */
	bool open;
	enum gs_state state;
	const char *label;
	uint64_t start;
	uint64_t floor;	   /* end of the previous slice: none starts earlier */
	uint64_t last_out; /* latest s placed in the open slice, 0: none */
	uint32_t thr;
	uint16_t cpu;
	int32_t p;
	bool preempted;
	enum why why;
	int64_t by_goid;      /* waker or creator */
	const char *by_label; /* the runtime's waker */
	bool sampled;	      /* "source: sampled": bounded by kernel events */
	int nstack;	      /* Blocked: its own stack, Runnable: the waker's/creator's */
	__u64 stack[GO_MAX_STACK];

	/* The flow into the next slice that has a length. */
	enum why in;
	bool in_ok; /* its s is strictly inside a slice */
	uint64_t in_id;
	uint64_t in_ts;
	uint32_t in_tid;
};

struct cjgo {
	struct ctr_reader *r;
	struct out *o;
	bool *first;
	bool *oom;
	bool quiet; /* freeing after an error: write nothing */
	uint64_t t0, end;
	struct gostate *gs;
	struct gproc *procs;
	size_t nprocs;
	uint32_t span;				 /* goids per process */
	const struct ctr_go_period *mode_switch; /* auto mode's switch, until written */

	uint64_t flow_id;
	uint64_t goroutines, untracked;
	uint64_t wakes, wake_flows, creates, create_flows;

	/* The last Syscall transition, for cjgo_syscall_goid(). */
	uint32_t sys_tid;
	uint64_t sys_ts;
	int64_t sys_goid;

	char stackbuf[4096];
};

static void sep(struct cjgo *c)
{
	if (*c->first) {
		OUT_LIT(c->o, "\n");
		*c->first = false;
	} else {
		OUT_LIT(c->o, ",\n");
	}
}

static const char *fmt_ts(struct cjgo *c, char *buf, size_t len, uint64_t ts)
{
	return json_fmt_us(buf, len, (int64_t)(ts - c->t0));
}

static void name_thread(struct cjgo *c, uint32_t pid, uint32_t tid, const char *name, int64_t sort)
{
	sep(c);
	out_printf(
	    c->o,
	    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", pid,
	    tid);
	json_put_str(c->o, name);
	OUT_LIT(c->o, "}}");
	sep(c);
	out_printf(c->o,
		   "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%u,\"tid\":%u,"
		   "\"args\":{\"sort_index\":%d}}",
		   pid, tid, sort > INT_MAX ? INT_MAX : (int)sort);
}

static struct gproc *proc_find(struct cjgo *c, uint32_t tgid)
{
	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].tgid == tgid)
			return &c->procs[i];
	return NULL;
}

static void arg_sep(struct cjgo *c, int *n)
{
	if ((*n)++)
		OUT_LIT(c->o, ",");
}

static void arg_stack(struct cjgo *c, uint32_t tgid, struct gtrk *k, const char *key, int *n)
{
	if (!k->nstack)
		return;
	gs_format_stack(c->r, tgid, k->stack, k->nstack, c->stackbuf, sizeof(c->stackbuf));
	if (!c->stackbuf[0])
		return;
	arg_sep(c, n);
	out_printf(c->o, "\"%s\":", key);
	json_put_str(c->o, c->stackbuf);
}

static void write_flow(struct cjgo *c, struct gtrk *k, uint32_t pid)
{
	const char *name = k->in == W_CREATE ? "create" : "unblock";
	char t0[32], t1[32];

	sep(c);
	out_printf(c->o,
		   "{\"ph\":\"s\",\"id\":%" PRIu64 ",\"cat\":\"" FLOW_CAT
		   "\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
		   k->in_id, name, pid, k->in_tid, fmt_ts(c, t0, sizeof(t0), k->in_ts));
	sep(c);
	out_printf(c->o,
		   "{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64 ",\"cat\":\"" FLOW_CAT
		   "\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
		   k->in_id, name, pid, k->tid, fmt_ts(c, t1, sizeof(t1), k->start));
	if (k->in == W_CREATE)
		c->create_flows++;
	else
		c->wake_flows++;
}

/* Ends the open slice of a goroutine at ts and writes it, with its flow in. */
static void slice_end(struct cjgo *c, struct gs_gor *g, struct gtrk *k, uint64_t ts)
{
	char t0[32], dur[32];
	int n = 0;

	if (!k->open)
		return;
	k->open = false;
	if (ts < k->start)
		ts = k->start;
	/*
	 * The wake-ups it did show it still in this slice then, even when a
	 * repaired stop is dated back to its last transition.
	 */
	if (k->last_out && ts <= k->last_out)
		ts = k->last_out + 1;
	k->last_out = 0;
	k->floor = ts;
	/* Nothing to draw; a pending flow goes to the next slice, same start. */
	if (ts == k->start)
		return;
	if (k->in) {
		if (k->in_ok)
			write_flow(c, k, g->tgid);
		k->in = W_NONE;
	}
	sep(c);
	out_printf(c->o,
		   "{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,\"name\":", g->tgid,
		   k->tid, fmt_ts(c, t0, sizeof(t0), k->start),
		   json_fmt_us(dur, sizeof(dur), (int64_t)(ts - k->start)));
	json_put_str(c->o, k->label);
	OUT_LIT(c->o, ",\"args\":{");
	switch (k->state) {
	case GS_RUNNING:
	case GS_SYSCALL:
		arg_sep(c, &n);
		out_printf(c->o, "\"tid\":%u,\"cpu\":%u", k->thr, k->cpu);
		if (k->p >= 0)
			out_printf(c->o, ",\"P\":%d", k->p);
		break;
	case GS_BLOCKED:
		arg_stack(c, g->tgid, k, "stack", &n);
		break;
	case GS_RUNNABLE:
		if (k->preempted) {
			arg_sep(c, &n);
			OUT_LIT(c->o, "\"preempted\":true");
		}
		if (k->why == W_NONE)
			break;
		arg_sep(c, &n);
		if (k->by_goid) {
			out_printf(c->o, "\"%s\":%" PRId64,
				   k->why == W_CREATE ? "created_by_goid" : "woken_by_goid",
				   k->by_goid);
		} else {
			OUT_LIT(c->o, "\"woken_by\":");
			json_put_str(c->o, k->by_label);
		}
		arg_stack(c, g->tgid, k, k->why == W_CREATE ? "created_at" : "waker_stack", &n);
		break;
	default:
		break;
	}
	if (k->sampled) {
		arg_sep(c, &n);
		OUT_LIT(c->o, "\"source\":\"sampled\"");
	}
	OUT_LIT(c->o, "}}");
}

static void slice_begin(struct gtrk *k, const struct gs_trans *t)
{
	k->open = true;
	k->state = t->to;
	k->label = t->label ? t->label : "?";
	k->start = t->ts > k->floor ? t->ts : k->floor;
	k->last_out = 0;
	k->thr = t->tid;
	k->cpu = t->cpu;
	k->p = t->p;
	k->preempted = t->to == GS_RUNNABLE && t->preempted;
	k->sampled = t->sampled;
	k->why = W_NONE;
	k->by_goid = 0;
	k->by_label = NULL;
	k->nstack = 0;
	if (t->to == GS_BLOCKED && t->stack && t->nstack > 0) {
		k->nstack = t->nstack < GO_MAX_STACK ? t->nstack : GO_MAX_STACK;
		memcpy(k->stack, t->stack, k->nstack * sizeof(k->stack[0]));
	}
}

/* The runtime's slice for a wake-up at ts; false if it would overlap the last one. */
static bool runtime_slice(struct cjgo *c, struct gproc *p, uint64_t ts, const char *label,
			  int64_t goid)
{
	char t0[32], dur[32];

	/* wake-ups at the same ts share one slice */
	if (p->rt_used && p->rt_end == ts)
		return true;
	if (ts < RT_SLICE_NS + c->t0 || (p->rt_used && p->rt_end + RT_SLICE_NS > ts))
		return false;
	if (!p->rt_named) {
		name_thread(c, p->tgid, p->base, "Go runtime", 0);
		p->rt_named = true;
	}
	p->rt_used = true;
	p->rt_end = ts;
	sep(c);
	out_printf(c->o,
		   "{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,\"name\":", p->tgid,
		   p->base, fmt_ts(c, t0, sizeof(t0), ts - RT_SLICE_NS),
		   json_fmt_us(dur, sizeof(dur), RT_SLICE_NS));
	json_put_str(c->o, label);
	out_printf(c->o, ",\"args\":{\"goid\":%" PRId64 "}}", goid);
	return true;
}

/* k was just made runnable by a wake-up or a go statement (t). */
static void wake(struct cjgo *c, const struct gs_trans *t, struct gtrk *k)
{
	struct gs_gor *wg;
	struct gtrk *w;

	k->why = t->from == GS_NONE && !t->g->at_attach ? W_CREATE : W_WAKE;
	k->by_goid = t->waker_goid;
	k->by_label = t->waker_goid ? NULL : t->waker_label;
	if (t->stack && t->nstack > 0) {
		k->nstack = t->nstack < GO_MAX_STACK ? t->nstack : GO_MAX_STACK;
		memcpy(k->stack, t->stack, k->nstack * sizeof(k->stack[0]));
	}
	if (k->why == W_CREATE)
		c->creates++;
	else
		c->wakes++;
	/* An earlier flow that found no slice with a length is dropped. */
	k->in = k->why;
	k->in_id = ++c->flow_id;
	k->in_ok = false;
	if (!t->waker_goid) {
		k->in_ok = runtime_slice(c, k->proc, t->ts, k->by_label, t->g->goid);
		k->in_tid = k->proc->base;
		k->in_ts = t->ts - 1;
		return;
	}
	wg = gostate_find(c->gs, t->g->tgid, t->waker_goid);
	w = wg ? wg->user : NULL;
	/* s binds to the slice open at its ts: be strictly inside it */
	if (!w || w == k || !w->open || w->start >= t->ts)
		return;
	k->in_ok = true;
	k->in_tid = w->tid;
	k->in_ts = t->ts;
	if (t->ts > w->last_out)
		w->last_out = t->ts;
}

static void on_create(void *ctx, struct gs_gor *g, uint64_t ts, const __u64 *stack, int n)
{
	struct cjgo *c = ctx;
	struct gproc *p;
	struct gtrk *k;

	g->user = NULL;
	if (c->quiet)
		return;
	c->goroutines++;
	p = proc_find(c, g->tgid);
	if (!p || g->goid < 1 || (uint64_t)g->goid >= c->span) {
		c->untracked++;
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		*c->oom = true;
		return;
	}
	k->proc = p;
	k->tid = p->base + (uint32_t)g->goid;
	k->next = p->live;
	if (p->live)
		p->live->prev = k;
	p->live = k;
	g->user = k;
	name_thread(c, g->tgid, k->tid, g->name, g->goid);
}

static void on_transition(void *ctx, const struct gs_trans *t)
{
	struct cjgo *c = ctx;
	struct gtrk *k = t->g->user;

	if (t->to == GS_SYSCALL) {
		c->sys_tid = t->tid;
		c->sys_ts = t->ts;
		c->sys_goid = t->g->goid;
	}
	if (!k || c->quiet || k->proc->dead)
		return;
	slice_end(c, t->g, k, t->ts);
	if (t->to == GS_DEAD || t->to == GS_UNSEEN)
		return;
	slice_begin(k, t);
	if (t->to == GS_RUNNABLE && (t->from == GS_BLOCKED || t->from == GS_NONE) &&
	    (t->waker_goid || t->waker_label))
		wake(c, t, k);
}

static void on_destroy(void *ctx, struct gs_gor *g)
{
	struct cjgo *c = ctx;
	struct gtrk *k = g->user;

	if (!k)
		return;
	if (!c->quiet)
		slice_end(c, g, k, c->end > g->since ? c->end : g->since);
	if (k->prev)
		k->prev->next = k->next;
	else
		k->proc->live = k->next;
	if (k->next)
		k->next->prev = k->prev;
	free(k);
	g->user = NULL;
}

static const struct gs_ops ops = {
    .create = on_create,
    .transition = on_transition,
    .destroy = on_destroy,
};

struct cjgo *cjgo_new(struct ctr_reader *r, struct out *o, bool *first, bool *oom)
{
	size_t n = ctr_go_proc_count(r);
	struct cjgo *c;

	if (!n)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->procs = calloc(n, sizeof(*c->procs)))) {
		free(c);
		*oom = true;
		return NULL;
	}
	c->r = r;
	c->o = o;
	c->first = first;
	c->oom = oom;
	c->t0 = ctr_info(r)->start_ts;
	c->nprocs = n;
	c->span = GO_TID_SPAN / n;
	/* in the capture's order, so the tids are the same every time */
	for (size_t i = 0; i < n; i++) {
		c->procs[i].tgid = ctr_go_proc_at(r, i)->tgid;
		c->procs[i].base = GO_TID_BASE + (uint32_t)i * c->span;
	}
	c->gs = gostate_new(r, &ops, c);
	if (!c->gs) {
		free(c->procs);
		free(c);
		*oom = true;
		return NULL;
	}
	c->mode_switch = ctr_go_switch(r);
	return c;
}

/* Auto mode's switch: a process-wide instant per Go process, with why. */
static void mode_instant(struct cjgo *c)
{
	const struct ctr_go_period *sw = c->mode_switch;
	char ts[32];

	c->mode_switch = NULL;
	for (size_t i = 0; i < c->nprocs; i++) {
		sep(c);
		out_printf(c->o,
			   "{\"ph\":\"i\",\"s\":\"p\",\"pid\":%u,\"tid\":%u,\"ts\":%s,"
			   "\"name\":\"goroutines: full -> sampled\",\"args\":{\"reason\":\"%s\"",
			   c->procs[i].tgid, c->procs[i].tgid, fmt_ts(c, ts, sizeof(ts), sw->ts),
			   sw->reason == GO_MODE_BY_GOVERNOR ? "governor" : "other");
		if (sw->reason == GO_MODE_BY_GOVERNOR)
			out_printf(c->o,
				   ",\"estimated_probe_cost_pct\":%.1f,"
				   "\"estimated_probe_cost_ppm\":%u",
				   sw->est_ppm / 1e4, sw->est_ppm);
		OUT_LIT(c->o, "}}");
	}
}

/*
 * The last thread of a Go process exited: so did its goroutines. gostate
 * keeps them (in their last state) until the end of the capture, which
 * may be long after; end their slices here.
 */
static void proc_exit(struct cjgo *c, uint32_t tgid, uint64_t ts)
{
	struct gproc *p = proc_find(c, tgid);

	if (!p || p->dead)
		return;
	for (struct gtrk *k = p->live; k; k = k->next) {
		struct gs_gor *g = gostate_find(c->gs, tgid, (int64_t)(k->tid - p->base));

		if (g && g->user == k)
			slice_end(c, g, k, ts);
	}
	p->dead = true;
}

void cjgo_event(struct cjgo *c, const struct ev_header *h)
{
	if (c->mode_switch && h->ts >= c->mode_switch->ts && !c->quiet)
		mode_instant(c);
	gostate_event(c->gs, h);
	if (h->type == EV_PROCESS_EXIT && (h->flags & EXIT_GROUP_DEAD) &&
	    h->size >= sizeof(struct ev_process_exit))
		proc_exit(c, ((const struct ev_process_exit *)h)->tgid, h->ts);
}

int64_t cjgo_syscall_goid(const struct cjgo *c, uint32_t tid, uint64_t ts)
{
	return c->sys_tid == tid && c->sys_ts == ts ? c->sys_goid : 0;
}

void cjgo_finish(struct cjgo *c, uint64_t end)
{
	c->end = end;
	if (c->mode_switch && end >= c->mode_switch->ts && !c->quiet)
		mode_instant(c);
	gostate_finish(c->gs, end);
}

void cjgo_metadata(struct cjgo *c)
{
	out_printf(c->o,
		   ",\n\"goroutines\":%" PRIu64 ",\n\"goroutines_untracked\":%" PRIu64
		   ",\n\"goroutine_wakes\":%" PRIu64 ",\n\"goroutine_wake_flows\":%" PRIu64
		   ",\n\"goroutine_wakes_without_flow\":%" PRIu64
		   ",\n\"goroutine_creates\":%" PRIu64 ",\n\"goroutine_create_flows\":%" PRIu64
		   ",\n\"goroutine_creates_without_flow\":%" PRIu64
		   ",\n\"goroutine_repairs\":%" PRIu64 ",\n\"goroutine_tid_base\":{",
		   c->goroutines, c->untracked, c->wakes, c->wake_flows, c->wakes - c->wake_flows,
		   c->creates, c->create_flows, c->creates - c->create_flows,
		   gostate_repairs(c->gs));
	for (size_t i = 0; i < c->nprocs; i++)
		out_printf(c->o, "%s\"%u\":%u", i ? "," : "", c->procs[i].tgid, c->procs[i].base);
	OUT_LIT(c->o, "}");
}

void cjgo_free(struct cjgo *c)
{
	if (!c)
		return;
	c->quiet = true;
	gostate_free(c->gs);
	free(c->procs);
	free(c);
}
