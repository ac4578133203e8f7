/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef CTRACE_CONVERT_H
#define CTRACE_CONVERT_H

#include <stdbool.h>
#include "formats/formats.h"

/* Format implied by a file name's extension; *gzip set for a trailing .gz. */
enum out_format format_from_path(const char *path, bool *gzip);
/* "perfetto", "json", "ctr" */
enum out_format format_from_name(const char *name);
const char *format_name(enum out_format f);
/* Where to open a file of this format. */
const char *format_viewer_hint(enum out_format f);

/*
 * Writes capture `in` as `out` in format f. Prints one line on failure and
 * returns an exit status (EXIT_BADINPUT, EXIT_OUTPUT, EXIT_RUNTIME) or 0.
 */
int convert_file(const char *in, const char *out, enum out_format f, bool gzip);

int cmd_convert(int argc, char **argv);

#endif /* CTRACE_CONVERT_H */
