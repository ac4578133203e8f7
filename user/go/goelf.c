// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Go binary inspection: .go.buildinfo, pclntab (Go 1.18+ layouts) and ELF
 * address arithmetic. The file is mapped once through libelf; every read of
 * file contents goes through a bounds-checked span, since the binary (often
 * from a container) is untrusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "go/goelf.h"

#define BUILDINFO_MAGIC	    "\xff Go buildinf:"
#define BUILDINFO_MAGIC_LEN 14
#define BUILDINFO_HDR_LEN   32
#define BUILDINFO_FLAG_BE   0x1
#define BUILDINFO_FLAG_INL  0x2 /* 1.18+: strings inline, not via pointers */

#define PCLN_MAGIC_12  0xfffffffbu /* Go 1.2 - 1.15 */
#define PCLN_MAGIC_116 0xfffffffau /* Go 1.16 - 1.17 */
#define PCLN_MAGIC_118 0xfffffff0u /* Go 1.18 - 1.19 */
#define PCLN_MAGIC_120 0xfffffff1u /* Go 1.20+ */

/*
 * _func field offsets, identical for 1.18 and 1.20+ up to cuOffset (1.20
 * only appended startLine after it).
 */
#define FUNC_ENTRYOFF 0
#define FUNC_NAMEOFF  4
#define FUNC_PCSP     16
#define FUNC_PCFILE   20
#define FUNC_PCLN     24
#define FUNC_NPCDATA  28
#define FUNC_CUOFF    32
#define FUNC_MINSIZE  36
/*
 * The fixed part ends with nfuncdata (a byte); then npcdata uint32 pc-value
 * table offsets and nfuncdata uint32 offsets from moduledata.gofunc.
 */
#define FUNC_SIZE_118 40
#define FUNC_SIZE_120 44 /* startLine added */

#define PCDATA_INLTREEINDEX 2
#define FUNCDATA_INLTREE    3
/* A compiler-made `go f(x)` wrapper: a uint32 text offset of f (1.17+). */
#define FUNCDATA_WRAPINFO 7

/*
 * runtime.inlinedCall. 1.18-1.19: {parent int16, funcID, pad, file int32,
 * line int32, func_ int32, parentPc int32}; 1.20+: {funcID, pad [3],
 * nameOff int32, parentPc int32, startLine int32}. Names are funcnametab
 * offsets, parentPc is relative to the outer function's entry.
 */
#define INL_SIZE_118	 20
#define INL_NAMEOFF_118	 12
#define INL_PARENTPC_118 16
#define INL_SIZE_120	 16
#define INL_NAMEOFF_120	 4
#define INL_PARENTPC_120 8
/* The runtime indexes the tree as a [1 << 20] array. */
#define INL_MAX_INDEX (1 << 20)
/* Longer parent chains than this are taken as corrupt (or cyclic). */
#define INL_MAX_DEPTH 100

/*
 * moduledata word indexes: pcHeader, funcnametab (a slice), text; gofunc
 * moves by two in 1.20, which added covctrs/ecovctrs before it.
 */
#define MD_PCHEADER    0
#define MD_FUNCNAMETAB 1
#define MD_TEXT	       22
#define MD_GOFUNC_118  38
#define MD_GOFUNC_120  40

/* Bounds for values that only a corrupt file would exceed. */
#define MAX_NFUNC	(1u << 24)
#define MAX_VERSION_LEN 127

struct span {
	const uint8_t *p;
	size_t len;
};

struct seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

struct pcln {
	struct span all;
	uint64_t vaddr;
	uint32_t magic;
	unsigned int ptrsize, quantum;
	uint32_t nfunc;
	uint64_t text_start;
	bool text_start_ok;
	struct span funcname, cutab, filetab, pctab, functab;
	const char *source;
};

struct goelf {
	int fd;
	Elf *elf;
	struct span img;
	bool be, is64, pie, has_symtab, use_symtab, has_dwarf, have_pcln;
	struct seg *segs;
	size_t nsegs;
	Elf_Scn *symtab;
	size_t symtab_strndx;
	struct span *relas; /* SHT_RELA tables (Elf64_Rela/Elf32_Rela arrays) */
	size_t nrelas;
	struct span buildinfo;
	uint64_t buildinfo_vaddr;
	char version[MAX_VERSION_LEN + 1];
	struct pcln pcln;
	int gofunc_state;   /* 0: not looked for yet, 1: found, -1: not found */
	uint64_t gofunc;    /* moduledata.gofunc: base of funcdata offsets */
	char pcln_err[256]; /* why have_pcln is false */
	char err[256];
};

static void set_err(struct goelf *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct goelf *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
}

/* --- bounds-checked raw access --- */

static bool span_has(struct span s, uint64_t off, uint64_t n)
{
	return off <= s.len && n <= s.len - off;
}

static uint64_t rd_be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rd_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

static uint64_t rd(bool be, const uint8_t *p, unsigned int n)
{
	return be ? rd_be(p, n) : rd_le(p, n);
}

/* Reads an n-byte word at off, or fails if it is outside s. */
static bool span_rd(const struct goelf *g, struct span s, uint64_t off, unsigned int n, uint64_t *v)
{
	if (!span_has(s, off, n))
		return false;
	*v = rd(g->be, s.p + off, n);
	return true;
}

static bool span_u32(const struct goelf *g, struct span s, uint64_t off, uint32_t *v)
{
	uint64_t x;

	if (!span_rd(g, s, off, 4, &x))
		return false;
	*v = (uint32_t)x;
	return true;
}

/* NUL-terminated string at off, entirely inside s. */
static const char *span_str(struct span s, uint64_t off)
{
	if (off >= s.len || !memchr(s.p + off, 0, s.len - off))
		return NULL;
	return (const char *)s.p + off;
}

