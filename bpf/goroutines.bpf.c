// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine transitions from uprobes on the Go runtime's scheduler. One
 * program serves every probe; the attach cookie says which runtime function
 * fired and how that function's stack check reads. Probes sit on the
 * conditional jump of the stack check, which the kernel emulates, instead of
 * the function's first instruction, which it would single-step.
 *
 * The rings and drop counters are the scheduler tracer's (shared by fd), so
 * goroutine and kernel records share one stream per CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ctrace.h"
#include "regs.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 wakeup_bytes = 256 * 1024;

struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_KERNEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct go_cfg);
} go_cfgs SEC(".maps");

/* Most goroutines injectglist hands over in one call that we report. */
#define INJECT_MAX 32

static __always_inline void count_drop(__u32 type)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &type);

	if (n)
		(*n)++;
}

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

static __always_inline __u64 field(__u64 base, __s16 off)
{
	if (!base || off < 0)
		return 0;
	return read_u64(base + off);
}

/* Walks frame pointers from a saved (pc, bp) pair; returns frames stored. */
static __always_inline __u8 walk_stack(__u64 *out, __u32 depth, __u64 pc, __u64 bp)
{
	__u8 n = 0;

	for (int i = 0; i < GO_MAX_STACK; i++) {
		if (i >= depth || !pc)
			break;
		out[i] = pc;
		n++;
		if (!bp)
			break;
		pc = read_u64(bp + 8);
		bp = read_u64(bp);
	}
	return n;
}

static __always_inline int emit(__u16 type, const struct go_cfg *cfg, __u64 gp, __s64 other,
				__u64 pc, __u64 pc2, __s32 p, __u8 kind, __u64 stack_g, bool stack)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 size = sizeof(struct ev_go) + GO_MAX_STACK * sizeof(__u64);
	__u64 flags = BPF_RB_NO_WAKEUP;
	struct ev_go *e;
	void *rb;

	rb = bpf_map_lookup_elem(&rings, &cpu);
	if (!rb) {
		count_drop(type);
		return 0;
	}
	/* Reserve the largest size: the ring API needs a constant. */
	e = bpf_ringbuf_reserve(rb, sizeof(struct ev_go) + GO_MAX_STACK * sizeof(__u64), 0);
	if (!e) {
		count_drop(type);
		return 0;
	}
	e->h.ts = bpf_ktime_get_boot_ns();
	e->h.type = type;
	e->h.cpu = cpu;
	e->h.flags = 0;
	e->h.tid = (__u32)id;
	e->h.tgid = id >> 32;
	e->g = gp;
	e->goid = field(gp, cfg->g_goid);
	e->other_goid = other;
	e->pc = pc;
	e->pc2 = pc2;
	e->p = p;
	e->kind = kind;
	e->reason = 0;
	if (cfg->g_waitreason >= 0 && (type == EV_GO_BLOCK || type == EV_GO_UNBLOCK)) {
		__u8 r = 0;

		bpf_probe_read_user(&r, 1, (void *)(gp + cfg->g_waitreason));
		e->reason = r;
	}
	e->nstack = 0;
	if (stack && stack_g && cfg->g_sched_pc >= 0 && cfg->g_sched_bp >= 0)
		e->nstack = walk_stack(e->stack, cfg->stack_depth, field(stack_g, cfg->g_sched_pc),
				       field(stack_g, cfg->g_sched_bp));
	/* The record's own size says how much of the stack is valid. */
	e->h.size = sizeof(struct ev_go) + e->nstack * sizeof(__u64);
	(void)size;
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	return 0;
}

