// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine transitions from uprobes on the Go runtime's scheduler. One
 * program serves every probe; the attach cookie says which runtime function
 * fired and how that function's stack check reads. Probes sit on the
 * conditional jump of the stack check, which the kernel emulates, instead of
 * the function's first instruction, which it would single-step.
 *
 * Helper calls are the expensive part of a hit on this kind of machine
 * (every call and return pays for retpolines and return thunks), so memory
 * is read in a few large pieces: the g, m and p structs once each, and the
 * stack a kilobyte at a time, instead of one read per field or frame.
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

#include "rings.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GO_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct go_cfg);
} go_cfgs SEC(".maps");

/* Bytes of a struct read at once; user space checks offsets fit (GO_STRUCT_READ). */
#define SREAD	 GO_STRUCT_READ
#define STK_READ 1024

struct scratch {
	__u8 g[SREAD];	 /* the goroutine the event is about */
	__u8 cur[SREAD]; /* the probing M's g (usually g0), then its m, its p */
	__u8 m[SREAD];
	__u8 actor[SREAD]; /* the waker or creator goroutine */
	__u8 stk[STK_READ];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/*
 * Probe hits per process slot, read by the overhead governor in user space
 * (auto mode): hits times the calibrated cost of a hit estimates what the
 * probes cost the target.
 */
__u64 go_hits[GO_MAX_PROCS];

/* Most goroutines injectglist hands over in one call that we report. */
#define INJECT_MAX 32

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

static __always_inline void read_field(__u8 *buf, __u64 addr, __s16 off, __u32 size)
{
	__u32 o = off;

	if (off < 0 || o > SREAD - 8)
		return;
	bpf_probe_read_user(buf + o, size, (void *)(addr + o));
}

/*
 * Copies a struct's first SREAD bytes. A struct may end in a page the
 * process never touched, which a probe cannot fault in: then the fields the
 * probes use are read one by one. False if the struct is not readable.
 */
static __always_inline bool read_struct(__u8 *buf, __u64 addr, const struct go_cfg *c)
{
	if (!addr)
		goto none;
	if (!bpf_probe_read_user(buf, SREAD, (void *)addr))
		return true;
	__builtin_memset(buf, 0, SREAD);
	if (bpf_probe_read_user(buf, 8, (void *)addr))
		goto none;
	read_field(buf, addr, 16, 8); /* stackguard0 */
	read_field(buf, addr, 24, 8); /* stackguard1 */
	read_field(buf, addr, c->g_goid, 8);
	read_field(buf, addr, c->g_m, 8);
	read_field(buf, addr, c->g_waitreason, 1);
	read_field(buf, addr, c->g_startpc, 8);
	read_field(buf, addr, c->g_gopc, 8);
	read_field(buf, addr, c->g_schedlink, 8);
	read_field(buf, addr, c->g_sched_pc, 8);
	read_field(buf, addr, c->g_sched_bp, 8);
	read_field(buf, addr, c->m_curg, 8);
	read_field(buf, addr, c->m_p, 8);
	return true;
none:
	__builtin_memset(buf, 0, 8);
	return false;
}

static __always_inline __u64 get64(const __u8 *buf, __s16 off)
{
	__u32 o = off;

	if (off < 0 || o > SREAD - 8)
		return 0;
	return *(const __u64 *)(buf + o);
}

static __always_inline __u8 get8(const __u8 *buf, __s16 off)
{
	__u32 o = off;

	if (off < 0 || o > SREAD - 1)
		return 0;
	return buf[o];
}

/*
 * Walks frame pointers from a saved (pc, bp): [bp] is the caller's bp,
 * [bp+8] the return address. Frames sit close together, so one read of the
 * stack above bp usually serves the whole walk.
 */
static __always_inline __u8 walk_stack(__u64 *out, __u8 *stk, __u32 depth, __u64 pc, __u64 bp)
{
	__u64 base = 0;
	bool have = false;
	__u8 n = 0;

	for (int i = 0; i < GO_MAX_STACK; i++) {
		__u64 off;

		if (i >= depth || !pc)
			break;
		out[i] = pc;
		n++;
		if (!bp)
			break;
		off = bp - base;
		if (!have || bp < base || off > STK_READ - 16) {
			if (bpf_probe_read_user(stk, STK_READ, (void *)bp) &&
			    bpf_probe_read_user(stk, 16, (void *)bp))
				break;
			base = bp;
			have = true;
			off = 0;
		}
		off &= STK_READ - 1;
		if (off > STK_READ - 16)
			break;
		pc = *(__u64 *)(stk + off + 8);
		bp = *(__u64 *)(stk + off);
	}
	return n;
}

struct hit {
	const struct go_cfg *cfg;
	struct scratch *s;
	__u64 pid_tgid;
	__s32 p;
};

/* One record about the goroutine whose struct is in s->g. */
static __always_inline int emit(struct hit *x, __u16 type, __u64 gp, __s64 other, __u8 kind,
				const __u8 *stack_of)
{
	const struct go_cfg *cfg = x->cfg;
	__u32 cpu = bpf_get_smp_processor_id();
	struct ev_go *e;

	/* Reserve the largest size: the ring API needs a constant. */
	e = reserve(cpu, type, sizeof(struct ev_go) + GO_MAX_STACK * sizeof(__u64));
	if (!e)
		return 0;
	e->h.ts = bpf_ktime_get_boot_ns();
	e->h.type = type;
	e->h.cpu = cpu;
	e->h.flags = 0;
	e->h.tid = (__u32)x->pid_tgid;
	e->h.tgid = x->pid_tgid >> 32;
	e->g = gp;
	e->goid = get64(x->s->g, cfg->g_goid);
	e->other_goid = other;
	e->pc = 0;
	e->pc2 = 0;
	if (type == EV_GO_CREATE) {
		e->pc = get64(x->s->g, cfg->g_startpc);
		e->pc2 = get64(x->s->g, cfg->g_gopc);
	}
	e->p = x->p;
	e->kind = kind;
	e->reason = 0;
	if (type == EV_GO_BLOCK || type == EV_GO_UNBLOCK)
		e->reason = get8(x->s->g, cfg->g_waitreason);
	e->nstack = 0;
	if (stack_of)
		e->nstack =
		    walk_stack(e->stack, x->s->stk, cfg->stack_depth,
			       get64(stack_of, cfg->g_sched_pc), get64(stack_of, cfg->g_sched_bp));
	/* The record's own size says how much of the stack is valid. */
	e->h.size = sizeof(struct ev_go) + e->nstack * sizeof(__u64);
	submit(e, cpu);
	return 0;
}

/*
 * handoffp(pp): the P leaves its M. For sysmon's retake of a P in a syscall
 * this is the moment Go's own trace writes GoSysBlock; the writer finds the
 * goroutine from the P. goid: the probing M's goroutine (entersyscallblock's
 * own; 0 for sysmon, which has none).
 */
static __always_inline int emit_handoff(struct hit *x, __u64 pp, __s64 goid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct ev_go *e;
	__s32 id = -1;

	if (!pp || x->cfg->p_id < 0)
		return 0;
	if (bpf_probe_read_user(&id, sizeof(id), (void *)(pp + x->cfg->p_id)))
		return 0;
	e = reserve(cpu, EV_GO_HANDOFF, sizeof(struct ev_go));
	if (!e)
		return 0;
	e->h.ts = bpf_ktime_get_boot_ns();
	e->h.type = EV_GO_HANDOFF;
	e->h.size = sizeof(struct ev_go);
	e->h.cpu = cpu;
	e->h.flags = 0;
	e->h.tid = (__u32)x->pid_tgid;
	e->h.tgid = x->pid_tgid >> 32;
	e->g = 0;
	e->goid = goid;
	e->other_goid = 0;
	e->pc = 0;
	e->pc2 = 0;
	e->p = id;
	e->reason = 0;
	e->kind = 0;
	e->nstack = 0;
	submit(e, cpu);
	return 0;
}

static __always_inline int go_probe(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 guard = GP_COOKIE_GUARD(cookie), probe = GP_COOKIE_PROBE(cookie);
	struct hit x = {.p = -1};
	__u64 m, curg, pp, gp;
	__s64 curgoid = 0;
	__u32 slot = GP_COOKIE_SLOT(cookie), zero = 0;

	x.pid_tgid = bpf_get_current_pid_tgid();
	x.cfg = bpf_map_lookup_elem(&go_cfgs, &slot);
	if (!x.cfg || x.cfg->tgid != x.pid_tgid >> 32)
		return 0;
	__sync_fetch_and_add(&go_hits[slot & (GO_MAX_PROCS - 1)], 1);
	x.s = bpf_map_lookup_elem(&scratch, &zero);
	if (!x.s)
		return 0;
	/* The probing M's g (R14; g0 in these functions) gives its m and stack guard. */
	read_struct(x.s->cur, go_g_register(ctx), x.cfg);
	/*
	 * The stack check is about to branch to morestack, which re-enters the
	 * function from its start: count only the entry that goes on.
	 */
	if (guard) {
		__u64 limit = get64(x.s->cur, guard);
		__u64 r12 = go_r12(ctx), sp = PT_REGS_SP(ctx);

		/* Keep both loads: the verifier rejects a ctx read at a variable offset. */
		asm volatile("" : "+r"(r12), "+r"(sp));
		if (GP_COOKIE_R12(cookie))
			sp = r12;
		if (sp <= limit)
			return 0;
	}
	m = get64(x.s->cur, x.cfg->g_m);
	read_struct(x.s->m, m, x.cfg);
	pp = get64(x.s->m, x.cfg->m_p);
	curg = get64(x.s->m, x.cfg->m_curg);
	/* p.id is the struct's first field in every version; read it alone. */
	if (pp && x.cfg->p_id >= 0) {
		__s32 v = -1;

		bpf_probe_read_user(&v, sizeof(v), (void *)(pp + x.cfg->p_id));
		x.p = v;
	}
	/* The waker or creator: the M's user goroutine (these run on g0). */
	if (curg && (probe == GP_READY || probe == GP_NEWPROC || probe == GP_INJECTGLIST ||
		     probe == GP_HANDOFFP)) {
		read_struct(x.s->actor, curg, x.cfg);
		curgoid = get64(x.s->actor, x.cfg->g_goid);
	}

	gp = probe == GP_NEWPROC ? go_arg1(ctx) : go_arg0(ctx);
	if (probe == GP_HANDOFFP)
		return emit_handoff(&x, gp, curgoid);
	if (probe != GP_INJECTGLIST && !read_struct(x.s->g, gp, x.cfg))
		return 0;

	switch (probe) {
	case GP_EXECUTE:
		return emit(&x, EV_GO_START, gp, 0, 0, NULL);
	case GP_PARK_M:
		return emit(&x, EV_GO_BLOCK, gp, 0, 0, x.s->g);
	case GP_READY:
		return emit(&x, EV_GO_UNBLOCK, gp, curgoid, GO_UNBLOCK_READY,
			    curg ? x.s->actor : NULL);
	case GP_GOEXIT0:
		return emit(&x, EV_GO_EXIT, gp, 0, 0, NULL);
	case GP_GOSCHED_M:
		return emit(&x, EV_GO_SCHED, gp, 0, GO_SCHED_YIELD, x.s->g);
	case GP_GOPREEMPT_M:
		return emit(&x, EV_GO_SCHED, gp, 0, GO_SCHED_PREEMPT, x.s->g);
	case GP_PREEMPT_PARK:
		return emit(&x, EV_GO_SCHED, gp, 0, GO_SCHED_PREEMPT_PARK, x.s->g);
	case GP_GOSCHEDIMPL:
		return emit(&x, EV_GO_SCHED, gp, 0,
			    (go_arg1(ctx) & 1) ? GO_SCHED_PREEMPT : GO_SCHED_YIELD, x.s->g);
	case GP_EXITSYSCALL0:
		return emit(&x, EV_GO_SCHED, gp, 0, GO_SCHED_SYSCALL, NULL);
	case GP_NEWPROC:
		return emit(&x, EV_GO_CREATE, gp, curgoid, 0, curg ? x.s->actor : NULL);
	case GP_INJECTGLIST: {
		/* glist *gList: its first word is the head g; g.schedlink links them. */
		__u64 next = read_u64(gp);

		for (int i = 0; i < INJECT_MAX && next; i++) {
			if (!read_struct(x.s->g, next, x.cfg))
				break;
			emit(&x, EV_GO_UNBLOCK, next, curgoid, GO_UNBLOCK_INJECT, NULL);
			next = get64(x.s->g, x.cfg->g_schedlink);
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

/*
 * Calibration of a probe hit on this machine: the collector probes a nop of
 * its own and times it. The work mirrors a typical transition: the g and m
 * structs read once each, a record reserved (then discarded, so nothing
 * reaches the capture).
 */
SEC("uprobe")
int go_calib(struct pt_regs *ctx)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	void *rec;

	if (!s)
		return 0;
	bpf_probe_read_user(s->cur, SREAD, (void *)PT_REGS_SP(ctx));
	bpf_probe_read_user(s->m, SREAD, (void *)PT_REGS_SP(ctx));
	rec = reserve(cpu, EV_GO_SCHED, sizeof(struct ev_go) + 16 * sizeof(__u64));
	if (rec)
		bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
	return 0;
}

/* The reference the benchmarks compare a hit with: an empty uprobe program. */
SEC("uprobe")
int go_calib_empty(struct pt_regs *ctx)
{
	return 0;
}
