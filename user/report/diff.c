// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `ctrace-bpf diff BASE NEW`: the CI regression gate. Both sides (captures
 * or `report --json` files) are flattened to named metrics, compared, and a
 * regression in a gating metric makes the exit status 1.
 *
 * Captures go through the same JSON as `report --json`, so a baseline kept
 * as JSON and one kept as a capture compare the same way. The noise policy
 * (docs/report.md) is: a change counts only when it passes both an absolute
 * floor and a relative threshold; a percentile gates only with enough
 * samples on both sides to mean something; maxima, counts and the runtime's
 * own goroutines are shown but do not gate unless --metric names them.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "lib/json.h"
#include "lib/output.h"
#include "report/report.h"
#include "lib/termesc.h"
#include "lib/util.h"

#define DEFAULT_THRESHOLD  20.0	     /* percent */
#define DEFAULT_MIN_ABS_NS 100000ull /* 100 us */
#define DEFAULT_MIN_COUNT  10.0
#define DEFAULT_MIN_SHARE  1.0 /* percent of the capture's duration, for totals */
#define TAIL_SAMPLES	   10  /* samples a percentile needs above it to gate */
#define MAX_GLOBS	   64

enum unit {
	U_NS,	 /* a per-event latency: percentile or mean */
	U_TOTAL, /* time summed over the whole run */
	U_COUNT,
};

enum dir {
	D_HIGHER_WORSE, /* gates */
	D_INFO,		/* shown when changed, never gates unless --metric selects it */
};

struct metric {
	char *name;
	double v;
	enum unit unit;
	enum dir dir;
	double samples; /* percentiles: samples behind it; else 0 */
	double pct;	/* which percentile (50, 99), 0 if not one */
};

struct mset {
	struct metric *m;
	size_t n, cap;
	bool oom;
};

struct dopts {
	double threshold, min_abs, min_count, min_share;
	double duration; /* the longer capture's, for the totals' floor */
	const char *globs[MAX_GLOBS];
	int nglobs;
	bool all;
};

/* ---- loading ---- */

static char *slurp(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		*err = errno;
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *b;

			cap = cap ? cap * 2 : 262144;
			b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				*err = ENOMEM;
				return NULL;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);

		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		*err = errno ? errno : EIO;
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* A capture's report as JSON text, through the same code as `report --json`. */
static char *capture_json(const char *path, size_t *len)
{
	struct report_opts o = {.top = 0};
	struct ctr_reader *r;
	struct report rp;
	char err[512], *buf = NULL;
	struct out *out;

	r = ctr_open(path, err, sizeof(err));
	if (!r) {
		errmsg("%s", err);
		return NULL;
	}
	if (report_build(&rp, r, path, &o)) {
		report_free(&rp);
		ctr_close(r);
		return NULL;
	}
	out = out_open_mem();
	if (out) {
		report_json(&rp, out);
		buf = out_close_mem(out, len);
	}
	report_free(&rp);
	ctr_close(r);
	if (!buf)
		errmsg("out of memory");
	return buf;
}

static struct jval *load(const char *path)
{
	char err[256], head[sizeof(CTR_MAGIC)] = {0};
	struct jval *doc;
	size_t len = 0;
	char *text;
	FILE *f;
	int e = 0;

