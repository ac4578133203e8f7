// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Capture reader. ctr_open() makes a first pass for metadata and the task
 * table; ctr_next() then streams events in timestamp order. The collector
 * drains per-CPU rings in turns, so the file is only roughly ordered: events
 * wait in a heap until a watermark record (or the end) proves nothing older
 * can follow. Memory is bounded by what arrives between two watermarks.
 *
 * Captures come from anywhere (convert, report and diff read files others
 * made), so the reader budgets memory: the first pass's tables may take
 * about 10x the file's size plus a fixed amount, and the reorder heap a fixed
 * amount (CTR_HEAP_BYTES); the caps are in docs/ctr-format.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "capture/capture.h"
#include "capture/capture_format.h"
#include "capture/codec.h"
#include "capture/gomodes.h"
#include "lib/idmap.h"

/*
 * Safety valve for a capture without (or with lying) watermarks: past this
 * many bytes of blocks and heap entries held, emit the oldest event anyway.
 * A real capture holds one drain of the rings between two watermarks.
 */
#define CTR_HEAP_BYTES (48ull << 20)
/* First-pass tables may take this plus CTR_MEM_PER_BYTE per byte of file. */
#define CTR_MEM_FIXED	 (64ull << 20)
#define CTR_MEM_PER_BYTE 10
/* A task's share of the budget beyond its struct: the idmap's slot. */
#define TASK_COST    (sizeof(struct ctr_task) + 64)
#define CTR_MAX_META 256

/* Command lines are shared: every fork would otherwise copy its parent's. */
struct cmdline_buf {
	uint32_t refs;
	char s[];
};

struct block {
	unsigned char *data;
	uint32_t len;
	uint32_t refs; /* heap entries pointing into data, plus one while parsing */
};

struct heap_ent {
	uint64_t ts;
	uint64_t seq;
	const struct ev_header *ev;
	struct block *blk;
};

struct meta_kv {
	char *key, *value;
};

/* A pc's frames by inline depth; func is NULL for a depth not (yet) read. */
struct sym_ent {
	uint32_t tgid;
	uint32_t exact;
	uint64_t pc;
	struct ctr_go_sym *frames;
	uint32_t nframes;
};

struct ctr_reader {
	FILE *f;
	struct ctr_go_proc *goprocs;
	size_t ngoprocs;
	struct idmap goproc_idx; /* tgid -> index + 1 */
	struct sym_ent *syms;
	size_t nsyms, symcap;
	char err[256];
	struct ctr_info info;
	uint64_t mem_budget, mem_used; /* first pass */
	bool over_budget;
	uint64_t truncated_first; /* damaged blocks the first pass saw */
	bool scanned;		  /* first pass done: rereads do not count damage */
	uint64_t blk_bytes;	  /* bytes of blocks alive (second pass) */
	struct meta_kv *meta;
	size_t nmeta;

	struct idmap tasks;	  /* tid -> struct ctr_task * */
	struct idmap go_created;  /* tgid -> struct idmap * (goid -> ts of its EV_GO_CREATE) */
	struct ctr_task **sorted; /* by tgid, then tid */
	struct gomodes gomodes;

	/* streaming state */
	unsigned char *zbuf;
	size_t zcap;
	uint32_t version; /* the file's: its blocks' codec */
	struct block *cur;
	uint32_t off;
	struct heap_ent *heap;
	size_t hlen, hcap;
	uint64_t seq;
	uint64_t watermark;
	uint64_t last_ts;
	bool eof;
	struct block *held;			/* block of the event last returned */
	_Alignas(8) unsigned char evbuf[65536]; /* a record's size is 16 bits */
};

