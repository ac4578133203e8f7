// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The report on a terminal: aligned tables fitted to the width (long names
 * are cut, numbers never), human units, bold headings only on a TTY.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture/names.h"
#include "report/report.h"
#include "lib/termesc.h"
#include "lib/util.h"

#define MAX_COLS   14
#define MIN_SHRINK 10

struct table {
	int ncols;
	const char *hdr[MAX_COLS];
	bool left[MAX_COLS];   /* left-aligned text (else numbers, right-aligned) */
	bool shrink[MAX_COLS]; /* may be cut to fit */
	char **cells;
	int ncells, cap;
};

struct tout {
	const struct report *rp;
	FILE *f;
	int width;
	bool color;
	int top;
};

/* Terminal columns a UTF-8 string takes (one per code point). */
static int dwidth(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Prints s cut to w columns (with an ellipsis) and padded to w. */
static void put_cell(FILE *f, const char *s, int w, bool left)
{
	int d = dwidth(s);

	if (d > w) {
		int cols = 0;

		for (; *s && cols < w - 1; s++) {
			fputc(*s, f);
			if (((unsigned char)s[1] & 0xc0) != 0x80)
				cols++;
		}
		fputs("…", f);
		return;
	}
	if (!left)
		fprintf(f, "%*s", w - d, "");
	fputs(s, f);
	if (left)
		fprintf(f, "%*s", w - d, "");
}

/* A line cut to w columns, without padding. */
static void put_line(FILE *f, const char *s, int w)
{
	put_cell(f, s, dwidth(s) > w ? w : dwidth(s), true);
	fputc('\n', f);
}

/* Headers: "<name" left-aligned and cut to fit, "-name" left-aligned. */
static void tbl_init(struct table *t, int ncols, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols < MAX_COLS ? ncols : MAX_COLS;
	va_start(ap, ncols);
	for (int i = 0; i < t->ncols; i++) {
		const char *h = va_arg(ap, const char *);

		if (*h == '<' || *h == '-') {
			t->left[i] = true;
			t->shrink[i] = *h == '<';
			h++;
		}
		t->hdr[i] = h;
	}
	va_end(ap);
}

/* s, or its escaped copy (s freed): names from the capture reach a terminal. */
static char *escaped(char *s)
{
	char *e;

	if (!s || term_safe(s))
		return s;
	e = term_escape(s);
	free(s);
	return e;
}

static void tbl_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tbl_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (t->ncells >= t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * sizeof(*c));

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	t->cells[t->ncells++] = escaped(s);
}

/* Three significant digits, no space: table columns stay narrow. */
void rp_short_ns(char *b, size_t len, uint64_t ns)
{
	static const struct {
		double div;
		const char *unit;
	} u[] = {{1, "ns"}, {1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}};
	int i = 0;
	double v;

	if (!ns) {
		snprintf(b, len, "0");
		return;
	}
	while (i < 3 && ns >= u[i + 1].div)
		i++;
	v = ns / u[i].div;
	if (i == 0 || v >= 100)
		snprintf(b, len, "%.0f%s", v, u[i].unit);
	else if (v >= 10)
		snprintf(b, len, "%.1f%s", v, u[i].unit);
	else
		snprintf(b, len, "%.2f%s", v, u[i].unit);
}

static void tbl_ns(struct table *t, uint64_t ns)
{
	char b[32];

	rp_short_ns(b, sizeof(b), ns);
	tbl_cell(t, "%s", b);
}

