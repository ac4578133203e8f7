// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness: a binary through what the collector reads of a Go
 * program: ELF, build info, pclntab (functions, pc lookups, inline frames)
 * and DWARF.
 */
#include "go/godwarf.h"
#include "go/goelf.h"
#include "fuzz_common.h"

static void queries(struct goelf *g)
{
	static const char *const names[] = {"runtime.execute", "runtime.main", "runtime.newproc1",
					    "runtime.forEachG", "main.main"};
	struct goelf_frame fr[8];
	uint64_t addr, size, ts, off;
	const char *func, *file;
	int line, ma, mi;
	uint8_t code[32];

	goelf_version_num(g, &ma, &mi);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (goelf_func(g, names[i], &addr, &size))
			continue;
		goelf_vaddr_to_offset(g, addr, &off);
		goelf_read_code(g, addr, code, size < sizeof(code) ? size : sizeof(code));
		goelf_pc_frames(g, addr + size / 2, fr, 8);
	}
	if (goelf_text_start(g, &ts))
		return;
	for (uint64_t pc = ts; pc < ts + 64 * 97; pc += 97) {
		goelf_pc_lookup(g, pc, &func, &file, &line);
		goelf_pc_func(g, pc, &addr, &size);
		goelf_pc_frames(g, pc, fr, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct go_offsets offs;
	struct godwarf_vars vars;
	char path[64], err[256];
	struct goelf *g;
	bool damaged;
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	g = goelf_open_go(path, err, sizeof(err), &damaged);
	if (g) {
		queries(g);
		goelf_close(g);
	}
	g = goelf_open_flags(path, GOELF_NO_SYMTAB, err, sizeof(err));
	if (g) {
		queries(g);
		goelf_close(g);
	}
	godwarf_read(path, &offs, &vars, err, sizeof(err));
	close(fd);
	return 0;
}