/* Unsigned LEB128, as Go's encoding/binary uvarint; at most 64 bits. */
static bool uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		if (p >= end)
			return false;
		x |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p++ & 0x80)) {
			*pp = p;
			*v = x;
			return true;
		}
	}
	return false;
}

/* --- ELF address space --- */

static const struct seg *seg_of(const struct goelf *g, uint64_t vaddr)
{
	for (size_t i = 0; i < g->nsegs; i++) {
		const struct seg *s = &g->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz)
			return s;
	}
	return NULL;
}

/* File bytes backing [vaddr, vaddr+len), or NULL if not all file-backed. */
static const uint8_t *vaddr_ptr(const struct goelf *g, uint64_t vaddr, uint64_t len)
{
	const struct seg *s = seg_of(g, vaddr);

	if (!s || len > s->filesz - (vaddr - s->vaddr))
		return NULL;
	return g->img.p + s->off + (vaddr - s->vaddr);
}

/* From vaddr to the end of its segment's file-backed part. */
static struct span vaddr_span(const struct goelf *g, uint64_t vaddr)
{
	const struct seg *s = seg_of(g, vaddr);
	struct span sp = {NULL, 0};

	if (s) {
		sp.p = g->img.p + s->off + (vaddr - s->vaddr);
		sp.len = s->filesz - (vaddr - s->vaddr);
	}
	return sp;
}

/*
 * A linker may leave a RELATIVE-relocated word zero in the file and keep
 * the value only as the relocation's addend (lld's default); look it up.
 */
static bool reloc_addend(const struct goelf *g, uint64_t vaddr, uint64_t *v)
{
	unsigned int w = g->is64 ? 8 : 4;

	for (size_t t = 0; t < g->nrelas; t++) {
		struct span r = g->relas[t];

		for (size_t o = 0; o + 3 * w <= r.len; o += 3 * w) {
			uint64_t off = rd(g->be, r.p + o, w);
			uint64_t info = rd(g->be, r.p + o + w, w);
			uint64_t sym = g->is64 ? info >> 32 : info >> 8;

			if (off == vaddr && sym == 0) {
				*v = rd(g->be, r.p + o + 2 * w, w);
				return true;
			}
		}
	}
	return false;
}

/* Pointer-sized word at vaddr, with the addend if the file holds zero. */
static bool read_addr(const struct goelf *g, uint64_t vaddr, unsigned int ptrsize, bool be,
		      uint64_t *v)
{
	const uint8_t *p = vaddr_ptr(g, vaddr, ptrsize);

	if (!p)
		return false;
	*v = rd(be, p, ptrsize);
	if (*v == 0 && g->pie)
		reloc_addend(g, vaddr, v);
	return true;
}

/* --- symbols --- */

static bool sym_find(const struct goelf *g, const char *name, int type, uint64_t *value,
		     uint64_t *size)
{
	Elf_Data *d;
	GElf_Shdr sh;

	if (!g->use_symtab || !g->symtab || !gelf_getshdr(g->symtab, &sh))
		return false;
	d = elf_getdata(g->symtab, NULL);
	if (!d || !sh.sh_entsize)
		return false;
	for (size_t i = 1; i < d->d_size / sh.sh_entsize; i++) {
		GElf_Sym sym;
		const char *n;

		if (!gelf_getsym(d, (int)i, &sym))
			return false;
		if (sym.st_shndx == SHN_UNDEF || (type >= 0 && GELF_ST_TYPE(sym.st_info) != type))
			continue;
		n = elf_strptr(g->elf, g->symtab_strndx, sym.st_name);
		if (n && !strcmp(n, name)) {
			*value = sym.st_value;
			if (size)
				*size = sym.st_size;
			return true;
		}
	}
	return false;
}

/* --- version --- */

