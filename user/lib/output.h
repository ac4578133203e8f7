/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Buffered output for every writer. A file opened with out_open() is written
 * to a new PATH.tmp.XXXXXX (created exclusively, never through a symlink) and
 * renamed over PATH only when complete, so a reader never sees a partial
 * file and an existing PATH is replaced only by a complete one; a ".gz"
 * target is gzip-compressed through zlib.
 * The same writer also goes to an already-open descriptor (stdout) or to
 * memory. The first error (ENOSPC, EIO, ...) sticks; later writes are no-ops
 * and the close reports it.
 */
#ifndef CTRACE_OUTPUT_H
#define CTRACE_OUTPUT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct out;

/* gzip: compress the stream. Returns NULL with errno set. */
struct out *out_open(const char *path, int gzip);
/*
 * Over an open descriptor such as STDOUT_FILENO: not atomic, nothing to
 * rename; out_close() flushes but leaves fd open. NULL with errno set.
 */
struct out *out_open_fd(int fd);
/* In memory; out_close_mem() hands the bytes over. NULL with errno set. */
struct out *out_open_mem(void);

void out_write(struct out *o, const void *buf, size_t len);
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_puts(struct out *o, const char *s);
void out_putc(struct out *o, char c);
/* Bytes handed to out_write() so far (uncompressed). */
uint64_t out_written(const struct out *o);
/* Nonzero errno once a write has failed. */
int out_error(const struct out *o);

/*
 * Flushes and frees o. A file is committed (rename) on success and its
 * temporary removed on error. Returns 0 or -errno.
 */
int out_close(struct out *o);
/*
 * Closes an out_open_mem() stream: its bytes, NUL-terminated, for free(),
 * their count in *len. NULL with errno set after an error.
 */
char *out_close_mem(struct out *o, size_t *len);
/* Frees o without committing: a file's temporary is removed. */
void out_abort(struct out *o);

/* Every file created from now on is given to uid:gid (under sudo: the invoking user). */
void out_set_owner(uid_t uid, gid_t gid);
/* The mode of files created from now on, before the umask (default 0644). */
void out_set_mode(mode_t mode);
/*
 * Creates a new temporary file PATH.tmp.XXXXXX with mode, O_EXCL|O_NOFOLLOW,
 * owned as out_set_owner() said; its name in *tmp (malloc'd, registered for
 * out_unlink_pending() until out_forget_tmp()). Returns the fd or -errno.
 */
int out_create_tmp(const char *path, mode_t mode, char **tmp);
void out_forget_tmp(const char *tmp);
/* rename() and unlink() with the file system identity of out_set_owner()'s owner. */
int out_rename(const char *from, const char *to);
int out_unlink(const char *path);
/* Removes every temporary file being written; async-signal-safe. */
void out_unlink_pending(void);

#endif /* CTRACE_OUTPUT_H */
