// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The output formats: names, extensions, viewer hints and writers. */
#include <stdio.h>
#include <string.h>
#include "formats/formats.h"
#include "lib/util.h"

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

/* The writers that count nothing, in the table's shape. */
static int write_perfetto(struct ctr_reader *r, struct out *o, struct format_stats *st)
{
	return perfetto_write(r, o);
}

static int write_json(struct ctr_reader *r, struct out *o, struct format_stats *st)
{
	return chrome_json_write(r, o);
}

static int write_text(struct ctr_reader *r, struct out *o, struct format_stats *st)
{
	return text_write(r, o);
}

static int write_go(struct ctr_reader *r, struct out *o, struct format_stats *st)
{
	return gotrace_write(r, o, &st->go);
}

/* In the order that lists in messages and usage name them. */
static const struct format_desc formats[] = {
    {
	.fmt = FMT_PERFETTO,
	.name = "perfetto",
	.aliases = {"pftrace"},
	.exts = {".pftrace", ".perfetto-trace"},
	.viewer_hint = "open it at https://ui.perfetto.dev (Open trace file)",
	.write = write_perfetto,
    },
    {
	.fmt = FMT_JSON,
	.name = "json",
	.aliases = {"chrome"},
	.exts = {".json"},
	.viewer_hint = "open it at https://ui.perfetto.dev (Open trace file)",
	.write = write_json,
    },
    {
	.fmt = FMT_CTR,
	.name = "ctr",
	.exts = {".ctr"},
	.viewer_hint = "convert it with: ctrace-bpf convert FILE -o OUT.pftrace",
	.write = NULL, /* a capture stays a capture; only gzip may change */
    },
    {
	.fmt = FMT_TEXT,
	.name = "text",
	.exts = {".txt"},
	.viewer_hint = "read it with less",
	.write = write_text,
    },
    {
	.fmt = FMT_GO,
	.name = "go",
	.aliases = {"gotrace"},
	.exts = {".gotrace"},
	.viewer_hint = "open it with: go tool trace FILE",
	.write = write_go,
    },
};

const struct format_desc *format_desc(enum out_format f)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (formats[i].fmt == f)
			return &formats[i];
	return NULL;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !strncmp(s + len - n, suffix, n);
}

enum out_format format_from_path(const char *path, bool *gzip)
{
	size_t len = strlen(path);

	*gzip = ends_with(path, len, ".gz");
	if (*gzip)
		len -= 3;
	for (size_t i = 0; i < NFORMATS; i++)
		for (int k = 0; k < FORMAT_MAX_EXTS && formats[i].exts[k]; k++)
			if (ends_with(path, len, formats[i].exts[k]))
				return formats[i].fmt;
	return FMT_NONE;
}

enum out_format format_from_name(const char *name)
{
	for (size_t i = 0; i < NFORMATS; i++) {
		if (!strcmp(name, formats[i].name))
			return formats[i].fmt;
		for (int k = 0; k < FORMAT_MAX_ALIASES && formats[i].aliases[k]; k++)
			if (!strcmp(name, formats[i].aliases[k]))
				return formats[i].fmt;
	}
	return FMT_NONE;
}

const char *format_name(enum out_format f)
{
	const struct format_desc *d = format_desc(f);

	return d ? d->name : "?";
}

const char *format_viewer_hint(enum out_format f)
{
	const struct format_desc *d = format_desc(f);

	return d ? d->viewer_hint : "";
}

const char *format_default_ext(enum out_format f)
{
	const struct format_desc *d = format_desc(f);

	return d ? d->exts[0] : "";
}

void format_list(char *buf, size_t len, bool exts, const char *sep, const char *last)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < NFORMATS && n < len; i++) {
		const char *join = !i ? "" : i + 1 < NFORMATS ? sep : last;

		n += snprintf(buf + n, len - n, "%s%s", join,
			      exts ? formats[i].exts[0] : formats[i].name);
	}
}

void format_err_name(const char *name)
{
	char list[128];

	format_list(list, sizeof(list), false, ", ", " or ");
	errmsg("unknown format '%s' (%s)", name, list);
}

void format_err_path(const char *path)
{
	char list[128];

	format_list(list, sizeof(list), true, ", ", " or ");
	errmsg("cannot tell the format of '%s': use %s (optionally .gz), or --format", path, list);
}
