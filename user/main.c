// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ctrace-bpf command line: subcommand dispatch and `record` options. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "bpf/ctrace.h"
#include "formats/convert.h"
#include "formats/formats.h"
#include "record/cpusample.h"
#include "go/gosnap.h"
#include "record/record.h"
#include "report/report.h"
#include "lib/util.h"

static void usage(FILE *f)
{
	char names[128];

	format_list(names, sizeof(names), false, ", ", " or ");
	fprintf(
	    f,
	    "Usage: ctrace-bpf [record] [OPTIONS] [-- CMD [ARG...]]\n"
	    "       ctrace-bpf convert IN.ctr [-o OUT] [--format FORMAT]\n"
	    "       ctrace-bpf report IN.ctr [--json] [--top N] [--pid PID] [--html FILE]\n"
	    "       ctrace-bpf diff BASE NEW [--threshold PCT] [--min-abs DUR] [--metric GLOB]...\n"
	    "       ctrace-bpf --help | --version\n"
	    "\n"
	    "Records when threads ran, were runnable or slept, who woke whom, and the\n"
	    "syscalls of the traced processes, with eBPF, on a running system.\n"
	    "\n"
	    "Target (default: the whole system):\n"
	    "  -p, --pid PID[,PID...]  trace these processes' syscalls (threads created\n"
	    "                          later and child processes included); scheduler\n"
	    "                          events are recorded on every CPU so the trace\n"
	    "                          shows what competed with them. Stops when they\n"
	    "                          have all exited, keeping what was recorded.\n"
	    "  -- CMD [ARG...]         start CMD under tracing from its first\n"
	    "                          instruction and stop when it exits. Under sudo\n"
	    "                          it runs as the invoking user (SUDO_UID), with\n"
	    "                          that user's groups and default signals\n"
	    "  -u, --user USER         run CMD as USER instead (--user root: as root)\n"
	    "\n"
	    "Options:\n"
	    "  -d, --duration DUR      stop after DUR: 500ms, 5s, 2m (default: until\n"
	    "                          Ctrl-C, SIGTERM or the target's exit)\n"
	    "  -o, --output FILE       output file; the extension picks the format:\n"
	    "                          .pftrace or .perfetto-trace (Perfetto),\n"
	    "                          .json (Chrome JSON), .ctr (native capture),\n"
	    "                          .gotrace (go tool trace), .txt (text), plus .gz\n"
	    "                          to gzip. Default:\n"
	    "                          ctrace-<pid|cmd|system>-<YYYYmmdd-HHMMSS>.pftrace\n"
	    "  -F, --format FORMAT     %s; overrides the extension\n"
	    "      --goroutines MODE   Go programs: auto (default: full while its\n"
	    "                          probes cost under --max-overhead, then\n"
	    "                          sampled), full (every goroutine transition,\n"
	    "                          through uprobes), sampled (the goroutine of\n"
	    "                          each switch and syscall, read at the kernel\n"
	    "                          event, and CPU samples: no uprobes) or off\n"
	    "                          (threads, CPUs and syscalls only)\n"
	    "      --max-overhead PCT  auto mode's limit on the probes' estimated cost,\n"
	    "                          in percent of the targets' CPU time (default 3)\n"
	    "      --no-goroutines     the same as --goroutines off\n"
	    "      --stack-depth N     goroutine stack frames kept at create, block and\n"
	    "                          unblock, 0 to 32 (default 16; 0 is cheapest)\n"
	    "      --snapshot-interval DUR\n"
	    "                          read every goroutine of Go targets from their\n"
	    "                          memory every DUR (10ms or more; 0: never), without\n"
	    "                          stopping them: states over time and long-blocked\n"
	    "                          goroutines, sampled. Default: 100ms while\n"
	    "                          goroutines are sampled, else off\n"
	    "      --pprof-out DIR     also write pprof profiles into DIR: thread\n"
	    "                          off-CPU time, goroutine blocking and sampled\n"
	    "                          CPU time (when there are CPU samples)\n"
	    "      --freq HZ           sample the targets' CPU use HZ times a second\n"
	    "                          (user stack and goroutine; 1 to 10000, 0: off)\n"
	    "                          into cpu-goroutines.pb.gz with --pprof-out and\n"
	    "                          callstack samples in Perfetto. Default: 499 in\n"
	    "                          sampled goroutine mode, else off\n"
	    "      --report            print `ctrace-bpf report` of the capture at the end\n"
	    "  -q, --quiet             no status line and no summary\n"
	    "  -v, --verbose           show libbpf's messages\n"
	    "  -h, --help              this text\n"
	    "  -V, --version           print the version\n"
	    "\n"
	    "Under sudo, outputs belong to the invoking user, who also runs the\n"
	    "conversion and the reports; captures are mode 0600 (see README: Security).\n"
	    "\n"
	    "Every output is derived from a native capture (.ctr); `convert` turns a\n"
	    "capture into any format on any machine. Open .pftrace and .json files at\n"
	    "https://ui.perfetto.dev.\n"
	    "\n"
	    "Exit status:\n"
	    "  0 success (also when a -p target exits during the trace)\n"
	    "  1 error while recording or writing (e.g. disk full)\n"
	    "  2 bad usage: unknown flag, bad duration or format\n"
	    "  3 not root and lacking CAP_BPF and CAP_PERFMON\n"
	    "  4 no such process (-p)\n"
	    "  5 BPF programs could not be loaded or attached\n"
	    "  6 the output path cannot be written\n"
	    "  7 the input file is missing or is not a valid capture (convert)\n"
	    "  8 CMD could not be started\n"
	    "  diff: 0 no regression, 1 a regression, 2 an error\n"
	    "\n"
	    "Examples:\n"
	    "  sudo ctrace-bpf -p 1234 -d 5s\n"
	    "  sudo ctrace-bpf -o build.pftrace -- make -j2\n"
	    "  sudo ctrace-bpf -d 10s -o all.ctr && ctrace-bpf convert all.ctr -o all.json\n",
	    names);
}

