/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kernel-thread state reconstruction from a capture's time-ordered records:
 * what runs on each CPU (run slices), who woke whom and how long the wakee
 * then waited for a CPU (wake edges), and every syscall from enter to exit
 * (syscall intervals). The counterpart of gostate.h for OS threads: the
 * Chrome JSON writer, the report and pprof all consume the same callbacks,
 * so they agree with each other.
 *
 * Records can be lost, and a capture starts with every CPU already running
 * something: any record shows which task is current on its CPU, so a run
 * slice is also started (inferred) or ended (lost) where a record disagrees
 * with the last switch seen.
 */
#ifndef CTRACE_THREADSTATE_H
#define CTRACE_THREADSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"

/* How a run slice ended. */
enum kt_run_end {
	KT_RUN_SWITCH,	/* sched_switch took it off the CPU: state is its prev_state */
	KT_RUN_LOST,	/* a later record showed another task current: a switch was lost */
	KT_RUN_CAPTURE, /* still running at the end of the capture */
};

/* How a syscall interval ended. */
enum kt_sys_end {
	KT_SYS_RET,	   /* its sys_exit: ret, exit_id */
	KT_SYS_LOST_EXIT,  /* another sys_enter came first */
	KT_SYS_EXITED,	   /* the thread exited or exec'd inside it (exit, exit_group, execve) */
	KT_SYS_UNFINISHED, /* open at the end of the capture, or the tid went to another process */
};

/* What became of a wake-up. */
enum kt_wake_state {
	KT_WAKE_PENDING,    /* woken, not yet run */
	KT_WAKE_RAN,	    /* the wakee was switched in: run_ts and run_seq are set */
	KT_WAKE_REDUNDANT,  /* the wakee already runs after an earlier wake-up */
	KT_WAKE_SUPERSEDED, /* woken again before it ran: the later one counts */
	KT_WAKE_NO_EFFECT,  /* the wakee left the CPU still runnable: it never slept */
	KT_WAKE_EXITED,	    /* the wakee exited first */
	KT_WAKE_UNFINISHED, /* not run by the end of the capture */
};

struct kt_sys {
	uint32_t tid, tgid;
	int64_t id;
	int64_t exit_id; /* the number sys_exit named: rt_sigreturn and seccomp may change it */
	uint64_t enter_ts, exit_ts;
	int64_t ret; /* end == KT_SYS_RET */
	enum kt_sys_end end;
	uint64_t args[SYSCALL_NARGS];
	uint64_t user; /* for the consumer, from sys_begin on */
};

struct kt_thread {
	uint32_t tid;
	uint32_t tgid;		  /* the last one records named, 0 until one did */
	char comm[TASK_COMM_LEN]; /* the task table's, then the last non-empty one seen */
	bool in_sys;
	struct kt_sys sys; /* while in_sys */
};

struct kt_wake {
	uint32_t waker_tid; /* 0: the idle task (an interrupt) */
	uint32_t waker_tgid;
	uint16_t waker_cpu;
	char waker_comm[TASK_COMM_LEN]; /* the name the waker runs under, "" for idle */
	uint32_t tid, tgid;		/* the wakee */
	bool new_task;			/* sched_wakeup_new: its first wake-up */
	uint64_t ts;			/* sched_waking */
	/*
	 * The waking falls strictly inside the waker's run slice on waker_cpu
	 * (waker_seq): after its start and before its end, so an arrow from it
	 * can be drawn.
	 */
	bool in_waker_run;
	uint64_t waker_seq;
	enum kt_wake_state state;
	uint64_t run_ts;  /* KT_WAKE_RAN: switched in then; latency is run_ts - ts */
	uint64_t run_seq; /* ... in this run slice */
	uint16_t run_cpu;
};

/* One thread on one CPU, from a switch-in (or inference) to a switch-out. */
struct kt_run {
	uint32_t tid, tgid;
	uint16_t cpu;
	uint64_t seq;	/* 1, 2, ... in start order; 0 with no_start */
	uint64_t start; /* 0 with no_start */
	uint64_t end;	/* run_end only */
	bool inferred;	/* started where a record showed it current, not at its switch-in */
	bool no_start;	/* run_end of a switch-out with no slice open for it (see below) */
	enum kt_run_end how;
	int64_t state;		  /* how == KT_RUN_SWITCH: prev_state */
	char comm[TASK_COMM_LEN]; /* at the switch-in (or the thread's), renames included */
	const struct kt_thread *thread;
	const struct kt_wake *wake; /* the wake-up it ran after (state KT_WAKE_RAN), or NULL */
};

