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
 * Field numbers follow perfetto_trace.proto; tests/proto/ctrace_perfetto.proto
 * is the subset written here. Memory stays bounded: each CPU buffers at most
 * one bundle.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/formats.h"
#include "lib/pbwriter.h"
#include "formats/perfetto_go.h"

/* Trace, TracePacket */
#define TRACE_PACKET	  1
#define PKT_FTRACE_EVENTS 1
#define PKT_PROCESS_TREE  2
#define PKT_TIMESTAMP	  8
#define PKT_SEQ_ID	  10
#define PKT_SYSTEM_INFO	  45

/* SystemInfo, Utsname */
#define SI_UTSNAME  1
#define SI_NUM_CPUS 8
#define UTS_SYSNAME 1
#define UTS_VERSION 2
#define UTS_RELEASE 3
#define UTS_MACHINE 4

/* ProcessTree, Process, Thread */
#define PT_PROCESS	     1
#define PT_THREAD	     2
#define PROC_PID	     1
#define PROC_PPID	     2
#define PROC_CMDLINE	     3
#define PROC_IS_KTHREAD	     8
#define PROC_CMDLINE_IS_COMM 9
#define THR_TID		     1
#define THR_NAME	     2
#define THR_TGID	     3

/* FtraceEventBundle, CompactSched */
#define FB_CPU		     1
#define FB_EVENT	     2
#define FB_LOST_EVENTS	     3
#define FB_COMPACT_SCHED     4
#define CS_SWITCH_TS	     1
#define CS_SWITCH_PREV_STATE 2
#define CS_SWITCH_NEXT_PID   3
#define CS_SWITCH_NEXT_PRIO  4
#define CS_INTERN_TABLE	     5
#define CS_SWITCH_NEXT_COMM  6
#define CS_WAKING_TS	     7
#define CS_WAKING_PID	     8
#define CS_WAKING_TARGET_CPU 9
#define CS_WAKING_PRIO	     10
#define CS_WAKING_COMM	     11

/* FtraceEvent and the payloads we use */
#define FE_TIMESTAMP	      1
#define FE_PID		      2
#define FE_SCHED_SWITCH	      4
#define FE_SCHED_WAKING	      20
#define FE_SCHED_WAKEUP_NEW   114
#define FE_TASK_NEWTASK	      235
#define FE_TASK_RENAME	      236
#define FE_SCHED_PROCESS_EXIT 238
#define FE_SYS_ENTER	      329
#define FE_SYS_EXIT	      330

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
    [SW_TS] = CS_SWITCH_TS,	     [SW_STATE] = CS_SWITCH_PREV_STATE,
    [SW_PID] = CS_SWITCH_NEXT_PID,   [SW_PRIO] = CS_SWITCH_NEXT_PRIO,
    [SW_COMM] = CS_SWITCH_NEXT_COMM, [WK_TS] = CS_WAKING_TS,
    [WK_PID] = CS_WAKING_PID,	     [WK_CPU] = CS_WAKING_TARGET_CPU,
    [WK_PRIO] = CS_WAKING_PRIO,	     [WK_COMM] = CS_WAKING_COMM,
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
	struct pfgo *go; /* goroutine tracks, when the capture has Go processes */
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
	out_write(p->o, hdr, pb_ld_header(hdr, TRACE_PACKET, w->len));
	out_write(p->o, w->buf, w->len);
	return out_error(p->o) ? -1 : 0;
}

static int write_system_info(struct pf *p)
{
	const struct ctr_info *in = p->info;
	struct pbw *w = &p->pkt;

	pbw_reset(w);
	pbw_begin(w, PKT_SYSTEM_INFO);
	pbw_begin(w, SI_UTSNAME);
	pbw_string(w, UTS_SYSNAME, in->sysname ? in->sysname : "Linux");
	if (in->version)
		pbw_string(w, UTS_VERSION, in->version);
	if (in->release)
		pbw_string(w, UTS_RELEASE, in->release);
	if (in->machine)
		pbw_string(w, UTS_MACHINE, in->machine);
	pbw_end(w);
	if (in->ncpus)
		pbw_uint(w, SI_NUM_CPUS, in->ncpus);
	pbw_end(w);
	pbw_uint(w, PKT_SEQ_ID, SEQ_ID);
	return emit(p, w);
}

/* ---- process tree ---- */

static void tree_open(struct pbw *w, uint64_t ts)
{
	pbw_reset(w);
	pbw_uint(w, PKT_TIMESTAMP, ts);
	pbw_begin(w, PKT_PROCESS_TREE);
}

