// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Perfetto protobuf writer. The trace is shaped like a perfetto ftrace
 * capture so trace_processor builds its native CPU tracks, thread states,
 * wakeup edges and syscall slices from it:
 *
 *   SystemInfo      kernel release (prev_state decoding) and machine (syscall
 *                   names)
 *   ProcessTree     processes and threads; tasks created during the capture
 *                   get their own packet just after they appear
 *   FtraceEventBundle  per-CPU batches of sched_switch, sched_waking, ...
 *
 * Field numbers are named in perfetto_fields.h, generated from
 * tests/proto/ctrace_perfetto.proto: the subset of perfetto_trace.proto
 * written here, which the tests decode with. Memory stays bounded: each CPU
 * buffers at most one bundle.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/formats.h"
#include "lib/pbwriter.h"
#include "lib/util.h"
#include "formats/perfetto_cpu.h"
#include "formats/perfetto_go.h"
#include "formats/perfetto_gosnap.h"
#include "perfetto_fields.h"

/* All packets share one writer sequence; nothing here uses interning. */
#define SEQ_ID 1

/* trace_processor rejects bundles for CPUs at or above this. */
#define MAX_CPUS 1024
/* Bundle bounds: keep packets in the tens of KB and memory per CPU fixed. */
#define BUNDLE_MAX_EVENTS 1000
#define BUNDLE_MAX_BYTES  (64u << 10)
#define TREE_MAX_BYTES	  (32u << 10)
/* Twice BUNDLE_MAX_EVENTS: each event interns at most one comm. */
#define INTERN_SLOTS 2048

struct intern {
	uint16_t slot[INTERN_SLOTS]; /* index + 1; 0 is empty */
	char str[BUNDLE_MAX_EVENTS][TASK_COMM_LEN];
	unsigned int n;
};

/* compact_sched columns: switches first, then wakings. */
enum { SW_TS, SW_STATE, SW_PID, SW_PRIO, SW_COMM, WK_TS, WK_PID, WK_CPU, WK_PRIO, WK_COMM, NCOLS };

static const uint32_t col_field[NCOLS] = {
    [SW_TS] = PF_FtraceEventBundle_CompactSched_switch_timestamp,
    [SW_STATE] = PF_FtraceEventBundle_CompactSched_switch_prev_state,
    [SW_PID] = PF_FtraceEventBundle_CompactSched_switch_next_pid,
    [SW_PRIO] = PF_FtraceEventBundle_CompactSched_switch_next_prio,
    [SW_COMM] = PF_FtraceEventBundle_CompactSched_switch_next_comm_index,
    [WK_TS] = PF_FtraceEventBundle_CompactSched_waking_timestamp,
    [WK_PID] = PF_FtraceEventBundle_CompactSched_waking_pid,
    [WK_CPU] = PF_FtraceEventBundle_CompactSched_waking_target_cpu,
    [WK_PRIO] = PF_FtraceEventBundle_CompactSched_waking_prio,
    [WK_COMM] = PF_FtraceEventBundle_CompactSched_waking_comm_index,
};

/* The open bundle's compact_sched, each column a run of packed varints. */
struct compact {
	struct pbw col[NCOLS];
	unsigned int nsw, nwk;
	uint64_t sw_last, wk_last; /* for delta timestamps */
	struct intern tab;
};

struct cpu_state {
	uint32_t cpu;
	struct pbw pkt;	  /* TracePacket being built, ftrace_events open */
	unsigned int nev; /* events in it, full and compact */
	uint64_t bundles;
	uint64_t last_ts;
	/*
	 * The task switched in last, as trace_processor will see it: compact
	 * records are only valid when they agree with this.
	 */
	bool cur_known;
	uint32_t cur_pid;
	int32_t cur_prio;
	char cur_comm[TASK_COMM_LEN];
	struct compact *cs; /* compact mode only */
};

