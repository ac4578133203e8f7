// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Go execution trace writer: the go1.19 format ("v1") that `go tool trace`
 * 1.19-1.22 reads natively and 1.23+ converts (docs/go-trace.md says what
 * the result shows). How it is built:
 *
 * - one event stream per P (and P -1), built in memory from the goroutine
 *   transitions of gostate.c, then written as one batch per P;
 * - goroutines alive at attach are declared at the first timestamp
 *   (GoCreate + GoWaiting/GoInSyscall), decided from the first thing seen
 *   about each, as the runtime's StartTrace would have written them;
 * - every event is timestamped no earlier than the previous event of its
 *   P and of each goroutine it involves, so the parser's merge of the P
 *   streams is always consistent and in time order;
 * - a transition the trace grammar needs but the capture lacks (a lost
 *   wake-up, a lost stop) is synthesized and counted as a repair;
 * - what the parsers check besides: every GoCreate has a one-frame start
 *   stack with a non-zero PC, a PC always names the same function and line,
 *   nothing is left running at the end (all goroutines stopped, all Ps
 *   stopped), EvFrequency comes after a batch, no length-prefixed payload
 *   exceeds 2048 bytes (stacks are capped at MAX_FRAMES), and only event
 *   types the 1.23+ converter knows are written (no FutileWakeup, no Local
 *   variants).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/formats.h"
#include "go/go_offsets.h"
#include "model/gostate.h"
#include "formats/gotrace.h"
#include "model/gostack.h"
#include "lib/idmap.h"
#include "lib/pbwriter.h"
#include "lib/util.h"

/* Event types of the go1.19 format. */
enum {
	EV_BATCH = 1,
	EV_FREQUENCY = 2,
	EV_STACK = 3,
	EV_GOMAXPROCS = 4,
	EV_PROC_START = 5,
	EV_PROC_STOP = 6,
	EV_GO_CREATE_T = 13,
	EV_GO_START_T = 14,
	EV_GO_END = 15,
	EV_GO_SCHED_T = 17,
	EV_GO_PREEMPT = 18,
	EV_GO_SLEEP = 19,
	EV_GO_BLOCK_T = 20,
	EV_GO_UNBLOCK_T = 21,
	EV_GO_BLOCK_SEND = 22,
	EV_GO_BLOCK_RECV = 23,
	EV_GO_BLOCK_SELECT = 24,
	EV_GO_BLOCK_SYNC = 25,
	EV_GO_BLOCK_COND = 26,
	EV_GO_BLOCK_NET = 27,
	EV_GO_SYSCALL = 28,
	EV_GO_SYSEXIT = 29,
	EV_GO_SYSBLOCK = 30,
	EV_GO_WAITING = 31,
	EV_GO_INSYSCALL = 32,
	EV_STRING = 37,
	EV_GO_BLOCK_GC = 42,
};

#define HEADER	   "go 1.19 trace\0\0\0"
#define MAX_P	   4096
#define MAX_FRAMES 40
#define NBUCKETS   16384
/* Synthetic frames (syscall names, unknown start functions) get PCs here. */
#define SYNTH_PC_BASE 0xfffffff000000000ull

struct bbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

struct str_ent {
	char *s;
	uint64_t id;
	struct str_ent *next;
};

struct frame_ent {
	uint64_t pc;
	uint64_t fn, file; /* string ids */
	int64_t line;
};

struct stack_ent {
	uint64_t id;
	uint32_t hash;
	int n;
	uint64_t *pcs;
	struct stack_ent *next;
	struct stack_ent *order; /* output order */
};

/* How a goroutine alive at attach is declared at the first timestamp. */
enum gt_init {
	INIT_RUNNABLE = 1,
	INIT_WAITING,
	INIT_SYSCALL,
};

/* A goroutine's state in the trace's own grammar. */
enum gt_state {
	GT_NEW,	   /* created in the trace, GoCreate not yet written */
	GT_UNDECL, /* alive at attach, not declared yet */
	GT_RUNNABLE,
	GT_RUNNING, /* also inside a syscall that has not blocked */
	GT_WAITING,
	GT_SYSBLOCKED, /* GoSysBlock or GoInSyscall written, no GoSysExit yet */
	GT_DEAD,
};

struct gtg {
	int64_t goid;
	enum gt_state st;
	int32_t p; /* P it runs on, or ran on last */
	uint64_t seq;
	uint64_t last_ts;
	uint64_t startpc;
	uint64_t first_pc; /* outermost own frame seen, to name an unknown start */
	enum gt_init init;
	bool declared;
	bool sys_since_start;
	bool attach_running; /* running at attach on a P not known yet */
	/* the syscall it is in (per gostate) */
	bool in_sys, sys_lazy, sys_shown;
	long sys_nr;
	uint32_t sys_tid;
	uint64_t sys_enter, sys_exit;
	/* exited a syscall, no goroutine event since (its thread may have lost it) */
	bool after_exit, left_pending;
	uint64_t last_exit;
	struct gtg *next_decl;
};

struct pst {
	struct bbuf b;
	uint64_t first_ts, last_ts;
	bool any;
	bool running; /* ProcStart written, no ProcStop since */
	uint32_t tid;
	struct gtg *cur;
};

struct gtw {
	struct ctr_reader *r;
	struct out *o;
	struct gostate *gs;
	uint32_t tgid;
	int minor;
	uint64_t t0, last_ts;
	bool have_t0;
	struct pst *ps; /* index p + 1, MAX_P + 1 of them */
	int nps;
	int maxp; /* highest real P seen */
	struct gtg *decl, **decl_tail;
	uint64_t ndecl;
	struct str_ent *strs[NBUCKETS];
	uint64_t nstr;
	struct str_ent **str_order;
	size_t str_cap;
	struct idmap frames; /* trace pc -> struct frame_ent * */
	struct stack_ent *stacks[NBUCKETS];
	struct stack_ent *stack_first, **stack_tail;
	uint64_t nstack;
	uint64_t next_synth;
	signed char lazy[512]; /* per syscall nr: 0 unknown, 1 runtime's own, -1 not */
	struct gotrace_stats st;
	const void *rec; /* the record gostate is handling */
	bool oom;
};

