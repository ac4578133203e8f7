// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/names.h"
#include "lib/idmap.h"
#include "model/threadstate.h"

struct kthr {
	struct kt_thread t;
	struct kt_wake wake;
	/* wake is PENDING, or RAN and its run slice has not ended yet */
	bool wake_active;
	bool switched_in; /* by a sched_switch, and not out since */
};

struct kcpu {
	bool active;
	struct kt_run run;
	/*
	 * Wakees woken in the current slice at wake_ts, the latest waking ts:
	 * if the slice ends at that very ts, their waking is on its edge.
	 */
	uint64_t wake_ts;
	uint32_t *wakees;
	size_t nwakees, capwakees;
};

struct threadstate {
	struct ctr_reader *r;
	const struct kt_ops *ops;
	void *ctx;
	struct idmap thr; /* tid -> struct kthr * */
	struct kcpu *cpus;
	size_t ncpus;
	uint64_t seq; /* run slices begun */
	struct kt_stats stats;
	enum kt_wake_policy policy;
	bool oom;
};

struct threadstate *threadstate_new(struct ctr_reader *r, const struct kt_ops *ops, void *ctx)
{
	struct threadstate *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->r = r;
	s->ops = ops;
	s->ctx = ctx;
	return s;
}

void threadstate_set_wake_policy(struct threadstate *s, enum kt_wake_policy p)
{
	s->policy = p;
}

static struct kthr *thread_find(const struct threadstate *s, uint32_t tid)
{
	return idmap_get_ptr(&s->thr, tid);
}

/* A thread's state, created on first sight; NULL for idle or on ENOMEM. */
static struct kthr *thread_get(struct threadstate *s, uint32_t tid)
{
	const struct ctr_task *task;
	struct kthr *th;

	if (!tid)
		return NULL;
	th = thread_find(s, tid);
	if (th)
		return th;
	th = calloc(1, sizeof(*th));
	if (!th || idmap_put_ptr(&s->thr, tid, th)) {
		free(th);
		s->oom = true;
		return NULL;
	}
	th->t.tid = tid;
	task = s->r ? ctr_task_find(s->r, tid) : NULL;
	if (task)
		memcpy(th->t.comm, task->comm, TASK_COMM_LEN);
	return th;
}

static void set_comm(char *dst, const char *src)
{
	if (src[0]) {
		memcpy(dst, src, TASK_COMM_LEN);
		dst[TASK_COMM_LEN - 1] = 0;
	}
}

static struct kcpu *cpu_get(struct threadstate *s, uint16_t cpu)
{
	if (cpu >= s->ncpus) {
		size_t n = (size_t)cpu + 1;
		struct kcpu *p = realloc(s->cpus, n * sizeof(*p));

		if (!p) {
			s->oom = true;
			return NULL;
		}
		memset(p + s->ncpus, 0, (n - s->ncpus) * sizeof(*p));
		s->cpus = p;
		s->ncpus = n;
	}
	return &s->cpus[cpu];
}

/* ---- syscalls ---- */

static void sys_close(struct threadstate *s, struct kthr *th, uint64_t ts, enum kt_sys_end end,
		      int64_t ret)
{
	if (!th || !th->t.in_sys)
		return;
	th->t.in_sys = false;
	th->t.sys.exit_ts = ts;
	th->t.sys.end = end;
	th->t.sys.ret = ret;
	if (end == KT_SYS_LOST_EXIT)
		s->stats.sys_lost_exit++;
	if (s->ops->sys_end)
		s->ops->sys_end(s->ctx, &th->t.sys);
}

/*
 * A record names th's tid with tgid: a different one than before means the
 * tid now belongs to another process, and the old incarnation is over.
 */
static void retgid(struct threadstate *s, struct kthr *th, uint32_t tgid, uint64_t ts)
{
	if (!th || !tgid || th->t.tgid == tgid)
		return;
	if (th->t.tgid) {
		sys_close(s, th, ts, KT_SYS_UNFINISHED, 0);
		if (s->ops->reuse)
			s->ops->reuse(s->ctx, &th->t, tgid, ts);
	}
	th->t.tgid = tgid;
}

