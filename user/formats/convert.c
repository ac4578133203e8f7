// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `ctrace-bpf convert`: capture -> any output format. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "formats/convert.h"
#include "formats/gotrace.h"
#include "formats/pprof.h"
#include "lib/util.h"

static int copy_file(const char *in, struct out *o)
{
	char buf[1 << 16];
	int fd = open(in, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		out_write(o, buf, n);
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Runs f's writer, or copies the capture for FMT_CTR; 0 or -1. */
static int write_format(const char *in, struct ctr_reader *r, struct out *o, enum out_format f,
			struct format_stats *st)
{
	const struct format_desc *d = format_desc(f);

	if (!d)
		return -1;
	if (!d->write)
		return copy_file(in, o) ? -1 : 0;
	return d->write(r, o, st);
}

int convert_file(const char *in, const char *out, enum out_format f, bool gzip,
		 struct format_stats *st)
{
	struct format_stats own = {0};
	char err[512];
	struct ctr_reader *r;
	struct out *o;
	int rc, e;

	r = ctr_open(in, err, sizeof(err));
	if (!r) {
		errmsg("%s", err);
		return EXIT_BADINPUT;
	}
	/* Before the output exists: a refusal leaves nothing behind. */
	if (f == FMT_GO && gotrace_check(r)) {
		ctr_close(r);
		return EXIT_BADINPUT;
	}
	o = out_open(out, gzip);
	if (!o) {
		errmsg("cannot write %s: %s", out, strerror(errno));
		ctr_close(r);
		return EXIT_OUTPUT;
	}
	if (!st)
		st = &own;
	memset(st, 0, sizeof(*st));
	rc = write_format(in, r, o, f, st);
	ctr_close(r);
	if (rc) {
		e = out_error(o);
		out_abort(o);
		if (e)
			errmsg("writing %s: %s", out, strerror(e));
		return EXIT_RUNTIME;
	}
	e = out_close(o);
	if (e) {
		errmsg("writing %s: %s", out, strerror(-e));
		return EXIT_RUNTIME;
	}
	return 0;
}

/* --pprof-out: profiles beside (or instead of) the converted trace. */
static int convert_pprof(const char *in, const char *dir)
{
	char err[512];
	struct ctr_reader *r = ctr_open(in, err, sizeof(err));

	if (!r) {
		errmsg("%s", err);
		return EXIT_BADINPUT;
	}
	ctr_close(r);
	return pprof_write_dir(in, dir, false) ? EXIT_RUNTIME : 0;
}

static void convert_usage(FILE *f)
{
	char names[128];

	format_list(names, sizeof(names), false, "|", "|");
	fprintf(f,
		"Usage: ctrace-bpf convert IN.ctr [-o OUT] [--format %s]\n"
		"                         [--pprof-out DIR]\n"
		"Writes a capture in another format; see ctrace-bpf --help. --pprof-out also\n"
		"writes pprof profiles (thread off-CPU time, goroutine blocking) into DIR.\n",
		names);
}

struct convert_args {
	const char *in, *out, *fmt, *pprof_dir;
};

/* Returns -1 to go on, or the exit status (after --help or a bad argument). */
static int parse_args(int argc, char **argv, struct convert_args *a)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},
	    {"pprof-out", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case 'F':
			a->fmt = optarg;
			break;
		case 'P':
			a->pprof_dir = optarg;
			break;
		case 'h':
			convert_usage(stdout);
			return 0;
		default:
			convert_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		errmsg("convert takes one input file (see ctrace-bpf convert --help)");
		return EXIT_USAGE;
	}
	a->in = argv[optind];
	return -1;
}

/*
 * The output's format (--format, else -o's extension, else Perfetto) and,
 * without -o, its name: the input's, with the format's extension for .ctr.
 */
static int pick_output(struct convert_args *a, enum out_format *f, bool *gzip, char **defout)
{
	const char *ctr = format_default_ext(FMT_CTR);
	size_t n = strlen(a->in), k = strlen(ctr);

	*f = a->out ? format_from_path(a->out, gzip) : FMT_PERFETTO;
	if (a->fmt) {
		*f = format_from_name(a->fmt);
		if (*f == FMT_NONE) {
			format_err_name(a->fmt);
			return EXIT_USAGE;
		}
	}
	if (*f == FMT_NONE) {
		format_err_path(a->out);
		return EXIT_USAGE;
	}
	if (a->out)
		return 0;
	if (n >= k && !strcmp(a->in + n - k, ctr))
		n -= k;
	if (asprintf(defout, "%.*s%s", (int)n, a->in, format_default_ext(*f)) < 0)
		return EXIT_RUNTIME;
	a->out = *defout;
	return 0;
}

/* Writing a capture to its own name would replace the input with itself. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void print_summary(const char *out, enum out_format f, const struct format_stats *st)
{
	const struct gotrace_stats *gs = &st->go;

	fprintf(stderr, "ctrace-bpf: wrote %s (%s); %s\n", out, format_name(f),
		format_viewer_hint(f));
	if (f != FMT_GO)
		return;
	fprintf(stderr,
		"ctrace-bpf: go trace of pid %u: %" PRIu64 " goroutines, %" PRIu64
		" events, %" PRIu64 " repairs (%" PRIu64 " in goroutine reconstruction, %" PRIu64
		" by the trace's rules), %" PRIu64 " events left out%s\n",
		gs->tgid, gs->goroutines, gs->events,
		gs->repairs + gs->gostate_repairs + gs->rule_repairs, gs->gostate_repairs,
		gs->rule_repairs, gs->rule_drops,
		gs->go_procs > 1 ? "; the busiest of several Go processes" : "");
}

int cmd_convert(int argc, char **argv)
{
	struct convert_args a = {0};
	struct format_stats st;
	char *defout = NULL;
	enum out_format f;
	bool gzip = false;
	int rc;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	/* Only profiles were asked for. */
	if (a.pprof_dir && !a.out && !a.fmt)
		return convert_pprof(a.in, a.pprof_dir);
	rc = pick_output(&a, &f, &gzip, &defout);
	if (!rc && same_file(a.in, a.out)) {
		errmsg("%s is the input; name another output with -o", a.out);
		rc = EXIT_USAGE;
	}
	if (!rc)
		rc = convert_file(a.in, a.out, f, gzip, &st);
	if (!rc)
		print_summary(a.out, f, &st);
	if (!rc && a.pprof_dir)
		rc = convert_pprof(a.in, a.pprof_dir);
	free(defout);
	return rc;
}