/* ---- byte buffers and tables ---- */

static void bb_put(struct bbuf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void bb_varint(struct bbuf *b, uint64_t v)
{
	uint8_t tmp[PB_VARINT_MAX];

	bb_put(b, tmp, pb_put_varint(tmp, v));
}

static uint32_t hash_bytes(const void *d, size_t n, uint32_t h)
{
	const uint8_t *p = d;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint64_t str_id(struct gtw *w, const char *s)
{
	uint32_t b = hash_bytes(s, strlen(s), 2166136261u) & (NBUCKETS - 1);
	struct str_ent *e;

	if (!*s)
		return 0;
	for (e = w->strs[b]; e; e = e->next)
		if (!strcmp(e->s, s))
			return e->id;
	if (w->nstr == w->str_cap) {
		size_t cap = w->str_cap ? w->str_cap * 2 : 256;
		struct str_ent **o = realloc(w->str_order, cap * sizeof(*o));

		if (!o) {
			w->oom = true;
			return 0;
		}
		w->str_order = o;
		w->str_cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->s = strdup(s))) {
		free(e);
		w->oom = true;
		return 0;
	}
	e->id = ++w->nstr;
	e->next = w->strs[b];
	w->strs[b] = e;
	w->str_order[e->id - 1] = e;
	return e->id;
}

static struct frame_ent *frame_find(struct gtw *w, uint64_t pc)
{
	return idmap_get_ptr(&w->frames, pc);
}

static void frame_add(struct gtw *w, uint64_t pc, const char *fn, const char *file, int64_t line)
{
	struct frame_ent *f = calloc(1, sizeof(*f));

	if (!f || idmap_put_ptr(&w->frames, pc, f)) {
		free(f);
		w->oom = true;
		return;
	}
	f->pc = pc;
	f->fn = str_id(w, fn);
	f->file = str_id(w, file);
	f->line = line;
}

/*
 * The trace PC of a stack frame. A return address becomes pc - 1 (inside
 * the call, so in the caller), a function entry stays as is: the two can
 * never collide, and each trace PC always names one function and line,
 * which pprof and the 1.23+ parser rely on.
 */
static uint64_t frame_pc(struct gtw *w, uint64_t pc, bool exact)
{
	uint64_t tpc = exact ? pc : pc - 1;
	const struct ctr_go_sym *sym;
	char buf[32];

	if (!pc)
		return 0;
	if (frame_find(w, tpc))
		return tpc;
	sym = ctr_go_sym(w->r, w->tgid, pc, exact);
	if (sym && sym->func[0]) {
		frame_add(w, tpc, sym->func, sym->file[0] ? sym->file : "?", sym->line);
	} else {
		snprintf(buf, sizeof(buf), "%#" PRIx64, pc);
		frame_add(w, tpc, buf, "?", 0);
	}
	return tpc;
}

/*
 * The callers an inlined call was inlined into have no PC of their own
 * (the runtime uses call-site PCs the capture does not carry): they get
 * pc - 1 with the inline depth in bits no user-space address has.
 */
#define INLINE_PC_SHIFT 56

/* Trace PCs of the logical frames at a return address, innermost first. */
static int frame_pcs(struct gtw *w, uint64_t pc, uint64_t *out, int max)
{
	const struct ctr_go_sym *fr[CTR_GO_MAX_FRAMES];
	int n = ctr_go_sym_frames(w->r, w->tgid, pc, false, fr, CTR_GO_MAX_FRAMES), d;

	out[0] = frame_pc(w, pc, false);
	for (d = 1; d < n && d < max; d++) {
		uint64_t tpc = (pc - 1) | (uint64_t)d << INLINE_PC_SHIFT;

		if (!frame_find(w, tpc))
			frame_add(w, tpc, fr[d]->func, fr[d]->file[0] ? fr[d]->file : "?",
				  fr[d]->line);
		out[d] = tpc;
	}
	return d;
}

/* A made-up frame ("syscall:read"), one PC per name. */
static uint64_t synth_pc(struct gtw *w, const char *name, const char *file)
{
	uint64_t fn = str_id(w, name);
	uint64_t pc = SYNTH_PC_BASE + fn;

	if (!frame_find(w, pc))
		frame_add(w, pc, name, file, 0);
	return pc;
}

static uint64_t stack_id_pcs(struct gtw *w, const uint64_t *pcs, int n)
{
	uint32_t h = hash_bytes(pcs, n * sizeof(*pcs), 2166136261u);
	struct stack_ent *s;
	unsigned int b = h & (NBUCKETS - 1);

	if (n <= 0)
		return 0;
	for (s = w->stacks[b]; s; s = s->next)
		if (s->hash == h && s->n == n && !memcmp(s->pcs, pcs, n * sizeof(*pcs)))
			return s->id;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->pcs = malloc(n * sizeof(*pcs)))) {
		free(s);
		w->oom = true;
		return 0;
	}
	memcpy(s->pcs, pcs, n * sizeof(*pcs));
	s->n = n;
	s->hash = h;
	s->id = ++w->nstack;
	s->next = w->stacks[b];
	w->stacks[b] = s;
	*w->stack_tail = s;
	w->stack_tail = &s->order;
	return s->id;
}

/* ---- stacks from the capture ---- */

