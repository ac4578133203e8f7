/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers shared by the subcommands, and the documented exit codes. */
#ifndef CTRACE_UTIL_H
#define CTRACE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTRACE_VERSION "0.1.0"

/* Exit statuses; README.md lists them and tests check each. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,  /* I/O error while recording or writing */
	EXIT_USAGE = 2,	   /* bad flag, duration or format */
	EXIT_PRIV = 3,	   /* not root, lacks CAP_BPF+CAP_PERFMON */
	EXIT_NOPROC = 4,   /* -p names no running process */
	EXIT_BPF = 5,	   /* BPF load or attach failed */
	EXIT_OUTPUT = 6,   /* output path not writable */
	EXIT_BADINPUT = 7, /* input file missing or not a valid capture */
	EXIT_CMD = 8,	   /* launch-mode command could not be started */
};

/* Prints "ctrace-bpf: <msg>\n" to stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "500ms", "5s", "2m", "1h", "250us"; a bare number is seconds. */
int parse_duration(const char *s, uint64_t *ns);
/* "1.2 MiB" */
void fmt_bytes(char *buf, size_t len, uint64_t bytes);
/* "12.3 ms" style, picking ns/us/ms/s */
void fmt_ns(char *buf, size_t len, uint64_t ns);
uint64_t now_boot_ns(void);
uint64_t now_real_ns(void);

#endif /* CTRACE_UTIL_H */