struct pf {
	struct out *o;
	const struct ctr_info *info;
	bool compact;
	int err; /* encoding error (errno) */
	bool reader_failed;
	struct pbw pkt;
	struct cpu_state **cpus;
	size_t ncpus;
	const struct ctr_task **late; /* tasks that appeared during the capture */
	size_t nlate, next_late;
	uint64_t skipped_cpu, clamped;
	struct pfgo *go;     /* goroutine tracks, when the capture has Go processes */
	struct pfcpu *cpu;   /* CPU samples' callstacks */
	struct pfsnap *snap; /* goroutine snapshot counters */
};

/*
 * Compact sched encoding is the default (a few bytes per switch instead of
 * ~40); CTRACE_PERFETTO_COMPACT=0 writes every event in full.
 */
static int compact_mode = -1; /* -1: CTRACE_PERFETTO_COMPACT decides */

void perfetto_set_compact(int on)
{
	compact_mode = !!on;
}

static bool want_compact(void)
{
	const char *e;

	if (compact_mode >= 0)
		return compact_mode;
	e = getenv("CTRACE_PERFETTO_COMPACT");
	return !e || !*e || strcmp(e, "0");
}

/* Comms are compared and interned NUL-padded, whatever follows the NUL. */
static void comm_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, TASK_COMM_LEN);

	memset(dst, 0, TASK_COMM_LEN);
	memcpy(dst, src, n);
}

static bool comm_eq(const char *a, const char *b)
{
	return !strncmp(a, b, TASK_COMM_LEN);
}

/* Frames a finished TracePacket as Trace.packet and writes it. */
static int emit(struct pf *p, struct pbw *w)
{
	uint8_t hdr[PB_LD_HEADER_MAX];

	if (w->err || w->depth) {
		p->err = w->err ? w->err : EINVAL;
		return -1;
	}
	out_write(p->o, hdr, pb_ld_header(hdr, PF_Trace_packet, w->len));
	out_write(p->o, w->buf, w->len);
	return out_error(p->o) ? -1 : 0;
}

static int write_system_info(struct pf *p)
{
	const struct ctr_info *in = p->info;
	struct pbw *w = &p->pkt;

	pbw_reset(w);
	pbw_begin(w, PF_TracePacket_system_info);
	pbw_begin(w, PF_SystemInfo_utsname);
	pbw_string(w, PF_Utsname_sysname, in->sysname ? in->sysname : "Linux");
	if (in->version)
		pbw_string(w, PF_Utsname_version, in->version);
	if (in->release)
		pbw_string(w, PF_Utsname_release, in->release);
	if (in->machine)
		pbw_string(w, PF_Utsname_machine, in->machine);
	pbw_end(w);
	if (in->ncpus)
		pbw_uint(w, PF_SystemInfo_num_cpus, in->ncpus);
	pbw_end(w);
	pbw_uint(w, PF_TracePacket_trusted_packet_sequence_id, SEQ_ID);
	return emit(p, w);
}

/* ---- process tree ---- */

static void tree_open(struct pbw *w, uint64_t ts)
{
	pbw_reset(w);
	pbw_uint(w, PF_TracePacket_timestamp, ts);
	pbw_begin(w, PF_TracePacket_process_tree);
}

static int tree_close(struct pf *p, struct pbw *w)
{
	pbw_end(w);
	pbw_uint(w, PF_TracePacket_trusted_packet_sequence_id, SEQ_ID);
	return emit(p, w);
}