static uint64_t stack_id(struct gtw *w, const __u64 *stack, int n)
{
	uint64_t pcs[MAX_FRAMES];
	int k = 0;

	if (!stack || n <= 0)
		return 0;
	for (int i = go_skip_frames(w->r, w->tgid, stack, n); i < n && k < MAX_FRAMES; i++)
		k += frame_pcs(w, stack[i], pcs + k, MAX_FRAMES - k);
	return stack_id_pcs(w, pcs, k);
}

/* The one-frame start stack that goroutine analysis groups by. */
static uint64_t start_stack(struct gtw *w, struct gtg *g)
{
	const struct ctr_go_sym *fr[CTR_GO_MAX_FRAMES];
	uint64_t pc;
	int nf;

	if (g->startpc) {
		pc = frame_pc(w, g->startpc, true);
	} else if (g->first_pc &&
		   (nf = ctr_go_sym_frames(w->r, w->tgid, g->first_pc, false, fr,
					   CTR_GO_MAX_FRAMES)) &&
		   fr[nf - 1]->func[0]) {
		/* Start unknown (create lost): name it by its outermost frame. */
		pc = synth_pc(w, fr[nf - 1]->func, fr[nf - 1]->file);
	} else {
		pc = synth_pc(w, "unknown (created before the trace)", "?");
	}
	return stack_id_pcs(w, &pc, 1);
}

/* Remembers the outermost frame that is not runtime.goexit. */
static void note_stack(struct gtw *w, struct gtg *g, const __u64 *stack, int n)
{
	if (g->startpc || g->first_pc)
		return;
	for (int i = n - 1; i >= 0; i--) {
		const struct ctr_go_sym *sym = ctr_go_sym(w->r, w->tgid, stack[i], false);

		if (sym && !strcmp(sym->func, "runtime.goexit"))
			continue;
		g->first_pc = stack[i];
		return;
	}
}

/* ---- P streams and events ---- */

/* Streams are allocated up front, so pointers to them stay valid. */
static struct pst *pst(struct gtw *w, int p)
{
	if (p < -1 || p >= MAX_P)
		p = -1;
	if (p > w->maxp)
		w->maxp = p;
	return &w->ps[p + 1];
}

static int pid_of(struct gtw *w, struct pst *ps)
{
	return (int)(ps - w->ps) - 1;
}

/* The event's time: never before what it depends on in its P or its goroutines. */
static uint64_t clamp(struct gtw *w, struct pst *ps, uint64_t ts, struct gtg *a, struct gtg *b)
{
	if (ts < w->t0)
		ts = w->t0;
	if (ps->any && ts < ps->last_ts)
		ts = ps->last_ts;
	if (a && ts < a->last_ts)
		ts = a->last_ts;
	if (b && ts < b->last_ts)
		ts = b->last_ts;
	if (a)
		a->last_ts = ts;
	if (b)
		b->last_ts = ts;
	if (ts > w->last_ts)
		w->last_ts = ts;
	return ts;
}

/* One event: type byte with the value count, then varints (length-prefixed from 4 values). */
static void put_event(struct bbuf *b, int type, uint64_t dt, const uint64_t *args, int nargs)
{
	uint8_t tmp[(1 + 8) * PB_VARINT_MAX], hdr;
	size_t n = pb_put_varint(tmp, dt);
	int nvals = nargs + 1;

	for (int i = 0; i < nargs; i++)
		n += pb_put_varint(tmp + n, args[i]);
	hdr = type | (nvals - 1 < 3 ? nvals - 1 : 3) << 6;
	bb_put(b, &hdr, 1);
	if (nvals >= 4)
		bb_varint(b, n);
	bb_put(b, tmp, n);
}

static void emit(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *a, struct gtg *b,
		 const uint64_t *args, int nargs)
{
	ts = clamp(w, ps, ts, a, b);
	if (!ps->any) {
		ps->any = true;
		ps->first_ts = ts;
		ps->last_ts = ts;
	}
	put_event(&ps->b, type, ts - ps->last_ts, args, nargs);
	ps->last_ts = ts;
	w->st.events++;
}

static void emit0(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *g)
{
	emit(w, ps, type, ts, g, NULL, NULL, 0);
}

static void emit_stk(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *g,
		     uint64_t stk)
{
	emit(w, ps, type, ts, g, NULL, &stk, 1);
}

static void proc_stop(struct gtw *w, struct pst *ps, uint64_t ts)
{
	if (!ps->running || pid_of(w, ps) < 0)
		return;
	emit0(w, ps, EV_PROC_STOP, ts, NULL);
	ps->running = false;
}

static void proc_start(struct gtw *w, struct pst *ps, uint64_t ts, uint32_t tid)
{
	uint64_t a = tid;

	if (pid_of(w, ps) < 0)
		return;
	if (ps->running && ps->tid == tid)
		return;
	proc_stop(w, ps, ts);
	emit(w, ps, EV_PROC_START, ts, NULL, NULL, &a, 1);
	ps->running = true;
	ps->tid = tid;
}

static void declare(struct gtw *w, struct gtg *g, enum gt_init init)
{
	if (g->declared)
		return;
	g->declared = true;
	g->init = init;
	g->seq = init == INIT_RUNNABLE ? 0 : 1;
	g->st = init == INIT_RUNNABLE  ? GT_RUNNABLE
		: init == INIT_WAITING ? GT_WAITING
				       : GT_SYSBLOCKED;
	g->last_ts = w->t0;
	*w->decl_tail = g;
	w->decl_tail = &g->next_decl;
	w->ndecl++;
}

static uint64_t syscall_stack(struct gtw *w, struct gtg *g, long nr)
{
	const char *name = syscall_name(ctr_info(w->r)->machine, nr);
	uint64_t pcs[2];
	char buf[64];
	int n = 0;

	if (name)
		snprintf(buf, sizeof(buf), "syscall:%s", name);
	else
		snprintf(buf, sizeof(buf), "syscall:%ld", nr);
	pcs[n++] = synth_pc(w, buf, "kernel");
	if (g->startpc)
		pcs[n++] = frame_pc(w, g->startpc, true);
	return stack_id_pcs(w, pcs, n);
}

