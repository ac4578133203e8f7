/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Names for the kernel values capture records carry, so that every output
 * spells them the same way. syscall_name() (capture.h) is the bare table.
 */
#ifndef CTRACE_NAMES_H
#define CTRACE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * sched_switch prev_state (the tracepoint's report form) as ps and ftrace
 * print it: "R", "R+" (preempted), "S", "D", "T", "t", "X", "Z", "P", "I".
 * Any other value is written as hex into buf; with no buf, NULL.
 */
const char *sched_state_name(int64_t state, char *buf, size_t len);
/* The task left the CPU still runnable: preempted or yielding (R, R+). */
bool sched_state_running(int64_t state);

/* Syscall name for the capture's machine, else "sys_<nr>" written into buf. */
const char *syscall_name_buf(const char *machine, long id, char *buf, size_t len);

#endif /* CTRACE_NAMES_H */