static void tbl_print(struct table *t, const struct tout *o, int indent)
{
	int w[MAX_COLS], total, nrows = t->ncells / t->ncols;

	for (int c = 0; c < t->ncols; c++)
		w[c] = dwidth(t->hdr[c]);
	for (int i = 0; i < nrows * t->ncols; i++) {
		int d = t->cells[i] ? dwidth(t->cells[i]) : 0;

		if (d > w[i % t->ncols])
			w[i % t->ncols] = d;
	}
	/* Cut the widest shrinkable column until the table fits. */
	for (;;) {
		int widest = -1;

		total = indent;
		for (int c = 0; c < t->ncols; c++)
			total += w[c] + (c ? 2 : 0);
		if (total <= o->width)
			break;
		for (int c = 0; c < t->ncols; c++)
			if (t->shrink[c] && w[c] > MIN_SHRINK && (widest < 0 || w[c] > w[widest]))
				widest = c;
		if (widest < 0)
			break;
		w[widest] -= total - o->width < w[widest] - MIN_SHRINK ? total - o->width
								       : w[widest] - MIN_SHRINK;
	}
	fprintf(o->f, "%*s", indent, "");
	if (o->color)
		fputs("\033[1m", o->f);
	for (int c = 0; c < t->ncols; c++) {
		if (c)
			fputs("  ", o->f);
		put_cell(o->f, t->hdr[c], w[c], t->left[c] && c < t->ncols - 1);
	}
	if (o->color)
		fputs("\033[0m", o->f);
	fputc('\n', o->f);
	for (int r = 0; r < nrows; r++) {
		fprintf(o->f, "%*s", indent, "");
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c)
				fputs("  ", o->f);
			/* No trailing blanks after a last text column. */
			put_cell(o->f, s ? s : "", w[c], t->left[c] && c < t->ncols - 1);
		}
		fputc('\n', o->f);
	}
	for (int i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
}

/* A line of text cut to the width, optionally in an SGR style. */
static void vline(const struct tout *o, const char *sgr, const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0 || !(s = escaped(s)))
		return;
	if (o->color && sgr)
		fprintf(o->f, "\033[%sm", sgr);
	put_cell(o->f, s, dwidth(s) > o->width ? o->width : dwidth(s), true);
	if (o->color && sgr)
		fputs("\033[0m", o->f);
	fputc('\n', o->f);
	free(s);
}