/* The goroutine's syscall blocked: the P is released (sysmon's hand-off). */
static void sys_block(struct gtw *w, struct gtg *g, uint64_t ts)
{
	struct pst *ps = pst(w, g->p);

	if (!g->sys_shown) {
		emit_stk(w, ps, EV_GO_SYSCALL, g->sys_enter, g, syscall_stack(w, g, g->sys_nr));
		g->sys_shown = true;
	}
	emit0(w, ps, EV_GO_SYSBLOCK, ts, g);
	g->st = GT_SYSBLOCKED;
	if (ps->cur == g)
		ps->cur = NULL;
	proc_stop(w, ps, ts);
}

/* Frees P for another goroutine. */
static void stop_cur(struct gtw *w, struct pst *ps, uint64_t ts)
{
	struct gtg *h = ps->cur;

	if (!h)
		return;
	if (h->in_sys) {
		/* Its syscall blocked and the P was handed off. */
		sys_block(w, h, ts);
		return;
	}
	/* Its stop was not seen: preempted, as far as the trace can tell. */
	emit_stk(w, ps, EV_GO_PREEMPT, ts, h, 0);
	h->st = GT_RUNNABLE;
	ps->cur = NULL;
	if (!h->sys_since_start)
		w->st.repairs++;
}

/*
 * Makes g run on P p at about ts, writing whatever the grammar needs first:
 * its declaration, a synthesized wake-up, its syscall exit, a stop of
 * whatever p ran.
 */
static void need_running(struct gtw *w, struct gtg *g, int p, uint64_t ts, uint32_t tid,
			 bool is_start)
{
	struct pst *ps = pst(w, p);
	uint64_t a[2];

	if (p < 0)
		return;
	switch (g->st) {
	case GT_RUNNING:
		if (g->p == p && ps->cur == g)
			return;
		if (g->p >= 0 && pst(w, g->p)->cur == g) {
			struct pst *old = pst(w, g->p);

			if (g->in_sys) {
				sys_block(w, g, ts);
			} else {
				emit_stk(w, old, EV_GO_PREEMPT, ts, g, 0);
				old->cur = NULL;
				g->st = GT_RUNNABLE;
				if (!g->sys_since_start)
					w->st.repairs++;
			}
		} else {
			g->st = GT_RUNNABLE;
		}
		break;
	case GT_UNDECL:
		declare(w, g, INIT_RUNNABLE);
		/* Nothing else used p since attach: it ran there all along. */
		if (!ps->any && !ps->running)
			ts = w->t0;
		break;
	case GT_NEW:
		/* Its create was not seen after all. */
		declare(w, g, INIT_RUNNABLE);
		w->st.repairs++;
		break;
	case GT_WAITING: {
		/* Its wake-up was lost: the runtime did it, with no stack. */
		uint64_t args[3] = {g->goid, ++g->seq, 0};

		emit(w, pst(w, -1), EV_GO_UNBLOCK_T, ts, g, NULL, args, 3);
		g->st = GT_RUNNABLE;
		w->st.repairs++;
		break;
	}
	case GT_RUNNABLE:
		/* Running at attach (snapshot), or its start was lost. */
		if (g->attach_running) {
			g->attach_running = false;
			if (!ps->any && !ps->running)
				ts = w->t0;
		} else if (!is_start) {
			w->st.repairs++;
		}
		break;
	case GT_SYSBLOCKED:
		break;
	case GT_DEAD:
		return;
	}
	if (ps->cur && ps->cur != g)
		stop_cur(w, ps, ts);
	proc_start(w, ps, ts, tid);
	if (g->st == GT_SYSBLOCKED) {
		uint64_t args[3] = {g->goid, ++g->seq, 0};

		emit(w, ps, EV_GO_SYSEXIT, g->sys_exit && g->sys_exit < ts ? g->sys_exit : ts, g,
		     NULL, args, 3);
		g->st = GT_RUNNABLE;
		g->sys_exit = 0;
	}
	a[0] = g->goid;
	a[1] = ++g->seq;
	emit(w, ps, EV_GO_START_T, ts, g, NULL, a, 2);
	g->st = GT_RUNNING;
	g->p = p;
	g->sys_since_start = false;
	ps->cur = g;
}

/* A P that a goroutine resuming from a blocked syscall can take; -1: none. */
static int free_p(struct gtw *w, int prefer)
{
	if (prefer >= 0 && prefer <= w->maxp && !pst(w, prefer)->running)
		return prefer;
	for (int p = 0; p <= w->maxp; p++)
		if (!pst(w, p)->running)
			return p;
	if (prefer >= 0 && prefer <= w->maxp && !pst(w, prefer)->cur)
		return prefer;
	return -1;
}

static int block_event(const struct gs_trans *t)
{
	switch ((enum go_block_kind)t->kind) {
	case GB_CHAN_RECV:
		return EV_GO_BLOCK_RECV;
	case GB_CHAN_SEND:
		return EV_GO_BLOCK_SEND;
	case GB_SELECT:
	case GB_SELECT_NO_CASES:
		return EV_GO_BLOCK_SELECT;
	case GB_MUTEX:
	case GB_WAITGROUP:
		return EV_GO_BLOCK_SYNC;
	case GB_COND:
		return EV_GO_BLOCK_COND;
	case GB_NET:
		return EV_GO_BLOCK_NET;
	case GB_SLEEP:
		return EV_GO_SLEEP;
	case GB_GC:
		/*
		 * The runtime traces only mark assists waiting for work as
		 * GoBlockGC; its GC workers, sweeper and scavenger idle in plain
		 * GoBlock, which keeps them out of the sync profile.
		 */
		if (t->reason_str && !strcmp(t->reason_str, "GC assist wait"))
			return EV_GO_BLOCK_GC;
		return EV_GO_BLOCK_T;
	default:
		return EV_GO_BLOCK_T;
	}
}