static void set_err(struct ctr_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

/* Charges n bytes of the first pass's budget; false once it is spent. */
static bool charge(struct ctr_reader *r, uint64_t n)
{
	if (r->over_budget || r->mem_used + n > r->mem_budget) {
		r->over_budget = true;
		return false;
	}
	r->mem_used += n;
	return true;
}

/* ---- task table ---- */

/* tid 0 is the idle task and is never stored. */
static struct ctr_task *task_get(struct ctr_reader *r, uint32_t tid, uint32_t tgid, uint64_t ts)
{
	struct ctr_task *t;

	if (!tid)
		return NULL;
	t = idmap_get_ptr(&r->tasks, tid);
	if (!t) {
		if (idmap_count(&r->tasks) >= CTR_MAX_TASKS || !charge(r, TASK_COST)) {
			r->over_budget = true;
			return NULL;
		}
		t = calloc(1, sizeof(*t));
		if (!t || idmap_put_ptr(&r->tasks, tid, t)) {
			free(t);
			return NULL;
		}
		t->tid = tid;
		t->tgid = tgid ? tgid : tid;
		t->first_ts = ts;
	}
	if (tgid && t->tgid != tgid)
		t->tgid = tgid;
	return t;
}

static void task_comm(struct ctr_task *t, const char *comm)
{
	if (t && comm[0]) {
		memcpy(t->comm, comm, TASK_COMM_LEN);
		t->comm[TASK_COMM_LEN - 1] = 0;
	}
}

static struct cmdline_buf *cmdline_of(const struct ctr_task *t)
{
	return t->cmdline ? (struct cmdline_buf *)(t->cmdline - offsetof(struct cmdline_buf, s))
			  : NULL;
}

static void cmdline_put(struct ctr_task *t)
{
	struct cmdline_buf *c = cmdline_of(t);

	if (c && --c->refs == 0)
		free(c);
	t->cmdline = NULL;
	t->cmdline_len = 0;
}

static void task_cmdline(struct ctr_reader *r, struct ctr_task *t, const char *s, size_t len)
{
	struct cmdline_buf *c;

	if (!t || !len || !charge(r, sizeof(*c) + len + 1))
		return;
	c = malloc(sizeof(*c) + len + 1);
	if (!c)
		return;
	c->refs = 1;
	memcpy(c->s, s, len);
	c->s[len] = 0;
	cmdline_put(t);
	t->cmdline = c->s;
	t->cmdline_len = len;
}

/* t takes p's command line, shared (t != p). */
static void task_share_cmdline(struct ctr_task *t, const struct ctr_task *p)
{
	struct cmdline_buf *c = cmdline_of(p);

	if (!c || t == p || c->refs == UINT32_MAX)
		return;
	cmdline_put(t);
	c->refs++;
	t->cmdline = c->s;
	t->cmdline_len = p->cmdline_len;
}

/* ---- block I/O ---- */

/* The second pass rereads the same blocks: count the damage once. */
static void count_damage(struct ctr_reader *r)
{
	if (!r->scanned)
		r->info.truncated_blocks++;
}

static int read_block(struct ctr_reader *r, struct block **out)
{
	struct ctr_block_header bh;
	struct block *b;
	size_t n;

	*out = NULL;
	n = fread(&bh, 1, sizeof(bh), r->f);
	if (n == 0 && feof(r->f))
		return 0;
	if (n != sizeof(bh) || bh.magic != CTR_BLOCK_MAGIC || bh.raw_len > CTR_BLOCK_RAW ||
	    bh.z_len > ctr_codec_bound(CTR_BLOCK_RAW)) {
		/* A cut or damaged tail: keep what came before it. */
		count_damage(r);
		return 0;
	}
	if (bh.z_len > r->zcap) {
		unsigned char *z = realloc(r->zbuf, bh.z_len);

		if (!z)
			return -ENOMEM;
		r->zbuf = z;
		r->zcap = bh.z_len;
	}
	if (fread(r->zbuf, 1, bh.z_len, r->f) != bh.z_len) {
		count_damage(r);
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->data = malloc(bh.raw_len ? bh.raw_len : 1);
	if (!b->data) {
		free(b);
		return -ENOMEM;
	}
	if (ctr_codec_decompress(r->version, b->data, bh.raw_len, r->zbuf, bh.z_len) ||
	    (bh.crc32 && crc32(0, b->data, bh.raw_len) != bh.crc32)) {
		free(b->data);
		free(b);
		count_damage(r);
		return 0;
	}
	b->len = bh.raw_len;
	b->refs = 1;
	r->blk_bytes += b->len;
	*out = b;
	return 1;
}

static void block_put(struct ctr_reader *r, struct block *b)
{
	if (b && --b->refs == 0) {
		r->blk_bytes -= b->len;
		free(b->data);
		free(b);
	}
}

static int rewind_to_blocks(struct ctr_reader *r)
{
	struct ctr_file_header fh;

	if (fseek(r->f, 0, SEEK_SET) || fread(&fh, 1, sizeof(fh), r->f) != sizeof(fh)) {
		set_err(r, "not a ctrace-bpf capture (too short)");
		return -1;
	}
	if (memcmp(fh.magic, CTR_MAGIC, sizeof(fh.magic))) {
		set_err(r, "not a ctrace-bpf capture (bad magic)");
		return -1;
	}
	if (fh.version < CTR_VERSION_MIN || fh.version > CTR_VERSION) {
		set_err(r, "capture format version %u is not supported (this build reads %u to %u)",
			fh.version, CTR_VERSION_MIN, CTR_VERSION);
		return -1;
	}
	r->version = fh.version;
	if (fh.header_size < sizeof(fh) || fseek(r->f, fh.header_size, SEEK_SET)) {
		set_err(r, "corrupt capture header");
		return -1;
	}
	return 0;
}

/* Iterates the records of a block; returns NULL at its end or on damage. */
static const struct ev_header *block_rec(struct block *b, uint32_t *off)
{
	const struct ev_header *h;

	if (*off + sizeof(*h) > b->len)
		return NULL;
	h = (const struct ev_header *)(b->data + *off);
	/* Writers pad to 8 bytes; an odd size would misalign every later record. */
	if (h->size < sizeof(*h) || (h->size & 7) || *off + h->size > b->len)
		return NULL;
	*off += h->size;
	return h;
}

/* Smallest valid size per kernel record type, so writers can trust fields. */
static size_t min_size(uint16_t type)
{
	switch (type) {
	case EV_SCHED_SWITCH:
		return sizeof(struct ev_sched_switch);
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW:
		return sizeof(struct ev_sched_wake);
	case EV_PROCESS_FORK:
		return sizeof(struct ev_process_fork);
	case EV_PROCESS_EXEC:
		return sizeof(struct ev_process_exec);
	case EV_PROCESS_EXIT:
		return sizeof(struct ev_process_exit);
	case EV_SYS_ENTER:
		return sizeof(struct ev_sys_enter);
	case EV_SYS_EXIT:
		return sizeof(struct ev_sys_exit);
	case EV_TASK_RENAME:
		return sizeof(struct ev_task_rename);
	case REC_TASK:
		return sizeof(struct rec_task);
	case REC_STATS:
		return sizeof(struct rec_stats);
	case REC_END:
		return sizeof(struct rec_end);
	case EV_GO_CREATE:
	case EV_GO_START:
	case EV_GO_BLOCK:
	case EV_GO_UNBLOCK:
	case EV_GO_SCHED:
	case EV_GO_EXIT:
	case EV_GO_HANDOFF:
		return sizeof(struct ev_go);
	case REC_GO_PROC:
		return sizeof(struct rec_go_proc);
	case REC_GO_G:
		return sizeof(struct rec_go_g);
	case REC_GO_SYM:
		return sizeof(struct rec_go_sym);
	case REC_GO_MODE:
		return sizeof(struct rec_go_mode);
	case EV_CPU_SAMPLE:
		return sizeof(struct ev_cpu_sample);
	case REC_GO_SNAP:
		return sizeof(struct rec_go_snap);
	default:
		return sizeof(struct ev_header);
	}
}

/* Size checks a consumer may rely on, variable parts included. */
static bool valid_record(const struct ev_header *h)
{
	if (h->size < min_size(h->type))
		return false;
	if ((h->type >= EV_GO_CREATE && h->type <= EV_GO_EXIT) || h->type == EV_GO_HANDOFF) {
		const struct ev_go *e = (const void *)h;

		return e->nstack <= GO_MAX_STACK && sizeof(*e) + e->nstack * 8u <= h->size;
	}
	if (h->type == REC_GO_G) {
		const struct rec_go_g *e = (const void *)h;

		return e->nstack <= GO_MAX_STACK && sizeof(*e) + e->nstack * 8u <= h->size;
	}
	if (h->type == EV_CPU_SAMPLE) {
		const struct ev_cpu_sample *e = (const void *)h;

		return e->nstack <= CPU_SAMPLE_MAX_STACK && sizeof(*e) + e->nstack * 8u <= h->size;
	}
	if (h->type == REC_GO_SNAP) {
		const struct rec_go_snap *e = (const void *)h;

		return e->count <= GO_SNAP_MAX_CHUNK &&
		       sizeof(*e) + e->count * sizeof(struct go_snap_ent) <= h->size;
	}
	return true;
}

/* ---- first pass ---- */

static void add_meta(struct ctr_reader *r, const struct ev_header *h)
{
	const char *p = (const char *)(h + 1);
	size_t n = h->size - sizeof(*h);
	const char *k = p, *v;
	size_t kl = strnlen(k, n);
	struct meta_kv *m;

	if (kl + 1 >= n)
		return;
	v = k + kl + 1;
	if (strnlen(v, n - kl - 1) == n - kl - 1)
		return;
	if (!charge(r, n + 2 * sizeof(*m)))
		return;
	for (size_t i = 0; i < r->nmeta; i++) {
		if (!strcmp(r->meta[i].key, k)) {
			char *nv = strdup(v);

			if (nv) {
				free(r->meta[i].value);
				r->meta[i].value = nv;
			}
			return;
		}
	}
	if (r->nmeta >= CTR_MAX_META) {
		r->over_budget = true;
		return;
	}
	m = realloc(r->meta, (r->nmeta + 1) * sizeof(*m));
	if (!m)
		return;
	r->meta = m;
	m[r->nmeta].key = strdup(k);
	m[r->nmeta].value = strdup(v);
	if (!m[r->nmeta].key || !m[r->nmeta].value) {
		free(m[r->nmeta].key);
		free(m[r->nmeta].value);
		return;
	}
	r->nmeta++;
}

static size_t sym_slot(const struct ctr_reader *r, uint32_t tgid, uint64_t pc, bool exact)
{
	size_t i = ((pc * 0x9e3779b97f4a7c15ull) ^ tgid ^ exact) & (r->symcap - 1);

	while (r->syms[i].pc &&
	       (r->syms[i].pc != pc || r->syms[i].tgid != tgid || r->syms[i].exact != exact))
		i = (i + 1) & (r->symcap - 1);
	return i;
}

static void add_sym(struct ctr_reader *r, const struct rec_go_sym *e)
{
	size_t names = e->h.size - sizeof(*e), i;
	unsigned int depth = e->h.flags >> GO_SYM_DEPTH_SHIFT & 0xff;
	bool exact = e->h.flags & GO_SYM_EXACT;
	struct ctr_go_sym *f;
	struct sym_ent *s;

	if (!e->pc || (size_t)e->func_len + e->file_len > names || !e->func_len || !e->file_len ||
	    e->names[e->func_len - 1] || e->names[e->func_len + e->file_len - 1] ||
	    depth >= CTR_GO_MAX_FRAMES)
		return;
	if (!charge(r, names + (depth + 1) * sizeof(*f) + 2 * sizeof(*s)))
		return;
	if ((r->nsyms + 1) * 2 > r->symcap) {
		struct sym_ent *old = r->syms;
		size_t ocap = r->symcap;

		r->symcap = ocap ? ocap * 2 : 4096;
		r->syms = calloc(r->symcap, sizeof(*r->syms));
		if (!r->syms) {
			r->syms = old;
			r->symcap = ocap;
			return;
		}
		for (size_t j = 0; j < ocap; j++)
			if (old[j].pc)
				r->syms[sym_slot(r, old[j].tgid, old[j].pc, old[j].exact)] = old[j];
		free(old);
	}
	i = sym_slot(r, e->h.tgid, e->pc, exact);
	s = &r->syms[i];
	if (s->pc && depth < s->nframes && s->frames[depth].func)
		return; /* first record wins */
	if (depth >= s->nframes) {
		f = realloc(s->frames, (depth + 1) * sizeof(*f));
		if (!f)
			return;
		memset(f + s->nframes, 0, (depth + 1 - s->nframes) * sizeof(*f));
		s->frames = f;
		s->nframes = depth + 1;
	}
	f = &s->frames[depth];
	f->func = strdup(e->names);
	f->file = strdup(e->names + e->func_len);
	f->line = e->line;
	if (!f->func || !f->file) {
		free((char *)f->func);
		free((char *)f->file);
		f->func = f->file = NULL;
	}
	if (!s->pc) {
		s->pc = e->pc;
		s->tgid = e->h.tgid;
		s->exact = exact;
		r->nsyms++;
	}
}

/* Frames from depth 0 up to the first one missing. */
static int sym_depth(const struct sym_ent *s)
{
	uint32_t n = 0;

	while (n < s->nframes && s->frames[n].func)
		n++;
	return n;
}

size_t ctr_go_proc_count(const struct ctr_reader *r)
{
	return r->ngoprocs;
}

const struct ctr_go_proc *ctr_go_proc_at(const struct ctr_reader *r, size_t i)
{
	return i < r->ngoprocs ? &r->goprocs[i] : NULL;
}

const struct ctr_go_proc *ctr_go_proc_find(const struct ctr_reader *r, uint32_t tgid)
{
	uint64_t *i = idmap_find(&r->goproc_idx, tgid);

	return i && *i && *i <= r->ngoprocs ? &r->goprocs[*i - 1] : NULL;
}

const struct ctr_go_sym *ctr_go_sym(const struct ctr_reader *r, uint32_t tgid, uint64_t pc,
				    bool exact)
{
	const struct sym_ent *s;
	int n;

	if (!r->symcap || !pc)
		return NULL;
	s = &r->syms[sym_slot(r, tgid, pc, exact)];
	n = s->pc ? sym_depth(s) : 0;
	if (!n)
		return NULL;
	/* A start pc names its (physical) function; a return address the innermost call. */
	return exact ? &s->frames[n - 1] : &s->frames[0];
}

int ctr_go_sym_frames(const struct ctr_reader *r, uint32_t tgid, uint64_t pc, bool exact,
		      const struct ctr_go_sym **out, int max)
{
	const struct sym_ent *s;
	int n, k;

	if (!r->symcap || !pc || max < 1)
		return 0;
	s = &r->syms[sym_slot(r, tgid, pc, exact)];
	n = s->pc ? sym_depth(s) : 0;
	for (k = 0; k < n && k < max; k++)
		out[k] = &s->frames[k];
	/* Too many: the innermost ones and the physical function. */
	if (n > max)
		out[max - 1] = &s->frames[n - 1];
	return k;
}

/*
 * A new task inherits its parent's command line until it execs. The parent
 * is looked up after the child's insert: nothing is held across it.
 */
static void scan_fork(struct ctr_reader *r, const struct ev_process_fork *e)
{
	const struct ctr_task *p;
	struct ctr_task *t;

	task_get(r, e->parent_pid, e->parent_tgid, e->h.ts);
	t = task_get(r, e->child_pid, e->child_tgid, e->h.ts);
	if (!t)
		return;
	p = e->parent_pid ? idmap_get_ptr(&r->tasks, e->parent_pid) : NULL;
	t->first_ts = e->h.ts;
	t->ppid = e->child_tgid == e->parent_tgid ? (p ? p->ppid : 0) : e->parent_tgid;
	task_comm(t, e->child_comm);
	if (p && p->cmdline && !t->cmdline)
		task_share_cmdline(t, p);
}

static void scan_exec(struct ctr_reader *r, const struct ev_process_exec *e)
{
	struct ctr_task *t = task_get(r, e->pid, e->h.tgid, e->h.ts);

	task_comm(t, e->comm);
	task_cmdline(r, t, e->filename, strnlen(e->filename, sizeof(e->filename)));
}

/* A task that existed before the capture started, as procfs described it. */
static void scan_task(struct ctr_reader *r, const struct rec_task *e)
{
	size_t len = e->cmdline_len;
	struct ctr_task *t;

	if (len > e->h.size - sizeof(*e))
		len = e->h.size - sizeof(*e);
	t = task_get(r, e->h.tid, e->h.tgid, e->h.ts);
	if (!t)
		return;
	t->ppid = e->ppid;
	t->flags = e->task_flags;
	task_comm(t, e->comm);
	/* drop the trailing NUL the kernel leaves in cmdline */
	while (len && e->cmdline[len - 1] == 0)
		len--;
	task_cmdline(r, t, e->cmdline, len);
}

/* The first record of a Go process wins. */
static void add_goproc(struct ctr_reader *r, const struct rec_go_proc *e)
{
	struct ctr_go_proc *n;

	if (ctr_go_proc_find(r, e->h.tgid) || !charge(r, sizeof(*n) + 64))
		return;
	/* Consumers look Go processes up per record: keep the list short. */
	if (r->ngoprocs >= CTR_MAX_GO_PROCS) {
		r->over_budget = true;
		return;
	}
	n = realloc(r->goprocs, (r->ngoprocs + 1) * sizeof(*n));
	if (!n)
		return;
	r->goprocs = n;
	n += r->ngoprocs++;
	memset(n, 0, sizeof(*n));
	if (idmap_put(&r->goproc_idx, e->h.tgid, r->ngoprocs)) {
		r->ngoprocs--;
		return;
	}
	n->tgid = e->h.tgid;
	n->major = e->major;
	n->minor = e->minor;
	n->load_bias = e->load_bias;
	memcpy(n->version, e->version, sizeof(n->version) - 1);
	memcpy(n->path, e->path, sizeof(n->path) - 1);
}

static void scan_end(struct ctr_info *in, const struct rec_end *e)
{
	in->clean_end = true;
	in->end_reason = e->reason;
	in->cmd_status = e->cmd_status;
	in->stop_ts = e->h.ts;
	in->stop_signal = e->reason == END_SIGNAL ? e->h.flags : 0;
	if (e->h.ts > in->end_ts)
		in->end_ts = e->h.ts;
}

/* Names and lineage of the tasks a kernel event mentions. */
static void scan_tasks(struct ctr_reader *r, const struct ev_header *h)
{
	switch (h->type) {
	case EV_SCHED_SWITCH: {
		const struct ev_sched_switch *e = (const void *)h;

		task_comm(task_get(r, e->prev_pid, e->prev_tgid, h->ts), e->prev_comm);
		task_comm(task_get(r, e->next_pid, e->next_tgid, h->ts), e->next_comm);
		break;
	}
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW: {
		const struct ev_sched_wake *e = (const void *)h;

		task_comm(task_get(r, e->pid, e->tgid, h->ts), e->comm);
		break;
	}
	case EV_PROCESS_FORK:
		scan_fork(r, (const void *)h);
		break;
	case EV_PROCESS_EXEC:
		scan_exec(r, (const void *)h);
		break;
	case EV_TASK_RENAME: {
		const struct ev_task_rename *e = (const void *)h;

		task_comm(task_get(r, e->pid, 0, h->ts), e->newcomm);
		break;
	}
	}
}

/* The fixed part a goroutine tail follows. */
static size_t tail_base(uint16_t type)
{
	switch (type) {
	case EV_SCHED_SWITCH:
		return sizeof(struct ev_sched_switch);
	case EV_SYS_ENTER:
		return sizeof(struct ev_sys_enter);
	case EV_SYS_EXIT:
		return sizeof(struct ev_sys_exit);
	default:
		return 0;
	}
}

const struct ev_go_tail *ctr_go_tail(const struct ev_header *h)
{
	size_t base = tail_base(h->type);

	if (!(h->flags & EV_F_GO_TAIL) || !base || h->size < base + sizeof(struct ev_go_tail))
		return NULL;
	return (const struct ev_go_tail *)((const char *)h + base);
}

/* The first create record of each goroutine, for ctr_go_created(). */
static void scan_go_create(struct ctr_reader *r, const struct ev_go *e)
{
	struct idmap *m = idmap_get_ptr(&r->go_created, e->h.tgid);
	uint64_t *ts;
	bool added;

	if (e->goid <= 0)
		return;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m || idmap_put_ptr(&r->go_created, e->h.tgid, m)) {
			free(m);
			return;
		}
	}
	ts = idmap_slot(m, (uint64_t)e->goid, &added);
	if (ts && (added || e->h.ts < *ts))
		*ts = e->h.ts;
}

