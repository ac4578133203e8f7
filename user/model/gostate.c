// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/names.h"
#include "go/go_offsets.h"
#include "lib/idmap.h"
#include "model/gostack.h"
#include "model/gostate.h"

#define NBUCKETS    4096
#define MAX_MINOR   64
#define MAX_REASON  64
#define MAX_SYSCALL 512

struct gnode {
	struct gs_gor g;
	struct gnode *next; /* hash chain */
	uint64_t last_ts;   /* last event that showed it alive */
	bool sys_exited;    /* left a syscall since it last started */
	long sys_id;	    /* the syscall it is in (GS_SYSCALL) */
	char *name;
	char *start_func;
};

struct gostate {
	struct ctr_reader *r;
	const struct gs_ops *ops;
	void *ctx;
	/*
	 * Goroutines by (tgid, goid): chained, as the pair does not fit 64 bits
	 * and goroutines are removed when they die.
	 */
	struct gnode *gs[NBUCKETS];
	struct idmap cur;  /* tid -> struct gnode * running (or in a syscall) on it */
	bool sampled;	   /* goroutines from kernel-event tails (gosampled.c) */
	struct idmap seen; /* sampled: tid -> ts of its last switch-in or tail */
	/* Auto mode: full until switch_ts, sampled from then on. */
	bool switch_pending;
	uint64_t switch_ts;
	uint64_t go_late; /* full mode's records at or after the switch (ignored) */
	uint64_t repairs;
	char *blocked_label[MAX_MINOR][MAX_REASON];
	char *syscall_label[MAX_SYSCALL];
};

static unsigned int ghash(uint32_t tgid, int64_t goid)
{
	return ((uint64_t)goid * 0x9e3779b97f4a7c15ull ^ tgid * 2654435761u) >> 52 & (NBUCKETS - 1);
}

static struct gnode *gfind(struct gostate *s, uint32_t tgid, int64_t goid)
{
	for (struct gnode *n = s->gs[ghash(tgid, goid)]; n; n = n->next)
		if (n->g.tgid == tgid && n->g.goid == goid)
			return n;
	return NULL;
}

/* The goroutine running (or in a syscall) on thread tid, or NULL. */
static struct gnode *thread_cur(struct gostate *s, uint32_t tid)
{
	return idmap_get_ptr(&s->cur, tid);
}

static void clear_thread(struct gostate *s, uint32_t tid)
{
	uint64_t *v = idmap_find(&s->cur, tid);

	if (v)
		*v = 0;
}

struct gostate *gostate_new(struct ctr_reader *r, const struct gs_ops *ops, void *ctx)
{
	struct gostate *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->r = r;
	s->ops = ops;
	s->ctx = ctx;
	s->sampled = ctr_info(r)->go_modes & (1u << GO_MODE_SAMPLED);
	if (ctr_go_switch(r)) {
		s->sampled = false;
		s->switch_pending = true;
		s->switch_ts = ctr_go_switch(r)->ts;
	}
	return s;
}

bool gostate_sampled(const struct gostate *s)
{
	return s->sampled;
}

const char *gs_func_name(struct ctr_reader *r, uint32_t tgid, uint64_t pc, bool exact, char *buf,
			 size_t len)
{
	const struct ctr_go_sym *sym = ctr_go_sym(r, tgid, pc, exact);

	if (sym && sym->func[0])
		return sym->func;
	snprintf(buf, len, "%#" PRIx64, pc);
	return buf;
}

int gs_format_stack(struct ctr_reader *r, uint32_t tgid, const __u64 *stack, int n, char *buf,
		    size_t len)
{
	size_t off = 0;
	bool top = true;

	buf[0] = 0;
	for (int i = 0; i < n && off + 1 < len; i++) {
		const struct ctr_go_sym *fr[CTR_GO_MAX_FRAMES];
		int nf = ctr_go_sym_frames(r, tgid, stack[i], false, fr, CTR_GO_MAX_FRAMES);
		int w = 0;

		/* The switch to the system stack is not where the goroutine was. */
		if (top && nf && !strcmp(fr[0]->func, "runtime.systemstack_switch"))
			continue;
		top = false;
		if (!nf)
			w = snprintf(buf + off, len - off, "%s%#" PRIx64, off ? "\n" : "",
				     (uint64_t)stack[i]);
		/* Inlined calls first, as the runtime's tracebacks list them. */
		for (int k = 0; k < nf && w >= 0 && (size_t)w < len - off; k++) {
			off += w;
			w = snprintf(buf + off, len - off, "%s%s %s:%d", off ? "\n" : "",
				     fr[k]->func, fr[k]->file, fr[k]->line);
		}
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += w;
	}
	return off;
}