static int set_go_mode(const char *arg, struct record_opts *o)
{
	static const char *const names[] = {
	    [GO_MODE_OFF] = "off",
	    [GO_MODE_FULL] = "full",
	    [GO_MODE_SAMPLED] = "sampled",
	    [GO_MODE_AUTO] = "auto",
	};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(arg, names[i])) {
			o->go_mode = i;
			o->go_mode_set = true;
			return 0;
		}
	errmsg("bad goroutine mode '%s' (auto, full, sampled or off)", arg);
	return -EINVAL;
}

static int parse_pids(const char *arg, struct record_opts *o)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v;

		errno = 0;
		v = strtol(tok, &end, 10);
		if (errno || *end || v <= 0 || v > 0x3fffffff) {
			errmsg("bad PID '%s'", tok);
			rc = -EINVAL;
			break;
		}
		if (o->npids == MAX_TARGETS) {
			errmsg("at most %d PIDs", MAX_TARGETS);
			rc = -EINVAL;
			break;
		}
		o->pids[o->npids++] = v;
	}
	free(copy);
	return rc;
}

/* --snapshot-interval: a duration of at least 10ms, or 0 for none. */
static int parse_snapshot_interval(const char *s, uint64_t *ns)
{
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (parse_duration(s, ns) || *ns < GOSNAP_MIN_INTERVAL_NS) {
		errmsg("bad snapshot interval '%s' (10ms or more, e.g. 100ms, 1s; 0 for none)", s);
		return -1;
	}
	return 0;
}

/* Long-only options, outside the range of short option characters. */
enum { OPT_FREQ = 0x100, OPT_MAX_OVERHEAD };

static int parse_freq(const char *arg, struct record_opts *o)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > CPUSAMPLE_MAX_HZ) {
		errmsg("bad sample frequency '%s' (0 to %d Hz; 0 turns CPU sampling off)", arg,
		       CPUSAMPLE_MAX_HZ);
		return -EINVAL;
	}
	o->freq_hz = v;
	o->freq_set = true;
	return 0;
}

static int parse_max_overhead(const char *arg, struct record_opts *o)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v > 0 && v <= 100)) {
		errmsg("bad overhead limit '%s' (a percentage above 0, at most 100)", arg);
		return -1;
	}
	o->max_overhead = v;
	return 0;
}

static int parse_stack_depth(const char *arg, struct record_opts *o)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v < 0 || v > 32) {
		errmsg("bad stack depth '%s' (0 to 32)", arg);
		return -1;
	}
	o->stack_depth = v;
	return 0;
}

