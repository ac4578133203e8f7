/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Goroutine snapshots (REC_GO_SNAP) turned into what outputs show: per
 * snapshot the goroutines by state and wait-reason kind, which appeared and
 * which ended since the previous one, and goroutines blocked for long.
 *
 * Everything here is sampled: a goroutine is seen only at snapshot times,
 * so a wait is "blocked in every snapshot since", a lower bound, and a
 * goroutine that lived between two snapshots is never seen.
 */
#ifndef CTRACE_GOSNAPSHOT_H
#define CTRACE_GOSNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"
#include "go/go_offsets.h"

/* A wait at least this long is "long-blocked". */
#define GSM_LONG_BLOCK_NS 200000000ull
/* Long-blocked goroutines kept (the longest). */
#define GSM_LONG_MAX 64

enum gsm_state {
	GSM_RUNNING,
	GSM_RUNNABLE,
	GSM_SYSCALL,
	GSM_WAITING,
	GSM_OTHER, /* copystack, preempted: transient */
	GSM__COUNT,
};

/* One complete snapshot of one process. */
struct gsm_snapshot {
	uint32_t tgid, seq;
	uint64_t ts;
	uint32_t total;
	uint32_t by_state[GSM__COUNT];
	uint32_t waiting_by_kind[GB__COUNT]; /* enum go_block_kind */
	uint32_t appeared, ended;	     /* since this process's previous complete snapshot */
	uint32_t implausible, unreadable;
	uint32_t read_us;
	bool capped;
};

struct gsm_blocked {
	uint32_t tgid;
	int64_t goid;
	uint16_t reason;
	const char *reason_str; /* Go's string, "" if unknown */
	int kind;		/* enum go_block_kind */
	uint64_t first_ts;	/* first snapshot that saw this wait */
	uint64_t last_ts;	/* last snapshot that saw it */
	uint64_t waited_ns;	/* the longer of last_ts - first_ts and the runtime's waitsince */
	bool from_waitsince;	/* waited_ns comes from g.waitsince (set by the GC) */
	bool ongoing;		/* still blocked in the process's last snapshot */
	uint64_t startpc;
	const char *start_func; /* NULL if not symbolized */
};

struct gsm_totals {
	uint64_t snapshots;  /* complete ones */
	uint64_t incomplete; /* chunks missing: dropped */
	uint64_t implausible, unreadable;
	uint64_t capped;
	uint64_t max_read_us;
	uint32_t nprocs;
};

struct gsm_ops {
	/* Each complete snapshot, in time order. */
	void (*snapshot)(void *ctx, const struct gsm_snapshot *s);
};

struct gosnapm;

/* NULL on allocation failure. ops may be NULL. */
struct gosnapm *gosnapm_new(struct ctr_reader *r, const struct gsm_ops *ops, void *ctx);
/* Feed every record from ctr_next(); only REC_GO_SNAP is used. */
void gosnapm_event(struct gosnapm *m, const struct ev_header *h);
/* After the last record: closes the ongoing waits. */
void gosnapm_finish(struct gosnapm *m);
const struct gsm_totals *gosnapm_totals(const struct gosnapm *m);
/* Long-blocked goroutines, longest first (valid until gosnapm_free). */
size_t gosnapm_long_blocked(const struct gosnapm *m, const struct gsm_blocked **out);
void gosnapm_free(struct gosnapm *m);

const char *gsm_state_name(enum gsm_state s);

#endif /* CTRACE_GOSNAPSHOT_H */
