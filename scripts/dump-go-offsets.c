// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Helper for scripts/gen-go-offsets.sh and tests/go/test_offsets.sh.
 *
 *   dump-go-offsets BINARY           "name value" per offset, from DWARF
 *   dump-go-offsets --vars BINARY    the same plus the runtime globals
 *   dump-go-offsets --c BINARY       a C initializer for go_offsets_table.c
 *
 * Built with -DWITH_TABLE (linking user/go/go_offsets_table.c) it also offers
 *
 *   dump-go-offsets --table MINOR    the committed entry, as "name value"
 *   dump-go-offsets --reason MINOR STRING
 *                                    the kind of the wait reason Go prints
 *                                    as STRING, or "missing"
 *   dump-go-offsets --supported
 *
 * The generator builds it without the table, which it is about to replace.
 * Exit status: 0, 2 for no DWARF, 1 for other errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "go/godwarf.h"

static void print_plain(const struct go_offsets *o)
{
	printf("major %d\nminor %d\n", o->major, o->minor);
#define PRINT_PLAIN(f, s, p) printf("%s %d\n", #f, o->f);
	GO_OFFSET_FIELDS(PRINT_PLAIN)
#undef PRINT_PLAIN
}

static void print_c(const struct go_offsets *o)
{
	printf("\t\t.major = %d,\n\t\t.minor = %d,\n", o->major, o->minor);
#define PRINT_C(f, s, p) printf("\t\t.%s = %d,\n", #f, o->f);
	GO_OFFSET_FIELDS(PRINT_C)
#undef PRINT_C
}

static int from_binary(const char *mode, const char *path)
{
	struct go_offsets o;
	struct godwarf_vars v;
	char err[256];
	int ret;

	ret = godwarf_read(path, &o, &v, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "dump-go-offsets: %s\n", err);
		return ret == GODWARF_ENODWARF ? 2 : 1;
	}
	if (!strcmp(mode, "--c")) {
		print_c(&o);
		return 0;
	}
	print_plain(&o);
	if (!strcmp(mode, "--vars")) {
		printf("allgs_addr 0x%llx\nallgs_array %d\nallgs_len %d\nallglen_addr 0x%llx\n",
		       (unsigned long long)v.allgs_addr, v.allgs_array, v.allgs_len,
		       (unsigned long long)v.allglen_addr);
	}
	return 0;
}

#ifdef WITH_TABLE
static int from_table(int argc, char **argv)
{
	const char *mode = argv[1];
	const struct go_offsets *o;
	int minor;

	if (!strcmp(mode, "--supported")) {
		printf("%s\n", go_offsets_supported());
		return 0;
	}
	if (argc < 3)
		return -1;
	minor = atoi(argv[2]);
	if (!strcmp(mode, "--table")) {
		o = go_offsets_for_version(1, minor);
		if (!o) {
			fprintf(stderr,
				"dump-go-offsets: go1.%d not in the table (supported: %s)\n", minor,
				go_offsets_supported());
			return 1;
		}
		print_plain(o);
		return 0;
	}
	if (!strcmp(mode, "--reason") && argc == 4) {
		/* waitReason is a uint8 in every version. */
		for (int code = 0; code < 256; code++) {
			const char *s = go_waitreason_string(minor, code);

			if (s && !strcmp(s, argv[3])) {
				printf("%s\n", go_block_kind_name(go_waitreason_kind(minor, code)));
				return 0;
			}
		}
		printf("missing\n");
		return 0;
	}
	return -1;
}
#endif

int main(int argc, char **argv)
{
	if (argc == 2 && argv[1][0] != '-')
		return from_binary("", argv[1]);
	if (argc == 3 && (!strcmp(argv[1], "--c") || !strcmp(argv[1], "--vars")))
		return from_binary(argv[1], argv[2]);
#ifdef WITH_TABLE
	if (argc >= 2) {
		int ret = from_table(argc, argv);

		if (ret >= 0)
			return ret;
	}
#endif
	fprintf(stderr, "usage: dump-go-offsets [--c|--vars] BINARY\n");
	return 1;
}