static int go_minor(struct gostate *s, uint32_t tgid)
{
	const struct ctr_go_proc *p = ctr_go_proc_find(s->r, tgid);

	return p ? p->minor : 0;
}

static const char *blocked_label(struct gostate *s, int minor, uint16_t reason)
{
	const char *str = go_waitreason_string(minor, reason);
	char buf[96];

	if (minor < 0 || minor >= MAX_MINOR || reason >= MAX_REASON)
		return "Blocked";
	if (!s->blocked_label[minor][reason]) {
		if (str && *str)
			snprintf(buf, sizeof(buf), "Blocked: %s", str);
		else
			snprintf(buf, sizeof(buf), "Blocked: reason %u", reason);
		s->blocked_label[minor][reason] = strdup(buf);
	}
	return s->blocked_label[minor][reason] ? s->blocked_label[minor][reason] : "Blocked";
}

static const char *syscall_label(struct gostate *s, long id)
{
	char buf[96], num[32];

	if (id < 0 || id >= MAX_SYSCALL)
		return "Syscall";
	if (!s->syscall_label[id]) {
		snprintf(buf, sizeof(buf), "Syscall: %s",
			 syscall_name_buf(ctr_info(s->r)->machine, id, num, sizeof(num)));
		s->syscall_label[id] = strdup(buf);
	}
	return s->syscall_label[id] ? s->syscall_label[id] : "Syscall";
}

static struct gnode *gnew(struct gostate *s, uint32_t tgid, int64_t goid, uint64_t startpc,
			  int64_t creator, bool at_attach)
{
	unsigned int b = ghash(tgid, goid);
	struct gnode *n = calloc(1, sizeof(*n));
	char buf[32], name[300];
	const char *fn = NULL;

	if (!n)
		return NULL;
	n->g.tgid = tgid;
	n->g.goid = goid;
	n->g.p = -1;
	n->g.startpc = startpc;
	n->g.creator = creator;
	n->g.at_attach = at_attach;
	n->g.sampled = s->sampled;
	if (startpc)
		fn = gs_func_name(s->r, tgid, startpc, true, buf, sizeof(buf));
	n->start_func = strdup(fn ? fn : "");
	if (fn)
		snprintf(name, sizeof(name), "G%" PRId64 " %s", goid, fn);
	else
		snprintf(name, sizeof(name), "G%" PRId64, goid);
	n->name = strdup(name);
	n->g.name = n->name ? n->name : "G?";
	n->g.start_func = n->start_func ? n->start_func : "";
	n->next = s->gs[b];
	s->gs[b] = n;
	return n;
}

static void gfree(struct gostate *s, struct gnode *n)
{
	struct gnode **pp = &s->gs[ghash(n->g.tgid, n->g.goid)];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp)
		*pp = n->next;
	if (s->ops->destroy)
		s->ops->destroy(s->ctx, &n->g);
	free(n->name);
	free(n->start_func);
	free(n);
}

static void set_thread(struct gostate *s, uint32_t tid, struct gnode *n)
{
	if (tid)
		idmap_put_ptr(&s->cur, tid, n);
}

/* Leaves the thread it ran on, if it is still that thread's current one. */
static void leave_thread(struct gostate *s, struct gnode *n)
{
	if (n->g.tid && thread_cur(s, n->g.tid) == n)
		clear_thread(s, n->g.tid);
}

static void emit(struct gostate *s, struct gnode *n, struct gs_trans *t)
{
	t->g = &n->g;
	t->sampled = s->sampled;
	t->from = n->g.state;
	if (!t->tid)
		t->tid = n->g.tid;
	if (s->ops->transition)
		s->ops->transition(s->ctx, t);
	n->g.state = t->to;
	n->g.since = t->ts;
	n->last_ts = t->ts;
	if (t->to == GS_RUNNING || t->to == GS_SYSCALL) {
		n->g.tid = t->tid;
		n->g.cpu = t->cpu;
		n->g.p = t->p;
	}
	if (t->to == GS_BLOCKED)
		n->g.reason = t->reason;
}