bool ctr_go_created(const struct ctr_reader *r, uint32_t tgid, int64_t goid, uint64_t *ts)
{
	const struct idmap *m = idmap_get_ptr(&r->go_created, tgid);
	const uint64_t *v = m && goid > 0 ? idmap_find(m, (uint64_t)goid) : NULL;

	if (v && ts)
		*ts = *v;
	return v != NULL;
}

static void scan_go_mode(struct ctr_reader *r, struct ctr_info *in, const struct rec_go_mode *m)
{
	if (m->mode <= GO_MODE_SAMPLED)
		in->go_modes |= 1u << m->mode;
	in->go_mode_flags |= m->flags;
	gomodes_add(&r->gomodes, m);
}

static void scan_record(struct ctr_reader *r, const struct ev_header *h)
{
	struct ctr_info *in = &r->info;

	if (!valid_record(h))
		return;
	if (h->type < REC_META && (h->flags & EV_F_GO_TAIL) && tail_base(h->type)) {
		if (ctr_go_tail(h))
			in->go_tails++;
		else
			in->go_tails_bad++;
	}
	if (h->type == REC_GO_MODE)
		scan_go_mode(r, in, (const void *)h);
	if (h->type == EV_GO_CREATE)
		scan_go_create(r, (const void *)h);
	if (h->type < REC_META) {
		in->events++;
		if (h->ts > in->end_ts)
			in->end_ts = h->ts;
		if (h->tid)
			task_get(r, h->tid, h->tgid, h->ts);
		scan_tasks(r, h);
		return;
	}
	switch (h->type) {
	case REC_META:
		add_meta(r, h);
		break;
	case REC_TASK:
		scan_task(r, (const void *)h);
		break;
	case REC_GO_PROC:
		add_goproc(r, (const void *)h);
		break;
	case REC_GO_SYM:
		add_sym(r, (const void *)h);
		break;
	case REC_STATS: {
		const struct rec_stats *e = (const void *)h;

		in->drops_total = e->drops_total;
		memcpy(in->drops, e->drops, sizeof(in->drops));
		break;
	}
	case REC_END:
		scan_end(in, (const void *)h);
		break;
	}
}

