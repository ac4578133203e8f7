/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records shared by the BPF programs, the collector and the capture file.
 *
 * Every record, kernel- or user-generated, starts with struct ev_header, so a
 * reader can skip any record it does not know by its size. Layouts are
 * little-endian host structs; the capture format (docs/ctr-format.md) is
 * defined in terms of them, so they only ever grow at the end and a new
 * version bumps CTR_VERSION.
 */
#ifndef CTRACE_H
#define CTRACE_H

#define TASK_COMM_LEN	  16
#define EXEC_FILENAME_LEN 128
#define SYSCALL_NARGS	  6

/* Record types written by the kernel side. */
enum ev_type {
	EV_SCHED_SWITCH = 1,
	EV_SCHED_WAKING = 2,
	EV_SCHED_WAKEUP_NEW = 3,
	EV_PROCESS_FORK = 4,
	EV_PROCESS_EXEC = 5,
	EV_PROCESS_EXIT = 6,
	EV_SYS_ENTER = 7,
	EV_SYS_EXIT = 8,
	EV_TASK_RENAME = 9,

	/* 32..63: Go runtime (goroutine) records, struct ev_go. */
	EV_GO_CREATE = 32,  /* newproc: g is new, other_goid the creator */
	EV_GO_START = 33,   /* execute: g starts running on this thread */
	EV_GO_BLOCK = 34,   /* park_m: g parks, reason = its wait reason */
	EV_GO_UNBLOCK = 35, /* ready/injectglist: g made runnable by other_goid */
	EV_GO_SCHED = 36,   /* g stops running but stays runnable; kind says why */
	EV_GO_EXIT = 37,    /* goexit0 */
	EV_CPU_SAMPLE = 38, /* sampled mode: a CPU-clock sample of a target thread */
	/*
	 * handoffp: P p leaves its M (sysmon's retake of a P in a syscall,
	 * entersyscallblock, ...); struct ev_go without a stack, goid the
	 * probing M's own goroutine (0: none, as for sysmon), g 0.
	 */
	EV_GO_HANDOFF = 39,
	EV_KERNEL_MAX = 64, /* kernel records are below; drops are counted per type */

	/* Records written by the collector into the capture. */
	REC_META = 64,	    /* payload: key\0value\0 ... */
	REC_TASK = 65,	    /* struct rec_task */
	REC_STATS = 66,	    /* struct rec_stats */
	REC_WATERMARK = 67, /* every event with ts < header.ts has been written */
	REC_END = 68,	    /* struct rec_end: clean end of capture */
	REC_GO_PROC = 69,   /* struct rec_go_proc: a traced Go process */
	REC_GO_G = 70,	    /* struct rec_go_g: a goroutine alive at attach */
	REC_GO_SYM = 71,    /* struct rec_go_sym: pc -> function, file, line */
	REC_GO_SNAP = 72,   /* sampled mode: goroutines read from the target's memory */
	REC_GO_MODE = 73,   /* goroutine tracing changed mode (full, sampled, off) */
};

/*
 * h.flags bit of EV_SCHED_SWITCH, EV_SYS_ENTER and EV_SYS_EXIT: the record
 * ends in a struct ev_go_tail, the goroutine the thread ran (for a switch,
 * the thread switched out) read from its TLS. Only target threads of Go
 * processes carry one: in sampled mode every such record, in full mode only
 * EV_SYS_ENTER (GO_TLS_F_ENTER_ONLY), whose goroutine status tells a
 * goroutine's syscall (_Gsyscall, through entersyscall) from the runtime's.
 */
#define EV_F_GO_TAIL 0x8000

/*
 * ts: CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns).
 * cpu: CPU the event happened on. tid/tgid: the task current on that CPU
 * (ftrace's common_pid), 0 for the idle task.
 */
struct ev_header {
	__u64 ts;
	__u16 type;
	__u16 size; /* whole record, header included */
	__u16 cpu;
	__u16 flags;
	__u32 tid;
	__u32 tgid;
};

/* prev_state is already in the tracepoint's report form (0, 1, 2, ... 0x100). */
struct ev_sched_switch {
	struct ev_header h;
	__u32 prev_pid;
	__u32 prev_tgid;
	__u32 next_pid;
	__u32 next_tgid;
	__s32 prev_prio;
	__s32 next_prio;
	__s64 prev_state;
	char prev_comm[TASK_COMM_LEN];
	char next_comm[TASK_COMM_LEN];
};

/* EV_SCHED_WAKING and EV_SCHED_WAKEUP_NEW. The waker is h.tid. */
struct ev_sched_wake {
	struct ev_header h;
	__u32 pid;
	__u32 tgid;
	__s32 prio;
	__s32 target_cpu;
	char comm[TASK_COMM_LEN];
};