static void to_runnable(struct gostate *s, struct gnode *n, uint64_t ts, bool repaired,
			bool preempted)
{
	struct gs_trans t = {.ts = ts, .to = GS_RUNNABLE, .label = "Runnable"};

	t.repaired = repaired;
	t.preempted = preempted;
	t.cpu = n->g.cpu;
	t.p = n->g.p;
	leave_thread(s, n);
	emit(s, n, &t);
	if (repaired)
		s->repairs++;
}

static struct gnode *lookup(struct gostate *s, const struct ev_header *h, int64_t goid)
{
	struct gnode *n = gfind(s, h->tgid, goid);

	/* Known only from now on: alive before attach, or its create was lost. */
	if (!n) {
		n = gnew(s, h->tgid, goid, 0, -1, true);
		if (n && s->ops->create)
			s->ops->create(s->ctx, &n->g, h->ts, NULL, 0);
	}
	return n;
}

static const char *runtime_waker(int kind, enum go_block_kind bk)
{
	if (bk == GB_NET)
		return "runtime: netpoller";
	if (bk == GB_SLEEP)
		return "runtime: timer";
	if (bk == GB_GC)
		return "runtime: GC";
	return kind == GO_UNBLOCK_INJECT ? "runtime: scheduler" : "runtime";
}

static bool woken_by_ready(enum go_block_kind k)
{
	switch (k) {
	case GB_CHAN_RECV:
	case GB_CHAN_SEND:
	case GB_SELECT:
	case GB_MUTEX:
	case GB_COND:
	case GB_WAITGROUP:
	case GB_SLEEP:
		return true;
	default:
		/* Not GB_NET: findrunnable starts a netpolled goroutine directly. */
		return false;
	}
}

static void go_create(struct gostate *s, const struct ev_go *e, struct gs_trans *t)
{
	const struct ev_header *h = &e->h;
	struct gnode *n = gfind(s, h->tgid, e->goid);

	if (n && n->g.state != GS_DEAD)
		return;
	if (n)
		gfree(s, n);
	n = gnew(s, h->tgid, e->goid, e->pc, e->other_goid, false);
	if (!n)
		return;
	if (s->ops->create)
		s->ops->create(s->ctx, &n->g, h->ts, e->stack, e->nstack);
	t->to = GS_RUNNABLE;
	t->label = "Runnable";
	t->stack = e->stack;
	t->nstack = e->nstack;
	t->waker_goid = e->other_goid;
	t->waker_tid = h->tid;
	emit(s, n, t);
}

/*
 * A start while blocked: the scheduler runs the first goroutine the
 * netpoller returns (and GC workers) without ready(), so the wake-up is this
 * start. Anything else means a lost record.
 */
static void wake_at_start(struct gostate *s, struct gnode *n, const struct ev_go *e, int minor)
{
	struct gs_trans w = {.ts = e->h.ts, .to = GS_RUNNABLE, .label = "Runnable"};
	enum go_block_kind bk = go_waitreason_kind(minor, n->g.reason);

	w.waker_label = runtime_waker(0, bk);
	w.tid = e->h.tid;
	w.cpu = e->h.cpu;
	w.p = e->p;
	/* Channels, locks and sleeps always wake through ready(): one was lost. */
	if (woken_by_ready(bk)) {
		w.repaired = true;
		s->repairs++;
	}
	emit(s, n, &w);
}

static void go_start(struct gostate *s, const struct ev_go *e, int minor, struct gs_trans *t)
{
	const struct ev_header *h = &e->h;
	struct gnode *n = lookup(s, h, e->goid), *cur = thread_cur(s, h->tid);

	if (!n)
		return;
	/*
	 * The thread's previous goroutine stopped without a record: lost,
	 * unless it left a syscall since, and exitsyscall found no P
	 * (exitsyscall0 queues it without any probed transition).
	 */
	if (cur && cur != n)
		to_runnable(s, cur, cur->last_ts, cur->g.state != GS_SYSCALL && !cur->sys_exited,
			    false);
	if (n->g.state == GS_RUNNING || n->g.state == GS_SYSCALL) {
		/* Left a blocking syscall through the scheduler, or lost a stop. */
		to_runnable(s, n, n->last_ts, n->g.state != GS_SYSCALL && !n->sys_exited, false);
	} else if (n->g.state == GS_BLOCKED) {
		wake_at_start(s, n, e, minor);
	}
	n->sys_exited = false;
	t->to = GS_RUNNING;
	t->label = "Running";
	emit(s, n, t);
	set_thread(s, h->tid, n);
}

