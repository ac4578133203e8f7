// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The report's single pass over a capture: thread on/off-CPU time and
 * run-queue latency from the scheduler records, syscall latency from paired
 * enter/exit, CPU use and contention, and goroutine time by state, blocking
 * stacks and wake edges from gostate's transitions.
 *
 * Which processes are "targets": with --pid, that one; in a system-wide
 * capture, all; otherwise (-p or a launched command) every process whose
 * syscalls or goroutines were recorded, since the kernel filter records only
 * those, and the children they fork from then on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "go/go_offsets.h"
#include "capture/names.h"
#include "model/gostate.h"
#include "model/threadstate.h"
#include "report/cpuprof.h"
#include "report/report.h"
#include "lib/idmap.h"
#include "lib/util.h"

#define TBUCKETS       4096
#define MAX_STACKS     8192 /* distinct blocking stacks kept; the rest merge */
#define MAX_EDGES      4096
#define MAX_WAKERS     32 /* distinct wakers kept per goroutine group */
#define MAX_SYSCALL_ID 1024

/* Per goroutine, for the time it spends in its current state. */
struct rg {
	struct rp_ggroup *grp;
	struct rp_stack *stack; /* blocked on, or in this syscall */
	struct rp_edge *edge;	/* woken along, until it runs */
	enum rp_reason reason;
	uint32_t exec_tid;  /* running on this thread since exec_mark */
	uint64_t exec_mark; /* the thread's CPU time then */
};

struct rstate {
	struct report *rp;
	struct gostate *gs;
	struct threadstate *ks;
	struct cpuprof *cpu; /* CPU samples by function */
	struct idmap thr;    /* tid -> struct rp_thread * */
	struct idmap proc;   /* tgid -> struct rp_proc * */
	/* Keyed by strings and stacks: chained, with these buckets. */
	struct rp_ggroup *gg[TBUCKETS];
	struct rp_stack *stk[TBUCKETS];
	struct rp_edge *edge[TBUCKETS];
	struct rp_syscall *sys[2][MAX_SYSCALL_ID]; /* [runtime] */
	size_t nstacks, nedges, ngg;
	struct rp_stack *other_stack[RB__COUNT];
	/* Time during which at least one target thread waited for a CPU. */
	uint64_t w_acc, w_ts;
	long nwaiting;
	bool oom;
};

static const char *const gstate_names[RG__COUNT] = {
    "running", "runnable", "sync_block", "net_wait", "sleep", "syscall", "other_block",
};

static const char *const reason_names[RB__COUNT] = {
    "chan", "select", "mutex", "cond", "waitgroup", "net", "sleep", "syscall", "other",
};

const char *rp_gstate_name(enum rp_gstate s)
{
	return (unsigned)s < RG__COUNT ? gstate_names[s] : "?";
}

const char *rp_reason_name(enum rp_reason r)
{
	return (unsigned)r < RB__COUNT ? reason_names[r] : "?";
}

static unsigned int h32(uint64_t k)
{
	return (k * 0x9e3779b97f4a7c15ull) >> 52 & (TBUCKETS - 1);
}

