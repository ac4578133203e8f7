// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Chrome JSON trace (Trace Event Format) from a capture.
 *
 * Layout:
 *  - one process per tgid; syscalls are B/E slices on the thread tracks,
 *    fork/exec/exit are thread-scoped instants;
 *  - a pseudo process "CPUs" with one track per CPU holding X slices for what
 *    ran there (idle is left blank);
 *  - wake-ups are v1 flows ("s" on the waker's CPU slice, "f" with bp:e on the
 *    wakee's CPU slice) and also appear as woken_by args on the wakee's slice;
 *  - goroutines are pseudo-threads of their process (chrome_json_go.c).
 *
 * Events are streamed; only per-thread and per-CPU state is kept. Slices are
 * written when they end, so the file is not sorted by ts (viewers sort).
 * Times are µs relative to the capture start with 3 decimals (exact ns).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/chrome_json_go.h"
#include "formats/formats.h"
#include "lib/json.h"
#include "lib/util.h"

/*
 * Trace Processor keys threads (and thread names) by tid alone, so the CPU
 * tracks need tids of their own: above PID_MAX_LIMIT (2^22) and below the
 * 0x40000000 range used for goroutine pseudo-threads.
 */
#define CPU_PID	     0x20000000u
#define CPU_TID(cpu) (CPU_PID + (uint32_t)(cpu))
#define MAX_CPUS     65536

/* Writes a string literal. */
#define OUT_LIT(o, s) out_write(o, s, sizeof(s) - 1)

#define FLOW_CAT  "sched"
#define FLOW_NAME "wakeup"

/* Why a syscall slice ends other than by its own exit. */
enum sys_end {
	SYS_RET,
	SYS_LOST_EXIT,	/* another enter came first */
	SYS_EXITED,	/* the thread exited inside it (exit, exit_group, exec) */
	SYS_UNFINISHED, /* still open at the end of the capture */
};

/* A wake-up of a thread, from sched_waking until its slice ends. */
struct wake {
	bool active;
	bool flow_ok; /* waking ts strictly inside the waker's CPU slice */
	uint16_t waker_cpu;
	uint32_t waker_tid;
	char waker_comm[TASK_COMM_LEN];
	uint64_t ts;
	uint64_t waker_seq; /* CPU slice the waking happened in */
	uint64_t in_seq;    /* CPU slice the wakee then ran in, 0 while waiting */
	uint64_t in_ts;
};

struct thread {
	uint32_t tid;
	uint32_t tgid;	/* pid of its thread track */
	bool has_track; /* tgid is valid and the track is named */
	bool lazy_name; /* (tgid, tid) not in the task table: name it at the end */
	char comm[TASK_COMM_LEN];

	/* Open syscall; written as a whole when it ends (see sys_close). */
	bool sys_open;
	int64_t sys_id;
	int64_t sys_exit_id; /* when the exit named another number */
	uint64_t sys_ts;
	uint64_t sys_args[SYSCALL_NARGS];
	int64_t sys_goid; /* goroutine that made it, 0: none known */

	struct wake wake;
};

struct cpu_slice {
	bool active;
	bool inferred; /* opened without seeing the switch */
	uint32_t tid, tgid;
	char comm[TASK_COMM_LEN];
	uint64_t start;
	uint64_t seq;
};

struct cpu {
	struct cpu_slice cur;
	/*
	 * Wakees woken in the current slice at wake_ts, the latest waking ts:
	 * if the slice ends at that very ts their flow has nothing to bind to.
	 */
	uint64_t wake_ts;
	uint32_t *wakees;
	size_t nwakees, capwakees;
};

struct cj {
	struct ctr_reader *r;
	struct out *o;
	const struct ctr_info *info;
	const char *machine;
	bool first;
	bool oom;

	struct thread **thr; /* open addressing by tid */
	size_t thr_cap, thr_n;
	uint32_t *procs; /* lazily named tgids, stored +1 */
	size_t procs_cap, procs_n;
	struct cpu *cpus;
	size_t ncpus;

	uint64_t seq;	  /* CPU slice counter */
	uint64_t flow_id; /* flow id counter */
	uint64_t last_ts;

	uint64_t wakeups, wakeup_flows, wakeups_not_run;
	uint64_t sys_lost_exit, sys_exit_unmatched;

	struct cjgo *go; /* goroutine pseudo-threads, when Go was traced */
};

/* ---- JSON helpers ---- */

static const char *fmt_ts(struct cj *c, char *buf, size_t len, uint64_t ts)
{
	return json_fmt_us(buf, len, (int64_t)(ts - c->info->start_ts));
}

/* Starts one element of traceEvents. */
static void ev_sep(struct cj *c)
{
	if (c->first) {
		OUT_LIT(c->o, "\n");
		c->first = false;
	} else {
		OUT_LIT(c->o, ",\n");
	}
}

/* sched_switch prev_state (report form) as the letter ps and ftrace print. */
static const char *state_name(int64_t s, char *buf, size_t len)
{
	static const struct {
		int64_t v;
		const char *name;
	} names[] = {
	    {0, "R"}, {0x100, "R+"}, {1, "S"},	  {2, "D"},    {4, "T"},
	    {8, "t"}, {0x10, "X"},   {0x20, "Z"}, {0x40, "P"}, {0x80, "I"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == s)
			return names[i].name;
	snprintf(buf, len, "0x%" PRIx64, (uint64_t)s);
	return buf;
}

/* ---- metadata events ---- */

static void meta_name(struct cj *c, const char *what, uint32_t pid, uint32_t tid, const char *name,
		      size_t maxlen)
{
	size_t n = strnlen(name, maxlen);

	ev_sep(c);
	out_printf(c->o,
		   "{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"",
		   what, pid, tid);
	/* A task known only from events without a comm still gets a label. */
	if (n)
		json_put_esc(c->o, name, n);
	else
		out_printf(c->o, "%s %u", strcmp(what, "process_name") ? "tid" : "pid",
			   strcmp(what, "process_name") ? tid : pid);
	OUT_LIT(c->o, "\"}}");
}

static void meta_sort(struct cj *c, const char *what, uint32_t pid, uint32_t tid, int idx)
{
	ev_sep(c);
	out_printf(
	    c->o,
	    "{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,\"args\":{\"sort_index\":%d}}",
	    what, pid, tid, idx);
}

static void name_cpu(struct cj *c, size_t cpu)
{
	char name[32];

	snprintf(name, sizeof(name), "CPU %zu", cpu);
	meta_name(c, "thread_name", CPU_PID, CPU_TID(cpu), name, sizeof(name));
	meta_sort(c, "thread_sort_index", CPU_PID, CPU_TID(cpu), (int)cpu);
}

/* Process name: basename of argv[0] when there is one, else comm. */
static void name_process(struct cj *c, const struct ctr_task *t)
{
	const char *arg0 = t->cmdline, *base, *end;

	if (arg0 && t->cmdline_len && arg0[0]) {
		end = memchr(arg0, 0, t->cmdline_len);
		if (!end)
			end = arg0 + t->cmdline_len;
		base = arg0;
		for (const char *p = arg0; p < end; p++)
			if (*p == '/' && p + 1 < end)
				base = p + 1;
		meta_name(c, "process_name", t->tgid, t->tgid, base, end - base);
	} else {
		meta_name(c, "process_name", t->tgid, t->tgid, t->comm, TASK_COMM_LEN);
	}
}

/* Names every process and thread of the task table, and the CPU tracks. */
static void write_task_names(struct cj *c)
{
	size_t n = ctr_task_count(c->r), i, j, k;

	for (i = 0; i < n; i = j) {
		const struct ctr_task *t = ctr_task_at(c->r, i), *lead = t;

		for (j = i; j < n && ctr_task_at(c->r, j)->tgid == t->tgid; j++)
			if (ctr_task_at(c->r, j)->tid == t->tgid)
				lead = ctr_task_at(c->r, j);
		name_process(c, lead);
		for (k = i; k < j; k++) {
			const struct ctr_task *u = ctr_task_at(c->r, k);

			meta_name(c, "thread_name", u->tgid, u->tid, u->comm, TASK_COMM_LEN);
		}
	}
	meta_name(c, "process_name", CPU_PID, CPU_PID, "CPUs", 5);
	meta_sort(c, "process_sort_index", CPU_PID, CPU_PID, -1);
	for (i = 0; i < c->ncpus; i++)
		name_cpu(c, i);
}

/* Whether the task table has a process tgid (it is sorted by tgid, tid). */
static bool table_has_tgid(struct cj *c, uint32_t tgid)
{
	size_t lo = 0, hi = ctr_task_count(c->r);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t g = ctr_task_at(c->r, mid)->tgid;

		if (g == tgid)
			return true;
		if (g < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- state tables ---- */

static size_t hash32(uint32_t k, size_t cap)
{
	return (size_t)(((uint64_t)k * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct thread *thread_find(struct cj *c, uint32_t tid)
{
	size_t i;

	if (!c->thr_cap)
		return NULL;
	for (i = hash32(tid, c->thr_cap); c->thr[i]; i = (i + 1) & (c->thr_cap - 1))
		if (c->thr[i]->tid == tid)
			return c->thr[i];
	return NULL;
}

static bool thread_grow(struct cj *c)
{
	size_t cap = c->thr_cap ? c->thr_cap * 2 : 1024, i, j;
	struct thread **t = calloc(cap, sizeof(*t));

	if (!t)
		return false;
	for (i = 0; i < c->thr_cap; i++) {
		if (!c->thr[i])
			continue;
		for (j = hash32(c->thr[i]->tid, cap); t[j]; j = (j + 1) & (cap - 1))
			;
		t[j] = c->thr[i];
	}
	free(c->thr);
	c->thr = t;
	c->thr_cap = cap;
	return true;
}

/* State of a thread, created on first sight; NULL for idle or on ENOMEM. */
static struct thread *thread_get(struct cj *c, uint32_t tid)
{
	const struct ctr_task *t;
	struct thread *th;
	size_t i;

	if (!tid)
		return NULL;
	th = thread_find(c, tid);
	if (th)
		return th;
	if ((c->thr_n + 1) * 2 > c->thr_cap && !thread_grow(c)) {
		c->oom = true;
		return NULL;
	}
	th = calloc(1, sizeof(*th));
	if (!th) {
		c->oom = true;
		return NULL;
	}
	th->tid = tid;
	t = ctr_task_find(c->r, tid);
	if (t)
		memcpy(th->comm, t->comm, TASK_COMM_LEN);
	for (i = hash32(tid, c->thr_cap); c->thr[i]; i = (i + 1) & (c->thr_cap - 1))
		;
	c->thr[i] = th;
	c->thr_n++;
	return th;
}

static void set_comm(char *dst, const char *src)
{
	if (src[0]) {
		memcpy(dst, src, TASK_COMM_LEN);
		dst[TASK_COMM_LEN - 1] = 0;
	}
}

/* Adds tgid to the lazily named processes; false if it was there. */
static bool procs_add(struct cj *c, uint32_t tgid)
{
	size_t i;

	if ((c->procs_n + 1) * 2 > c->procs_cap) {
		size_t cap = c->procs_cap ? c->procs_cap * 2 : 64, j;
		uint32_t *p = calloc(cap, sizeof(*p));

		if (!p) {
			c->oom = true;
			return false;
		}
		for (i = 0; i < c->procs_cap; i++) {
			if (!c->procs[i])
				continue;
			for (j = hash32(c->procs[i], cap); p[j]; j = (j + 1) & (cap - 1))
				;
			p[j] = c->procs[i];
		}
		free(c->procs);
		c->procs = p;
		c->procs_cap = cap;
	}
	for (i = hash32(tgid + 1, c->procs_cap); c->procs[i]; i = (i + 1) & (c->procs_cap - 1))
		if (c->procs[i] == tgid + 1)
			return false;
	c->procs[i] = tgid + 1;
	c->procs_n++;
	return true;
}

/*
 * Names a (tgid, tid) track the task table does not describe (a tid reused
 * by another process during the capture keeps only its last tgid there).
 */
static void name_lazy(struct cj *c, const struct thread *th)
{
	const struct thread *lead;

	meta_name(c, "thread_name", th->tgid, th->tid, th->comm, TASK_COMM_LEN);
	if (table_has_tgid(c, th->tgid) || !procs_add(c, th->tgid))
		return;
	lead = thread_find(c, th->tgid);
	if (!lead || !lead->comm[0])
		lead = th;
	meta_name(c, "process_name", th->tgid, th->tgid, lead->comm, TASK_COMM_LEN);
}

static struct cpu *cpu_get(struct cj *c, uint16_t cpu)
{
	if (cpu >= c->ncpus) {
		size_t n = (size_t)cpu + 1, i;
		struct cpu *p = realloc(c->cpus, n * sizeof(*p));

		if (!p) {
			c->oom = true;
			return NULL;
		}
		memset(p + c->ncpus, 0, (n - c->ncpus) * sizeof(*p));
		c->cpus = p;
		i = c->ncpus;
		c->ncpus = n;
		for (; i < n; i++)
			name_cpu(c, i);
	}
	return &c->cpus[cpu];
}

/* ---- syscalls ---- */

/*
 * Writes the open syscall of th as a B/E pair ending at ts. Both halves are
 * written together, at the end: a zero-length slice then becomes an X,
 * because Trace Processor orders an E before a B with the same ts.
 */
static void sys_close(struct cj *c, struct thread *th, uint64_t ts, enum sys_end why, int64_t ret)
{
	char t0[32], t1[32], num[32];
	const char *name = syscall_name(c->machine, (long)th->sys_id);
	bool zero = ts <= th->sys_ts;
	int i;

	if (!th->sys_open)
		return;
	th->sys_open = false;
	if (!name) {
		snprintf(num, sizeof(num), "sys_%" PRId64, th->sys_id);
		name = num;
	}
	fmt_ts(c, t0, sizeof(t0), th->sys_ts);
	ev_sep(c);
	out_printf(c->o,
		   "{\"ph\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%s,%s\"name\":\"%s\","
		   "\"args\":{\"args\":[",
		   zero ? "X" : "B", th->tgid, th->tid, t0, zero ? "\"dur\":0.000," : "", name);
	for (i = 0; i < SYSCALL_NARGS; i++)
		out_printf(c->o, "%s\"0x%" PRIx64 "\"", i ? "," : "", th->sys_args[i]);
	OUT_LIT(c->o, "]");
	if (th->sys_goid)
		out_printf(c->o, ",\"goroutine\":%" PRId64, th->sys_goid);
	if (!zero) {
		OUT_LIT(c->o, "}}");
		ev_sep(c);
		out_printf(c->o, "{\"ph\":\"E\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"args\":{",
			   th->tgid, th->tid, fmt_ts(c, t1, sizeof(t1), ts));
	} else {
		OUT_LIT(c->o, ",");
	}
	switch (why) {
	case SYS_RET:
		out_printf(c->o, "\"ret\":%" PRId64, ret);
		if (th->sys_exit_id != th->sys_id)
			out_printf(c->o, ",\"exit_nr\":%" PRId64, th->sys_exit_id);
		OUT_LIT(c->o, "}}");
		break;
	case SYS_LOST_EXIT:
		OUT_LIT(c->o, "\"lost_exit\":true}}");
		break;
	case SYS_EXITED:
		OUT_LIT(c->o, "\"exited\":true}}");
		break;
	case SYS_UNFINISHED:
		OUT_LIT(c->o, "\"unfinished\":true}}");
		break;
	}
}

/*
 * A tid seen under another tgid than its track's was reused by another
 * process: end the old incarnation (open syscall, name) before anything
 * of the new one, its comm included, overwrites the state.
 */
static void thread_tgid(struct cj *c, struct thread *th, uint32_t tgid, uint64_t ts)
{
	if (!th || !th->has_track || th->tgid == tgid || !tgid)
		return;
	sys_close(c, th, ts, SYS_UNFINISHED, 0);
	if (th->lazy_name)
		name_lazy(c, th);
	th->has_track = false;
}

/* The thread track (tgid, tid) for an event. */
static struct thread *track(struct cj *c, uint32_t tgid, uint32_t tid, uint64_t ts)
{
	struct thread *th = thread_get(c, tid);
	const struct ctr_task *t;

	if (!th)
		return NULL;
	thread_tgid(c, th, tgid, ts);
	if (th->has_track)
		return th;
	th->tgid = tgid;
	th->has_track = true;
	t = ctr_task_find(c->r, tid);
	th->lazy_name = !t || t->tgid != tgid;
	return th;
}

static void on_sys_enter(struct cj *c, const struct ev_sys_enter *e)
{
	struct thread *th = track(c, e->h.tgid, e->h.tid, e->h.ts);

	if (!th)
		return;
	if (th->sys_open) {
		c->sys_lost_exit++;
		sys_close(c, th, e->h.ts, SYS_LOST_EXIT, 0);
	}
	th->sys_open = true;
	th->sys_id = e->id;
	th->sys_exit_id = e->id;
	th->sys_ts = e->h.ts;
	th->sys_goid = c->go ? cjgo_syscall_goid(c->go, e->h.tid, e->h.ts) : 0;
	memcpy(th->sys_args, e->args, sizeof(th->sys_args));
}

static void on_sys_exit(struct cj *c, const struct ev_sys_exit *e)
{
	struct thread *th = track(c, e->h.tgid, e->h.tid, e->h.ts);

	if (!th)
		return;
	if (!th->sys_open) {
		/* entered before the capture started */
		c->sys_exit_unmatched++;
		return;
	}
	/*
	 * An exit may name another syscall than its enter: rt_sigreturn exits
	 * with the number restored from the signal frame (-1 or the interrupted
	 * call), and seccomp or ptrace may rewrite it. It still ends this one.
	 */
	if (th->sys_id != e->id)
		th->sys_exit_id = e->id;
	sys_close(c, th, e->h.ts, SYS_RET, e->ret);
}

/* ---- CPU slices and wake-ups ---- */

static void wake_args(struct cj *c, const struct wake *w)
{
	char lat[32];

	out_printf(c->o, ",\"woken_by_tid\":%u,\"woken_by_comm\":", w->waker_tid);
	json_put_strn(c->o, w->waker_comm, TASK_COMM_LEN);
	out_printf(c->o, ",\"waker_cpu\":%u,\"wake_latency_us\":%s", w->waker_cpu,
		   json_fmt_us(lat, sizeof(lat), (int64_t)(w->in_ts - w->ts)));
}

/*
 * Ends the running slice of a CPU at ts and writes it as an X event, with
 * the flow of the wake-up that put it there. has_state: state is the
 * sched_switch prev_state of this very task.
 */
static void slice_close(struct cj *c, struct cpu *cp, size_t cpu, uint64_t ts, bool has_state,
			int64_t state, const char *why)
{
	struct cpu_slice *s = &cp->cur;
	struct thread *th;
	char t0[32], t1[32], dur[32], sb[32];
	bool flow = false;
	size_t i;

	if (!s->active)
		return;
	s->active = false;
	/* Wakings at exactly ts would sit on the slice edge: no flow for them. */
	if (cp->nwakees && cp->wake_ts == ts) {
		for (i = 0; i < cp->nwakees; i++) {
			struct thread *w = thread_find(c, cp->wakees[i]);

			if (w && w->wake.active && w->wake.waker_seq == s->seq &&
			    w->wake.waker_cpu == cpu && w->wake.ts == ts)
				w->wake.flow_ok = false;
		}
	}
	cp->nwakees = 0;

	fmt_ts(c, t0, sizeof(t0), s->start);
	th = thread_find(c, s->tid);
	if (th && th->wake.active && th->wake.in_seq == s->seq) {
		struct wake *w = &th->wake;

		/* f binds to the slice that starts at its ts only if it has length */
		if (w->flow_ok && ts > s->start) {
			c->flow_id++;
			c->wakeup_flows++;
			flow = true;
			ev_sep(c);
			out_printf(c->o,
				   "{\"ph\":\"s\",\"id\":%" PRIu64 ",\"cat\":\"" FLOW_CAT
				   "\",\"name\":\"" FLOW_NAME "\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
				   c->flow_id, CPU_PID, CPU_TID(w->waker_cpu),
				   fmt_ts(c, t1, sizeof(t1), w->ts));
			ev_sep(c);
			out_printf(c->o,
				   "{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64
				   ",\"cat\":\"" FLOW_CAT "\",\"name\":\"" FLOW_NAME
				   "\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
				   c->flow_id, CPU_PID, CPU_TID(cpu), t0);
		}
	}
	ev_sep(c);
	out_printf(c->o, "{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,\"name\":\"",
		   CPU_PID, CPU_TID(cpu), t0,
		   json_fmt_us(dur, sizeof(dur), (int64_t)(ts - s->start)));
	if (s->comm[0]) {
		json_put_esc(c->o, s->comm, strnlen(s->comm, TASK_COMM_LEN));
		OUT_LIT(c->o, " ");
	}
	out_printf(c->o, "%u\",\"args\":{\"tid\":%u,\"tgid\":%u", s->tid, s->tid, s->tgid);
	if (has_state)
		out_printf(c->o, ",\"prev_state\":\"%s\"", state_name(state, sb, sizeof(sb)));
	if (s->inferred)
		OUT_LIT(c->o, ",\"inferred_start\":true");
	if (why)
		out_printf(c->o, ",\"%s\":true", why);
	if (th && th->wake.active && th->wake.in_seq == s->seq) {
		wake_args(c, &th->wake);
		if (flow)
			out_printf(c->o, ",\"flow_id\":%" PRIu64, c->flow_id);
		th->wake.active = false;
	}
	OUT_LIT(c->o, "}}");
}

static void slice_open(struct cj *c, struct cpu *cp, uint64_t ts, uint32_t tid, uint32_t tgid,
		       const char *comm, bool inferred)
{
	struct cpu_slice *s = &cp->cur;

	s->active = true;
	s->inferred = inferred;
	s->tid = tid;
	s->tgid = tgid;
	memcpy(s->comm, comm, TASK_COMM_LEN);
	s->comm[TASK_COMM_LEN - 1] = 0;
	s->start = ts;
	s->seq = ++c->seq;
	cp->nwakees = 0;
}

/*
 * Every event names the task current on its CPU. When that disagrees with
 * the slice we track (start of capture, or lost switches), end the tracked
 * slice and start one for the task the event shows.
 */
static void cpu_sync(struct cj *c, const struct ev_header *h)
{
	struct cpu *cp = cpu_get(c, h->cpu);
	const struct thread *th;

	if (!cp || (cp->cur.active && cp->cur.tid == h->tid))
		return;
	if (cp->cur.active)
		slice_close(c, cp, h->cpu, h->ts, false, 0, "lost_switch");
	if (!h->tid)
		return;
	th = thread_get(c, h->tid);
	slice_open(c, cp, h->ts, h->tid, h->tgid, th ? th->comm : "", true);
}

static bool is_running_state(int64_t s)
{
	return s == 0 || s == 0x100;
}

static void on_switch(struct cj *c, const struct ev_sched_switch *e)
{
	struct cpu *cp = cpu_get(c, e->h.cpu);
	struct thread *prev = thread_get(c, e->prev_pid);
	struct thread *next = thread_get(c, e->next_pid);

	if (!cp)
		return;
	thread_tgid(c, prev, e->prev_tgid, e->h.ts);
	thread_tgid(c, next, e->next_tgid, e->h.ts);
	if (prev)
		set_comm(prev->comm, e->prev_comm);
	if (next)
		set_comm(next->comm, e->next_comm);
	slice_close(c, cp, e->h.cpu, e->h.ts, cp->cur.tid == e->prev_pid, e->prev_state,
		    cp->cur.tid == e->prev_pid ? NULL : "lost_switch");
	/*
	 * A wake-up still waiting when its task leaves the CPU runnable came
	 * while it was running and changed nothing. One before a sleeping
	 * switch-out is the usual race (dequeued, not yet switched) and holds.
	 */
	if (prev && prev->wake.active && !prev->wake.in_seq && is_running_state(e->prev_state)) {
		prev->wake.active = false;
		c->wakeups_not_run++;
	}
	if (!next)
		return;
	slice_open(c, cp, e->h.ts, e->next_pid, e->next_tgid, e->next_comm, false);
	if (next->wake.active && !next->wake.in_seq) {
		next->wake.in_seq = cp->cur.seq;
		next->wake.in_ts = e->h.ts;
	}
}

static void on_wake(struct cj *c, const struct ev_sched_wake *e)
{
	struct cpu *cp = cpu_get(c, e->h.cpu);
	struct thread *th = thread_get(c, e->pid), *waker;
	struct wake *w;

	if (!cp || !th)
		return;
	thread_tgid(c, th, e->tgid, e->h.ts);
	set_comm(th->comm, e->comm);
	c->wakeups++;
	w = &th->wake;
	if (w->active) {
		/*
		 * Running already: this wake-up changes nothing. Still waiting: the
		 * earlier one did not make it runnable after all (or the task ran
		 * unseen), and this one is what it will run after.
		 */
		c->wakeups_not_run++;
		if (w->in_seq)
			return;
	}
	memset(w, 0, sizeof(*w));
	w->active = true;
	w->ts = e->h.ts;
	w->waker_cpu = e->h.cpu;
	w->waker_tid = e->h.tid;
	if (!e->h.tid) {
		snprintf(w->waker_comm, sizeof(w->waker_comm), "swapper/%u", e->h.cpu);
	} else if (cp->cur.active && cp->cur.tid == e->h.tid) {
		memcpy(w->waker_comm, cp->cur.comm, TASK_COMM_LEN);
		/* s binds to the slice open at its ts: be strictly inside it */
		w->flow_ok = e->h.ts > cp->cur.start;
		w->waker_seq = cp->cur.seq;
	} else if ((waker = thread_find(c, e->h.tid))) {
		memcpy(w->waker_comm, waker->comm, TASK_COMM_LEN);
	}
	if (!w->flow_ok)
		return;
	if (cp->wake_ts != e->h.ts)
		cp->nwakees = 0;
	cp->wake_ts = e->h.ts;
	if (cp->nwakees == cp->capwakees) {
		size_t cap = cp->capwakees ? cp->capwakees * 2 : 4;
		uint32_t *p = realloc(cp->wakees, cap * sizeof(*p));

		if (!p) {
			c->oom = true;
			return;
		}
		cp->wakees = p;
		cp->capwakees = cap;
	}
	cp->wakees[cp->nwakees++] = e->pid;
}

/* ---- process events ---- */

static void instant_start(struct cj *c, const struct thread *th, uint64_t ts)
{
	char t0[32];

	ev_sep(c);
	out_printf(c->o, "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"name\":\"",
		   th->tgid, th->tid, fmt_ts(c, t0, sizeof(t0), ts));
}

static void on_fork(struct cj *c, const struct ev_process_fork *e)
{
	struct thread *th = track(c, e->h.tgid, e->h.tid, e->h.ts);
	struct thread *child = thread_get(c, e->child_pid);

	thread_tgid(c, child, e->child_tgid, e->h.ts);
	if (child)
		set_comm(child->comm, e->child_comm);
	if (!th)
		return;
	instant_start(c, th, e->h.ts);
	out_printf(c->o,
		   "fork child=%u\",\"args\":{\"child_tid\":%u,\"child_tgid\":%u,"
		   "\"clone_flags\":\"0x%" PRIx64 "\",\"child_comm\":",
		   e->child_pid, e->child_pid, e->child_tgid, (uint64_t)e->clone_flags);
	json_put_strn(c->o, e->child_comm, TASK_COMM_LEN);
	OUT_LIT(c->o, "}}");
}

static void on_exec(struct cj *c, const struct ev_process_exec *e)
{
	struct thread *th, *old;

	if (e->old_pid != e->pid) {
		/*
		 * A non-leader thread exec'd and took over the tgid as its tid.
		 * Its execve returns under the new tid: end it on the old track.
		 */
		old = thread_find(c, e->old_pid);
		if (old && old->has_track)
			sys_close(c, old, e->h.ts, SYS_EXITED, 0);
	}
	th = track(c, e->h.tgid, e->pid, e->h.ts);
	if (!th)
		return;
	set_comm(th->comm, e->comm);
	instant_start(c, th, e->h.ts);
	OUT_LIT(c->o, "exec ");
	json_put_esc(c->o, e->filename, strnlen(e->filename, EXEC_FILENAME_LEN));
	OUT_LIT(c->o, "\",\"args\":{\"filename\":");
	json_put_strn(c->o, e->filename, EXEC_FILENAME_LEN);
	OUT_LIT(c->o, ",\"comm\":");
	json_put_strn(c->o, e->comm, TASK_COMM_LEN);
	if (e->old_pid != e->pid)
		out_printf(c->o, ",\"old_tid\":%u", e->old_pid);
	OUT_LIT(c->o, "}}");
}

static void on_exit_ev(struct cj *c, const struct ev_process_exit *e)
{
	struct thread *th = track(c, e->h.tgid, e->pid, e->h.ts);

	if (!th)
		return;
	set_comm(th->comm, e->comm);
	/* exit/exit_group never return */
	sys_close(c, th, e->h.ts, SYS_EXITED, 0);
	instant_start(c, th, e->h.ts);
	out_printf(c->o, "exit\",\"args\":{\"exit_code\":%d,\"group_dead\":%s}}", e->exit_code,
		   e->h.flags & EXIT_GROUP_DEAD ? "true" : "false");
	if (th->wake.active && !th->wake.in_seq) {
		th->wake.active = false;
		c->wakeups_not_run++;
	}
}

static void on_rename(struct cj *c, const struct ev_task_rename *e)
{
	struct thread *th = thread_get(c, e->pid);
	struct cpu *cp = cpu_get(c, e->h.cpu);

	if (th)
		set_comm(th->comm, e->newcomm);
	if (cp && cp->cur.active && cp->cur.tid == e->pid)
		set_comm(cp->cur.comm, e->newcomm);
}

/* The CPU slice of a thread that exec'd from a non-leader keeps going under its new tid. */
static void exec_retid(struct cj *c, const struct ev_process_exec *e)
{
	struct cpu *cp = cpu_get(c, e->h.cpu);

	if (e->old_pid != e->pid && cp && cp->cur.active && cp->cur.tid == e->old_pid)
		cp->cur.tid = e->pid;
}

static void on_event(struct cj *c, const struct ev_header *h)
{
	if (h->ts > c->last_ts)
		c->last_ts = h->ts;
	switch (h->type) {
	case EV_SCHED_SWITCH:
		if (h->size >= sizeof(struct ev_sched_switch))
			on_switch(c, (const void *)h);
		return;
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW:
		if (h->size < sizeof(struct ev_sched_wake))
			return;
		cpu_sync(c, h);
		on_wake(c, (const void *)h);
		return;
	case EV_PROCESS_FORK:
		if (h->size < sizeof(struct ev_process_fork))
			return;
		cpu_sync(c, h);
		on_fork(c, (const void *)h);
		return;
	case EV_PROCESS_EXEC:
		if (h->size < sizeof(struct ev_process_exec))
			return;
		exec_retid(c, (const void *)h);
		cpu_sync(c, h);
		on_exec(c, (const void *)h);
		return;
	case EV_PROCESS_EXIT:
		if (h->size < sizeof(struct ev_process_exit))
			return;
		cpu_sync(c, h);
		on_exit_ev(c, (const void *)h);
		return;
	case EV_SYS_ENTER:
		if (h->size < sizeof(struct ev_sys_enter))
			return;
		cpu_sync(c, h);
		on_sys_enter(c, (const void *)h);
		return;
	case EV_SYS_EXIT:
		if (h->size < sizeof(struct ev_sys_exit))
			return;
		cpu_sync(c, h);
		on_sys_exit(c, (const void *)h);
		return;
	case EV_TASK_RENAME:
		if (h->size < sizeof(struct ev_task_rename))
			return;
		cpu_sync(c, h);
		on_rename(c, (const void *)h);
		return;
	default:
		/* goroutines are drawn by chrome_json_go.c; future records not at all */
		return;
	}
}

/* ---- end of capture ---- */

static int cmp_thread(const void *a, const void *b)
{
	const struct thread *x = *(struct thread *const *)a, *y = *(struct thread *const *)b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Closes what is still open, in a fixed order so the output is stable. */
static void finish(struct cj *c, uint64_t end)
{
	struct thread **v;
	size_t i, n = 0;

	for (i = 0; i < c->ncpus; i++)
		slice_close(c, &c->cpus[i], i, end, false, 0, "unfinished");
	v = malloc((c->thr_n ? c->thr_n : 1) * sizeof(*v));
	if (!v) {
		c->oom = true;
		return;
	}
	for (i = 0; i < c->thr_cap; i++)
		if (c->thr[i])
			v[n++] = c->thr[i];
	qsort(v, n, sizeof(*v), cmp_thread);
	for (i = 0; i < n; i++) {
		struct thread *th = v[i];

		if (th->sys_open)
			sys_close(c, th, end, SYS_UNFINISHED, 0);
		if (th->wake.active) {
			th->wake.active = false;
			c->wakeups_not_run++;
		}
		if (th->has_track && th->lazy_name)
			name_lazy(c, th);
	}
	free(v);
}

static const char *const drop_names[EV_KERNEL_MAX] = {
    [EV_SCHED_SWITCH] = "sched_switch",
    [EV_SCHED_WAKING] = "sched_waking",
    [EV_SCHED_WAKEUP_NEW] = "sched_wakeup_new",
    [EV_PROCESS_FORK] = "process_fork",
    [EV_PROCESS_EXEC] = "process_exec",
    [EV_PROCESS_EXIT] = "process_exit",
    [EV_SYS_ENTER] = "sys_enter",
    [EV_SYS_EXIT] = "sys_exit",
    [EV_TASK_RENAME] = "task_rename",
};

static void meta_kv(struct cj *c, const char *key, const char *val)
{
	if (!val)
		val = "";
	out_printf(c->o, ",\n\"%s\":\"", key);
	json_put_esc(c->o, val, strlen(val));
	OUT_LIT(c->o, "\"");
}

static void write_metadata(struct cj *c, uint64_t end)
{
	const struct ctr_info *in = c->info;
	int i, n = 0;

	out_printf(c->o,
		   "\n],\n\"displayTimeUnit\":\"ns\",\n\"metadata\":{\n\"format\":\"ctrace-bpf\"");
	meta_kv(c, "sysname", in->sysname);
	meta_kv(c, "kernel_release", in->release);
	meta_kv(c, "kernel_version", in->version);
	meta_kv(c, "machine", in->machine);
	meta_kv(c, "target", in->target);
	out_printf(c->o,
		   ",\n\"ncpus\":%u,\n\"events\":%" PRIu64 ",\n\"drops_total\":%" PRIu64
		   ",\n\"drops\":{",
		   in->ncpus, in->events, in->drops_total);
	for (i = 1; i < EV_KERNEL_MAX; i++)
		if (drop_names[i])
			out_printf(c->o, "%s\"%s\":%" PRIu64, n++ ? "," : "", drop_names[i],
				   in->drops[i]);
	out_printf(c->o,
		   "},\n\"clean_end\":%s,\n\"end_reason\":%u,\n\"truncated_blocks\":%" PRIu64
		   ",\n\"late_events\":%" PRIu64 ",\n\"start_ts_boottime_ns\":%" PRIu64
		   ",\n\"end_ts_boottime_ns\":%" PRIu64 ",\n\"realtime_offset_ns\":%" PRId64
		   ",\n\"cpu_track_pid\":%u",
		   in->clean_end ? "true" : "false", in->end_reason, in->truncated_blocks,
		   in->late_events, in->start_ts, end, in->realtime_offset_ns, CPU_PID);
	out_printf(c->o,
		   ",\n\"wakeups\":%" PRIu64 ",\n\"wakeup_flows\":%" PRIu64
		   ",\n\"wakeups_without_flow\":%" PRIu64 ",\n\"wakeups_not_run\":%" PRIu64
		   ",\n\"syscalls_lost_exit\":%" PRIu64 ",\n\"syscall_exits_unmatched\":%" PRIu64,
		   c->wakeups, c->wakeup_flows, c->wakeups - c->wakeup_flows, c->wakeups_not_run,
		   c->sys_lost_exit, c->sys_exit_unmatched);
	if (c->go)
		cjgo_metadata(c->go);
	OUT_LIT(c->o, "\n}}\n");
}

static void cj_free(struct cj *c)
{
	size_t i;

	for (i = 0; i < c->thr_cap; i++)
		free(c->thr[i]);
	free(c->thr);
	free(c->procs);
	for (i = 0; i < c->ncpus; i++)
		free(c->cpus[i].wakees);
	free(c->cpus);
	cjgo_free(c->go);
}

int chrome_json_write(struct ctr_reader *r, struct out *o)
{
	struct cj c = {.r = r, .o = o, .info = ctr_info(r), .first = true};
	union {
		struct ev_header h;
		struct ev_sched_switch sw;
		struct ev_sched_wake wk;
		struct ev_process_fork fk;
		struct ev_process_exec ex;
		struct ev_process_exit xt;
		struct ev_sys_enter se;
		struct ev_sys_exit sx;
		struct ev_task_rename rn;
		struct {
			struct ev_go g;
			__u64 stack[GO_MAX_STACK];
		} go; /* also holds rec_go_g */
	} ev;
	const struct ev_header *h;
	uint64_t n = 0, end;
	int rc;

	c.machine = c.info->machine ? c.info->machine : "";
	c.ncpus = c.info->ncpus < MAX_CPUS ? c.info->ncpus : MAX_CPUS;
	c.cpus = calloc(c.ncpus ? c.ncpus : 1, sizeof(*c.cpus));
	if (!c.cpus) {
		errmsg("json: out of memory");
		return -1;
	}
	if (ctr_rewind(r)) {
		errmsg("json: %s", ctr_error(r));
		cj_free(&c);
		return -1;
	}
	OUT_LIT(o, "{\"traceEvents\":[");
	write_task_names(&c);
	c.go = cjgo_new(r, o, &c.first, &c.oom);
	while ((rc = ctr_next(r, &h)) > 0) {
		/*
		 * Records sit at any byte offset in the capture's blocks: work on
		 * an aligned copy (tail beyond the known layouts not needed).
		 */
		memcpy(&ev.h, h, sizeof(ev.h));
		memcpy(&ev, h, ev.h.size < sizeof(ev) ? ev.h.size : sizeof(ev));
		if (c.go)
			cjgo_event(c.go, &ev.h);
		on_event(&c, &ev.h);
		if (!(++n & 4095) && (c.oom || out_error(o)))
			break;
	}
	if (rc < 0) {
		errmsg("json: %s", ctr_error(r));
		cj_free(&c);
		return -1;
	}
	end = c.info->end_ts > c.last_ts ? c.info->end_ts : c.last_ts;
	if (end < c.info->start_ts)
		end = c.info->start_ts;
	if (!c.oom && !out_error(o)) {
		finish(&c, end);
		if (c.go)
			cjgo_finish(c.go, end);
		write_metadata(&c, end);
	}
	cj_free(&c);
	if (c.oom) {
		errmsg("json: out of memory");
		return -1;
	}
	/* The caller reports write errors with the file name (see convert.c). */
	return out_error(o) ? -1 : 0;
}