static void go_block(struct gostate *s, const struct ev_go *e, int minor, struct gs_trans *t)
{
	struct gnode *n = lookup(s, &e->h, e->goid);

	if (!n)
		return;
	leave_thread(s, n);
	t->to = GS_BLOCKED;
	t->reason = e->reason;
	t->reason_str = go_waitreason_string(minor, e->reason);
	t->kind = go_waitreason_kind(minor, e->reason);
	t->label = blocked_label(s, minor, e->reason);
	t->stack = e->stack;
	t->nstack = e->nstack;
	emit(s, n, t);
}

static void go_unblock(struct gostate *s, const struct ev_go *e, int minor, struct gs_trans *t)
{
	enum go_block_kind bk = go_waitreason_kind(minor, e->reason);
	struct gnode *n = lookup(s, &e->h, e->goid);

	if (!n)
		return;
	if (n->g.state != GS_BLOCKED && n->g.state != GS_NONE) {
		/* ready() on a goroutine we think is not parked: a lost block. */
		if (n->g.state == GS_RUNNABLE)
			return;
		s->repairs++;
		leave_thread(s, n);
	}
	t->to = GS_RUNNABLE;
	t->label = "Runnable";
	t->waker_goid = e->other_goid;
	t->waker_tid = e->h.tid;
	if (!e->other_goid || e->other_goid == e->goid)
		t->waker_label = runtime_waker(e->kind, bk);
	if (e->other_goid == e->goid)
		t->waker_goid = 0;
	t->stack = e->stack;
	t->nstack = e->nstack;
	emit(s, n, t);
}

static void go_sched(struct gostate *s, const struct ev_go *e, struct gs_trans *t)
{
	struct gnode *n = lookup(s, &e->h, e->goid);

	if (!n)
		return;
	leave_thread(s, n);
	t->to = GS_RUNNABLE;
	t->label = "Runnable";
	t->sched_kind = e->kind;
	t->preempted = e->kind == GO_SCHED_PREEMPT || e->kind == GO_SCHED_PREEMPT_PARK;
	t->stack = e->stack;
	t->nstack = e->nstack;
	emit(s, n, t);
}

static void go_exit(struct gostate *s, const struct ev_go *e, struct gs_trans *t)
{
	struct gnode *n = gfind(s, e->h.tgid, e->goid);

	if (!n)
		return;
	leave_thread(s, n);
	t->to = GS_DEAD;
	t->label = "Dead";
	emit(s, n, t);
	gfree(s, n);
}

static void on_go(struct gostate *s, const struct ev_go *e)
{
	const struct ev_header *h = &e->h;
	int minor = go_minor(s, h->tgid);
	struct gs_trans t = {.ts = h->ts, .tid = h->tid, .cpu = h->cpu, .p = e->p};

	/* A goroutine that wakes or creates another is running right now. */
	if ((h->type == EV_GO_UNBLOCK || h->type == EV_GO_CREATE) && e->other_goid > 0) {
		struct gnode *w = gfind(s, h->tgid, e->other_goid);

		if (w && (w->g.state == GS_RUNNING || w->g.state == GS_SYSCALL))
			w->last_ts = h->ts;
	}

	switch (h->type) {
	case EV_GO_CREATE:
		go_create(s, e, &t);
		return;
	case EV_GO_START:
		go_start(s, e, minor, &t);
		return;
	case EV_GO_BLOCK:
		go_block(s, e, minor, &t);
		return;
	case EV_GO_UNBLOCK:
		go_unblock(s, e, minor, &t);
		return;
	case EV_GO_SCHED:
		go_sched(s, e, &t);
		return;
	case EV_GO_EXIT:
		go_exit(s, e, &t);
		return;
	}
}

