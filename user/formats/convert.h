/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef CTRACE_CONVERT_H
#define CTRACE_CONVERT_H

#include <stdbool.h>
#include "formats/formats.h"

/*
 * Writes capture `in` as `out` in format f. Prints one line on failure and
 * returns an exit status (EXIT_BADINPUT, EXIT_OUTPUT, EXIT_RUNTIME) or 0.
 * st, if not NULL, gets what the writer counted.
 */
int convert_file(const char *in, const char *out, enum out_format f, bool gzip,
		 struct format_stats *st);

int cmd_convert(int argc, char **argv);

#endif /* CTRACE_CONVERT_H */