	f = fopen(path, "rb");
	if (!f) {
		errmsg("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fread(head, 1, sizeof(head) - 1, f) != sizeof(head) - 1)
		head[0] = 0;
	fclose(f);
	if (!memcmp(head, CTR_MAGIC, sizeof(CTR_MAGIC) - 1)) {
		text = capture_json(path, &len);
		if (!text)
			return NULL;
	} else {
		text = slurp(path, &len, &e);
		if (!text) {
			errmsg("cannot read %s: %s", path, strerror(e));
			return NULL;
		}
	}
	doc = json_parse(text, len, err, sizeof(err));
	free(text);
	if (!doc) {
		errmsg("%s is neither a capture nor a report --json file: %s", path, err);
		return NULL;
	}
	if (doc->type != J_OBJ || !json_get(doc, "schema_version")) {
		errmsg("%s: not a ctrace-bpf report (no schema_version)", path);
		json_free(doc);
		return NULL;
	}
	if (json_num(doc, "schema_version", 0) != REPORT_SCHEMA_VERSION) {
		errmsg("%s: report schema_version %g, this ctrace-bpf reads %d", path,
		       json_num(doc, "schema_version", 0), REPORT_SCHEMA_VERSION);
		json_free(doc);
		return NULL;
	}
	return doc;
}

/* ---- flattening ---- */

static void add(struct mset *s, const char *name, double v, enum unit u, enum dir d, double samples,
		double pct)
{
	struct metric *m;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct metric *p = realloc(s->m, cap * sizeof(*p));

		if (!p) {
			s->oom = true;
			return;
		}
		s->m = p;
		s->cap = cap;
	}
	m = &s->m[s->n];
	m->name = strdup(name);
	if (!m->name) {
		s->oom = true;
		return;
	}
	/* Names are dot-separated paths: keep a name's own blanks out of them. */
	for (char *c = m->name; *c; c++)
		if (*c == ' ' || *c == '\t')
			*c = '_';
	m->v = v;
	m->unit = u;
	m->dir = d;
	m->samples = samples;
	m->pct = pct;
	s->n++;
}

static void addf(struct mset *s, double v, enum unit u, enum dir d, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void addf(struct mset *s, double v, enum unit u, enum dir d, const char *fmt, ...)
{
	char name[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	add(s, name, v, u, d, 0, 0);
}

/* prefix.p50 / .p99 / .max (and .mean) of a distribution object. */
static void dist(struct mset *s, const char *prefix, const struct jval *d, enum dir dir, bool mean)
{
	char name[512];
	double n;

	if (!d)
		return;
	n = json_num(d, "count", 0);
	if (!n)
		return;
	snprintf(name, sizeof(name), "%s.p50", prefix);
	add(s, name, json_num(d, "p50_ns", 0), U_NS, dir, n, 50);
	snprintf(name, sizeof(name), "%s.p99", prefix);
	add(s, name, json_num(d, "p99_ns", 0), U_NS, dir, n, 99);
	snprintf(name, sizeof(name), "%s.max", prefix);
	add(s, name, json_num(d, "max_ns", 0), U_NS, D_INFO, 0, 0);
	if (mean) {
		snprintf(name, sizeof(name), "%s.mean", prefix);
		add(s, name, json_num(d, "mean_ns", 0), U_NS, dir, 0, 0);
	}
}

static bool runtime_group(const char *f)
{
	/* The runtime's own goroutines follow GC and timer pacing, not the program. */
	return (!strncmp(f, "runtime.", 8) && strcmp(f, "runtime.main")) || f[0] == '(' ||
	       !strncmp(f, "0x", 2);
}

static void flat_health(const struct jval *doc, struct mset *s)
{
	const struct jval *h = json_get(doc, "health");

	if (!h)
		return;
	addf(s, json_num(h, "drops", 0), U_COUNT, D_INFO, "health.drops");
	addf(s, json_num(h, "late_events", 0), U_COUNT, D_INFO, "health.late_events");
	addf(s, json_num(h, "gostate_repairs", 0), U_COUNT, D_INFO, "health.gostate_repairs");
}

static void flat_syscalls(const struct jval *doc, struct mset *s)
{
	for (int rt = 0; rt < 2; rt++) {
		/* The Go runtime's own parking and polling: shown, never gating by default. */
		enum dir d = rt ? D_INFO : D_HIGHER_WORSE;
		const struct jval *a = json_get(doc, rt ? "go_runtime_syscalls" : "syscalls");

		for (const struct jval *e = a ? a->kids : NULL; e; e = e->next) {
			const char *n = json_str(e, "name");
			const struct jval *lat = json_get(e, "latency");
			char p[256];

			if (!n)
				continue;
			snprintf(p, sizeof(p), "%ssyscalls.%s", rt ? "go_runtime." : "", n);
			addf(s, json_num(e, "count", 0), U_COUNT, D_INFO, "%s.count", p);
			addf(s, json_num(e, "errors", 0), U_COUNT, d, "%s.errors", p);
			addf(s, json_num(lat, "total_ns", 0), U_TOTAL, d, "%s.total", p);
			dist(s, p, lat, d, false);
		}
	}
}

static void flat_goroutine(const struct jval *e, struct mset *s)
{
	const char *f = json_str(e, "start_func");
	const struct jval *t = json_get(e, "time_ns");
	enum dir d;
	char p[512];

	if (!f)
		return;
	d = runtime_group(f) ? D_INFO : D_HIGHER_WORSE;
	snprintf(p, sizeof(p), "goroutines.%s", f);
	addf(s, json_num(e, "count", 0), U_COUNT, D_INFO, "%s.count", p);
	addf(s, json_num(e, "execution_ns", 0), U_TOTAL, d, "%s.execution.total", p);
	addf(s, json_num(e, "mean_execution_ns", 0), U_TOTAL, d, "%s.execution.mean", p);
	/* Running includes time its thread was preempted: the machine's load. */
	addf(s, json_num(t, "running", 0), U_TOTAL, D_INFO, "%s.running.total", p);
	/* Waiting for a CPU follows the machine's load more than the program. */
	addf(s, json_num(t, "runnable", 0), U_TOTAL, D_INFO, "%s.runnable.total", p);
	addf(s, json_num(t, "sync_block", 0), U_TOTAL, d, "%s.sync_block.total", p);
	addf(s, json_num(t, "net_wait", 0), U_TOTAL, d, "%s.net_wait.total", p);
	addf(s, json_num(t, "sleep", 0), U_TOTAL, d, "%s.sleep.total", p);
	addf(s, json_num(t, "syscall", 0), U_TOTAL, d, "%s.syscall.total", p);
	addf(s, json_num(t, "other_block", 0), U_TOTAL, D_INFO, "%s.other_block.total", p);
	snprintf(p, sizeof(p), "goroutines.%s.sched_wait", f);
	dist(s, p, json_get(e, "sched_wait"), d, false);
	snprintf(p, sizeof(p), "goroutines.%s.sync_block", f);
	dist(s, p, json_get(e, "sync_block"), d, false);
}

static void flat_threads(const struct jval *doc, struct mset *s)
{
	const struct jval *a = json_get(doc, "thread_groups");

	for (const struct jval *e = a ? a->kids : NULL; e; e = e->next) {
		const char *c = json_str(e, "comm");
		char p[256];

		if (!c)
			continue;
		snprintf(p, sizeof(p), "threads.%s", c);
		addf(s, json_num(e, "nthreads", 0), U_COUNT, D_INFO, "%s.count", p);
		addf(s, json_num(e, "on_cpu_ns", 0), U_TOTAL, D_HIGHER_WORSE, "%s.on_cpu", p);
		addf(s, json_num(e, "off_cpu_ns", 0), U_TOTAL, D_INFO, "%s.off_cpu", p);
		addf(s, json_num(e, "runnable_ns", 0), U_TOTAL, D_INFO, "%s.runnable", p);
		snprintf(p, sizeof(p), "threads.%s.runqlat", c);
		dist(s, p, json_get(e, "runqlat"), D_HIGHER_WORSE, false);
	}
}

static void flat_blocking(const struct jval *doc, struct mset *s)
{
	const struct jval *a = json_get(doc, "blocking");

	for (const struct jval *e = a ? a->kids : NULL; e; e = e->next) {
		const char *r = json_str(e, "reason");

		if (!r || !json_num(e, "count", 0))
			continue;
		addf(s, json_num(e, "total_ns", 0), U_TOTAL,
		     strcmp(r, "other") ? D_HIGHER_WORSE : D_INFO, "blocking.%s.total", r);
		addf(s, json_num(e, "count", 0), U_COUNT, D_INFO, "blocking.%s.count", r);
	}
}

static void flatten(const struct jval *doc, struct mset *s)
{
	const struct jval *a = json_get(doc, "goroutines");

	flat_health(doc, s);
	flat_syscalls(doc, s);
	for (const struct jval *e = a ? a->kids : NULL; e; e = e->next)
		flat_goroutine(e, s);
	flat_threads(doc, s);
	flat_blocking(doc, s);
}

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const struct metric *)a)->name, ((const struct metric *)b)->name);
}