struct ev_process_fork {
	struct ev_header h;
	__u32 parent_pid;
	__u32 parent_tgid;
	__u32 child_pid;
	__u32 child_tgid;
	__u64 clone_flags;
	char child_comm[TASK_COMM_LEN];
};

struct ev_process_exec {
	struct ev_header h;
	__u32 pid;
	__u32 old_pid;
	char comm[TASK_COMM_LEN];
	char filename[EXEC_FILENAME_LEN];
};

/* flags bit 0: the whole thread group is gone (group_dead). */
#define EXIT_GROUP_DEAD 1
struct ev_process_exit {
	struct ev_header h;
	__u32 pid;
	__u32 tgid;
	__s32 prio;
	__s32 exit_code;
	char comm[TASK_COMM_LEN];
};

struct ev_sys_enter {
	struct ev_header h;
	__s64 id;
	__u64 args[SYSCALL_NARGS];
};

struct ev_sys_exit {
	struct ev_header h;
	__s64 id;
	__s64 ret;
};

struct ev_task_rename {
	struct ev_header h;
	__u32 pid;
	__u32 pad;
	char oldcomm[TASK_COMM_LEN];
	char newcomm[TASK_COMM_LEN];
};

/* EV_GO_SCHED kinds */
enum go_sched_kind {
	GO_SCHED_YIELD = 1,	   /* runtime.Gosched */
	GO_SCHED_PREEMPT = 2,	   /* preempted at a safe point (sysmon, morestack) */
	GO_SCHED_PREEMPT_PARK = 3, /* async preemption parked for the GC */
	GO_SCHED_SYSCALL = 4,	   /* left a syscall without a P: queued (exitsyscall0) */
};

/* EV_GO_UNBLOCK sources */
enum go_unblock_kind {
	GO_UNBLOCK_READY = 1,  /* runtime.ready: chan, sync, timers, ... */
	GO_UNBLOCK_INJECT = 2, /* injectglist: netpoller and GC batches */
};

#define GO_MAX_STACK 32

/*
 * One goroutine transition. h.tid is the OS thread that ran the probe.
 * stack[] holds nstack return addresses (innermost first): for BLOCK and
 * SCHED the goroutine's own stack, for CREATE and UNBLOCK the acting
 * goroutine's (creator's or waker's).
 */
struct ev_go {
	struct ev_header h;
	__u64 g; /* runtime.g address */
	__s64 goid;
	__s64 other_goid; /* creator or waker goid; 0: the runtime itself */
	__u64 pc;	  /* CREATE: start pc */
	__u64 pc2;	  /* CREATE: go statement pc */
	__s32 p;	  /* P id of the probing M, -1 without a P */
	__u16 reason;	  /* BLOCK/UNBLOCK: the goroutine's wait reason code */
	__u8 kind;	  /* go_sched_kind / go_unblock_kind */
	__u8 nstack;
	__u64 stack[]; /* nstack entries */
};

/*
 * Sampled mode's goroutine at a kernel event. goid 0: g0 or gsignal, the
 * runtime itself; -1: no g could be read (not a Go thread yet, or TLS not
 * set up).
 */
struct ev_go_tail {
	__s64 goid;
	__u32 status; /* g.atomicstatus, scan bit included */
	__u16 reason; /* g.waitreason */
	__u16 pad;
};

/*
 * Where sampled mode finds the running g of a Go process's threads, and the
 * fields it reads from it: one read of GO_TLS_WINDOW bytes at g + win_off.
 */
#define GO_TLS_WINDOW 48
struct go_tls_cfg {
	__u32 tgid;    /* 0: free slot */
	__s32 tls_off; /* the g pointer is at FS base + tls_off */
	__u16 win_off; /* offset in g of the window read */
	__u16 goid;    /* offsets inside the window */
	__u16 status;
	__u16 reason;
	__u32 flags; /* GO_TLS_F_* */
};
/* Only EV_SYS_ENTER records get a tail (full mode). */
#define GO_TLS_F_ENTER_ONLY 0x1

/*
 * The goroutine probes copy this many leading bytes of a g or m at once;
 * every offset they use must fall inside (user space checks).
 */
#define GO_STRUCT_READ 384

/* Per traced Go process, keyed by tgid: where to find fields. -1: absent. */
struct go_cfg {
	__s16 g_goid, g_m, g_waitreason, g_startpc, g_gopc, g_schedlink;
	__s16 g_sched_pc, g_sched_bp;
	__s16 m_curg, m_p;
	__s16 p_id;
	__u16 stack_depth;
	__u32 tgid; /* the process this slot serves; 0: free */
};

/* Goroutine-probed processes at most (slots of the go_cfgs array). */
#define GO_MAX_PROCS 64

