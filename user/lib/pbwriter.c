// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Minimal protobuf encoder; see pbwriter.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/pbwriter.h"

/* Length placeholder: a 4-byte varint holds up to 2^28 - 1. */
#define PLACEHOLDER 4
#define NESTED_MAX  ((1u << 28) - 1)
/*
 * Payloads below this are moved down to a minimal length prefix. It bounds
 * the memmove per message while still shrinking every typical event.
 */
#define SHRINK_BELOW (1u << 14)

void pbw_init(struct pbw *w)
{
	memset(w, 0, sizeof(*w));
}

void pbw_free(struct pbw *w)
{
	free(w->buf);
	pbw_init(w);
}

void pbw_reset(struct pbw *w)
{
	w->len = 0;
	w->depth = 0;
	w->err = 0;
}

/* Makes room for n more bytes; false (with w->err set) if impossible. */
static int reserve(struct pbw *w, size_t n)
{
	size_t cap;
	uint8_t *b;

	if (w->err)
		return 0;
	if (w->len + n <= w->cap)
		return 1;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	b = realloc(w->buf, cap);
	if (!b) {
		w->err = ENOMEM;
		return 0;
	}
	w->buf = b;
	w->cap = cap;
	return 1;
}

size_t pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t pb_ld_header(uint8_t *hdr, uint32_t field, uint64_t len)
{
	size_t n = pb_put_varint(hdr, (uint64_t)field << 3 | PB_LEN);

	return n + pb_put_varint(hdr + n, len);
}

void pbw_raw(struct pbw *w, const void *p, size_t n)
{
	if (!n || !reserve(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void pbw_raw_varint(struct pbw *w, uint64_t v)
{
	if (!reserve(w, PB_VARINT_MAX))
		return;
	w->len += pb_put_varint(w->buf + w->len, v);
}

void pbw_tag(struct pbw *w, uint32_t field, enum pb_wire wire)
{
	pbw_raw_varint(w, (uint64_t)field << 3 | wire);
}

void pbw_uint(struct pbw *w, uint32_t field, uint64_t v)
{
	pbw_tag(w, field, PB_VARINT);
	pbw_raw_varint(w, v);
}

void pbw_int(struct pbw *w, uint32_t field, int64_t v)
{
	pbw_uint(w, field, (uint64_t)v);
}

void pbw_sint(struct pbw *w, uint32_t field, int64_t v)
{
	pbw_uint(w, field, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void pbw_bool(struct pbw *w, uint32_t field, int v)
{
	pbw_uint(w, field, v ? 1 : 0);
}

static void put_le(struct pbw *w, uint64_t v, size_t n)
{
	if (!reserve(w, n))
		return;
	for (size_t i = 0; i < n; i++)
		w->buf[w->len++] = (uint8_t)(v >> (8 * i));
}

void pbw_fixed64(struct pbw *w, uint32_t field, uint64_t v)
{
	pbw_tag(w, field, PB_FIXED64);
	put_le(w, v, 8);
}

void pbw_fixed32(struct pbw *w, uint32_t field, uint32_t v)
{
	pbw_tag(w, field, PB_FIXED32);
	put_le(w, v, 4);
}

void pbw_double(struct pbw *w, uint32_t field, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	pbw_fixed64(w, field, u);
}

void pbw_bytes(struct pbw *w, uint32_t field, const void *p, size_t n)
{
	pbw_tag(w, field, PB_LEN);
	pbw_raw_varint(w, n);
	pbw_raw(w, p, n);
}

void pbw_string(struct pbw *w, uint32_t field, const char *s)
{
	pbw_bytes(w, field, s, strlen(s));
}

void pbw_strn(struct pbw *w, uint32_t field, const char *s, size_t max)
{
	pbw_bytes(w, field, s, strnlen(s, max));
}

void pbw_begin(struct pbw *w, uint32_t field)
{
	if (w->depth == PBW_MAX_DEPTH) {
		if (!w->err)
			w->err = EOVERFLOW;
		return;
	}
	pbw_tag(w, field, PB_LEN);
	if (!reserve(w, PLACEHOLDER))
		return;
	w->open[w->depth++] = w->len;
	w->len += PLACEHOLDER;
}

void pbw_end(struct pbw *w)
{
	size_t at, n;
	uint8_t *p;

	if (w->err)
		return;
	if (!w->depth) {
		w->err = EINVAL;
		return;
	}
	at = w->open[--w->depth];
	n = w->len - at - PLACEHOLDER;
	p = w->buf + at;
	if (n > NESTED_MAX) {
		w->err = EMSGSIZE;
		return;
	}
	if (n < SHRINK_BELOW) {
		size_t vl = pb_put_varint(p, n);

		memmove(p + vl, p + PLACEHOLDER, n);
		w->len -= PLACEHOLDER - vl;
		return;
	}
	/* Redundant varint: continuation bits on the first three bytes. */
	p[0] = (uint8_t)(0x80 | (n & 0x7f));
	p[1] = (uint8_t)(0x80 | ((n >> 7) & 0x7f));
	p[2] = (uint8_t)(0x80 | ((n >> 14) & 0x7f));
	p[3] = (uint8_t)((n >> 21) & 0x7f);
}
