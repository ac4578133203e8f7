// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPU samples for the Perfetto writer: each EV_CPU_SAMPLE is a PerfSample
 * packet on the thread it sampled, with a callstack that trace_processor
 * and the UI's flame graph read. Callstacks, frames, function names and
 * mappings (one per process) are interned on a sequence of their own, each
 * defined in the packet that first uses it. The sequence's defaults name
 * the timebase "cpu-clock (sampled every N ns)": these are samples, not a
 * record of everything that ran.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/pbwriter.h"
#include "model/cpustack.h"
#include "formats/perfetto_cpu.h"
#include "perfetto_fields.h"

#define CPU_SEQ_ID 0x6370 /* distinct from the ftrace and goroutine sequences */
#define NB	   4096
/* Frames of one sample: the user stack with inlined calls expanded, plus a kernel leaf. */
#define MAX_FRAMES 128
#define MAX_INLINE 8

/* An interned string (function name or mapping path) or a process's mapping. */
struct str_ent {
	char *s;
	uint64_t iid;
	struct str_ent *next;
};

/* The frames of one pc of one process, innermost first. */
struct pc_ent {
	uint32_t tgid;
	uint64_t pc;
	int n;
	uint64_t frame[MAX_INLINE];
	struct pc_ent *next;
};

struct stack_ent {
	uint32_t hash;
	int n;
	uint64_t *frames; /* outermost first, as Callstack.frame_ids */
	uint64_t iid;
	struct stack_ent *next;
};

struct map_ent {
	uint32_t tgid;
	uint64_t iid;
	struct map_ent *next;
};

struct pfcpu {
	struct ctr_reader *r;
	struct out *o;
	struct pbw pkt;
	struct pbw in; /* interned_data of the packet being built */
	bool first;
	int err;
	struct str_ent *fn[NB], *path[NB];
	struct pc_ent *pcs[NB];
	struct stack_ent *stacks[NB];
	struct map_ent *maps[NB];
	uint64_t next_fn, next_path, next_frame, next_stack, next_map;
	uint64_t samples;
};

static uint32_t fnv(const void *d, size_t n, uint32_t h)
{
	const uint8_t *p = d;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

struct pfcpu *pfcpu_new(struct ctr_reader *r, struct out *o)
{
	struct pfcpu *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->r = r;
	p->o = o;
	p->first = true;
	pbw_init(&p->pkt);
	pbw_init(&p->in);
	return p;
}

/* The iid of s in table t, defined in this packet's interned data (field) if new. */
static uint64_t intern_str(struct pfcpu *p, struct str_ent **t, uint64_t *next, uint32_t field,
			   const char *s)
{
	uint32_t b = fnv(s, strlen(s), 2166136261u) & (NB - 1);
	struct str_ent *e;

	for (e = t[b]; e; e = e->next)
		if (!strcmp(e->s, s))
			return e->iid;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->s = strdup(s))) {
		free(e);
		p->err = ENOMEM;
		return 0;
	}
	e->iid = ++*next;
	e->next = t[b];
	t[b] = e;
	/* InternedString: {iid, str (bytes, encoded as a string)}. */
	pbw_begin(&p->in, field);
	pbw_uint(&p->in, PF_InternedString_iid, e->iid);
	pbw_string(&p->in, PF_InternedString_str, s);
	pbw_end(&p->in);
	return e->iid;
}

/* One mapping per process, named after its binary (Go) or its name. */
static uint64_t mapping(struct pfcpu *p, uint32_t tgid)
{
	const struct ctr_go_proc *gp = ctr_go_proc_find(p->r, tgid);
	const struct ctr_task *t = ctr_task_find(p->r, tgid);
	struct map_ent *m;
	char buf[64];
	uint64_t path;

	for (m = p->maps[tgid & (NB - 1)]; m; m = m->next)
		if (m->tgid == tgid)
			return m->iid;
	if (gp && gp->path[0])
		path =
		    intern_str(p, p->path, &p->next_path, PF_InternedData_mapping_paths, gp->path);
	else {
		snprintf(buf, sizeof(buf), "%s (pid %u)", t && t->comm[0] ? t->comm : "?", tgid);
		path = intern_str(p, p->path, &p->next_path, PF_InternedData_mapping_paths, buf);
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		p->err = ENOMEM;
		return 0;
	}
	m->tgid = tgid;
	m->iid = ++p->next_map;
	m->next = p->maps[tgid & (NB - 1)];
	p->maps[tgid & (NB - 1)] = m;
	/* The whole address space: frames carry absolute pcs as rel_pc. */
	pbw_begin(&p->in, PF_InternedData_mappings);
	pbw_uint(&p->in, PF_Mapping_iid, m->iid);
	pbw_uint(&p->in, PF_Mapping_start, 0);
	pbw_uint(&p->in, PF_Mapping_end, UINT64_MAX);
	pbw_uint(&p->in, PF_Mapping_path_string_ids, path);
	pbw_end(&p->in);
	return m->iid;
}

