// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine snapshots as Perfetto counter tracks under each Go process:
 * "Goroutines running", "runnable", "in syscall", "waiting", and
 * "Goroutines waiting: <kind>" per wait-reason kind seen, one value per
 * snapshot. The tracks say "source: sampled" in their description: the
 * counts hold at snapshot times only. Tracks are declared at the first
 * snapshot, so a capture without snapshots gets nothing from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/gosnapshot.h"
#include "lib/pbwriter.h"
#include "formats/perfetto_gosnap.h"
#include "perfetto_fields.h"

#define SNAP_SEQ_ID 0x6773 /* distinct from the ftrace and goroutine sequences */
/* Track uuids above every other writer's: pids < 2^22, 32 slots each. */
#define SNAP_UUID_BASE (1ull << 40)
#define SLOT_PROC      31

enum { C_RUNNING, C_RUNNABLE, C_SYSCALL, C_WAITING, C_KIND0 }; /* C_KIND0 + go_block_kind */
_Static_assert(C_KIND0 + GB__COUNT <= SLOT_PROC, "counter slots overflow");

struct sproc {
	uint32_t tgid;
	bool declared[SLOT_PROC + 1];
};

struct pfsnap {
	struct out *o;
	struct gosnapm *m;
	struct pbw pkt;
	bool first;
	int err;
	struct sproc procs[GO_MAX_PROCS];
	int nprocs;
	uint64_t interval; /* from the first two snapshots, for the description */
	uint64_t first_ts;
};

static uint64_t uuid(uint32_t tgid, int slot)
{
	return SNAP_UUID_BASE | (uint64_t)tgid << 5 | slot;
}

static void packet(struct pfsnap *p, uint64_t ts)
{
	pbw_uint(&p->pkt, PF_TracePacket_timestamp, ts);
	pbw_uint(&p->pkt, PF_TracePacket_trusted_packet_sequence_id, SNAP_SEQ_ID);
	if (p->first) {
		pbw_uint(&p->pkt, PF_TracePacket_sequence_flags,
			 PF_TracePacket_SEQ_INCREMENTAL_STATE_CLEARED);
		p->first = false;
	}
}

static void packet_out(struct pfsnap *p)
{
	uint8_t hdr[PB_LD_HEADER_MAX];

	if (p->pkt.err) {
		p->err = p->pkt.err;
	} else {
		out_write(p->o, hdr, pb_ld_header(hdr, PF_Trace_packet, p->pkt.len));
		out_write(p->o, p->pkt.buf, p->pkt.len);
	}
	pbw_reset(&p->pkt);
}

static struct sproc *sproc_get(struct pfsnap *p, uint32_t tgid, uint64_t ts)
{
	struct sproc *s;

	for (int i = 0; i < p->nprocs; i++)
		if (p->procs[i].tgid == tgid)
			return &p->procs[i];
	if (p->nprocs == GO_MAX_PROCS)
		return NULL;
	s = &p->procs[p->nprocs++];
	memset(s, 0, sizeof(*s));
	s->tgid = tgid;
	packet(p, ts);
	pbw_begin(&p->pkt, PF_TracePacket_track_descriptor);
	pbw_uint(&p->pkt, PF_TrackDescriptor_uuid, uuid(tgid, SLOT_PROC));
	pbw_begin(&p->pkt, PF_TrackDescriptor_process);
	pbw_int(&p->pkt, PF_ProcessDescriptor_pid, tgid);
	pbw_end(&p->pkt);
	pbw_end(&p->pkt);
	packet_out(p);
	return s;
}

