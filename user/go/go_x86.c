// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * amd64 code patterns in Go runtime functions: where to put a cheap uprobe,
 * and which globals a function loads. Only the few shapes the Go compiler
 * emits are recognised; anything else falls back to the safe answer.
 */
#include <string.h>
#include "go/go_x86.h"

/*
 * Go's stack check is one of
 *   CMPQ SP, d8(R14)                          49 3b 66 d8
 *   LEAQ -n(SP), R12; CMPQ R12, d8(R14)       4c 8d 64 24 d8 | 4c 8d a4 24 d32; 4d 3b 66 d8
 * followed by JBE to morestack (76 rel8 | 0f 86 rel32). The JBE is emulated
 * by the kernel's uprobe code, the CMPQ would be single-stepped, and the
 * argument registers are still untouched there.
 */
int go_probe_site(const uint8_t *code, size_t len, struct go_probe_site *site)
{
	size_t i = 0;
	bool r12 = false;

	memset(site, 0, sizeof(*site));
	if (len >= 5 && code[0] == 0x4c && code[1] == 0x8d && code[2] == 0x64 && code[3] == 0x24) {
		i = 5;
		r12 = true;
	} else if (len >= 8 && code[0] == 0x4c && code[1] == 0x8d && code[2] == 0xa4 &&
		   code[3] == 0x24) {
		i = 8;
		r12 = true;
	}
	if (len >= i + 6 && code[i + 1] == 0x3b && code[i + 2] == 0x66 &&
	    ((!r12 && code[i] == 0x49) || (r12 && code[i] == 0x4d))) {
		uint8_t disp = code[i + 3];
		size_t j = i + 4;

		if (code[j] == 0x76 || (code[j] == 0x0f && code[j + 1] == 0x86)) {
			site->offset = j;
			site->guard_disp = disp;
			site->cmp_r12 = r12;
			site->emulated = true;
			return 0;
		}
	}
	/* nosplit functions with a frame pointer start with PUSHQ BP. */
	if (len >= 1 && code[0] == 0x55) {
		site->offset = 0;
		site->emulated = true;
		return 0;
	}
	site->offset = 0;
	site->emulated = false;
	return 0;
}

int go_find_call(const uint8_t *code, size_t len, uint64_t code_addr, uint64_t target,
		 size_t *offset)
{
	for (size_t i = 0; i + 5 <= len; i++) {
		int32_t rel;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, 4);
		if (code_addr + i + 5 + (int64_t)rel == target) {
			*offset = i;
			return 0;
		}
	}
	return -1;
}

/* MOVQ disp32(RIP), reg: REX.W (48 or 4c), 8b, ModRM with mod=00 rm=101. */
size_t go_rip_loads(const uint8_t *code, size_t len, uint64_t code_addr, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i + 7 <= len && n < max; i++) {
		int32_t disp;

		if ((code[i] != 0x48 && code[i] != 0x4c) || code[i + 1] != 0x8b ||
		    (code[i + 2] & 0xc7) != 0x05)
			continue;
		memcpy(&disp, code + i + 3, 4);
		out[n++] = code_addr + i + 7 + (int64_t)disp;
	}
	return n;
}

/* The register a REX prefix and a ModRM reg or rm field name (0..15). */
static int x86_reg(uint8_t rex, uint8_t field, bool rm)
{
	return (field & 7) | (((rex >> (rm ? 0 : 2)) & 1) << 3);
}

/*
 * The first load of the g pointer through FS in code. Go emits it as
 *   MOVQ FS:disp32, reg              64 REX.W 8b ModRM(00 reg 100) SIB(25) disp32
 * when the link-time offset is known (internal linking, and external
 * linking where the linker relaxed initial-exec to local-exec), else as
 *   MOVQ $imm32, rB; MOVQ FS:(rB), reg    REX.W c7 ModRM(11 000 rB) imm32; 64 REX.W 8b ModRM(00 reg
 * rB) MOVQ off(RIP), rB; MOVQ FS:(rB), reg  (initial-exec: the offset is in a GOT slot) The value
 * last put in each base register is tracked to resolve the latter.
 */
int go_fs_load(const uint8_t *code, size_t len, uint64_t code_addr, struct go_fs_load *out)
{
	int64_t imm[16] = {0};
	uint64_t slot[16] = {0};
	uint8_t kind[16] = {0}; /* 0 unknown, 1 immediate, 2 GOT slot */

	for (size_t i = 0; i + 4 <= len; i++) {
		const uint8_t *c = code + i;
		int32_t v;

		if ((c[0] & 0xf8) == 0x48 && c[1] == 0xc7 && (c[2] & 0xf8) == 0xc0 &&
		    i + 7 <= len) {
			int r = x86_reg(c[0], c[2], true);

			memcpy(&v, c + 3, 4);
			kind[r] = 1;
			imm[r] = v;
		} else if ((c[0] & 0xf8) == 0x48 && c[1] == 0x8b && (c[2] & 0xc7) == 0x05 &&
			   i + 7 <= len) {
			int r = x86_reg(c[0], c[2], false);

			memcpy(&v, c + 3, 4);
			kind[r] = 2;
			slot[r] = code_addr + i + 7 + (int64_t)v;
		} else if (c[0] == 0x64 && (c[1] & 0xf8) == 0x48 && c[2] == 0x8b) {
			uint8_t m = c[3];

			if (m >> 6)
				continue;
			if ((m & 7) == 4 && i + 9 <= len && c[4] == 0x25) {
				memcpy(&v, c + 5, 4);
				*out = (struct go_fs_load){.kind = GO_FS_IMM, .value = v, .at = i};
				return 0;
			}
			if ((m & 7) == 4 || (m & 7) == 5)
				continue;
			int b = x86_reg(c[1], m, true);

			if (kind[b] == 1) {
				*out = (struct go_fs_load){
				    .kind = GO_FS_IMM, .value = imm[b], .at = i};
				return 0;
			}
			if (kind[b] == 2) {
				*out = (struct go_fs_load){
				    .kind = GO_FS_GOT, .value = (int64_t)slot[b], .at = i};
				return 0;
			}
		}
	}
	return -1;
}