static bool version_ok(const char *s, size_t n)
{
	if (n < 3 || n > MAX_VERSION_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return !strncmp(s, "go", 2) || !strncmp(s, "devel", 5);
}

static bool set_version(struct goelf *g, const void *s, size_t n)
{
	if (!version_ok(s, n))
		return false;
	memcpy(g->version, s, n);
	g->version[n] = 0;
	return true;
}

/* A Go string header {ptr, len} at vaddr, as pre-1.18 buildinfo points to. */
static bool read_gostring(struct goelf *g, uint64_t vaddr, unsigned int ptrsize, bool be)
{
	uint64_t ptr, len;
	const uint8_t *p;

	if (!read_addr(g, vaddr, ptrsize, be, &ptr) ||
	    !read_addr(g, vaddr + ptrsize, ptrsize, be, &len) || len > MAX_VERSION_LEN)
		return false;
	p = vaddr_ptr(g, ptr, len);
	return p && set_version(g, p, len);
}

/*
 * Without the section (sstrip), look for the 16-byte aligned magic. Go's
 * own reader checks only the first writable segment, but an internally
 * linked PIE has .data.rel.ro as a segment of its own before it.
 */
static bool find_buildinfo(struct goelf *g)
{
	if (g->buildinfo.p)
		return true;
	for (size_t i = 0; i < g->nsegs; i++) {
		const struct seg *s = &g->segs[i];
		uint64_t a = (s->vaddr + 15) & ~(uint64_t)15;

		if ((s->flags & (PF_W | PF_X)) != PF_W)
			continue;
		for (; a - s->vaddr + BUILDINFO_HDR_LEN <= s->filesz; a += 16) {
			const uint8_t *p = g->img.p + s->off + (a - s->vaddr);

			if (!memcmp(p, BUILDINFO_MAGIC, BUILDINFO_MAGIC_LEN)) {
				g->buildinfo.p = p;
				g->buildinfo.len = s->filesz - (a - s->vaddr);
				g->buildinfo_vaddr = a;
				return true;
			}
		}
	}
	return false;
}

static bool version_from_buildinfo(struct goelf *g)
{
	const uint8_t *p, *end;
	unsigned int ptrsize;
	uint64_t n, vers;
	struct span b;
	bool be;

	if (!find_buildinfo(g))
		return false;
	b = g->buildinfo;
	if (!span_has(b, 0, BUILDINFO_HDR_LEN) || memcmp(b.p, BUILDINFO_MAGIC, BUILDINFO_MAGIC_LEN))
		return false;
	if (b.p[15] & BUILDINFO_FLAG_INL) {
		p = b.p + BUILDINFO_HDR_LEN;
		end = b.p + b.len;
		if (!uvarint(&p, end, &n) || n > (uint64_t)(end - p))
			return false;
		return set_version(g, p, n);
	}
	/* Before 1.18: header holds pointers to Go string headers. */
	ptrsize = b.p[14];
	be = b.p[15] & BUILDINFO_FLAG_BE;
	if (ptrsize != 4 && ptrsize != 8)
		return false;
	if (!read_addr(g, g->buildinfo_vaddr + 16, ptrsize, be, &vers))
		return false;
	return read_gostring(g, vers, ptrsize, be);
}

static void find_version(struct goelf *g)
{
	uint64_t v;

	if (version_from_buildinfo(g))
		return;
	/* No usable buildinfo: the runtime keeps the version in a string var. */
	if (sym_find(g, "runtime.buildVersion", -1, &v, NULL))
		read_gostring(g, v, g->is64 ? 8 : 4, g->be);
}

/* --- pclntab --- */

static const char *magic_era(uint32_t magic)
{
	switch (magic) {
	case PCLN_MAGIC_12:
		return "Go 1.2-1.15";
	case PCLN_MAGIC_116:
		return "Go 1.16-1.17";
	}
	return NULL;
}

/* End of the table starting at off: the next table's start, or the end. */
static uint64_t table_end(const uint64_t *offs, int n, uint64_t off, uint64_t len)
{
	uint64_t end = len;

	for (int i = 0; i < n; i++)
		if (offs[i] > off && offs[i] < end)
			end = offs[i];
	return end;
}

/*
 * Validates a candidate pcHeader at s and fills out. With quiet set (magic
 * scan) no message is left behind; returns 0, -ENOTSUP or -EINVAL.
 */
static int parse_pcln(struct goelf *g, struct span s, uint64_t vaddr, const char *source,
		      struct pcln *out, bool quiet)
{
	struct pcln t = {.all = s, .vaddr = vaddr, .source = source};
	uint64_t w[8], prev = 0, hdr, fn_end;
	struct span *tabs[5];
	uint32_t magic;
	const struct seg *tseg;

#define BAD(...)                                                                                   \
	do {                                                                                       \
		if (!quiet)                                                                        \
			set_err(g, __VA_ARGS__);                                                   \
		return -EINVAL;                                                                    \
	} while (0)

	if (!span_u32(g, s, 0, &magic))
		BAD("%s: too small for a pclntab", source);
	if (magic_era(magic)) {
		if (!quiet)
			set_err(g, "%s: pclntab layout of %s is not supported", source,
				magic_era(magic));
		return -ENOTSUP;
	}
	if (magic != PCLN_MAGIC_118 && magic != PCLN_MAGIC_120)
		BAD("%s: bad pclntab magic %#x", source, magic);
	if (!span_has(s, 0, 8) || s.p[4] || s.p[5] || (s.p[6] != 1 && s.p[6] != 2 && s.p[6] != 4) ||
	    (s.p[7] != 4 && s.p[7] != 8))
		BAD("%s: bad pclntab header", source);
	t.magic = magic;
	t.quantum = s.p[6];
	t.ptrsize = s.p[7];
	hdr = 8 + 8 * t.ptrsize;
	for (int i = 0; i < 8; i++)
		if (!span_rd(g, s, 8 + i * t.ptrsize, t.ptrsize, &w[i]))
			BAD("%s: truncated pclntab header", source);
	if (w[0] == 0 || w[0] > MAX_NFUNC)
		BAD("%s: implausible function count %" PRIu64, source, w[0]);
	t.nfunc = (uint32_t)w[0];
	/* w[3..7]: funcnametab, cutab, filetab, pctab, functab offsets */
	for (int i = 3; i < 8; i++)
		if (w[i] < hdr || w[i] > s.len)
			BAD("%s: pclntab table offset out of range", source);
	tabs[0] = &t.funcname;
	tabs[1] = &t.cutab;
	tabs[2] = &t.filetab;
	tabs[3] = &t.pctab;
	tabs[4] = &t.functab;
	for (int i = 0; i < 5; i++) {
		tabs[i]->p = s.p + w[3 + i];
		tabs[i]->len = table_end(&w[3], 5, w[3 + i], s.len) - w[3 + i];
	}
	/* functab: nfunc {entryoff, funcoff} pairs, then the end entryoff */
	fn_end = (2 * (uint64_t)t.nfunc + 1) * 4;
	if (!span_has(t.functab, 0, fn_end))
		BAD("%s: function table truncated", source);
	for (uint32_t i = 0; i <= t.nfunc; i++) {
		uint32_t e, fo;

		span_u32(g, t.functab, 8 * (uint64_t)i, &e);
		if (e < prev)
			BAD("%s: function table not sorted", source);
		prev = e;
		if (i == t.nfunc)
			break;
		span_u32(g, t.functab, 8 * (uint64_t)i + 4, &fo);
		if (fo < fn_end || !span_has(t.functab, fo, FUNC_MINSIZE))
			BAD("%s: function record out of range", source);
	}

	/* textStart may be left for the dynamic linker to fill in. */
	t.text_start = w[2];
	if (t.text_start == 0 && g->pie)
		reloc_addend(g, vaddr + 8 + 2 * t.ptrsize, &t.text_start);
	if (t.text_start == 0)
		sym_find(g, "runtime.text", -1, &t.text_start, NULL);
	t.text_start_ok = t.text_start != 0;
	if (t.text_start_ok) {
		uint32_t first, last;

		span_u32(g, t.functab, 0, &first);
		span_u32(g, t.functab, 8 * (uint64_t)t.nfunc, &last);
		tseg = seg_of(g, t.text_start + first);
		if (!tseg || !(tseg->flags & PF_X) ||
		    t.text_start + last > tseg->vaddr + tseg->filesz)
			BAD("%s: functions lie outside the executable segment", source);
	}
	*out = t;
	return 0;
#undef BAD
}

static struct span section_span(const struct goelf *g, Elf_Scn *scn, uint64_t *addr)
{
	struct span sp = {NULL, 0};
	GElf_Shdr sh;

	if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
	    span_has(g->img, sh.sh_offset, sh.sh_size)) {
		sp.p = g->img.p + sh.sh_offset;
		sp.len = sh.sh_size;
		*addr = sh.sh_addr;
	}
	return sp;
}