static bool lazy_syscall(struct gtw *w, long nr)
{
	if (nr < 0 || nr >= (long)sizeof(w->lazy))
		return false;
	if (!w->lazy[nr])
		w->lazy[nr] =
		    go_runtime_syscall(syscall_name(ctr_info(w->r)->machine, nr)) ? 1 : -1;
	return w->lazy[nr] > 0;
}

/* ---- gostate callbacks ---- */

static void on_create(void *ctx, struct gs_gor *gg, uint64_t ts, const __u64 *stack, int n)
{
	struct gtw *w = ctx;
	struct gtg *g;

	if (gg->tgid != w->tgid)
		return;
	g = calloc(1, sizeof(*g));
	if (!g) {
		w->oom = true;
		return;
	}
	g->goid = gg->goid;
	g->st = gg->at_attach ? GT_UNDECL : GT_NEW;
	g->p = -1;
	g->startpc = gg->startpc;
	gg->user = g;
	w->st.goroutines++;
}

/* A goroutine that the probes saw acting (creating, waking) runs on p. */
static void actor_runs(struct gtw *w, int64_t goid, int p, uint64_t ts, uint32_t tid)
{
	struct gs_gor *gg;
	struct gtg *a;

	if (!goid || p < 0 || !(gg = gostate_find(w->gs, w->tgid, goid)) || !(a = gg->user))
		return;
	if (a->st == GT_UNDECL)
		need_running(w, a, p, ts, tid, false);
}

static void t_create(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps = pst(w, t->p);
	uint64_t args[3];

	actor_runs(w, t->waker_goid, t->p, t->ts, t->waker_tid);
	args[0] = g->goid;
	args[1] = start_stack(w, g);
	args[2] = stack_id(w, t->stack, t->nstack);
	emit(w, ps, EV_GO_CREATE_T, t->ts, g, NULL, args, 3);
	g->seq = 0;
	g->st = GT_RUNNABLE;
}

static void t_unblock(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps = pst(w, t->p);
	uint64_t args[3];

	switch (g->st) {
	case GT_UNDECL:
	case GT_NEW:
		declare(w, g, INIT_WAITING);
		break;
	case GT_RUNNING:
		/* Its block was lost. */
		if (g->p >= 0 && pst(w, g->p)->cur == g) {
			emit_stk(w, pst(w, g->p), EV_GO_BLOCK_T, t->ts, g, 0);
			pst(w, g->p)->cur = NULL;
		}
		g->in_sys = false;
		g->st = GT_WAITING;
		w->st.repairs++;
		break;
	case GT_WAITING:
	case GT_SYSBLOCKED:
		break;
	default:
		return;
	}
	actor_runs(w, t->waker_goid, t->p, t->ts, t->waker_tid);
	args[0] = g->goid;
	args[1] = ++g->seq;
	if (g->st == GT_SYSBLOCKED) {
		args[2] = 0;
		emit(w, ps, EV_GO_SYSEXIT, t->ts, g, NULL, args, 3);
		g->in_sys = false;
	} else {
		args[2] = stack_id(w, t->stack, t->nstack);
		emit(w, ps, EV_GO_UNBLOCK_T, t->ts, g, NULL, args, 3);
	}
	g->st = GT_RUNNABLE;
}

/* It stopped running but stays runnable: yield, preemption, or a stop gostate repaired. */
static void t_stopped(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps;

	if (g->in_sys || g->st == GT_SYSBLOCKED) {
		/* Left a syscall through the scheduler (exitsyscall found no P). */
		if (g->st == GT_RUNNING && g->p >= 0 && pst(w, g->p)->cur == g)
			sys_block(w, g, t->ts);
		else if (g->st == GT_RUNNING)
			g->st = GT_RUNNABLE;
		g->in_sys = false;
		return;
	}
	if (g->st == GT_RUNNABLE || g->st == GT_DEAD)
		return;
	if (t->repaired) {
		if (g->st == GT_RUNNING && g->p >= 0 && (ps = pst(w, g->p))->cur == g) {
			emit_stk(w, ps, EV_GO_PREEMPT, t->ts, g, 0);
			ps->cur = NULL;
			g->st = GT_RUNNABLE;
		}
		return;
	}
	need_running(w, g, t->p >= 0 ? t->p : g->p, t->ts, t->tid, false);
	ps = pst(w, g->p);
	if (t->nstack)
		note_stack(w, g, t->stack, t->nstack);
	emit_stk(w, ps, t->preempted ? EV_GO_PREEMPT : EV_GO_SCHED_T, t->ts, g,
		 stack_id(w, t->stack, t->nstack));
	ps->cur = NULL;
	g->st = GT_RUNNABLE;
}

static void t_block(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps;

	if (t->nstack)
		note_stack(w, g, t->stack, t->nstack);
	need_running(w, g, t->p >= 0 ? t->p : g->p, t->ts, t->tid, false);
	if (g->st != GT_RUNNING)
		return;
	ps = pst(w, g->p);
	g->in_sys = false;
	emit_stk(w, ps, block_event(t), t->ts, g, stack_id(w, t->stack, t->nstack));
	ps->cur = NULL;
	g->st = GT_WAITING;
}

/*
 * A futex wait on a value other than 0 is the runtime's lock2 sleeping on a
 * contended runtime lock: the goroutine is still running as far as Go is
 * concerned (its own trace shows nothing), unlike a note sleep (value 0).
 */