static void line(const struct tout *o, const char *sgr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(const struct tout *o, const char *sgr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(o, sgr, fmt, ap);
	va_end(ap);
}

static void heading(const struct tout *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void heading(const struct tout *o, const char *fmt, ...)
{
	va_list ap;

	fputc('\n', o->f);
	va_start(ap, fmt);
	vline(o, "1;36", fmt, ap);
	va_end(ap);
}

static void note(const struct tout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct tout *o, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!(s = escaped(s)))
		return;
	if (o->color)
		fputs("\033[2m", o->f);
	fputs("  ", o->f);
	fputs(s, o->f);
	free(s);
	if (o->color)
		fputs("\033[0m", o->f);
	fputc('\n', o->f);
}

static size_t lim(const struct tout *o, size_t n)
{
	return o->top > 0 && (size_t)o->top < n ? (size_t)o->top : n;
}

static void more(const struct tout *o, size_t shown, size_t n, const char *what)
{
	if (shown < n)
		note(o, "(%zu more %s; --top N shows more)", n - shown, what);
}

static void header(const struct tout *o)
{
	const struct report *rp = o->rp;
	const struct ctr_info *in = rp->info;
	char dur[32];

	fmt_ns(dur, sizeof(dur), rp->end - rp->start);
	line(o, "1", "ctrace-bpf report: %s", rp->path);
	line(o, NULL, "  %s, %u CPUs, %s %s %s", dur, in->ncpus, in->sysname ? in->sysname : "",
	     in->release ? in->release : "", in->machine ? in->machine : "");
	line(o, NULL, "  target: %s", in->target ? in->target : "?");
	if (rp->o.pid)
		line(o, NULL, "  restricted to pid %u", rp->o.pid);
	if (in->drops_total || in->late_events || in->truncated_blocks)
		line(o, "1;31",
		     "  warning: %llu events dropped, %llu late, %llu damaged blocks: "
		     "figures below undercount",
		     (unsigned long long)in->drops_total, (unsigned long long)in->late_events,
		     (unsigned long long)in->truncated_blocks);
	if (in->go_tails_bad)
		line(o, "1;31", "  warning: %llu records with a malformed goroutine tail (ignored)",
		     (unsigned long long)in->go_tails_bad);
}

static void threads(const struct tout *o)
{
	const struct report *rp = o->rp;
	struct table t;
	size_t np = lim(o, rp->nprocs);

	heading(o, "Threads (per target process, by on-CPU time)");
	if (!rp->nprocs) {
		note(o, "no target process ran during the capture");
		return;
	}
	tbl_init(&t, 10, "<PROCESS / THREAD", "TID", "ON-CPU", "OFF-CPU", "RUNNABLE", "SWITCH",
		 "PREEMPT", "RUNQ p50", "p99", "max");
	for (size_t i = 0; i < np; i++) {
		const struct rp_proc *p = rp->procs[i];
		size_t nt = lim(o, p->nthreads);

		tbl_cell(&t, "%s (%zu thr)", p->comm, p->nthreads);
		tbl_cell(&t, "%u", p->tgid);
		tbl_ns(&t, p->on_cpu);
		tbl_ns(&t, p->off_cpu);
		tbl_ns(&t, p->runnable);
		tbl_cell(&t, "%s", "");
		tbl_cell(&t, "%s", "");
		tbl_ns(&t, hist_pct(&p->runqlat, 50));
		tbl_ns(&t, hist_pct(&p->runqlat, 99));
		tbl_ns(&t, p->runqlat.max);
		/* A single thread is the process row again. */
		for (size_t j = 0; j < nt && p->nthreads > 1; j++) {
			const struct rp_thread *th = p->threads[j];

			tbl_cell(&t, "  %s", th->comm);
			tbl_cell(&t, "%u", th->tid);
			tbl_ns(&t, th->on_cpu);
			tbl_ns(&t, th->off_cpu);
			tbl_ns(&t, th->runnable);
			tbl_cell(&t, "%llu", (unsigned long long)th->switches);
			tbl_cell(&t, "%llu", (unsigned long long)th->preempts);
			tbl_ns(&t, hist_pct(&th->runqlat, 50));
			tbl_ns(&t, hist_pct(&th->runqlat, 99));
			tbl_ns(&t, th->runqlat.max);
		}
		if (nt < p->nthreads && p->nthreads > 1) {
			tbl_cell(&t, "  (%zu more threads)", p->nthreads - nt);
			for (int c = 1; c < 10; c++)
				tbl_cell(&t, "%s", "");
		}
	}
	tbl_print(&t, o, 2);
	more(o, np, rp->nprocs, "processes");
}

/* One runqlat-style power-of-two histogram. */
static void log2_hist(const struct tout *o, const struct hist *h)
{
	uint64_t b[64], maxc = 0;
	int top = hist_log2(h, b), lo = 0, bar = o->width - 50;

	if (bar > 40)
		bar = 40;
	if (bar < 10)
		bar = 10;
	while (lo < top && !b[lo])
		lo++;
	for (int k = lo; k < top; k++)
		if (b[k] > maxc)
			maxc = b[k];
	fprintf(o->f, "  %21s : %-8s %s\n", "range", "count", "distribution");
	for (int k = lo; k < top; k++) {
		char a[32], z[32], range[72];
		int n = maxc ? (int)((b[k] * bar + maxc - 1) / maxc) : 0;

		rp_short_ns(a, sizeof(a), k ? 1ull << k : 0);
		rp_short_ns(z, sizeof(z), 1ull << (k + 1));
		snprintf(range, sizeof(range), "%s -> %s", a, z);
		fprintf(o->f, "  %*s%s : %-8llu |", 21 - dwidth(range) > 0 ? 21 - dwidth(range) : 0,
			"", range, (unsigned long long)b[k]);
		for (int i = 0; i < bar; i++)
			fputc(i < n ? '*' : ' ', o->f);
		fputs("|\n", o->f);
	}
}

static void runqlat(const struct tout *o)
{
	const struct report *rp = o->rp;
	size_t shown = 0;

	for (size_t i = 0; i < rp->nprocs && shown < 3; i++) {
		const struct rp_proc *p = rp->procs[i];
		char a[32], b[32], c[32];

		if (!p->runqlat.count)
			continue;
		fmt_ns(a, sizeof(a), hist_pct(&p->runqlat, 50));
		fmt_ns(b, sizeof(b), hist_pct(&p->runqlat, 99));
		fmt_ns(c, sizeof(c), p->runqlat.max);
		heading(o, "Run-queue latency: %s (pid %u), %llu wake-ups: p50 %s, p99 %s, max %s",
			p->comm, p->tgid, (unsigned long long)p->runqlat.count, a, b, c);
		log2_hist(o, &p->runqlat);
		shown++;
	}
}

static void syscalls(const struct tout *o, bool runtime)
{
	const struct report *rp = o->rp;
	size_t first = runtime ? rp->nsys_program : 0;
	size_t all = runtime ? rp->nsys - rp->nsys_program : rp->nsys_program;
	size_t n = lim(o, all);
	struct table t;

	if (runtime) {
		if (!all)
			return;
		heading(
		    o, "Go runtime syscalls (threads with no goroutine: parking, polling, sysmon)");
	} else {
		heading(o, "Syscalls (target processes, by total time)");
		if (!all) {
			note(o, "no completed syscall recorded");
			return;
		}
	}
	tbl_init(&t, 8, "<SYSCALL", "COUNT", "ERRORS", "TOTAL", "MEAN", "p50", "p99", "max");
	for (size_t i = 0; i < n; i++) {
		const struct rp_syscall *s = rp->sys[first + i];

		tbl_cell(&t, "%s", s->name);
		tbl_cell(&t, "%llu", (unsigned long long)s->lat.count);
		tbl_cell(&t, "%llu", (unsigned long long)s->errors);
		tbl_ns(&t, s->lat.sum);
		tbl_ns(&t, hist_mean(&s->lat));
		tbl_ns(&t, hist_pct(&s->lat, 50));
		tbl_ns(&t, hist_pct(&s->lat, 99));
		tbl_ns(&t, s->lat.max);
	}
	tbl_print(&t, o, 2);
	more(o, n, all, "syscalls");
}

static void wakers_text(const struct rp_ggroup *g, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < g->nwakers && i < 3 && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s ×%llu", i ? ", " : "",
				g->wakers[i].name, (unsigned long long)g->wakers[i].count);
}

