/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The per-CPU ring buffers and drop counters every BPF object of ctrace
 * writes to (the scheduler tracer creates them; the goroutine probes reuse
 * them by fd), and the batched submit they share.
 */
#ifndef CTRACE_RINGS_BPF_H
#define CTRACE_RINGS_BPF_H

/* One ring per CPU: no cross-CPU lock on the hot path. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space creates them larger */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* resized to the CPU count */
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* Lost records, by CPU and type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_KERNEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* About a quarter of a ring's worth of typical records. */
const volatile __u32 wakeup_records = 2048;

#define MAX_CPUS 1024
__u32 batch_count[MAX_CPUS];

static __always_inline void count_drop(__u32 type)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &type);

	if (n)
		(*n)++;
}

/* A record of size bytes in this CPU's ring, or NULL (counted as a drop). */
static __always_inline void *reserve(__u32 cpu, __u32 type, __u32 size)
{
	void *rb = bpf_map_lookup_elem(&rings, &cpu);
	void *rec;

	if (!rb) {
		count_drop(type);
		return NULL;
	}
	rec = bpf_ringbuf_reserve(rb, size, 0);
	if (!rec)
		count_drop(type);
	return rec;
}

/*
 * Wake the collector once per batch of records, not per record; it also
 * drains on a timer. A per-CPU count in .bss costs no helper call, which
 * matters where every call and return is expensive (retpolines, return
 * thunks). n: records being handed over.
 */
static __always_inline __u64 wakeup_flags(__u32 cpu, __u32 n)
{
	__u32 *c = &batch_count[cpu & (MAX_CPUS - 1)];

	*c += n;
	if (*c < wakeup_records)
		return BPF_RB_NO_WAKEUP;
	*c = 0;
	return BPF_RB_FORCE_WAKEUP;
}

static __always_inline void submit(void *rec, __u32 cpu)
{
	bpf_ringbuf_submit(rec, wakeup_flags(cpu, 1));
}

#endif /* CTRACE_RINGS_BPF_H */