static void mset_free(struct mset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->m[i].name);
	free(s->m);
}

/* ---- comparing ---- */

enum verdict { V_SAME, V_REGRESSION, V_IMPROVED, V_CHANGED, V_ONLY_BASE, V_ONLY_NEW };

struct row {
	const struct metric *b, *n;
	enum verdict v;
	bool eligible; /* may gate: direction or --metric */
	bool gates;
	const char *why; /* why a change does not gate */
};

static bool selected(const struct dopts *o, const char *name)
{
	for (int i = 0; i < o->nglobs; i++)
		if (!fnmatch(o->globs[i], name, 0))
			return true;
	return false;
}

/*
 * Samples a percentile needs before its change can gate: TAIL_SAMPLES above
 * it (p50: 20, p90: 100, p99: 1000). Below that it is one or two samples
 * from the maximum and moves with any outlier.
 */
static double min_samples(double pct)
{
	double n;

	if (pct <= 0 || pct >= 100)
		return 0;
	n = TAIL_SAMPLES / (1.0 - pct / 100.0);
	return (double)(uint64_t)(n - 1e-9) + 1;
}

static double floor_of(const struct metric *m, const struct dopts *o)
{
	double share = o->min_share / 100.0 * o->duration;

	if (m->unit == U_COUNT)
		return o->min_count;
	/* A sum over the run gathers jitter in proportion to the run's length. */
	if (m->unit == U_TOTAL && share > o->min_abs)
		return share;
	return o->min_abs;
}