static void on_sys_enter(struct threadstate *s, const struct ev_sys_enter *e)
{
	struct kthr *th = thread_get(s, e->h.tid);
	struct kt_sys *sc;

	if (!th)
		return;
	retgid(s, th, e->h.tgid, e->h.ts);
	sys_close(s, th, e->h.ts, KT_SYS_LOST_EXIT, 0);
	sc = &th->t.sys;
	memset(sc, 0, sizeof(*sc));
	th->t.in_sys = true;
	sc->tid = th->t.tid;
	sc->tgid = th->t.tgid;
	sc->id = e->id;
	sc->exit_id = e->id;
	sc->enter_ts = e->h.ts;
	memcpy(sc->args, e->args, sizeof(sc->args));
	if (s->ops->sys_begin)
		s->ops->sys_begin(s->ctx, sc);
}

static void on_sys_exit(struct threadstate *s, const struct ev_sys_exit *e)
{
	struct kthr *th = thread_get(s, e->h.tid);

	if (!th)
		return;
	retgid(s, th, e->h.tgid, e->h.ts);
	if (!th->t.in_sys) {
		/* entered before the capture started */
		s->stats.sys_exit_unmatched++;
		return;
	}
	/*
	 * An exit may name another syscall than its enter: rt_sigreturn exits
	 * with the number restored from the signal frame (-1 or the interrupted
	 * call), and seccomp or ptrace may rewrite it. It still ends this one.
	 */
	th->t.sys.exit_id = e->id;
	sys_close(s, th, e->h.ts, KT_SYS_RET, e->ret);
}

/* ---- wake-ups ---- */

static void wake_settle(struct threadstate *s, struct kthr *th, enum kt_wake_state st)
{
	th->wake.state = st;
	th->wake_active = false;
	if (s->ops->wake_end)
		s->ops->wake_end(s->ctx, &th->wake);
}

/* The waker is whoever is current on the CPU of the sched_waking record. */
static void wake_fill(struct threadstate *s, struct kcpu *cp, const struct ev_sched_wake *e,
		      struct kt_wake *w)
{
	const struct kthr *waker;

	memset(w, 0, sizeof(*w));
	w->ts = e->h.ts;
	w->waker_cpu = e->h.cpu;
	w->waker_tid = e->h.tid;
	w->waker_tgid = e->h.tgid;
	w->tid = e->pid;
	w->tgid = e->tgid;
	w->new_task = e->h.type == EV_SCHED_WAKEUP_NEW;
	if (!e->h.tid)
		return;
	if (cp->active && cp->run.tid == e->h.tid) {
		memcpy(w->waker_comm, cp->run.comm, TASK_COMM_LEN);
		w->in_waker_run = e->h.ts > cp->run.start;
		w->waker_seq = cp->run.seq;
	} else if ((waker = thread_find(s, e->h.tid))) {
		memcpy(w->waker_comm, waker->t.comm, TASK_COMM_LEN);
	}
}

/* Remembers a wakee whose waking may turn out to sit on its waker slice's end. */
static void wakee_add(struct threadstate *s, struct kcpu *cp, uint64_t ts, uint32_t tid)
{
	if (cp->wake_ts != ts)
		cp->nwakees = 0;
	cp->wake_ts = ts;
	if (cp->nwakees == cp->capwakees) {
		size_t cap = cp->capwakees ? cp->capwakees * 2 : 4;
		uint32_t *p = realloc(cp->wakees, cap * sizeof(*p));

		if (!p) {
			s->oom = true;
			return;
		}
		cp->wakees = p;
		cp->capwakees = cap;
	}
	cp->wakees[cp->nwakees++] = tid;
}

static void wake_redundant(struct threadstate *s, struct kcpu *cp, const struct ev_sched_wake *e)
{
	struct kt_wake w;

	wake_fill(s, cp, e, &w);
	w.state = KT_WAKE_REDUNDANT;
	if (s->ops->wake)
		s->ops->wake(s->ctx, &w);
}

static void on_wake(struct threadstate *s, const struct ev_sched_wake *e)
{
	struct kcpu *cp = cpu_get(s, e->h.cpu);
	struct kthr *th = thread_get(s, e->pid);

	if (!cp || !th)
		return;
	retgid(s, th, e->tgid, e->h.ts);
	set_comm(th->t.comm, e->comm);
	s->stats.wakeups++;
	if (s->policy == KT_WAKES_OFF_CPU && (th->switched_in || th->wake_active)) {
		wake_redundant(s, cp, e);
		return;
	}
	if (th->wake_active) {
		/*
		 * Running already after an earlier wake-up: this one changes
		 * nothing. Still waiting: the earlier one did not make it
		 * runnable after all (or it ran unseen), and this one counts.
		 */
		if (th->wake.state == KT_WAKE_RAN) {
			wake_redundant(s, cp, e);
			return;
		}
		wake_settle(s, th, KT_WAKE_SUPERSEDED);
	}
	wake_fill(s, cp, e, &th->wake);
	th->wake.state = KT_WAKE_PENDING;
	th->wake_active = true;
	if (th->wake.in_waker_run)
		wakee_add(s, cp, e->h.ts, e->pid);
	if (s->ops->wake)
		s->ops->wake(s->ctx, &th->wake);
}

