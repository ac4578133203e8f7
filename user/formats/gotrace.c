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
 * - every event passes through the trace's rules (gotrace_rules.c) on its
 *   way to its P's stream: there it is timestamped no earlier than what it
 *   depends on and given its sequence number, and whatever would make the
 *   parser's merge of the P streams inconsistent is repaired or dropped,
 *   and counted, so the file always opens;
 * - a transition the trace grammar needs but the capture lacks (a lost
 *   wake-up, a lost stop) is synthesized and counted as a repair;
 * - syscalls are Go's own: a goroutine's syscall (what the model keeps,
 *   entersyscall's) is a GoSysCall; when its P is handed off meanwhile
 *   (sysmon's retake, seen by the handoffp probe, or inferred when the P
 *   runs another goroutine or the goroutine comes back without it) a
 *   GoSysBlock, then GoSysExit and GoStart where it runs again;
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
#include "formats/gotrace_rules.h"
#include "model/gostack.h"
#include "lib/idmap.h"
#include "lib/pbwriter.h"
#include "lib/util.h"

#define HEADER	   "go 1.19 trace\0\0\0"
#define MAX_P	   GTC_MAX_P
#define MAX_FRAMES 40
#define NBUCKETS   16384
#define GUESS_RING 64
/*
 * A P is retaken (its status changed) a little before handoffp's probe
 * fires; a goroutine whose thread went on after its syscall that recently
 * may still have lost its P to it.
 */
#define RETAKE_SLACK_NS 50000
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
	uint64_t startpc;
	uint64_t first_pc; /* outermost own frame seen, to name an unknown start */
	enum gt_init init;
	bool declared;
	bool attach_running; /* running at attach on a P not known yet */
	/* in a syscall (per gostate): the goroutine's own, entersyscall's */
	bool in_sys;
	uint64_t sys_exit; /* GT_SYSBLOCKED: when the syscall returned, 0: not yet */
	/*
	 * exited a syscall, nothing of it seen since: the runtime may not be
	 * back from it yet (exitsyscall), and its P may be gone
	 */
	bool after_exit;
	uint64_t last_exit;
	uint64_t moved_on; /* a runtime syscall of its thread since: exitsyscall is done */
	uint32_t sys_tid;  /* thread of its last syscall */
	/* its P was handed off before its syscall's entry record came */
	bool handoff_pending;
	/* entersyscallblock gave up the P: the next syscall is the blocked one */
	bool block_sys_pending;
	/* back from a blocked syscall on a P no event named: p is a guess */
	bool p_guess;
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
	struct gtc *chk; /* the trace's rules, every event passes */
	/* goroutines whose P we guessed (ring of goids), for handoffs to correct */
	int64_t guessed[GUESS_RING];
	unsigned int nguessed;
	struct gotrace_stats st;
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

/* What passed the rules: one event on P p's stream, at its final time. */
static void put_p(void *ctx, int p, int type, uint64_t ts, const uint64_t *args, int nargs)
{
	struct gtw *w = ctx;
	struct pst *ps = pst(w, p);

	if (!ps->any) {
		ps->any = true;
		ps->first_ts = ts;
		ps->last_ts = ts;
	}
	put_event(&ps->b, type, ts - ps->last_ts, args, nargs);
	ps->last_ts = ts;
	if (ts > w->last_ts)
		w->last_ts = ts;
	w->st.events++;
}

/* An event about goroutine g (or none), through the rules; false if they left it out. */
static bool emit(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *g,
		 const uint64_t *args, int nargs)
{
	return w->chk &&
	       gtc_event(w->chk, pid_of(w, ps), type, ts, g ? (uint64_t)g->goid : 0, args, nargs);
}

static void emit0(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *g)
{
	emit(w, ps, type, ts, g, NULL, 0);
}

static void emit_stk(struct gtw *w, struct pst *ps, int type, uint64_t ts, struct gtg *g,
		     uint64_t stk)
{
	emit(w, ps, type, ts, g, &stk, 1);
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
	emit(w, ps, EV_PROC_START, ts, NULL, &a, 1);
	ps->running = true;
	ps->tid = tid;
}

/* Declared at the first timestamp; the rules refuse an id already in the trace. */
static void declare(struct gtw *w, struct gtg *g, enum gt_init init)
{
	if (g->declared || g->st == GT_DEAD)
		return;
	if (!gtc_declare(w->chk, g->goid, init != INIT_RUNNABLE)) {
		g->st = GT_DEAD;
		return;
	}
	g->declared = true;
	g->init = init;
	g->st = init == INIT_RUNNABLE  ? GT_RUNNABLE
		: init == INIT_WAITING ? GT_WAITING
				       : GT_SYSBLOCKED;
	*w->decl_tail = g;
	w->decl_tail = &g->next_decl;
	w->ndecl++;
}

/* "syscall:NAME" over the goroutine's start function: there is no user stack at a syscall. */
static uint64_t syscall_stack(struct gtw *w, struct gtg *g, const char *name, long nr)
{
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

/*
 * The goroutine's syscall lost its P (sysmon's retake, the GC's stop): Go's
 * GoSysBlock, the P stopped. One that had left the kernel already returns
 * without it: GoSysExit at that time, where it next runs.
 */
static void sys_block(struct gtw *w, struct gtg *g, uint64_t ts)
{
	struct pst *ps = pst(w, g->p);

	if (!g->in_sys && g->after_exit)
		g->sys_exit = g->last_exit;
	g->after_exit = false;
	g->handoff_pending = false;
	emit0(w, ps, EV_GO_SYSBLOCK, ts, g);
	g->st = GT_SYSBLOCKED;
	if (ps->cur == g)
		ps->cur = NULL;
	proc_stop(w, ps, ts);
}

/* In a syscall, or just out of one (at ts): a P lost then is its syscall's. */
static bool sys_related(const struct gtg *g, uint64_t ts)
{
	return g->in_sys ||
	       (g->after_exit && (!g->moved_on || ts <= g->moved_on + RETAKE_SLACK_NS));
}

/* When a syscall's lost P is dated: at its return if it returned already. */
static uint64_t sys_block_ts(const struct gtg *g, uint64_t ts)
{
	return !g->in_sys && g->after_exit && g->last_exit < ts ? g->last_exit : ts;
}

/* Frees P for another goroutine. */
static void stop_cur(struct gtw *w, struct pst *ps, uint64_t ts)
{
	struct gtg *h = ps->cur;

	if (!h)
		return;
	if (sys_related(h, ts)) {
		/* The P went to another goroutine during (or right after) h's syscall. */
		sys_block(w, h, sys_block_ts(h, ts));
		return;
	}
	/* Its stop was not seen: preempted, as far as the trace can tell. */
	emit_stk(w, ps, EV_GO_PREEMPT, ts, h, 0);
	h->st = GT_RUNNABLE;
	ps->cur = NULL;
	w->st.repairs++;
}

/* g runs on another P than it did: it stopped there unseen, or its syscall lost that P. */
static void leave_old_p(struct gtw *w, struct gtg *g, uint64_t ts)
{
	struct pst *old = g->p >= 0 ? pst(w, g->p) : NULL;

	if (!old || old->cur != g) {
		g->st = GT_RUNNABLE;
	} else if (sys_related(g, ts)) {
		sys_block(w, g, sys_block_ts(g, ts));
	} else {
		emit_stk(w, old, EV_GO_PREEMPT, ts, g, 0);
		old->cur = NULL;
		g->st = GT_RUNNABLE;
		w->st.repairs++;
	}
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
	uint64_t a[3] = {g->goid, 0, 0};

	if (p < 0)
		return;
	switch (g->st) {
	case GT_RUNNING:
		if (g->p == p && ps->cur == g)
			return;
		leave_old_p(w, g, ts);
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
	case GT_WAITING:
		/* Its wake-up was lost: the runtime did it, with no stack. */
		emit(w, pst(w, -1), EV_GO_UNBLOCK_T, ts, g, a, 3);
		g->st = GT_RUNNABLE;
		w->st.repairs++;
		break;
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
		/* Back from the syscall with no start seen (a P taken on the fast path): it ran
		 * since. */
		if (!is_start && g->sys_exit && g->sys_exit < ts)
			ts = g->sys_exit;
		break;
	case GT_DEAD:
		return;
	}
	if (g->st == GT_DEAD)
		return;
	if (ps->cur && ps->cur != g)
		stop_cur(w, ps, ts);
	proc_start(w, ps, ts, tid);
	if (g->st == GT_SYSBLOCKED) {
		emit(w, ps, EV_GO_SYSEXIT, g->sys_exit && g->sys_exit < ts ? g->sys_exit : ts, g, a,
		     3);
		g->sys_exit = 0;
		g->in_sys = false;
		g->block_sys_pending = false;
	}
	emit(w, ps, EV_GO_START_T, ts, g, a, 2);
	g->st = GT_RUNNING;
	g->p = p;
	g->p_guess = false;
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
	/* Refused (an id already in the trace): nothing of it can be written. */
	g->st = emit(w, ps, EV_GO_CREATE_T, t->ts, g, args, 3) ? GT_RUNNABLE : GT_DEAD;
}

static void t_unblock(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps = pst(w, t->p);
	uint64_t args[3] = {g->goid, 0, 0};

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
	if (g->st == GT_DEAD)
		return;
	actor_runs(w, t->waker_goid, t->p, t->ts, t->waker_tid);
	if (g->st == GT_SYSBLOCKED) {
		emit(w, ps, EV_GO_SYSEXIT, t->ts, g, args, 3);
		g->in_sys = false;
		g->sys_exit = 0;
	} else {
		args[2] = stack_id(w, t->stack, t->nstack);
		emit(w, ps, EV_GO_UNBLOCK_T, t->ts, g, args, 3);
	}
	g->st = GT_RUNNABLE;
}

/*
 * exitsyscall found no P (exitsyscall0 queues the goroutine), or gostate
 * saw it start elsewhere after a syscall: its syscall lost the P. Go's
 * trace has GoSysBlock where the P was taken (normally already written at
 * the handoff), then GoSysExit and GoStart where it runs next.
 */
static void left_syscall(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	uint64_t back = g->in_sys || !g->after_exit ? t->ts : g->last_exit;

	switch (g->st) {
	case GT_RUNNING:
		if (g->p >= 0 && pst(w, g->p)->cur == g) {
			/* No handoff seen (the GC's stop takes Ps without one). */
			sys_block(w, g, sys_block_ts(g, t->ts));
		} else {
			g->st = GT_RUNNABLE;
		}
		break;
	case GT_UNDECL:
	case GT_NEW:
		/* In a syscall at attach. */
		if (g->st == GT_NEW)
			w->st.repairs++;
		declare(w, g, INIT_SYSCALL);
		break;
	case GT_WAITING:
		/* Blocked as far as the trace knew: a lost start and syscall. */
		g->st = GT_SYSBLOCKED;
		w->st.repairs++;
		break;
	default:
		break;
	}
	if (g->st == GT_SYSBLOCKED && !g->sys_exit)
		g->sys_exit = back;
	g->in_sys = false;
	g->after_exit = false;
}

/* Where a goroutine stopping on an unknown P stops: it never ran as far as the trace knows. */
static void stopped_nowhere(struct gtw *w, struct gtg *g, uint64_t ts)
{
	uint64_t args[3] = {g->goid, 0, 0};

	if (g->st == GT_UNDECL || g->st == GT_NEW) {
		declare(w, g, INIT_RUNNABLE);
	} else if (g->st == GT_WAITING) {
		emit(w, pst(w, -1), EV_GO_UNBLOCK_T, ts, g, args, 3);
		g->st = GT_RUNNABLE;
		w->st.repairs++;
	}
}

/* It stopped running but stays runnable: yield, preemption, or a stop gostate repaired. */
static void t_stopped(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps;
	int p;

	/* exitsyscall0, or gostate's own stop of a goroutine seen last in a syscall. */
	if (t->sched_kind == GO_SCHED_SYSCALL ||
	    (!t->sched_kind && (g->in_sys || g->after_exit || g->st == GT_SYSBLOCKED))) {
		left_syscall(w, g, t);
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
	p = t->p >= 0 ? t->p : g->p;
	if (p < 0 && g->st != GT_RUNNING) {
		stopped_nowhere(w, g, t->ts);
		return;
	}
	need_running(w, g, p >= 0 ? p : g->p, t->ts, t->tid, false);
	if (g->st != GT_RUNNING)
		return;
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

/* Only the goroutine's own syscalls come here: the model keeps the runtime's off it. */
static void t_sys_enter(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	const char *name = syscall_name(ctr_info(w->r)->machine, t->syscall);
	int p;

	if (g->st == GT_SYSBLOCKED && g->block_sys_pending) {
		/* entersyscallblock's syscall: GoSysCall and GoSysBlock came at the handoff. */
		g->block_sys_pending = false;
		g->in_sys = true;
		return;
	}
	if (g->st != GT_RUNNING) {
		/* Back from a blocked syscall (exitsyscall's fast path), on a P no event named. */
		p = g->st == GT_SYSBLOCKED || g->st == GT_UNDECL || g->st == GT_NEW
			? free_p(w, g->p)
			: (g->p >= 0 ? g->p : 0);
		if (p < 0)
			return;
		need_running(w, g, p, t->ts, t->tid, false);
		g->p_guess = true;
		w->guessed[w->nguessed++ % GUESS_RING] = g->goid;
	}
	if (g->st != GT_RUNNING)
		return;
	g->in_sys = true;
	g->after_exit = false;
	g->sys_tid = t->tid;
	emit_stk(w, pst(w, g->p), EV_GO_SYSCALL, t->ts, g, syscall_stack(w, g, name, t->syscall));
	/* sysmon took the P before the kernel entry showed. */
	if (g->handoff_pending)
		sys_block(w, g, t->ts);
}

static void t_sys_exit(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct gtg *h;

	if (!g->in_sys)
		return;
	g->in_sys = false;
	if (g->st == GT_RUNNING) {
		g->after_exit = true;
		g->last_exit = t->ts;
		g->moved_on = 0;
		return;
	}
	if (g->st != GT_SYSBLOCKED)
		return;
	/* GoSysExit goes where it next runs. */
	g->sys_exit = t->ts;
	/*
	 * exitsyscall first takes back its old P if that is in a syscall
	 * again (another goroutine's, which loses it), before any idle P.
	 */
	h = g->p >= 0 ? pst(w, g->p)->cur : NULL;
	if (h && h != g && h->st == GT_RUNNING && sys_related(h, t->ts))
		need_running(w, g, g->p, t->ts, t->tid, false);
}

/* The goroutine's state at attach (tid 0: from the runtime snapshot, not an event). */
static void at_attach(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
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
		return;
	}
}

static void t_dead(struct gtw *w, struct gtg *g, const struct gs_trans *t)
{
	struct pst *ps;

	if (t->p < 0) {
		/* Its process ended: only a running goroutine needs an end. */
		if (g->st == GT_UNDECL || g->st == GT_NEW)
			declare(w, g, INIT_RUNNABLE);
		if (g->st == GT_RUNNING && g->p >= 0 && (ps = pst(w, g->p))->cur == g) {
			emit0(w, ps, EV_GO_END, t->ts, g);
			ps->cur = NULL;
			g->st = GT_DEAD;
		}
		return;
	}
	need_running(w, g, t->p, t->ts, t->tid, false);
	if (g->st == GT_RUNNING) {
		ps = pst(w, g->p);
		emit0(w, ps, EV_GO_END, t->ts, g);
		ps->cur = NULL;
	}
	g->st = GT_DEAD;
}

static void on_transition(void *ctx, const struct gs_trans *t)
{
	struct gtw *w = ctx;
	struct gtg *g = t->g->user;

	if (!g || t->g->tgid != w->tgid)
		return;
	if (t->p > w->maxp)
		pst(w, t->p);
	if (!t->tid && g->st == GT_UNDECL && t->to != GS_DEAD) {
		at_attach(w, g, t);
		return;
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
		t_dead(w, g, t);
		break;
	default:
		break;
	}
	/* A syscall's P is lost only until the goroutine is seen again. */
	if (t->from != GS_SYSCALL && t->to != GS_SYSCALL)
		g->after_exit = g->handoff_pending = false;
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
		if (g->in_sys) {
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

/* ---- threads and Ps ---- */

/*
 * Another syscall on the thread that is not the goroutine's (the runtime's,
 * RawSyscall): exitsyscall is behind it, the goroutine kept or got a P
 * (unless retaken just before: RETAKE_SLACK_NS).
 */
static void on_sys_enter(struct gtw *w, const struct ev_header *h)
{
	for (int p = 0; p <= w->maxp; p++) {
		struct gtg *g = pst(w, p)->cur;

		if (g && g->after_exit && !g->moved_on && g->sys_tid == h->tid)
			g->moved_on = h->ts;
	}
}

/* An M with an idle P goes to sleep only after releasing it. */
static void on_switch(struct gtw *w, const struct ev_sched_switch *e)
{
	/* Only a thread that sleeps matters: preemption (R, R+) changes nothing. */
	if (e->prev_tgid != w->tgid || !(e->prev_state & 0xff))
		return;
	for (int p = 0; p <= w->maxp; p++) {
		struct pst *ps = pst(w, p);

		if (!ps->cur && ps->running && ps->tid == e->prev_pid)
			proc_stop(w, ps, e->h.ts);
	}
}

/*
 * handoffp: P leaves its M. The goroutine that ran there, if in a syscall
 * (or just out of one, the runtime not yet back), lost the P: GoSysBlock,
 * where Go's own sysmon writes it. The goroutine handing off its own P is
 * entersyscallblock's (a note sleep): GoSysCall and GoSysBlock at once.
 */
/* A goroutine in a syscall, back from an earlier one on a P we had to guess. */
static struct gtg *guessed_in_sys(struct gtw *w, uint64_t ts)
{
	unsigned int n = w->nguessed < GUESS_RING ? w->nguessed : GUESS_RING;

	for (unsigned int i = 0; i < n; i++) {
		int64_t goid = w->guessed[(w->nguessed - 1 - i) % GUESS_RING];
		struct gs_gor *gg = gostate_find(w->gs, w->tgid, goid);
		struct gtg *h = gg ? gg->user : NULL;

		if (h && h->p_guess && sys_related(h, ts) &&
		    (h->st == GT_RUNNING || h->st == GT_SYSBLOCKED))
			return h;
	}
	return NULL;
}

static void on_handoff(struct gtw *w, const struct ev_go *e)
{
	struct gtg *g, *guessed;
	struct pst *ps;

	if (e->p < 0 || e->p >= MAX_P)
		return;
	ps = pst(w, e->p);
	g = ps->cur && ps->cur->st == GT_RUNNING ? ps->cur : NULL;
	if (g && e->goid && e->goid == g->goid && !g->in_sys) {
		emit_stk(w, ps, EV_GO_SYSCALL, e->h.ts, g, syscall_stack(w, g, "futex", 0));
		sys_block(w, g, e->h.ts);
		g->block_sys_pending = true;
		return;
	}
	if (g && sys_related(g, e->h.ts)) {
		sys_block(w, g, sys_block_ts(g, e->h.ts));
		return;
	}
	guessed = guessed_in_sys(w, e->h.ts);
	if (!guessed) {
		if (g && !e->goid)
			g->handoff_pending =
			    true; /* sysmon saw a syscall whose entry has not shown */
		return;
	}
	/* Its syscall's P lost: written where the trace has it, remembered where it was. */
	if (guessed->st == GT_RUNNING)
		sys_block(w, guessed, e->h.ts);
	guessed->p = e->p;
	guessed->p_guess = false;
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
	gtc_free(w->chk);
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

/* One line when anything had to be made up or left out. */
static void note_repairs(const struct gotrace_stats *st)
{
	if (st->repairs || st->gostate_repairs || st->rule_repairs)
		errmsg("go trace: repaired %" PRIu64 " goroutine transitions that the capture "
		       "lacks (lost or unobserved events)",
		       st->repairs + st->gostate_repairs + st->rule_repairs);
	if (st->rule_drops)
		errmsg("go trace: left out %" PRIu64 " events that contradict the trace's order "
		       "(lost, duplicated or reordered records)",
		       st->rule_drops);
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
			w->chk = gtc_new(w->t0, put_p, w);
			if (!w->chk)
				w->oom = true;
		}
		if (!w->have_t0)
			continue;
		gostate_event(w->gs, h);
		if (h->tgid == w->tgid && h->ts > w->last_ts)
			w->last_ts = h->ts;
		if (h->type == EV_SCHED_SWITCH)
			on_switch(w, (const struct ev_sched_switch *)h);
		else if (h->type == EV_SYS_ENTER && h->tgid == w->tgid)
			on_sys_enter(w, h);
		else if (h->type == EV_GO_HANDOFF && h->tgid == w->tgid)
			on_handoff(w, (const struct ev_go *)h);
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
	if (w->chk) {
		struct gtc_counts n;

		gtc_finish(w->chk, w->last_ts);
		n = gtc_counts(w->chk);
		w->st.rule_repairs = n.repaired;
		w->st.rule_drops = n.dropped;
	}
	rc = write_file(w);
	*st = w->st;
	if (rc)
		errmsg("out of memory writing the go trace");
	else
		note_repairs(&w->st);
	if (!rc && sw)
		note_full_period(r, sw);
	gostate_free(w->gs);
	gtw_free(w);
	return rc;
}
