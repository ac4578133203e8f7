// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine tracks for the Perfetto writer. Per Go process: a "Goroutines"
 * group with one track per goroutine ("G17 main.worker", never merged with
 * same-named siblings) holding consecutive state slices, a "Go runtime"
 * track for wake-ups the runtime did, and on each thread's own track a
 * "G<goid>" slice for every stretch it ran a goroutine. Wake-ups are flows
 * from an instant on the waker's track to the wakee's next slice.
 *
 * All of it is TrackEvent data on one packet sequence with interned names.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/gostate.h"
#include "lib/pbwriter.h"
#include "formats/perfetto_go.h"
#include "perfetto_fields.h"

#define GO_SEQ_ID 0x676f /* distinct from the ftrace writer's sequence */

#define NAME_BUCKETS 1024

/* Interning tables, each with its own iid space. */
enum { IN_EVENT_NAME, IN_ANNOT_NAME, IN_STRING, IN_KINDS };
static const uint32_t in_field[IN_KINDS] = {
    [IN_EVENT_NAME] = PF_InternedData_event_names,
    [IN_ANNOT_NAME] = PF_InternedData_debug_annotation_names,
    [IN_STRING] = PF_InternedData_debug_annotation_string_values,
};

/* write_fresh() writes all three kinds alike: {iid, name or str}. */
_Static_assert(PF_EventName_iid == PF_DebugAnnotationName_iid &&
		   PF_EventName_iid == PF_InternedString_iid &&
		   PF_EventName_name == PF_DebugAnnotationName_name &&
		   PF_EventName_name == PF_InternedString_str,
	       "interned entries differ in layout");

struct iname {
	char *s;
	uint64_t iid;
	struct iname *next;
};

struct new_intern {
	int kind;
	uint64_t iid;
	const char *s;
};

struct gtrack {
	uint64_t uuid;
	bool open;	       /* a state slice is open */
	uint64_t pending_flow; /* terminates on the next slice */
};

struct thr {
	uint32_t tid;
	bool open; /* a G slice is open on the thread track */
	bool declared;
	struct thr *next;
};

struct pfgo {
	struct ctr_reader *r;
	struct out *o;
	struct gostate *gs;
	struct pbw pkt;
	struct pbw ann; /* debug annotations of the event being built */
	int err;
	bool first;
	struct iname *names[IN_KINDS][NAME_BUCKETS];
	uint64_t next_iid[IN_KINDS];
	struct new_intern fresh[16]; /* defined by the packet being built */
	int nfresh;
	uint64_t next_flow;
	uint64_t next_g_uuid;
	uint32_t procs[64];
	int nprocs;
	struct thr *thr[NAME_BUCKETS];
	uint64_t end_ts;
	bool desc_sampled; /* the next descriptor() describes a sampled goroutine */
	const struct ctr_go_period *mode_switch; /* auto mode's switch, until marked */
	char stackbuf[4096];
};

/*
 * Track uuids are small (short varints on every event): pids below 2^22 in
 * the low ranges, goroutines numbered from G_UUID_BASE up.
 */
#define G_UUID_BASE (1ull << 26)

static uint64_t thread_uuid(uint32_t tid)
{
	return (uint64_t)tid << 2;
}

static uint64_t proc_uuid(uint32_t tgid)
{
	return (uint64_t)tgid << 2 | 1;
}

static uint64_t group_uuid(uint32_t tgid)
{
	return (uint64_t)tgid << 2 | 2;
}

static uint64_t runtime_uuid(uint32_t tgid)
{
	return (uint64_t)tgid << 2 | 3;
}

static void packet_out(struct pfgo *p)
{
	uint8_t hdr[PB_LD_HEADER_MAX];

	if (p->pkt.err) {
		p->err = p->pkt.err;
		pbw_reset(&p->pkt);
		return;
	}
	out_write(p->o, hdr, pb_ld_header(hdr, PF_Trace_packet, p->pkt.len));
	out_write(p->o, p->pkt.buf, p->pkt.len);
	pbw_reset(&p->pkt);
}

