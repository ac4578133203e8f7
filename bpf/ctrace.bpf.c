// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Scheduler and syscall capture. Each handler fills one fixed-size record in
 * the ring buffer of the CPU it runs on and does nothing else; all
 * interpretation happens in user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ctrace.h"
#include "regs.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load. */
const volatile bool filter_syscalls = false; /* only targets' syscalls */
const volatile bool follow_forks = true;     /* children of targets become targets */
const volatile __u32 self_tgid = 0;	     /* the collector: never its syscalls */
#include "rings.bpf.h"
#include "stage.bpf.h"
#include "gotls.bpf.h"

/* Thread groups whose syscalls are recorded when filter_syscalls is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

static __always_inline void fill_header(struct ev_header *h, __u64 ts, __u16 type, __u16 size,
					__u32 cpu, __u64 pid_tgid)
{
	h->ts = ts;
	h->type = type;
	h->size = size;
	h->cpu = cpu;
	h->flags = 0;
	h->tid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
}

/*
 * bpf_get_current_pid_tgid()'s value from current's task_struct: the task
 * helper is inlined, where a helper call costs tens of ns on hosts with
 * return-thunk mitigations.
 */
static __always_inline __u64 current_ids(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return (__u64)t->tgid << 32 | (__u32)t->pid;
}

/*
 * tp_btf arguments are BTF pointers: plain loads read them (the verifier
 * turns them into fault-safe loads) at a fraction of a helper call's cost.
 */
static __always_inline void copy_comm(char *dst, struct task_struct *t)
{
	*(__u64 *)dst = *(__u64 *)&t->comm[0];
	*(__u64 *)(dst + 8) = *(__u64 *)&t->comm[8];
}

/* Older kernels call it 'state'; CO-RE picks whichever exists. */
struct task_struct___pre514 {
	long state;
};

static __always_inline unsigned int task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline int fls32(unsigned int x)
{
	int r = 0;

	if (!x)
		return 0;
	if (x & 0xffff0000) {
		x >>= 16;
		r += 16;
	}
	if (x & 0xff00) {
		x >>= 8;
		r += 8;
	}
	if (x & 0xf0) {
		x >>= 4;
		r += 4;
	}
	if (x & 0xc) {
		x >>= 2;
		r += 2;
	}
	if (x & 0x2) {
		x >>= 1;
		r += 1;
	}
	return r + 1;
}

/*
 * The value the sched_switch tracepoint prints for prev_state (the "report"
 * form viewers expect), from the raw task state: preemption is 0x100,
 * otherwise one bit of TASK_REPORT (0x7f) or 0x80 for TASK_IDLE.
 */
static __always_inline __s64 report_state(bool preempt, unsigned int state,
					  struct task_struct *prev)
{
	unsigned int s;

	if (preempt)
		return 0x100;
	s = (state | prev->exit_state) & 0x7f;
	if ((state & 0x402) == 0x402) /* TASK_IDLE */
		s = 0x80;
	if (state & (0x1000 | 0x8000)) /* RTLOCK_WAIT and FROZEN read as D */
		s = 0x2;
	return s ? 1 << (fls32(s) - 1) : 0;
}

/*
 * A thread of a Go process gets the goroutine it ran appended to its switch
 * and syscall records (sampled mode; full mode: syscall entries only); for
 * every other thread this costs one short scan of go_tls[] in .bss, no
 * helper call.
 */
static __always_inline void go_tail(struct ev_header *h, __u32 base, struct task_struct *t,
				    const struct go_tls_cfg *c)
{
	if (!c)
		return;
	h->flags |= EV_F_GO_TAIL;
	go_tls_read(t, c, (struct ev_go_tail *)((char *)h + base));
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	__u32 cpu = bpf_get_smp_processor_id();
	const struct go_tls_cfg *go = go_tls_find(prev->tgid);
	struct ev_sched_switch *e;
	struct stage *s;
	__u32 size;

	if (go && (go->flags & GO_TLS_F_ENTER_ONLY))
		go = NULL;
	size = sizeof(struct ev_sched_switch) + (go ? sizeof(struct ev_go_tail) : 0);

	e = stage_reserve(&s, cpu, EV_SCHED_SWITCH, size);
	if (!e)
		return 0;
	/* prev is the task current on this CPU. */
	fill_header(&e->h, ts, EV_SCHED_SWITCH, size, cpu,
		    (__u64)prev->tgid << 32 | (__u32)prev->pid);
	e->prev_pid = prev->pid;
	e->prev_tgid = prev->tgid;
	e->next_pid = next->pid;
	e->next_tgid = next->tgid;
	e->prev_prio = prev->prio;
	e->next_prio = next->prio;
	e->prev_state = report_state(preempt, task_state(prev), prev);
	copy_comm(e->prev_comm, prev);
	copy_comm(e->next_comm, next);
	go_tail(&e->h, sizeof(*e), prev, go);
	stage_commit(s, e, size, cpu);
	return 0;
}

