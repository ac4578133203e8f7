/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Go execution traces in the go1.19 format (`go tool trace`); the writer
 * itself, gotrace_write(), and its counts are declared in formats.h.
 */
#ifndef CTRACE_GOTRACE_H
#define CTRACE_GOTRACE_H

#include <stdint.h>
#include "capture/capture.h"

/* The Go process with the most goroutine events; 0 if none. Rewinds r. */
uint32_t gotrace_pick_process(struct ctr_reader *r, uint32_t *nprocs);

/*
 * A go trace needs every goroutine transition: a capture whose goroutines
 * were sampled only has not got them. Returns -1 with one line on stderr
 * then, 0 otherwise.
 */
int gotrace_check(struct ctr_reader *r);

#endif /* CTRACE_GOTRACE_H */