static int tree_close(struct pf *p, struct pbw *w)
{
	pbw_end(w);
	pbw_uint(w, PKT_SEQ_ID, SEQ_ID);
	return emit(p, w);
}

static void tree_add(struct pbw *w, const struct ctr_task *t)
{
	if (t->tid == t->tgid) {
		pbw_begin(w, PT_PROCESS);
		pbw_int(w, PROC_PID, (int32_t)t->tid);
		pbw_int(w, PROC_PPID, (int32_t)t->ppid);
		if (t->cmdline && t->cmdline_len) {
			const char *s = t->cmdline, *end = s + t->cmdline_len;

			if (end[-1] == 0)
				end--; /* a terminating NUL is not an empty argument */
			/* NUL-separated arguments, one repeated entry each */
			while (s <= end) {
				const char *z = memchr(s, 0, end - s);

				if (!z)
					z = end;
				pbw_bytes(w, PROC_CMDLINE, s, z - s);
				s = z + 1;
			}
		} else if (t->comm[0]) {
			/* trace_processor ignores processes without any cmdline */
			pbw_strn(w, PROC_CMDLINE, t->comm, TASK_COMM_LEN);
			pbw_bool(w, PROC_CMDLINE_IS_COMM, 1);
		}
		if (t->flags & TASK_IS_KTHREAD)
			pbw_bool(w, PROC_IS_KTHREAD, 1);
		pbw_end(w);
	}
	pbw_begin(w, PT_THREAD);
	pbw_int(w, THR_TID, (int32_t)t->tid);
	if (t->comm[0])
		pbw_strn(w, THR_NAME, t->comm, TASK_COMM_LEN);
	pbw_int(w, THR_TGID, (int32_t)t->tgid);
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
	pbw_begin(w, FB_COMPACT_SCHED);
	for (unsigned int i = 0; i < cs->tab.n; i++)
		pbw_strn(w, CS_INTERN_TABLE, cs->tab.str[i], TASK_COMM_LEN);
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
	pbw_uint(w, PKT_SEQ_ID, SEQ_ID);
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
		pbw_begin(w, PKT_FTRACE_EVENTS);
		pbw_uint(w, FB_CPU, c->cpu);
		/* The capture only counts drops, not where: flag each CPU once. */
		if (!c->bundles && p->info->drops_total)
			pbw_bool(w, FB_LOST_EVENTS, 1);
	}
	c->nev++;
	return 0;
}

/* Opens FtraceEvent{timestamp, pid, <field>{...}}; timestamp first for TP's fast path. */
static void ev_open(struct pbw *w, uint64_t ts, uint32_t pid, uint32_t field)
{
	pbw_begin(w, FB_EVENT);
	pbw_uint(w, FE_TIMESTAMP, ts);
	pbw_uint(w, FE_PID, pid);
	pbw_begin(w, field);
}

static void ev_close(struct pbw *w)
{
	pbw_end(w);
	pbw_end(w);
}

static void full_switch(struct pbw *w, uint64_t ts, const struct ev_sched_switch *e)
{
	ev_open(w, ts, e->prev_pid, FE_SCHED_SWITCH);
	pbw_strn(w, 1, e->prev_comm, TASK_COMM_LEN);
	pbw_int(w, 2, (int32_t)e->prev_pid);
	pbw_int(w, 3, e->prev_prio);
	pbw_int(w, 4, e->prev_state);
	pbw_strn(w, 5, e->next_comm, TASK_COMM_LEN);
	pbw_int(w, 6, (int32_t)e->next_pid);
	pbw_int(w, 7, e->next_prio);
	ev_close(w);
}

/* sched_waking and sched_wakeup_new share a layout. */
static void full_wake(struct pbw *w, uint64_t ts, const struct ev_sched_wake *e, uint32_t field)
{
	ev_open(w, ts, e->h.tid, field);
	pbw_strn(w, 1, e->comm, TASK_COMM_LEN);
	pbw_int(w, 2, (int32_t)e->pid);
	pbw_int(w, 3, e->prio);
	pbw_int(w, 5, e->target_cpu);
	ev_close(w);
}

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