/* ---- run slices ---- */

static void run_call(struct threadstate *s, struct kt_run *r, bool begin)
{
	struct kthr *th = thread_find(s, r->tid);

	r->thread = th ? &th->t : NULL;
	r->wake = NULL;
	if (th && th->wake_active && th->wake.state == KT_WAKE_RAN && r->seq &&
	    th->wake.run_seq == r->seq)
		r->wake = &th->wake;
	if (begin && s->ops->run_begin)
		s->ops->run_begin(s->ctx, r);
	if (!begin && s->ops->run_end)
		s->ops->run_end(s->ctx, r);
	/* The wake-up has been shown with the slice it led to. */
	if (!begin && r->wake)
		th->wake_active = false;
}

static void run_close(struct threadstate *s, struct kcpu *cp, size_t cpu, uint64_t ts,
		      enum kt_run_end how, int64_t state)
{
	struct kt_run r;

	if (!cp->active)
		return;
	cp->active = false;
	/* Wakings at exactly ts sit on the slice's edge, not inside it. */
	if (cp->nwakees && cp->wake_ts == ts) {
		for (size_t i = 0; i < cp->nwakees; i++) {
			struct kthr *w = thread_find(s, cp->wakees[i]);

			if (w && w->wake_active && w->wake.waker_seq == cp->run.seq &&
			    w->wake.waker_cpu == cpu && w->wake.ts == ts)
				w->wake.in_waker_run = false;
		}
	}
	cp->nwakees = 0;
	r = cp->run;
	r.end = ts;
	r.how = how;
	r.state = state;
	run_call(s, &r, false);
}

static void run_open(struct threadstate *s, struct kcpu *cp, uint16_t cpu, uint64_t ts,
		     uint32_t tid, uint32_t tgid, const char *comm, bool inferred)
{
	struct kt_run *r = &cp->run;

	memset(r, 0, sizeof(*r));
	cp->active = true;
	r->tid = tid;
	r->tgid = tgid;
	r->cpu = cpu;
	r->seq = ++s->seq;
	r->start = ts;
	r->inferred = inferred;
	memcpy(r->comm, comm, TASK_COMM_LEN);
	r->comm[TASK_COMM_LEN - 1] = 0;
	cp->nwakees = 0;
}

/*
 * Every record names the task current on its CPU. When that disagrees with
 * the slice tracked there (start of capture, or lost switches), the tracked
 * slice ends and one starts for the task the record shows.
 */
static void cpu_sync(struct threadstate *s, const struct ev_header *h)
{
	struct kcpu *cp = cpu_get(s, h->cpu);
	const struct kthr *th;
	struct kt_run r;

	if (!cp || (cp->active && cp->run.tid == h->tid))
		return;
	run_close(s, cp, h->cpu, h->ts, KT_RUN_LOST, 0);
	if (!h->tid)
		return;
	th = thread_get(s, h->tid);
	run_open(s, cp, h->cpu, h->ts, h->tid, h->tgid, th ? th->t.comm : "", true);
	r = cp->run;
	run_call(s, &r, true);
}

/* The switch-out of a thread no slice was open for on this CPU. */
static void switch_out_untracked(struct threadstate *s, const struct ev_sched_switch *e)
{
	struct kt_run r = {
	    .tid = e->prev_pid,
	    .tgid = e->prev_tgid,
	    .cpu = e->h.cpu,
	    .end = e->h.ts,
	    .no_start = true,
	    .how = KT_RUN_SWITCH,
	    .state = e->prev_state,
	};

	memcpy(r.comm, e->prev_comm, TASK_COMM_LEN);
	r.comm[TASK_COMM_LEN - 1] = 0;
	run_call(s, &r, false);
}

/*
 * A wake-up still waiting when its task leaves the CPU runnable came while
 * it was running and changed nothing. One before a sleeping switch-out is
 * the usual race (dequeued, not yet switched) and holds, unless the policy
 * counts only wakings of tasks off the CPU.
 */