static bool runtime_lock_wait(struct gtw *w, const struct gs_trans *t)
{
	const struct ev_sys_enter *e = w->rec;
	const char *name;

	if (!e || e->h.type != EV_SYS_ENTER || e->h.tid != t->tid || e->id != t->syscall)
		return false;
	name = syscall_name(ctr_info(w->r)->machine, e->id);
	return name && !strcmp(name, "futex") && (e->args[1] & 0x7f) == 0 && e->args[2] != 0;
}

static void t_sys_enter(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	bool lazy = lazy_syscall(w, t->syscall);
	int p;

	if (runtime_lock_wait(w, t))
		return;
	/*
	 * Right after a syscall, with no goroutine event since, a runtime
	 * syscall on the thread is likely the M parking (stopm) after
	 * exitsyscall found no P and queued the goroutine: if the thread
	 * sleeps now, the goroutine's syscall lost its P.
	 */
	if (lazy && g->after_exit && g->st == GT_RUNNING) {
		g->left_pending = true;
		return;
	}
	if (g->st == GT_SYSBLOCKED || g->st == GT_UNDECL || g->st == GT_NEW) {
		/* Back from a blocked syscall, on a P that no event has named yet. */
		if (lazy && g->st == GT_SYSBLOCKED)
			return;
		p = free_p(w, g->p);
		if (p < 0)
			return;
		need_running(w, g, p, t->ts, t->tid, false);
	} else if (g->st != GT_RUNNING) {
		need_running(w, g, g->p >= 0 ? g->p : 0, t->ts, t->tid, false);
	}
	if (g->st != GT_RUNNING)
		return;
	g->in_sys = true;
	g->sys_lazy = lazy;
	g->sys_shown = false;
	g->sys_nr = t->syscall;
	g->sys_tid = t->tid;
	g->sys_enter = t->ts;
	g->sys_since_start = true;
	/* The runtime's own syscalls only show when they block. */
	if (!lazy) {
		emit_stk(w, pst(w, g->p), EV_GO_SYSCALL, t->ts, g, syscall_stack(w, g, t->syscall));
		g->sys_shown = true;
	}
}

static void t_sys_exit(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	if (!g->in_sys)
		return;
	if (g->st == GT_SYSBLOCKED)
		g->sys_exit = t->ts; /* GoSysExit goes where it next runs */
	if (!g->sys_lazy) {
		g->after_exit = true;
		g->last_exit = t->ts;
	}
	g->in_sys = false;
}

static void on_transition(void *ctx, const struct gs_trans *t)
{
	struct gtw *w = ctx;
	struct gtg *g = t->g->user;

	if (!g || t->g->tgid != w->tgid)
		return;
	if (t->from != GS_SYSCALL && t->to != GS_SYSCALL)
		g->after_exit = g->left_pending = false;
	if (t->p > w->maxp)
		pst(w, t->p);
	/* tid 0: the state at attach (the runtime snapshot), not an event. */
	if (!t->tid && g->st == GT_UNDECL) {
		switch (t->to) {
		case GS_BLOCKED:
			if (t->nstack)
				note_stack(w, g, t->stack, t->nstack);
			declare(w, g, INIT_WAITING);
			return;
		case GS_SYSCALL:
			declare(w, g, INIT_SYSCALL);
			return;
		case GS_RUNNABLE:
			declare(w, g, INIT_RUNNABLE);
			return;
		case GS_RUNNING: /* on a P we learn from its next event */
			declare(w, g, INIT_RUNNABLE);
			g->attach_running = true;
			return;
		default:
			break;
		}
	}
	switch (t->to) {
	case GS_RUNNABLE:
		if (g->st == GT_NEW && t->from == GS_NONE)
			t_create(w, g, t);
		else if (t->waker_goid || t->waker_label)
			t_unblock(w, g, t);
		else
			t_stopped(w, g, t);
		break;
	case GS_RUNNING:
		if (t->from == GS_SYSCALL)
			t_sys_exit(w, g, t);
		else
			need_running(w, g, t->p >= 0 ? t->p : (g->p >= 0 ? g->p : 0), t->ts, t->tid,
				     true);
		break;
	case GS_BLOCKED:
		t_block(w, g, t);
		break;
	case GS_SYSCALL:
		t_sys_enter(w, g, t);
		break;
	case GS_DEAD:
		if (t->p < 0) {
			/* Its process ended: only a running goroutine needs an end. */
			if (g->st == GT_UNDECL || g->st == GT_NEW)
				declare(w, g, INIT_RUNNABLE);
			if (g->st == GT_RUNNING && g->p >= 0 && pst(w, g->p)->cur == g) {
				emit0(w, pst(w, g->p), EV_GO_END, t->ts, g);
				pst(w, g->p)->cur = NULL;
				g->st = GT_DEAD;
			}
			break;
		}
		need_running(w, g, t->p, t->ts, t->tid, false);
		if (g->st == GT_RUNNING) {
			struct pst *ps = pst(w, g->p);

			emit0(w, ps, EV_GO_END, t->ts, g);
			ps->cur = NULL;
		}
		g->st = GT_DEAD;
		break;
	default:
		break;
	}
}

/* At the end: nothing may be left running (the UI needs an end for every start). */
static void on_destroy(void *ctx, struct gs_gor *gg)
{
	struct gtw *w = ctx;
	struct gtg *g = gg->user;
	struct pst *ps;

	if (!g)
		return;
	gg->user = NULL;
	if (g->st == GT_UNDECL || g->st == GT_NEW)
		declare(w, g, INIT_RUNNABLE);
	if (g->st == GT_RUNNING && g->p >= 0 && (ps = pst(w, g->p))->cur == g) {
		if (g->in_sys && !g->sys_lazy) {
			sys_block(w, g, w->last_ts);
		} else {
			emit_stk(w, ps, EV_GO_SCHED_T, w->last_ts, g, 0);
			ps->cur = NULL;
		}
	}
	g->st = GT_DEAD;
	if (!g->declared)
		free(g);
}

