/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Knowledge of Go's runtime that more than one output needs: which frames
 * of a goroutine stack are the runtime's parking machinery, and which
 * syscalls the runtime makes on its own.
 */
#ifndef CTRACE_GOSTACK_H
#define CTRACE_GOSTACK_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"

/*
 * Index of the first frame worth showing: the runtime's parking and
 * readying machinery on top of a goroutine stack is skipped, as the runtime
 * does when it traces itself (so a channel receive shows runtime.chanrecv1).
 */
int go_skip_frames(struct ctr_reader *r, uint32_t tgid, const __u64 *stack, int n);

/* Syscalls that Go's runtime makes on its own (futex, nanosleep, ...). */
bool go_runtime_syscall(const char *name);

#endif /* CTRACE_GOSTACK_H */