/* Uprobe cookie: which runtime function, and how its stack check reads. */
enum go_probe {
	GP_EXECUTE = 1,
	GP_PARK_M,
	GP_READY,
	GP_GOEXIT0,
	GP_GOSCHED_M,
	GP_GOPREEMPT_M,
	GP_PREEMPT_PARK,
	GP_NEWPROC, /* at newproc's call to runqput: BX = the new g */
	GP_INJECTGLIST,
	GP_EXITSYSCALL0,
	GP_GOSCHEDIMPL, /* go1.22+: goschedImpl(gp, preempted) */
	GP_HANDOFFP,	/* handoffp(pp): AX = the P */
};
#define GP_COOKIE(probe, guard_disp, cmp_r12)                                                      \
	((__u64)(probe) | ((__u64)(guard_disp) << 8) | ((__u64)(cmp_r12) << 16))
#define GP_COOKIE_PROBE(c) ((c)&0xff)
#define GP_COOKIE_GUARD(c) (((c) >> 8) & 0xff)
#define GP_COOKIE_R12(c)   (((c) >> 16) & 1)
/* The process's go_cfgs slot: an array lookup, which costs no helper call. */
#define GP_COOKIE_SLOT(c) (((c) >> 24) & 0xff)

/*
 * EV_CPU_SAMPLE: a cpu-clock sample of a target thread (h.tid/h.tgid), taken
 * every period_ns of CPU time it used. stack[] holds the thread's user stack
 * walked by frame pointers, innermost first: stack[0] is the interrupted
 * user pc, the rest return addresses. The record is variable-length: h.size
 * is sizeof(struct ev_cpu_sample) + nstack * 8.
 */
#define CPU_SAMPLE_MAX_STACK 64
#define CPU_SAMPLE_F_KERNEL  0x1 /* h.flags: the thread was in the kernel (syscall, fault) */
struct ev_cpu_sample {
	struct ev_header h;
	__s64 goid;	 /* the Go thread's goroutine (0: g0/gsignal); -1 unknown or not Go */
	__u32 period_ns; /* CPU time the sample stands for */
	__u16 nstack;
	__u16 pad;
	__u64 stack[]; /* nstack entries */
};

/* ---- collector records ---- */

#define TASK_IS_KTHREAD 1
/* A process or thread known to the collector; cmdline is NUL-separated. */
struct rec_task {
	struct ev_header h; /* h.tid/h.tgid are the task's own ids */
	__u32 ppid;
	__u32 task_flags;
	char comm[TASK_COMM_LEN];
	__u32 cmdline_len;
	char cmdline[]; /* cmdline_len bytes */
};

/* Cumulative counts, last one wins. */
struct rec_stats {
	struct ev_header h;
	__u64 events;		    /* records received from the kernel */
	__u64 drops[EV_KERNEL_MAX]; /* lost in the kernel, by type */
	__u64 drops_total;
	__u64 reserved[8];
};

enum end_reason {
	END_DURATION = 1,
	END_SIGNAL = 2,
	END_TARGET_EXITED = 3,
	END_COMMAND_EXITED = 4,
};

/*
 * h.ts: the stop time. Every kernel record stamped up to it was drained and
 * written; every later one was left out, on all CPUs alike. h.flags: the
 * signal that stopped the recording (END_SIGNAL), else 0.
 */
struct rec_end {
	struct ev_header h;
	__u32 reason;
	__s32 cmd_status; /* wait status of a launched command, -1 if none */
};

/* A Go process whose goroutines are traced (h.tgid). */
struct rec_go_proc {
	struct ev_header h;
	__s32 major, minor;
	__u64 load_bias; /* runtime address - link-time address */
	char version[32];
	char path[256];
};

/* A goroutine found by walking allgs at attach. */
struct rec_go_g {
	struct ev_header h;
	__u64 g;
	__s64 goid;
	__s64 parent_goid;
	__u64 startpc, gopc;
	__u32 status; /* Go's atomicstatus, scan bit cleared */
	__u16 reason;
	__u8 pad;
	__u8 nstack;
	__u64 stack[];
};

/*
 * Symbolization of one pc, written at the end so that convert and report
 * work on another machine. Strings follow: func\0file\0. A pc inside
 * inlined calls has one record per logical frame, innermost (depth 0)
 * first, the physical function last.
 */
#define GO_SYM_EXACT	   0x1 /* h.flags: pc is a function entry, not a return address */
#define GO_SYM_DEPTH_SHIFT 8   /* h.flags bits 8-15: inline depth, 0 innermost */
#define GO_SYM_MAX_FRAMES  32  /* depths the collector writes */
struct rec_go_sym {
	struct ev_header h; /* h.tgid: process */
	__u64 pc;
	__s32 line;
	__u16 func_len, file_len; /* including NULs */
	char names[];
};

/*
 * rec_go_proc h.flags: load_bias is unknown (sampled mode: a launched PIE
 * that exited before its maps were read; nothing of it needs symbolizing).
 */
