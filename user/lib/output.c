// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Buffered, all-or-nothing output files (see output.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "lib/output.h"

#define OUT_BUF (1 << 20)

struct out {
	int fd;
	int err;
	char *path, *tmp;
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

struct out *out_open(const char *path, int gzip)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fd = -1;
	o->path = strdup(path);
	if (!o->path || asprintf(&o->tmp, "%s.tmp.%d", path, getpid()) < 0)
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
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0)
		goto fail;
	return o;
fail : {
	int e = errno;

	out_abort(o);
	errno = e;
	return NULL;
}
}

void out_write(struct out *o, const void *buf, size_t len)
{
	const char *p = buf;

	o->written += len;
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
	free(o->path);
	free(o->tmp);
	free(o);
}

int out_close(struct out *o)
{
	int err;

	if (!o->err)
		drain(o, 1);
	if (!o->err && fsync(o->fd) < 0 && errno != EINVAL)
		o->err = errno;
	if (close(o->fd) < 0 && !o->err)
		o->err = errno;
	o->fd = -1;
	if (!o->err && rename(o->tmp, o->path) < 0)
		o->err = errno;
	if (o->err)
		unlink(o->tmp);
	err = o->err;
	out_free(o);
	return err ? -err : 0;
}

void out_abort(struct out *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	out_free(o);
}
