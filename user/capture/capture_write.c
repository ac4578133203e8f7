// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Capture writer: records are appended to a block buffer; a full block is
 * compressed (capture/codec.c) and written whole, so a capture cut short (kill -9, full
 * disk) still holds every complete block before the cut. The capture is
 * written to a new PATH.tmp.XXXXXX (mode 0600: it holds command lines) and
 * renamed over PATH when closed without error; after an error the temporary
 * keeps what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture/capture.h"
#include "capture/capture_format.h"
#include "capture/codec.h"
#include "lib/output.h"

struct ctr_writer {
	int fd;
	char *path, *tmp;
	int err;
	unsigned char *raw;
	size_t len;
	unsigned char *z;
	size_t zcap;
	struct ctr_codec *codec;
	uint64_t bytes;
};

static int write_all(struct ctr_writer *w, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t r = write(w->fd, c, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += r;
		n -= r;
		w->bytes += r;
	}
	return 0;
}

struct ctr_writer *ctr_writer_open(const char *path)
{
	struct ctr_writer *w = calloc(1, sizeof(*w));
	struct ctr_file_header fh = {0};
	int err;

	if (!w)
		return NULL;
	w->raw = malloc(CTR_BLOCK_RAW);
	w->zcap = ctr_codec_bound(CTR_BLOCK_RAW);
	w->z = malloc(w->zcap);
	w->codec = ctr_codec_new();
	w->path = strdup(path);
	if (!w->raw || !w->z || !w->codec || !w->path) {
		err = ENOMEM;
		goto fail;
	}
	w->fd = out_create_tmp(path, 0600, &w->tmp);
	if (w->fd < 0) {
		err = -w->fd;
		goto fail;
	}
	memcpy(fh.magic, CTR_MAGIC, sizeof(fh.magic));
	fh.version = CTR_VERSION;
	fh.header_size = sizeof(fh);
	err = -write_all(w, &fh, sizeof(fh));
	if (err) {
		close(w->fd);
		out_unlink(w->tmp);
		out_forget_tmp(w->tmp);
		goto fail;
	}
	return w;
fail:
	free(w->tmp);
	free(w->path);
	ctr_codec_free(w->codec);
	free(w->raw);
	free(w->z);
	free(w);
	errno = err;
	return NULL;
}

int ctr_writer_flush(struct ctr_writer *w)
{
	struct ctr_block_header bh;
	size_t zlen;

	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	zlen = ctr_codec_compress(w->codec, w->z, w->zcap, w->raw, w->len);
	if (!zlen) {
		w->err = -EIO;
		return w->err;
	}
	bh.magic = CTR_BLOCK_MAGIC;
	bh.raw_len = w->len;
	bh.z_len = zlen;
	/* The zstd frame's own checksum already checks the block. */
	bh.crc32 = 0;
	w->err = write_all(w, &bh, sizeof(bh));
	if (!w->err)
		w->err = write_all(w, w->z, zlen);
	w->len = 0;
	return w->err;
}

/* Records are padded to 8 bytes so readers can use them in place. */
int ctr_writer_add(struct ctr_writer *w, const void *rec)
{
	const struct ev_header *h = rec;
	size_t padded = (h->size + 7u) & ~7u;

	if (w->err)
		return w->err;
	if (h->size < sizeof(*h) || padded > 0xffff)
		return -EINVAL;
	if (w->len + padded > CTR_BLOCK_RAW && ctr_writer_flush(w))
		return w->err;
	memcpy(w->raw + w->len, rec, h->size);
	memset(w->raw + w->len + h->size, 0, padded - h->size);
	((struct ev_header *)(w->raw + w->len))->size = padded;
	w->len += padded;
	return 0;
}

int ctr_writer_meta(struct ctr_writer *w, const char *key, const char *value)
{
	size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
	struct ev_header *h;
	char buf[4096];

	if (sizeof(*h) + kl + vl > sizeof(buf))
		return -E2BIG;
	h = (struct ev_header *)buf;
	memset(h, 0, sizeof(*h));
	h->type = REC_META;
	h->size = sizeof(*h) + kl + vl;
	memcpy(buf + sizeof(*h), key, kl);
	memcpy(buf + sizeof(*h) + kl, value, vl);
	return ctr_writer_add(w, buf);
}

uint64_t ctr_writer_bytes(const struct ctr_writer *w)
{
	return w->bytes + w->len;
}

const char *ctr_writer_tmp(const struct ctr_writer *w)
{
	return w->tmp;
}

static void writer_free(struct ctr_writer *w)
{
	out_forget_tmp(w->tmp);
	free(w->tmp);
	free(w->path);
	ctr_codec_free(w->codec);
	free(w->raw);
	free(w->z);
	free(w);
}

int ctr_writer_close(struct ctr_writer *w)
{
	int err = ctr_writer_flush(w);

	if (!err && fsync(w->fd) < 0 && errno != EINVAL)
		err = -errno;
	if (close(w->fd) < 0 && !err)
		err = -errno;
	if (!err && out_rename(w->tmp, w->path) < 0)
		err = -errno;
	writer_free(w);
	return err;
}

void ctr_writer_discard(struct ctr_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	out_unlink(w->tmp);
	writer_free(w);
}
