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
#include "capture/names.h"
#include "lib/idmap.h"
#include "lib/json.h"
#include "lib/util.h"
#include "model/threadstate.h"

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

/* A thread track: (tgid, tid) in the trace; threadstate keeps the rest. */
struct thread {
	uint32_t tid;
	uint32_t tgid;	/* pid of its thread track */
	bool has_track; /* tgid is valid and the track is named */
	bool lazy_name; /* (tgid, tid) not in the task table: name it at the end */
};

struct cj {
	struct ctr_reader *r;
	struct out *o;
	const struct ctr_info *info;
	const char *machine;
	bool first;
	bool oom;

	struct threadstate *ks;
	struct idmap thr;   /* tid -> struct thread * */
	struct idmap procs; /* lazily named tgids */
	size_t ncpus;	    /* CPU tracks named */

	uint64_t flow_id; /* flow id counter */
	uint64_t last_ts;

	uint64_t wakeups_shown, wakeup_flows;

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

/* ---- thread tracks ---- */

static struct thread *thread_find(struct cj *c, uint32_t tid)
{
	return idmap_get_ptr(&c->thr, tid);
}

static const char *thread_comm(struct cj *c, uint32_t tid)
{
	const struct kt_thread *t = threadstate_find(c->ks, tid);

	return t ? t->comm : "";
}

/* Adds tgid to the lazily named processes; false if it was there. */
static bool procs_add(struct cj *c, uint32_t tgid)
{
	bool added;

	if (!idmap_slot(&c->procs, tgid, &added)) {
		c->oom = true;
		return false;
	}
	return added;
}

/*
 * Names a (tgid, tid) track the task table does not describe (a tid reused
 * by another process during the capture keeps only its last tgid there).
 */
static void name_lazy(struct cj *c, const struct thread *th)
{
	const char *lead;

	meta_name(c, "thread_name", th->tgid, th->tid, thread_comm(c, th->tid), TASK_COMM_LEN);
	if (table_has_tgid(c, th->tgid) || !procs_add(c, th->tgid))
		return;
	lead = thread_comm(c, th->tgid);
	if (!lead[0])
		lead = thread_comm(c, th->tid);
	meta_name(c, "process_name", th->tgid, th->tgid, lead, TASK_COMM_LEN);
}

/* Names the CPU tracks up to cpu, as CPUs beyond the capture's count appear. */
static void cpu_seen(struct cj *c, uint16_t cpu)
{
	for (; c->ncpus <= cpu; c->ncpus++)
		name_cpu(c, c->ncpus);
}

/*
 * The thread track (tgid, tid) for an event, after threadstate has seen it
 * (a reused tid has already ended its old track then).
 */
static struct thread *track(struct cj *c, uint32_t tgid, uint32_t tid)
{
	struct thread *th;
	const struct ctr_task *t;

