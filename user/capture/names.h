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

/*
 * Why a recording stopped (rec_end: reason, signal, a launched command's
 * wait status), as every output says it: "duration", "SIGINT", "the target
 * exited", "the command exited with status 3", ...
 */
const char *end_reason_text(uint32_t reason, int sig, int32_t cmd_status, char *buf, size_t len);
/*
 * A complete capture's stop as the outputs say it: "stopped 2.000 s after
 * the start: duration"; NULL for a capture without its end record.
 */
struct ctr_info;
const char *capture_stop_text(const struct ctr_info *in, char *buf, size_t len);
/* The reason as a JSON word: duration, signal, target_exited, command_exited, unknown. */
const char *end_reason_name(uint32_t reason);

#endif /* CTRACE_NAMES_H */