static void on_snapshot(struct gostate *s, const struct rec_go_g *e)
{
	struct gs_trans t = {.ts = e->h.ts, .p = -1};
	int minor = go_minor(s, e->h.tgid);
	struct gnode *n;

	if (gfind(s, e->h.tgid, e->goid))
		return;
	/*
	 * Created after the create probe went in, before the walk read it: its
	 * create record, later in time, makes it with its creator and stack.
	 */
	if (ctr_go_created(s->r, e->h.tgid, e->goid, NULL))
		return;
	n = gnew(s, e->h.tgid, e->goid, e->startpc, e->parent_goid ? e->parent_goid : -1, true);
	if (!n)
		return;
	if (s->ops->create)
		s->ops->create(s->ctx, &n->g, e->h.ts, NULL, 0);
	/* Sampled: its name only; what it does is known when a kernel event shows it. */
	if (s->sampled)
		return;
	/* Go's status values: 1 runnable, 2 running, 3 syscall, 4 waiting, 9 preempted. */
	switch (e->status) {
	case 2:
		t.to = GS_RUNNING;
		t.label = "Running";
		break;
	case 3:
		t.to = GS_SYSCALL;
		t.label = "Syscall";
		break;
	case 4:
		t.to = GS_BLOCKED;
		t.reason = e->reason;
		t.reason_str = go_waitreason_string(minor, e->reason);
		t.kind = go_waitreason_kind(minor, e->reason);
		t.label = blocked_label(s, minor, e->reason);
		t.stack = e->stack;
		t.nstack = e->nstack;
		break;
	default:
		t.to = GS_RUNNABLE;
		t.label = "Runnable";
		break;
	}
	emit(s, n, &t);
}

/*
 * ---- Sampled mode ----
 * The goroutine a Go thread runs is known only at the thread's kernel
 * events (switch out, syscall entry and exit), from the tails. A goroutine
 * named there is taken to have run on the thread since the thread's
 * previous kernel event; it is "unseen" once the thread switches out or
 * names another goroutine. So spans are bounded by kernel events, never by
 * the goroutine switches, which are not recorded.
 */
static void unseen(struct gostate *s, struct gnode *n, uint64_t ts)
{
	struct gs_trans t = {.ts = ts, .to = GS_UNSEEN, .p = -1};

	leave_thread(s, n);
	emit(s, n, &t);
}

/* goid ran on h's thread at h->ts: the goroutine, running there, or NULL for the runtime. */
static struct gnode *observe(struct gostate *s, const struct ev_header *h, int64_t goid)
{
	struct gnode *cur = thread_cur(s, h->tid), *n;
	struct gs_trans t = {.tid = h->tid, .cpu = h->cpu, .p = -1, .to = GS_RUNNING};
	uint64_t *seen = idmap_find(&s->seen, h->tid);
	uint64_t from = seen && *seen < h->ts ? *seen : h->ts;

	if (goid <= 0) {
		if (cur)
			unseen(s, cur, h->ts);
		return NULL;
	}
	n = lookup(s, h, goid);
	if (!n || cur == n)
		return n;
	if (cur)
		unseen(s, cur, from > cur->g.since ? from : cur->g.since);
	if (from < n->g.since)
		from = n->g.since;
	/* Last seen on another thread, which has not named anyone since. */
	if (n->g.state == GS_RUNNING || n->g.state == GS_SYSCALL)
		unseen(s, n, from);
	t.ts = from;
	t.label = "Running";
	emit(s, n, &t);
	set_thread(s, h->tid, n);
	return n;
}

static void sampled_tail(struct gostate *s, const struct ev_header *h, const struct ev_go_tail *g)
{
	struct gnode *n = observe(s, h, g->goid);
	struct gs_trans t = {.ts = h->ts, .tid = h->tid, .cpu = h->cpu, .p = -1};

	if (n && h->type == EV_SYS_ENTER) {
		t.to = GS_SYSCALL;
		t.syscall = ((const struct ev_sys_enter *)h)->id;
		t.label = syscall_label(s, t.syscall);
		emit(s, n, &t);
	} else if (n && h->type == EV_SYS_EXIT && n->g.state == GS_SYSCALL) {
		t.to = GS_RUNNING;
		t.label = "Running";
		emit(s, n, &t);
	} else if (n && h->type == EV_SCHED_SWITCH && n->g.state == GS_RUNNING) {
		/* Off the CPU; a goroutine in a syscall stays in it while the thread sleeps. */
		unseen(s, n, h->ts);
	}
	idmap_put(&s->seen, h->tid, h->ts);
}