static int on_event(struct pf *p, const struct ev_header *h)
{
	struct cpu_state *c;
	struct pbw *w;
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
	w = &c->pkt;

	switch (h->type) {
	case EV_SCHED_SWITCH: {
		const struct ev_sched_switch *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		if (switch_is_compact(c, ts, e))
			compact_switch(c->cs, ts, e);
		else
			full_switch(w, ts, e);
		c->cur_known = true;
		c->cur_pid = e->next_pid;
		c->cur_prio = e->next_prio;
		comm_copy(c->cur_comm, e->next_comm);
		break;
	}
	case EV_SCHED_WAKING: {
		const struct ev_sched_wake *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		if (waking_is_compact(c, ts, e))
			compact_waking(c->cs, ts, e);
		else
			full_wake(w, ts, e, FE_SCHED_WAKING);
		break;
	}
	case EV_SCHED_WAKEUP_NEW:
		if (bundle_room(p, c))
			return -1;
		full_wake(w, ts, (const void *)h, FE_SCHED_WAKEUP_NEW);
		break;
	case EV_PROCESS_FORK: {
		const struct ev_process_fork *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_TASK_NEWTASK);
		pbw_int(w, 1, (int32_t)e->child_pid);
		pbw_strn(w, 2, e->child_comm, TASK_COMM_LEN);
		pbw_uint(w, 3, e->clone_flags);
		ev_close(w);
		break;
	}
	case EV_PROCESS_EXEC: {
		const struct ev_process_exec *e = (const void *)h;
		bool cur = c->cur_known && c->cur_pid == h->tid;

		/* ftrace has no exec event TP uses; only a comm change matters */
		if (cur && comm_eq(c->cur_comm, e->comm))
			break;
		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_TASK_RENAME);
		pbw_int(w, 1, (int32_t)e->pid);
		if (cur)
			pbw_strn(w, 2, c->cur_comm, TASK_COMM_LEN);
		pbw_strn(w, 3, e->comm, TASK_COMM_LEN);
		ev_close(w);
		if (cur)
			comm_copy(c->cur_comm, e->comm);
		break;
	}
	case EV_TASK_RENAME: {
		const struct ev_task_rename *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_TASK_RENAME);
		pbw_int(w, 1, (int32_t)e->pid);
		pbw_strn(w, 2, e->oldcomm, TASK_COMM_LEN);
		pbw_strn(w, 3, e->newcomm, TASK_COMM_LEN);
		ev_close(w);
		if (c->cur_known && c->cur_pid == e->pid)
			comm_copy(c->cur_comm, e->newcomm);
		break;
	}
	case EV_PROCESS_EXIT: {
		const struct ev_process_exit *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_SCHED_PROCESS_EXIT);
		pbw_strn(w, 1, e->comm, TASK_COMM_LEN);
		pbw_int(w, 2, (int32_t)e->pid);
		pbw_int(w, 3, (int32_t)e->tgid);
		pbw_int(w, 4, e->prio);
		ev_close(w);
		break;
	}
	case EV_SYS_ENTER: {
		const struct ev_sys_enter *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_SYS_ENTER);
		pbw_int(w, 1, e->id);
		/* repeated, not packed, in the schema: one tag per argument */
		for (int i = 0; i < SYSCALL_NARGS; i++)
			pbw_uint(w, 2, e->args[i]);
		ev_close(w);
		break;
	}
	case EV_SYS_EXIT: {
		const struct ev_sys_exit *e = (const void *)h;

		if (bundle_room(p, c))
			return -1;
		ev_open(w, ts, h->tid, FE_SYS_EXIT);
		pbw_int(w, 1, e->id);
		pbw_int(w, 2, e->ret);
		ev_close(w);
		break;
	}
	default:
		return 0;
	}
	c->last_ts = ts;
	if (w->err) {
		p->err = w->err;
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
	while ((rc = ctr_next(r, &h)) > 0) {
		if (p->next_late < p->nlate && write_late_tree(p, h->ts))
			return -1;
		if (p->go)
			pfgo_event(p->go, h);
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
	/* one line for the first cause */
	if (out_error(o)) {
		fprintf(stderr, "perfetto: write failed: %s\n", strerror(out_error(o)));
		rc = -1;
	} else if (p.err) {
		fprintf(stderr, "perfetto: cannot encode trace: %s\n", strerror(p.err));
	} else if (p.reader_failed) {
		fprintf(stderr, "perfetto: %s\n", ctr_error(r));
	} else if (p.skipped_cpu || p.clamped) {
		fprintf(stderr,
			"perfetto: warning: %llu events with cpu >= %d skipped, %llu timestamps "
			"clamped\n",
			(unsigned long long)p.skipped_cpu, MAX_CPUS, (unsigned long long)p.clamped);
	}
	if (p.go)
		pfgo_finish(p.go, p.info->end_ts);
	for (size_t i = 0; i < p.ncpus; i++)
		cpu_free(p.cpus[i]);
	free(p.cpus);
	free(p.late);
	pbw_free(&p.pkt);
	return rc;
}