static void tree_add(struct pbw *w, const struct ctr_task *t)
{
	if (t->tid == t->tgid) {
		pbw_begin(w, PF_ProcessTree_processes);
		pbw_int(w, PF_ProcessTree_Process_pid, (int32_t)t->tid);
		pbw_int(w, PF_ProcessTree_Process_ppid, (int32_t)t->ppid);
		if (t->cmdline && t->cmdline_len) {
			const char *s = t->cmdline, *end = s + t->cmdline_len;

			if (end[-1] == 0)
				end--; /* a terminating NUL is not an empty argument */
			/* NUL-separated arguments, one repeated entry each */
			while (s <= end) {
				const char *z = memchr(s, 0, end - s);

				if (!z)
					z = end;
				pbw_bytes(w, PF_ProcessTree_Process_cmdline, s, z - s);
				s = z + 1;
			}
		} else if (t->comm[0]) {
			/* trace_processor ignores processes without any cmdline */
			pbw_strn(w, PF_ProcessTree_Process_cmdline, t->comm, TASK_COMM_LEN);
			pbw_bool(w, PF_ProcessTree_Process_cmdline_is_comm, 1);
		}
		if (t->flags & TASK_IS_KTHREAD)
			pbw_bool(w, PF_ProcessTree_Process_is_kthread, 1);
		pbw_end(w);
	}
	pbw_begin(w, PF_ProcessTree_threads);
	pbw_int(w, PF_ProcessTree_Thread_tid, (int32_t)t->tid);
	if (t->comm[0])
		pbw_strn(w, PF_ProcessTree_Thread_name, t->comm, TASK_COMM_LEN);
	pbw_int(w, PF_ProcessTree_Thread_tgid, (int32_t)t->tgid);
	pbw_end(w);
}

static bool is_late(const struct pf *p, const struct ctr_task *t)
{
	return t->first_ts > p->info->start_ts;
}