static void judge(struct row *r, const struct dopts *o)
{
	const struct metric *m = r->n ? r->n : r->b;
	double base = r->b ? r->b->v : 0, now = r->n ? r->n->v : 0;
	double delta = now - base, floor = floor_of(m, o);
	double rel = base ? fabs(delta) / base * 100.0 : (delta ? INFINITY : 0);
	bool beyond = fabs(delta) >= floor && rel >= o->threshold && delta != 0;

	if (o->nglobs)
		r->gates = selected(o, m->name);
	else
		r->gates = m->dir == D_HIGHER_WORSE;
	r->eligible = r->gates;
	if (!r->b || !r->n) {
		r->v = r->b ? V_ONLY_BASE : V_ONLY_NEW;
		/* Absent means none: a new cost gates like a rise from zero. */
		if (r->gates && r->n && !m->pct && beyond && delta > 0) {
			r->v = V_REGRESSION;
			r->why = "new";
		} else if (r->gates) {
			r->gates = false;
			r->why = m->pct ? "no base distribution" : "below the floor";
		}
		return;
	}
	if (!beyond) {
		r->v = delta ? V_CHANGED : V_SAME;
		r->why = delta ? "within the noise floor" : NULL;
		r->gates = false;
		return;
	}
	if (r->gates && m->pct && !o->nglobs &&
	    (r->b->samples < min_samples(m->pct) || r->n->samples < min_samples(m->pct))) {
		r->gates = false;
		r->why = "too few samples";
	}
	if (!r->gates) {
		r->v = V_CHANGED;
		if (!r->why)
			r->why = "informational";
		return;
	}
	r->v = delta > 0 ? V_REGRESSION : V_IMPROVED;
}

/* A nanosecond count from a JSON number: negative or NaN is 0, too big saturates. */
static uint64_t to_ns(double v)
{
	if (!(v > 0))
		return 0;
	return v < 18446744073709549568.0 ? (uint64_t)v : UINT64_MAX;
}

static void fmt_val(char *b, size_t len, const struct metric *m, double v)
{
	if (!m) {
		snprintf(b, len, "-");
		return;
	}
	if (m->unit != U_COUNT)
		fmt_ns(b, len, to_ns(fabs(v)));
	else
		snprintf(b, len, "%.0f", fabs(v));
}

