// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `ctrace-bpf convert`: capture -> any output format. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "formats/convert.h"
#include "formats/gotrace.h"
#include "formats/pprof.h"
#include "lib/util.h"

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
	if (ends_with(path, len, ".pftrace") || ends_with(path, len, ".perfetto-trace"))
		return FMT_PERFETTO;
	if (ends_with(path, len, ".json"))
		return FMT_JSON;
	if (ends_with(path, len, ".ctr"))
		return FMT_CTR;
	if (ends_with(path, len, ".txt"))
		return FMT_TEXT;
	if (ends_with(path, len, ".gotrace"))
		return FMT_GO;
	return FMT_NONE;
}

enum out_format format_from_name(const char *name)
{
	if (!strcmp(name, "perfetto") || !strcmp(name, "pftrace"))
		return FMT_PERFETTO;
	if (!strcmp(name, "json") || !strcmp(name, "chrome"))
		return FMT_JSON;
	if (!strcmp(name, "ctr"))
		return FMT_CTR;
	if (!strcmp(name, "text"))
		return FMT_TEXT;
	if (!strcmp(name, "go") || !strcmp(name, "gotrace"))
		return FMT_GO;
	return FMT_NONE;
}

const char *format_name(enum out_format f)
{
	switch (f) {
	case FMT_PERFETTO:
		return "perfetto";
	case FMT_JSON:
		return "json";
	case FMT_CTR:
		return "ctr";
	case FMT_TEXT:
		return "text";
	case FMT_GO:
		return "go";
	default:
		return "?";
	}
}

const char *format_viewer_hint(enum out_format f)
{
	switch (f) {
	case FMT_PERFETTO:
	case FMT_JSON:
		return "open it at https://ui.perfetto.dev (Open trace file)";
	case FMT_CTR:
		return "convert it with: ctrace-bpf convert FILE -o OUT.pftrace";
	case FMT_TEXT:
		return "read it with less";
	case FMT_GO:
		return "open it with: go tool trace FILE";
	default:
		return "";
	}
}

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

int convert_file(const char *in, const char *out, enum out_format f, bool gzip)
{
	char err[512];
	struct ctr_reader *r;
	struct out *o;
	int rc = 0, e;

	r = ctr_open(in, err, sizeof(err));
	if (!r) {
		errmsg("%s", err);
		return EXIT_BADINPUT;
	}
	o = out_open(out, gzip);
	if (!o) {
		errmsg("cannot write %s: %s", out, strerror(errno));
		ctr_close(r);
		return EXIT_OUTPUT;
	}
	switch (f) {
	case FMT_PERFETTO:
		rc = perfetto_write(r, o);
		break;
	case FMT_JSON:
		rc = chrome_json_write(r, o);
		break;
	case FMT_TEXT:
		rc = text_write(r, o);
		break;
	case FMT_GO:
		rc = gotrace_write(r, o);
		break;
	case FMT_CTR:
		/* A capture stays a capture; only gzip may change. */
		if (copy_file(in, o))
			rc = -1;
		break;
	default:
		rc = -1;
		break;
	}
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
	fprintf(f,
		"Usage: ctrace-bpf convert IN.ctr [-o OUT] [--format perfetto|json|ctr|text|go]\n"
		"                         [--pprof-out DIR]\n"
		"Writes a capture in another format; see ctrace-bpf --help. --pprof-out also\n"
		"writes pprof profiles (thread off-CPU time, goroutine blocking) into DIR.\n");
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},
	    {"pprof-out", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *out = NULL, *fmt = NULL, *pprof_dir = NULL;
	char *defout = NULL;
	enum out_format f;
	bool gzip = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'F':
			fmt = optarg;
			break;
		case 'P':
			pprof_dir = optarg;
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
	/* Only profiles were asked for. */
	if (pprof_dir && !out && !fmt)
		return convert_pprof(argv[optind], pprof_dir);
	if (out)
		f = format_from_path(out, &gzip);
	else
		f = FMT_PERFETTO;
	if (fmt) {
		f = format_from_name(fmt);
		if (f == FMT_NONE) {
			errmsg("unknown format '%s' (perfetto, json, ctr, text or go)", fmt);
			return EXIT_USAGE;
		}
	}
	if (f == FMT_NONE) {
		errmsg(
		    "cannot tell the format of '%s': use .pftrace, .json, .ctr, .txt or .gotrace "
		    "(optionally .gz), or --format",
		    out);
		return EXIT_USAGE;
	}
	if (!out) {
		const char *in = argv[optind];
		size_t n = strlen(in);

		if (ends_with(in, n, ".ctr"))
			n -= 4;
		if (asprintf(&defout, "%.*s.%s", (int)n, in,
			     f == FMT_JSON ? "json"
			     : f == FMT_GO ? "gotrace"
					   : "pftrace") < 0)
			return EXIT_RUNTIME;
		out = defout;
	}
	rc = convert_file(argv[optind], out, f, gzip);
	if (!rc)
		fprintf(stderr, "ctrace-bpf: wrote %s (%s); %s\n", out, format_name(f),
			format_viewer_hint(f));
	if (!rc && f == FMT_GO) {
		const struct gotrace_stats *gs = gotrace_last_stats();

		fprintf(stderr,
			"ctrace-bpf: go trace of pid %u: %" PRIu64 " goroutines, %" PRIu64
			" events, %" PRIu64 " repairs (%" PRIu64
			" in goroutine reconstruction)%s\n",
			gs->tgid, gs->goroutines, gs->events, gs->repairs + gs->gostate_repairs,
			gs->gostate_repairs,
			gs->go_procs > 1 ? "; the busiest of several Go processes" : "");
	}
	if (!rc && pprof_dir)
		rc = convert_pprof(argv[optind], pprof_dir);
	free(defout);
	return rc;
}