static uint64_t hstr(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

static void *zalloc(struct rstate *s, size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		s->oom = true;
	return p;
}

static char *sdup(struct rstate *s, const char *str)
{
	char *p = strdup(str);

	if (!p)
		s->oom = true;
	return p;
}

/* ---- processes and threads ---- */

static struct rp_proc *proc_get(struct rstate *s, uint32_t tgid)
{
	struct rp_proc *p = idmap_get_ptr(&s->proc, tgid);

	if (p)
		return p;
	p = zalloc(s, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->cpu_ns = calloc(s->rp->ncpus, sizeof(uint64_t));
	if (!p->cpu_ns || idmap_put_ptr(&s->proc, tgid, p)) {
		s->oom = true;
		free(p->cpu_ns);
		free(p);
		return NULL;
	}
	if (s->rp->system && !s->rp->o.pid)
		p->target = true;
	else if (s->rp->o.pid)
		p->target = tgid == s->rp->o.pid;
	return p;
}

static struct rp_thread *thr_get(struct rstate *s, uint32_t tid, uint32_t tgid)
{
	struct rp_thread *t = idmap_get_ptr(&s->thr, tid);

	if (t)
		return t;
	t = zalloc(s, sizeof(*t));
	if (!t)
		return NULL;
	if (idmap_put_ptr(&s->thr, tid, t)) {
		s->oom = true;
		free(t);
		return NULL;
	}
	t->tid = tid;
	t->tgid = tgid ? tgid : tid;
	return t;
}

static bool is_target(struct rstate *s, uint32_t tgid)
{
	struct rp_proc *p = proc_get(s, tgid);

	return p && p->target;
}

/* Running integral of "some target thread waits for a CPU". */
static uint64_t w_at(struct rstate *s, uint64_t ts)
{
	return s->w_acc + (s->nwaiting > 0 && ts > s->w_ts ? ts - s->w_ts : 0);
}

static void set_waiting(struct rstate *s, struct rp_thread *t, bool on, uint64_t ts)
{
	if (t->waiting == on)
		return;
	if (on && !is_target(s, t->tgid))
		return;
	s->w_acc = w_at(s, ts);
	if (ts > s->w_ts)
		s->w_ts = ts;
	s->nwaiting += on ? 1 : -1;
	t->waiting = on;
}

/* ---- keyed tables ---- */

static struct rp_edge *edge_get(struct rstate *s, const char *waker, const char *wakee, bool go)
{
	unsigned int b = h32(hstr(hstr(go, waker), wakee));
	struct rp_edge *e;

	for (e = s->edge[b]; e; e = e->next)
		if (e->go == go && !strcmp(e->waker, waker) && !strcmp(e->wakee, wakee))
			return e;
	if (s->nedges >= MAX_EDGES) {
		waker = "(other)";
		wakee = "(other)";
		b = h32(hstr(hstr(go, waker), wakee));
		for (e = s->edge[b]; e; e = e->next)
			if (e->go == go && !strcmp(e->waker, waker) && !strcmp(e->wakee, wakee))
				return e;
	}
	e = zalloc(s, sizeof(*e));
	if (!e)
		return NULL;
	e->waker = sdup(s, waker);
	e->wakee = sdup(s, wakee);
	if (!e->waker || !e->wakee) {
		free(e->waker);
		free(e->wakee);
		free(e);
		return NULL;
	}
	e->go = go;
	e->next = s->edge[b];
	s->edge[b] = e;
	s->nedges++;
	return e;
}

static struct rp_ggroup *group_get(struct rstate *s, const char *func)
{
	unsigned int b;
	struct rp_ggroup *g;

	if (!func || !*func)
		func = "(unknown)";
	b = h32(hstr(0, func));
	for (g = s->gg[b]; g; g = g->next)
		if (!strcmp(g->func, func))
			return g;
	g = zalloc(s, sizeof(*g));
	if (!g)
		return NULL;
	g->func = sdup(s, func);
	if (!g->func) {
		free(g);
		return NULL;
	}
	g->next = s->gg[b];
	s->gg[b] = g;
	s->ngg++;
	return g;
}

static struct rp_stack *stack_get(struct rstate *s, enum rp_reason reason, uint32_t tgid,
				  const __u64 *pcs, int n, const char *label)
{
	uint64_t h = hstr(reason * 31 + tgid, label ? label : "");
	struct rp_stack *st;
	unsigned int b;

	if (n > GO_MAX_STACK)
		n = GO_MAX_STACK;
	for (int i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0x100000001b3ull;
	b = h32(h);
	for (st = s->stk[b]; st; st = st->next)
		if (st->hash == h && st->reason == reason && st->tgid == tgid && st->nstack == n &&
		    (!n || !memcmp(st->pcs, pcs, n * sizeof(*pcs))) &&
		    !strcmp(st->label ? st->label : "", label ? label : ""))
			return st;
	if (s->nstacks >= MAX_STACKS) {
		/* Bounded: further distinct stacks add up in one row per reason. */
		if (!s->other_stack[reason]) {
			st = zalloc(s, sizeof(*st));
			if (!st)
				return NULL;
			st->reason = reason;
			st->label = sdup(s, "(other stacks)");
			s->other_stack[reason] = st;
		}
		return s->other_stack[reason];
	}
	st = zalloc(s, sizeof(*st));
	if (!st)
		return NULL;
	st->reason = reason;
	st->tgid = tgid;
	st->hash = h;
	st->nstack = n;
	if (n)
		memcpy(st->pcs, pcs, n * sizeof(*pcs));
	if (label)
		st->label = sdup(s, label);
	st->next = s->stk[b];
	s->stk[b] = st;
	s->nstacks++;
	return st;
}

static struct rp_syscall *sys_get(struct rstate *s, long id, bool runtime)
{
	struct rp_syscall *sc;
	char num[32];

	if (id < 0 || id >= MAX_SYSCALL_ID)
		return NULL;
	if (s->sys[runtime][id])
		return s->sys[runtime][id];
	sc = zalloc(s, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->id = id;
	sc->runtime = runtime;
	snprintf(sc->name, sizeof(sc->name), "%s",
		 syscall_name_buf(s->rp->info->machine, id, num, sizeof(num)));
	s->sys[runtime][id] = sc;
	return sc;
}

static void add_waker(struct rstate *s, struct rp_ggroup *g, const char *name)
{
	for (size_t i = 0; i < g->nwakers; i++) {
		if (!strcmp(g->wakers[i].name, name)) {
			g->wakers[i].count++;
			return;
		}
	}
	if (g->nwakers >= MAX_WAKERS) {
		name = "(other)";
		for (size_t i = 0; i < g->nwakers; i++) {
			if (!strcmp(g->wakers[i].name, name)) {
				g->wakers[i].count++;
				return;
			}
		}
	}
	struct rp_waker *w = realloc(g->wakers, (g->nwakers + 1) * sizeof(*w));

	if (!w) {
		s->oom = true;
		return;
	}
	g->wakers = w;
	w[g->nwakers].name = sdup(s, name);
	if (!w[g->nwakers].name)
		return;
	w[g->nwakers].count = 1;
	g->nwakers++;
}

/* ---- scheduler records ---- */

static const char *thread_name(struct rp_thread *t)
{
	if (!t)
		return "(irq)";
	return t->comm[0] ? t->comm : "?";
}

/* What ran on this CPU since its last switch (or the start): CPU use and contention. */
static void on_switch(struct rstate *s, const struct ev_sched_switch *e)
{
	struct report *rp = s->rp;
	uint64_t ts = e->h.ts;
	unsigned int c = e->h.cpu;
	struct rp_cpu *cpu = c < rp->ncpus ? &rp->cpus[c] : NULL;
	struct rp_thread *prev = NULL, *next = NULL;

	if (e->prev_pid)
		prev = thr_get(s, e->prev_pid, e->prev_tgid);
	if (e->next_pid)
		next = thr_get(s, e->next_pid, e->next_tgid);

	if (cpu) {
		uint64_t dur = ts > cpu->since ? ts - cpu->since : 0;

		if (prev) {
			struct rp_proc *p = proc_get(s, prev->tgid);

			prev->on_cpu += dur;
			cpu->busy += dur;
			if (p) {
				p->on_cpu += dur;
				p->cpu_ns[c] += dur;
				if (p->target)
					cpu->target += dur;
				else
					p->contended += w_at(s, ts) - cpu->w_since;
			}
		}
		cpu->since = ts;
		cpu->w_since = w_at(s, ts);
		cpu->cur_tid = e->next_pid;
		cpu->cur_tgid = e->next_tgid;
	}
	if (prev)
		snprintf(prev->comm, sizeof(prev->comm), "%s", e->prev_comm);
	if (next)
		snprintf(next->comm, sizeof(next->comm), "%s", e->next_comm);
}

static void on_wake(struct rstate *s, const struct ev_sched_wake *e)
{
	struct rp_thread *w = thr_get(s, e->pid, e->tgid);

	if (e->h.tid)
		thr_get(s, e->h.tid, e->h.tgid);
	if (w && !w->comm[0])
		snprintf(w->comm, sizeof(w->comm), "%s", e->comm);
}

/* ---- threadstate: switch-outs, switch-ins, wake-ups, syscalls ---- */

static void kt_run_end(void *ctx, const struct kt_run *r)
{
	struct rstate *s = ctx;
	struct rp_thread *prev;

	if (r->how != KT_RUN_SWITCH || !(prev = thr_get(s, r->tid, r->tgid)))
		return;
	prev->on = false;
	prev->seen_out = true;
	prev->out_ts = r->end;
	prev->switches++;
	prev->preempt_ts = 0;
	set_waiting(s, prev, false, r->end);
	/* Runnable (yield) or preempted: either way it waits for a CPU. */
	if (sched_state_running(r->state) && !prev->exit_ts) {
		prev->preempts++;
		prev->preempt_ts = r->end;
		set_waiting(s, prev, true, r->end);
	}
}

static void kt_run_begin(void *ctx, const struct kt_run *r)
{
	struct rstate *s = ctx;
	struct rp_thread *next;
	uint64_t ts = r->start;

	if (r->inferred || !(next = thr_get(s, r->tid, r->tgid)))
		return;
	if (next->seen_out && ts >= next->out_ts)
		next->off_cpu += ts - next->out_ts;
	if (r->wake && ts >= r->wake->ts) {
		uint64_t lat = ts - r->wake->ts;

		hist_add(&next->runqlat, lat);
		next->runnable += lat;
		if (next->wake_edge)
			hist_add(&next->wake_edge->lat, lat);
	} else if (next->preempt_ts && ts >= next->preempt_ts) {
		next->runnable += ts - next->preempt_ts;
	}
	next->wake_edge = NULL;
	next->preempt_ts = 0;
	set_waiting(s, next, false, ts);
	next->on = true;
	next->in_ts = ts;
}

static void kt_wake(void *ctx, const struct kt_wake *kw)
{
	struct rstate *s = ctx;
	struct rp_thread *w, *waker = NULL;

	if (kw->state != KT_WAKE_PENDING || !(w = thr_get(s, kw->tid, kw->tgid)))
		return;
	if (kw->waker_tid)
		waker = thr_get(s, kw->waker_tid, kw->waker_tgid);
	w->wakeups++;
	w->wake_edge = NULL;
	if (is_target(s, w->tgid) || (waker && is_target(s, waker->tgid)))
		w->wake_edge = edge_get(s, thread_name(waker), thread_name(w), false);
	if (w->wake_edge)
		w->wake_edge->count++;
	set_waiting(s, w, true, kw->ts);
}

static void kt_wake_end(void *ctx, const struct kt_wake *kw)
{
	struct rstate *s = ctx;
	struct rp_thread *w;

	/* Ran: kt_run_begin measured it. */
	if (kw->state != KT_WAKE_RAN && (w = thr_get(s, kw->tid, kw->tgid)))
		w->wake_edge = NULL;
}

static void kt_sys_begin(void *ctx, struct kt_sys *sc)
{
	struct rstate *s = ctx;
	struct rp_thread *t;

	if (!is_target(s, sc->tgid) || !(t = thr_get(s, sc->tid, sc->tgid)))
		return;
	/* gostate's transition, right after this, says if a goroutine made it. */
	t->sc_go = false;
}

static void kt_sys_end(void *ctx, const struct kt_sys *sc)
{
	struct rstate *s = ctx;
	struct rp_thread *t;
	struct rp_syscall *rs;
	struct rp_proc *p;

	/* Only whole calls count: entered in the capture, left by their own exit. */
	if (sc->end != KT_SYS_RET || sc->exit_id != sc->id || sc->exit_ts < sc->enter_ts ||
	    !is_target(s, sc->tgid) || !(t = thr_get(s, sc->tid, sc->tgid)))
		return;
	p = proc_get(s, sc->tgid);
	rs = sys_get(s, sc->id, p && p->go && !t->sc_go);
	if (rs) {
		hist_add(&rs->lat, sc->exit_ts - sc->enter_ts);
		if (sc->ret < 0)
			rs->errors++;
	}
}

static void mark_target(struct rstate *s, uint32_t tgid)
{
	struct rp_proc *p;

	if (s->rp->o.pid || s->rp->system)
		return;
	p = proc_get(s, tgid);
	if (p)
		p->target = true;
}

static void on_fork(struct rstate *s, const struct ev_process_fork *e)
{
	struct rp_thread *t;

	if (e->child_tgid != e->parent_tgid && is_target(s, e->parent_tgid))
		mark_target(s, e->child_tgid);
	t = thr_get(s, e->child_pid, e->child_tgid);
	if (t && !t->comm[0])
		snprintf(t->comm, sizeof(t->comm), "%s", e->child_comm);
}

static void set_comm(struct rstate *s, uint32_t tid, uint32_t tgid, const char *comm)
{
	struct rp_thread *t = thr_get(s, tid, tgid);

	if (t)
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
}

static void on_proc_exit(struct rstate *s, const struct ev_process_exit *e)
{
	struct rp_thread *t = thr_get(s, e->pid, e->tgid);
	uint64_t ts = e->h.ts;

	if (t) {
		t->exit_ts = ts;
		t->preempt_ts = 0;
		set_waiting(s, t, false, ts);
	}
	if (e->h.flags & EXIT_GROUP_DEAD) {
		struct rp_proc *p = proc_get(s, e->tgid);

		if (p)
			p->exit_ts = ts;
	}
}

static bool is_go_record(const struct ev_header *h)
{
	return (h->type >= EV_GO_CREATE && h->type <= EV_GO_EXIT) || h->type == REC_GO_G ||
	       h->type == REC_GO_PROC;
}

static void on_event(struct rstate *s, const struct ev_header *h)
{
	switch (h->type) {
	case EV_SCHED_SWITCH:
		on_switch(s, (const void *)h);
		break;
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW:
		on_wake(s, (const void *)h);
		break;
	case EV_PROCESS_FORK:
		on_fork(s, (const void *)h);
		break;
	case EV_PROCESS_EXEC: {
		const struct ev_process_exec *e = (const void *)h;

		set_comm(s, e->pid, h->tgid, e->comm);
		break;
	}
	case EV_TASK_RENAME: {
		const struct ev_task_rename *e = (const void *)h;

		set_comm(s, e->pid, 0, e->newcomm);
		break;
	}
	case EV_PROCESS_EXIT:
		on_proc_exit(s, (const void *)h);
		break;
	case EV_SYS_ENTER:
	case EV_SYS_EXIT:
		/* threadstate pairs them (kt_sys_end); this marks the targets. */
		mark_target(s, h->tgid);
		if (is_target(s, h->tgid))
			thr_get(s, h->tid, h->tgid);
		break;
	default:
		if (is_go_record(h)) {
			struct rp_proc *p;

			s->rp->go_events++;
			mark_target(s, h->tgid);
			p = proc_get(s, h->tgid);
			if (p)
				p->go = true;
		}
		break;
	}
}

/* ---- goroutines ---- */

static enum rp_reason reason_of(int kind)
{
	switch (kind) {
	case GB_CHAN_RECV:
	case GB_CHAN_SEND:
	case GB_CHAN_NIL:
		return RB_CHAN;
	case GB_SELECT:
	case GB_SELECT_NO_CASES:
		return RB_SELECT;
	case GB_MUTEX:
		return RB_MUTEX;
	case GB_COND:
		return RB_COND;
	case GB_WAITGROUP:
		return RB_WAITGROUP;
	case GB_NET:
		return RB_NET;
	case GB_SLEEP:
		return RB_SLEEP;
	case GB_SYSCALL:
		return RB_SYSCALL;
	default:
		return RB_OTHER;
	}
}

static enum rp_gstate gstate_of_reason(enum rp_reason r)
{
	switch (r) {
	case RB_CHAN:
	case RB_SELECT:
	case RB_MUTEX:
	case RB_COND:
	case RB_WAITGROUP:
		return RG_SYNC;
	case RB_NET:
		return RG_NET;
	case RB_SLEEP:
		return RG_SLEEP;
	case RB_SYSCALL:
		return RG_SYSCALL;
	default:
		return RG_OTHER;
	}
}

static void go_create(void *ctx, struct gs_gor *g, uint64_t ts, const __u64 *stack, int nstack)
{
	struct rstate *s = ctx;
	struct rg *x;

	g->user = NULL;
	if (s->rp->o.pid && g->tgid != s->rp->o.pid)
		return;
	x = zalloc(s, sizeof(*x));
	if (!x)
		return;
	x->grp = group_get(s, g->start_func);
	if (!x->grp) {
		free(x);
		return;
	}
	x->grp->count++;
	g->user = x;
}

/* A thread's CPU time up to ts, counting the slice it may be running. */
static uint64_t thread_cpu(struct rstate *s, uint32_t tid, uint64_t ts)
{
	struct rp_thread *t = tid ? thr_get(s, tid, 0) : NULL;

	if (!t)
		return 0;
	return t->on_cpu + (t->on && ts > t->in_ts ? ts - t->in_ts : 0);
}

static void exec_end(struct rstate *s, struct rg *x, uint64_t ts)
{
	uint64_t now;

	if (!x->exec_tid)
		return;
	now = thread_cpu(s, x->exec_tid, ts);
	if (now > x->exec_mark)
		x->grp->exec += now - x->exec_mark;
	x->exec_tid = 0;
}

/* Time spent in the state the goroutine leaves; closed says whether it ended normally. */
static void account(struct rstate *s, struct rg *x, enum gs_state st, uint64_t dur, bool closed)
{
	struct rp_ggroup *grp = x->grp;

	switch (st) {
	case GS_RUNNING:
		grp->t[RG_RUNNING] += dur;
		break;
	case GS_RUNNABLE:
		grp->t[RG_RUNNABLE] += dur;
		break;
	case GS_BLOCKED: {
		enum rp_gstate gst = gstate_of_reason(x->reason);

		grp->t[gst] += dur;
		if (closed && gst == RG_SYNC)
			hist_add(&grp->sync_block, dur);
		break;
	}
	case GS_SYSCALL:
		grp->t[RG_SYSCALL] += dur;
		break;
	default:
		return;
	}
	if ((st == GS_BLOCKED || st == GS_SYSCALL) && x->stack) {
		x->stack->total += dur;
		x->stack->count++;
		if (dur > x->stack->max)
			x->stack->max = dur;
	}
}

static const char *waker_name(struct rstate *s, const struct gs_trans *t)
{
	struct gs_gor *w;

	if (!t->waker_goid)
		return t->waker_label ? t->waker_label : "runtime";
	w = gostate_find(s->gs, t->g->tgid, t->waker_goid);
	if (w && w->start_func && *w->start_func)
		return w->start_func;
	return "(unknown)";
}

static void go_transition(void *ctx, const struct gs_trans *t)
{
	struct rstate *s = ctx;
	struct rg *x = t->g->user;
	uint64_t dur;

	if (!x)
		return;
	dur = t->ts > t->g->since ? t->ts - t->g->since : 0;
	if (t->from == GS_RUNNING)
		exec_end(s, x, t->ts);
	if (t->from != GS_NONE) {
		account(s, x, t->from, dur, true);
		if (t->from == GS_RUNNABLE && t->to == GS_RUNNING) {
			hist_add(&x->grp->sched_wait, dur);
			if (x->edge)
				hist_add(&x->edge->lat, dur);
		}
	}
	x->stack = NULL;
	if (t->to != GS_RUNNABLE)
		x->edge = NULL;

	switch (t->to) {
	case GS_RUNNING:
		x->exec_tid = t->tid;
		x->exec_mark = thread_cpu(s, t->tid, t->ts);
		break;
	case GS_BLOCKED:
		x->reason = reason_of(t->kind);
		x->stack = stack_get(s, x->reason, t->g->tgid, t->stack, t->nstack, NULL);
		break;
	case GS_SYSCALL: {
		char label[160], num[32];

		snprintf(label, sizeof(label), "%s in %s",
			 syscall_name_buf(s->rp->info->machine, t->syscall, num, sizeof(num)),
			 x->grp->func);
		x->reason = RB_SYSCALL;
		x->stack = stack_get(s, RB_SYSCALL, t->g->tgid, NULL, 0, label);
		if (t->tid) {
			struct rp_thread *th = thr_get(s, t->tid, t->g->tgid);

			if (th)
				th->sc_go = true;
		}
		break;
	}
	case GS_RUNNABLE:
		if (t->from == GS_BLOCKED) {
			const char *w = waker_name(s, t);

			add_waker(s, x->grp, w);
			x->edge = edge_get(s, w, x->grp->func, true);
			if (x->edge)
				x->edge->count++;
		}
		break;
	default:
		break;
	}
}

static void go_destroy(void *ctx, struct gs_gor *g)
{
	struct rstate *s = ctx;
	struct rg *x = g->user;

	if (!x)
		return;
	/* Still alive at the end (or its process exited): count up to then. */
	if (g->state != GS_DEAD && g->state != GS_NONE) {
		struct rp_proc *p = proc_get(s, g->tgid);
		uint64_t end = s->rp->end;

		if (p && p->exit_ts && p->exit_ts < end)
			end = p->exit_ts;
		if (g->state == GS_RUNNING)
			exec_end(s, x, end);
		if (end > g->since)
			account(s, x, g->state, end - g->since, false);
	}
	free(x);
	g->user = NULL;
}

/* ---- results ---- */

static int cmp_thread(const void *a, const void *b)
{
	const struct rp_thread *x = *(const struct rp_thread *const *)a;
	const struct rp_thread *y = *(const struct rp_thread *const *)b;

	if (x->on_cpu != y->on_cpu)
		return x->on_cpu < y->on_cpu ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct rp_proc *x = *(const struct rp_proc *const *)a;
	const struct rp_proc *y = *(const struct rp_proc *const *)b;

	if (x->on_cpu != y->on_cpu)
		return x->on_cpu < y->on_cpu ? 1 : -1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

static int cmp_competitor(const void *a, const void *b)
{
	const struct rp_proc *x = *(const struct rp_proc *const *)a;
	const struct rp_proc *y = *(const struct rp_proc *const *)b;

	if (x->contended != y->contended)
		return x->contended < y->contended ? 1 : -1;
	return cmp_proc(a, b);
}

static int cmp_tgroup(const void *a, const void *b)
{
	const struct rp_tgroup *x = a, *y = b;

	if (x->on_cpu != y->on_cpu)
		return x->on_cpu < y->on_cpu ? 1 : -1;
	return strcmp(x->comm, y->comm);
}

static int cmp_sys(const void *a, const void *b)
{
	const struct rp_syscall *x = *(const struct rp_syscall *const *)a;
	const struct rp_syscall *y = *(const struct rp_syscall *const *)b;

	if (x->runtime != y->runtime)
		return x->runtime ? 1 : -1;
	if (x->lat.sum != y->lat.sum)
		return x->lat.sum < y->lat.sum ? 1 : -1;
	return strcmp(x->name, y->name);
}

static uint64_t gg_total(const struct rp_ggroup *g)
{
	uint64_t t = 0;

	for (int i = 0; i < RG__COUNT; i++)
		t += g->t[i];
	return t;
}

static int cmp_gg(const void *a, const void *b)
{
	const struct rp_ggroup *x = *(const struct rp_ggroup *const *)a;
	const struct rp_ggroup *y = *(const struct rp_ggroup *const *)b;

	if (x->exec != y->exec)
		return x->exec < y->exec ? 1 : -1;
	if (gg_total(x) != gg_total(y))
		return gg_total(x) < gg_total(y) ? 1 : -1;
	return strcmp(x->func, y->func);
}

static int cmp_waker(const void *a, const void *b)
{
	const struct rp_waker *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int cmp_stack(const void *a, const void *b)
{
	const struct rp_stack *x = *(const struct rp_stack *const *)a;
	const struct rp_stack *y = *(const struct rp_stack *const *)b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int cmp_edge(const void *a, const void *b)
{
	const struct rp_edge *x = *(const struct rp_edge *const *)a;
	const struct rp_edge *y = *(const struct rp_edge *const *)b;
	int c;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	c = strcmp(x->waker, y->waker);
	return c ? c : strcmp(x->wakee, y->wakee);
}

/* qsort, which must not see the NULL of an empty list. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static void *grow(struct rstate *s, void *arr, size_t n, size_t size)
{
	void *p = realloc(arr, (n + 1) * size);

	if (!p)
		s->oom = true;
	return p;
}

/* Whoever is on a CPU at the end ran until the end. */
static void fin_running(struct rstate *s)
{
	struct report *rp = s->rp;
	uint64_t end = rp->end;

	for (uint32_t c = 0; c < rp->ncpus; c++) {
		struct rp_cpu *cpu = &rp->cpus[c];
		struct rp_thread *t;
		uint64_t dur;

		if (!cpu->cur_tid || end <= cpu->since)
			continue;
		dur = end - cpu->since;
		t = thr_get(s, cpu->cur_tid, cpu->cur_tgid);
		if (!t)
			continue;
		struct rp_proc *p = proc_get(s, t->tgid);

		t->on_cpu += dur;
		cpu->busy += dur;
		if (p) {
			p->on_cpu += dur;
			p->cpu_ns[c] += dur;
			if (p->target)
				cpu->target += dur;
			else
				p->contended += w_at(s, end) - cpu->w_since;
		}
	}
}

static int fin_thread(struct rstate *s, struct rp_thread *t)
{
	uint64_t end = s->rp->end;
	struct rp_proc *p = proc_get(s, t->tgid);
	uint64_t tend = t->exit_ts && t->exit_ts < end ? t->exit_ts : end;

	if (!t->on && t->seen_out && tend > t->out_ts)
		t->off_cpu += tend - t->out_ts;
	if (!p || !p->target)
		return 0;
	p->off_cpu += t->off_cpu;
	p->runnable += t->runnable;
	hist_merge(&p->runqlat, &t->runqlat);
	p->threads = grow(s, p->threads, p->nthreads, sizeof(*p->threads));
	if (!p->threads)
		return -1;
	p->threads[p->nthreads++] = t;
	return 0;
}

/* Ends the threads' off-CPU time and files target threads under their process, by tid. */
static int fin_threads(struct rstate *s)
{
	size_t n = idmap_count(&s->thr);
	uint64_t *tids = idmap_sorted_keys(&s->thr);
	int rc = 0;

	if (!tids)
		return -1;
	for (size_t i = 0; i < n && !rc; i++)
		rc = fin_thread(s, idmap_get_ptr(&s->thr, tids[i]));
	free(tids);
	return rc;
}

static int fin_target(struct rstate *s, struct rp_proc *p)
{
	struct report *rp = s->rp;

	/* No thread of it ran: a fork that only exec'd. */
	if (!p->nthreads)
		return 0;
	sort(p->threads, p->nthreads, sizeof(*p->threads), cmp_thread);
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i]->tid == p->tgid)
			memcpy(p->comm, p->threads[i]->comm, sizeof(p->comm));
	if (!p->comm[0]) {
		const struct ctr_task *tk = ctr_task_find(rp->r, p->tgid);

		snprintf(p->comm, sizeof(p->comm), "%s", tk ? tk->comm : p->threads[0]->comm);
	}
	rp->procs = grow(s, rp->procs, rp->nprocs, sizeof(*rp->procs));
	if (!rp->procs)
		return -1;
	rp->procs[rp->nprocs++] = p;
	return 0;
}

static int fin_competitor(struct rstate *s, struct rp_proc *p)
{
	struct report *rp = s->rp;
	struct rp_thread *t = thr_get(s, p->tgid, p->tgid);
	const struct ctr_task *tk = ctr_task_find(rp->r, p->tgid);

	snprintf(p->comm, sizeof(p->comm), "%s", t && t->comm[0] ? t->comm : tk ? tk->comm : "?");
	for (uint32_t c = 0; c < rp->ncpus; c++)
		if (rp->cpus[c].target)
			p->on_target_cpus += p->cpu_ns[c];
	rp->competitors = grow(s, rp->competitors, rp->ncompetitors, sizeof(*rp->competitors));
	if (!rp->competitors)
		return -1;
	rp->competitors[rp->ncompetitors++] = p;
	return 0;
}

/* The target processes, and the others that took CPU time from them, by tgid. */
static int fin_procs(struct rstate *s)
{
	struct report *rp = s->rp;
	size_t n = idmap_count(&s->proc);
	uint64_t *tgids = idmap_sorted_keys(&s->proc);
	int rc = 0;

	if (!tgids)
		return -1;
	for (size_t i = 0; i < n && !rc; i++) {
		struct rp_proc *p = idmap_get_ptr(&s->proc, tgids[i]);

		if (p->target)
			rc = fin_target(s, p);
		else if (p->tgid && (p->on_cpu || p->contended))
			rc = fin_competitor(s, p);
	}
	free(tgids);
	if (rc)
		return -1;
	sort(rp->procs, rp->nprocs, sizeof(*rp->procs), cmp_proc);
	sort(rp->competitors, rp->ncompetitors, sizeof(*rp->competitors), cmp_competitor);
	return 0;
}

/* Target threads by name. */
static int fin_tgroups(struct rstate *s)
{
	struct report *rp = s->rp;

	for (size_t i = 0; i < rp->nprocs; i++) {
		struct rp_proc *p = rp->procs[i];

		for (size_t j = 0; j < p->nthreads; j++) {
			struct rp_thread *t = p->threads[j];
			struct rp_tgroup *g = NULL;

			for (size_t k = 0; k < rp->ntgroups; k++)
				if (!strcmp(rp->tgroups[k].comm, t->comm))
					g = &rp->tgroups[k];
			if (!g) {
				rp->tgroups =
				    grow(s, rp->tgroups, rp->ntgroups, sizeof(*rp->tgroups));
				if (!rp->tgroups)
					return -1;
				g = &rp->tgroups[rp->ntgroups++];
				memset(g, 0, sizeof(*g));
				memcpy(g->comm, t->comm, sizeof(g->comm));
			}
			g->nthreads++;
			g->on_cpu += t->on_cpu;
			g->off_cpu += t->off_cpu;
			g->runnable += t->runnable;
			hist_merge(&g->runqlat, &t->runqlat);
		}
	}
	sort(rp->tgroups, rp->ntgroups, sizeof(*rp->tgroups), cmp_tgroup);
	return 0;
}

static int fin_syscalls(struct rstate *s)
{
	struct report *rp = s->rp;

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < MAX_SYSCALL_ID; i++) {
			if (!s->sys[k][i] || !s->sys[k][i]->lat.count)
				continue;
			rp->sys = grow(s, rp->sys, rp->nsys, sizeof(*rp->sys));
			if (!rp->sys)
				return -1;
			rp->sys[rp->nsys++] = s->sys[k][i];
			rp->nsys_program += !k;
		}
	}
	sort(rp->sys, rp->nsys, sizeof(*rp->sys), cmp_sys);
	return 0;
}

static int fin_goroutines(struct rstate *s)
{
	struct report *rp = s->rp;

	for (int b = 0; b < TBUCKETS; b++) {
		for (struct rp_ggroup *g = s->gg[b]; g; g = g->next) {
			rp->gg = grow(s, rp->gg, rp->ngg, sizeof(*rp->gg));
			if (!rp->gg)
				return -1;
			rp->gg[rp->ngg++] = g;
			sort(g->wakers, g->nwakers, sizeof(*g->wakers), cmp_waker);
		}
	}
	sort(rp->gg, rp->ngg, sizeof(*rp->gg), cmp_gg);
	return 0;
}

static int add_stack(struct rstate *s, struct rp_reason_sum *r, struct rp_stack *st)
{
	r->stacks = grow(s, r->stacks, r->nstacks, sizeof(*r->stacks));
	if (!r->stacks)
		return -1;
	r->stacks[r->nstacks++] = st;
	r->total += st->total;
	r->count += st->count;
	return 0;
}

/* Blocking stacks under their reason, with each reason's catch-all. */
static int fin_stacks(struct rstate *s)
{
	struct report *rp = s->rp;

	for (int b = 0; b < TBUCKETS; b++)
		for (struct rp_stack *st = s->stk[b]; st; st = st->next)
			if (st->count && add_stack(s, &rp->reasons[st->reason], st))
				return -1;
	for (int i = 0; i < RB__COUNT; i++) {
		struct rp_stack *st = s->other_stack[i];
		struct rp_reason_sum *r = &rp->reasons[i];

		if (st && st->count && add_stack(s, r, st))
			return -1;
		sort(r->stacks, r->nstacks, sizeof(*r->stacks), cmp_stack);
	}
	return 0;
}

static int fin_edges(struct rstate *s)
{
	struct report *rp = s->rp;

	for (int b = 0; b < TBUCKETS; b++) {
		for (struct rp_edge *e = s->edge[b]; e; e = e->next) {
			struct rp_edge ***arr = e->go ? &rp->gedges : &rp->tedges;
			size_t *n = e->go ? &rp->ngedges : &rp->ntedges;

			if (!e->count)
				continue;
			*arr = grow(s, *arr, *n, sizeof(**arr));
			if (!*arr)
				return -1;
			(*arr)[(*n)++] = e;
		}
	}
	sort(rp->tedges, rp->ntedges, sizeof(*rp->tedges), cmp_edge);
	sort(rp->gedges, rp->ngedges, sizeof(*rp->gedges), cmp_edge);
	return 0;
}

/* Closes what is still open at the end and sorts every section for output. */
static int finalize(struct rstate *s)
{
	fin_running(s);
	if (fin_threads(s) || fin_procs(s) || fin_tgroups(s) || fin_syscalls(s) ||
	    fin_goroutines(s) || fin_stacks(s) || fin_edges(s) || cpuprof_finish(s->cpu, s->rp))
		return -1;
	return s->oom ? -1 : 0;
}

/* Feeds every event to the report and the two models; -1 on a read error. */
static int read_events(struct rstate *s)
{
	struct report *rp = s->rp;
	const struct ev_header *h;
	uint64_t first = 0, last = 0;
	int rc;

	/* The span: from the earlier of the start meta and the first event. */
	rp->start = rp->info->start_ts;
	rp->end = rp->info->end_ts;
	while ((rc = ctr_next(rp->r, &h)) == 1) {
		if (!first) {
			first = h->ts;
			if (!rp->start || first < rp->start)
				rp->start = first;
			for (uint32_t c = 0; c < rp->ncpus; c++)
				rp->cpus[c].since = rp->start;
		}
		last = h->ts;
		on_event(s, h);
		/* Thread state first: a syscall's end must not see the next goroutine's. */
		if (threadstate_event(s->ks, h))
			s->oom = true;
		gostate_event(s->gs, h);
		cpuprof_event(s->cpu, h);
		rp_gosnap_event(rp, h);
		if (s->oom)
			break;
	}
	if (rc < 0)
		return -1;
	if (last > rp->end)
		rp->end = last;
	if (rp->end < rp->start)
		rp->end = rp->start;
	return 0;
}

int report_build(struct report *rp, struct ctr_reader *r, const char *path,
		 const struct report_opts *o)
{
	static const struct gs_ops ops = {
	    .create = go_create,
	    .transition = go_transition,
	    .destroy = go_destroy,
	};
	static const struct kt_ops kops = {
	    .run_begin = kt_run_begin,
	    .run_end = kt_run_end,
	    .wake = kt_wake,
	    .wake_end = kt_wake_end,
	    .sys_begin = kt_sys_begin,
	    .sys_end = kt_sys_end,
	};
	struct rstate *s;

	memset(rp, 0, sizeof(*rp));
	rp->r = r;
	rp->info = ctr_info(r);
	rp->go_switch = ctr_go_switch(r);
	/* Sampled throughout; a switched capture's sections are mixed instead. */
	rp->go_sampled = (rp->info->go_modes & (1u << GO_MODE_SAMPLED)) && !rp->go_switch;
	rp->path = path;
	rp->o = *o;
	rp->system = !rp->info->target || !strcmp(rp->info->target, "system");
	rp->ncpus = rp->info->ncpus ? rp->info->ncpus : 1;
	rp->cpus = calloc(rp->ncpus, sizeof(*rp->cpus));
	s = calloc(1, sizeof(*s));
	if (!rp->cpus || !s) {
		free(s);
		errmsg("out of memory");
		return -1;
	}
	rp->priv = s;
	s->rp = rp;
	s->gs = gostate_new(r, &ops, s);
	s->ks = threadstate_new(r, &kops, s);
	s->cpu = cpuprof_new(r, o->pid);
	if (s->ks)
		threadstate_set_wake_policy(s->ks, KT_WAKES_OFF_CPU);
	if (!s->gs || !s->ks || !s->cpu || rp_gosnap_new(rp) || ctr_rewind(r)) {
		errmsg("%s: %s", path, s->gs && s->ks && s->cpu ? ctr_error(r) : "out of memory");
		return -1;
	}
	if (read_events(s)) {
		errmsg("%s: %s", path, ctr_error(r));
		return -1;
	}
	rp->repairs = gostate_repairs(s->gs);
	rp->go_late = gostate_late_go(s->gs);
	threadstate_finish(s->ks, rp->end);
	gostate_finish(s->gs, rp->end);
	rp_gosnap_finish(rp);
	if (s->oom || finalize(s)) {
		errmsg("out of memory while building the report");
		return -1;
	}
	return 0;
}

const char *rp_go_mode_name(uint32_t mode)
{
	static const char *const names[] = {"off", "full", "sampled"};

	return mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "unknown";
}

const char *rp_go_reason_name(uint32_t reason)
{
	switch (reason) {
	case GO_MODE_BY_DEFAULT:
		return "default";
	case GO_MODE_BY_OPTION:
		return "option";
	case GO_MODE_BY_GOVERNOR:
		return "governor";
	default:
		return "unknown";
	}
}

uint64_t rp_go_full_ns(const struct report *rp)
{
	const struct ctr_go_period *first = ctr_go_period_at(rp->r, 0);

	if (!rp->go_switch || !first || rp->go_switch->ts < first->ts)
		return 0;
	return rp->go_switch->ts - first->ts;
}

const char *rp_go_mode_text(const struct report *rp, char *buf, size_t len)
{
	const struct ctr_go_period *first = ctr_go_period_at(rp->r, 0), *sw = rp->go_switch;
	/* The recorder names its limit; captures without the key just say "the limit". */
	const char *pct = ctr_meta(rp->r, "go_max_overhead_pct");
	char limit[64];

	if (!first)
		return NULL;
	if (pct && strlen(pct) < 16)
		snprintf(limit, sizeof(limit), "the %s%% limit", pct);
	else
		snprintf(limit, sizeof(limit), "the --max-overhead limit");
	if (sw) {
		snprintf(buf, len,
			 "auto — full for %.2f s, then sampled (probes estimated at %.1f%% of the "
			 "target's CPU, over %s)",
			 rp_go_full_ns(rp) / 1e9, sw->est_ppm / 1e4, limit);
	} else if (first->mode == GO_MODE_FULL && (first->flags & GO_MODE_F_AUTO)) {
		snprintf(buf, len, "auto — full for the whole capture (the probes stayed under %s)",
			 limit);
	} else {
		snprintf(buf, len, "%s (%s)", rp_go_mode_name(first->mode),
			 first->reason == GO_MODE_BY_OPTION ? "--goroutines" : "the default");
	}
	return buf;
}

const char *rp_stack_text(const struct report *rp, const struct rp_stack *st)
{
	static char buf[8192];

	if (st->label)
		return st->label;
	if (!st->nstack)
		return "(no stack)";
	gs_format_stack(rp->r, st->tgid, st->pcs, st->nstack, buf, sizeof(buf));
	return buf[0] ? buf : "(no stack)";
}

static void free_procs_threads(struct rstate *s)
{
	size_t it = 0;
	uint64_t v;

	while (idmap_next(&s->thr, &it, NULL, &v)) {
		struct rp_thread *t = (void *)(uintptr_t)v;

		hist_free(&t->runqlat);
		free(t);
	}
	idmap_free(&s->thr);
	it = 0;
	while (idmap_next(&s->proc, &it, NULL, &v)) {
		struct rp_proc *p = (void *)(uintptr_t)v;

		hist_free(&p->runqlat);
		free(p->cpu_ns);
		free(p->threads);
		free(p);
	}
	idmap_free(&s->proc);
}

static void free_group(struct rp_ggroup *g)
{
	hist_free(&g->sched_wait);
	hist_free(&g->sync_block);
	for (size_t i = 0; i < g->nwakers; i++)
		free(g->wakers[i].name);
	free(g->wakers);
	free(g->func);
	free(g);
}

static void free_stack(struct rp_stack *st)
{
	if (!st)
		return;
	free(st->label);
	free(st);
}

static void free_edge(struct rp_edge *e)
{
	hist_free(&e->lat);
	free(e->waker);
	free(e->wakee);
	free(e);
}

/* The chained tables, the catch-all stacks and the syscalls. */
static void free_keyed(struct rstate *s)
{
	for (int b = 0; b < TBUCKETS; b++) {
		for (struct rp_ggroup *g = s->gg[b], *next; g; g = next) {
			next = g->next;
			free_group(g);
		}
		for (struct rp_stack *st = s->stk[b], *next; st; st = next) {
			next = st->next;
			free_stack(st);
		}
		for (struct rp_edge *e = s->edge[b], *next; e; e = next) {
			next = e->next;
			free_edge(e);
		}
	}
	for (int i = 0; i < RB__COUNT; i++)
		free_stack(s->other_stack[i]);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < MAX_SYSCALL_ID; i++) {
			if (s->sys[k][i]) {
				hist_free(&s->sys[k][i]->lat);
				free(s->sys[k][i]);
			}
		}
	}
}

void report_free(struct report *rp)
{
	struct rstate *s = rp->priv;

	if (s) {
		gostate_free(s->gs);
		threadstate_free(s->ks);
		cpuprof_free(s->cpu, rp);
		free_procs_threads(s);
		free_keyed(s);
		free(s);
	}
	for (size_t i = 0; i < rp->ntgroups; i++)
		hist_free(&rp->tgroups[i].runqlat);
	for (int i = 0; i < RB__COUNT; i++)
		free(rp->reasons[i].stacks);
	free(rp->procs);
	free(rp->competitors);
	free(rp->tgroups);
	free(rp->sys);
	free(rp->gg);
	free(rp->tedges);
	free(rp->gedges);
	free(rp->cpus);
	rp_gosnap_free(rp);
	memset(rp, 0, sizeof(*rp));
}