static const struct gs_ops ops = {
    .create = on_create,
    .transition = on_transition,
    .destroy = on_destroy,
};

/* ---- threads ---- */

static void on_switch(struct gtw *w, const struct ev_sched_switch *e)
{
	uint64_t ts = e->h.ts;

	/* Only a thread that sleeps matters: preemption (R, R+) changes nothing. */
	if (e->prev_tgid != w->tgid || !(e->prev_state & 0xff))
		return;
	for (int p = 0; p <= w->maxp; p++) {
		struct pst *ps = pst(w, p);
		struct gtg *g = ps->cur;

		if (g && g->in_sys && g->sys_tid == e->prev_pid && g->st == GT_RUNNING) {
			/* Blocked in the kernel: as the runtime's sysmon would, hand off P. */
			sys_block(w, g, ts);
		} else if (g && g->left_pending && g->sys_tid == e->prev_pid &&
			   g->st == GT_RUNNING) {
			/* Its last syscall lost the P; it resumes where it next starts. */
			sys_block(w, g, ts);
			g->sys_exit = g->last_exit;
			g->left_pending = g->after_exit = false;
		} else if (!g && ps->running && ps->tid == e->prev_pid) {
			/* An M with an idle P goes to sleep only after releasing it. */
			proc_stop(w, ps, ts);
		}
	}
}

/* ---- file assembly ---- */

static void write_batch(struct out *o, int p, uint64_t ts)
{
	struct bbuf b = {0};
	uint64_t args[2] = {(uint64_t)(int64_t)p, ts};
	uint8_t hdr = EV_BATCH | 1 << 6;

	bb_put(&b, &hdr, 1);
	bb_varint(&b, args[0]);
	bb_varint(&b, args[1]);
	out_write(o, b.p, b.len);
	free(b.p);
}

static int write_file(struct gtw *w)
{
	struct bbuf b = {0};
	uint64_t args[3];
	uint8_t hdr;

	out_write(w->o, HEADER, 16);

	/* The state at attach, as StartTrace writes it, then Gomaxprocs. */
	for (struct gtg *g = w->decl; g; g = g->next_decl) {
		args[0] = g->goid;
		args[1] = start_stack(w, g);
		args[2] = 0;
		put_event(&b, EV_GO_CREATE_T, 0, args, 3);
		if (g->init != INIT_RUNNABLE) {
			args[0] = g->goid;
			put_event(&b, g->init == INIT_WAITING ? EV_GO_WAITING : EV_GO_INSYSCALL, 0,
				  args, 1);
		}
	}
	args[0] = w->maxp + 1 > 0 ? w->maxp + 1 : 1;
	args[1] = 0;
	put_event(&b, EV_GOMAXPROCS, 0, args, 2);
	write_batch(w->o, 0, w->t0);
	out_write(w->o, b.p, b.len);
	if (b.oom)
		w->oom = true;
	free(b.p);

	for (int i = 0; i < w->nps; i++) {
		struct pst *ps = &w->ps[i];

		if (!ps->any)
			continue;
		if (ps->b.oom)
			w->oom = true;
		write_batch(w->o, i - 1, ps->first_ts);
		out_write(w->o, ps->b.p, ps->b.len);
	}

	/* Frequency after a batch (1.23+ needs that): ticks are nanoseconds. */
	b = (struct bbuf){0};
	hdr = EV_FREQUENCY;
	bb_put(&b, &hdr, 1);
	bb_varint(&b, 1000000000);
	out_write(w->o, b.p, b.len);
	b.len = 0;

	write_batch(w->o, 0, w->last_ts);
	for (uint64_t i = 0; i < w->nstr; i++) {
		const struct str_ent *e = w->str_order[i];
		size_t n = strlen(e->s);

		if (n > 1000000)
			n = 1000000;
		hdr = EV_STRING;
		bb_put(&b, &hdr, 1);
		bb_varint(&b, e->id);
		bb_varint(&b, n);
		bb_put(&b, e->s, n);
	}
	for (struct stack_ent *s = w->stack_first; s; s = s->order) {
		uint64_t vals[2 + 4 * MAX_FRAMES];
		int nv = 0;
		uint8_t tmp[(2 + 4 * MAX_FRAMES) * PB_VARINT_MAX];
		size_t n = 0;

		vals[nv++] = s->id;
		vals[nv++] = s->n;
		for (int k = 0; k < s->n; k++) {
			const struct frame_ent *f = frame_find(w, s->pcs[k]);

			vals[nv++] = s->pcs[k];
			vals[nv++] = f ? f->fn : 0;
			vals[nv++] = f ? f->file : 0;
			vals[nv++] = f && f->line > 0 ? (uint64_t)f->line : 0;
		}
		for (int k = 0; k < nv; k++)
			n += pb_put_varint(tmp + n, vals[k]);
		hdr = EV_STACK | 3 << 6;
		bb_put(&b, &hdr, 1);
		bb_varint(&b, n);
		bb_put(&b, tmp, n);
	}
	out_write(w->o, b.p, b.len);
	if (b.oom)
		w->oom = true;
	free(b.p);
	return w->oom ? -1 : 0;
}

static void gtw_free(struct gtw *w)
{
	struct gtg *g, *next;
	size_t it = 0;
	uint64_t v;

	for (g = w->decl; g; g = next) {
		next = g->next_decl;
		free(g);
	}
	for (int i = 0; i < w->nps; i++)
		free(w->ps[i].b.p);
	free(w->ps);
	for (int b = 0; b < NBUCKETS; b++) {
		while (w->strs[b]) {
			struct str_ent *e = w->strs[b];

			w->strs[b] = e->next;
			free(e->s);
			free(e);
		}
		while (w->stacks[b]) {
			struct stack_ent *s = w->stacks[b];

			w->stacks[b] = s->next;
			free(s->pcs);
			free(s);
		}
	}
	while (idmap_next(&w->frames, &it, NULL, &v))
		free((void *)(uintptr_t)v);
	idmap_free(&w->frames);
	free(w->str_order);
	free(w);
}

