/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Output formats derived from a capture: one table (formats.c) gives each
 * format's names, file extensions, viewer hint and writer, for `record` and
 * `convert` alike.
 */
#ifndef CTRACE_FORMATS_H
#define CTRACE_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"
#include "lib/output.h"

enum out_format {
	FMT_NONE = 0,
	FMT_CTR,
	FMT_PERFETTO,
	FMT_JSON,
	FMT_TEXT,
	FMT_GO, /* go1.19 execution trace for `go tool trace` (gotrace.c) */
};

/* What the go trace writer counts, for convert's summary line. */
struct gotrace_stats {
	uint32_t tgid;	   /* the process written, 0: none */
	uint32_t go_procs; /* Go processes in the capture */
	uint64_t goroutines;
	uint64_t events;
	uint64_t repairs;	  /* transitions the writer synthesized */
	uint64_t gostate_repairs; /* the same, in goroutine reconstruction */
	uint64_t rule_repairs;	  /* the same, by the trace's rules (gotrace_rules.c) */
	uint64_t rule_drops;	  /* events the rules left out */
};

/* What a writer reports to its caller besides the file; zeroed by the caller. */
struct format_stats {
	struct gotrace_stats go; /* FMT_GO */
};

/*
 * Streams the reader's events (from ctr_rewind()) into o. Returns 0, or -1
 * after printing one line to stderr. Output must be a pure function of the
 * capture: the same .ctr gives byte-identical files.
 */
typedef int (*format_writer)(struct ctr_reader *r, struct out *o, struct format_stats *st);

#define FORMAT_MAX_ALIASES 2
#define FORMAT_MAX_EXTS	   2

struct format_desc {
	enum out_format fmt;
	const char *name; /* canonical: in summaries and in the lists below */
	const char *aliases[FORMAT_MAX_ALIASES]; /* more names --format takes */
	const char *exts[FORMAT_MAX_EXTS];	 /* exts[0]: the default */
	const char *viewer_hint;		 /* where to open such a file */
	format_writer write;			 /* NULL: the capture itself, copied */
};

/* The table entry of f; NULL for FMT_NONE. */
const struct format_desc *format_desc(enum out_format f);
/* Format implied by a file name's extension; *gzip set for a trailing .gz. */
enum out_format format_from_path(const char *path, bool *gzip);
/* By name or alias: "perfetto", "pftrace", "json", "chrome", "ctr", ... */
enum out_format format_from_name(const char *name);
const char *format_name(enum out_format f);
const char *format_viewer_hint(enum out_format f);
/* ".pftrace" for FMT_PERFETTO: what a file is named when no name is given. */
const char *format_default_ext(enum out_format f);
/*
 * Every format's name (or default extension) joined by sep, the last two by
 * last: "perfetto, json, ctr, text or go". Truncated to fit len.
 */
void format_list(char *buf, size_t len, bool exts, const char *sep, const char *last);
/* The one-line errors for a --format and an output name that name no format. */
void format_err_name(const char *name);
void format_err_path(const char *path);

/* The writers behind the table. */
int perfetto_write(struct ctr_reader *r, struct out *o);
/*
 * Writes sched_switch/sched_waking as CompactSched (default off). Without a
 * call, CTRACE_PERFETTO_COMPACT=1 in the environment turns it on.
 */
void perfetto_set_compact(int on);
int chrome_json_write(struct ctr_reader *r, struct out *o);
int text_write(struct ctr_reader *r, struct out *o);
/* One Go process's goroutines (the busiest if several); its counts into *st. */
int gotrace_write(struct ctr_reader *r, struct out *o, struct gotrace_stats *st);

#endif /* CTRACE_FORMATS_H */
