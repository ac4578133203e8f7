// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Buffered output: all-or-nothing files, a descriptor, or memory (see output.h). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "lib/output.h"

#define OUT_BUF (1 << 20)
/* Files being written at once: a trace, or one pprof profile at a time. */
#define MAX_PENDING 4

/* Who new files are given to (-1: whoever creates them) and their mode. */
static uid_t owner_uid = (uid_t)-1;
static gid_t owner_gid = (gid_t)-1;
static mode_t new_mode = 0644;
/* Temporary names being written, for out_unlink_pending() in a signal handler. */
static char *volatile pending[MAX_PENDING];

enum out_kind {
	OUT_FILE, /* PATH.tmp.XXXXXX, renamed over PATH by out_close() */
	OUT_FD,	  /* a descriptor the caller owns */
	OUT_MEM,
};

struct out {
	enum out_kind kind;
	int fd;
	int err;
	char *path, *tmp;
	char *mem; /* OUT_MEM: the bytes so far, no staging buffer */
	size_t mem_cap;
	unsigned char *buf;
	size_t len;
	uint64_t written;
	z_stream *z;
	unsigned char *zbuf;
};

static void raw_write(struct out *o, const void *p, size_t n)
{
	const char *c = p;

	while (n && !o->err) {
		ssize_t w = write(o->fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			return;
		}
		c += w;
		n -= w;
	}
}

static void deflate_out(struct out *o, const void *p, size_t n, int flush)
{
	o->z->next_in = (unsigned char *)p;
	o->z->avail_in = n;
	do {
		int rc;

		o->z->next_out = o->zbuf;
		o->z->avail_out = OUT_BUF;
		rc = deflate(o->z, flush);
		if (rc == Z_STREAM_ERROR) {
			o->err = EIO;
			return;
		}
		raw_write(o, o->zbuf, OUT_BUF - o->z->avail_out);
	} while (o->z->avail_out == 0 && !o->err);
}

static void drain(struct out *o, int final)
{
	if (o->z)
		deflate_out(o, o->buf, o->len, final ? Z_FINISH : Z_NO_FLUSH);
	else
		raw_write(o, o->buf, o->len);
	o->len = 0;
}

/* Keeps room for a final NUL. */
static void mem_append(struct out *o, const void *p, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->mem_cap) {
		size_t cap = o->mem_cap ? o->mem_cap : 65536;
		char *m;

		while (cap < o->len + n + 1)
			cap *= 2;
		m = realloc(o->mem, cap);
		if (!m) {
			o->err = ENOMEM;
			return;
		}
		o->mem = m;
		o->mem_cap = cap;
	}
	memcpy(o->mem + o->len, p, n);
	o->len += n;
}

struct out *out_open(const char *path, int gzip)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = OUT_FILE;
	o->fd = -1;
	o->path = strdup(path);
	if (!o->path)
		goto fail;
	o->buf = malloc(OUT_BUF);
	if (!o->buf)
		goto fail;
	if (gzip) {
		o->z = calloc(1, sizeof(*o->z));
		o->zbuf = malloc(OUT_BUF);
		if (!o->z || !o->zbuf)
			goto fail;
		/* 16 + MAX_WBITS selects the gzip wrapper. */
		if (deflateInit2(o->z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK) {
			free(o->z);
			o->z = NULL;
			errno = ENOMEM;
			goto fail;
		}
	}
	o->fd = out_create_tmp(path, new_mode, &o->tmp);
	if (o->fd < 0) {
		errno = -o->fd;
		goto fail;
	}
	return o;
fail : {
	int e = errno;

	out_abort(o);
	errno = e;
	return NULL;
}
}

struct out *out_open_fd(int fd)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = OUT_FD;
	o->fd = fd;
	o->buf = malloc(OUT_BUF);
	if (!o->buf) {
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}

struct out *out_open_mem(void)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = OUT_MEM;
	o->fd = -1;
	return o;
}

void out_write(struct out *o, const void *buf, size_t len)
{
	const char *p = buf;

	o->written += len;
	if (o->kind == OUT_MEM) {
		mem_append(o, buf, len);
		return;
	}
	while (len && !o->err) {
		size_t n = OUT_BUF - o->len;

		if (n > len)
			n = len;
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == OUT_BUF)
			drain(o, 0);
	}
}

void out_printf(struct out *o, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		out_write(o, tmp, n);
		return;
	}
	{
		char *big = malloc(n + 1);

		if (!big) {
			o->err = ENOMEM;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		out_write(o, big, n);
		free(big);
	}
}