/* Starts a TracePacket on our sequence; the first one clears incremental state. */
static void packet_begin(struct pfgo *p, uint64_t ts)
{
	pbw_uint(&p->pkt, PF_TracePacket_timestamp, ts);
	pbw_uint(&p->pkt, PF_TracePacket_trusted_packet_sequence_id, GO_SEQ_ID);
	if (p->first) {
		pbw_uint(&p->pkt, PF_TracePacket_sequence_flags,
			 PF_TracePacket_SEQ_INCREMENTAL_STATE_CLEARED |
			     PF_TracePacket_SEQ_NEEDS_INCREMENTAL_STATE);
		p->first = false;
	} else {
		pbw_uint(&p->pkt, PF_TracePacket_sequence_flags,
			 PF_TracePacket_SEQ_NEEDS_INCREMENTAL_STATE);
	}
}

static unsigned int shash(const char *s)
{
	unsigned int h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h & (NAME_BUCKETS - 1);
}

/* The iid for a string; a new one is defined in the packet being built. */
static uint64_t intern(struct pfgo *p, int kind, const char *s)
{
	unsigned int b = shash(s);
	struct iname *n;

	for (n = p->names[kind][b]; n; n = n->next)
		if (!strcmp(n->s, s))
			return n->iid;
	if (p->nfresh == (int)(sizeof(p->fresh) / sizeof(p->fresh[0])))
		return 0;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->s = strdup(s))) {
		free(n);
		return 0;
	}
	n->iid = ++p->next_iid[kind];
	n->next = p->names[kind][b];
	p->names[kind][b] = n;
	p->fresh[p->nfresh++] = (struct new_intern){kind, n->iid, n->s};
	return n->iid;
}

/* Writes the interned_data for the strings this packet defined first. */
static void write_fresh(struct pfgo *p)
{
	if (!p->nfresh)
		return;
	pbw_begin(&p->pkt, PF_TracePacket_interned_data);
	for (int i = 0; i < p->nfresh; i++) {
		/* InternedString's str is bytes: the same encoding as a string. */
		pbw_begin(&p->pkt, in_field[p->fresh[i].kind]);
		pbw_uint(&p->pkt, PF_EventName_iid, p->fresh[i].iid);
		pbw_string(&p->pkt, PF_EventName_name, p->fresh[i].s);
		pbw_end(&p->pkt);
	}
	pbw_end(&p->pkt);
	p->nfresh = 0;
}

struct te {
	uint64_t ts;
	uint64_t track;
	int type;
	const char *name;
	uint64_t flow_out, flow_in;
	/* annotations */
	int64_t tid, cpu, pid_p, goid, waker;
	const char *stack, *reason;
	bool have_thread;
	bool sampled;			  /* "source: sampled": bounded by kernel events */
	const struct ctr_go_period *mode; /* auto mode's switch marker */
};

/* Annotations go to a side buffer: their interned strings must be known first. */
static void annot_int(struct pfgo *p, struct pbw *w, const char *name, int64_t v)
{
	pbw_begin(w, PF_TrackEvent_debug_annotations);
	pbw_uint(w, PF_DebugAnnotation_name_iid, intern(p, IN_ANNOT_NAME, name));
	pbw_int(w, PF_DebugAnnotation_int_value, v);
	pbw_end(w);
}

static void annot_str(struct pfgo *p, struct pbw *w, const char *name, const char *v)
{
	pbw_begin(w, PF_TrackEvent_debug_annotations);
	pbw_uint(w, PF_DebugAnnotation_name_iid, intern(p, IN_ANNOT_NAME, name));
	pbw_uint(w, PF_DebugAnnotation_string_value_iid, intern(p, IN_STRING, v));
	pbw_end(w);
}

static void annot_mode(struct pfgo *p, struct pbw *a, const struct ctr_go_period *m)
{
	char cost[64];

	annot_str(p, a, "reason", m->reason == GO_MODE_BY_GOVERNOR ? "governor" : "other");
	if (m->reason != GO_MODE_BY_GOVERNOR)
		return;
	snprintf(cost, sizeof(cost), "%.1f%% of the target's CPU", m->est_ppm / 1e4);
	annot_str(p, a, "estimated probe cost", cost);
	annot_int(p, a, "estimated probe cost ppm", m->est_ppm);
}

