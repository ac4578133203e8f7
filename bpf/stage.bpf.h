/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Batched records for the hottest handlers (struct stage in ctrace.h): an
 * inlined array lookup and two xchg per event, where a ring reserve and
 * submit are two helper calls and a lock each. Needs rings.bpf.h.
 */
#ifndef CTRACE_STAGE_BPF_H
#define CTRACE_STAGE_BPF_H

/*
 * Off for now: a batch reaches the file after records stamped later on the
 * same CPU, so a capture cut short loses records from the middle of a
 * CPU's stream, and a handler preempted while it holds the stage (syscall
 * tracepoints may fault, so they run preemptible) can land behind the
 * collector's watermark; and a batch in the ring carries no mark that
 * tells it from one record reserved larger than its h.size. Until the
 * reader, the watermark and the ring format account for these, every
 * record goes straight to the ring.
 */
const volatile bool use_stages = false;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* the collector takes batches in place */
	__uint(max_entries, 1);		   /* resized to the CPU count */
	__type(key, __u32);
	__type(value, struct stage);
} stages SEC(".maps");

static __always_inline void count_drops(__u32 idx, __u64 n)
{
	__u64 *d = bpf_map_lookup_elem(&drops, &idx);

	if (d)
		*d += n;
}

/* Hands the batch to the ring as one record; the collector splits it. */
static __always_inline void stage_flush(struct stage *s, __u32 cpu)
{
	void *rb = bpf_map_lookup_elem(&rings, &cpu);
	__u32 len = s->len, n = s->n;

	if (len > STAGE_BYTES) /* only a bug could; don't read past buf */
		len = 0;
	if (len && (!rb || bpf_ringbuf_output(rb, s->buf, len, wakeup_flags(cpu, n))))
		count_drops(DROP_STAGED, n);
	s->len = 0;
	s->n = 0;
}

/*
 * Room for a record of up to STAGE_REC_MAX bytes: in the CPU's stage (*sp
 * set, the stage held until stage_commit), or else in its ring.
 */
static __always_inline void *stage_reserve(struct stage **sp, __u32 cpu, __u32 type, __u32 size)
{
	struct stage *s;
	__u32 len;

	*sp = NULL;
	if (!use_stages)
		return reserve(cpu, type, size);
	s = bpf_map_lookup_elem(&stages, &cpu);
	if (!s || __sync_lock_test_and_set(&s->busy, 1))
		return reserve(cpu, type, size);
	len = s->len;
	if (len > STAGE_BYTES - STAGE_REC_MAX) {
		stage_flush(s, cpu);
		len = 0;
	}
	*sp = s;
	return s->buf + len;
}

/* size must be the record's h.size, a multiple of 8. */
static __always_inline void stage_commit(struct stage *s, void *rec, __u32 size, __u32 cpu)
{
	if (!s) {
		submit(rec, cpu);
		return;
	}
	s->len += size;
	s->n++;
	/* xchg, not a plain store: a full barrier on every architecture. */
	__sync_lock_test_and_set(&s->busy, 0);
}

#endif /* CTRACE_STAGE_BPF_H */