static int cmp_task(const void *a, const void *b)
{
	const struct ctr_task *x = *(struct ctr_task *const *)a, *y = *(struct ctr_task *const *)b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static int sort_tasks(struct ctr_reader *r)
{
	size_t n = 0, it = 0;
	uint64_t v;

	r->sorted = malloc((idmap_count(&r->tasks) + 1) * sizeof(*r->sorted));
	if (!r->sorted)
		return -1;
	while (idmap_next(&r->tasks, &it, NULL, &v))
		r->sorted[n++] = (struct ctr_task *)(uintptr_t)v;
	qsort(r->sorted, n, sizeof(*r->sorted), cmp_task);
	return 0;
}

static int set_budget(struct ctr_reader *r)
{
	struct stat st;

	if (fstat(fileno(r->f), &st)) {
		set_err(r, "%s", strerror(errno));
		return -1;
	}
	r->mem_budget = CTR_MEM_FIXED;
	if (S_ISREG(st.st_mode))
		r->mem_budget += (uint64_t)st.st_size * CTR_MEM_PER_BYTE;
	return 0;
}

static const char *meta_or(struct ctr_reader *r, const char *k, const char *def)
{
	const char *v = ctr_meta(r, k);

	return v ? v : def;
}

struct ctr_reader *ctr_open(const char *path, char *err, size_t errlen)
{
	struct ctr_reader *r = calloc(1, sizeof(*r));
	struct block *b;
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(r);
		return NULL;
	}
	if (set_budget(r) || rewind_to_blocks(r))
		goto fail;
	while ((rc = read_block(r, &b)) > 0) {
		const struct ev_header *h;
		uint32_t off = 0;

		while ((h = block_rec(b, &off)))
			scan_record(r, h);
		block_put(r, b);
	}
	if (rc < 0) {
		set_err(r, "out of memory");
		goto fail;
	}
	if (r->over_budget) {
		set_err(r,
			"capture describes more than a reader takes (at most %u tasks, "
			"%u metadata keys, %u Go processes, %llu MiB of tables for this "
			"file's size)",
			CTR_MAX_TASKS, CTR_MAX_META, CTR_MAX_GO_PROCS,
			(unsigned long long)(r->mem_budget >> 20));
		goto fail;
	}
	if (!ctr_meta(r, "release")) {
		set_err(r, "capture has no metadata (empty or damaged from the start)");
		goto fail;
	}
	r->info.sysname = meta_or(r, "sysname", "Linux");
	r->info.release = meta_or(r, "release", "");
	r->info.version = meta_or(r, "version", "");
	r->info.machine = meta_or(r, "machine", "");
	r->info.hostname = meta_or(r, "hostname", "");
	r->info.target = meta_or(r, "target", "system");
	r->info.ncpus = strtoul(meta_or(r, "ncpus", "1"), NULL, 10);
	if (r->info.ncpus > CTR_MAX_CPUS) {
		set_err(r, "capture claims %u CPUs (at most %u)", r->info.ncpus, CTR_MAX_CPUS);
		goto fail;
	}
	r->info.start_ts = strtoull(meta_or(r, "start_ts", "0"), NULL, 10);
	r->info.realtime_offset_ns = strtoll(meta_or(r, "realtime_offset_ns", "0"), NULL, 10);
	if (!r->info.clean_end)
		r->info.cmd_status = -1;
	if (r->info.end_ts < r->info.start_ts)
		r->info.end_ts = r->info.start_ts;

	gomodes_finish(&r->gomodes);
	r->info.go_modes_bad = r->gomodes.bad;
	if (sort_tasks(r)) {
		set_err(r, "out of memory");
		goto fail;
	}
	r->scanned = true;
	if (ctr_rewind(r))
		goto fail;
	return r;
fail:
	snprintf(err, errlen, "%s: %s", path, r->err);
	ctr_close(r);
	return NULL;
}

