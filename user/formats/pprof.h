/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* pprof profiles (gzipped profile.proto) derived from a capture. */
#ifndef CTRACE_PPROF_H
#define CTRACE_PPROF_H

#include <stdbool.h>

/*
 * Writes into dir (created if missing):
 *   offcpu-threads.pb.gz     off-CPU time of the traced processes' threads,
 *                            by thread name and the syscall it was in;
 *   block-goroutines.pb.gz   time goroutines spent blocked, by stack and
 *                            wait reason (when the capture has goroutines);
 *   cpu-goroutines.pb.gz     sampled CPU time by user stack, labelled goid
 *                            and start (when the capture has CPU samples).
 * Returns 0, or -1 after printing one line to stderr. Unless quiet, names
 * the files written on stderr.
 */
int pprof_write_dir(const char *capture, const char *dir, bool quiet);

#endif /* CTRACE_PPROF_H */