void out_puts(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

void out_putc(struct out *o, char c)
{
	out_write(o, &c, 1);
}

uint64_t out_written(const struct out *o)
{
	return o->written;
}

int out_error(const struct out *o)
{
	return o->err;
}

static void out_free(struct out *o)
{
	if (o->z)
		deflateEnd(o->z);
	free(o->z);
	free(o->zbuf);
	free(o->buf);
	free(o->mem);
	free(o->path);
	free(o->tmp);
	free(o);
}

int out_close(struct out *o)
{
	int err;

	if (o->kind != OUT_FILE) {
		if (o->kind == OUT_FD && !o->err)
			drain(o, 1);
		err = o->err;
		out_free(o);
		return err ? -err : 0;
	}
	if (!o->err)
		drain(o, 1);
	if (!o->err && fsync(o->fd) < 0 && errno != EINVAL)
		o->err = errno;
	if (close(o->fd) < 0 && !o->err)
		o->err = errno;
	o->fd = -1;
	if (!o->err && out_rename(o->tmp, o->path) < 0)
		o->err = errno;
	if (o->err)
		out_unlink(o->tmp);
	out_forget_tmp(o->tmp);
	err = o->err;
	out_free(o);
	return err ? -err : 0;
}

char *out_close_mem(struct out *o, size_t *len)
{
	char *m = NULL;
	int err;

	/* An empty stream still owes the caller a string. */
	mem_append(o, "", 0);
	err = o->err;
	if (!err) {
		m = o->mem;
		m[o->len] = 0;
		*len = o->len;
		o->mem = NULL;
	}
	out_free(o);
	if (err)
		errno = err;
	return m;
}

void out_abort(struct out *o)
{
	if (!o)
		return;
	if (o->kind == OUT_FILE && o->fd >= 0)
		close(o->fd);
	if (o->tmp) {
		out_unlink(o->tmp);
		out_forget_tmp(o->tmp);
	}
	out_free(o);
}

void out_set_owner(uid_t uid, gid_t gid)
{
	owner_uid = uid;
	owner_gid = gid;
}

void out_set_mode(mode_t mode)
{
	new_mode = mode;
}

/*
 * Path operations in the owner's directories are done with the owner's file
 * system identity: a directory swapped for a symlink after the checks can
 * only lead where the owner could write anyway. Returns whether it switched.
 */
static bool as_owner(void)
{
	if (owner_uid == (uid_t)-1 || geteuid() != 0)
		return false;
	setfsgid(owner_gid);
	setfsuid(owner_uid);
	return true;
}

static void as_self(bool switched)
{
	int e = errno;

	if (switched) {
		setfsuid(geteuid());
		setfsgid(getegid());
	}
	errno = e;
}

int out_rename(const char *from, const char *to)
{
	bool sw = as_owner();
	int rc = rename(from, to);

	as_self(sw);
	return rc;
}

int out_unlink(const char *path)
{
	bool sw = as_owner();
	int rc = unlink(path);

	as_self(sw);
	return rc;
}

static void remember_tmp(char *tmp)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending[i]) {
			pending[i] = tmp;
			return;
		}
}

void out_forget_tmp(const char *tmp)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i] == tmp)
			pending[i] = NULL;
}

void out_unlink_pending(void)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		char *t = pending[i];

		if (t)
			unlink(t);
	}
}

int out_create_tmp(const char *path, mode_t mode, char **tmp)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[8];
	char *name = NULL;
	int fd = -EEXIST;
	sigset_t all, old;
	bool sw;

	/*
	 * A name nobody can predict, created only if absent: O_EXCL never
	 * follows a symlink, so one planted there only makes us try another.
	 * Signals wait: a handler sees the file in pending[] once it exists.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sw = as_owner();
	for (int tries = 0; tries < 100 && fd == -EEXIST; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			fd = -EIO;
			break;
		}
		free(name);
		if (asprintf(&name, "%s.tmp.%c%c%c%c%c%c%c%c", path, digits[rnd[0] % 36],
			     digits[rnd[1] % 36], digits[rnd[2] % 36], digits[rnd[3] % 36],
			     digits[rnd[4] % 36], digits[rnd[5] % 36], digits[rnd[6] % 36],
			     digits[rnd[7] % 36]) < 0) {
			name = NULL;
			fd = -ENOMEM;
			break;
		}
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0)
			fd = -errno;
	}
	if (fd >= 0 && owner_uid != (uid_t)-1 && fchown(fd, owner_uid, owner_gid) < 0) {
		int e = -errno;

		close(fd);
		unlink(name);
		fd = e;
	}
	as_self(sw);
	if (fd >= 0) {
		remember_tmp(name);
		*tmp = name;
	} else {
		free(name);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return fd;
}
