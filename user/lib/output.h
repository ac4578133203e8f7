/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Buffered output file for the format writers. Writes go to PATH.tmp and are
 * renamed over PATH only when complete, so a reader never sees a partial
 * file. A ".gz" target is gzip-compressed through zlib. The first error
 * (ENOSPC, EIO, ...) sticks; later writes are no-ops and out_close() reports
 * it.
 */
#ifndef CTRACE_OUTPUT_H
#define CTRACE_OUTPUT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct out;

/* gzip: compress the stream. Returns NULL with errno set. */
struct out *out_open(const char *path, int gzip);
void out_write(struct out *o, const void *buf, size_t len);
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes handed to out_write() so far (uncompressed). */
uint64_t out_written(const struct out *o);
/* Nonzero errno once a write has failed. */
int out_error(const struct out *o);
/* Commits (rename) on success; on error removes the temporary file. Returns 0 or -errno. */
int out_close(struct out *o);
/* Removes the temporary file without committing. */
void out_abort(struct out *o);

#endif /* CTRACE_OUTPUT_H */
