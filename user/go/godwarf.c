// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reads the Go runtime's struct layouts from a binary's DWARF. Go's linker
 * puts every type as a top-level DIE of some compile unit, named with its
 * package path ("runtime.g"), and gives members constant
 * DW_AT_data_member_location values; only the top level is scanned.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "go/godwarf.h"

static const char *const want_types[] = {
    "runtime.g", "runtime.m", "runtime.p", "runtime.sudog", "runtime.hchan",
};
#define NTYPES (sizeof(want_types) / sizeof(want_types[0]))

struct scan {
	Dwarf_Die type[NTYPES];
	bool have_type[NTYPES];
	Dwarf_Die allgs, allglen;
	bool have_allgs, have_allglen;
	int major, minor;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "Go cmd/compile go1.21.13; regabi" -> 1, 21. Also copes with "devel go1.X-...". */
static bool parse_producer(const char *s, int *major, int *minor)
{
	for (const char *p = s; (p = strstr(p, "go")); p += 2) {
		int ma, mi;

		if (p[2] >= '0' && p[2] <= '9' && sscanf(p + 2, "%d.%d", &ma, &mi) == 2) {
			*major = ma;
			*minor = mi;
			return true;
		}
	}
	return false;
}

/* The DIE's type with typedefs peeled (Go names a struct and a typedef alike). */
static bool die_type(Dwarf_Die *die, Dwarf_Die *type)
{
	Dwarf_Attribute a;

	if (!dwarf_attr_integrate(die, DW_AT_type, &a) || !dwarf_formref_die(&a, type))
		return false;
	for (int i = 0; i < 16 && dwarf_tag(type) == DW_TAG_typedef; i++) {
		Dwarf_Die next;

		if (!dwarf_attr_integrate(type, DW_AT_type, &a) || !dwarf_formref_die(&a, &next))
			return false;
		*type = next;
	}
	return dwarf_tag(type) != DW_TAG_typedef;
}

static bool member_location(Dwarf_Die *mem, int64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t n;

	if (!dwarf_attr(mem, DW_AT_data_member_location, &a))
		return false;
	if (dwarf_formudata(&a, &w) == 0) {
		*off = (int64_t)w;
		return true;
	}
	/* Old-style location expression; other producers than Go's use it. */
	if (dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[0].number;
		return true;
	}
	return false;
}

static bool find_member(Dwarf_Die *st, const char *name, size_t len, Dwarf_Die *mem)
{
	if (dwarf_child(st, mem) != 0)
		return false;
	do {
		const char *n;

		if (dwarf_tag(mem) != DW_TAG_member)
			continue;
		n = dwarf_diename(mem);
		if (n && strlen(n) == len && !memcmp(n, name, len))
			return true;
	} while (dwarf_siblingof(mem, mem) == 0);
	return false;
}

/* Offset of a dotted member path inside st, the size for "", -1 if absent. */
static int32_t path_offset(Dwarf_Die *st, const char *path)
{
	Dwarf_Die cur = *st, mem;
	int64_t total = 0, off;

	if (!*path) {
		int sz = dwarf_bytesize(&cur);

		return sz > 0 ? sz : -1;
	}
	for (const char *p = path;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		/* Each step and the sum in 0..INT32_MAX: nothing wraps on the way. */
		if (!find_member(&cur, p, len, &mem) || !member_location(&mem, &off) || off < 0 ||
		    off > INT32_MAX)
			return -1;
		total += off;
		if (total > INT32_MAX)
			return -1;
		if (!dot)
			break;
		if (!die_type(&mem, &cur) || dwarf_tag(&cur) != DW_TAG_structure_type)
			return -1;
		p = dot + 1;
	}
	return total <= INT32_MAX ? (int32_t)total : -1;
}

static bool var_addr(Dwarf_Die *var, uint64_t *addr)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	Dwarf_Block b;

	if (!dwarf_attr(var, DW_AT_location, &a))
		return false;
	if (dwarf_getlocation(&a, &ops, &n) == 0) {
		if (n != 1 || ops[0].atom != DW_OP_addr)
			return false;
		*addr = ops[0].number;
		return true;
	}
	/*
	 * Go writes the expression as DW_FORM_block1 in DWARF 4 units, which
	 * libdw will not take as a location; decode the lone DW_OP_addr.
	 */
	if (dwarf_formblock(&a, &b) != 0 || b.length != 9 || b.data[0] != DW_OP_addr)
		return false;
	memcpy(addr, b.data + 1, 8); /* amd64 target read on a little-endian host */
	return true;
}