static __always_inline int emit_wake(struct task_struct *p, __u16 type)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	__u32 cpu = bpf_get_smp_processor_id();
	struct ev_sched_wake *e;
	struct stage *s;

	e = stage_reserve(&s, cpu, type, sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, ts, type, sizeof(*e), cpu, current_ids());
	e->pid = p->pid;
	e->tgid = p->tgid;
	e->prio = p->prio;
	e->target_cpu = p->wake_cpu;
	copy_comm(e->comm, p);
	stage_commit(s, e, sizeof(*e), cpu);
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(handle_sched_waking, struct task_struct *p)
{
	return emit_wake(p, EV_SCHED_WAKING);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new, struct task_struct *p)
{
	return emit_wake(p, EV_SCHED_WAKEUP_NEW);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	struct ev_process_fork *e;
	__u32 ptgid, ctgid;

	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	/* A new process forked by a target is traced too, as perf does. */
	if (follow_forks && ctgid != ptgid && bpf_map_lookup_elem(&targets, &ptgid)) {
		__u8 one = 1;

		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	}
	e = reserve(bpf_get_smp_processor_id(), EV_PROCESS_FORK, sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, ts, EV_PROCESS_FORK, sizeof(*e), bpf_get_smp_processor_id(),
		    current_ids());
	e->parent_pid = BPF_CORE_READ(parent, pid);
	e->parent_tgid = ptgid;
	e->child_pid = BPF_CORE_READ(child, pid);
	e->child_tgid = ctgid;
	/* The tracepoint has no clone flags; CLONE_THREAD is what viewers need. */
	e->clone_flags = ctgid == ptgid ? 0x10000 : 0;
	BPF_CORE_READ_STR_INTO(&e->child_comm, child, comm);
	submit(e, e->h.cpu);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	struct ev_process_exec *e;

	e = reserve(bpf_get_smp_processor_id(), EV_PROCESS_EXEC, sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, ts, EV_PROCESS_EXEC, sizeof(*e), bpf_get_smp_processor_id(),
		    current_ids());
	e->pid = BPF_CORE_READ(p, pid);
	e->old_pid = old_pid;
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	submit(e, e->h.cpu);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_sched_process_exit, struct task_struct *p)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	struct ev_process_exit *e;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;

	if (group_dead)
		bpf_map_delete_elem(&targets, &tgid);
	e = reserve(bpf_get_smp_processor_id(), EV_PROCESS_EXIT, sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, ts, EV_PROCESS_EXIT, sizeof(*e), bpf_get_smp_processor_id(),
		    current_ids());
	e->h.flags = group_dead ? EXIT_GROUP_DEAD : 0;
	e->pid = BPF_CORE_READ(p, pid);
	e->tgid = tgid;
	e->prio = BPF_CORE_READ(p, prio);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	submit(e, e->h.cpu);
	return 0;
}

SEC("tp_btf/task_rename")
int BPF_PROG(handle_task_rename, struct task_struct *task, const char *comm)
{
	__u64 ts = bpf_ktime_get_boot_ns();
	struct ev_task_rename *e;

	e = reserve(bpf_get_smp_processor_id(), EV_TASK_RENAME, sizeof(*e));
	if (!e)
		return 0;
	fill_header(&e->h, ts, EV_TASK_RENAME, sizeof(*e), bpf_get_smp_processor_id(),
		    current_ids());
	e->pid = BPF_CORE_READ(task, pid);
	e->pad = 0;
	BPF_CORE_READ_STR_INTO(&e->oldcomm, task, comm);
	bpf_probe_read_kernel_str(e->newcomm, sizeof(e->newcomm), comm);
	submit(e, e->h.cpu);
	return 0;
}

