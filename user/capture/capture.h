/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The native capture (.ctr): writing while recording, reading for convert
 * and report. Format: docs/ctr-format.md.
 */
#ifndef CTRACE_CAPTURE_H
#define CTRACE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "bpf/ctrace.h"

#define CTR_MAGIC	"CTRBPF\r\n"
#define CTR_VERSION	2 /* 2: zstd blocks; 1: zlib */
#define CTR_VERSION_MIN 1
#define CTR_BLOCK_MAGIC 0x4b4c4243u /* "CBLK" */

/* ---- writer ---- */

struct ctr_writer;

/*
 * Writes a capture that becomes path when closed without error (a new
 * temporary beside it until then; path itself is untouched). NULL with
 * errno set.
 */
struct ctr_writer *ctr_writer_open(const char *path);
/* Appends one record (h->size bytes). Buffered; compresses full blocks. */
int ctr_writer_add(struct ctr_writer *w, const void *rec);
/* Convenience for REC_META: key/value strings. */
int ctr_writer_meta(struct ctr_writer *w, const char *key, const char *value);
/* Writes the pending block (after the metadata, every second, and at the end). */
int ctr_writer_flush(struct ctr_writer *w);
/*
 * Flushes, syncs and renames the capture into place; returns 0 or -errno of
 * the first failure, when the temporary (ctr_writer_tmp()) keeps what was
 * written.
 */
int ctr_writer_close(struct ctr_writer *w);
/* Closes and removes the temporary: nothing of this capture is kept. */
void ctr_writer_discard(struct ctr_writer *w);
/* The temporary file being written. */
const char *ctr_writer_tmp(const struct ctr_writer *w);
uint64_t ctr_writer_bytes(const struct ctr_writer *w);

/* ---- reader ---- */

/*
 * Caps a reader enforces on untrusted captures (docs/ctr-format.md): a
 * capture beyond them is refused with a one-line reason.
 */
#define CTR_MAX_CPUS	 4096
#define CTR_MAX_TASKS	 (1u << 20)
#define CTR_MAX_GO_PROCS 1024

struct ctr_task {
	uint32_t tid, tgid, ppid;
	uint32_t flags;		  /* TASK_IS_KTHREAD */
	char comm[TASK_COMM_LEN]; /* last name seen */
	char *cmdline;		  /* NUL-separated, may be NULL */
	uint32_t cmdline_len;
	uint64_t first_ts; /* first time seen (0: alive at start) */
};

struct ctr_info {
	const char *sysname, *release, *version, *machine, *hostname;
	uint32_t ncpus;
	uint64_t start_ts, end_ts;  /* BOOTTIME ns */
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME at start */
	const char *target;	    /* "system", "pid 123,456" or the command */
	uint64_t events;
	uint64_t drops[EV_KERNEL_MAX];
	uint64_t drops_total;
	bool clean_end; /* REC_END present */
	uint32_t end_reason;
	int32_t cmd_status;
	uint64_t stop_ts;	   /* REC_END's ts: the stop, where events were cut (0: no end) */
	uint32_t stop_signal;	   /* END_SIGNAL: the signal, when the capture names it */
	uint64_t truncated_blocks; /* damaged or cut blocks skipped */
	uint64_t late_events;	   /* arrived behind the reorder window */
	/* REC_GO_MODE: the modes the capture used (bit 1 << enum go_mode). */
	uint32_t go_modes;
	uint32_t go_mode_flags; /* GO_MODE_F_*, ORed over the capture */
	uint64_t go_tails;	/* records with a goroutine tail */
	uint64_t go_tails_bad;	/* flagged with a tail too short to hold one (ignored) */
	uint64_t go_modes_bad;	/* REC_GO_MODE with an unknown mode, or too many (ignored) */
};

struct ctr_reader;

/*
 * Opens a capture and reads its metadata and task table (a first pass over
 * the file). On failure returns NULL and writes a one-line reason to err.
 */
struct ctr_reader *ctr_open(const char *path, char *err, size_t errlen);
const struct ctr_info *ctr_info(const struct ctr_reader *r);
/* Meta value by key, or NULL. */
const char *ctr_meta(const struct ctr_reader *r, const char *key);