static __always_inline int go_probe(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 guard = GP_COOKIE_GUARD(cookie);
	const struct go_cfg *cfg;
	__u64 g, m, curg, pp, gp;
	__s64 curgoid;
	__s32 pid = -1;

	cfg = bpf_map_lookup_elem(&go_cfgs, &tgid);
	if (!cfg)
		return 0;
	g = go_g_register(ctx);
	/*
	 * The stack check is about to branch to morestack, which re-enters the
	 * function from its start: count only the entry that goes on.
	 */
	if (guard) {
		__u64 limit = read_u64(g + guard);
		__u64 r12 = go_r12(ctx), sp = PT_REGS_SP(ctx);

		/* Keep both loads: the verifier rejects a ctx read at a variable offset. */
		asm volatile("" : "+r"(r12), "+r"(sp));
		if (GP_COOKIE_R12(cookie))
			sp = r12;
		if (sp <= limit)
			return 0;
	}
	m = field(g, cfg->g_m);
	curg = field(m, cfg->m_curg);
	pp = field(m, cfg->m_p);
	if (pp && cfg->p_id >= 0) {
		__s32 v = -1;

		bpf_probe_read_user(&v, sizeof(v), (void *)(pp + cfg->p_id));
		pid = v;
	}
	curgoid = curg ? (__s64)field(curg, cfg->g_goid) : 0;

	switch (GP_COOKIE_PROBE(cookie)) {
	case GP_EXECUTE:
		return emit(EV_GO_START, cfg, go_arg0(ctx), 0, 0, 0, pid, 0, 0, false);
	case GP_PARK_M:
		gp = go_arg0(ctx);
		return emit(EV_GO_BLOCK, cfg, gp, 0, 0, 0, pid, 0, gp, true);
	case GP_READY:
		/* Called on the system stack: the waker is the M's user goroutine. */
		return emit(EV_GO_UNBLOCK, cfg, go_arg0(ctx), curgoid, 0, 0, pid,
			    GO_UNBLOCK_READY, curg, true);
	case GP_GOEXIT0:
		return emit(EV_GO_EXIT, cfg, go_arg0(ctx), 0, 0, 0, pid, 0, 0, false);
	case GP_GOSCHED_M:
		gp = go_arg0(ctx);
		return emit(EV_GO_SCHED, cfg, gp, 0, 0, 0, pid, GO_SCHED_YIELD, gp, true);
	case GP_GOPREEMPT_M:
		gp = go_arg0(ctx);
		return emit(EV_GO_SCHED, cfg, gp, 0, 0, 0, pid, GO_SCHED_PREEMPT, gp, true);
	case GP_PREEMPT_PARK:
		gp = go_arg0(ctx);
		return emit(EV_GO_SCHED, cfg, gp, 0, 0, 0, pid, GO_SCHED_PREEMPT_PARK, gp, true);
	case GP_GOSCHEDIMPL:
		gp = go_arg0(ctx);
		return emit(EV_GO_SCHED, cfg, gp, 0, 0, 0, pid,
			    (go_arg1(ctx) & 1) ? GO_SCHED_PREEMPT : GO_SCHED_YIELD, gp, true);
	case GP_EXITSYSCALL0:
		return emit(EV_GO_SCHED, cfg, go_arg0(ctx), 0, 0, 0, pid, GO_SCHED_SYSCALL, 0,
			    false);
	case GP_NEWPROC:
		gp = go_arg1(ctx);
		return emit(EV_GO_CREATE, cfg, gp, curgoid, field(gp, cfg->g_startpc),
			    field(gp, cfg->g_gopc), pid, 0, curg, true);
	case GP_INJECTGLIST: {
		/* glist *gList: its first word is the head g; g.schedlink links them. */
		__u64 next = read_u64(go_arg0(ctx));

		for (int i = 0; i < INJECT_MAX && next; i++) {
			emit(EV_GO_UNBLOCK, cfg, next, curgoid, 0, 0, pid, GO_UNBLOCK_INJECT, 0,
			     false);
			next = field(next, cfg->g_schedlink);
		}
		return 0;
	}
	}
	return 0;
}

/*
 * Two entry points for the same handler: one uprobe-multi link attaches
 * every probe of a process at once (fast to set up and tear down); kernels
 * without it get one perf-event uprobe per probe.
 */
SEC("uprobe")
int handle_go(struct pt_regs *ctx)
{
	return go_probe(ctx);
}

SEC("uprobe")
int handle_go_multi(struct pt_regs *ctx)
{
	return go_probe(ctx);
}
