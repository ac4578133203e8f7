/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Go execution traces in the go1.19 format (`go tool trace`), and the stack
 * helpers that the pprof writer shares with it.
 */
#ifndef CTRACE_GOTRACE_H
#define CTRACE_GOTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"

struct gotrace_stats {
	uint32_t tgid;	   /* the process written, 0: none */
	uint32_t go_procs; /* Go processes in the capture */
	uint64_t goroutines;
	uint64_t events;
	uint64_t repairs;	  /* transitions the writer synthesized */
	uint64_t gostate_repairs; /* the same, in goroutine reconstruction */
};

/* Counts of the last gotrace_write(), for convert's summary. */
const struct gotrace_stats *gotrace_last_stats(void);

/* The Go process with the most goroutine events; 0 if none. Rewinds r. */
uint32_t gotrace_pick_process(struct ctr_reader *r, uint32_t *nprocs);

/*
 * Index of the first frame worth showing: the runtime's parking and
 * readying machinery on top of a goroutine stack is skipped, as the runtime
 * does when it traces itself (so a channel receive shows runtime.chanrecv1).
 */
int gotrace_skip_frames(struct ctr_reader *r, uint32_t tgid, const __u64 *stack, int n);

/* Syscalls that Go's runtime makes on its own (futex, nanosleep, ...). */
bool gotrace_runtime_syscall(const char *name);

#endif /* CTRACE_GOTRACE_H */
