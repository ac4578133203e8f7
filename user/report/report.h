/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * `ctrace-bpf report`: one pass over a capture builds the model below
 * (report.c); report_text.c, report_json.c and html.c render it, and diff.c
 * compares two of them through the JSON form (docs/report-json.md).
 *
 * Every distribution is a struct hist, so memory grows with the number of
 * threads, syscalls, goroutine start functions, stacks and wake edges seen,
 * never with the length of the trace.
 */
#ifndef CTRACE_REPORT_H
#define CTRACE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "capture/capture.h"
#include "report/stats.h"
#include "model/gosnapshot.h"

struct out;

#define REPORT_SCHEMA_VERSION 1

/* Where a goroutine's time went. */
enum rp_gstate {
	RG_RUNNING,
	RG_RUNNABLE,
	RG_SYNC, /* chan, select, mutex, cond, waitgroup */
	RG_NET,
	RG_SLEEP,
	RG_SYSCALL,
	RG_OTHER, /* GC, runtime-internal waits */
	RG__COUNT,
};

/* Blocking reasons of the "blocking" section. */
enum rp_reason {
	RB_CHAN,
	RB_SELECT,
	RB_MUTEX,
	RB_COND,
	RB_WAITGROUP,
	RB_NET,
	RB_SLEEP,
	RB_SYSCALL,
	RB_OTHER,
	RB__COUNT,
};

struct rp_thread {
	uint32_t tid, tgid;
	char comm[16];
	uint64_t on_cpu, off_cpu;
	uint64_t runnable; /* woken or preempted, waiting for a CPU */
	uint64_t switches, preempts, wakeups;
	struct hist runqlat; /* wake-up to switch-in */

	/* state while reading */
	struct rp_edge *wake_edge;
	uint64_t in_ts, out_ts, preempt_ts, exit_ts;
	bool on, seen_out, waiting;
	bool sc_go; /* the pending syscall is a goroutine's (not the Go runtime's) */
};

struct rp_proc {
	uint32_t tgid;
	char comm[16];
	bool target;
	uint64_t on_cpu, off_cpu, runnable;
	uint64_t contended;	 /* on a CPU while a target thread waited for one */
	uint64_t on_target_cpus; /* on the CPUs the targets used */
	uint64_t *cpu_ns;	 /* per CPU */
	uint64_t exit_ts;
	bool go; /* a Go process: goroutines traced */
	struct hist runqlat;
	struct rp_thread **threads; /* sorted by on-CPU time */
	size_t nthreads;
};

/* Target threads merged by name: what `diff` compares across runs. */
struct rp_tgroup {
	char comm[16];
	uint32_t nthreads;
	uint64_t on_cpu, off_cpu, runnable;
	struct hist runqlat;
};

/*
 * runtime: made by a Go process's thread with no goroutine on it, i.e. the
 * scheduler parking an idle thread (futex), polling (epoll_pwait) or sysmon
 * (nanosleep). They follow the runtime's pacing, not the program's code.
 */
struct rp_syscall {
	long id;
	bool runtime;
	char name[40];
	uint64_t errors;
	struct hist lat;
};

struct rp_waker {
	char *name;
	uint64_t count;
};

struct rp_ggroup {
	char *func; /* start function, "(unknown)" when not known */
	uint64_t count;
	uint64_t t[RG__COUNT];	 /* wall time in each state */
	uint64_t exec;		 /* CPU time while running: the thread was on a CPU */
	struct hist sched_wait;	 /* Runnable -> Running */
	struct hist sync_block;	 /* each synchronization block */
	struct rp_waker *wakers; /* sorted by count */
	size_t nwakers;
	struct rp_ggroup *next;
};

struct rp_stack {
	enum rp_reason reason;
	uint32_t tgid;
	uint64_t total, count, max;
	int nstack;
	__u64 pcs[GO_MAX_STACK];
	char *label; /* RB_SYSCALL: "read in main.worker"; else NULL */
	uint64_t hash;
	struct rp_stack *next;
};

struct rp_reason_sum {
	uint64_t total, count;
	struct rp_stack **stacks; /* sorted by total */
	size_t nstacks;
};

struct rp_edge {
	char *waker, *wakee;
	bool go; /* goroutine start functions, else thread names */
	uint64_t count;
	struct hist lat; /* wake-up to running */
	struct rp_edge *next;
};

struct rp_cpu {
	uint64_t busy, target;
	/* state while reading */
	uint32_t cur_tid, cur_tgid;
	uint64_t since, w_since;
};

/* A function's CPU samples: as the innermost frame, and anywhere on the stack. */
struct rp_cpufn {
	char *func;
	uint64_t self, cum;
};