/* A syscall's exit has no tail: its goroutine is the one that entered. */
static void sampled_sys_exit(struct gostate *s, const struct ev_header *h)
{
	struct gnode *n = thread_cur(s, h->tid);
	struct gs_trans t = {.ts = h->ts,
			     .tid = h->tid,
			     .cpu = h->cpu,
			     .p = -1,
			     .to = GS_RUNNING,
			     .label = "Running"};

	if (n && n->g.state == GS_SYSCALL)
		emit(s, n, &t);
	idmap_put(&s->seen, h->tid, h->ts);
}

/* Handles switch and syscall records in sampled mode; false for others. */
static bool sampled_event(struct gostate *s, const struct ev_header *h)
{
	const struct ev_go_tail *g;

	if (h->type != EV_SYS_ENTER && h->type != EV_SYS_EXIT && h->type != EV_SCHED_SWITCH)
		return false;
	g = ctr_go_tail(h);
	if (g && ctr_go_proc_find(s->r, h->tgid))
		sampled_tail(s, h, g);
	else if (h->type == EV_SYS_EXIT && s->sampled && ctr_go_proc_find(s->r, h->tgid))
		sampled_sys_exit(s, h);
	if (h->type == EV_SCHED_SWITCH) {
		const struct ev_sched_switch *e = (const void *)h;

		/* Where a thread's next goroutine span can start at the earliest. */
		if (e->next_pid && ctr_go_proc_find(s->r, e->next_tgid))
			idmap_put(&s->seen, e->next_pid, h->ts);
	}
	return true;
}

static void end_process(struct gostate *s, uint32_t tgid, uint64_t ts)
{
	for (int b = 0; b < NBUCKETS; b++) {
		struct gnode *n = s->gs[b], *next;

		for (; n; n = next) {
			struct gs_trans t = {.ts = ts, .to = GS_DEAD, .label = "Dead", .p = -1};

			next = n->next;
			if (n->g.tgid != tgid)
				continue;
			leave_thread(s, n);
			emit(s, n, &t);
			gfree(s, n);
		}
	}
}

/*
 * Auto mode's switch to sampled at ts: the goroutines keep their identity
 * (ids, start functions name the sampled spans), but what each one was
 * doing is no longer observed, so no full-mode state outlives the switch.
 */
static void switch_to_sampled(struct gostate *s, uint64_t ts)
{
	s->switch_pending = false;
	s->sampled = true;
	for (int b = 0; b < NBUCKETS; b++) {
		for (struct gnode *n = s->gs[b]; n; n = n->next) {
			n->g.sampled = true;
			if (n->g.state != GS_NONE && n->g.state != GS_DEAD &&
			    n->g.state != GS_UNSEEN)
				unseen(s, n, ts);
		}
	}
	idmap_free(&s->cur);
}

/*
 * Whether a syscall of a thread running a goroutine is the goroutine's, as
 * Go's own trace counts them: made through entersyscall (syscall.Syscall,
 * entersyscallblock), the goroutine then in _Gsyscall. Full mode's tail on
 * the entry says so exactly; the runtime's own syscalls run on g0 or with
 * the goroutine still _Grunning (RawSyscall, lock2's futex, netpoll's
 * epoll_ctl). Without a tail: by name, where a futex wait on 0 is a note
 * sleep, which a goroutine does only through entersyscallblock.
 */
static bool goroutine_syscall(struct gostate *s, const struct ev_sys_enter *e)
{
	const struct ctr_go_proc *p = ctr_go_proc_find(s->r, e->h.tgid);
	const struct go_gstatus *st = p ? go_gstatus_for_version(p->major, p->minor) : NULL;
	const struct ev_go_tail *t = ctr_go_tail(&e->h);
	const char *name;

	name = syscall_name(ctr_info(s->r)->machine, e->id);
	/* The return from a signal handler, whatever g the thread holds then. */
	if (name && !strcmp(name, "rt_sigreturn"))
		return false;
	if (t && t->goid >= 0 && st)
		return t->goid > 0 && (int32_t)(t->status & ~(uint32_t)st->scan) == st->syscall;
	if (name && !strcmp(name, "futex"))
		return (e->args[1] & 0x7f) == 0 && e->args[2] == 0;
	return !go_runtime_syscall(name);
}

/*
 * A syscall interrupted by a signal that the kernel restarts after the
 * handler (-ERESTARTSYS and kin) goes on, as one syscall for Go: the
 * handler's rt_sigreturn (whose exit has id -1) and the restarted entry are
 * not new ones.
 */