static int dwidth(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void pad(FILE *f, const char *name, int w, bool left)
{
	char s[1024];
	int d;

	/* Metric names come from JSON files: escaped before a terminal sees them. */
	term_escape_buf(name, s, sizeof(s));
	d = dwidth(s);

	if (!left && d < w)
		fprintf(f, "%*s", w - d, "");
	if (d > w) {
		/* Cut from the left: a metric's end says what it is. */
		const char *p = s;

		for (int skip = d - w + 1; skip > 0 && *p; p++)
			if (((unsigned char)p[1] & 0xc0) != 0x80)
				skip--;
		fputs("…", f);
		fputs(p, f);
		return;
	}
	fputs(s, f);
	if (left && d < w)
		fprintf(f, "%*s", w - d, "");
}

static const char *const verdict_name[] = {
    [V_SAME] = "same",	     [V_REGRESSION] = "REGRESSION",  [V_IMPROVED] = "improved",
    [V_CHANGED] = "changed", [V_ONLY_BASE] = "only in base", [V_ONLY_NEW] = "only in new",
};

static void print_rows(struct row *rows, size_t n, const struct dopts *o, bool color)
{
	int namew = 6, width = 100;
	struct winsize ws;

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 60)
		width = ws.ws_col;
	for (size_t i = 0; i < n; i++)
		if (dwidth(rows[i].b ? rows[i].b->name : rows[i].n->name) > namew)
			namew = dwidth(rows[i].b ? rows[i].b->name : rows[i].n->name);
	/* Cut names only for a person at a terminal: scripts read them whole. */
	if (isatty(STDOUT_FILENO) && namew > width - 62)
		namew = width - 62 > 20 ? width - 62 : 20;
	if (color)
		fputs("\033[1m", stdout);
	pad(stdout, "METRIC", namew, true);
	printf("  %10s  %10s  %11s  %8s  %s\n", "BASE", "NEW", "DELTA", "%", "VERDICT");
	if (color)
		fputs("\033[0m", stdout);
	/* What fails the gate first, then what improved, then the rest. */
	for (size_t k = 0; k < n * 5; k++) {
		static const enum verdict order[] = {V_REGRESSION, V_IMPROVED, V_ONLY_BASE,
						     V_ONLY_NEW, V_CHANGED};
		const struct row *r = &rows[k % n];
		const struct metric *m = r->n ? r->n : r->b;
		double base = r->b ? r->b->v : 0, now = r->n ? r->n->v : 0;
		char b[32], nw[32], d[40], pc[16], dv[32];

		if (r->v != order[k / n])
			continue;
		if (r->v == V_CHANGED && !o->all && r->why &&
		    !strcmp(r->why, "within the noise floor"))
			continue;
		fmt_val(b, sizeof(b), r->b, base);
		fmt_val(nw, sizeof(nw), r->n, now);
		fmt_val(dv, sizeof(dv), m, now - base);
		snprintf(d, sizeof(d), "%s%s", now - base < 0 ? "-" : "+", dv);
		if (base)
			snprintf(pc, sizeof(pc), "%+.1f%%", (now - base) / base * 100.0);
		else
			snprintf(pc, sizeof(pc), "%s", now ? "new" : "");
		pad(stdout, m->name, namew, true);
		printf("  ");
		pad(stdout, b, 10, false);
		printf("  ");
		pad(stdout, nw, 10, false);
		printf("  ");
		pad(stdout, d, 11, false);
		printf("  %8s  ", pc);
		if (color && r->v == V_REGRESSION)
			fputs("\033[1;31m", stdout);
		else if (color && r->v == V_IMPROVED)
			fputs("\033[32m", stdout);
		printf("%s", verdict_name[r->v]);
		if (color && (r->v == V_REGRESSION || r->v == V_IMPROVED))
			fputs("\033[0m", stdout);
		if (r->why && r->v != V_REGRESSION)
			printf(" (%s)", r->why);
		putchar('\n');
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: ctrace-bpf diff BASE NEW [--threshold PCT] [--min-abs DUR]\n"
		   "                       [--min-count N] [--min-share PCT] [--metric GLOB]...\n"
		   "                       [--all]\n"
		   "\n"
		   "Compares two runs (captures or `report --json` files) metric by metric and\n"
		   "fails on a regression. A change counts when it is at least --threshold\n"
		   "percent of the base (default 20) AND at least a floor: --min-abs for\n"
		   "latencies (default 100us), the larger of --min-abs and --min-share percent\n"
		   "of the capture's duration for times summed over the run (default 1), and\n"
		   "--min-count for counts (default 10). By default latencies, times and error\n"
		   "counts gate (higher is worse); maxima, counts, waiting for a CPU and the Go\n"
		   "runtime's own goroutines are shown but do not gate, and a percentile gates\n"
		   "only with 10 samples above it (p50: 20, p99: 1000). --metric GLOB (fnmatch,\n"
		   "may repeat) makes exactly the matching metrics gate. --all also lists\n"
		   "changes below the floors.\n"
		   "\n"
		   "Exit status: 0 no regression, 1 a regression, 2 an error (bad usage or an\n"
		   "unreadable input). See docs/report.md.\n");
}