	if (!tid || !threadstate_find(c->ks, tid))
		return NULL;
	th = thread_find(c, tid);
	if (!th) {
		th = calloc(1, sizeof(*th));
		if (!th || idmap_put_ptr(&c->thr, tid, th)) {
			free(th);
			c->oom = true;
			return NULL;
		}
		th->tid = tid;
	}
	if (th->has_track)
		return th;
	th->tgid = tgid;
	th->has_track = true;
	t = ctr_task_find(c->r, tid);
	th->lazy_name = !t || t->tgid != tgid;
	return th;
}

/* A tid seen under another tgid than its track's: name the old track, start anew. */
static void on_reuse(void *ctx, const struct kt_thread *t, uint32_t tgid, uint64_t ts)
{
	struct cj *c = ctx;
	struct thread *th = thread_find(c, t->tid);

	if (!th || !th->has_track || th->tgid == tgid)
		return;
	if (th->lazy_name)
		name_lazy(c, th);
	th->has_track = false;
}

static void on_thread_end(void *ctx, const struct kt_thread *t)
{
	struct cj *c = ctx;
	struct thread *th = thread_find(c, t->tid);

	if (th && th->has_track && th->lazy_name)
		name_lazy(c, th);
}

/* ---- syscalls ---- */

static void on_sys_begin(void *ctx, struct kt_sys *sc)
{
	struct cj *c = ctx;

	/* The goroutine that made it: cjgo has seen this very sys_enter. */
	sc->user = c->go ? (uint64_t)cjgo_syscall_goid(c->go, sc->tid, sc->enter_ts) : 0;
}

/*
 * Writes a syscall as a B/E pair. Both halves are written together, at the
 * end: a zero-length slice then becomes an X, because Trace Processor
 * orders an E before a B with the same ts.
 */
static void on_sys_end(void *ctx, const struct kt_sys *sc)
{
	struct cj *c = ctx;
	char t0[32], t1[32], num[32];
	const char *name = syscall_name_buf(c->machine, (long)sc->id, num, sizeof(num));
	bool zero = sc->exit_ts <= sc->enter_ts;
	int64_t goid = (int64_t)sc->user;
	int i;

	fmt_ts(c, t0, sizeof(t0), sc->enter_ts);
	ev_sep(c);
	out_printf(c->o,
		   "{\"ph\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%s,%s\"name\":\"%s\","
		   "\"args\":{\"args\":[",
		   zero ? "X" : "B", sc->tgid, sc->tid, t0, zero ? "\"dur\":0.000," : "", name);
	for (i = 0; i < SYSCALL_NARGS; i++)
		out_printf(c->o, "%s\"0x%" PRIx64 "\"", i ? "," : "", sc->args[i]);
	OUT_LIT(c->o, "]");
	if (goid)
		out_printf(c->o, ",\"goroutine\":%" PRId64, goid);
	if (!zero) {
		OUT_LIT(c->o, "}}");
		ev_sep(c);
		out_printf(c->o, "{\"ph\":\"E\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"args\":{",
			   sc->tgid, sc->tid, fmt_ts(c, t1, sizeof(t1), sc->exit_ts));
	} else {
		OUT_LIT(c->o, ",");
	}
	switch (sc->end) {
	case KT_SYS_RET:
		out_printf(c->o, "\"ret\":%" PRId64, sc->ret);
		if (sc->exit_id != sc->id)
			out_printf(c->o, ",\"exit_nr\":%" PRId64, sc->exit_id);
		OUT_LIT(c->o, "}}");
		break;
	case KT_SYS_LOST_EXIT:
		OUT_LIT(c->o, "\"lost_exit\":true}}");
		break;
	case KT_SYS_EXITED:
		OUT_LIT(c->o, "\"exited\":true}}");
		break;
	case KT_SYS_UNFINISHED:
		OUT_LIT(c->o, "\"unfinished\":true}}");
		break;
	}
}

/* ---- CPU slices and wake-ups ---- */

static void wake_args(struct cj *c, const struct kt_wake *w)
{
	char lat[32], comm[TASK_COMM_LEN];

	if (w->waker_tid)
		memcpy(comm, w->waker_comm, TASK_COMM_LEN);
	else
		snprintf(comm, sizeof(comm), "swapper/%u", w->waker_cpu);
	out_printf(c->o, ",\"woken_by_tid\":%u,\"woken_by_comm\":", w->waker_tid);
	json_put_strn(c->o, comm, TASK_COMM_LEN);
	out_printf(c->o, ",\"waker_cpu\":%u,\"wake_latency_us\":%s", w->waker_cpu,
		   json_fmt_us(lat, sizeof(lat), (int64_t)(w->run_ts - w->ts)));
}

/* A wake-up's flow: "s" on the waker's CPU slice, "f" on the wakee's. */
static void wake_flow(struct cj *c, const struct kt_run *r, const char *t0)
{
	char t1[32];

	c->flow_id++;
	c->wakeup_flows++;
	ev_sep(c);
	out_printf(c->o,
		   "{\"ph\":\"s\",\"id\":%" PRIu64 ",\"cat\":\"" FLOW_CAT "\",\"name\":\"" FLOW_NAME
		   "\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
		   c->flow_id, CPU_PID, CPU_TID(r->wake->waker_cpu),
		   fmt_ts(c, t1, sizeof(t1), r->wake->ts));
	ev_sep(c);
	out_printf(c->o,
		   "{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64 ",\"cat\":\"" FLOW_CAT
		   "\",\"name\":\"" FLOW_NAME "\",\"pid\":%u,\"tid\":%u,\"ts\":%s}",
		   c->flow_id, CPU_PID, CPU_TID(r->cpu), t0);
}

/*
 * Writes a CPU's run slice as an X event when it ends, with the flow of the
 * wake-up that put it there.
 */
static void on_run_end(void *ctx, const struct kt_run *r)
{
	static const char *const why[] = {
	    [KT_RUN_SWITCH] = NULL,
	    [KT_RUN_LOST] = "lost_switch",
	    [KT_RUN_CAPTURE] = "unfinished",
	};
	struct cj *c = ctx;
	char t0[32], dur[32], sb[32];
	bool flow;

	/* A switch-out of a task whose slice was never seen to start: nothing to draw. */
	if (r->no_start)
		return;
	fmt_ts(c, t0, sizeof(t0), r->start);
	/* s binds to the slice open at its ts, f to the one starting at its ts if it has length */
	flow = r->wake && r->wake->in_waker_run && r->end > r->start;
	if (flow)
		wake_flow(c, r, t0);
	ev_sep(c);
	out_printf(c->o, "{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,\"name\":\"",
		   CPU_PID, CPU_TID(r->cpu), t0,
		   json_fmt_us(dur, sizeof(dur), (int64_t)(r->end - r->start)));
	if (r->comm[0]) {
		json_put_esc(c->o, r->comm, strnlen(r->comm, TASK_COMM_LEN));
		OUT_LIT(c->o, " ");
	}
	out_printf(c->o, "%u\",\"args\":{\"tid\":%u,\"tgid\":%u", r->tid, r->tid, r->tgid);
	if (r->how == KT_RUN_SWITCH)
		out_printf(c->o, ",\"prev_state\":\"%s\"",
			   sched_state_name(r->state, sb, sizeof(sb)));
	if (r->inferred)
		OUT_LIT(c->o, ",\"inferred_start\":true");
	if (why[r->how])
		out_printf(c->o, ",\"%s\":true", why[r->how]);
	if (r->wake) {
		c->wakeups_shown++;
		wake_args(c, r->wake);
		if (flow)
			out_printf(c->o, ",\"flow_id\":%" PRIu64, c->flow_id);
	}
	OUT_LIT(c->o, "}}");
}

static const struct kt_ops kt_ops = {
    .run_end = on_run_end,
    .sys_begin = on_sys_begin,
    .sys_end = on_sys_end,
    .reuse = on_reuse,
    .thread_end = on_thread_end,
};

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
	struct thread *th = track(c, e->h.tgid, e->h.tid);

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
	struct thread *th = track(c, e->h.tgid, e->pid);