/*
 * Every callback is optional. At one record they come in this order: run
 * slices ended and begun by inference, tid reuse, the record's own effects
 * (for a switch: the old slice's end, then the new one's begin).
 */
struct kt_ops {
	/*
	 * Every switch-in (!inferred) and every inferred start. wake is the
	 * wake-up it follows, already reported by wake_end.
	 */
	void (*run_begin)(void *ctx, const struct kt_run *r);
	/*
	 * Every slice end; and, as no_start, the switch-out of a thread that had
	 * no slice open on that CPU (it ran since before the capture, or its
	 * switch-in was lost): so every sched_switch ends exactly one run of its
	 * prev and begins one of its next.
	 */
	void (*run_end)(void *ctx, const struct kt_run *r);
	/* A sched_waking or sched_wakeup_new: state PENDING or REDUNDANT. */
	void (*wake)(void *ctx, const struct kt_wake *w);
	/* A PENDING wake-up settles: RAN (at the switch-in), or why it never ran. */
	void (*wake_end)(void *ctx, const struct kt_wake *w);
	/* A syscall enters; the consumer may set sc->user. */
	void (*sys_begin)(void *ctx, struct kt_sys *sc);
	void (*sys_end)(void *ctx, const struct kt_sys *sc);
	/*
	 * A record names t->tid with another tgid than t->tgid: the tid was
	 * reused. Its open syscall has been ended; t->tgid becomes tgid after.
	 */
	void (*reuse)(void *ctx, const struct kt_thread *t, uint32_t tgid, uint64_t ts);
	/* threadstate_finish(): per thread in tid order, after its syscall and wake-up ended. */
	void (*thread_end)(void *ctx, const struct kt_thread *t);
};

struct kt_stats {
	uint64_t wakeups;	/* wake() calls */
	uint64_t sys_lost_exit; /* intervals ended by KT_SYS_LOST_EXIT */
	uint64_t
	    sys_exit_unmatched; /* sys_exit with no syscall open (entered before the capture) */
};

/*
 * Which wakings become wake edges. A task may be woken while still on its
 * CPU on its way to sleep: already dequeued, it is switched out sleeping
 * and runs again only after this waking.
 */
enum kt_wake_policy {
	/*
	 * Default. A waking counts unless the wakee already runs after an
	 * earlier one; a waking while it is on the CPU holds if it then leaves
	 * sleeping (the race above); a later waking replaces a pending one.
	 */
	KT_WAKES_LATEST,
	/*
	 * Only wakings of a task switched out (and not back in since) count,
	 * the first one if there are several; any switch-out drops a pending
	 * one. Narrower: misses the race above. The report's run-queue latency.
	 */
	KT_WAKES_OFF_CPU,
};

struct threadstate;

struct threadstate *threadstate_new(struct ctr_reader *r, const struct kt_ops *ops, void *ctx);
void threadstate_set_wake_policy(struct threadstate *s, enum kt_wake_policy p);
/*
 * Whether a record is one the model uses: a scheduler, process or syscall
 * record at least as long as its layout. Others are ignored by
 * threadstate_event().
 */
bool threadstate_uses(const struct ev_header *h);
/* Feed every record from ctr_next(), in order. Returns -1 when memory runs out. */
int threadstate_event(struct threadstate *s, const struct ev_header *h);
/*
 * Ends every run slice (by CPU), then per thread in tid order its syscall
 * and wake-up, at ts (the end of the capture).
 */
void threadstate_finish(struct threadstate *s, uint64_t ts);
const struct kt_thread *threadstate_find(const struct threadstate *s, uint32_t tid);
const struct kt_stats *threadstate_stats(const struct threadstate *s);
void threadstate_free(struct threadstate *s);

#endif /* CTRACE_THREADSTATE_H */