/* One option into o; 0, or 2 after a message. */
static int parse_opt(int c, const char *arg, struct dopts *o)
{
	uint64_t ns;
	char *end;

	errno = 0;
	switch (c) {
	case 't':
		o->threshold = strtod(arg, &end);
		if (errno || (*end && strcmp(end, "%")) || o->threshold < 0) {
			errmsg("bad --threshold '%s' (a percentage, e.g. 20)", arg);
			return 2;
		}
		break;
	case 'a':
		if (!strcmp(arg, "0")) {
			o->min_abs = 0;
			break;
		}
		if (parse_duration(arg, &ns)) {
			errmsg("bad --min-abs '%s' (a duration: 100us, 1ms)", arg);
			return 2;
		}
		o->min_abs = ns;
		break;
	case 'c':
		o->min_count = strtod(arg, &end);
		if (errno || *end || o->min_count < 0) {
			errmsg("bad --min-count '%s'", arg);
			return 2;
		}
		break;
	case 's':
		o->min_share = strtod(arg, &end);
		if (errno || (*end && strcmp(end, "%")) || o->min_share < 0) {
			errmsg("bad --min-share '%s' (a percentage, e.g. 1)", arg);
			return 2;
		}
		break;
	case 'm':
		if (o->nglobs == MAX_GLOBS) {
			errmsg("at most %d --metric patterns", MAX_GLOBS);
			return 2;
		}
		o->globs[o->nglobs++] = arg;
		break;
	case 'A':
		o->all = true;
		break;
	}
	return 0;
}