/* Auto mode: which part of the goroutine sections is exact, which sampled. */
static void switched_note(const struct tout *o)
{
	const struct report *rp = o->rp;

	if (!rp->go_switch)
		return;
	note(o,
	     "  auto mode: every transition for %.2f s (full mode), then sampled (seen "
	     "at kernel events only; waits not known); scheduler waits and sync blocks come "
	     "from the full-mode part",
	     rp_go_full_ns(rp) / 1e9);
}

static void goroutines(const struct tout *o)
{
	const struct report *rp = o->rp;
	size_t n = lim(o, rp->ngg);
	struct table t;

	if (!rp->ngg)
		return;
	heading(o, "Goroutines by start function: execution (on-CPU) and wall time by state%s",
		rp->go_sampled	? " [sampled]"
		: rp->go_switch ? " [full, then sampled]"
				: "");
	if (rp->go_sampled)
		note(o,
		     "  sampled: goroutines seen at their threads' kernel events only (switches, "
		     "syscalls); times are bounded by those events, waits are not known");
	switched_note(o);
	tbl_init(&t, 11, "<START FUNCTION", "COUNT", "EXEC", "MEAN EXEC", "RUNNING", "RUNNABLE",
		 "SYNC", "NET", "SLEEP", "SYSCALL", "OTHER");
	for (size_t i = 0; i < n; i++) {
		const struct rp_ggroup *g = rp->gg[i];

		tbl_cell(&t, "%s", g->func);
		tbl_cell(&t, "%llu", (unsigned long long)g->count);
		tbl_ns(&t, g->exec);
		tbl_ns(&t, g->count ? g->exec / g->count : 0);
		tbl_ns(&t, g->t[RG_RUNNING]);
		tbl_ns(&t, g->t[RG_RUNNABLE]);
		tbl_ns(&t, g->t[RG_SYNC]);
		tbl_ns(&t, g->t[RG_NET]);
		tbl_ns(&t, g->t[RG_SLEEP]);
		tbl_ns(&t, g->t[RG_SYSCALL]);
		tbl_ns(&t, g->t[RG_OTHER]);
	}
	tbl_print(&t, o, 2);
	more(o, n, rp->ngg, "start functions");
	if (rp->go_sampled)
		return;

	heading(o, "Goroutines: scheduler wait (runnable -> running), sync blocks, unblocked by");
	tbl_init(&t, 9, "<START FUNCTION", "WAITS", "p50", "p99", "max", "SYNC BLOCKS", "p50",
		 "p99", "<UNBLOCKED BY");
	for (size_t i = 0; i < n; i++) {
		const struct rp_ggroup *g = rp->gg[i];
		char w[256];

		wakers_text(g, w, sizeof(w));
		tbl_cell(&t, "%s", g->func);
		tbl_cell(&t, "%llu", (unsigned long long)g->sched_wait.count);
		tbl_ns(&t, hist_pct(&g->sched_wait, 50));
		tbl_ns(&t, hist_pct(&g->sched_wait, 99));
		tbl_ns(&t, g->sched_wait.max);
		tbl_cell(&t, "%llu", (unsigned long long)g->sync_block.count);
		tbl_ns(&t, hist_pct(&g->sync_block, 50));
		tbl_ns(&t, hist_pct(&g->sync_block, 99));
		tbl_cell(&t, "%s", w[0] ? w : "-");
	}
	tbl_print(&t, o, 2);
}