static void track_event(struct pfgo *p, const struct te *e)
{
	struct pbw *a = &p->ann;
	uint64_t iid = 0;

	pbw_reset(a);
	if (e->name)
		iid = intern(p, IN_EVENT_NAME, e->name);
	if (e->have_thread) {
		annot_int(p, a, "tid", e->tid);
		annot_int(p, a, "cpu", e->cpu);
		if (e->pid_p >= 0)
			annot_int(p, a, "P", e->pid_p);
	}
	if (e->goid)
		annot_int(p, a, "goid", e->goid);
	if (e->waker)
		annot_int(p, a, "woken by goid", e->waker);
	if (e->reason)
		annot_str(p, a, "woken by", e->reason);
	if (e->stack && *e->stack)
		annot_str(p, a, "stack", e->stack);
	if (e->sampled)
		annot_str(p, a, "source", "sampled");
	if (e->mode)
		annot_mode(p, a, e->mode);
	if (a->err)
		p->err = a->err;

	packet_begin(p, e->ts);
	write_fresh(p);
	pbw_begin(&p->pkt, PF_TracePacket_track_event);
	pbw_uint(&p->pkt, PF_TrackEvent_type, e->type);
	pbw_uint(&p->pkt, PF_TrackEvent_track_uuid, e->track);
	if (iid)
		pbw_uint(&p->pkt, PF_TrackEvent_name_iid, iid);
	pbw_raw(&p->pkt, a->buf, a->len); /* debug_annotations */
	if (e->flow_out)
		pbw_fixed64(&p->pkt, PF_TrackEvent_flow_ids, e->flow_out);
	if (e->flow_in)
		pbw_fixed64(&p->pkt, PF_TrackEvent_terminating_flow_ids, e->flow_in);
	pbw_end(&p->pkt);
	packet_out(p);
}

#define SAMPLED_DESC                                                                               \
	"Sampled mode: this goroutine is seen only at its threads' kernel events "                 \
	"(context switches, syscall entry and exit). Running spans are bounded by those "          \
	"events, not by the exact goroutine switches, which were not recorded."

static void descriptor(struct pfgo *p, uint64_t ts, uint64_t uuid, uint64_t parent,
		       const char *name, uint32_t pid, uint32_t tid, int64_t rank)
{
	bool sampled = p->desc_sampled;

	p->desc_sampled = false;
	pbw_uint(&p->pkt, PF_TracePacket_timestamp, ts);
	pbw_uint(&p->pkt, PF_TracePacket_trusted_packet_sequence_id, GO_SEQ_ID);
	pbw_begin(&p->pkt, PF_TracePacket_track_descriptor);
	pbw_uint(&p->pkt, PF_TrackDescriptor_uuid, uuid);
	if (name)
		pbw_string(&p->pkt, PF_TrackDescriptor_name, name);
	if (sampled)
		pbw_string(&p->pkt, PF_TrackDescriptor_description, SAMPLED_DESC);
	if (tid) {
		pbw_begin(&p->pkt, PF_TrackDescriptor_thread);
		pbw_int(&p->pkt, PF_ThreadDescriptor_pid, pid);
		pbw_int(&p->pkt, PF_ThreadDescriptor_tid, tid);
		pbw_end(&p->pkt);
	} else if (pid && !parent) {
		pbw_begin(&p->pkt, PF_TrackDescriptor_process);
		pbw_int(&p->pkt, PF_ProcessDescriptor_pid, pid);
		pbw_end(&p->pkt);
	}
	if (parent)
		pbw_uint(&p->pkt, PF_TrackDescriptor_parent_uuid, parent);
	if (rank >= 0) {
		pbw_int(&p->pkt, PF_TrackDescriptor_sibling_order_rank,
			rank > INT32_MAX ? INT32_MAX : rank);
		/* same-named goroutines stay apart */
		pbw_uint(&p->pkt, PF_TrackDescriptor_sibling_merge_behavior,
			 PF_TrackDescriptor_SIBLING_MERGE_BEHAVIOR_NONE);
	}
	if (uuid == group_uuid(pid))
		pbw_uint(&p->pkt, PF_TrackDescriptor_child_ordering, PF_TrackDescriptor_EXPLICIT);
	pbw_end(&p->pkt);
	packet_out(p);
}

static void declare_proc(struct pfgo *p, uint32_t tgid, uint64_t ts)
{
	for (int i = 0; i < p->nprocs; i++)
		if (p->procs[i] == tgid)
			return;
	if (p->nprocs < 64)
		p->procs[p->nprocs++] = tgid;
	descriptor(p, ts, proc_uuid(tgid), 0, NULL, tgid, 0, -1);
	descriptor(p, ts, group_uuid(tgid), proc_uuid(tgid), "Goroutines", tgid, 0, -1);
	descriptor(p, ts, runtime_uuid(tgid), proc_uuid(tgid), "Go runtime", tgid, 0, -1);
}

