/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Goroutine state reconstruction from a capture's time-ordered records:
 * which goroutine is running on which thread, and every transition with
 * its reason, waker, thread, CPU and P. The format writers and reports all
 * consume the same transitions, so they agree with each other.
 *
 * Lost events (ring-buffer drops) are repaired with synthesized transitions,
 * and counted, so every consumer sees a consistent life for each goroutine.
 */
#ifndef CTRACE_GOSTATE_H
#define CTRACE_GOSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"

enum gs_state {
	GS_NONE = 0, /* not yet seen */
	GS_RUNNABLE,
	GS_RUNNING,
	GS_BLOCKED,
	GS_SYSCALL,
	GS_DEAD,
	/*
	 * Sampled mode: no longer seen on a CPU. Nothing is known of it until
	 * the next kernel event of one of its threads names it again.
	 */
	GS_UNSEEN,
};

struct gs_gor {
	uint32_t tgid;
	int64_t goid;
	enum gs_state state;
	uint64_t since; /* ts of the last transition */
	uint32_t tid;	/* thread while running or in a syscall */
	uint16_t cpu;
	int32_t p;
	uint16_t reason; /* wait reason code while blocked */
	uint64_t startpc;
	const char *name; /* "G17 main.worker" */
	const char *start_func;
	int64_t creator; /* goid, 0: the runtime, -1: unknown (alive at attach) */
	bool at_attach;
	bool sampled; /* known from kernel events only (sampled mode) */
	void *user;   /* for the consumer */
};

/* One transition of one goroutine. */
struct gs_trans {
	uint64_t ts;
	struct gs_gor *g;
	enum gs_state from, to;
	const char *label; /* slice name: "Running", "Blocked: chan receive", "Syscall: read" */
	uint32_t tid;	   /* thread it runs (or ran) on */
	uint16_t cpu;
	int32_t p;
	uint16_t reason;	/* wait reason code (to == GS_BLOCKED) */
	const char *reason_str; /* Go's own string, or NULL */
	int kind;		/* enum go_block_kind when blocked */
	/* to == GS_RUNNABLE from GS_BLOCKED: who unblocked it */
	int64_t waker_goid; /* 0 when the runtime did */
	uint32_t waker_tid;
	const char
	    *waker_label;   /* "runtime: netpoller", "runtime: timer", ... when waker_goid == 0 */
	const __u64 *stack; /* the relevant stack (the goroutine's, or the waker's/creator's) */
	int nstack;
	long syscall;	/* GS_SYSCALL: syscall number */
	bool repaired;	/* synthesized to repair a lost event */
	bool preempted; /* to == GS_RUNNABLE: preempted rather than yielded */
	int sched_kind; /* EV_GO_SCHED's go_sched_kind, 0 otherwise */
	/*
	 * Sampled mode: bounded by kernel events (switches, syscalls) of the
	 * thread, not by the goroutine switch itself, which is not recorded.
	 */
	bool sampled;
};

struct gs_ops {
	/* A goroutine appears: created during the trace, or alive at attach. */
	void (*create)(void *ctx, struct gs_gor *g, uint64_t ts, const __u64 *stack, int nstack);
	void (*transition)(void *ctx, const struct gs_trans *t);
	/* Called before a goroutine's state is freed (it exited, or at the end). */
	void (*destroy)(void *ctx, struct gs_gor *g);
};

struct gostate;

struct gostate *gostate_new(struct ctr_reader *r, const struct gs_ops *ops, void *ctx);
/* Feed every record from ctr_next(); non-Go records only update threads. */
void gostate_event(struct gostate *s, const struct ev_header *h);
/*
 * Frees every goroutine's state, calling ops->destroy for each one still
 * alive (its state and since tell the consumer what to close at ts).
 */
void gostate_finish(struct gostate *s, uint64_t ts);
uint64_t gostate_repairs(const struct gostate *s);
/*
 * The goroutines come from sampled mode's kernel-event tails: for the whole
 * capture, or (auto mode) from the switch on, once it has been passed.
 */
bool gostate_sampled(const struct gostate *s);
/*
 * Auto mode: when full mode gave way to sampled (0: no switch). There every
 * goroutine alive turns GS_UNSEEN (transition->sampled set) and keeps its
 * name; full mode's records after it are ignored and counted.
 */
uint64_t gostate_switch_ts(const struct gostate *s);
uint64_t gostate_late_go(const struct gostate *s);
/* A goroutine alive now, or NULL. */
struct gs_gor *gostate_find(struct gostate *s, uint32_t tgid, int64_t goid);
void gostate_free(struct gostate *s);

/* Name for a pc from the capture's symbols: "main.worker", or a hex pc. */
const char *gs_func_name(struct ctr_reader *r, uint32_t tgid, uint64_t pc, bool exact, char *buf,
			 size_t len);
/* "func file:line" lines, innermost first, skipping the runtime's own frames on top. */
int gs_format_stack(struct ctr_reader *r, uint32_t tgid, const __u64 *stack, int n, char *buf,
		    size_t len);

#endif /* CTRACE_GOSTATE_H */