static void switch_out_wake(struct threadstate *s, struct kthr *prev, int64_t state)
{
	if (!prev)
		return;
	prev->switched_in = false;
	if (!prev->wake_active)
		return;
	if (s->policy == KT_WAKES_LATEST &&
	    !(prev->wake.state == KT_WAKE_PENDING && sched_state_running(state)))
		return;
	if (prev->wake.state == KT_WAKE_PENDING)
		wake_settle(s, prev, KT_WAKE_NO_EFFECT);
	else
		prev->wake_active = false;
}

static void on_switch(struct threadstate *s, const struct ev_sched_switch *e)
{
	struct kcpu *cp = cpu_get(s, e->h.cpu);
	struct kthr *prev = thread_get(s, e->prev_pid);
	struct kthr *next = thread_get(s, e->next_pid);
	struct kt_run r;

	if (!cp)
		return;
	retgid(s, prev, e->prev_tgid, e->h.ts);
	retgid(s, next, e->next_tgid, e->h.ts);
	if (prev)
		set_comm(prev->t.comm, e->prev_comm);
	if (next)
		set_comm(next->t.comm, e->next_comm);
	if (cp->active && cp->run.tid == e->prev_pid) {
		run_close(s, cp, e->h.cpu, e->h.ts, KT_RUN_SWITCH, e->prev_state);
	} else {
		run_close(s, cp, e->h.cpu, e->h.ts, KT_RUN_LOST, 0);
		if (e->prev_pid)
			switch_out_untracked(s, e);
	}
	switch_out_wake(s, prev, e->prev_state);
	if (!next)
		return;
	next->switched_in = true;
	run_open(s, cp, e->h.cpu, e->h.ts, e->next_pid, e->next_tgid, e->next_comm, false);
	if (next->wake_active && next->wake.state == KT_WAKE_PENDING) {
		next->wake.state = KT_WAKE_RAN;
		next->wake.run_ts = e->h.ts;
		next->wake.run_seq = cp->run.seq;
		next->wake.run_cpu = e->h.cpu;
		if (s->ops->wake_end)
			s->ops->wake_end(s->ctx, &next->wake);
	}
	r = cp->run;
	run_call(s, &r, true);
}

/* ---- process records ---- */

static void on_fork(struct threadstate *s, const struct ev_process_fork *e)
{
	struct kthr *parent = thread_get(s, e->h.tid);
	struct kthr *child;

	retgid(s, parent, e->h.tgid, e->h.ts);
	child = thread_get(s, e->child_pid);
	retgid(s, child, e->child_tgid, e->h.ts);
	if (child)
		set_comm(child->t.comm, e->child_comm);
}

/* A non-leader thread that execs takes over the tgid as its tid: its slice goes on. */
static void exec_retid(struct threadstate *s, const struct ev_process_exec *e)
{
	struct kcpu *cp = cpu_get(s, e->h.cpu);

	if (e->old_pid != e->pid && cp && cp->active && cp->run.tid == e->old_pid)
		cp->run.tid = e->pid;
}

static void on_exec(struct threadstate *s, const struct ev_process_exec *e)
{
	struct kthr *th;

	/* Its execve returns under the new tid: it ends under the old one. */
	if (e->old_pid != e->pid)
		sys_close(s, thread_find(s, e->old_pid), e->h.ts, KT_SYS_EXITED, 0);
	th = thread_get(s, e->pid);
	if (!th)
		return;
	retgid(s, th, e->h.tgid, e->h.ts);
	set_comm(th->t.comm, e->comm);
}

static void on_exit_ev(struct threadstate *s, const struct ev_process_exit *e)
{
	struct kthr *th = thread_get(s, e->pid);

	if (!th)
		return;
	retgid(s, th, e->h.tgid, e->h.ts);
	set_comm(th->t.comm, e->comm);
	/* exit/exit_group never return */
	sys_close(s, th, e->h.ts, KT_SYS_EXITED, 0);
	if (th->wake_active && th->wake.state == KT_WAKE_PENDING)
		wake_settle(s, th, KT_WAKE_EXITED);
}

static void on_rename(struct threadstate *s, const struct ev_task_rename *e)
{
	struct kthr *th = thread_get(s, e->pid);
	struct kcpu *cp = cpu_get(s, e->h.cpu);

	if (th)
		set_comm(th->t.comm, e->newcomm);
	if (cp && cp->active && cp->run.tid == e->pid)
		set_comm(cp->run.comm, e->newcomm);
}