static Elf_Scn *section_by_name(const struct goelf *g, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(g->elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(g->elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(g->elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* Without a named section the header is found by its magic and sane fields. */
static int scan_pcln(struct goelf *g)
{
	for (size_t i = 0; i < g->nsegs; i++) {
		const struct seg *s = &g->segs[i];

		if (s->flags & PF_X)
			continue;
		for (uint64_t o = (4 - (s->vaddr & 3)) & 3; o + 64 <= s->filesz; o += 4) {
			const uint8_t *p = g->img.p + s->off + o;
			struct span sp = {p, s->filesz - o};
			uint32_t m = (uint32_t)rd(g->be, p, 4);

			if ((m != PCLN_MAGIC_118 && m != PCLN_MAGIC_120) || p[4] || p[5])
				continue;
			if (!parse_pcln(g, sp, s->vaddr + o, "magic scan", &g->pcln, true))
				return 0;
		}
	}
	return -ENOENT;
}

static int find_pcln(struct goelf *g)
{
	static const char *const names[] = {".gopclntab", ".data.rel.ro.gopclntab"};
	static const char *const sources[] = {"section .gopclntab",
					      "section .data.rel.ro.gopclntab"};
	uint64_t addr, end;

	for (size_t i = 0; i < 2; i++) {
		Elf_Scn *scn = section_by_name(g, names[i]);
		struct span sp;

		if (!scn)
			continue;
		sp = section_span(g, scn, &addr);
		if (!sp.p) {
			set_err(g, "%s extends past end of file", names[i]);
			return -EINVAL;
		}
		return parse_pcln(g, sp, addr, sources[i], &g->pcln, false);
	}
	if (sym_find(g, "runtime.pclntab", -1, &addr, NULL)) {
		struct span sp = vaddr_span(g, addr);

		if (sym_find(g, "runtime.epclntab", -1, &end, NULL) && end > addr &&
		    end - addr < sp.len)
			sp.len = end - addr;
		if (!sp.p) {
			set_err(g, "runtime.pclntab is not in the file");
			return -EINVAL;
		}
		return parse_pcln(g, sp, addr, "symbol runtime.pclntab", &g->pcln, false);
	}
	return scan_pcln(g);
}

/* --- open / close --- */

static int load_segments(struct goelf *g, const GElf_Ehdr *eh)
{
	size_t n;

	if (!span_has(g->img, eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize)) {
		set_err(g, "truncated or corrupt: program headers extend past end of file");
		return -EINVAL;
	}
	if (elf_getphdrnum(g->elf, &n) || n == 0) {
		set_err(g, "no program headers");
		return -EINVAL;
	}
	g->segs = calloc(n, sizeof(*g->segs));
	if (!g->segs) {
		set_err(g, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		struct seg *s;

		if (!gelf_getphdr(g->elf, (int)i, &ph)) {
			set_err(g, "bad program header %zu", i);
			return -EINVAL;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		/* Truncation shows first here: the kernel could not map it either. */
		if (!span_has(g->img, ph.p_offset, ph.p_filesz)) {
			set_err(g, "truncated or corrupt: segment %zu extends past end of file", i);
			return -EINVAL;
		}
		if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr) {
			set_err(g, "corrupt: segment %zu wraps the address space", i);
			return -EINVAL;
		}
		s = &g->segs[g->nsegs++];
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
		s->off = ph.p_offset;
		s->filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
		s->flags = ph.p_flags;
	}
	if (!g->nsegs) {
		set_err(g, "no loadable segments");
		return -EINVAL;
	}
	return 0;
}

static int add_rela(struct goelf *g, struct span sp)
{
	struct span *r = realloc(g->relas, (g->nrelas + 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	g->relas = r;
	g->relas[g->nrelas++] = sp;
	return 0;
}

/* Section headers are optional (sstrip); use PT_DYNAMIC's DT_RELA then. */
static void load_dynamic_rela(struct goelf *g)
{
	size_t n;

	if (elf_getphdrnum(g->elf, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t rela = 0, relasz = 0;
		unsigned int w = g->is64 ? 8 : 4;
		GElf_Phdr ph;
		struct span d;

		if (!gelf_getphdr(g->elf, (int)i, &ph) || ph.p_type != PT_DYNAMIC ||
		    !span_has(g->img, ph.p_offset, ph.p_filesz))
			continue;
		d.p = g->img.p + ph.p_offset;
		d.len = ph.p_filesz;
		for (uint64_t o = 0; o + 2 * w <= d.len; o += 2 * w) {
			uint64_t tag = rd(g->be, d.p + o, w), val = rd(g->be, d.p + o + w, w);

			if (tag == DT_NULL)
				break;
			if (tag == DT_RELA)
				rela = val;
			else if (tag == DT_RELASZ)
				relasz = val;
		}
		if (rela && relasz && vaddr_ptr(g, rela, relasz)) {
			struct span sp = {vaddr_ptr(g, rela, relasz), relasz};

			add_rela(g, sp);
		}
		return;
	}
}

static int load_sections(struct goelf *g)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(g->elf, &shstrndx))
		return 0; /* no section headers: segments must do */
	while ((scn = elf_nextscn(g->elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(g->elf, shstrndx, sh.sh_name);
		if (!n)
			continue;
		if (sh.sh_type == SHT_SYMTAB && sh.sh_entsize && sh.sh_size / sh.sh_entsize > 1 &&
		    span_has(g->img, sh.sh_offset, sh.sh_size)) {
			g->symtab = scn;
			g->symtab_strndx = sh.sh_link;
			g->has_symtab = true;
		} else if (sh.sh_type == SHT_RELA && span_has(g->img, sh.sh_offset, sh.sh_size) &&
			   sh.sh_entsize == (g->is64 ? 24u : 12u)) {
			struct span sp = {g->img.p + sh.sh_offset, sh.sh_size};

			if (add_rela(g, sp)) {
				set_err(g, "out of memory");
				return -ENOMEM;
			}
		} else if (!strcmp(n, ".debug_info") || !strcmp(n, ".zdebug_info")) {
			g->has_dwarf = true;
		} else if (!strcmp(n, ".go.buildinfo")) {
			uint64_t a = 0;
			struct span sp = section_span(g, scn, &a);

			if (sp.p) {
				g->buildinfo = sp;
				g->buildinfo_vaddr = a;
			}
		}
	}
	return 0;
}

struct goelf *goelf_open_flags(const char *path, unsigned int flags, char *err, size_t errlen)
{
	struct goelf *g = calloc(1, sizeof(*g));
	GElf_Ehdr eh;
	struct stat st;
	char *raw;
	size_t rawlen;
	int ret;

	if (!g) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	g->fd = -1;
	g->use_symtab = !(flags & GOELF_NO_SYMTAB);
	if (elf_version(EV_CURRENT) == EV_NONE) {
		set_err(g, "libelf initialization failed");
		goto fail;
	}
	g->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (g->fd < 0 || fstat(g->fd, &st)) {
		set_err(g, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(g, "not a regular file");
		goto fail;
	}
	g->elf = elf_begin(g->fd, ELF_C_READ_MMAP, NULL);
	if (!g->elf || elf_kind(g->elf) != ELF_K_ELF || !gelf_getehdr(g->elf, &eh)) {
		set_err(g, "not an ELF file");
		goto fail;
	}
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		set_err(g, "not an executable or shared object (ELF type %u)", eh.e_type);
		goto fail;
	}
	raw = elf_rawfile(g->elf, &rawlen);
	if (!raw) {
		set_err(g, "cannot map file: %s", elf_errmsg(-1));
		goto fail;
	}
	g->img.p = (const uint8_t *)raw;
	g->img.len = rawlen;
	g->is64 = eh.e_ident[EI_CLASS] == ELFCLASS64;
	g->be = eh.e_ident[EI_DATA] == ELFDATA2MSB;
	g->pie = eh.e_type == ET_DYN;
	if (load_segments(g, &eh) || load_sections(g))
		goto fail;
	if (!g->nrelas)
		load_dynamic_rela(g);

	find_version(g);
	ret = find_pcln(g);
	g->have_pcln = ret == 0;
	if (ret == -EINVAL)
		goto fail;
	if (ret == -ENOENT)
		set_err(g, "no pclntab found");
	if (ret)
		memcpy(g->pcln_err, g->err, sizeof(g->pcln_err));
	if (!g->version[0] && !g->have_pcln) {
		if (ret == -ENOENT)
			set_err(g, "not a Go binary (no Go build info or pclntab found)");
		goto fail;
	}
	g->err[0] = 0;
	return g;
fail:
	snprintf(err, errlen, "%s: %s", path, g->err);
	goelf_close(g);
	return NULL;
}

struct goelf *goelf_open(const char *path, char *err, size_t errlen)
{
	return goelf_open_flags(path, 0, err, errlen);
}

void goelf_close(struct goelf *g)
{
	if (!g)
		return;
	if (g->elf)
		elf_end(g->elf);
	if (g->fd >= 0)
		close(g->fd);
	free(g->segs);
	free(g->relas);
	free(g);
}

const char *goelf_errmsg(const struct goelf *g)
{
	return g->err;
}

/* --- version API --- */

const char *goelf_version(const struct goelf *g)
{
	return g->version[0] ? g->version : NULL;
}

int goelf_version_num(const struct goelf *g, int *major, int *minor)
{
	const char *s = strstr(g->version, "go");

	/* "go1.22.12", "go1.21rc2", "devel go1.23-abcdef ..." */
	for (; s; s = strstr(s + 2, "go")) {
		char *end;
		long ma, mi;

		if (s[2] < '0' || s[2] > '9')
			continue;
		ma = strtol(s + 2, &end, 10);
		if (*end != '.' || end[1] < '0' || end[1] > '9')
			continue;
		mi = strtol(end + 1, NULL, 10);
		if (ma > 1000 || mi > 1000)
			continue;
		*major = (int)ma;
		*minor = (int)mi;
		return 0;
	}
	return -ENOENT;
}

/* --- pclntab queries --- */

static int need_pcln(struct goelf *g)
{
	if (!g->have_pcln) {
		set_err(g, "%s", g->pcln_err);
		return -ENOTSUP;
	}
	if (!g->pcln.text_start_ok) {
		set_err(g, "pclntab textStart is unrelocated and runtime.text is unknown");
		return -ENOTSUP;
	}
	return 0;
}

static uint32_t fn_entryoff(const struct goelf *g, uint32_t i)
{
	uint32_t e = 0;

	span_u32(g, g->pcln.functab, 8 * (uint64_t)i, &e); /* checked at open */
	return e;
}

/* _func record of function i (bounds checked at open). */
static struct span fn_rec(const struct goelf *g, uint32_t i)
{
	struct span f = g->pcln.functab;
	uint32_t fo = 0;

	span_u32(g, f, 8 * (uint64_t)i + 4, &fo);
	f.p += fo;
	f.len -= fo;
	return f;
}

static uint32_t fn_field(const struct goelf *g, struct span f, unsigned int off)
{
	uint32_t v = 0;

	span_u32(g, f, off, &v);
	return v;
}

/*
 * Walks the pc-value table at off for a function starting at entry. Stops
 * at the first range containing target (returning its value) or at the
 * end, where *endpc is the pc the table ends at. Returns 0 if target was
 * found, -ENOENT if not, -EINVAL if the table is corrupt.
 */
static int pcvalue(struct goelf *g, uint32_t off, uint64_t entry, uint64_t target, int32_t *val,
		   uint64_t *endpc)
{
	const struct span t = g->pcln.pctab;
	const uint8_t *p, *end = t.p + t.len;
	uint64_t pc = entry;
	uint32_t v = UINT32_MAX; /* -1, in wrapping arithmetic */
	bool first = true;

	if (off == 0)
		return -ENOENT;
	if (off >= t.len) {
		set_err(g, "pc-value table offset out of range");
		return -EINVAL;
	}
	for (p = t.p + off;; first = false) {
		uint64_t uv, pcd;

		if (!uvarint(&p, end, &uv) || uv > UINT32_MAX) {
			set_err(g, "corrupt pc-value table");
			return -EINVAL;
		}
		if (uv == 0 && !first)
			break;
		if (!uvarint(&p, end, &pcd) || pcd > UINT32_MAX) {
			set_err(g, "corrupt pc-value table");
			return -EINVAL;
		}
		/* zig-zag: low bit set means negative */
		v += (uv & 1) ? ~(uint32_t)(uv >> 1) : (uint32_t)(uv >> 1);
		pc += pcd * g->pcln.quantum;
		if (target < pc) {
			*val = (int32_t)v;
			return 0;
		}
	}
	if (endpc)
		*endpc = pc;
	return -ENOENT;
}

/* Size from the pcsp table, which spans exactly the function's code. */
static uint64_t fn_size(struct goelf *g, uint32_t i)
{
	uint64_t entry = g->pcln.text_start + fn_entryoff(g, i);
	uint64_t next = fn_entryoff(g, i + 1) - fn_entryoff(g, i);
	uint32_t pcsp = fn_field(g, fn_rec(g, i), FUNC_PCSP);
	uint64_t endpc = 0;
	int32_t v;

	/* Running off the end (-ENOENT) leaves endpc at the table's last pc. */
	if (pcvalue(g, pcsp, entry, UINT64_MAX, &v, &endpc) == -ENOENT && endpc > entry &&
	    endpc - entry <= next)
		return endpc - entry;
	return next;
}

static int pcln_find_func(struct goelf *g, const char *name, uint64_t *addr, uint64_t *size)
{
	int ret = need_pcln(g);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < g->pcln.nfunc; i++) {
		const char *n = span_str(g->pcln.funcname, fn_field(g, fn_rec(g, i), FUNC_NAMEOFF));

		if (n && !strcmp(n, name)) {
			if (addr)
				*addr = g->pcln.text_start + fn_entryoff(g, i);
			if (size)
				*size = fn_size(g, i);
			return 0;
		}
	}
	set_err(g, "function %s not found", name);
	return -ENOENT;
}

int goelf_func(struct goelf *g, const char *name, uint64_t *addr, uint64_t *size)
{
	uint64_t a, s;

	if (sym_find(g, name, STT_FUNC, &a, &s)) {
		if (addr)
			*addr = a;
		if (size)
			*size = s;
		return 0;
	}
	return pcln_find_func(g, name, addr, size);
}

/* Index of the function containing pc. */
static int pcln_index(struct goelf *g, uint64_t pc, uint32_t *idx)
{
	uint64_t ts = g->pcln.text_start;
	uint32_t lo = 0, hi = g->pcln.nfunc;
	int ret = need_pcln(g);

	if (ret)
		return ret;
	if (pc < ts || pc - ts < fn_entryoff(g, 0) || pc - ts >= fn_entryoff(g, hi)) {
		set_err(g, "pc %#" PRIx64 " is outside Go text", pc);
		return -ENOENT;
	}
	/* last i with entry(i) <= pc */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (fn_entryoff(g, mid) <= pc - ts)
			lo = mid;
		else
			hi = mid;
	}
	if (fn_field(g, fn_rec(g, lo), FUNC_ENTRYOFF) != fn_entryoff(g, lo)) {
		set_err(g, "function record does not match function table");
		return -EINVAL;
	}
	*idx = lo;
	return 0;
}

int goelf_pc_func(struct goelf *g, uint64_t pc, uint64_t *entry, uint64_t *size)
{
	uint32_t i;
	int ret = pcln_index(g, pc, &i);

	if (ret)
		return ret;
	if (entry)
		*entry = g->pcln.text_start + fn_entryoff(g, i);
	if (size)
		*size = fn_size(g, i);
	return 0;
}

/* file:line of pc in function record f: NULL and 0 where unknown. */
static int pc_fileline(struct goelf *g, struct span f, uint64_t entry, uint64_t pc,
		       const char **file, int *line)
{
	const char *fname = NULL;
	int32_t fileno, ln = 0;
	int ret;

	ret = pcvalue(g, fn_field(g, f, FUNC_PCFILE), entry, pc, &fileno, NULL);
	if (ret == -EINVAL)
		return ret;
	if (!ret && fileno >= 0) {
		uint64_t cu = (uint64_t)fn_field(g, f, FUNC_CUOFF) + (uint32_t)fileno;
		uint32_t foff;

		if (span_u32(g, g->pcln.cutab, 4 * cu, &foff) && foff != UINT32_MAX)
			fname = span_str(g->pcln.filetab, foff);
	}
	ret = pcvalue(g, fn_field(g, f, FUNC_PCLN), entry, pc, &ln, NULL);
	if (ret == -EINVAL)
		return ret;
	*file = fname;
	*line = fname && ln > 0 ? ln : 0;
	return 0;
}

int goelf_pc_lookup(struct goelf *g, uint64_t pc, const char **func, const char **file, int *line)
{
	const char *name, *fname;
	struct span f;
	uint64_t entry;
	int ln;
	uint32_t i;
	int ret = pcln_index(g, pc, &i);

	if (ret)
		return ret;
	f = fn_rec(g, i);
	entry = g->pcln.text_start + fn_entryoff(g, i);
	name = span_str(g->pcln.funcname, fn_field(g, f, FUNC_NAMEOFF));
	if (!name) {
		set_err(g, "function name out of range");
		return -EINVAL;
	}
	ret = pc_fileline(g, f, entry, pc, &fname, &ln);
	if (ret)
		return ret;
	if (func)
		*func = name;
	if (file)
		*file = fname;
	if (line)
		*line = ln;
	return 0;
}

/*
 * Checks that md is the moduledata of our pclntab and takes its gofunc.
 * Words go through read_addr(), since a PIE may keep them only as
 * relocation addends.
 */
static bool moduledata_gofunc(struct goelf *g, uint64_t md, uint64_t *gofunc)
{
	const struct pcln *t = &g->pcln;
	unsigned int ps = t->ptrsize;
	unsigned int gf = t->magic == PCLN_MAGIC_118 ? MD_GOFUNC_118 : MD_GOFUNC_120;
	uint64_t v, rodata;

	if (!read_addr(g, md + MD_PCHEADER * ps, ps, g->be, &v) || v != t->vaddr)
		return false;
	if (!read_addr(g, md + MD_FUNCNAMETAB * ps, ps, g->be, &v) ||
	    v != t->vaddr + (uint64_t)(t->funcname.p - t->all.p))
		return false;
	if (!read_addr(g, md + MD_TEXT * ps, ps, g->be, &v) || v != t->text_start)
		return false;
	/* gofunc lies in the file, after moduledata.rodata */
	if (!read_addr(g, md + gf * ps, ps, g->be, &v) || !seg_of(g, v) ||
	    !read_addr(g, md + (gf - 1) * ps, ps, g->be, &rodata) || rodata > v)
		return false;
	*gofunc = v;
	return true;
}

/*
 * Funcdata offsets are relative to moduledata.gofunc (the go:func.* symbol).
 * Like the runtime, take it from the moduledata: by symbol, else by looking
 * for the word that points at the pcHeader (in the file, or as a
 * relocation addend), which is moduledata's first field.
 */
static bool search_gofunc(struct goelf *g)
{
	unsigned int ps = g->pcln.ptrsize, w = g->is64 ? 8 : 4;
	uint64_t md;

	if (sym_find(g, "runtime.firstmoduledata", -1, &md, NULL) &&
	    moduledata_gofunc(g, md, &g->gofunc))
		return true;
	for (size_t i = 0; i < g->nsegs; i++) {
		const struct seg *s = &g->segs[i];

		if (s->flags & PF_X)
			continue;
		for (uint64_t o = (ps - s->vaddr % ps) % ps; o + ps <= s->filesz; o += ps)
			if (rd(g->be, g->img.p + s->off + o, ps) == g->pcln.vaddr &&
			    moduledata_gofunc(g, s->vaddr + o, &g->gofunc))
				return true;
	}
	for (size_t t = 0; g->pie && t < g->nrelas; t++) {
		struct span r = g->relas[t];

		for (size_t o = 0; o + 3 * w <= r.len; o += 3 * w)
			if (rd(g->be, r.p + o + 2 * w, w) == g->pcln.vaddr &&
			    moduledata_gofunc(g, rd(g->be, r.p + o, w), &g->gofunc))
				return true;
	}
	return sym_find(g, "go:func.*", -1, &g->gofunc, NULL) ||
	       sym_find(g, "go.func.*", -1, &g->gofunc, NULL);
}

static bool find_gofunc(struct goelf *g)
{
	if (!g->gofunc_state)
		g->gofunc_state = search_gofunc(g) ? 1 : -1;
	return g->gofunc_state > 0;
}

/* Funcdata i of function record f, as an address: false if it has none. */
static bool fn_funcdata(struct goelf *g, struct span f, unsigned int i, uint64_t *addr)
{
	unsigned int hdr = g->pcln.magic == PCLN_MAGIC_118 ? FUNC_SIZE_118 : FUNC_SIZE_120;
	uint32_t fd;

	if (!span_has(f, 0, hdr) || f.p[hdr - 1] <= i)
		return false;
	if (!span_u32(g, f, hdr + 4 * (uint64_t)fn_field(g, f, FUNC_NPCDATA) + 4 * i, &fd) ||
	    fd == UINT32_MAX || !find_gofunc(g))
		return false;
	*addr = g->gofunc + fd;
	return true;
}

/* pc-value table of inline tree indexes and the tree's address, if any. */
static bool fn_inltree(struct goelf *g, struct span f, uint32_t *pcdata, uint64_t *tree)
{
	unsigned int hdr = g->pcln.magic == PCLN_MAGIC_118 ? FUNC_SIZE_118 : FUNC_SIZE_120;

	if (!span_has(f, 0, hdr) || fn_field(g, f, FUNC_NPCDATA) <= PCDATA_INLTREEINDEX)
		return false;
	if (!span_u32(g, f, hdr + 4 * PCDATA_INLTREEINDEX, pcdata) || !*pcdata)
		return false;
	return fn_funcdata(g, f, FUNCDATA_INLTREE, tree);
}

int goelf_trace_start(struct goelf *g, uint64_t pc, uint64_t *out)
{
	uint64_t wi, target;
	const uint8_t *p;
	uint32_t i, j;
	int ret = pcln_index(g, pc, &i);

	if (ret)
		return ret;
	*out = pc;
	if (!fn_funcdata(g, fn_rec(g, i), FUNCDATA_WRAPINFO, &wi))
		return 0;
	p = vaddr_ptr(g, wi, 4);
	if (!p) {
		set_err(g, "wrapper info of pc %#" PRIx64 " is not in the file", pc);
		return -EINVAL;
	}
	/* moduledata.textAddr: one text section on the architectures we read. */
	target = g->pcln.text_start + rd(g->be, p, 4);
	if (pcln_index(g, target, &j) || g->pcln.text_start + fn_entryoff(g, j) != target) {
		set_err(g, "wrapper at %#" PRIx64 " names %#" PRIx64 ", not a function entry", pc,
			target);
		return -EINVAL;
	}
	*out = target;
	return 0;
}

/* Name and parentPc of inline tree entry ix. */
static bool inl_call(struct goelf *g, uint64_t tree, int32_t ix, const char **name,
		     int32_t *parent_pc)
{
	bool old = g->pcln.magic == PCLN_MAGIC_118;
	unsigned int size = old ? INL_SIZE_118 : INL_SIZE_120;
	const uint8_t *p;

	if (ix < 0 || ix >= INL_MAX_INDEX)
		return false;
	p = vaddr_ptr(g, tree + (uint64_t)ix * size, size);
	if (!p)
		return false;
	*name =
	    span_str(g->pcln.funcname, rd(g->be, p + (old ? INL_NAMEOFF_118 : INL_NAMEOFF_120), 4));
	*parent_pc = (int32_t)rd(g->be, p + (old ? INL_PARENTPC_118 : INL_PARENTPC_120), 4);
	return *name != NULL;
}

int goelf_pc_frames(struct goelf *g, uint64_t pc, struct goelf_frame *out, int max)
{
	uint64_t entry, end, tree, tpc = pc;
	const char *name;
	uint32_t i, pcdata;
	struct span f;
	int n = 0, ret;

	if (!out || max < 1) {
		set_err(g, "no room for frames");
		return -EINVAL;
	}
	ret = pcln_index(g, pc, &i);
	if (ret)
		return ret;
	f = fn_rec(g, i);
	entry = g->pcln.text_start + fn_entryoff(g, i);
	end = g->pcln.text_start + fn_entryoff(g, i + 1);
	name = span_str(g->pcln.funcname, fn_field(g, f, FUNC_NAMEOFF));
	if (!name) {
		set_err(g, "function name out of range");
		return -EINVAL;
	}
	if (!fn_inltree(g, f, &pcdata, &tree))
		goto physical;
	/*
	 * The runtime's inline unwinding: the tree index at tpc names the
	 * inlined function executing there (-1: the physical one), and its
	 * parentPc is an instruction at the call site, in the caller.
	 */
	for (int depth = 0; depth < INL_MAX_DEPTH; depth++) {
		const char *file, *iname;
		int32_t ix, parent_pc;
		int line;

		ret = pcvalue(g, pcdata, entry, tpc, &ix, NULL);
		if (ret == -EINVAL)
			goto physical;
		if (ret)
			ix = -1;
		if (pc_fileline(g, f, entry, tpc, &file, &line))
			goto physical; /* which reports an error at pc itself */
		if (ix < 0) {
			out[n] = (struct goelf_frame){name, file, line};
			return n + 1;
		}
		if (!inl_call(g, tree, ix, &iname, &parent_pc) || parent_pc < 0 ||
		    (uint64_t)parent_pc >= end - entry)
			goto physical;
		if (n < max - 1)
			out[n++] = (struct goelf_frame){iname, file, line};
		tpc = entry + (uint64_t)parent_pc;
	}
physical:
	g->err[0] = 0;
	out[0].func = name;
	ret = pc_fileline(g, f, entry, pc, &out[0].file, &out[0].line);
	return ret ? ret : 1;
}

int goelf_text_start(struct goelf *g, uint64_t *text_start)
{
	int ret = need_pcln(g);

	if (!ret)
		*text_start = g->pcln.text_start;
	return ret;
}

/* --- addresses --- */

int goelf_vaddr_to_offset(struct goelf *g, uint64_t vaddr, uint64_t *off)
{
	const struct seg *s = seg_of(g, vaddr);

	if (!s) {
		set_err(g, "address %#" PRIx64 " is not file-backed", vaddr);
		return -ERANGE;
	}
	*off = s->off + (vaddr - s->vaddr);
	return 0;
}

int goelf_offset_to_vaddr(struct goelf *g, uint64_t off, uint64_t *vaddr)
{
	for (size_t i = 0; i < g->nsegs; i++) {
		const struct seg *s = &g->segs[i];

		if (off >= s->off && off - s->off < s->filesz) {
			*vaddr = s->vaddr + (off - s->off);
			return 0;
		}
	}
	set_err(g, "file offset %#" PRIx64 " is in no loaded segment", off);
	return -ERANGE;
}

int goelf_read_code(struct goelf *g, uint64_t vaddr, void *buf, size_t len)
{
	const uint8_t *p = vaddr_ptr(g, vaddr, len);

	if (!p) {
		set_err(g, "range %#" PRIx64 "+%zu is not file-backed", vaddr, len);
		return -ERANGE;
	}
	memcpy(buf, p, len);
	return 0;
}

bool goelf_is_pie(const struct goelf *g)
{
	return g->pie;
}

bool goelf_has_symtab(const struct goelf *g)
{
	return g->has_symtab;
}

bool goelf_has_dwarf(const struct goelf *g)
{
	return g->has_dwarf;
}

bool goelf_has_pclntab(const struct goelf *g)
{
	return g->have_pcln;
}

const char *goelf_pclntab_source(const struct goelf *g)
{
	return g->have_pcln ? g->pcln.source : NULL;
}
