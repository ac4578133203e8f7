// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pprof profiles written straight from a capture, for `go tool pprof`:
 *
 * - off-CPU time of threads, from sched_switch: each stretch between a
 *   thread's switch-out and its next switch-in. The capture has no thread
 *   stacks, so the stack is made up: the syscall the thread was in (or why
 *   it was off-CPU outside one) on top of the thread's name;
 * - goroutine blocking, from gostate: each Blocked period, on the stack the
 *   goroutine parked with, labelled by Go's wait reason. Runtime-internal
 *   goroutines are left out, as in Go's own block profile;
 * - CPU samples (EV_CPU_SAMPLE), on their user stacks, labelled with the
 *   goroutine that ran (goid, and its start function when the capture
 *   knows it), as Go's CPU profile with goroutine labels would be.
 *
 * Both are gzipped profile.proto, encoded with pbwriter.h; the field numbers
 * are named in pprof_fields.h, generated from tests/proto/profile.proto.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "capture/names.h"
#include "lib/idmap.h"
#include "model/cpustack.h"
#include "model/gostate.h"
#include "model/gostack.h"
#include "model/threadstate.h"
#include "lib/output.h"
#include "lib/pbwriter.h"
#include "formats/pprof.h"
#include "lib/util.h"
#include "pprof_fields.h"

#define NB	  4096
#define MAX_LOCS  40
#define MAX_LINES 8 /* per location: inlined calls, then the physical function */

/* ---- a small profile builder: interned strings, functions, locations, samples ---- */

struct pp_str {
	char *s;
	uint64_t idx;
	struct pp_str *next;
};

struct pp_fn {
	uint64_t id, name, file;
};

struct pp_loc {
	uint64_t id;
	uint32_t tgid;
	uint64_t pc; /* 0: synthetic, keyed by function */
	int nline;   /* innermost first, as pprof's Line list */
	uint64_t fn[MAX_LINES];
	int64_t line[MAX_LINES];
	struct pp_loc *next;
};

struct pp_label {
	uint64_t key, str;
	int64_t num;
};

struct pp_sample {
	uint32_t hash;
	int nloc, nlabel;
	uint64_t loc[MAX_LOCS];
	struct pp_label label[3];
	int64_t val[2];
	struct pp_sample *next, *order;
};

struct pp {
	struct pp_str *strs[NB];
	struct pp_str **str_order;
	uint64_t nstr, str_cap;
	struct idmap fns; /* name << 32 | file (string indices) -> function id */
	struct pp_fn **fn_order;
	uint64_t nfn, fn_cap;
	struct pp_loc *locs[NB], **loc_order;
	uint64_t nloc, loc_cap;
	struct pp_sample *samples[NB], *first, **tail;
	uint64_t nsample;
	int64_t period; /* Profile.period; 0: 1 */
	const char *comment;
	bool oom;
};