static void blocking(const struct tout *o)
{
	const struct report *rp = o->rp;
	bool any = false;

	for (int r = 0; r < RB__COUNT; r++)
		any |= rp->reasons[r].nstacks > 0;
	if (!any)
		return;
	heading(o, "Blocking: top goroutine stacks by blocked time, per reason%s",
		rp->go_sampled	? " [sampled: syscalls only]"
		: rp->go_switch ? " [full, then sampled: syscalls only]"
				: "");
	for (int r = 0; r < RB__COUNT; r++) {
		const struct rp_reason_sum *s = &rp->reasons[r];
		size_t n = lim(o, s->nstacks);
		char tot[32];

		if (!s->nstacks || r == RB_OTHER)
			continue;
		fmt_ns(tot, sizeof(tot), s->total);
		if (o->color)
			fputs("\033[1m", o->f);
		fprintf(o->f, "  %s: %s in %llu block%s\n", rp_reason_name(r), tot,
			(unsigned long long)s->count, s->count == 1 ? "" : "s");
		if (o->color)
			fputs("\033[0m", o->f);
		for (size_t i = 0; i < n && i < 5; i++) {
			const struct rp_stack *st = s->stacks[i];
			char a[32], m[32];
			const char *txt = rp_stack_text(rp, st);

			fmt_ns(a, sizeof(a), st->total);
			fmt_ns(m, sizeof(m), st->max);
			fprintf(o->f, "    #%zu  %s in %llu, max %s\n", i + 1, a,
				(unsigned long long)st->count, m);
			/* Frames, indented, each cut to the width. */
			for (const char *l = txt; *l;) {
				const char *e = strchr(l, '\n');
				size_t len = e ? (size_t)(e - l) : strlen(l);
				char line[512], eline[4 * sizeof(line)];

				snprintf(line, sizeof(line), "%.*s", (int)len, l);
				term_escape_buf(line, eline, sizeof(eline));
				fputs("         ", o->f);
				put_line(o->f, eline, o->width - 9 > 20 ? o->width - 9 : 20);
				l += len + (e != NULL);
			}
		}
		more(o, n < 5 ? n : 5, s->nstacks, "stacks");
	}
}

static void edges(const struct tout *o, struct rp_edge *const *e, size_t ne, const char *what)
{
	size_t n = lim(o, ne);
	struct table t;

	if (!ne)
		return;
	heading(o, "Wake-ups, %s: waker -> wakee (latency: wake-up to running)", what);
	tbl_init(&t, 6, "<WAKER -> WAKEE", "COUNT", "MEASURED", "p50", "p99", "max");
	for (size_t i = 0; i < n; i++) {
		tbl_cell(&t, "%s -> %s", e[i]->waker, e[i]->wakee);
		tbl_cell(&t, "%llu", (unsigned long long)e[i]->count);
		tbl_cell(&t, "%llu", (unsigned long long)e[i]->lat.count);
		tbl_ns(&t, hist_pct(&e[i]->lat, 50));
		tbl_ns(&t, hist_pct(&e[i]->lat, 99));
		tbl_ns(&t, e[i]->lat.max);
	}
	tbl_print(&t, o, 2);
	more(o, n, ne, "edges");
}

