/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the collector learns from /proc: tasks alive at start, cmdlines. */
#ifndef CTRACE_PROCFS_H
#define CTRACE_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ctr_writer;

/* Thread-group id of a pid or tid, or -1 if there is no such task. */
pid_t proc_tgid(pid_t pid);
/* False once pid is gone or a zombie. */
bool proc_alive(pid_t pid);
/* CPU time (user + system) of the whole process so far, 0 if unknown. */
uint64_t proc_cpu_ns(pid_t pid);
/* Whose command line goes into the capture; the others keep only their comm. */
typedef bool (*proc_cmdline_fn)(void *ctx, pid_t tgid);
/*
 * Writes a REC_TASK for every process and thread in /proc, with the command
 * line of those want() accepts (everyone's when want is NULL). Returns count.
 */
int proc_snapshot(struct ctr_writer *w, uint64_t ts, proc_cmdline_fn want, void *ctx);
/* Writes a REC_TASK for one thread group's leader (after an exec). */
int proc_write_task(struct ctr_writer *w, pid_t tgid, pid_t tid, uint64_t ts, bool cmdline);

#endif /* CTRACE_PROCFS_H */