static int cmp_late(const void *a, const void *b)
{
	const struct ctr_task *x = *(const struct ctr_task *const *)a;
	const struct ctr_task *y = *(const struct ctr_task *const *)b;

	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Tasks alive at the start, in packets of bounded size. */
static int write_initial_tree(struct pf *p, struct ctr_reader *r)
{
	size_t n = ctr_task_count(r), nlate = 0;
	struct pbw *w = &p->pkt;
	bool open = false;

	for (size_t i = 0; i < n; i++) {
		const struct ctr_task *t = ctr_task_at(r, i);

		if (is_late(p, t)) {
			nlate++;
			continue;
		}
		if (!open)
			tree_open(w, p->info->start_ts);
		open = true;
		tree_add(w, t);
		if (w->len >= TREE_MAX_BYTES) {
			if (tree_close(p, w))
				return -1;
			open = false;
		}
	}
	if (open && tree_close(p, w))
		return -1;

	if (!nlate)
		return 0;
	p->late = malloc(nlate * sizeof(*p->late));
	if (!p->late) {
		p->err = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ctr_task *t = ctr_task_at(r, i);

		if (is_late(p, t))
			p->late[p->nlate++] = t;
	}
	qsort(p->late, p->nlate, sizeof(*p->late), cmp_late);
	return 0;
}

/*
 * Describes tasks that first appeared before 'until'. The packet is stamped
 * 1 ns after the appearance: trace_processor starts a fresh process at
 * task_newtask, so a description sorted before the fork would land on a
 * stale entry for the same pid.
 */
static int write_late_tree(struct pf *p, uint64_t until)
{
	struct pbw *w = &p->pkt;

	while (p->next_late < p->nlate && p->late[p->next_late]->first_ts < until) {
		uint64_t ts = p->late[p->next_late]->first_ts;

		tree_open(w, ts + 1);
		while (p->next_late < p->nlate && p->late[p->next_late]->first_ts == ts &&
		       w->len < TREE_MAX_BYTES)
			tree_add(w, p->late[p->next_late++]);
		if (tree_close(p, w))
			return -1;
	}
	return 0;
}

/* ---- bundles ---- */

static void compact_free(struct compact *cs)
{
	for (int i = 0; i < NCOLS; i++)
		pbw_free(&cs->col[i]);
	free(cs);
}

static void compact_reset(struct compact *cs)
{
	for (int i = 0; i < NCOLS; i++)
		pbw_reset(&cs->col[i]);
	cs->nsw = cs->nwk = 0;
	cs->sw_last = cs->wk_last = 0;
	memset(cs->tab.slot, 0, sizeof(cs->tab.slot));
	cs->tab.n = 0;
}

static int compact_error(const struct compact *cs)
{
	for (int i = 0; i < NCOLS; i++)
		if (cs->col[i].err)
			return cs->col[i].err;
	return 0;
}

/* Index of comm in the bundle's intern table, adding it if new. */
static unsigned int intern(struct intern *t, const char *comm)
{
	char key[TASK_COMM_LEN];
	uint32_t h = 2166136261u;
	unsigned int i;

	comm_copy(key, comm);
	for (i = 0; i < TASK_COMM_LEN && key[i]; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	for (i = h & (INTERN_SLOTS - 1); t->slot[i]; i = (i + 1) & (INTERN_SLOTS - 1))
		if (!memcmp(t->str[t->slot[i] - 1], key, TASK_COMM_LEN))
			return t->slot[i] - 1;
	/* the bundle limit keeps n below BUNDLE_MAX_EVENTS */
	memcpy(t->str[t->n], key, TASK_COMM_LEN);
	t->slot[i] = (uint16_t)++t->n;
	return t->n - 1;
}

static struct cpu_state *cpu_get(struct pf *p, uint32_t cpu)
{
	struct cpu_state *c;

	if (cpu >= p->ncpus) {
		size_t n = cpu + 1;
		struct cpu_state **v = realloc(p->cpus, n * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + p->ncpus, 0, (n - p->ncpus) * sizeof(*v));
		p->cpus = v;
		p->ncpus = n;
	}
	if (p->cpus[cpu])
		return p->cpus[cpu];
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cpu = cpu;
	if (p->compact) {
		/* calloc leaves every column an empty pbw */
		c->cs = calloc(1, sizeof(*c->cs));
		if (!c->cs) {
			free(c);
			return NULL;
		}
	}
	p->cpus[cpu] = c;
	return c;
}

static void cpu_free(struct cpu_state *c)
{
	if (!c)
		return;
	pbw_free(&c->pkt);
	if (c->cs)
		compact_free(c->cs);
	free(c);
}

static void bundle_compact(struct pbw *w, struct compact *cs)
{
	if (!cs->nsw && !cs->nwk)
		return;
	pbw_begin(w, PF_FtraceEventBundle_compact_sched);
	for (unsigned int i = 0; i < cs->tab.n; i++)
		pbw_strn(w, PF_FtraceEventBundle_CompactSched_intern_table, cs->tab.str[i],
			 TASK_COMM_LEN);
	/* all columns of a kind have one entry per event, or none at all */
	for (int i = 0; i < NCOLS; i++)
		if (cs->col[i].len)
			pbw_bytes(w, col_field[i], cs->col[i].buf, cs->col[i].len);
	pbw_end(w);
}

static int bundle_flush(struct pf *p, struct cpu_state *c)
{
	struct pbw *w = &c->pkt;
	int err;

	if (!c->nev)
		return 0;
	if (c->cs) {
		err = compact_error(c->cs);
		if (err) {
			p->err = err;
			return -1;
		}
		bundle_compact(w, c->cs);
		compact_reset(c->cs);
	}
	pbw_end(w);
	pbw_uint(w, PF_TracePacket_trusted_packet_sequence_id, SEQ_ID);
	c->nev = 0;
	c->bundles++;
	return emit(p, w);
}

/* Makes room for one more event in c's bundle, opening one if needed. */
static int bundle_room(struct pf *p, struct cpu_state *c)
{
	struct pbw *w = &c->pkt;

	if (c->nev >= BUNDLE_MAX_EVENTS || w->len >= BUNDLE_MAX_BYTES)
		if (bundle_flush(p, c))
			return -1;
	if (!c->nev) {
		pbw_reset(w);
		pbw_begin(w, PF_TracePacket_ftrace_events);
		pbw_uint(w, PF_FtraceEventBundle_cpu, c->cpu);
		/* The capture only counts drops, not where: flag each CPU once. */
		if (!c->bundles && p->info->drops_total)
			pbw_bool(w, PF_FtraceEventBundle_lost_events, 1);
	}
	c->nev++;
	return 0;
}

/* Opens FtraceEvent{timestamp, pid, <field>{...}}; timestamp first for TP's fast path. */
static void ev_open(struct pbw *w, uint64_t ts, uint32_t pid, uint32_t field)
{
	pbw_begin(w, PF_FtraceEventBundle_event);
	pbw_uint(w, PF_FtraceEvent_timestamp, ts);
	pbw_uint(w, PF_FtraceEvent_pid, pid);
	pbw_begin(w, field);
}

static void ev_close(struct pbw *w)
{
	pbw_end(w);
	pbw_end(w);
}

/* ---- FtraceEvent payloads, in full ---- */

static void full_switch(struct pbw *w, uint64_t ts, const struct ev_sched_switch *e)
{
	ev_open(w, ts, e->prev_pid, PF_FtraceEvent_sched_switch);
	pbw_strn(w, PF_SchedSwitchFtraceEvent_prev_comm, e->prev_comm, TASK_COMM_LEN);
	pbw_int(w, PF_SchedSwitchFtraceEvent_prev_pid, (int32_t)e->prev_pid);
	pbw_int(w, PF_SchedSwitchFtraceEvent_prev_prio, e->prev_prio);
	pbw_int(w, PF_SchedSwitchFtraceEvent_prev_state, e->prev_state);
	pbw_strn(w, PF_SchedSwitchFtraceEvent_next_comm, e->next_comm, TASK_COMM_LEN);
	pbw_int(w, PF_SchedSwitchFtraceEvent_next_pid, (int32_t)e->next_pid);
	pbw_int(w, PF_SchedSwitchFtraceEvent_next_prio, e->next_prio);
	ev_close(w);
}

/* sched_waking and sched_wakeup_new share a layout. */
_Static_assert(PF_SchedWakingFtraceEvent_comm == PF_SchedWakeupNewFtraceEvent_comm &&
		   PF_SchedWakingFtraceEvent_pid == PF_SchedWakeupNewFtraceEvent_pid &&
		   PF_SchedWakingFtraceEvent_prio == PF_SchedWakeupNewFtraceEvent_prio &&
		   PF_SchedWakingFtraceEvent_target_cpu == PF_SchedWakeupNewFtraceEvent_target_cpu,
	       "sched_waking and sched_wakeup_new payloads differ");

static void full_wake(struct pbw *w, uint64_t ts, const struct ev_sched_wake *e, uint32_t field)
{
	ev_open(w, ts, e->h.tid, field);
	pbw_strn(w, PF_SchedWakingFtraceEvent_comm, e->comm, TASK_COMM_LEN);
	pbw_int(w, PF_SchedWakingFtraceEvent_pid, (int32_t)e->pid);
	pbw_int(w, PF_SchedWakingFtraceEvent_prio, e->prio);
	pbw_int(w, PF_SchedWakingFtraceEvent_target_cpu, e->target_cpu);
	ev_close(w);
}

static void full_fork(struct pbw *w, uint64_t ts, const struct ev_process_fork *e)
{
	ev_open(w, ts, e->h.tid, PF_FtraceEvent_task_newtask);
	pbw_int(w, PF_TaskNewtaskFtraceEvent_pid, (int32_t)e->child_pid);
	pbw_strn(w, PF_TaskNewtaskFtraceEvent_comm, e->child_comm, TASK_COMM_LEN);
	pbw_uint(w, PF_TaskNewtaskFtraceEvent_clone_flags, e->clone_flags);
	ev_close(w);
}

/* task_rename from tid's point of view; oldcomm may be unknown (NULL). */
static void full_rename(struct pbw *w, uint64_t ts, uint32_t tid, uint32_t pid, const char *oldcomm,
			const char *newcomm)
{
	ev_open(w, ts, tid, PF_FtraceEvent_task_rename);
	pbw_int(w, PF_TaskRenameFtraceEvent_pid, (int32_t)pid);
	if (oldcomm)
		pbw_strn(w, PF_TaskRenameFtraceEvent_oldcomm, oldcomm, TASK_COMM_LEN);
	pbw_strn(w, PF_TaskRenameFtraceEvent_newcomm, newcomm, TASK_COMM_LEN);
	ev_close(w);
}

static void full_exit(struct pbw *w, uint64_t ts, const struct ev_process_exit *e)
{
	ev_open(w, ts, e->h.tid, PF_FtraceEvent_sched_process_exit);
	pbw_strn(w, PF_SchedProcessExitFtraceEvent_comm, e->comm, TASK_COMM_LEN);
	pbw_int(w, PF_SchedProcessExitFtraceEvent_pid, (int32_t)e->pid);
	pbw_int(w, PF_SchedProcessExitFtraceEvent_tgid, (int32_t)e->tgid);
	pbw_int(w, PF_SchedProcessExitFtraceEvent_prio, e->prio);
	ev_close(w);
}

static void full_sys_enter(struct pbw *w, uint64_t ts, const struct ev_sys_enter *e)
{
	ev_open(w, ts, e->h.tid, PF_FtraceEvent_sys_enter);
	pbw_int(w, PF_SysEnterFtraceEvent_id, e->id);
	/* repeated, not packed, in the schema: one tag per argument */
	for (int i = 0; i < SYSCALL_NARGS; i++)
		pbw_uint(w, PF_SysEnterFtraceEvent_args, e->args[i]);
	ev_close(w);
}

static void full_sys_exit(struct pbw *w, uint64_t ts, const struct ev_sys_exit *e)
{
	ev_open(w, ts, e->h.tid, PF_FtraceEvent_sys_exit);
	pbw_int(w, PF_SysExitFtraceEvent_id, e->id);
	pbw_int(w, PF_SysExitFtraceEvent_ret, e->ret);
	ev_close(w);
}

/* ---- compact_sched ---- */

static void compact_switch(struct compact *cs, uint64_t ts, const struct ev_sched_switch *e)
{
	struct pbw *c = cs->col;

	pbw_raw_varint(&c[SW_TS], ts - cs->sw_last);
	cs->sw_last = ts;
	pbw_raw_varint(&c[SW_STATE], (uint64_t)e->prev_state);
	pbw_raw_varint(&c[SW_PID], (uint64_t)(int64_t)(int32_t)e->next_pid);
	pbw_raw_varint(&c[SW_PRIO], (uint64_t)(int64_t)e->next_prio);
	pbw_raw_varint(&c[SW_COMM], intern(&cs->tab, e->next_comm));
	cs->nsw++;
}

static void compact_waking(struct compact *cs, uint64_t ts, const struct ev_sched_wake *e)
{
	struct pbw *c = cs->col;

	pbw_raw_varint(&c[WK_TS], ts - cs->wk_last);
	cs->wk_last = ts;
	pbw_raw_varint(&c[WK_PID], (uint64_t)(int64_t)(int32_t)e->pid);
	pbw_raw_varint(&c[WK_CPU], (uint64_t)(int64_t)e->target_cpu);
	pbw_raw_varint(&c[WK_PRIO], (uint64_t)(int64_t)e->prio);
	pbw_raw_varint(&c[WK_COMM], intern(&cs->tab, e->comm));
	cs->nwk++;
}

/*
 * trace_processor fills a compact switch's prev_* from the task last
 * switched in on the CPU (its current name, prio and pid), so only use it
 * when that inference gives the recorded values. A strictly later timestamp
 * keeps the order against full events unambiguous: TP queues a bundle's
 * compact events before its full ones.
 */
static bool switch_is_compact(const struct cpu_state *c, uint64_t ts,
			      const struct ev_sched_switch *e)
{
	return c->cs && c->cur_known && ts > c->last_ts && e->prev_pid == c->cur_pid &&
	       e->prev_prio == c->cur_prio && comm_eq(e->prev_comm, c->cur_comm);
}

/* A compact waking's waker is implied: whoever runs on the bundle's CPU. */
static bool waking_is_compact(const struct cpu_state *c, uint64_t ts, const struct ev_sched_wake *e)
{
	return c->cs && c->cur_known && ts > c->last_ts && e->h.tid == c->cur_pid;
}

/* ---- events: the running task per CPU, and which encoding each event gets ---- */

static void add_switch(struct cpu_state *c, uint64_t ts, const struct ev_sched_switch *e)
{
	if (switch_is_compact(c, ts, e))
		compact_switch(c->cs, ts, e);
	else
		full_switch(&c->pkt, ts, e);
	c->cur_known = true;
	c->cur_pid = e->next_pid;
	c->cur_prio = e->next_prio;
	comm_copy(c->cur_comm, e->next_comm);
}

static void add_waking(struct cpu_state *c, uint64_t ts, const struct ev_sched_wake *e)
{
	if (waking_is_compact(c, ts, e))
		compact_waking(c->cs, ts, e);
	else
		full_wake(&c->pkt, ts, e, PF_FtraceEvent_sched_waking);
}

static bool is_current(const struct cpu_state *c, uint32_t tid)
{
	return c->cur_known && c->cur_pid == tid;
}

/* ftrace has no exec event TP uses; only a comm change matters. */
static bool exec_keeps_comm(const struct cpu_state *c, const struct ev_header *h)
{
	const struct ev_process_exec *e = (const void *)h;

	return h->type == EV_PROCESS_EXEC && is_current(c, h->tid) && comm_eq(c->cur_comm, e->comm);
}

static void add_exec(struct cpu_state *c, uint64_t ts, const struct ev_process_exec *e)
{
	bool cur = is_current(c, e->h.tid);

	full_rename(&c->pkt, ts, e->h.tid, e->pid, cur ? c->cur_comm : NULL, e->comm);
	if (cur)
		comm_copy(c->cur_comm, e->comm);
}

static void add_rename(struct cpu_state *c, uint64_t ts, const struct ev_task_rename *e)
{
	full_rename(&c->pkt, ts, e->h.tid, e->pid, e->oldcomm, e->newcomm);
	if (is_current(c, e->pid))
		comm_copy(c->cur_comm, e->newcomm);
}

/* Writes h, one of the kernel's scheduling records, into c's open bundle. */
static void add_event(struct cpu_state *c, uint64_t ts, const struct ev_header *h)
{
	struct pbw *w = &c->pkt;

	switch (h->type) {
	case EV_SCHED_SWITCH:
		add_switch(c, ts, (const void *)h);
		break;
	case EV_SCHED_WAKING:
		add_waking(c, ts, (const void *)h);
		break;
	case EV_SCHED_WAKEUP_NEW:
		full_wake(w, ts, (const void *)h, PF_FtraceEvent_sched_wakeup_new);
		break;
	case EV_PROCESS_FORK:
		full_fork(w, ts, (const void *)h);
		break;
	case EV_PROCESS_EXEC:
		add_exec(c, ts, (const void *)h);
		break;
	case EV_TASK_RENAME:
		add_rename(c, ts, (const void *)h);
		break;
	case EV_PROCESS_EXIT:
		full_exit(w, ts, (const void *)h);
		break;
	case EV_SYS_ENTER:
		full_sys_enter(w, ts, (const void *)h);
		break;
	case EV_SYS_EXIT:
		full_sys_exit(w, ts, (const void *)h);
		break;
	}
}

static int on_event(struct pf *p, const struct ev_header *h)
{
	struct cpu_state *c;
	uint64_t ts = h->ts;

	/* goroutine records (32..63) and unknown types are not ftrace data */
	if (h->type < EV_SCHED_SWITCH || h->type > EV_TASK_RENAME)
		return 0;
	if (h->cpu >= MAX_CPUS) {
		p->skipped_cpu++;
		return 0;
	}
	c = cpu_get(p, h->cpu);
	if (!c) {
		p->err = ENOMEM;
		return -1;
	}
	/* The reader hands out monotonic time; stay safe if it ever does not. */
	if (ts < c->last_ts) {
		ts = c->last_ts;
		p->clamped++;
	}
	if (!exec_keeps_comm(c, h)) {
		if (bundle_room(p, c))
			return -1;
		add_event(c, ts, h);
	}
	c->last_ts = ts;
	if (c->pkt.err) {
		p->err = c->pkt.err;
		return -1;
	}
	return 0;
}

static int snap_finish(struct pf *p)
{
	struct pfsnap *snap = p->snap;

	p->snap = NULL;
	if (snap && pfsnap_finish(snap)) {
		p->err = EIO;
		return -1;
	}
	return 0;
}

static int write_events(struct pf *p, struct ctr_reader *r)
{
	const struct ev_header *h;
	int rc;

	if (ctr_rewind(r)) {
		p->reader_failed = true;
		return -1;
	}
	p->go = pfgo_new(r, p->o);
	p->cpu = pfcpu_new(r, p->o);
	if (!p->cpu) {
		p->err = ENOMEM;
		return -1;
	}
	p->snap = pfsnap_new(r, p->o);
	while ((rc = ctr_next(r, &h)) > 0) {
		if (p->next_late < p->nlate && write_late_tree(p, h->ts))
			return -1;
		if (p->go)
			pfgo_event(p->go, h);
		if (pfcpu_event(p->cpu, h)) {
			p->err = out_error(p->o) ? 0 : EIO;
			return -1;
		}
		if (p->snap)
			pfsnap_event(p->snap, h);
		if (on_event(p, h))
			return -1;
	}
	if (rc < 0) {
		p->reader_failed = true;
		return -1;
	}
	if (p->go) {
		struct pfgo *go = p->go;

		p->go = NULL;
		if (pfgo_finish(go, p->info->end_ts)) {
			p->err = EIO;
			return -1;
		}
	}
	if (snap_finish(p))
		return -1;
	for (size_t i = 0; i < p->ncpus; i++)
		if (p->cpus[i] && bundle_flush(p, p->cpus[i]))
			return -1;
	return write_late_tree(p, UINT64_MAX);
}

int perfetto_write(struct ctr_reader *r, struct out *o)
{
	struct pf p = {.o = o, .info = ctr_info(r), .compact = want_compact()};
	int rc = -1;

	pbw_init(&p.pkt);
	if (!write_system_info(&p) && !write_initial_tree(&p, r) && !write_events(&p, r))
		rc = 0;
	/* One line for the first cause; a write error is the caller's to name. */
	if (out_error(o)) {
		rc = -1;
	} else if (p.err) {
		errmsg("perfetto: cannot encode trace: %s", strerror(p.err));
	} else if (p.reader_failed) {
		errmsg("perfetto: %s", ctr_error(r));
	} else if (p.skipped_cpu || p.clamped) {
		fprintf(stderr,
			"ctrace-bpf: perfetto: warning: %llu events with cpu >= %d skipped, %llu "
			"timestamps "
			"clamped\n",
			(unsigned long long)p.skipped_cpu, MAX_CPUS, (unsigned long long)p.clamped);
	}
	if (p.go)
		pfgo_finish(p.go, p.info->end_ts);
	pfcpu_free(p.cpu, NULL);
	if (p.snap)
		pfsnap_finish(p.snap);
	for (size_t i = 0; i < p.ncpus; i++)
		cpu_free(p.cpus[i]);
	free(p.cpus);
	free(p.late);
	pbw_free(&p.pkt);
	return rc;
}