static __always_inline bool want_syscalls(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (!filter_syscalls)
		return true;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/*
 * Starts a syscall record for the current task if its syscalls are wanted:
 * the filter comes before anything else, since with -p most syscalls
 * system-wide are not. A Go thread gets a goroutine tail (in sampled mode,
 * and in full mode too) at entry only: no goroutine switch can happen on a
 * thread inside a syscall, so the exit's goroutine is the entry's, and the
 * two user memory reads a tail costs are not repeated. stage_commit() ends
 * the record.
 */
static __always_inline void *sys_record(struct stage **sp, __u32 *cpup, __u16 type, __u32 size)
{
	__u64 id_tgid = current_ids();
	const struct go_tls_cfg *go = NULL;
	struct ev_header *h;
	__u32 cpu, all;
	__u64 ts;

	if (!want_syscalls(id_tgid >> 32))
		return NULL;
	if (type == EV_SYS_ENTER)
		go = go_tls_find(id_tgid >> 32);
	all = size + (go ? sizeof(struct ev_go_tail) : 0);
	ts = bpf_ktime_get_boot_ns();
	cpu = bpf_get_smp_processor_id();
	h = stage_reserve(sp, cpu, type, all);
	if (!h)
		return NULL;
	*cpup = cpu;
	fill_header(h, ts, type, all, cpu, id_tgid);
	go_tail(h, size, bpf_get_current_task_btf(), go);
	return h;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	struct ev_sys_enter *e;
	struct stage *s;
	__u32 cpu = 0;

	e = sys_record(&s, &cpu, EV_SYS_ENTER, sizeof(*e));
	if (!e)
		return 0;
	e->id = id;
	syscall_args(regs, e->args);
	stage_commit(s, e, e->h.size, cpu);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	struct ev_sys_exit *e;
	struct stage *s;
	__u32 cpu = 0;

	e = sys_record(&s, &cpu, EV_SYS_EXIT, sizeof(*e));
	if (!e)
		return 0;
	e->id = syscall_nr(regs);
	e->ret = ret;
	stage_commit(s, e, e->h.size, cpu);
	return 0;
}

/* PF_KTHREAD: kernel threads have no user stack to sample. */
#define TASK_PF_KTHREAD 0x00200000

/*
 * Whose CPU samples are kept: the targets' with -p or a command (the same
 * thread groups whose syscalls are recorded), every user thread but the
 * collector's system-wide.
 */
static __always_inline bool want_cpu_sample(__u32 tgid, struct task_struct *t)
{
	if (tgid == self_tgid || t->flags & TASK_PF_KTHREAD)
		return false;
	if (!filter_syscalls)
		return true;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/*
 * The goroutine a Go thread runs: g from its TLS, then g.goid. Only goid is
 * wanted here, read as one u64. (go_tls_read's 8-byte load at a variable
 * offset of its stack window does not pass the verifier: "misaligned stack
 * access".) t must be current.
 */
static __always_inline __s64 sample_goid(struct task_struct *t, const struct go_tls_cfg *c)
{
	__s64 goid = -1;
	__u64 g = 0;

	if (bpf_probe_read_user(&g, sizeof(g), (void *)(t->thread.fsbase + (long)c->tls_off)) || !g)
		return -1;
	if (bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + c->win_off + c->goid)))
		return -1;
	return goid;
}

/*
 * A cpu-clock tick (one software perf event per CPU, attached by user space)
 * while a wanted thread runs: its goroutine, read from its TLS as sampled
 * mode does at kernel events, and its user stack. bpf_get_stack() walks
 * frame pointers, which Go always keeps on amd64.
 */
SEC("perf_event")
int handle_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id_tgid = current_ids();
	struct task_struct *t = bpf_get_current_task_btf();
	const struct go_tls_cfg *gc;
	struct ev_cpu_sample *e;
	__u32 cpu;
	long n;

	if (!(__u32)id_tgid || !want_cpu_sample(id_tgid >> 32, t))
		return 0;
	cpu = bpf_get_smp_processor_id();
	e = reserve(cpu, EV_CPU_SAMPLE, sizeof(*e) + CPU_SAMPLE_MAX_STACK * sizeof(__u64));
	if (!e)
		return 0;
	fill_header(&e->h, bpf_ktime_get_boot_ns(), EV_CPU_SAMPLE, sizeof(*e), cpu, id_tgid);
	/*
	 * CPL 3 in the interrupted cs: user code; otherwise a syscall or fault.
	 * The context only allows whole-register loads, hence volatile.
	 */
	if ((*(volatile __u64 *)&ctx->regs.cs & 3) != 3)
		e->h.flags = CPU_SAMPLE_F_KERNEL;
	e->period_ns = ctx->sample_period > 0xffffffffull ? 0xffffffffu : ctx->sample_period;
	e->goid = -1;
	e->pad = 0;
	gc = go_tls_find(id_tgid >> 32);
	if (gc && !(gc->flags & GO_TLS_F_ENTER_ONLY))
		e->goid = sample_goid(t, gc);
	n = bpf_get_stack(ctx, e->stack, CPU_SAMPLE_MAX_STACK * sizeof(__u64), BPF_F_USER_STACK);
	e->nstack = n > 0 ? n / sizeof(__u64) : 0;
	/* The record's own size says how much of the stack is valid. */
	e->h.size = sizeof(*e) + e->nstack * sizeof(__u64);
	submit(e, cpu);
	return 0;
}
