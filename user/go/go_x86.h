/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* amd64 code patterns of Go runtime functions (see go_x86.c). */
#ifndef CTRACE_GO_X86_H
#define CTRACE_GO_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct go_probe_site {
	size_t offset;	    /* from the function's entry */
	uint8_t guard_disp; /* g.stackguard offset the check reads; 0: no check */
	bool cmp_r12;	    /* the check compares R12 (large frames), not SP */
	bool emulated;	    /* the kernel emulates the probed instruction */
};

/* Picks the probe site of a function from its first bytes. */
int go_probe_site(const uint8_t *code, size_t len, struct go_probe_site *site);
/* Offset of a CALL rel32 to target in code (at code_addr); -1 if none. */
int go_find_call(const uint8_t *code, size_t len, uint64_t code_addr, uint64_t target,
		 size_t *offset);
/* Addresses loaded by RIP-relative MOVQ in code; returns how many. */
size_t go_rip_loads(const uint8_t *code, size_t len, uint64_t code_addr, uint64_t *out, size_t max);

/* Where a function first reads the g pointer through FS. */
struct go_fs_load {
	enum { GO_FS_IMM = 1, GO_FS_GOT = 2 } kind;
	int64_t value; /* GO_FS_IMM: the FS offset; GO_FS_GOT: the link-time slot holding it */
	size_t at;     /* offset of the FS load in code */
};

int go_fs_load(const uint8_t *code, size_t len, uint64_t code_addr, struct go_fs_load *out);

#endif /* CTRACE_GO_X86_H */
