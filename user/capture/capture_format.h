/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* On-disk framing of the capture file; docs/ctr-format.md describes it. */
#ifndef CTRACE_CAPTURE_FORMAT_H
#define CTRACE_CAPTURE_FORMAT_H

#include <stdint.h>

/* Uncompressed size a block holds at most. */
#define CTR_BLOCK_RAW (1u << 20)

struct ctr_file_header {
	char magic[8]; /* CTR_MAGIC */
	uint32_t version;
	uint32_t header_size; /* bytes to skip to the first block */
};

struct ctr_block_header {
	uint32_t magic; /* CTR_BLOCK_MAGIC */
	uint32_t raw_len;
	uint32_t z_len;
	uint32_t crc32; /* of the uncompressed bytes; 0: not computed */
};

#endif /* CTRACE_CAPTURE_FORMAT_H */
