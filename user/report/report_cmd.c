// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `ctrace-bpf report FILE.ctr [--json] [--top N] [--pid PID] [--html FILE]`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "lib/output.h"
#include "report/report.h"
#include "lib/util.h"

#define DEFAULT_TOP   10
#define DEFAULT_WIDTH 100

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ctrace-bpf report FILE.ctr [--json] [--top N] [--pid PID] [--html FILE]\n"
		"\n"
		"Summarizes a capture: threads (on/off-CPU time, run-queue latency), syscalls,\n"
		"goroutines by start function, blocking stacks, wake-up edges, CPU use and\n"
		"competing processes, and the capture's health.\n"
		"\n"
		"  --json       print the report as JSON (schema: docs/report-json.md)\n"
		"  --top N      rows per list (default %d; 0: all); with --json the lists\n"
		"               that diff compares are always complete\n"
		"  --pid PID    only this process (default: the capture's targets)\n"
		"  --html FILE  also write a self-contained HTML page with charts\n"
		"\n"
		"Exit status: 0 ok, 2 bad usage, 6 FILE cannot be written, 7 the capture is\n"
		"missing or invalid, 1 any other error.\n",
		DEFAULT_TOP);
}

static int term_width(void)
{
	struct winsize ws;

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 40)
		return ws.ws_col;
	return DEFAULT_WIDTH;
}

static int write_html(const struct report *rp, const char *path)
{
	struct out *o = out_open(path, 0);
	int err;

	if (!o) {
		errmsg("cannot write %s: %s", path, strerror(errno));
		return EXIT_OUTPUT;
	}
	report_html(rp, o);
	err = out_close(o);
	if (err) {
		errmsg("writing %s: %s", path, strerror(-err));
		return EXIT_RUNTIME;
	}
	return 0;
}

/* JSON to stdout through lib/output, after whatever stdio buffered. */
static int print_json(const struct report *rp)
{
	struct out *o;
	int err;

	if (fflush(stdout))
		return -1;
	o = out_open_fd(STDOUT_FILENO);
	if (!o)
		return -1;
	report_json(rp, o);
	err = out_close(o);
	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

/* The report on stdout; -1 with errno set when it could not be written. */
static int print_report(const struct report *rp, bool json, const char *html)
{
	bool color;

	if (json)
		return print_json(rp);
	color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	report_text(rp, stdout, term_width(), color);
	if (html)
		printf("\nHTML report: %s\n", html);
	return fflush(stdout) || ferror(stdout) ? -1 : 0;
}

static int run(const char *path, const struct report_opts *o, bool json, const char *html)
{
	struct ctr_reader *r;
	struct report rp;
	char err[512];
	int rc = 0;

	r = ctr_open(path, err, sizeof(err));
	if (!r) {
		errmsg("%s", err);
		return EXIT_BADINPUT;
	}
	if (report_build(&rp, r, path, o)) {
		report_free(&rp);
		ctr_close(r);
		return EXIT_RUNTIME;
	}
	if (html)
		rc = write_html(&rp, html);
	if (!rc && print_report(&rp, json, html)) {
		errmsg("writing the report: %s", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	report_free(&rp);
	ctr_close(r);
	return rc;
}

int report_file(const char *path, const struct report_opts *o)
{
	return run(path, o, false, NULL);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},	   {"top", required_argument, NULL, 't'},
	    {"pid", required_argument, NULL, 'p'}, {"html", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},	   {},
	};
	struct report_opts o = {.top = DEFAULT_TOP};
	const char *html = NULL;
	bool json = false, top_set = false;
	char *end;
	long v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jt:p:H:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 || v > 1000000) {
				errmsg("bad --top '%s' (a count, 0 for all)", optarg);
				return EXIT_USAGE;
			}
			o.top = v;
			top_set = true;
			break;
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 0x3fffffff) {
				errmsg("bad PID '%s'", optarg);
				return EXIT_USAGE;
			}
			o.pid = v;
			break;
		case 'H':
			html = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			errmsg("option '%s' needs an argument (see report --help)",
			       argv[optind - 1]);
			return EXIT_USAGE;
		default:
			errmsg("unknown option '%s' (see report --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		errmsg(optind >= argc ? "report: no capture given (ctrace-bpf report FILE.ctr)"
				      : "report: one capture at a time");
		return EXIT_USAGE;
	}
	/* JSON feeds diff: complete lists unless asked otherwise. */
	if (json && !top_set)
		o.top = 0;
	return run(argv[optind], &o, json, html);
}