#define GO_PROC_NO_BIAS 0x1

/* How goroutines are traced (REC_GO_MODE). */
enum go_mode {
	GO_MODE_OFF = 0,     /* threads only */
	GO_MODE_FULL = 1,    /* uprobes on every scheduler transition */
	GO_MODE_SAMPLED = 2, /* goroutine read from TLS at kernel events only */
	GO_MODE_AUTO = 3,    /* an option, never a capture's mode: full, governed */
};

enum go_mode_reason {
	GO_MODE_BY_DEFAULT = 1,	 /* no --goroutines option */
	GO_MODE_BY_OPTION = 2,	 /* --goroutines or --no-goroutines */
	GO_MODE_BY_GOVERNOR = 3, /* auto mode: full mode's probes cost too much */
};

/* rec_go_mode.flags: full mode whose records also carry ev_go_tail (tests). */
#define GO_MODE_F_TAILS 0x1
/* rec_go_mode.flags: auto mode, where a governor may switch full to sampled. */
#define GO_MODE_F_AUTO 0x2

/* The goroutine tracing mode from h.ts on; written at start and on a change. */
struct rec_go_mode {
	struct ev_header h;
	__u32 mode;   /* enum go_mode */
	__u32 reason; /* enum go_mode_reason */
	__u32 flags;  /* GO_MODE_F_* */
	/*
	 * GO_MODE_BY_GOVERNOR: the estimated cost of the probes over the last
	 * interval, in millionths of the target's CPU time.
	 */
	__u32 est_ppm;
};

/*
 * Sampled mode: one chunk of a snapshot of process h.tgid's goroutines, read
 * from its memory (allgs) without stopping it. A snapshot is one or more
 * chunks with the same seq and h.ts (when the read began), the first
 * flagged GO_SNAP_FIRST, the last GO_SNAP_LAST; every chunk repeats the
 * snapshot's totals. Entries are the goroutines that passed validation
 * (torn reads of a running target are dropped and counted in implausible),
 * idle and dead g's excluded.
 */
#define GO_SNAP_FIRST	  0x1 /* h.flags */
#define GO_SNAP_LAST	  0x2
#define GO_SNAP_CAPPED	  0x4  /* allglen exceeded the per-snapshot cap */
#define GO_SNAP_MAX_CHUNK 1024 /* entries per chunk: h.size is 16-bit */
struct go_snap_ent {
	__u64 g; /* runtime.g address */
	__s64 goid;
	__s64 waitsince; /* g.waitsince, the runtime's nanotime (CLOCK_MONOTONIC); 0: unknown */
	__u64 startpc, gopc;
	__u32 status; /* atomicstatus, scan bit cleared */
	__u16 reason; /* waitreason (meaningful while waiting) */
	__u16 pad;
};
struct rec_go_snap {
	struct ev_header h;	  /* h.ts: CLOCK_BOOTTIME at the read; h.tgid: process */
	__u32 seq;		  /* snapshot number of this process, from 1 */
	__u16 count;		  /* entries in this chunk */
	__u16 chunk;		  /* index of this chunk in the snapshot */
	__u64 mono_ts;		  /* CLOCK_MONOTONIC at the read, waitsince's clock */
	__u32 read_us;		  /* how long the whole read took */
	__u32 allglen;		  /* allgs entries read */
	__u32 total;		  /* entries of the whole snapshot */
	__u32 implausible;	  /* g's dropped by validation (torn or garbage reads) */
	__u32 unreadable;	  /* g's whose memory could not be read */
	__u32 skipped;		  /* idle or dead g's (not goroutines now) */
	struct go_snap_ent ent[]; /* count entries */
};

/*
 * A per-CPU staging buffer for the hot records (switch, wake-up, syscall).
 * Handlers append to it with plain stores and hand it to the CPU's ring as
 * one record when it is nearly full, so most events cost no ring operation.
 * busy is a lock taken with xchg by a handler, and by the collector when it
 * takes what is staged (every drain): a handler that finds it taken (an
 * interrupt nested in another handler, or the collector) writes straight to
 * the ring. buf holds whole records back to back; n counts them.
 */
#define STAGE_BYTES   4096
#define STAGE_REC_MAX 128 /* the largest staged record */
struct stage {
	__u32 busy;
	__u32 len;
	__u32 n;
	__u32 pad;
	__u8 buf[STAGE_BYTES];
};

/* drops[] index of records lost when a staged batch did not fit its ring. */
#define DROP_STAGED 0
/*
 * drops[] index (a reserved type) of processes forked by a target that the
 * full targets map could not take: their syscalls are not recorded.
 */
#define DROP_TARGETS_FULL 63
#define TARGETS_MAX	  4096

#endif /* CTRACE_H */