int gotrace_check(struct ctr_reader *r)
{
	uint32_t modes = ctr_info(r)->go_modes;

	if ((modes & (1u << GO_MODE_SAMPLED)) && !(modes & (1u << GO_MODE_FULL))) {
		errmsg("a go trace needs every goroutine transition, and this capture's goroutines "
		       "were sampled (--goroutines sampled); record with --goroutines full "
		       "(see docs/go-trace.md)");
		return -1;
	}
	return 0;
}

uint32_t gotrace_pick_process(struct ctr_reader *r, uint32_t *nprocs)
{
	size_t n = ctr_go_proc_count(r);
	uint64_t *count, best = 0;
	const struct ev_header *h;
	uint32_t tgid = 0;

	if (nprocs)
		*nprocs = n;
	if (!n)
		return 0;
	if (n == 1)
		return ctr_go_proc_at(r, 0)->tgid;
	count = calloc(n, sizeof(*count));
	if (!count || ctr_rewind(r)) {
		free(count);
		return ctr_go_proc_at(r, 0)->tgid;
	}
	while (ctr_next(r, &h) > 0) {
		if (h->type < EV_GO_CREATE || h->type > EV_GO_EXIT)
			continue;
		for (size_t i = 0; i < n; i++)
			if (ctr_go_proc_at(r, i)->tgid == h->tgid)
				count[i]++;
	}
	tgid = ctr_go_proc_at(r, 0)->tgid;
	for (size_t i = 0; i < n; i++)
		if (count[i] > best) {
			best = count[i];
			tgid = ctr_go_proc_at(r, i)->tgid;
		}
	free(count);
	ctr_rewind(r);
	return tgid;
}

/* Auto mode: the trace stops where full mode did; say so, and why. */
static void note_full_period(struct ctr_reader *r, const struct ctr_go_period *sw)
{
	uint64_t start = ctr_info(r)->start_ts;
	double t = sw->ts > start ? (sw->ts - start) / 1e9 : 0;

	errmsg("go trace: covers the full-mode period only (0 to %.3f s of the capture); "
	       "goroutines were sampled after that (auto mode: probes estimated at %.1f%% of "
	       "the target's CPU), see docs/go-trace.md",
	       t, sw->est_ppm / 1e4);
}

int gotrace_write(struct ctr_reader *r, struct out *o, struct gotrace_stats *st)
{
	const struct ctr_go_period *sw = ctr_go_switch(r);
	const struct ctr_go_proc *gp;
	const struct ev_header *h;
	struct gtw *w;
	uint32_t nprocs;
	int rc;

	memset(st, 0, sizeof(*st));
	w = calloc(1, sizeof(*w));
	if (!w) {
		errmsg("out of memory");
		return -1;
	}
	w->r = r;
	w->o = o;
	w->decl_tail = &w->decl;
	w->stack_tail = &w->stack_first;
	w->maxp = -1;
	w->ps = calloc(MAX_P + 1, sizeof(*w->ps));
	w->nps = w->ps ? MAX_P + 1 : 0;
	if (!w->ps) {
		errmsg("out of memory");
		gtw_free(w);
		return -1;
	}
	w->tgid = gotrace_pick_process(r, &nprocs);
	w->st.tgid = w->tgid;
	w->st.go_procs = nprocs;
	if (!w->tgid) {
		errmsg("no Go process in the capture: a go trace needs goroutine events "
		       "(record a Go program without --no-goroutines)");
		gtw_free(w);
		return -1;
	}
	gp = ctr_go_proc_find(r, w->tgid);
	w->minor = gp ? gp->minor : 0;
	w->gs = gostate_new(r, &ops, w);
	if (!w->gs || ctr_rewind(r)) {
		errmsg("out of memory");
		gostate_free(w->gs);
		gtw_free(w);
		return -1;
	}
	while ((rc = ctr_next(r, &h)) > 0) {
		/* Auto mode: only full mode has every transition the format needs. */
		if (sw && h->ts >= sw->ts)
			break;
		if (h->tgid != w->tgid && h->type != EV_SCHED_SWITCH)
			continue;
		if (h->tgid == w->tgid && !w->have_t0) {
			w->t0 = h->ts;
			w->have_t0 = true;
		}
		if (!w->have_t0)
			continue;
		w->rec = h;
		gostate_event(w->gs, h);
		w->rec = NULL;
		if (h->tgid == w->tgid && h->ts > w->last_ts)
			w->last_ts = h->ts;
		if (h->type == EV_SCHED_SWITCH)
			on_switch(w, (const struct ev_sched_switch *)h);
	}
	if (rc < 0) {
		errmsg("%s", ctr_error(r));
		gostate_free(w->gs);
		gtw_free(w);
		return -1;
	}
	w->st.gostate_repairs = gostate_repairs(w->gs);
	gostate_finish(w->gs, w->last_ts);
	for (int p = 0; p <= w->maxp; p++)
		proc_stop(w, pst(w, p), w->last_ts);
	rc = write_file(w);
	*st = w->st;
	if (rc)
		errmsg("out of memory writing the go trace");
	else if (w->st.repairs || w->st.gostate_repairs)
		errmsg("go trace: repaired %" PRIu64 " goroutine transitions that the capture "
		       "lacks (lost or unobserved events)",
		       w->st.repairs + w->st.gostate_repairs);
	if (!rc && sw)
		note_full_period(r, sw);
	gostate_free(w->gs);
	gtw_free(w);
	return rc;
}