static void declare(struct pfsnap *p, struct sproc *s, int slot, const char *name, uint64_t ts)
{
	char desc[160];

	if (p->interval)
		snprintf(desc, sizeof(desc),
			 "source: sampled. Goroutines counted in snapshots read from the process's "
			 "memory every %.0f ms; the count holds at snapshot times only.",
			 p->interval / 1e6);
	else
		snprintf(desc, sizeof(desc),
			 "source: sampled. Goroutines counted in snapshots read from the process's "
			 "memory; the count holds at snapshot times only.");
	packet(p, ts);
	pbw_begin(&p->pkt, PF_TracePacket_track_descriptor);
	pbw_uint(&p->pkt, PF_TrackDescriptor_uuid, uuid(s->tgid, slot));
	pbw_uint(&p->pkt, PF_TrackDescriptor_parent_uuid, uuid(s->tgid, SLOT_PROC));
	pbw_string(&p->pkt, PF_TrackDescriptor_name, name);
	pbw_string(&p->pkt, PF_TrackDescriptor_description, desc);
	pbw_begin(&p->pkt, PF_TrackDescriptor_counter);
	pbw_uint(&p->pkt, PF_CounterDescriptor_unit, PF_CounterDescriptor_UNIT_COUNT);
	pbw_end(&p->pkt);
	pbw_end(&p->pkt);
	packet_out(p);
	s->declared[slot] = true;
}

static void counter(struct pfsnap *p, struct sproc *s, int slot, const char *name, uint64_t ts,
		    int64_t v)
{
	if (!s->declared[slot])
		declare(p, s, slot, name, ts);
	packet(p, ts);
	pbw_begin(&p->pkt, PF_TracePacket_track_event);
	pbw_uint(&p->pkt, PF_TrackEvent_type, PF_TrackEvent_TYPE_COUNTER);
	pbw_uint(&p->pkt, PF_TrackEvent_track_uuid, uuid(s->tgid, slot));
	pbw_int(&p->pkt, PF_TrackEvent_counter_value, v);
	pbw_end(&p->pkt);
	packet_out(p);
}

static void on_snapshot(void *ctx, const struct gsm_snapshot *snap)
{
	struct pfsnap *p = ctx;
	struct sproc *s = sproc_get(p, snap->tgid, snap->ts);
	char name[64];

	if (!s)
		return;
	counter(p, s, C_RUNNING, "Goroutines running", snap->ts, snap->by_state[GSM_RUNNING]);
	counter(p, s, C_RUNNABLE, "Goroutines runnable", snap->ts, snap->by_state[GSM_RUNNABLE]);
	counter(p, s, C_SYSCALL, "Goroutines in syscall", snap->ts, snap->by_state[GSM_SYSCALL]);
	counter(p, s, C_WAITING, "Goroutines waiting", snap->ts, snap->by_state[GSM_WAITING]);
	/* a kind's track starts when the kind is first seen, then follows every snapshot */
	for (int k = 0; k < GB__COUNT; k++) {
		if (!snap->waiting_by_kind[k] && !s->declared[C_KIND0 + k])
			continue;
		snprintf(name, sizeof(name), "Goroutines waiting: %s", go_block_kind_name(k));
		counter(p, s, C_KIND0 + k, name, snap->ts, snap->waiting_by_kind[k]);
	}
}

struct pfsnap *pfsnap_new(struct ctr_reader *r, struct out *o)
{
	static const struct gsm_ops ops = {.snapshot = on_snapshot};
	const char *iv = ctr_meta(r, "go_snapshot_interval_ns");
	struct pfsnap *p;

	if (!ctr_go_proc_count(r))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->o = o;
	p->first = true;
	p->interval = iv ? strtoull(iv, NULL, 10) : 0;
	pbw_init(&p->pkt);
	p->m = gosnapm_new(r, &ops, p);
	if (!p->m) {
		free(p);
		return NULL;
	}
	return p;
}

void pfsnap_event(struct pfsnap *p, const struct ev_header *h)
{
	if (h->type == REC_GO_SNAP)
		gosnapm_event(p->m, h);
}

int pfsnap_finish(struct pfsnap *p)
{
	int err = p->err;

	gosnapm_free(p->m);
	pbw_free(&p->pkt);
	free(p);
	return err ? -1 : 0;
}
