/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Goroutine tracing of Go processes: binary inspection, runtime offsets,
 * uprobes on the scheduler, goroutines alive at attach, and symbols for the
 * pcs the capture mentions.
 */
#ifndef CTRACE_GOPROBE_H
#define CTRACE_GOPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bpf/ctrace.h"
#include "go/go_offsets.h"

struct goprobe;
struct ctr_writer;

enum {
	GOPROBE_ATTACHED = 0,
	GOPROBE_NOT_GO = 1,	 /* not a Go binary: thread-level tracing only */
	GOPROBE_UNSUPPORTED = 2, /* a Go version without known offsets */
};

/*
 * Loads the goroutine probes; they write into the thread tracer's ring
 * buffers and drop counters, whose map fds are rings_fd and drops_fd.
 * rings_fd < 0 (sampled mode): no probes are loaded or attached; processes
 * are still inspected, walked at attach and symbolized.
 */
struct goprobe *goprobe_new(int rings_fd, int drops_fd, unsigned int stack_depth, bool verbose,
			    char *err, size_t errlen);
/*
 * Inspects tgid's binary (path, or /proc/PID/exe when NULL) and attaches the
 * scheduler probes. Returns a GOPROBE_* value with a one-line explanation in
 * msg, or a negative errno with the reason in msg.
 */
int goprobe_attach(struct goprobe *gp, pid_t tgid, const char *path, char *msg, size_t len);
/*
 * Where sampled mode reads tgid's running goroutine (struct go_tls_cfg for
 * the tracer's go_tls[]); -ENOENT if the process is not attached or its TLS
 * offset of g is unknown.
 */
int goprobe_tls_cfg(struct goprobe *gp, pid_t tgid, struct go_tls_cfg *cfg);
/*
 * Once the process runs the binary: writes its REC_GO_PROC and, with walk,
 * one REC_GO_G per goroutine alive now, stamped attach_ts (the probes were
 * live from then on, so later records refine what the walk declares).
 * Returns 1 when done, 0 when the process has not exec'd the binary yet
 * (launch mode), negative on error.
 */
int goprobe_snapshot(struct goprobe *gp, pid_t tgid, struct ctr_writer *w, uint64_t attach_ts,
		     bool walk);
/* Remembers the pcs of a goroutine or CPU sample record, to symbolize at the end. */
void goprobe_note(struct goprobe *gp, const struct ev_header *h);
/* Writes REC_GO_SYM records for every pc noted. */
int goprobe_write_symbols(struct goprobe *gp, struct ctr_writer *w);
/*
 * For the overhead governor (auto mode): probe hits so far, summed over the
 * processes; the cost of one hit measured on this machine (gocalib.h; with
 * empty, of an empty uprobe program, the reference benchmarks quote); and
 * detaching every scheduler probe while keeping what the capture still
 * needs (processes, pcs to symbolize).
 */
uint64_t goprobe_hits(const struct goprobe *gp);
int goprobe_calibrate(struct goprobe *gp, bool empty, double *ns_per_hit, char *err, size_t errlen);
void goprobe_detach(struct goprobe *gp);
/* Where a traced process's goroutines are, for the snapshot reader (gosnap.c). */
struct goprobe_layout {
	pid_t tgid;
	int major, minor;
	uint64_t allgs; /* run-time address of runtime.allgs (a slice header) */
	struct go_offsets off;
};
/*
 * The i-th Go process (0, 1, ...): 0 with out filled; -EAGAIN while its
 * load bias is unknown or allgs was not found; -ENOENT past the last one.
 */
int goprobe_layout(const struct goprobe *gp, int i, struct goprobe_layout *out);
/* Detaches every probe and frees gp. */
void goprobe_close(struct goprobe *gp);

#endif /* CTRACE_GOPROBE_H */
