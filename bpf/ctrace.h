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

#define TASK_COMM_LEN 16
#define EXEC_FILENAME_LEN 128
#define SYSCALL_NARGS 6

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
	EV_KERNEL_MAX = 10, /* drop counters are indexed by type below this */

	/* 32..63 are reserved for Go runtime (goroutine) records. */

	/* Records written by the collector into the capture. */
	REC_META = 64,	    /* payload: key\0value\0 ... */
	REC_TASK = 65,	    /* struct rec_task */
	REC_STATS = 66,	    /* struct rec_stats */
	REC_WATERMARK = 67, /* every event with ts < header.ts has been written */
	REC_END = 68,	    /* struct rec_end: clean end of capture */
};

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
	__u64 events;			 /* records received from the kernel */
	__u64 drops[EV_KERNEL_MAX];	 /* lost in the kernel, by type */
	__u64 drops_total;
	__u64 reserved[8];
};

enum end_reason {
	END_DURATION = 1,
	END_SIGNAL = 2,
	END_TARGET_EXITED = 3,
	END_COMMAND_EXITED = 4,
};

struct rec_end {
	struct ev_header h;
	__u32 reason;
	__s32 cmd_status; /* wait status of a launched command, -1 if none */
};

#endif /* CTRACE_H */