static uint32_t fnv(const void *d, size_t n, uint32_t h)
{
	const uint8_t *p = d;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static bool grow(void **arr, uint64_t *cap, uint64_t n, size_t elem)
{
	void *p;
	uint64_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 256;
	p = realloc(*arr, c * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = c;
	return true;
}

static void pp_init(struct pp *p)
{
	memset(p, 0, sizeof(*p));
	p->tail = &p->first;
}

static uint64_t pp_str(struct pp *p, const char *s)
{
	uint32_t b = fnv(s, strlen(s), 2166136261u) & (NB - 1);
	struct pp_str *e;

	for (e = p->strs[b]; e; e = e->next)
		if (!strcmp(e->s, s))
			return e->idx;
	if (!grow((void **)&p->str_order, &p->str_cap, p->nstr, sizeof(*p->str_order)) ||
	    !(e = calloc(1, sizeof(*e))) || !(e->s = strdup(s))) {
		if (e)
			free(e);
		p->oom = true;
		return 0;
	}
	e->idx = p->nstr;
	p->str_order[p->nstr++] = e;
	e->next = p->strs[b];
	p->strs[b] = e;
	return e->idx;
}

static uint64_t pp_fn(struct pp *p, const char *name, const char *file)
{
	uint64_t n = pp_str(p, name), f = pp_str(p, file), *id;
	struct pp_fn *e = NULL;

	/* Beyond 2^32 strings the key would not be exact: give up as for memory. */
	if (n >> 32 || f >> 32) {
		p->oom = true;
		return 0;
	}
	id = idmap_find(&p->fns, n << 32 | f);
	if (id)
		return *id;
	if (!grow((void **)&p->fn_order, &p->fn_cap, p->nfn, sizeof(*p->fn_order)) ||
	    !(e = calloc(1, sizeof(*e))) || idmap_put(&p->fns, n << 32 | f, p->nfn + 1)) {
		free(e);
		p->oom = true;
		return 0;
	}
	e->id = ++p->nfn;
	e->name = n;
	e->file = f;
	p->fn_order[e->id - 1] = e;
	return e->id;
}

/* A location for a return address in tgid (symbolized once), or a made-up one (pc 0). */
static uint64_t pp_loc(struct pp *p, struct ctr_reader *r, uint32_t tgid, uint64_t pc,
		       const char *synth)
{
	uint64_t fn = 0, fns[MAX_LINES];
	int64_t lines[MAX_LINES];
	int n = 1;
	uint32_t b;
	struct pp_loc *e;

	if (synth) {
		fn = pp_fn(p, synth, "");
		b = fn & (NB - 1);
	} else {
		b = (uint32_t)((pc * 0x9e3779b97f4a7c15ull ^ tgid) >> 40) & (NB - 1);
	}
	for (e = p->locs[b]; e; e = e->next)
		if (synth ? !e->pc && e->fn[0] == fn : e->pc == pc && e->tgid == tgid)
			return e->id;
	fns[0] = fn;
	lines[0] = 0;
	if (!synth) {
		const struct ctr_go_sym *sym[MAX_LINES];
		char buf[32];

		/* One Line per inlined call, innermost first, as pprof expects. */
		n = ctr_go_sym_frames(r, tgid, pc, false, sym, MAX_LINES);
		for (int i = 0; i < n; i++) {
			fns[i] = pp_fn(p, sym[i]->func, sym[i]->file);
			lines[i] = sym[i]->line;
		}
		if (!n || !sym[0]->func[0]) {
			snprintf(buf, sizeof(buf), "%#" PRIx64, pc);
			fns[0] = pp_fn(p, buf, "");
			lines[0] = 0;
			n = 1;
		}
	}
	if (!grow((void **)&p->loc_order, &p->loc_cap, p->nloc, sizeof(*p->loc_order)) ||
	    !(e = calloc(1, sizeof(*e)))) {
		p->oom = true;
		return 0;
	}
	e->id = ++p->nloc;
	e->tgid = tgid;
	e->pc = synth ? 0 : pc;
	e->nline = n;
	memcpy(e->fn, fns, n * sizeof(fns[0]));
	memcpy(e->line, lines, n * sizeof(lines[0]));
	p->loc_order[e->id - 1] = e;
	e->next = p->locs[b];
	p->locs[b] = e;
	return e->id;
}

/* Sums saturate: a crafted capture's durations could overflow an int64. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void pp_add(struct pp *p, const struct pp_sample *k, int64_t v0, int64_t v1)
{
	uint32_t h = fnv(k->loc, k->nloc * sizeof(k->loc[0]), 2166136261u);
	struct pp_sample *s;

	h = fnv(k->label, k->nlabel * sizeof(k->label[0]), h);
	for (s = p->samples[h & (NB - 1)]; s; s = s->next)
		if (s->hash == h && s->nloc == k->nloc && s->nlabel == k->nlabel &&
		    !memcmp(s->loc, k->loc, k->nloc * sizeof(k->loc[0])) &&
		    !memcmp(s->label, k->label, k->nlabel * sizeof(k->label[0])))
			break;
	if (!s) {
		s = malloc(sizeof(*s));
		if (!s) {
			p->oom = true;
			return;
		}
		*s = *k;
		s->hash = h;
		s->val[0] = s->val[1] = 0;
		s->next = p->samples[h & (NB - 1)];
		p->samples[h & (NB - 1)] = s;
		s->order = NULL;
		*p->tail = s;
		p->tail = &s->order;
		p->nsample++;
	}
	s->val[0] = sat_add(s->val[0], v0);
	s->val[1] = sat_add(s->val[1], v1);
}

static void label_str(struct pp *p, struct pp_sample *k, const char *key, const char *v)
{
	struct pp_label *l = &k->label[k->nlabel++];

	memset(l, 0, sizeof(*l));
	l->key = pp_str(p, key);
	l->str = pp_str(p, v);
}

static void label_num(struct pp *p, struct pp_sample *k, const char *key, int64_t v)
{
	struct pp_label *l = &k->label[k->nlabel++];

	memset(l, 0, sizeof(*l));
	l->key = pp_str(p, key);
	l->num = v;
}

static void value_type(struct pbw *w, int field, uint64_t type, uint64_t unit)
{
	pbw_begin(w, field);
	pbw_int(w, PPROF_ValueType_type, type);
	pbw_int(w, PPROF_ValueType_unit, unit);
	pbw_end(w);
}

static void write_samples(struct pbw *w, const struct pp *p)
{
	for (const struct pp_sample *s = p->first; s; s = s->order) {
		pbw_begin(w, PPROF_Profile_sample);
		pbw_begin(w, PPROF_Sample_location_id);
		for (int i = 0; i < s->nloc; i++)
			pbw_raw_varint(w, s->loc[i]);
		pbw_end(w);
		pbw_begin(w, PPROF_Sample_value);
		pbw_raw_varint(w, s->val[0]);
		pbw_raw_varint(w, s->val[1]);
		pbw_end(w);
		for (int i = 0; i < s->nlabel; i++) {
			pbw_begin(w, PPROF_Sample_label);
			pbw_int(w, PPROF_Label_key, s->label[i].key);
			if (s->label[i].str)
				pbw_int(w, PPROF_Label_str, s->label[i].str);
			else
				pbw_int(w, PPROF_Label_num, s->label[i].num);
			pbw_end(w);
		}
		pbw_end(w);
	}
}

/* One mapping that says symbols are already there, so pprof does not look for binaries. */
static void write_mapping(struct pbw *w)
{
	pbw_begin(w, PPROF_Profile_mapping);
	pbw_uint(w, PPROF_Mapping_id, 1);
	pbw_uint(w, PPROF_Mapping_memory_limit, UINT64_MAX);
	pbw_bool(w, PPROF_Mapping_has_functions, 1);
	pbw_bool(w, PPROF_Mapping_has_filenames, 1);
	pbw_bool(w, PPROF_Mapping_has_line_numbers, 1);
	pbw_bool(w, PPROF_Mapping_has_inline_frames, 1);
	pbw_end(w);
}

static void write_locations(struct pbw *w, const struct pp *p)
{
	for (uint64_t i = 0; i < p->nloc; i++) {
		const struct pp_loc *l = p->loc_order[i];

		pbw_begin(w, PPROF_Profile_location);
		pbw_uint(w, PPROF_Location_id, l->id);
		pbw_uint(w, PPROF_Location_mapping_id, 1);
		if (l->pc)
			pbw_uint(w, PPROF_Location_address, l->pc);
		for (int k = 0; k < l->nline; k++) {
			pbw_begin(w, PPROF_Location_line);
			pbw_uint(w, PPROF_Line_function_id, l->fn[k]);
			if (l->line[k] > 0)
				pbw_int(w, PPROF_Line_line, l->line[k]);
			pbw_end(w);
		}
		pbw_end(w);
	}
}

static void write_functions(struct pbw *w, const struct pp *p)
{
	for (uint64_t i = 0; i < p->nfn; i++) {
		const struct pp_fn *f = p->fn_order[i];

		pbw_begin(w, PPROF_Profile_function);
		pbw_uint(w, PPROF_Function_id, f->id);
		pbw_int(w, PPROF_Function_name, f->name);
		pbw_int(w, PPROF_Function_system_name, f->name);
		pbw_int(w, PPROF_Function_filename, f->file);
		pbw_end(w);
	}
}

/* Writes the encoded profile to path (gzipped); 0 or -errno. */
static int write_file(struct pbw *w, const char *path)
{
	struct out *o;

	if (w->err)
		return -w->err;
	o = out_open(path, 1);
	if (!o)
		return -errno;
	out_write(o, w->buf, w->len);
	return out_close(o);
}

static int pp_write(struct pp *p, const char *path, const char *count_type,
		    const char *value_type_name, const struct ctr_info *in)
{
	uint64_t ct = pp_str(p, count_type), cu = pp_str(p, "count");
	uint64_t vt = pp_str(p, value_type_name), vu = pp_str(p, "nanoseconds");
	uint64_t cm = p->comment ? pp_str(p, p->comment) : 0;
	struct pbw w;
	int e;

	if (p->oom)
		return -ENOMEM;
	pbw_init(&w);
	value_type(&w, PPROF_Profile_sample_type, ct, cu);
	value_type(&w, PPROF_Profile_sample_type, vt, vu);
	write_samples(&w, p);
	write_mapping(&w);
	write_locations(&w, p);
	write_functions(&w, p);
	for (uint64_t i = 0; i < p->nstr; i++)
		pbw_string(&w, PPROF_Profile_string_table, p->str_order[i]->s);
	pbw_int(&w, PPROF_Profile_time_nanos, in->start_ts + in->realtime_offset_ns);
	pbw_int(&w, PPROF_Profile_duration_nanos,
		in->end_ts > in->start_ts ? in->end_ts - in->start_ts : 0);
	value_type(&w, PPROF_Profile_period_type, vt, vu);
	pbw_int(&w, PPROF_Profile_period, p->period ? p->period : 1);
	if (cm)
		pbw_int(&w, PPROF_Profile_comment, cm);
	pbw_int(&w, PPROF_Profile_default_sample_type, vt);
	e = write_file(&w, path);
	pbw_free(&w);
	return e;
}

static void pp_free(struct pp *p)
{
	for (uint64_t i = 0; i < p->nstr; i++) {
		free(p->str_order[i]->s);
		free(p->str_order[i]);
	}
	for (uint64_t i = 0; i < p->nfn; i++)
		free(p->fn_order[i]);
	for (uint64_t i = 0; i < p->nloc; i++)
		free(p->loc_order[i]);
	while (p->first) {
		struct pp_sample *s = p->first;

		p->first = s->order;
		free(s);
	}
	free(p->str_order);
	free(p->fn_order);
	idmap_free(&p->fns);
	free(p->loc_order);
}

/* ---- collection ---- */

struct thr {
	uint32_t tid, tgid;
	uint64_t out_ts; /* 0: on CPU or not seen leaving it */
	int64_t out_state;
	long sys; /* syscall it is in, -1 none */
	long out_sys;
	char comm[TASK_COMM_LEN];
};

struct gblk {
	uint64_t since;
	const char *reason;
	int nstack;
	__u64 stack[GO_MAX_STACK];
};

struct ctx {
	struct ctr_reader *r;
	const struct ctr_info *in;
	struct pp thr_prof, go_prof, cpu_prof;
	struct gostate *gs; /* goroutines now, for CPU samples' labels; NULL without Go */
	uint32_t cpu_period;
	struct threadstate *ks;
	struct idmap thr; /* tid -> struct thr * */
	bool oom;
	struct idmap traced; /* tgids whose syscalls were recorded: a set */
	uint64_t end_ts;
	uint64_t go_samples, thr_samples, cpu_samples;
};

static bool traced(struct ctx *c, uint32_t tgid)
{
	return idmap_find(&c->traced, tgid) != NULL;
}

static struct thr *thr_get(struct ctx *c, uint32_t tid)
{
	struct thr *t = idmap_get_ptr(&c->thr, tid);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t || idmap_put_ptr(&c->thr, tid, t)) {
		free(t);
		c->oom = true;
		return NULL;
	}
	t->tid = tid;
	t->sys = -1;
	return t;
}

static void thr_sample(struct ctx *c, struct thr *t, uint64_t ts)
{
	struct pp *p = &c->thr_prof;
	struct pp_sample k;
	char leaf[80], sb[32];
	const char *state = sched_state_name(t->out_state, sb, sizeof(sb));
	const char *sname = t->out_sys >= 0 ? syscall_name(c->in->machine, t->out_sys) : NULL;

	if (!t->out_ts || ts < t->out_ts || !traced(c, t->tgid)) {
		t->out_ts = 0;
		return;
	}
	memset(&k, 0, sizeof(k));
	if (sname)
		snprintf(leaf, sizeof(leaf), "syscall:%s", sname);
	else if (t->out_sys >= 0)
		snprintf(leaf, sizeof(leaf), "syscall:%ld", t->out_sys);
	else if (sched_state_running(t->out_state))
		snprintf(leaf, sizeof(leaf), "(preempted)");
	else
		snprintf(leaf, sizeof(leaf), "(outside a syscall, state %s)", state);
	k.loc[k.nloc++] = pp_loc(p, c->r, 0, 0, leaf);
	k.loc[k.nloc++] = pp_loc(p, c->r, 0, 0, t->comm[0] ? t->comm : "?");
	label_num(p, &k, "pid", t->tgid);
	label_num(p, &k, "tid", t->tid);
	label_str(p, &k, "state", state);
	pp_add(p, &k, 1, ts - t->out_ts);
	c->thr_samples++;
	t->out_ts = 0;
}

/* A switch-out starts an off-CPU stretch, unless it is the thread's last (dead, zombie). */
static void thr_run_end(void *ctx, const struct kt_run *r)
{
	struct ctx *c = ctx;
	struct thr *t;

	if (r->how != KT_RUN_SWITCH || !(t = thr_get(c, r->tid)))
		return;
	t->tgid = r->tgid;
	t->out_ts = r->state & 0x30 ? 0 : r->end;
	t->out_state = r->state;
	t->out_sys = t->sys;
	memcpy(t->comm, r->thread ? r->thread->comm : r->comm, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = 0;
}

/* ... and the next switch-in ends it. */
static void thr_run_begin(void *ctx, const struct kt_run *r)
{
	struct ctx *c = ctx;
	struct thr *t;

	if (!r->inferred && (t = thr_get(c, r->tid)))
		thr_sample(c, t, r->start);
}

static void thr_sys_begin(void *ctx, struct kt_sys *sc)
{
	struct ctx *c = ctx;
	struct thr *t = thr_get(c, sc->tid);

	if (t)
		t->sys = sc->id;
}

/* A thread that exits inside exit_group is still in it until its last switch. */
static void thr_sys_end(void *ctx, const struct kt_sys *sc)
{
	struct ctx *c = ctx;
	struct thr *t = thr_get(c, sc->tid);

	if (t && sc->end != KT_SYS_EXITED)
		t->sys = -1;
}

static const struct kt_ops thr_ops = {
    .run_begin = thr_run_begin,
    .run_end = thr_run_end,
    .sys_begin = thr_sys_begin,
    .sys_end = thr_sys_end,
};

static int thr_event(struct ctx *c, const struct ev_header *h)
{
	struct thr *t;

	if (threadstate_event(c->ks, h))
		return -1;
	/* An exited thread is not off-CPU any more. */
	if (h->type == EV_PROCESS_EXIT &&
	    (t = thr_get(c, ((const struct ev_process_exit *)h)->pid)))
		t->out_ts = 0;
	return c->oom ? -1 : 0;
}

static int cmp_thr_tid(const void *a, const void *b)
{
	const struct thr *x = *(struct thr *const *)a, *y = *(struct thr *const *)b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Threads still off-CPU at the end: until the end. */
static int thr_finish(struct ctx *c)
{
	struct thr **v = malloc((idmap_count(&c->thr) + 1) * sizeof(*v));
	size_t n = 0, it = 0;
	uint64_t val;

	if (!v)
		return -1;
	while (idmap_next(&c->thr, &it, NULL, &val))
		if (((struct thr *)(uintptr_t)val)->out_ts)
			v[n++] = (struct thr *)(uintptr_t)val;
	qsort(v, n, sizeof(*v), cmp_thr_tid);
	for (size_t i = 0; i < n; i++)
		thr_sample(c, v[i], c->end_ts);
	free(v);
	return 0;
}

static void thr_free(struct ctx *c)
{
	size_t it = 0;
	uint64_t val;

	while (idmap_next(&c->thr, &it, NULL, &val))
		free((void *)(uintptr_t)val);
	idmap_free(&c->thr);
	threadstate_free(c->ks);
}

static bool system_goroutine(const struct gs_gor *g)
{
	return !strncmp(g->start_func, "runtime.", 8) && strcmp(g->start_func, "runtime.main");
}

static void go_sample(struct ctx *c, struct gs_gor *g, struct gblk *b, uint64_t ts)
{
	struct pp *p = &c->go_prof;
	struct pp_sample k;
	int i;

	if (ts < b->since || system_goroutine(g))
		return;
	memset(&k, 0, sizeof(k));
	for (i = go_skip_frames(c->r, g->tgid, b->stack, b->nstack);
	     i < b->nstack && k.nloc < MAX_LOCS; i++)
		k.loc[k.nloc++] = pp_loc(p, c->r, g->tgid, b->stack[i], NULL);
	if (!k.nloc)
		k.loc[k.nloc++] = pp_loc(p, c->r, 0, 0, g->start_func[0] ? g->start_func : "?");
	label_str(p, &k, "reason", b->reason ? b->reason : "?");
	label_num(p, &k, "pid", g->tgid);
	pp_add(p, &k, 1, ts - b->since);
	c->go_samples++;
}

static void g_create(void *ctx, struct gs_gor *g, uint64_t ts, const __u64 *stack, int n)
{
	g->user = NULL;
}

static void g_transition(void *ctx, const struct gs_trans *t)
{
	struct ctx *c = ctx;
	struct gblk *b = t->g->user;

	if (t->from == GS_BLOCKED && b) {
		go_sample(c, t->g, b, t->ts);
		free(b);
		t->g->user = b = NULL;
	}
	if (t->to != GS_BLOCKED)
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->since = t->ts;
	b->reason = t->reason_str ? t->reason_str : t->label;
	b->nstack = t->nstack < GO_MAX_STACK ? t->nstack : GO_MAX_STACK;
	if (b->nstack > 0)
		memcpy(b->stack, t->stack, b->nstack * sizeof(b->stack[0]));
	t->g->user = b;
}

static void g_destroy(void *ctx, struct gs_gor *g)
{
	struct ctx *c = ctx;
	struct gblk *b = g->user;

	/* Still blocked at the end (a deadlock, an idle worker): it counts until then. */
	if (b && g->state == GS_BLOCKED)
		go_sample(c, g, b, c->end_ts);
	free(b);
	g->user = NULL;
}

static const struct gs_ops g_ops = {
    .create = g_create,
    .transition = g_transition,
    .destroy = g_destroy,
};

/* ---- CPU samples ---- */

/*
 * One EV_CPU_SAMPLE: its user stack, innermost first (model/cpustack.h says
 * which frames, and how the sampled pc is looked up).
 */
static void cpu_sample(struct ctx *c, const struct ev_cpu_sample *e)
{
	struct pp *p = &c->cpu_prof;
	uint64_t pcs[MAX_LOCS];
	struct gs_gor *g = NULL;
	struct pp_sample k;
	int n = cpu_sample_pcs(c->r, e, pcs, MAX_LOCS - 1);

	memset(&k, 0, sizeof(k));
	/* Time in a syscall or fault shows as a frame above the user stack, like perf's [k]. */
	if (e->h.flags & CPU_SAMPLE_F_KERNEL)
		k.loc[k.nloc++] = pp_loc(p, c->r, 0, 0, "(in the kernel)");
	for (int i = 0; i < n; i++)
		k.loc[k.nloc++] = pp_loc(p, c->r, e->h.tgid, pcs[i], NULL);
	if (!n) {
		k.loc[k.nloc++] = pp_loc(p, c->r, 0, 0, "(no user stack)");
	}
	label_num(p, &k, "pid", e->h.tgid);
	if (e->goid >= 0) {
		label_num(p, &k, "goid", e->goid);
		if (c->gs && e->goid > 0)
			g = gostate_find(c->gs, e->h.tgid, e->goid);
		if (g && g->start_func && g->start_func[0])
			label_str(p, &k, "start", g->start_func);
	}
	pp_add(p, &k, 1, e->period_ns);
	if (!c->cpu_period)
		c->cpu_period = e->period_ns;
	c->cpu_samples++;
}

static char *join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", dir, name) < 0)
		return NULL;
	return s;
}

static int read_failed(struct ctx *c)
{
	errmsg("%s", ctr_error(c->r));
	return -1;
}

static int out_of_memory(void)
{
	errmsg("out of memory");
	return -1;
}

static struct ctx *ctx_open(const char *capture)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char err[512];

	if (!c) {
		out_of_memory();
		return NULL;
	}
	c->r = ctr_open(capture, err, sizeof(err));
	if (!c->r) {
		errmsg("%s", err);
		free(c);
		return NULL;
	}
	c->in = ctr_info(c->r);
	pp_init(&c->thr_prof);
	pp_init(&c->go_prof);
	pp_init(&c->cpu_prof);
	pp_str(&c->thr_prof, "");
	pp_str(&c->go_prof, "");
	pp_str(&c->cpu_prof, "");
	return c;
}

static void ctx_free(struct ctx *c)
{
	thr_free(c);
	pp_free(&c->thr_prof);
	pp_free(&c->go_prof);
	pp_free(&c->cpu_prof);
	idmap_free(&c->traced);
	ctr_close(c->r);
	free(c);
}

/* The traced processes are those whose syscalls were recorded. */
static int find_traced(struct ctx *c)
{
	const struct ev_header *h;
	int e;

	if (ctr_rewind(c->r))
		return read_failed(c);
	while ((e = ctr_next(c->r, &h)) > 0) {
		if (h->type != EV_SYS_ENTER || traced(c, h->tgid))
			continue;
		if (idmap_put(&c->traced, h->tgid, 1))
			return out_of_memory();
	}
	return e < 0 ? read_failed(c) : 0;
}

/* Fills both profiles from the capture; gs is NULL without Go processes. */
static int collect(struct ctx *c, struct gostate *gs)
{
	const struct ev_header *h;
	int e;

	if (!(c->ks = threadstate_new(c->r, &thr_ops, c)))
		return out_of_memory();
	if (ctr_rewind(c->r))
		return read_failed(c);
	while ((e = ctr_next(c->r, &h)) > 0) {
		if (h->ts > c->end_ts)
			c->end_ts = h->ts;
		if (gs)
			gostate_event(gs, h);
		if (h->type == EV_CPU_SAMPLE)
			cpu_sample(c, (const void *)h);
		if (thr_event(c, h))
			return out_of_memory();
	}
	if (e < 0)
		return read_failed(c);
	if (c->in->end_ts > c->end_ts)
		c->end_ts = c->in->end_ts;
	if (thr_finish(c))
		return out_of_memory();
	if (gs)
		gostate_finish(gs, c->end_ts);
	return 0;
}

/* Writes p as dir/name; returns the path (to free), or NULL once reported. */
static char *write_profile(struct ctx *c, struct pp *p, const char *dir, const char *name,
			   const char *count_type, const char *value_type_name)
{
	char *path = join(dir, name);
	int e;

	if (!path) {
		out_of_memory();
		return NULL;
	}
	e = pp_write(p, path, count_type, value_type_name, c->in);
	if (e) {
		errmsg("writing %s: %s", path, strerror(-e));
		free(path);
		return NULL;
	}
	return path;
}

/* cpu-goroutines.pb.gz: sampled, never exact; the comment and the count say so. */
static int write_cpu_profile(struct ctx *c, const char *dir, bool quiet)
{
	char comment[96];
	char *path;

	c->cpu_prof.period = c->cpu_period;
	snprintf(comment, sizeof(comment), "sampled: cpu-clock every %u ns of CPU time",
		 c->cpu_period);
	c->cpu_prof.comment = comment;
	path = write_profile(c, &c->cpu_prof, dir, "cpu-goroutines.pb.gz", "samples", "cpu");
	if (!path)
		return -1;
	if (!quiet)
		fprintf(stderr, "ctrace-bpf: wrote %s (%" PRIu64 " CPU samples, sampled)\n", path,
			c->cpu_samples);
	free(path);
	return 0;
}

static int write_profiles(struct ctx *c, const char *dir, bool have_go, bool quiet)
{
	char *path;

	path = write_profile(c, &c->thr_prof, dir, "offcpu-threads.pb.gz", "switches", "off_cpu");
	if (!path)
		return -1;
	if (!quiet)
		fprintf(stderr,
			"ctrace-bpf: wrote %s (%" PRIu64 " samples); read it with: "
			"go tool pprof -top %s\n",
			path, c->thr_prof.nsample, path);
	free(path);
	if (have_go) {
		path = write_profile(c, &c->go_prof, dir, "block-goroutines.pb.gz", "contentions",
				     "delay");
		if (!path)
			return -1;
		if (!quiet)
			fprintf(stderr, "ctrace-bpf: wrote %s (%" PRIu64 " samples)\n", path,
				c->go_prof.nsample);
		free(path);
	}
	return c->cpu_samples ? write_cpu_profile(c, dir, quiet) : 0;
}

/*
 * DIR is made, or must already be a directory of ours: profiles are not
 * written through a symlink or into another user's directory. 0 or -1.
 */
static int pprof_dir_ok(const char *dir)
{
	struct stat st;

	if (!mkdir(dir, 0755))
		return 0;
	if (errno != EEXIST) {
		errmsg("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st)) {
		errmsg("cannot use %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errmsg("cannot use %s: not a directory (a symlink is not followed)", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		errmsg("cannot use %s: owned by uid %u, not by uid %u", dir, (unsigned)st.st_uid,
		       (unsigned)geteuid());
		return -1;
	}
	return 0;
}

int pprof_write_dir(const char *capture, const char *dir, bool quiet)
{
	struct gostate *gs = NULL;
	struct ctx *c;
	bool have_go;
	int rc = -1;

	c = ctx_open(capture);
	if (!c)
		return -1;
	if (pprof_dir_ok(dir))
		goto out;
	have_go = ctr_go_proc_count(c->r) > 0;
	if (find_traced(c))
		goto out;
	if (have_go && !(gs = gostate_new(c->r, &g_ops, c))) {
		out_of_memory();
		goto out;
	}
	c->gs = gs;
	if (!collect(c, gs) && !write_profiles(c, dir, have_go, quiet))
		rc = 0;
out:
	gostate_free(gs);
	ctx_free(c);
	return rc;
}