	if (!th)
		return;
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
	struct thread *th = track(c, e->h.tgid, e->pid);

	if (!th)
		return;
	instant_start(c, th, e->h.ts);
	out_printf(c->o, "exit\",\"args\":{\"exit_code\":%d,\"group_dead\":%s}}", e->exit_code,
		   e->h.flags & EXIT_GROUP_DEAD ? "true" : "false");
}

/*
 * threadstate writes the CPU slices and syscalls (through the callbacks
 * above); the instants are written after it, so a syscall that ends at an
 * exit comes first.
 */
static void on_event(struct cj *c, const struct ev_header *h)
{
	if (h->ts > c->last_ts)
		c->last_ts = h->ts;
	if (!threadstate_uses(h))
		/* goroutines are drawn by chrome_json_go.c; future records not at all */
		return;
	cpu_seen(c, h->cpu);
	if (threadstate_event(c->ks, h)) {
		c->oom = true;
		return;
	}
	switch (h->type) {
	case EV_PROCESS_FORK:
		on_fork(c, (const void *)h);
		return;
	case EV_PROCESS_EXEC:
		on_exec(c, (const void *)h);
		return;
	case EV_PROCESS_EXIT:
		on_exit_ev(c, (const void *)h);
		return;
	case EV_SYS_ENTER:
	case EV_SYS_EXIT:
		track(c, h->tgid, h->tid);
		return;
	default:
		return;
	}
}

/* ---- end of capture ---- */

static const char *const drop_names[EV_KERNEL_MAX] = {
    [DROP_STAGED] = "staged_batch",
    [EV_SCHED_SWITCH] = "sched_switch",
    [EV_SCHED_WAKING] = "sched_waking",
    [EV_SCHED_WAKEUP_NEW] = "sched_wakeup_new",
    [EV_PROCESS_FORK] = "process_fork",
    [EV_PROCESS_EXEC] = "process_exec",
    [EV_PROCESS_EXIT] = "process_exit",
    [EV_SYS_ENTER] = "sys_enter",
    [EV_SYS_EXIT] = "sys_exit",
    [EV_TASK_RENAME] = "task_rename",
    [EV_CPU_SAMPLE] = "cpu_sample",
    [DROP_TARGETS_FULL] = "targets_full",
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
	const struct kt_stats *st = threadstate_stats(c->ks);
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
	for (i = 0; i < EV_KERNEL_MAX; i++)
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
	/* Every wake-up is shown with the slice it led to, or did not run. */
	out_printf(c->o,
		   ",\n\"wakeups\":%" PRIu64 ",\n\"wakeup_flows\":%" PRIu64
		   ",\n\"wakeups_without_flow\":%" PRIu64 ",\n\"wakeups_not_run\":%" PRIu64
		   ",\n\"syscalls_lost_exit\":%" PRIu64 ",\n\"syscall_exits_unmatched\":%" PRIu64,
		   st->wakeups, c->wakeup_flows, st->wakeups - c->wakeup_flows,
		   st->wakeups - c->wakeups_shown, st->sys_lost_exit, st->sys_exit_unmatched);
	if (c->go)
		cjgo_metadata(c->go);
	OUT_LIT(c->o, "\n}}\n");
}

static void cj_free(struct cj *c)
{
	size_t it = 0;
	uint64_t v;

	while (idmap_next(&c->thr, &it, NULL, &v))
		free((void *)(uintptr_t)v);
	idmap_free(&c->thr);
	idmap_free(&c->procs);
	threadstate_free(c->ks);
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
	c.ks = threadstate_new(r, &kt_ops, &c);
	if (!c.ks) {
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
		/* Closes what is still open, in a fixed order so the output is stable. */
		threadstate_finish(c.ks, end);
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
