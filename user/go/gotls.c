// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The TLS offset of g. Go's internal linker puts runtime.tlsg at FS - 8
 * (cmd/link: Tlsoffset = -PtrSize); an external linker (cgo) places the
 * executable's TLS block itself, so the offset is tlsg's value minus the
 * block size rounded to its alignment, which only the symbol table says,
 * and stripped binaries have none. Every form, though, loads g through FS
 * in runtime.morestack (asm_amd64.s: get_tls(CX); MOVQ g(CX), ...), with
 * the offset the linker resolved: decoding that load works for plain,
 * stripped, PIE and cgo builds alike, and needs only .gopclntab.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "go/go_x86.h"
#include "go/goelf.h"
#include "go/gotls.h"

/* An offset inside the executable's TLS block, below the thread pointer. */
static bool plausible(int64_t off)
{
	return off < 0 && off >= -(1 << 20) && !(off & 7);
}

static int fs_load_in(struct goelf *e, const char *func, struct go_fs_load *ld)
{
	uint8_t code[64];
	uint64_t addr, size;

	if (goelf_func(e, func, &addr, &size))
		return -ENOENT;
	if (size > sizeof(code))
		size = sizeof(code);
	if (goelf_read_code(e, addr, code, size))
		return -EINVAL;
	return go_fs_load(code, size, addr, ld) ? -ENOTSUP : 0;
}

int go_tls_offset(struct goelf *e, int32_t *off, char *msg, size_t len)
{
	static const char *const funcs[] = {"runtime.morestack", "runtime.morestack.abi0"};
	struct go_fs_load ld;
	int64_t v;
	int rc = -ENOENT;

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && rc; i++)
		rc = fs_load_in(e, funcs[i], &ld);
	if (rc) {
		snprintf(msg, len, "no TLS load of g found in runtime.morestack (%s)",
			 rc == -ENOENT ? "function not found" : "unknown code shape");
		return rc;
	}
	v = ld.value;
	/* Initial-exec left unrelaxed: the GOT slot's link-time content, if filled. */
	if (ld.kind == GO_FS_GOT && goelf_read_code(e, (uint64_t)ld.value, &v, sizeof(v)))
		v = 0;
	if (!plausible(v)) {
		snprintf(msg, len, "TLS offset of g not resolved at link time (%s %lld)",
			 ld.kind == GO_FS_GOT ? "GOT slot holds" : "offset", (long long)v);
		return -ENOTSUP;
	}
	*off = (int32_t)v;
	return 0;
}