static void cpus(const struct tout *o)
{
	const struct report *rp = o->rp;
	uint64_t span = rp->end - rp->start;
	struct table t;
	size_t n;

	heading(o, "CPUs");
	tbl_init(&t, 5, "CPU", "BUSY", "UTIL", "TARGETS", "TARGET SHARE");
	for (uint32_t c = 0; c < rp->ncpus; c++) {
		const struct rp_cpu *cpu = &rp->cpus[c];

		tbl_cell(&t, "%u", c);
		tbl_ns(&t, cpu->busy);
		tbl_cell(&t, "%.1f%%", span ? 100.0 * cpu->busy / span : 0.0);
		tbl_ns(&t, cpu->target);
		tbl_cell(&t, "%.1f%%", span ? 100.0 * cpu->target / span : 0.0);
	}
	tbl_print(&t, o, 2);
	if (rp->system && !rp->o.pid)
		return;
	heading(o, "Competing processes: on a CPU while a target thread waited for one");
	n = lim(o, rp->ncompetitors);
	if (!rp->ncompetitors) {
		note(o, "none");
		return;
	}
	tbl_init(&t, 4, "<PROCESS", "PID", "WHILE TARGET WAITED", "ON TARGETS' CPUS");
	for (size_t i = 0; i < n; i++) {
		const struct rp_proc *p = rp->competitors[i];

		tbl_cell(&t, "%s", p->comm);
		tbl_cell(&t, "%u", p->tgid);
		tbl_ns(&t, p->contended);
		tbl_ns(&t, p->on_target_cpus);
	}
	tbl_print(&t, o, 2);
	more(o, n, rp->ncompetitors, "processes");
}

/* Sampled, so counts and shares, with the CPU time they estimate. */
static void cpu_samples(const struct tout *o)
{
	const struct report *rp = o->rp;
	size_t n = lim(o, rp->ncpufns);
	char est[32];
	struct table t;

	if (!rp->cpu_samples)
		return;
	rp_short_ns(est, sizeof(est), rp->cpu_sample_ns);
	heading(o, "CPU samples (sampled: %llu samples, about %s of CPU time)",
		(unsigned long long)rp->cpu_samples, est);
	tbl_init(&t, 5, "<FUNCTION", "SELF", "SELF%", "CUM", "CUM%");
	for (size_t i = 0; i < n; i++) {
		const struct rp_cpufn *f = rp->cpufns[i];

		tbl_cell(&t, "%s", f->func);
		tbl_cell(&t, "%llu", (unsigned long long)f->self);
		tbl_cell(&t, "%.1f%%", 100.0 * f->self / rp->cpu_samples);
		tbl_cell(&t, "%llu", (unsigned long long)f->cum);
		tbl_cell(&t, "%.1f%%", 100.0 * f->cum / rp->cpu_samples);
	}
	tbl_print(&t, o, 2);
	more(o, n, rp->ncpufns, "functions");
}

/* Sampled: counts at snapshot times and waits seen across snapshots. */
static void gosnap_states(const struct tout *o)
{
	const struct rp_gosnap *g = o->rp->gosnap;
	struct table t;

	heading(o, "Goroutine snapshots (sampled): goroutines by state, mean / max / last");
	tbl_init(&t, 9, "PID", "SNAPSHOTS", "<EVERY", "TOTAL", "RUNNING", "RUNNABLE", "SYSCALL",
		 "WAITING", "APPEARED/ENDED");
	for (size_t i = 0; i < g->nprocs; i++) {
		const struct rp_gsn_proc *p = &g->procs[i];
		uint64_t n = p->snapshots ? p->snapshots : 1;
		static const enum gsm_state cols[] = {GSM_RUNNING, GSM_RUNNABLE, GSM_SYSCALL,
						      GSM_WAITING};
		char every[32];

		rp_short_ns(every, sizeof(every),
			    p->snapshots > 1 ? (p->last_ts - p->first_ts) / (p->snapshots - 1) : 0);
		tbl_cell(&t, "%u", p->tgid);
		tbl_cell(&t, "%llu", (unsigned long long)p->snapshots);
		tbl_cell(&t, "%s", every);
		tbl_cell(&t, "%.0f/%u/%u", (double)p->sum_total / n, p->max_total, p->last_total);
		for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
			tbl_cell(&t, "%.0f/%u/%u", (double)p->sum[cols[k]] / n, p->max[cols[k]],
				 p->last[cols[k]]);
		tbl_cell(&t, "%llu/%llu", (unsigned long long)p->appeared,
			 (unsigned long long)p->ended);
	}
	tbl_print(&t, o, 2);
	note(o,
	     "%llu snapshots, %llu incomplete; %llu goroutine reads dropped as implausible, "
	     "%llu unreadable; slowest read %.1f ms",
	     (unsigned long long)g->tot->snapshots, (unsigned long long)g->tot->incomplete,
	     (unsigned long long)g->tot->implausible, (unsigned long long)g->tot->unreadable,
	     g->tot->max_read_us / 1e3);
}