/* One option of record's; -1 to go on, else the exit status (0: help, version). */
static int record_opt(int c, char **argv, struct record_opts *o)
{
	switch (c) {
	case 'p':
		return parse_pids(optarg, o) ? EXIT_USAGE : -1;
	case 'd':
		if (!parse_duration(optarg, &o->duration_ns))
			return -1;
		errmsg("bad duration '%s' (examples: 500ms, 5s, 2m)", optarg);
		return EXIT_USAGE;
	case 'o':
		o->output = optarg;
		return -1;
	case 'F':
		o->format = format_from_name(optarg);
		if (o->format != FMT_NONE)
			return -1;
		format_err_name(optarg);
		return EXIT_USAGE;
	case 'q':
		o->quiet = true;
		return -1;
	case 'G': /* --no-goroutines: an alias of --goroutines off */
	case 'M':
		return set_go_mode(c == 'G' ? "off" : optarg, o) ? EXIT_USAGE : -1;
	case 'S':
		return parse_stack_depth(optarg, o) ? EXIT_USAGE : -1;
	case 'P':
		o->pprof_dir = optarg;
		return -1;
	case 'I':
		o->snapshot_set = true;
		return parse_snapshot_interval(optarg, &o->snapshot_interval_ns) ? EXIT_USAGE : -1;
	case OPT_FREQ:
		return parse_freq(optarg, o) ? EXIT_USAGE : -1;
	case OPT_MAX_OVERHEAD:
		return parse_max_overhead(optarg, o) ? EXIT_USAGE : -1;
	case 'v':
		o->verbose = true;
		return -1;
	case 'R':
		o->report = true;
		return -1;
	case 'u':
		o->user = optarg;
		return -1;
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		printf("ctrace-bpf %s\n", CTRACE_VERSION);
		return 0;
	case ':':
		errmsg("option '%s' needs an argument (see --help)", argv[optind - 1]);
		return EXIT_USAGE;
	default:
		if (optopt)
			errmsg("unknown option '-%c' (see --help)", optopt);
		else
			errmsg("unknown option '%s' (see --help)", argv[optind - 1]);
		return EXIT_USAGE;
	}
}

/* What the options say together: a command or pids, an output's format. */
static int record_args_check(struct record_opts *o)
{
	bool gz;

	if (o->cmd && o->npids) {
		errmsg("give either -p or a command, not both");
		return EXIT_USAGE;
	}
	if (!o->output)
		return -1;
	if (format_from_path(o->output, &gz) == FMT_NONE && o->format == FMT_NONE) {
		format_err_path(o->output);
		return EXIT_USAGE;
	}
	o->gzip = gz;
	return -1;
}

static int cmd_record_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 'd'},
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"no-goroutines", no_argument, NULL, 'G'},
	    {"goroutines", required_argument, NULL, 'M'},
	    {"stack-depth", required_argument, NULL, 'S'},
	    {"pprof-out", required_argument, NULL, 'P'},
	    {"snapshot-interval", required_argument, NULL, 'I'},
	    {"report", no_argument, NULL, 'R'},
	    {"user", required_argument, NULL, 'u'},
	    {"freq", required_argument, NULL, OPT_FREQ},
	    {"max-overhead", required_argument, NULL, OPT_MAX_OVERHEAD},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {},
	};
	struct record_opts o = {
	    .stack_depth = 16,
	    .go_mode = GO_MODE_AUTO,
	    .freq_hz = CPUSAMPLE_DEFAULT_HZ,
	    .max_overhead = 3,
	};
	int c, rc;

	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, so CMD's own flags stay its own. */
	while ((c = getopt_long(argc, argv, "+p:d:o:F:u:qvhV", opts, NULL)) != -1)
		if ((rc = record_opt(c, argv, &o)) >= 0)
			return rc;
	/* Everything after the options is the command (`--` optional). */
	if (optind < argc)
		o.cmd = &argv[optind];
	rc = record_args_check(&o);
	return rc >= 0 ? rc : cmd_record(&o);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "convert"))
		return cmd_convert(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "record"))
		return cmd_record_args(argc - 1, argv + 1);
	return cmd_record_args(argc, argv);
}