static bool scan_done(const struct scan *s, bool want_vars)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (!s->have_type[i])
			return false;
	if (want_vars && (!s->have_allgs || !s->have_allglen))
		return false;
	return s->major != 0;
}

static void scan_cu(Dwarf_Die *cu, struct scan *s)
{
	Dwarf_Attribute a;
	Dwarf_Die d;
	const char *prod;

	if (!s->major && dwarf_attr(cu, DW_AT_producer, &a) && (prod = dwarf_formstring(&a)))
		parse_producer(prod, &s->major, &s->minor);
	if (dwarf_child(cu, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d);
		const char *name;

		if (tag != DW_TAG_structure_type && tag != DW_TAG_variable)
			continue;
		name = dwarf_diename(&d);
		if (!name || strncmp(name, "runtime.", 8))
			continue;
		if (tag == DW_TAG_variable) {
			if (!s->have_allgs && !strcmp(name, "runtime.allgs")) {
				s->allgs = d;
				s->have_allgs = true;
			} else if (!s->have_allglen && !strcmp(name, "runtime.allglen")) {
				s->allglen = d;
				s->have_allglen = true;
			}
			continue;
		}
		/* Skip declarations without members; the definition comes elsewhere. */
		if (dwarf_hasattr(&d, DW_AT_declaration))
			continue;
		for (size_t i = 0; i < NTYPES; i++) {
			if (!s->have_type[i] && !strcmp(name, want_types[i])) {
				s->type[i] = d;
				s->have_type[i] = true;
			}
		}
	} while (dwarf_siblingof(&d, &d) == 0);
}

static bool has_debug_info(Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")))
			return true;
	}
	return false;
}

static void fill(struct scan *s, struct go_offsets *out, struct godwarf_vars *vars)
{
	Dwarf_Die slice;

	out->major = s->major;
	out->minor = s->minor;
#define GO_OFFSET_FILL(f, st, p)                                                                   \
	do {                                                                                       \
		out->f = -1;                                                                       \
		for (size_t i = 0; i < NTYPES; i++)                                                \
			if (s->have_type[i] && !strcmp(want_types[i], st))                         \
				out->f = path_offset(&s->type[i], p);                              \
	} while (0);
	GO_OFFSET_FIELDS(GO_OFFSET_FILL)
#undef GO_OFFSET_FILL

	if (!vars)
		return;
	memset(vars, 0, sizeof(*vars));
	vars->allgs_array = vars->allgs_len = -1;
	if (s->have_allgs && var_addr(&s->allgs, &vars->allgs_addr) &&
	    die_type(&s->allgs, &slice) && dwarf_tag(&slice) == DW_TAG_structure_type) {
		vars->allgs_array = path_offset(&slice, "array");
		vars->allgs_len = path_offset(&slice, "len");
	}
	if (s->have_allglen)
		var_addr(&s->allglen, &vars->allglen_addr);
}

int godwarf_read(const char *path, struct go_offsets *out, struct godwarf_vars *vars, char *err,
		 size_t errlen)
{
	struct scan s = {0};
	Dwarf_Off off = 0, next;
	size_t hsize;
	Dwarf *dw = NULL;
	Elf *elf = NULL;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		seterr(err, errlen, "%s: not an ELF file", path);
		ret = -EINVAL;
		goto out;
	}
	if (!has_debug_info(elf)) {
		seterr(err, errlen, "%s: no DWARF (stripped binary?)", path);
		ret = GODWARF_ENODWARF;
		goto out;
	}
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		seterr(err, errlen, "%s: unreadable DWARF: %s", path, dwarf_errmsg(-1));
		ret = -EINVAL;
		goto out;
	}
	while (!scan_done(&s, vars != NULL) &&
	       dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, off + hsize, &cu))
			scan_cu(&cu, &s);
		off = next;
	}
	if (!s.have_type[0]) {
		seterr(err, errlen, "%s: DWARF has no runtime.g (not a Go binary?)", path);
		ret = -EINVAL;
		goto out;
	}
	fill(&s, out, vars);
out:
	if (dw)
		dwarf_end(dw);
	if (elf)
		elf_end(elf);
	close(fd);
	return ret;
}

int godwarf_offsets(const char *path, struct go_offsets *out, char *err, size_t errlen)
{
	return godwarf_read(path, out, NULL, err, errlen);
}