static void gosnap_blocked(const struct tout *o)
{
	const struct rp_gosnap *g = o->rp->gosnap;
	size_t n = lim(o, g->nlongs);
	struct table t;

	if (!g->nlongs)
		return;
	heading(o, "Long-blocked goroutines (sampled: blocked in every snapshot for at least)");
	tbl_init(&t, 6, "PID", "GOID", "BLOCKED", "<REASON", "<START FUNCTION", "<SINCE");
	for (size_t i = 0; i < n; i++) {
		const struct gsm_blocked *b = &g->longs[i];

		tbl_cell(&t, "%u", b->tgid);
		tbl_cell(&t, "%lld", (long long)b->goid);
		tbl_ns(&t, b->waited_ns);
		tbl_cell(&t, "%s", b->reason_str[0] ? b->reason_str : "?");
		tbl_cell(&t, "%s", b->start_func ? b->start_func : "(unknown)");
		tbl_cell(&t, "%s%s", b->from_waitsince ? "GC-seen waitsince" : "snapshots",
			 b->ongoing ? ", still blocked" : "");
	}
	tbl_print(&t, o, 2);
	more(o, n, g->nlongs, "goroutines");
}

static void go_mode_line(const struct tout *o)
{
	char buf[300];
	const char *m = rp_go_mode_text(o->rp, buf, sizeof(buf));

	if (m) {
		fputs("  goroutines: ", o->f);
		term_fputs(m, o->f);
		fputc('\n', o->f);
	}
	/* Only when there are some: other reports stay byte for byte the same. */
	if (o->rp->info->go_modes_bad || o->rp->go_late)
		fprintf(o->f,
			"  ignored: %llu goroutine mode records (unknown mode or too many), %llu "
			"full-mode records after the switch to sampled\n",
			(unsigned long long)o->rp->info->go_modes_bad,
			(unsigned long long)o->rp->go_late);
}

static void health(const struct tout *o)
{
	const struct report *rp = o->rp;
	const struct ctr_info *in = rp->info;
	char buf[200];
	const char *stop = capture_stop_text(in, buf, sizeof(buf));

	heading(o, "Health");
	fprintf(o->f,
		"  events %llu, dropped %llu, late %llu, damaged blocks %llu, goroutine repairs "
		"%llu, %s\n",
		(unsigned long long)in->events, (unsigned long long)in->drops_total,
		(unsigned long long)in->late_events, (unsigned long long)in->truncated_blocks,
		(unsigned long long)rp->repairs,
		in->clean_end ? "complete capture" : "capture cut short (no end record)");
	if (stop)
		fprintf(o->f, "  %s\n", stop);
	go_mode_line(o);
}

void report_text(const struct report *rp, FILE *f, int width, bool color)
{
	struct tout o = {.rp = rp, .f = f, .width = width, .color = color, .top = rp->o.top};

	header(&o);
	threads(&o);
	runqlat(&o);
	syscalls(&o, false);
	syscalls(&o, true);
	goroutines(&o);
	blocking(&o);
	edges(&o, rp->gedges, rp->ngedges, "goroutines by start function");
	edges(&o, rp->tedges, rp->ntedges, "threads by name");
	cpus(&o);
	cpu_samples(&o);
	if (rp->gosnap) {
		gosnap_states(&o);
		gosnap_blocked(&o);
	}
	health(&o);
}