const struct ctr_info *ctr_info(const struct ctr_reader *r)
{
	return &r->info;
}

size_t ctr_go_period_count(const struct ctr_reader *r)
{
	return r->gomodes.n;
}

const struct ctr_go_period *ctr_go_period_at(const struct ctr_reader *r, size_t i)
{
	return i < r->gomodes.n ? &r->gomodes.p[i] : NULL;
}

const struct ctr_go_period *ctr_go_mode_at(const struct ctr_reader *r, uint64_t ts)
{
	return gomodes_at(&r->gomodes, ts);
}

const struct ctr_go_period *ctr_go_switch(const struct ctr_reader *r)
{
	return gomodes_switch(&r->gomodes);
}

const char *ctr_meta(const struct ctr_reader *r, const char *key)
{
	for (size_t i = 0; i < r->nmeta; i++)
		if (!strcmp(r->meta[i].key, key))
			return r->meta[i].value;
	return NULL;
}

size_t ctr_task_count(const struct ctr_reader *r)
{
	return idmap_count(&r->tasks);
}

const struct ctr_task *ctr_task_at(const struct ctr_reader *r, size_t i)
{
	return i < idmap_count(&r->tasks) ? r->sorted[i] : NULL;
}

const struct ctr_task *ctr_task_find(const struct ctr_reader *r, uint32_t tid)
{
	return tid ? idmap_get_ptr(&r->tasks, tid) : NULL;
}

