// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "capture/capture.h"
#include "capture/names.h"

const char *sched_state_name(int64_t state, char *buf, size_t len)
{
	static const struct {
		int64_t v;
		const char *name;
	} names[] = {
	    {0, "R"}, {0x100, "R+"}, {1, "S"},	  {2, "D"},    {4, "T"},
	    {8, "t"}, {0x10, "X"},   {0x20, "Z"}, {0x40, "P"}, {0x80, "I"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == state)
			return names[i].name;
	if (!buf || !len)
		return NULL;
	snprintf(buf, len, "0x%" PRIx64, (uint64_t)state);
	return buf;
}

bool sched_state_running(int64_t state)
{
	return state == 0 || state == 0x100;
}

const char *syscall_name_buf(const char *machine, long id, char *buf, size_t len)
{
	const char *name = syscall_name(machine, id);

	if (name)
		return name;
	snprintf(buf, len, "sys_%ld", id);
	return buf;
}

/* "SIGINT"; "signal 42" for one glibc has no name for. */
static void signal_name(int sig, char *buf, size_t len)
{
	const char *n = sig > 0 ? sigabbrev_np(sig) : NULL;

	if (n)
		snprintf(buf, len, "SIG%s", n);
	else
		snprintf(buf, len, "signal %d", sig);
}

const char *end_reason_text(uint32_t reason, int sig, int32_t cmd_status, char *buf, size_t len)
{
	char name[32];

	switch (reason) {
	case END_DURATION:
		return "duration";
	case END_SIGNAL:
		if (!sig)
			return "signal";
		signal_name(sig, buf, len);
		return buf;
	case END_TARGET_EXITED:
		return "the target exited";
	case END_COMMAND_EXITED:
		if (cmd_status >= 0 && WIFEXITED(cmd_status)) {
			snprintf(buf, len, "the command exited with status %d",
				 WEXITSTATUS(cmd_status));
			return buf;
		}
		if (cmd_status >= 0 && WIFSIGNALED(cmd_status)) {
			signal_name(WTERMSIG(cmd_status), name, sizeof(name));
			snprintf(buf, len, "the command was killed by %s", name);
			return buf;
		}
		return "the command exited";
	default:
		return "unknown";
	}
}

const char *end_reason_name(uint32_t reason)
{
	switch (reason) {
	case END_DURATION:
		return "duration";
	case END_SIGNAL:
		return "signal";
	case END_TARGET_EXITED:
		return "target_exited";
	case END_COMMAND_EXITED:
		return "command_exited";
	default:
		return "unknown";
	}
}

const char *capture_stop_text(const struct ctr_info *in, char *buf, size_t len)
{
	char why[96];
	int64_t after = (int64_t)(in->stop_ts - in->start_ts);

	if (!in->clean_end)
		return NULL;
	snprintf(
	    buf, len, "stopped %.3f s after the start: %s", after > 0 ? after / 1e9 : 0.0,
	    end_reason_text(in->end_reason, in->stop_signal, in->cmd_status, why, sizeof(why)));
	return buf;
}