static uint64_t new_frame(struct pfcpu *p, uint32_t tgid, uint64_t pc, const char *func)
{
	uint64_t name = intern_str(p, p->fn, &p->next_fn, PF_InternedData_function_names, func);
	uint64_t map = mapping(p, tgid);
	uint64_t iid = ++p->next_frame;

	pbw_begin(&p->in, PF_InternedData_frames);
	pbw_uint(&p->in, PF_Frame_iid, iid);
	pbw_uint(&p->in, PF_Frame_function_name_id, name);
	pbw_uint(&p->in, PF_Frame_mapping_id, map);
	pbw_uint(&p->in, PF_Frame_rel_pc, pc);
	pbw_end(&p->in);
	return iid;
}

/*
 * Made-up frames have pcs in the first page, where no code is: a sample in
 * the kernel gets a leaf frame saying so, one without a user stack a frame
 * of its own (a callstack cannot be empty).
 */
#define PC_KERNEL   1
#define PC_NO_STACK 2
#define MIN_PC	    4096

/* The frames of a return-address pc (or a made-up one named func), innermost first. */
static const struct pc_ent *pc_frames(struct pfcpu *p, uint32_t tgid, uint64_t pc, const char *func)
{
	uint32_t b = (uint32_t)((pc * 0x9e3779b97f4a7c15ull ^ tgid) >> 40) & (NB - 1);
	const struct ctr_go_sym *sym[MAX_INLINE];
	struct pc_ent *e;
	char hex[32];
	int n;

	for (e = p->pcs[b]; e; e = e->next)
		if (e->pc == pc && e->tgid == tgid)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e) {
		p->err = ENOMEM;
		return NULL;
	}
	e->tgid = tgid;
	e->pc = pc;
	n = pc >= MIN_PC ? ctr_go_sym_frames(p->r, tgid, pc, false, sym, MAX_INLINE) : 0;
	for (int i = 0; i < n; i++)
		e->frame[e->n++] = new_frame(p, tgid, pc, sym[i]->func[0] ? sym[i]->func : "?");
	if (!e->n) {
		snprintf(hex, sizeof(hex), "%#" PRIx64, pc);
		e->frame[e->n++] = new_frame(p, tgid, pc, pc >= MIN_PC ? hex : func);
	}
	e->next = p->pcs[b];
	p->pcs[b] = e;
	return e;
}

/* The iid of a callstack (frame iids, outermost first), defined here if new. */
static uint64_t callstack(struct pfcpu *p, const uint64_t *frames, int n)
{
	uint32_t h = fnv(frames, n * sizeof(*frames), 2166136261u);
	struct stack_ent *e;

	for (e = p->stacks[h & (NB - 1)]; e; e = e->next)
		if (e->hash == h && e->n == n && !memcmp(e->frames, frames, n * sizeof(*frames)))
			return e->iid;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->frames = malloc(n * sizeof(*frames)))) {
		free(e);
		p->err = ENOMEM;
		return 0;
	}
	memcpy(e->frames, frames, n * sizeof(*frames));
	e->hash = h;
	e->n = n;
	e->iid = ++p->next_stack;
	e->next = p->stacks[h & (NB - 1)];
	p->stacks[h & (NB - 1)] = e;
	pbw_begin(&p->in, PF_InternedData_callstacks);
	pbw_uint(&p->in, PF_Callstack_iid, e->iid);
	for (int i = 0; i < n; i++)
		pbw_uint(&p->in, PF_Callstack_frame_ids, frames[i]);
	pbw_end(&p->in);
	return e->iid;
}

/* The sample's frames, outermost first; returns how many. */
static int sample_frames(struct pfcpu *p, const struct ev_cpu_sample *e, uint64_t *out)
{
	uint64_t pcs[CPU_SAMPLE_MAX_STACK];
	int npc = cpu_sample_pcs(p->r, e, pcs, CPU_SAMPLE_MAX_STACK), n = 0;
	const struct pc_ent *f;

	if (!npc && (f = pc_frames(p, e->h.tgid, PC_NO_STACK, "(no user stack)")))
		out[n++] = f->frame[0];
	for (int i = npc - 1; i >= 0; i--) {
		if (!(f = pc_frames(p, e->h.tgid, pcs[i], NULL)))
			return 0;
		/* Within a pc, its physical function is outermost. */
		for (int k = f->n - 1; k >= 0 && n < MAX_FRAMES - 1; k--)
			out[n++] = f->frame[k];
	}
	if (e->h.flags & CPU_SAMPLE_F_KERNEL &&
	    (f = pc_frames(p, e->h.tgid, PC_KERNEL, "(in the kernel)")))
		out[n++] = f->frame[0];
	return n;
}

