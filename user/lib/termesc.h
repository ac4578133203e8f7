/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Names that come from a trace or a JSON file (process and thread names,
 * targets, functions, metrics) are escaped before they reach a terminal: a
 * byte a terminal acts on (C0 controls, DEL, C1 controls) or that is not
 * valid UTF-8 is shown as \xNN. Valid UTF-8 text passes unchanged.
 */
#ifndef CTRACE_TERMESC_H
#define CTRACE_TERMESC_H

#include <stdbool.h>
#include <stdio.h>

/* True when s prints as itself. */
bool term_safe(const char *s);
/* s escaped, malloc'd; NULL when out of memory. */
char *term_escape(const char *s);
/* Escapes s into buf (always NUL-terminated, cut to fit). */
void term_escape_buf(const char *s, char *buf, size_t len);
/* Writes s escaped to f. */
void term_fputs(const char *s, FILE *f);

#endif /* CTRACE_TERMESC_H */
