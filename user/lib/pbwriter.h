/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal protobuf encoder for writing traces without a protobuf library.
 *
 * A struct pbw is a growable byte buffer that fields are appended to. Nested
 * messages (and packed repeated fields) are opened with pbw_begin(), which
 * reserves a 4-byte length, and closed with pbw_end(), which patches it in:
 * no size pre-computation is needed. Small payloads are then moved down to a
 * minimal length varint; large ones keep the 4-byte redundant varint, which
 * every decoder accepts, capping a nested message at 256 MiB - 1.
 *
 * Errors (allocation failure, oversized or unbalanced nesting) stick in
 * w->err and make later calls no-ops, so callers check once per message.
 */
#ifndef CTRACE_PBWRITER_H
#define CTRACE_PBWRITER_H

#include <stddef.h>
#include <stdint.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2,
	PB_FIXED32 = 5,
};

#define PBW_MAX_DEPTH 16
/* Largest encoded varint, and a tag plus a length prefix. */
#define PB_VARINT_MAX	 10
#define PB_LD_HEADER_MAX (2 * PB_VARINT_MAX)

struct pbw {
	uint8_t *buf;
	size_t len, cap;
	size_t open[PBW_MAX_DEPTH]; /* offsets of pending length placeholders */
	unsigned int depth;
	int err; /* 0 or a positive errno */
};

void pbw_init(struct pbw *w);
void pbw_free(struct pbw *w);
/* Empties the buffer (keeping its memory) and clears the error. */
void pbw_reset(struct pbw *w);

/* Raw bytes and varints without a tag: for packed arrays and pre-encoded data. */
void pbw_raw(struct pbw *w, const void *p, size_t n);
void pbw_raw_varint(struct pbw *w, uint64_t v);

void pbw_tag(struct pbw *w, uint32_t field, enum pb_wire wire);
/* uint32, uint64, enum. */
void pbw_uint(struct pbw *w, uint32_t field, uint64_t v);
/* int32, int64: negative values are sign-extended to 10 bytes, as protobuf does. */
void pbw_int(struct pbw *w, uint32_t field, int64_t v);
/* sint32, sint64 (zigzag). */
void pbw_sint(struct pbw *w, uint32_t field, int64_t v);
void pbw_bool(struct pbw *w, uint32_t field, int v);
void pbw_fixed64(struct pbw *w, uint32_t field, uint64_t v);
void pbw_fixed32(struct pbw *w, uint32_t field, uint32_t v);
void pbw_double(struct pbw *w, uint32_t field, double v);
void pbw_bytes(struct pbw *w, uint32_t field, const void *p, size_t n);
void pbw_string(struct pbw *w, uint32_t field, const char *s);
/* A string in a fixed-size char array that may lack its NUL (e.g. a comm). */
void pbw_strn(struct pbw *w, uint32_t field, const char *s, size_t max);

/* Opens a length-delimited field (sub-message or packed array). */
void pbw_begin(struct pbw *w, uint32_t field);
/* Closes the innermost pbw_begin(). */
void pbw_end(struct pbw *w);

/* Encodes v at p (PB_VARINT_MAX bytes room); returns the length used. */
size_t pb_put_varint(uint8_t *p, uint64_t v);
/*
 * Encodes the tag and length of a length-delimited field whose payload is
 * written separately, e.g. Trace.packet framing around a finished pbw.
 */
size_t pb_ld_header(uint8_t *hdr, uint32_t field, uint64_t len);

#endif /* CTRACE_PBWRITER_H */