/* Every task seen, sorted by (tgid, tid). */
size_t ctr_task_count(const struct ctr_reader *r);
const struct ctr_task *ctr_task_at(const struct ctr_reader *r, size_t i);
const struct ctr_task *ctr_task_find(const struct ctr_reader *r, uint32_t tid);

/* Go processes and the symbols the collector resolved for them. */
struct ctr_go_proc {
	uint32_t tgid;
	int major, minor;
	uint64_t load_bias;
	char version[32];
	char path[256];
};

struct ctr_go_sym {
	const char *func, *file;
	int line;
};

size_t ctr_go_proc_count(const struct ctr_reader *r);
const struct ctr_go_proc *ctr_go_proc_at(const struct ctr_reader *r, size_t i);
const struct ctr_go_proc *ctr_go_proc_find(const struct ctr_reader *r, uint32_t tgid);
/*
 * exact: pc is a function entry (start pc); else a return address. NULL if
 * unknown. For a return address inside inlined calls this is the innermost
 * frame (function and file:line agree); for a start pc the function Go's
 * trace names the goroutine after (the last frame of older captures).
 */
const struct ctr_go_sym *ctr_go_sym(const struct ctr_reader *r, uint32_t tgid, uint64_t pc,
				    bool exact);

/* Inline depths a reader keeps per pc. */
#define CTR_GO_MAX_FRAMES 64
/*
 * Every logical frame of pc, innermost first, the physical function last
 * (one frame if nothing is inlined there, or for captures that predate
 * inline expansion). Returns how many were stored in out (0: pc unknown);
 * past max, the innermost max-1 and the physical function.
 */
int ctr_go_sym_frames(const struct ctr_reader *r, uint32_t tgid, uint64_t pc, bool exact,
		      const struct ctr_go_sym **out, int max);

/*
 * True if the capture has a create record (EV_GO_CREATE) of goroutine goid
 * of tgid; *ts (may be NULL) gets the earliest one's time. A goroutine also
 * listed at attach (REC_GO_G) was created while the probes were going in.
 */
bool ctr_go_created(const struct ctr_reader *r, uint32_t tgid, int64_t goid, uint64_t *ts);

/*
 * Event records (types < REC_META, plus REC_GO_PROC and REC_GO_G, which
 * carry state at attach, and REC_GO_SNAP, goroutine snapshots) in timestamp order, ties kept in
 * file order. Returns 1 with *ev set (valid until the next call), 0 at the end, -1 on a read error
 * (err filled by ctr_error()).
 */
int ctr_next(struct ctr_reader *r, const struct ev_header **ev);
/*
 * The goroutine tail of a switch or syscall record (EV_F_GO_TAIL), or NULL
 * when it has none or the record is too short to hold one.
 */
const struct ev_go_tail *ctr_go_tail(const struct ev_header *h);
/* Restarts ctr_next() from the first event. */
int ctr_rewind(struct ctr_reader *r);
const char *ctr_error(const struct ctr_reader *r);
void ctr_close(struct ctr_reader *r);

/*
 * Goroutine mode periods (REC_GO_MODE), in time order, a repeated mode
 * merged into its period. A period lasts until the next one starts, or to
 * the capture's end. None in captures that predate the record (full or off).
 */
struct ctr_go_period {
	uint64_t ts;	  /* start (BOOTTIME ns) */
	uint32_t mode;	  /* enum go_mode: off, full or sampled */
	uint32_t reason;  /* enum go_mode_reason */
	uint32_t flags;	  /* GO_MODE_F_* */
	uint32_t est_ppm; /* GO_MODE_BY_GOVERNOR: estimated probe cost, millionths */
};

size_t ctr_go_period_count(const struct ctr_reader *r);
const struct ctr_go_period *ctr_go_period_at(const struct ctr_reader *r, size_t i);
/*
 * The period ts falls in (before the first period: the first one), or NULL
 * when the capture has no mode records.
 */
const struct ctr_go_period *ctr_go_mode_at(const struct ctr_reader *r, uint64_t ts);
/*
 * Auto mode's switch: the sampled period that follows a full one, or NULL
 * when the capture never switched. Records before its ts are full mode's.
 */
const struct ctr_go_period *ctr_go_switch(const struct ctr_reader *r);

/* Syscall name for the capture's machine ("x86_64"), or NULL if unknown. */
const char *syscall_name(const char *machine, long id);

#endif /* CTRACE_CAPTURE_H */