/* The sequence's first packet clears its state and says what the samples are. */
static void sequence_head(struct pfcpu *p, const struct ev_cpu_sample *e)
{
	char name[64];

	if (!p->first) {
		pbw_uint(&p->pkt, PF_TracePacket_sequence_flags,
			 PF_TracePacket_SEQ_NEEDS_INCREMENTAL_STATE);
		return;
	}
	p->first = false;
	pbw_uint(&p->pkt, PF_TracePacket_sequence_flags,
		 PF_TracePacket_SEQ_INCREMENTAL_STATE_CLEARED |
		     PF_TracePacket_SEQ_NEEDS_INCREMENTAL_STATE);
	snprintf(name, sizeof(name), "cpu-clock (sampled every %u ns)", e->period_ns);
	pbw_begin(&p->pkt, PF_TracePacket_trace_packet_defaults);
	pbw_begin(&p->pkt, PF_TracePacketDefaults_perf_sample_defaults);
	pbw_begin(&p->pkt, PF_PerfSampleDefaults_timebase);
	if (e->period_ns)
		pbw_uint(&p->pkt, PF_PerfEvents_Timebase_period, e->period_ns);
	pbw_uint(&p->pkt, PF_PerfEvents_Timebase_counter, PF_PerfEvents_SW_CPU_CLOCK);
	pbw_string(&p->pkt, PF_PerfEvents_Timebase_name, name);
	pbw_end(&p->pkt);
	pbw_end(&p->pkt);
	pbw_end(&p->pkt);
}

static int sample_packet(struct pfcpu *p, const struct ev_cpu_sample *e)
{
	uint64_t frames[MAX_FRAMES], cs;
	uint8_t hdr[PB_LD_HEADER_MAX];
	int n;

	pbw_reset(&p->pkt);
	pbw_reset(&p->in);
	n = sample_frames(p, e, frames);
	cs = n ? callstack(p, frames, n) : 0;
	if (p->err || !cs)
		return -1;
	pbw_uint(&p->pkt, PF_TracePacket_timestamp, e->h.ts);
	pbw_uint(&p->pkt, PF_TracePacket_trusted_packet_sequence_id, CPU_SEQ_ID);
	sequence_head(p, e);
	if (p->in.len) {
		pbw_begin(&p->pkt, PF_TracePacket_interned_data);
		pbw_raw(&p->pkt, p->in.buf, p->in.len);
		pbw_end(&p->pkt);
	}
	pbw_begin(&p->pkt, PF_TracePacket_perf_sample);
	pbw_uint(&p->pkt, PF_PerfSample_cpu, e->h.cpu);
	pbw_uint(&p->pkt, PF_PerfSample_pid, e->h.tgid);
	pbw_uint(&p->pkt, PF_PerfSample_tid, e->h.tid);
	pbw_uint(&p->pkt, PF_PerfSample_cpu_mode,
		 e->h.flags & CPU_SAMPLE_F_KERNEL ? PF_Profiling_MODE_KERNEL
						  : PF_Profiling_MODE_USER);
	pbw_uint(&p->pkt, PF_PerfSample_callstack_iid, cs);
	pbw_end(&p->pkt);
	if (p->pkt.err || p->in.err) {
		p->err = p->pkt.err ? p->pkt.err : p->in.err;
		return -1;
	}
	out_write(p->o, hdr, pb_ld_header(hdr, PF_Trace_packet, p->pkt.len));
	out_write(p->o, p->pkt.buf, p->pkt.len);
	p->samples++;
	return out_error(p->o) ? -1 : 0;
}

int pfcpu_event(struct pfcpu *p, const struct ev_header *h)
{
	if (h->type != EV_CPU_SAMPLE)
		return 0;
	return sample_packet(p, (const struct ev_cpu_sample *)h);
}

static void free_strs(struct str_ent **t)
{
	for (int b = 0; b < NB; b++)
		while (t[b]) {
			struct str_ent *e = t[b];

			t[b] = e->next;
			free(e->s);
			free(e);
		}
}

void pfcpu_free(struct pfcpu *p, uint64_t *nsamples)
{
	if (!p)
		return;
	if (nsamples)
		*nsamples = p->samples;
	free_strs(p->fn);
	free_strs(p->path);
	for (int b = 0; b < NB; b++) {
		while (p->pcs[b]) {
			struct pc_ent *e = p->pcs[b];

			p->pcs[b] = e->next;
			free(e);
		}
		while (p->stacks[b]) {
			struct stack_ent *e = p->stacks[b];

			p->stacks[b] = e->next;
			free(e->frames);
			free(e);
		}
		while (p->maps[b]) {
			struct map_ent *e = p->maps[b];

			p->maps[b] = e->next;
			free(e);
		}
	}
	pbw_free(&p->pkt);
	pbw_free(&p->in);
	free(p);
}