bool threadstate_uses(const struct ev_header *h)
{
	static const uint16_t min[EV_KERNEL_MAX] = {
	    [EV_SCHED_SWITCH] = sizeof(struct ev_sched_switch),
	    [EV_SCHED_WAKING] = sizeof(struct ev_sched_wake),
	    [EV_SCHED_WAKEUP_NEW] = sizeof(struct ev_sched_wake),
	    [EV_PROCESS_FORK] = sizeof(struct ev_process_fork),
	    [EV_PROCESS_EXEC] = sizeof(struct ev_process_exec),
	    [EV_PROCESS_EXIT] = sizeof(struct ev_process_exit),
	    [EV_SYS_ENTER] = sizeof(struct ev_sys_enter),
	    [EV_SYS_EXIT] = sizeof(struct ev_sys_exit),
	    [EV_TASK_RENAME] = sizeof(struct ev_task_rename),
	};

	return h->type < EV_KERNEL_MAX && min[h->type] && h->size >= min[h->type];
}

int threadstate_event(struct threadstate *s, const struct ev_header *h)
{
	if (!threadstate_uses(h))
		return s->oom ? -1 : 0;
	if (h->type == EV_SCHED_SWITCH) {
		on_switch(s, (const void *)h);
		return s->oom ? -1 : 0;
	}
	if (h->type == EV_PROCESS_EXEC)
		exec_retid(s, (const void *)h);
	cpu_sync(s, h);
	switch (h->type) {
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW:
		on_wake(s, (const void *)h);
		break;
	case EV_PROCESS_FORK:
		on_fork(s, (const void *)h);
		break;
	case EV_PROCESS_EXEC:
		on_exec(s, (const void *)h);
		break;
	case EV_PROCESS_EXIT:
		on_exit_ev(s, (const void *)h);
		break;
	case EV_SYS_ENTER:
		on_sys_enter(s, (const void *)h);
		break;
	case EV_SYS_EXIT:
		on_sys_exit(s, (const void *)h);
		break;
	case EV_TASK_RENAME:
		on_rename(s, (const void *)h);
		break;
	}
	return s->oom ? -1 : 0;
}

static int cmp_thr(const void *a, const void *b)
{
	const struct kthr *x = *(struct kthr *const *)a, *y = *(struct kthr *const *)b;

	return x->t.tid < y->t.tid ? -1 : x->t.tid > y->t.tid;
}

void threadstate_finish(struct threadstate *s, uint64_t ts)
{
	size_t n = 0, it = 0;
	struct kthr **v;
	uint64_t val;

	for (size_t i = 0; i < s->ncpus; i++)
		run_close(s, &s->cpus[i], i, ts, KT_RUN_CAPTURE, 0);
	v = malloc((idmap_count(&s->thr) + 1) * sizeof(*v));
	if (!v) {
		s->oom = true;
		return;
	}
	while (idmap_next(&s->thr, &it, NULL, &val))
		v[n++] = (struct kthr *)(uintptr_t)val;
	qsort(v, n, sizeof(*v), cmp_thr);
	for (size_t i = 0; i < n; i++) {
		struct kthr *th = v[i];

		sys_close(s, th, ts, KT_SYS_UNFINISHED, 0);
		if (th->wake_active && th->wake.state == KT_WAKE_PENDING)
			wake_settle(s, th, KT_WAKE_UNFINISHED);
		/* A wake-up whose slice changed tid (exec) is over too. */
		th->wake_active = false;
		if (s->ops->thread_end)
			s->ops->thread_end(s->ctx, &th->t);
	}
	free(v);
}

const struct kt_thread *threadstate_find(const struct threadstate *s, uint32_t tid)
{
	const struct kthr *th = thread_find(s, tid);

	return th ? &th->t : NULL;
}

const struct kt_stats *threadstate_stats(const struct threadstate *s)
{
	return &s->stats;
}

void threadstate_free(struct threadstate *s)
{
	size_t it = 0;
	uint64_t val;

	if (!s)
		return;
	while (idmap_next(&s->thr, &it, NULL, &val))
		free((void *)(uintptr_t)val);
	idmap_free(&s->thr);
	for (size_t i = 0; i < s->ncpus; i++)
		free(s->cpus[i].wakees);
	free(s->cpus);
	free(s);
}
