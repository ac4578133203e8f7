// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What is known of Go's runtime: its stack machinery and its own syscalls. */
#include <string.h>
#include "model/gostack.h"

static bool frame_is_machinery(const char *fn)
{
	static const char *const names[] = {
	    "runtime.gopark",
	    "runtime.goparkunlock",
	    "runtime.mcall",
	    "runtime.systemstack",
	    "runtime.systemstack_switch",
	    "runtime.park_m",
	    "runtime.chanrecv",
	    "runtime.chansend",
	    "runtime.send",
	    "runtime.recv",
	    "runtime.goready",
	    "runtime.goready.func1",
	    "runtime.ready",
	    "runtime.readyWithTime",
	    "runtime.semacquire1",
	    "runtime.semrelease1",
	    "runtime.semacquire",
	    "runtime.semrelease",
	    "runtime.netpollblock",
	    "runtime.netpollgoready",
	    "runtime.netpollunblock",
	    "runtime.newproc",
	    "runtime.newproc.func1",
	    "runtime.newproc1",
	    "runtime.notifyListWait",
	    "runtime.notifyListNotifyAll",
	    "runtime.notifyListNotifyOne",
	    /*
	     * What the runtime's own trace skips too (its traceskip); with
	     * inlined frames expanded, Mutex.Lock shows above the caller.
	     */
	    "sync.(*Mutex).lockSlow",
	    "internal/poll.(*pollDesc).wait",
	    "internal/poll.(*pollDesc).waitRead",
	    "internal/poll.(*pollDesc).waitWrite",
	};

	if (!strncmp(fn, "sync.runtime_", 13) || !strncmp(fn, "internal/poll.runtime_", 22) ||
	    !strncmp(fn, "internal/sync.runtime_", 22))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(fn, names[i]))
			return true;
	return false;
}

int go_skip_frames(struct ctr_reader *r, uint32_t tgid, const __u64 *stack, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct ctr_go_sym *fr[CTR_GO_MAX_FRAMES];
		int nf = ctr_go_sym_frames(r, tgid, stack[i], false, fr, CTR_GO_MAX_FRAMES);

		/* By the physical function, whatever was inlined into it. */
		if (!nf || !frame_is_machinery(fr[nf - 1]->func))
			break;
	}
	/* All machinery (a runtime goroutine): better than nothing. */
	return i < n ? i : 0;
}

bool go_runtime_syscall(const char *name)
{
	static const char *const names[] = {
	    "futex",	    "nanosleep",    "clock_nanosleep", "sched_yield",
	    "epoll_wait",   "epoll_pwait",  "epoll_pwait2",    "madvise",
	    "mmap",	    "munmap",	    "mprotect",	       "rt_sigprocmask",
	    "rt_sigaction", "rt_sigreturn", "sigaltstack",     "tgkill",
	    "tkill",	    "getpid",	    "gettid",	       "clone",
	    "clone3",	    "setitimer",    "timer_create",    "timer_settime",
	    "timer_delete", "exit",	    "exit_group",      "clock_gettime",
	    "gettimeofday", "getrlimit",    "prlimit64",       "sched_getaffinity",
	    "membarrier",
	};

	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}
