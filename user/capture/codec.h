/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Block compression of the capture. Version 1 captures hold zlib streams;
 * version 2 (what the collector writes) holds zstd frames, about four times
 * cheaper to write at level 1 than zlib for a smaller file
 * (docs/ctr-format.md has the figures).
 */
#ifndef CTRACE_CODEC_H
#define CTRACE_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct ctr_codec;

struct ctr_codec *ctr_codec_new(void);
void ctr_codec_free(struct ctr_codec *c);
/* The largest compressed form of len bytes, in any version. */
size_t ctr_codec_bound(size_t len);
/* Compresses src into dst (cap bytes) for the current version: its size, or 0. */
size_t ctr_codec_compress(struct ctr_codec *c, void *dst, size_t cap, const void *src, size_t len);
/*
 * Decompresses a block of a capture of the given version into exactly
 * raw_len bytes. 0, or -1 when the block is damaged or the version unknown.
 */
int ctr_codec_decompress(uint32_t version, void *dst, size_t raw_len, const void *src,
			 size_t z_len);

#endif /* CTRACE_CODEC_H */
