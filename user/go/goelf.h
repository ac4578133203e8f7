/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inspection of (possibly stripped, PIE, cgo or externally linked) Go ELF
 * binaries: toolchain version, function addresses, PC symbolization and the
 * address arithmetic uprobes need. All input is treated as untrusted.
 *
 * Addresses are link-time virtual addresses as in the ELF file; for a PIE
 * the caller adds the load bias itself. Strings returned point into the
 * mapped file and stay valid until goelf_close().
 *
 * Functions returning int give 0 on success or a negative errno:
 *   -ENOENT   name / pc not found
 *   -ENOTSUP  data present but in a layout this module does not decode
 *   -EINVAL   data present but corrupt
 *   -ERANGE   address outside the file-backed part of the image
 * goelf_errmsg() then describes the most recent failure.
 */
#ifndef CTRACE_GOELF_H
#define CTRACE_GOELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct goelf;

/* Ignore .symtab and resolve everything through the pclntab (for tests). */
#define GOELF_NO_SYMTAB (1u << 0)

/* NULL on failure, with a one-line reason in err (if errlen > 0). */
struct goelf *goelf_open(const char *path, char *err, size_t errlen);
struct goelf *goelf_open_flags(const char *path, unsigned int flags, char *err, size_t errlen);
void goelf_close(struct goelf *g);

/* Message for the last failed call on g ("" if none). */
const char *goelf_errmsg(const struct goelf *g);

/* e.g. "go1.22.12"; NULL if no version could be found. */
const char *goelf_version(const struct goelf *g);
/* go1.22.12 -> 1, 22. -ENOENT if the version is unknown or unparsable. */
int goelf_version_num(const struct goelf *g, int *major, int *minor);

/* Entry address and size in bytes (without alignment padding). */
int goelf_func(struct goelf *g, const char *name, uint64_t *addr, uint64_t *size);

/*
 * Symbolize pc: the containing (outermost, not inlined) function, and the
 * file:line of the instruction (innermost if inlined, as the runtime's
 * tracebacks report it). Any out pointer may be NULL.
 */
int goelf_pc_lookup(struct goelf *g, uint64_t pc, const char **func, const char **file, int *line);
/* One logical frame at a pc: a function and the file:line executing in it. */
struct goelf_frame {
	const char *func, *file; /* file may be NULL if unknown */
	int line;
};

/*
 * Symbolize pc with inlined calls expanded, as the runtime's tracebacks do:
 * out[0] is the innermost (inlined) function at the file:line of pc, each
 * next one its caller at the call site, the last the physical function
 * containing pc. Returns the number of frames (1..max) or a negative errno.
 * A deeper chain keeps its innermost max-1 frames and the physical one. If
 * the inline tree cannot be read, the physical frame alone is returned,
 * with the innermost file:line (as goelf_pc_lookup()).
 */
int goelf_pc_frames(struct goelf *g, uint64_t pc, struct goelf_frame *out, int max);
/*
 * The pc Go's execution trace names a goroutine started at pc after (the
 * runtime's startPCforTrace): for a compiler-made `go f(x)` wrapper, which
 * carries FUNCDATA_WrapInfo, the entry of f; otherwise pc itself.
 */
int goelf_trace_start(struct goelf *g, uint64_t pc, uint64_t *out);
/* Entry and size of the function containing pc (pclntab only). */
int goelf_pc_func(struct goelf *g, uint64_t pc, uint64_t *entry, uint64_t *size);

/* File offset of vaddr, as uprobe attachment wants it. */
int goelf_vaddr_to_offset(struct goelf *g, uint64_t vaddr, uint64_t *off);
/* The link-time address a file offset loads at (inverse of the above). */
int goelf_offset_to_vaddr(struct goelf *g, uint64_t off, uint64_t *vaddr);
/* Copies len bytes at vaddr; the whole range must be file-backed. */
int goelf_read_code(struct goelf *g, uint64_t vaddr, void *buf, size_t len);

/* pcHeader.textStart: base of pclntab entry offsets (== runtime.text). */
int goelf_text_start(struct goelf *g, uint64_t *text_start);

bool goelf_is_pie(const struct goelf *g);
bool goelf_has_symtab(const struct goelf *g);
bool goelf_has_dwarf(const struct goelf *g);
/* True if a pclntab this module can decode was found. */
bool goelf_has_pclntab(const struct goelf *g);
/* How the pclntab was found, e.g. "section .gopclntab"; NULL if it was not. */
const char *goelf_pclntab_source(const struct goelf *g);

#endif /* CTRACE_GOELF_H */
