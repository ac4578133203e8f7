/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Go runtime struct offsets and globals read from a binary's DWARF (libdw). */
#ifndef CTRACE_GODWARF_H
#define CTRACE_GODWARF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include "go/go_offsets.h"

/* Returned when the binary has no DWARF at all (stripped, or -ldflags=-w). */
#define GODWARF_ENODWARF (-ENODATA)

/* Globals the tracer reads; addresses are link-time (add the load bias). */
struct godwarf_vars {
	uint64_t allgs_addr; /* runtime.allgs, a []*runtime.g */
	int32_t allgs_array; /* offsets inside that slice header */
	int32_t allgs_len;
	uint64_t allglen_addr; /* runtime.allglen, a uintptr */
};

/*
 * Fills *out from the DWARF of the ELF file at path: every field of
 * GO_OFFSET_FIELDS (-1 where the binary's runtime lacks it) and major/minor
 * from the compile units' producer (0 if none says "goX.Y"). Returns 0,
 * GODWARF_ENODWARF when there is no DWARF, or another -errno (-ENOENT for a
 * missing file, -EINVAL when the DWARF has no runtime.g) with a one-line
 * reason in err.
 */
int godwarf_offsets(const char *path, struct go_offsets *out, char *err, size_t errlen);
/* Same, also locating the globals; vars may be NULL. Missing ones are 0/-1. */
int godwarf_read(const char *path, struct go_offsets *out, struct godwarf_vars *vars, char *err,
		 size_t errlen);

#endif /* CTRACE_GODWARF_H */