static bool syscall_done(const struct gnode *n, const struct ev_sys_exit *e)
{
	if (e->id == -1)
		return false;
	return e->id != n->sys_id || e->ret > -512 || e->ret < -516;
}

static bool is_go_transition(uint16_t type)
{
	return (type >= EV_GO_CREATE && type <= EV_GO_EXIT) || type == EV_GO_HANDOFF;
}

void gostate_event(struct gostate *s, const struct ev_header *h)
{
	struct gnode *cur;

	if (s->switch_pending && h->ts >= s->switch_ts)
		switch_to_sampled(s, s->switch_ts);
	/* A probe that fired as they were detached: not part of sampled mode. */
	if (s->sampled && s->switch_ts && is_go_transition(h->type)) {
		s->go_late++;
		return;
	}
	if (s->sampled && sampled_event(s, h))
		return;
	switch (h->type) {
	case EV_GO_CREATE:
	case EV_GO_START:
	case EV_GO_BLOCK:
	case EV_GO_UNBLOCK:
	case EV_GO_SCHED:
	case EV_GO_EXIT:
		on_go(s, (const struct ev_go *)h);
		return;
	case REC_GO_G:
		on_snapshot(s, (const struct rec_go_g *)h);
		return;
	case EV_SYS_ENTER: {
		const struct ev_sys_enter *e = (const void *)h;
		struct gs_trans t = {.ts = h->ts, .tid = h->tid, .cpu = h->cpu, .to = GS_SYSCALL};

		cur = thread_cur(s, h->tid);
		if (!cur || cur->g.state != GS_RUNNING || !goroutine_syscall(s, e))
			return;
		t.p = cur->g.p;
		t.syscall = e->id;
		t.label = syscall_label(s, e->id);
		cur->sys_id = e->id;
		emit(s, cur, &t);
		return;
	}
	case EV_SYS_EXIT: {
		struct gs_trans t = {.ts = h->ts, .tid = h->tid, .cpu = h->cpu, .to = GS_RUNNING};

		cur = thread_cur(s, h->tid);
		if (!cur || cur->g.state != GS_SYSCALL || !syscall_done(cur, (const void *)h))
			return;
		t.p = cur->g.p;
		t.label = "Running";
		emit(s, cur, &t);
		cur->sys_exited = true;
		return;
	}
	case EV_PROCESS_EXIT: {
		const struct ev_process_exit *e = (const void *)h;

		/* The whole process is gone: so are its goroutines. */
		if ((h->flags & EXIT_GROUP_DEAD) && ctr_go_proc_find(s->r, e->tgid)) {
			end_process(s, e->tgid, h->ts);
			return;
		}
		/* A thread that exits runs nothing any more. */
		cur = thread_cur(s, e->pid);
		if (cur && s->sampled) {
			unseen(s, cur, h->ts);
		} else if (cur) {
			to_runnable(s, cur, h->ts, false, false);
			clear_thread(s, e->pid);
		}
		return;
	}
	default:
		return;
	}
}

void gostate_finish(struct gostate *s, uint64_t ts)
{
	if (s->switch_pending && ts >= s->switch_ts)
		switch_to_sampled(s, s->switch_ts);
	for (int b = 0; b < NBUCKETS; b++)
		while (s->gs[b])
			gfree(s, s->gs[b]);
	idmap_free(&s->cur);
	idmap_free(&s->seen);
}

struct gs_gor *gostate_find(struct gostate *s, uint32_t tgid, int64_t goid)
{
	struct gnode *n = gfind(s, tgid, goid);

	return n ? &n->g : NULL;
}

uint64_t gostate_switch_ts(const struct gostate *s)
{
	return s->switch_ts;
}

uint64_t gostate_late_go(const struct gostate *s)
{
	return s->go_late;
}

uint64_t gostate_repairs(const struct gostate *s)
{
	return s->repairs;
}

void gostate_free(struct gostate *s)
{
	if (!s)
		return;
	gostate_finish(s, 0);
	for (int m = 0; m < MAX_MINOR; m++)
		for (int r = 0; r < MAX_REASON; r++)
			free(s->blocked_label[m][r]);
	for (int i = 0; i < MAX_SYSCALL; i++)
		free(s->syscall_label[i]);
	free(s);
}