static struct thr *thread(struct pfgo *p, uint32_t tgid, uint32_t tid, uint64_t ts)
{
	unsigned int b = (tid * 2654435761u) >> 22 & (NAME_BUCKETS - 1);
	struct thr *t;

	for (t = p->thr[b]; t; t = t->next)
		if (t->tid == tid)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->next = p->thr[b];
	p->thr[b] = t;
	descriptor(p, ts, thread_uuid(tid), 0, NULL, tgid, tid, -1);
	return t;
}

static void on_create(void *ctx, struct gs_gor *g, uint64_t ts, const __u64 *stack, int n)
{
	struct pfgo *p = ctx;
	struct gtrack *t = calloc(1, sizeof(*t));

	g->user = t;
	if (!t)
		return;
	declare_proc(p, g->tgid, ts);
	t->uuid = G_UUID_BASE + p->next_g_uuid++;
	p->desc_sampled = g->sampled;
	descriptor(p, ts, t->uuid, group_uuid(g->tgid), g->name, g->tgid, 0, g->goid);
}

static void close_slice(struct pfgo *p, struct gtrack *t, uint64_t ts)
{
	struct te e = {.ts = ts, .track = t->uuid, .type = PF_TrackEvent_TYPE_SLICE_END};

	if (!t->open)
		return;
	track_event(p, &e);
	t->open = false;
}

static void close_thread(struct pfgo *p, uint32_t tgid, uint32_t tid, uint64_t ts)
{
	struct thr *th;
	struct te e = {.ts = ts, .type = PF_TrackEvent_TYPE_SLICE_END};

	if (!tid)
		return;
	th = thread(p, tgid, tid, ts);
	if (!th || !th->open)
		return;
	e.track = thread_uuid(tid);
	track_event(p, &e);
	th->open = false;
}

static bool is_wakeup(const struct gs_trans *t)
{
	return t->to == GS_RUNNABLE && (t->from == GS_BLOCKED || t->from == GS_NONE) &&
	       (t->waker_goid || t->waker_label);
}

/*
 * A wake-up: an instant on the waker's track whose flow goes into the woken
 * goroutine's next slice. Returns the flow's id.
 */
static uint64_t wake_instant(struct pfgo *p, const struct gs_trans *t)
{
	struct te w = {.ts = t->ts, .type = PF_TrackEvent_TYPE_INSTANT};
	struct gs_gor *waker = NULL;
	char name[64];

	w.flow_out = ++p->next_flow;
	/* A waker we never saw has no track: the runtime track stands in. */
	if (t->waker_goid)
		waker = gostate_find(p->gs, t->g->tgid, t->waker_goid);
	if (waker && waker->user)
		w.track = ((struct gtrack *)waker->user)->uuid;
	else
		w.track = runtime_uuid(t->g->tgid);
	snprintf(name, sizeof(name), "%s G%" PRId64,
		 t->from == GS_NONE && !t->g->at_attach ? "go" : "wake", t->g->goid);
	w.name = name;
	w.goid = t->g->goid;
	w.have_thread = true;
	w.tid = t->waker_tid;
	w.cpu = t->cpu;
	w.pid_p = t->p;
	if (t->nstack) {
		gs_format_stack(p->r, t->g->tgid, t->stack, t->nstack, p->stackbuf,
				sizeof(p->stackbuf));
		w.stack = p->stackbuf;
	}
	track_event(p, &w);
	return w.flow_out;
}