/* The command line into o: -1 to go on, else the exit status (--help, bad usage). */
static int parse_args(int argc, char **argv, struct dopts *o)
{
	static const struct option opts[] = {
	    {"threshold", required_argument, NULL, 't'},
	    {"min-abs", required_argument, NULL, 'a'},
	    {"min-count", required_argument, NULL, 'c'},
	    {"min-share", required_argument, NULL, 's'},
	    {"metric", required_argument, NULL, 'm'},
	    {"all", no_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:a:c:s:m:Ah", opts, NULL)) != -1) {
		switch (c) {
		case 't':
		case 'a':
		case 'c':
		case 's':
		case 'm':
		case 'A':
			if (parse_opt(c, optarg, o))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			errmsg("option '%s' needs an argument (see diff --help)", argv[optind - 1]);
			return 2;
		default:
			errmsg("unknown option '%s' (see diff --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		errmsg("diff needs two inputs: ctrace-bpf diff BASE NEW");
		return 2;
	}
	return -1;
}

/* Both sides, base then new, as documents and as metrics; -1 after a message. */
static int load_sides(char *const paths[2], struct jval *docs[2], struct mset sets[2],
		      struct dopts *o)
{
	for (int k = 0; k < 2; k++) {
		docs[k] = load(paths[k]);
		if (!docs[k])
			return -1;
	}
	for (int k = 0; k < 2; k++) {
		const struct jval *cap = json_get(docs[k], "capture");
		double d = json_num(cap, "duration_ns", 0);

		flatten(docs[k], &sets[k]);
		if (d > o->duration)
			o->duration = d;
	}
	return 0;
}

static void print_sides(char *const paths[2], struct jval *const docs[2])
{
	for (int k = 0; k < 2; k++) {
		const struct jval *cap = json_get(docs[k], "capture");
		const char *t = json_str(cap, "target");
		char ds[32];

		fmt_ns(ds, sizeof(ds), to_ns(json_num(cap, "duration_ns", 0)));
		printf("%-4s ", k ? "new" : "base");
		term_fputs(paths[k], stdout);
		fputs(": ", stdout);
		term_fputs(t ? t : "?", stdout);
		printf(", %s\n", ds);
	}
	putchar('\n');
}

struct tally {
	size_t nrows, nreg, nimp, nonly, ngated;
};

/* Some metric matches a --metric pattern; else a message. */
static bool globs_match(const struct row *rows, const struct tally *t, const struct dopts *o)
{
	if (!o->nglobs || t->ngated)
		return true;
	for (size_t i = 0; i < t->nrows; i++)
		if (selected(o, rows[i].b ? rows[i].b->name : rows[i].n->name))
			return true;
	errmsg("no metric matches --metric (names look like syscalls.read.p50; --all lists them)");
	return false;
}

/* Merges the two sides by name and judges each metric; NULL after a message. */
static struct row *compare(struct mset sets[2], const struct dopts *o, struct tally *t)
{
	struct mset *bs = &sets[0], *ns = &sets[1];
	struct row *rows;
	size_t i, j;

	if (bs->oom || ns->oom) {
		errmsg("out of memory");
		return NULL;
	}
	/* qsort() wants a valid array even for 0 elements; a report may have none. */
	if (bs->n > 1)
		qsort(bs->m, bs->n, sizeof(*bs->m), cmp_metric);
	if (ns->n > 1)
		qsort(ns->m, ns->n, sizeof(*ns->m), cmp_metric);
	rows = calloc(bs->n + ns->n + 1, sizeof(*rows));
	if (!rows) {
		errmsg("out of memory");
		return NULL;
	}
	for (i = j = 0; i < bs->n || j < ns->n;) {
		int k = i == bs->n ? 1 : j == ns->n ? -1 : strcmp(bs->m[i].name, ns->m[j].name);
		struct row *r = &rows[t->nrows++];

		if (k <= 0)
			r->b = &bs->m[i++];
		if (k >= 0)
			r->n = &ns->m[j++];
		judge(r, o);
		t->nreg += r->v == V_REGRESSION;
		t->nimp += r->v == V_IMPROVED;
		t->nonly += r->v == V_ONLY_BASE || r->v == V_ONLY_NEW;
		t->ngated += r->eligible;
	}
	if (!globs_match(rows, t, o)) {
		free(rows);
		return NULL;
	}
	return rows;
}

static void print_result(struct row *rows, const struct tally *t, const struct dopts *o)
{
	bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	char floor_s[32];
	size_t i;

	for (i = 0; i < t->nrows; i++)
		if (rows[i].v != V_SAME &&
		    (o->all || !rows[i].why || strcmp(rows[i].why, "within the noise floor")))
			break;
	if (i < t->nrows)
		print_rows(rows, t->nrows, o, color);
	else
		printf("no change beyond the floors\n");
	fmt_ns(floor_s, sizeof(floor_s), to_ns(o->min_abs));
	printf("\n%zu metrics compared, %zu gating: %zu regression%s, %zu improved, %zu on one "
	       "side only (threshold %g%%, floors %s, %g%% of the run for totals, %g for counts)\n",
	       t->nrows, t->ngated, t->nreg, t->nreg == 1 ? "" : "s", t->nimp, t->nonly,
	       o->threshold, floor_s, o->min_share, o->min_count);
}

int cmd_diff(int argc, char **argv)
{
	struct dopts o = {.threshold = DEFAULT_THRESHOLD,
			  .min_abs = DEFAULT_MIN_ABS_NS,
			  .min_count = DEFAULT_MIN_COUNT,
			  .min_share = DEFAULT_MIN_SHARE};
	struct jval *docs[2] = {NULL, NULL};
	struct mset sets[2] = {{0}, {0}};
	struct row *rows = NULL;
	struct tally t = {0};
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = 2;
	if (load_sides(argv + optind, docs, sets, &o))
		goto out;
	print_sides(argv + optind, docs);
	rows = compare(sets, &o, &t);
	if (!rows)
		goto out;
	print_result(rows, &t, &o);
	rc = t.nreg ? 1 : 0;
out:
	if (fflush(stdout) && rc != 2) {
		errmsg("writing: %s", strerror(errno));
		rc = 2;
	}
	free(rows);
	for (int k = 0; k < 2; k++) {
		mset_free(&sets[k]);
		json_free(docs[k]);
	}
	return rc;
}