/* ---- second pass: ordered events ---- */

static bool ent_less(const struct heap_ent *a, const struct heap_ent *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static int heap_push(struct ctr_reader *r, const struct ev_header *ev, struct block *blk)
{
	size_t i;

	if (r->hlen == r->hcap) {
		size_t ncap = r->hcap ? r->hcap * 2 : 4096;
		struct heap_ent *n = realloc(r->heap, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->heap = n;
		r->hcap = ncap;
	}
	i = r->hlen++;
	r->heap[i] = (struct heap_ent){ev->ts, r->seq++, ev, blk};
	blk->refs++;
	while (i) {
		size_t p = (i - 1) / 2;

		if (!ent_less(&r->heap[i], &r->heap[p]))
			break;
		struct heap_ent t = r->heap[p];
		r->heap[p] = r->heap[i];
		r->heap[i] = t;
		i = p;
	}
	return 0;
}

static struct heap_ent heap_pop(struct ctr_reader *r)
{
	struct heap_ent top = r->heap[0];
	size_t i = 0;

	r->heap[0] = r->heap[--r->hlen];
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < r->hlen && ent_less(&r->heap[l], &r->heap[m]))
			m = l;
		if (l + 1 < r->hlen && ent_less(&r->heap[l + 1], &r->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		struct heap_ent t = r->heap[m];
		r->heap[m] = r->heap[i];
		r->heap[i] = t;
		i = m;
	}
	return top;
}

static void release_held(struct ctr_reader *r)
{
	block_put(r, r->held);
	r->held = NULL;
}

int ctr_rewind(struct ctr_reader *r)
{
	release_held(r);
	while (r->hlen)
		block_put(r, heap_pop(r).blk);
	block_put(r, r->cur);
	r->cur = NULL;
	r->off = 0;
	r->eof = false;
	r->watermark = 0;
	r->last_ts = 0;
	r->seq = 0;
	r->info.late_events = 0;
	return rewind_to_blocks(r);
}

/* Feeds the heap until its top may be emitted. */
static int fill(struct ctr_reader *r)
{
	for (;;) {
		const struct ev_header *h;

		if (r->hlen && (r->eof || r->heap[0].ts < r->watermark ||
				r->blk_bytes + r->hlen * sizeof(*r->heap) > CTR_HEAP_BYTES))
			return 0;
		if (r->eof)
			return 0;
		if (!r->cur) {
			int rc = read_block(r, &r->cur);

			if (rc < 0) {
				set_err(r, "out of memory");
				return -1;
			}
			if (rc == 0) {
				r->eof = true;
				continue;
			}
			r->off = 0;
		}
		h = block_rec(r->cur, &r->off);
		if (!h) {
			block_put(r, r->cur);
			r->cur = NULL;
			continue;
		}
		if (h->type == REC_WATERMARK) {
			if (h->ts > r->watermark)
				r->watermark = h->ts;
			continue;
		}
		if ((h->type >= REC_META && h->type != REC_GO_PROC && h->type != REC_GO_G &&
		     h->type != REC_GO_SNAP) ||
		    !valid_record(h))
			continue;
		if (heap_push(r, h, r->cur)) {
			set_err(r, "out of memory");
			return -1;
		}
	}
}

int ctr_next(struct ctr_reader *r, const struct ev_header **ev)
{
	struct heap_ent e;

	release_held(r);
	if (fill(r))
		return -1;
	if (!r->hlen)
		return 0;
	e = heap_pop(r);
	r->held = e.blk;
	if (e.ts < r->last_ts) {
		/*
		 * Arrived after a watermark that should have covered it. Hand it
		 * out at the current time so every consumer sees monotonic time,
		 * and count it.
		 */
		struct ev_header *copy = (struct ev_header *)r->evbuf;

		r->info.late_events++;
		memcpy(copy, e.ev, e.ev->size);
		copy->ts = r->last_ts;
		*ev = copy;
		return 1;
	}
	r->last_ts = e.ts;
	*ev = e.ev;
	return 1;
}

const char *ctr_error(const struct ctr_reader *r)
{
	return r->err;
}

static void free_go_created(struct ctr_reader *r)
{
	size_t it = 0;
	uint64_t v;

	while (idmap_next(&r->go_created, &it, NULL, &v)) {
		idmap_free((struct idmap *)(uintptr_t)v);
		free((void *)(uintptr_t)v);
	}
	idmap_free(&r->go_created);
}

static void free_tasks(struct ctr_reader *r)
{
	size_t it = 0;
	uint64_t v;

	while (idmap_next(&r->tasks, &it, NULL, &v)) {
		struct ctr_task *t = (void *)(uintptr_t)v;

		cmdline_put(t);
		free(t);
	}
	idmap_free(&r->tasks);
	idmap_free(&r->goproc_idx);
	free(r->sorted);
}

void ctr_close(struct ctr_reader *r)
{
	if (!r)
		return;
	release_held(r);
	while (r->hlen)
		block_put(r, heap_pop(r).blk);
	block_put(r, r->cur);
	free_tasks(r);
	free_go_created(r);
	for (size_t i = 0; i < r->nmeta; i++) {
		free(r->meta[i].key);
		free(r->meta[i].value);
	}
	free(r->meta);
	for (size_t i = 0; i < r->symcap; i++) {
		for (uint32_t j = 0; j < r->syms[i].nframes; j++) {
			free((char *)r->syms[i].frames[j].func);
			free((char *)r->syms[i].frames[j].file);
		}
		free(r->syms[i].frames);
	}
	free(r->syms);
	free(r->goprocs);
	free(r->heap);
	free(r->zbuf);
	if (r->f)
		fclose(r->f);
	free(r);
}