static void on_transition(void *ctx, const struct gs_trans *t)
{
	struct pfgo *p = ctx;
	struct gtrack *gt = t->g->user;
	struct te e = {.ts = t->ts, .type = PF_TrackEvent_TYPE_SLICE_BEGIN, .name = t->label};
	bool was_on_thread = t->from == GS_RUNNING || t->from == GS_SYSCALL;
	bool on_thread = t->to == GS_RUNNING || t->to == GS_SYSCALL;

	if (!gt)
		return;
	/* END before BEGIN at the same timestamp keeps them apart. */
	close_slice(p, gt, t->ts);
	if (was_on_thread && !on_thread)
		close_thread(p, t->g->tgid, t->g->tid, t->ts);

	if (is_wakeup(t)) {
		e.flow_in = wake_instant(p, t);
		e.waker = t->waker_goid;
		e.reason = t->waker_goid ? NULL : t->waker_label;
	}
	if (t->to == GS_DEAD || t->to == GS_UNSEEN)
		return;
	e.track = gt->uuid;
	e.sampled = t->sampled;
	if (on_thread) {
		e.have_thread = true;
		e.tid = t->tid;
		e.cpu = t->cpu;
		e.pid_p = t->p;
	} else {
		e.pid_p = -1;
	}
	if (t->to == GS_BLOCKED && t->nstack) {
		gs_format_stack(p->r, t->g->tgid, t->stack, t->nstack, p->stackbuf,
				sizeof(p->stackbuf));
		e.stack = p->stackbuf;
	}
	track_event(p, &e);
	gt->open = true;

	/* The thread's own track shows which goroutine it ran. */
	if (on_thread && !was_on_thread && t->tid) {
		struct thr *th = thread(p, t->g->tgid, t->tid, t->ts);
		struct te s = {
		    .ts = t->ts, .type = PF_TrackEvent_TYPE_SLICE_BEGIN, .name = t->g->name};

		if (th && !th->open) {
			s.track = thread_uuid(t->tid);
			s.goid = t->g->goid;
			s.sampled = t->sampled;
			s.pid_p = -1;
			track_event(p, &s);
			th->open = true;
		}
	}
}

static void on_destroy(void *ctx, struct gs_gor *g)
{
	struct pfgo *p = ctx;
	struct gtrack *t = g->user;

	if (!t)
		return;
	if (g->state != GS_DEAD && g->state != GS_UNSEEN) {
		uint64_t ts = p->end_ts > g->since ? p->end_ts : g->since;

		close_slice(p, t, ts);
		if (g->state == GS_RUNNING || g->state == GS_SYSCALL)
			close_thread(p, g->tgid, g->tid, ts);
	}
	free(t);
	g->user = NULL;
}

static const struct gs_ops ops = {
    .create = on_create,
    .transition = on_transition,
    .destroy = on_destroy,
};

struct pfgo *pfgo_new(struct ctr_reader *r, struct out *o)
{
	struct pfgo *p;

	if (!ctr_go_proc_count(r))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->r = r;
	p->o = o;
	p->first = true;
	pbw_init(&p->pkt);
	pbw_init(&p->ann);
	p->gs = gostate_new(r, &ops, p);
	if (!p->gs) {
		free(p);
		return NULL;
	}
	p->mode_switch = ctr_go_switch(r);
	return p;
}

/*
 * Auto mode's switch: an instant on each Go process's track, so the point
 * where goroutine slices turn "source: sampled" is visible and explained.
 */
static void mode_marker(struct pfgo *p)
{
	const struct ctr_go_period *sw = p->mode_switch;

	p->mode_switch = NULL;
	for (size_t i = 0; i < ctr_go_proc_count(p->r); i++) {
		uint32_t tgid = ctr_go_proc_at(p->r, i)->tgid;
		struct te e = {.ts = sw->ts, .type = PF_TrackEvent_TYPE_INSTANT};

		declare_proc(p, tgid, sw->ts);
		e.track = proc_uuid(tgid);
		e.name = "goroutines: full -> sampled";
		e.mode = sw;
		track_event(p, &e);
	}
}

void pfgo_event(struct pfgo *p, const struct ev_header *h)
{
	if (p->mode_switch && h->ts >= p->mode_switch->ts)
		mode_marker(p);
	gostate_event(p->gs, h);
}

int pfgo_finish(struct pfgo *p, uint64_t ts)
{
	int err;

	p->end_ts = ts;
	if (p->mode_switch && ts >= p->mode_switch->ts)
		mode_marker(p);
	gostate_finish(p->gs, ts);
	/* Threads whose goroutine slice is still open end with the trace too. */
	for (int b = 0; b < NAME_BUCKETS; b++) {
		while (p->thr[b]) {
			struct thr *t = p->thr[b];

			if (t->open) {
				struct te e = {.ts = ts,
					       .type = PF_TrackEvent_TYPE_SLICE_END,
					       .track = thread_uuid(t->tid)};

				track_event(p, &e);
			}
			p->thr[b] = t->next;
			free(t);
		}
		for (int k = 0; k < IN_KINDS; k++) {
			while (p->names[k][b]) {
				struct iname *n = p->names[k][b];

				p->names[k][b] = n->next;
				free(n->s);
				free(n);
			}
		}
	}
	err = p->err;
	gostate_free(p->gs);
	pbw_free(&p->pkt);
	pbw_free(&p->ann);
	free(p);
	return err ? -1 : 0;
}