/* Goroutine snapshots of one process (sampled: counts at snapshot times). */
struct rp_gsn_proc {
	uint32_t tgid;
	uint64_t snapshots, first_ts, last_ts;
	uint64_t sum[GSM__COUNT]; /* for the mean per snapshot */
	uint32_t max[GSM__COUNT], last[GSM__COUNT];
	uint64_t sum_total;
	uint32_t max_total, last_total;
	uint64_t appeared, ended;
};

struct rp_gosnap {
	const struct gsm_totals *tot;
	struct rp_gsn_proc *procs; /* by tgid */
	size_t nprocs;
	const struct gsm_blocked *longs; /* longest first */
	size_t nlongs;
	struct gosnapm *m;
};

struct report_opts {
	uint32_t pid; /* 0: every target process */
	int top;      /* rows per list in terminal and HTML output */
};

struct report {
	struct ctr_reader *r;
	const struct ctr_info *info;
	const char *path;
	struct report_opts o;
	bool system; /* system-wide capture without --pid: every process counts */
	uint64_t start, end;
	uint64_t repairs;
	uint64_t go_events;
	/*
	 * Goroutine sections come from sampled mode: states seen at kernel
	 * events only, so times are bounded by them and waits are unknown.
	 */
	bool go_sampled;
	/*
	 * Auto mode's switch: goroutine sections hold full-mode detail before
	 * go_switch->ts and sampled spans after it (NULL: no switch).
	 */
	const struct ctr_go_period *go_switch;
	uint64_t go_late; /* full-mode records after the switch (ignored) */

	struct rp_proc **procs; /* targets, by on-CPU time */
	size_t nprocs;
	struct rp_proc **competitors; /* non-targets, by contended time */
	size_t ncompetitors;
	struct rp_tgroup *tgroups; /* by on-CPU time */
	size_t ntgroups;
	struct rp_syscall **sys; /* by total time; program's first, then the Go runtime's */
	size_t nsys, nsys_program;
	struct rp_ggroup **gg; /* by running time */
	size_t ngg;
	struct rp_reason_sum reasons[RB__COUNT];
	struct rp_edge **tedges, **gedges; /* by count */
	size_t ntedges, ngedges;
	struct rp_cpu *cpus;
	uint32_t ncpus;
	struct rp_cpufn **cpufns; /* CPU samples by function, by self samples */
	size_t ncpufns;
	uint64_t cpu_samples, cpu_sample_ns; /* sampled: estimates, not exact */
	struct rp_gosnap *gosnap; /* NULL: the capture has no goroutine snapshots */

	void *priv; /* reading state, keyed tables */
};

/* Reads the whole capture; returns 0, or -1 after one line on stderr. */
int report_build(struct report *rp, struct ctr_reader *r, const char *path,
		 const struct report_opts *o);
void report_free(struct report *rp);

/* report_gosnap.c: the goroutine snapshot section, fed like the other models. */
int rp_gosnap_new(struct report *rp);
void rp_gosnap_event(struct report *rp, const struct ev_header *h);
/* After the last record; drops the section if no snapshot was complete. */
void rp_gosnap_finish(struct report *rp);
void rp_gosnap_free(struct report *rp);

const char *rp_gstate_name(enum rp_gstate s); /* "running", "sync_block", ... */
const char *rp_reason_name(enum rp_reason r); /* "chan", "mutex", ... */
/* Symbolized stack text ("func file:line" lines); valid until the next call. */
const char *rp_stack_text(const struct report *rp, const struct rp_stack *s);

/*
 * How goroutines were traced, for the health sections: "auto — full for
 * 0.13 s, then sampled (...)". NULL for captures without mode records.
 */
const char *rp_go_mode_text(const struct report *rp, char *buf, size_t len);
/* Auto mode: how long full mode lasted, from the first mode record (0: no switch). */
uint64_t rp_go_full_ns(const struct report *rp);
const char *rp_go_mode_name(uint32_t mode);	/* "off", "full", "sampled" */
const char *rp_go_reason_name(uint32_t reason); /* "default", "option", "governor" */

/* "12.3ms", "4.56µs", "0": three significant digits, for tables and charts. */
void rp_short_ns(char *b, size_t len, uint64_t ns);

void report_text(const struct report *rp, FILE *f, int width, bool color);
/* The JSON and HTML forms go through lib/output: check the out's error. */
void report_json(const struct report *rp, struct out *o);
void report_html(const struct report *rp, struct out *o);

/* Opens, builds and prints the report of a capture to stdout (record --report). */
int report_file(const char *path, const struct report_opts *o);

int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif /* CTRACE_REPORT_H */
