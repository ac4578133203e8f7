/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Where a Go binary's threads keep their g pointer (see gotls.c). */
#ifndef CTRACE_GOTLS_H
#define CTRACE_GOTLS_H

#include <stddef.h>
#include <stdint.h>

struct goelf;

/*
 * The g pointer's offset from the FS base of the binary's threads (amd64).
 * Returns 0, or a negative errno with a one-line reason in msg.
 */
int go_tls_offset(struct goelf *e, int32_t *off, char *msg, size_t len);

#endif /* CTRACE_GOTLS_H */
