// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test driver for user/go/goelf.c: prints what goelf finds in a binary, in a
 * line format tests/go/test_goelf.sh compares with the Go toolchain's view.
 *
 * usage: goelf_check [-P] [-F] [-c N] [-s STEP:LEN] FILE [NAME | 0xPC]...
 *   -P          ignore .symtab (force the pclntab paths)
 *   -F          expand inlined frames of each 0xPC (goelf_pc_frames)
 *   -c N        print the first N code bytes of each function
 *   -s STEP:LEN symbolize every STEP-th pc over LEN bytes from textStart and
 *               print only counts (exercises the tables, e.g. on corrupt input)
 * Output lines:
 *   version V MAJOR.MINOR | pie 0/1 | symtab 0/1 | dwarf 0/1 | pclntab SOURCE
 *   textstart 0xADDR
 *   func NAME 0xADDR SIZE 0xFILEOFF [HEXBYTES]
 *   pc 0xPC<TAB>FUNC<TAB>FILE:LINE   (Go names may contain spaces)
 *   frames 0xPC<TAB>N<TAB>FUNC<TAB>FILE:LINE...   (-F: N frames, innermost first)
 *   sweep OK NOTFOUND ERRORS INLINED
 * The sweep also expands every pc; a frame list that disagrees with
 * goelf_pc_lookup (last frame's function, first frame's file:line) counts
 * as an error. INLINED: pcs with more than one frame.
 * A failed lookup prints "func NAME error: ..." / "pc 0xPC error: ...".
 * Exit status: 0, or 1 if FILE could not be opened (reason on stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "go/goelf.h"

static void print_func(struct goelf *g, const char *name, size_t ncode)
{
	uint64_t addr, size, off;
	unsigned char code[64];

	if (goelf_func(g, name, &addr, &size)) {
		printf("func %s error: %s\n", name, goelf_errmsg(g));
		return;
	}
	if (goelf_vaddr_to_offset(g, addr, &off)) {
		printf("func %s error: %s\n", name, goelf_errmsg(g));
		return;
	}
	printf("func %s 0x%" PRIx64 " %" PRIu64 " 0x%" PRIx64, name, addr, size, off);
	if (ncode) {
		if (goelf_read_code(g, addr, code, ncode)) {
			printf(" error: %s\n", goelf_errmsg(g));
			return;
		}
		putchar(' ');
		for (size_t i = 0; i < ncode; i++)
			printf("%02x", code[i]);
	}
	putchar('\n');
}

static void print_pc(struct goelf *g, uint64_t pc)
{
	const char *func, *file;
	int line;

	if (goelf_pc_lookup(g, pc, &func, &file, &line)) {
		printf("pc 0x%" PRIx64 "\terror: %s\n", pc, goelf_errmsg(g));
		return;
	}
	printf("pc 0x%" PRIx64 "\t%s\t%s:%d\n", pc, func, file ? file : "?", line);
}

static void print_frames(struct goelf *g, uint64_t pc)
{
	struct goelf_frame fr[64];
	int n = goelf_pc_frames(g, pc, fr, 64);

	if (n < 0) {
		printf("frames 0x%" PRIx64 "\terror: %s\n", pc, goelf_errmsg(g));
		return;
	}
	printf("frames 0x%" PRIx64 "\t%d", pc, n);
	for (int i = 0; i < n; i++)
		printf("\t%s\t%s:%d", fr[i].func, fr[i].file ? fr[i].file : "?", fr[i].line);
	putchar('\n');
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void sweep(struct goelf *g, uint64_t step, uint64_t len)
{
	uint64_t ts, n_ok = 0, n_noent = 0, n_err = 0, n_inl = 0;
	struct goelf_frame fr[64];

	if (goelf_text_start(g, &ts)) {
		printf("sweep error: %s\n", goelf_errmsg(g));
		return;
	}
	for (uint64_t o = 0; o < len; o += step) {
		const char *func, *file;
		int line, ret = goelf_pc_lookup(g, ts + o, &func, &file, &line);

		int nf = goelf_pc_frames(g, ts + o, fr, 64);

		if (!ret && nf > 0 &&
		    (!same_str(fr[nf - 1].func, func) || !same_str(fr[0].file, file) ||
		     fr[0].line != line))
			ret = -EPROTO;
		else if ((ret == 0) != (nf > 0))
			ret = -EPROTO;
		if (!ret)
			n_ok++;
		else if (ret == -ENOENT)
			n_noent++;
		else
			n_err++;
		n_inl += nf > 1;
	}
	printf("sweep %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", n_ok, n_noent, n_err,
	       n_inl);
}

int main(int argc, char **argv)
{
	unsigned int flags = 0;
	bool frames = false;
	uint64_t step = 0, len = 0, ts;
	size_t ncode = 0;
	char err[512];
	struct goelf *g;
	int opt, ma, mi;

	while ((opt = getopt(argc, argv, "PFc:s:")) != -1) {
		switch (opt) {
		case 'P':
			flags |= GOELF_NO_SYMTAB;
			break;
		case 'F':
			frames = true;
			break;
		case 'c':
			ncode = strtoul(optarg, NULL, 0);
			if (ncode > 64)
				ncode = 64;
			break;
		case 's':
			if (sscanf(optarg, "%" SCNi64 ":%" SCNi64, &step, &len) != 2 || !step) {
				fprintf(stderr, "bad -s %s\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr,
				"usage: %s [-P] [-F] [-c N] [-s STEP:LEN] FILE [NAME|0xPC]...\n",
				argv[0]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "missing FILE\n");
		return 2;
	}
	g = goelf_open_flags(argv[optind], flags, err, sizeof(err));
	if (!g) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	if (goelf_version(g) && !goelf_version_num(g, &ma, &mi))
		printf("version %s %d.%d\n", goelf_version(g), ma, mi);
	else
		printf("version %s ?\n", goelf_version(g) ? goelf_version(g) : "?");
	printf("pie %d\nsymtab %d\ndwarf %d\n", goelf_is_pie(g), goelf_has_symtab(g),
	       goelf_has_dwarf(g));
	printf("pclntab %s\n", goelf_has_pclntab(g) ? goelf_pclntab_source(g) : "none");
	if (!goelf_text_start(g, &ts))
		printf("textstart 0x%" PRIx64 "\n", ts);
	for (int i = optind + 1; i < argc; i++) {
		if (!strncmp(argv[i], "0x", 2) && frames)
			print_frames(g, strtoull(argv[i], NULL, 16));
		else if (!strncmp(argv[i], "0x", 2))
			print_pc(g, strtoull(argv[i], NULL, 16));
		else
			print_func(g, argv[i], ncode);
	}
	if (step)
		sweep(g, step, len);
	goelf_close(g);
	return 0;
}
