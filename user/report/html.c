// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --html FILE`: one self-contained page. Inline CSS, charts as
 * inline SVG drawn here, and a few lines of inline script that only sort
 * tables; nothing is fetched, so the page opens offline and from CI
 * artifacts. Chart elements carry stable ids (chart-*) that tests look for.
 */
#include <stdio.h>
#include <string.h>
#include "lib/output.h"
#include "capture/names.h"
#include "report/report.h"
#include "lib/util.h"

#define GRAPH_EDGES 12

static const char *const state_color[RG__COUNT] = {
    "#2e7d32", "#f9a825", "#c62828", "#1565c0", "#7e57c2", "#ef6c00", "#9e9e9e",
};

static void esc(struct out *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			out_puts(o, "&lt;");
			break;
		case '>':
			out_puts(o, "&gt;");
			break;
		case '&':
			out_puts(o, "&amp;");
			break;
		case '"':
			out_puts(o, "&quot;");
			break;
		case '\'':
			out_puts(o, "&#39;");
			break;
		default:
			out_putc(o, *s);
		}
	}
}

/* Escaped, cut to n code points with an ellipsis. */
static void esc_cut(struct out *o, const char *s, int n)
{
	char buf[256];
	int cols = 0;
	size_t i = 0;

	for (; s[i] && i < sizeof(buf) - 4; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && cols++ == n)
			break;
		buf[i] = s[i];
	}
	buf[i] = 0;
	esc(o, buf);
	if (s[i])
		out_puts(o, "…");
}

static void td_ns(struct out *o, uint64_t ns)
{
	char b[32];

	rp_short_ns(b, sizeof(b), ns);
	out_printf(o, "<td data-v=\"%llu\">%s</td>", (unsigned long long)ns, b);
}

static void td_u(struct out *o, uint64_t v)
{
	out_printf(o, "<td data-v=\"%llu\">%llu</td>", (unsigned long long)v,
		   (unsigned long long)v);
}

static size_t lim(const struct report *rp, size_t n)
{
	return rp->o.top > 0 && (size_t)rp->o.top < n ? (size_t)rp->o.top : n;
}

static void head(struct out *o, const struct report *rp)
{
	out_puts(
	    o,
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>ctrace-bpf "
	    "report: ");
	esc(o, rp->path);
	out_puts(
	    o, "</title>\n<style>\n"
	       "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}\n"
	       "h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\n"
	       "table{border-collapse:collapse;margin:8px 0}\n"
	       "th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;"
	       "white-space:nowrap}\n"
	       "th{background:#f4f4f4;cursor:pointer;user-select:none}\n"
	       "td.l,th.l{text-align:left}td.l{max-width:420px;overflow:hidden;"
	       "text-overflow:ellipsis}\n"
	       "tr.sub td.l{padding-left:24px;color:#555}\n"
	       ".warn{color:#b71c1c;font-weight:bold}.note{color:#666}\n"
	       "pre{background:#f8f8f8;padding:6px;margin:4px 0 10px;overflow-x:auto}\n"
	       "svg text{font:11px system-ui,sans-serif;fill:#333}\n"
	       ".legend span{display:inline-block;margin-right:12px}\n"
	       "figure{display:inline-block;margin:6px 16px 6px 0;vertical-align:top}\n"
	       "figcaption{font-size:12px;color:#444;max-width:480px}\n"
	       ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\n"
	       "</style>\n</head><body>\n");
}

static void summary(struct out *o, const struct report *rp)
{
	const struct ctr_info *in = rp->info;
	char dur[32];

	fmt_ns(dur, sizeof(dur), rp->end - rp->start);
	out_puts(o, "<h1>ctrace-bpf report: ");
	esc(o, rp->path);
	out_puts(o, "</h1>\n<p id=\"summary\">target <b>");
	esc(o, in->target ? in->target : "?");
	out_printf(o, "</b>, %u CPUs, ", in->ncpus);
	esc(o, in->sysname ? in->sysname : "");
	out_putc(o, ' ');
	esc(o, in->release ? in->release : "");
	out_putc(o, ' ');
	esc(o, in->machine ? in->machine : "");
	out_printf(o, ", %s", dur);
	if (rp->o.pid)
		out_printf(o, ", restricted to pid %u", rp->o.pid);
	out_puts(o, "</p>\n");
	if (in->drops_total || in->late_events || in->truncated_blocks)
		out_printf(
		    o,
		    "<p class=\"warn\">%llu events dropped, %llu late, %llu damaged blocks: the "
		    "figures undercount.</p>\n",
		    (unsigned long long)in->drops_total, (unsigned long long)in->late_events,
		    (unsigned long long)in->truncated_blocks);
}

/* A power-of-two latency histogram as SVG bars. */
static void svg_hist(struct out *o, const char *id, const char *title, const struct hist *h)
{
	uint64_t b[64], maxc = 0;
	int top = hist_log2(h, b), lo = 0, n, W = 480, H = 190, x0 = 50, y0 = 20, ph = 130;
	double bw;
	char p50[32], p99[32], mx[32];

	while (lo < top && !b[lo])
		lo++;
	n = top - lo;
	if (n <= 0)
		return;
	for (int k = lo; k < top; k++)
		if (b[k] > maxc)
			maxc = b[k];
	bw = (double)(W - x0 - 10) / n;
	if (bw > 40)
		bw = 40;
	rp_short_ns(p50, sizeof(p50), hist_pct(h, 50));
	rp_short_ns(p99, sizeof(p99), hist_pct(h, 99));
	rp_short_ns(mx, sizeof(mx), h->max);
	out_printf(o,
		   "<figure><svg id=\"%s\" class=\"chart hist\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" role=\"img\">\n<title>",
		   id, W, H, W, H);
	esc(o, title);
	out_puts(o, "</title>\n");
	out_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", x0,
		   y0 + ph, W - 10, y0 + ph);
	out_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>\n", x0 - 4, y0 + 8,
		   (unsigned long long)maxc);
	out_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", x0 - 4, y0 + ph);
	for (int k = lo; k < top; k++) {
		double bh = maxc ? (double)b[k] * ph / maxc : 0, x = x0 + (k - lo) * bw;
		char a[32];

		rp_short_ns(a, sizeof(a), k ? 1ull << k : 0);
		out_printf(
		    o,
		    "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"#1976d2\"><title>%s and up: %llu</title></rect>\n",
		    x + 1, y0 + ph - bh, bw - 2 > 1 ? bw - 2 : 1, bh, a, (unsigned long long)b[k]);
		/* Every label when they fit, else every other one. */
		if (bw >= 38 || (k - lo) % 2 == 0)
			out_printf(
			    o,
			    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"start\" transform=\"rotate(30 "
			    "%.1f %d)\">%s</text>\n",
			    x + 2, y0 + ph + 12, x + 2, y0 + ph + 12, a);
	}
	out_puts(o, "</svg><figcaption>");
	esc(o, title);
	out_printf(o, ": %llu samples, p50 %s, p99 %s, max %s</figcaption></figure>\n",
		   (unsigned long long)h->count, p50, p99, mx);
}

static void threads(struct out *o, const struct report *rp)
{
	size_t np = lim(rp, rp->nprocs), shown = 0;

	out_puts(o, "<h2 id=\"threads\">Threads</h2>\n");
	if (!rp->nprocs) {
		out_puts(o, "<p class=\"note\">No target process ran during the capture.</p>\n");
		return;
	}
	out_puts(
	    o,
	    "<table class=\"sortable\" id=\"table-threads\"><thead><tr><th class=\"l\">process / "
	    "thread</th><th>tid</th><th>on-CPU</th><th>off-CPU</th><th>runnable</th>"
	    "<th>switches</th><th>preempted</th><th>runqlat p50</th><th>p99</th><th>max</th>"
	    "</tr></thead><tbody>\n");
	for (size_t i = 0; i < np; i++) {
		const struct rp_proc *p = rp->procs[i];

		out_puts(o, "<tr><td class=\"l\"><b>");
		esc(o, p->comm);
		out_printf(o, "</b> (%zu threads)</td>", p->nthreads);
		td_u(o, p->tgid);
		td_ns(o, p->on_cpu);
		td_ns(o, p->off_cpu);
		td_ns(o, p->runnable);
		out_puts(o, "<td></td><td></td>");
		td_ns(o, hist_pct(&p->runqlat, 50));
		td_ns(o, hist_pct(&p->runqlat, 99));
		td_ns(o, p->runqlat.max);
		out_puts(o, "</tr>\n");
		for (size_t j = 0; j < lim(rp, p->nthreads) && p->nthreads > 1; j++) {
			const struct rp_thread *t = p->threads[j];

			out_puts(o, "<tr class=\"sub\"><td class=\"l\">");
			esc(o, t->comm);
			out_puts(o, "</td>");
			td_u(o, t->tid);
			td_ns(o, t->on_cpu);
			td_ns(o, t->off_cpu);
			td_ns(o, t->runnable);
			td_u(o, t->switches);
			td_u(o, t->preempts);
			td_ns(o, hist_pct(&t->runqlat, 50));
			td_ns(o, hist_pct(&t->runqlat, 99));
			td_ns(o, t->runqlat.max);
			out_puts(o, "</tr>\n");
		}
	}
	out_puts(o, "</tbody></table>\n<h3>Run-queue latency (wake-up to running)</h3>\n");
	for (size_t i = 0; i < rp->nprocs && shown < 4; i++) {
		const struct rp_proc *p = rp->procs[i];
		char id[48], title[96];

		if (!p->runqlat.count)
			continue;
		snprintf(id, sizeof(id), "chart-runqlat-%zu", shown);
		snprintf(title, sizeof(title), "run-queue latency of %s (pid %u)", p->comm,
			 p->tgid);
		svg_hist(o, id, title, &p->runqlat);
		shown++;
	}
}

static void syscalls(struct out *o, const struct report *rp)
{
	size_t shown = 0;

	out_puts(o, "<h2 id=\"syscalls\">Syscalls</h2>\n");
	if (!rp->nsys) {
		out_puts(o, "<p class=\"note\">No completed syscall recorded.</p>\n");
		return;
	}
	out_puts(
	    o, "<table class=\"sortable\" id=\"table-syscalls\"><thead><tr><th class=\"l\">syscall"
	       "</th><th class=\"l\">made by</th><th>count</th><th>errors</th><th>total</th>"
	       "<th>mean</th><th>p50</th><th>p99</th><th>max</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < rp->nsys; i++) {
		const struct rp_syscall *s = rp->sys[i];

		out_puts(o, "<tr><td class=\"l\">");
		esc(o, s->name);
		out_printf(o, "</td><td class=\"l\">%s</td>",
			   s->runtime ? "Go runtime" : "program");
		td_u(o, s->lat.count);
		td_u(o, s->errors);
		td_ns(o, s->lat.sum);
		td_ns(o, hist_mean(&s->lat));
		td_ns(o, hist_pct(&s->lat, 50));
		td_ns(o, hist_pct(&s->lat, 99));
		td_ns(o, s->lat.max);
		out_puts(o, "</tr>\n");
	}
	out_puts(o, "</tbody></table>\n");
	for (size_t i = 0; i < rp->nsys_program && shown < 4; i++) {
		const struct rp_syscall *s = rp->sys[i];
		char id[64], title[96];

		/* A distribution needs a few samples to be worth a picture. */
		if (s->lat.count < 10)
			continue;
		snprintf(id, sizeof(id), "chart-syscall-%s", s->name);
		snprintf(title, sizeof(title), "%s latency", s->name);
		svg_hist(o, id, title, &s->lat);
		shown++;
	}
}

/* One horizontal bar per start function, split by state (wall time). */
static void svg_states(struct out *o, const struct report *rp)
{
	size_t n = lim(rp, rp->ngg);
	int W = 760, lw = 230, rowh = 22, H = 40 + (int)n * rowh;
	uint64_t maxt = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t t = 0;

		for (int s = 0; s < RG__COUNT; s++)
			t += rp->gg[i]->t[s];
		if (t > maxt)
			maxt = t;
	}
	out_puts(o, "<div class=\"legend\">");
	for (int s = 0; s < RG__COUNT; s++)
		out_printf(o, "<span><i style=\"background:%s\"></i>%s</span>", state_color[s],
			   rp_gstate_name(s));
	out_puts(o, "</div>\n");
	out_printf(o,
		   "<svg id=\"chart-goroutine-states\" class=\"chart\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" role=\"img\"><title>goroutine time by state, per start "
		   "function</title>\n",
		   W, H, W, H);
	for (size_t i = 0; i < n; i++) {
		const struct rp_ggroup *g = rp->gg[i];
		double x = lw, y = 10 + i * rowh;

		out_printf(o, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">", lw - 6, y + 14);
		esc_cut(o, g->func, 34);
		out_puts(o, "<title>");
		esc(o, g->func);
		out_puts(o, "</title></text>\n");
		for (int s = 0; s < RG__COUNT; s++) {
			double w = maxt ? (double)g->t[s] * (W - lw - 10) / maxt : 0;
			char v[32];

			if (w <= 0)
				continue;
			rp_short_ns(v, sizeof(v), g->t[s]);
			out_printf(
			    o,
			    "<rect class=\"seg state-%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
			    "height=\"%d\" fill=\"%s\"><title>",
			    rp_gstate_name(s), x, y, w, rowh - 6, state_color[s]);
			esc(o, g->func);
			out_printf(o, ": %s %s</title></rect>\n", rp_gstate_name(s), v);
			x += w;
		}
	}
	out_puts(o, "</svg>\n");
}

static void goroutines(struct out *o, const struct report *rp)
{
	size_t n = lim(rp, rp->ngg);

	if (!rp->ngg)
		return;
	out_puts(o, "<h2 id=\"goroutines\">Goroutines by start function</h2>\n");
	if (rp->go_sampled)
		out_puts(o, "<p class=\"note\">Sampled: goroutines seen at their threads' kernel "
			    "events only (switches, syscalls); times are bounded by those events, "
			    "waits are not known.</p>\n");
	if (rp->go_switch)
		out_printf(o,
			   "<p class=\"note\">Auto mode: every transition for %.2f s (full "
			   "mode), then sampled (seen at kernel events only; waits not known). "
			   "Scheduler waits and sync blocks come from the full-mode part.</p>\n",
			   rp_go_full_ns(rp) / 1e9);
	out_puts(o, "<p class=\"note\">Execution is on-CPU time while running; the states are wall "
		    "time. Scheduler wait: runnable to running.</p>\n");
	svg_states(o, rp);
	out_puts(
	    o, "<table class=\"sortable\" id=\"table-goroutines\"><thead><tr><th class=\"l\">start "
	       "function</th><th>count</th><th>execution</th><th>mean exec</th>");
	for (int s = 0; s < RG__COUNT; s++)
		out_printf(o, "<th>%s</th>", rp_gstate_name(s));
	out_puts(
	    o, "<th>sched wait p50</th><th>p99</th><th>max</th><th>sync block p50</th><th>p99</th>"
	       "<th class=\"l\">unblocked by</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct rp_ggroup *g = rp->gg[i];

		out_puts(o, "<tr><td class=\"l\">");
		esc(o, g->func);
		out_puts(o, "</td>");
		td_u(o, g->count);
		td_ns(o, g->exec);
		td_ns(o, g->count ? g->exec / g->count : 0);
		for (int s = 0; s < RG__COUNT; s++)
			td_ns(o, g->t[s]);
		td_ns(o, hist_pct(&g->sched_wait, 50));
		td_ns(o, hist_pct(&g->sched_wait, 99));
		td_ns(o, g->sched_wait.max);
		td_ns(o, hist_pct(&g->sync_block, 50));
		td_ns(o, hist_pct(&g->sync_block, 99));
		out_puts(o, "<td class=\"l\">");
		for (size_t j = 0; j < g->nwakers && j < 3; j++) {
			out_puts(o, j ? ", " : "");
			esc(o, g->wakers[j].name);
			out_printf(o, " ×%llu", (unsigned long long)g->wakers[j].count);
		}
		out_puts(o, "</td></tr>\n");
	}
	out_puts(o, "</tbody></table>\n");
	if (n && rp->gg[0]->sched_wait.count) {
		char title[160];

		snprintf(title, sizeof(title), "scheduler wait of %s", rp->gg[0]->func);
		svg_hist(o, "chart-schedwait-0", title, &rp->gg[0]->sched_wait);
	}
}

static void blocking(struct out *o, const struct report *rp)
{
	bool any = false;

	for (int r = 0; r < RB__COUNT; r++)
		any |= rp->reasons[r].nstacks > 0;
	if (!any)
		return;
	out_puts(o, "<h2 id=\"blocking\">Blocking: top stacks by blocked time</h2>\n");
	for (int r = 0; r < RB__COUNT; r++) {
		const struct rp_reason_sum *s = &rp->reasons[r];
		char tot[32];

		if (!s->nstacks)
			continue;
		fmt_ns(tot, sizeof(tot), s->total);
		out_printf(o, "<details%s><summary><b>%s</b>: %s in %llu blocks</summary>\n",
			   r == RB_OTHER ? "" : " open", rp_reason_name(r), tot,
			   (unsigned long long)s->count);
		for (size_t i = 0; i < lim(rp, s->nstacks) && i < 10; i++) {
			const struct rp_stack *st = s->stacks[i];
			char a[32], m[32];

			fmt_ns(a, sizeof(a), st->total);
			fmt_ns(m, sizeof(m), st->max);
			out_printf(o, "<div>#%zu: %s in %llu, max %s</div><pre>", i + 1, a,
				   (unsigned long long)st->count, m);
			esc(o, rp_stack_text(rp, st));
			out_puts(o, "</pre>\n");
		}
		out_puts(o, "</details>\n");
	}
}

struct node {
	const char *name;
	double y;
};

static int node_find(struct node *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return i;
	return -1;
}

/* Wakers on the left, wakees on the right, an arrow per edge, width by count. */
static void svg_graph(struct out *o, const char *id, const char *title, struct rp_edge *const *e,
		      size_t ne)
{
	struct node l[GRAPH_EDGES], r[GRAPH_EDGES];
	int nl = 0, nr = 0, W = 760, bw = 240, rowh = 30, H;
	uint64_t maxc = 1;

	if (ne > GRAPH_EDGES)
		ne = GRAPH_EDGES;
	for (size_t i = 0; i < ne; i++) {
		if (node_find(l, nl, e[i]->waker) < 0)
			l[nl++].name = e[i]->waker;
		if (node_find(r, nr, e[i]->wakee) < 0)
			r[nr++].name = e[i]->wakee;
		if (e[i]->count > maxc)
			maxc = e[i]->count;
	}
	H = 30 + (nl > nr ? nl : nr) * rowh;
	for (int i = 0; i < nl; i++)
		l[i].y = 20 + i * rowh + (H - 20 - nl * rowh) / 2.0;
	for (int i = 0; i < nr; i++)
		r[i].y = 20 + i * rowh + (H - 20 - nr * rowh) / 2.0;
	out_printf(o,
		   "<svg id=\"%s\" class=\"chart graph\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
		   "%d %d\" role=\"img\"><title>",
		   id, W, H, W, H);
	esc(o, title);
	out_printf(
	    o,
	    "</title>\n<defs><marker id=\"%s-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
	    "refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L10 "
	    "5L0 10z\" fill=\"#555\"/></marker></defs>\n",
	    id);
	for (size_t i = 0; i < ne; i++) {
		const struct node *a = &l[node_find(l, nl, e[i]->waker)];
		const struct node *b = &r[node_find(r, nr, e[i]->wakee)];
		/* Width by the count's magnitude: 1 for a single wake-up, 7 for the most. */
		double sw =
		    1 + 6.0 * (64 - __builtin_clzll(e[i]->count)) / (64 - __builtin_clzll(maxc));
		double x1 = bw + 10, x2 = W - bw - 10, y1 = a->y + 10, y2 = b->y + 10;
		char p50[32];

		rp_short_ns(p50, sizeof(p50), hist_pct(&e[i]->lat, 50));
		out_printf(
		    o,
		    "<path class=\"edge\" d=\"M%.0f %.1fC%.0f %.1f %.0f %.1f %.0f %.1f\" "
		    "fill=\"none\" stroke=\"#607d8b\" stroke-opacity=\"0.7\" stroke-width=\"%.1f\" "
		    "marker-end=\"url(#%s-arrow)\"><title>",
		    x1, y1, (x1 + x2) / 2, y1, (x1 + x2) / 2, y2, x2, y2, sw, id);
		esc(o, e[i]->waker);
		out_puts(o, " → ");
		esc(o, e[i]->wakee);
		out_printf(o, ": %llu wake-ups, p50 wake-to-run %s</title></path>\n",
			   (unsigned long long)e[i]->count, p50);
		out_printf(o, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"middle\">%llu</text>\n",
			   (x1 + x2) / 2, (y1 + y2) / 2 - 3, (unsigned long long)e[i]->count);
	}
	for (int side = 0; side < 2; side++) {
		struct node *v = side ? r : l;
		int n = side ? nr : nl, x = side ? W - bw - 10 : 10;

		for (int i = 0; i < n; i++) {
			out_printf(
			    o,
			    "<g class=\"node\"><rect x=\"%d\" y=\"%.1f\" width=\"%d\" "
			    "height=\"20\" "
			    "rx=\"4\" fill=\"%s\" stroke=\"#90a4ae\"/><text x=\"%d\" y=\"%.1f\">",
			    x, v[i].y, bw, side ? "#e3f2fd" : "#fff3e0", x + 6, v[i].y + 14);
			esc_cut(o, v[i].name, 36);
			out_puts(o, "</text><title>");
			esc(o, v[i].name);
			out_puts(o, "</title></g>\n");
		}
	}
	out_puts(o, "</svg>\n");
}

static void edge_table(struct out *o, const char *id, struct rp_edge *const *e, size_t n)
{
	out_printf(o,
		   "<table class=\"sortable\" id=\"%s\"><thead><tr><th class=\"l\">waker</th>"
		   "<th class=\"l\">wakee</th><th>count</th><th>wake to run p50</th><th>p99</th>"
		   "<th>max</th></tr></thead><tbody>\n",
		   id);
	for (size_t i = 0; i < n; i++) {
		out_puts(o, "<tr><td class=\"l\">");
		esc(o, e[i]->waker);
		out_puts(o, "</td><td class=\"l\">");
		esc(o, e[i]->wakee);
		out_puts(o, "</td>");
		td_u(o, e[i]->count);
		td_ns(o, hist_pct(&e[i]->lat, 50));
		td_ns(o, hist_pct(&e[i]->lat, 99));
		td_ns(o, e[i]->lat.max);
		out_puts(o, "</tr>\n");
	}
	out_puts(o, "</tbody></table>\n");
}

static void causality(struct out *o, const struct report *rp)
{
	if (!rp->ngedges && !rp->ntedges)
		return;
	out_puts(o, "<h2 id=\"wakeups\">Wake-ups: who woke whom</h2>\n");
	if (rp->ngedges) {
		out_puts(o, "<h3>Goroutines, by start function</h3>\n");
		svg_graph(o, "chart-wake-graph-go", "goroutine wake-ups", rp->gedges, rp->ngedges);
		edge_table(o, "table-wake-go", rp->gedges, lim(rp, rp->ngedges));
	}
	if (rp->ntedges) {
		out_puts(o, "<h3>Threads, by name</h3>\n");
		svg_graph(o, "chart-wake-graph-threads", "thread wake-ups", rp->tedges,
			  rp->ntedges);
		edge_table(o, "table-wake-threads", rp->tedges, lim(rp, rp->ntedges));
	}
}

static void cpus(struct out *o, const struct report *rp)
{
	uint64_t span = rp->end - rp->start;
	int W = 640, rowh = 20, H = 10 + rp->ncpus * rowh, lw = 60;

	out_puts(o, "<h2 id=\"cpus\">CPUs</h2>\n");
	out_printf(o,
		   "<svg id=\"chart-cpu\" class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
		   "%d %d\" role=\"img\"><title>CPU utilization</title>\n",
		   W, H, W, H);
	for (uint32_t c = 0; c < rp->ncpus; c++) {
		double busy = span ? (double)rp->cpus[c].busy / span : 0;
		double tgt = span ? (double)rp->cpus[c].target / span : 0;
		int y = 5 + c * rowh, pw = W - lw - 60;

		out_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">CPU %u</text>", lw - 6,
			   y + 13, c);
		out_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"14\" fill=\"#eee\"/>",
			   lw, y, pw);
		out_printf(o,
			   "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"#90caf9\">"
			   "<title>busy %.1f%%</title></rect>",
			   lw, y, busy * pw, busy * 100);
		out_printf(o,
			   "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"#1565c0\">"
			   "<title>targets %.1f%%</title></rect>",
			   lw, y, tgt * pw, tgt * 100);
		out_printf(o, "<text x=\"%d\" y=\"%d\">%.0f%%</text>\n", lw + pw + 6, y + 13,
			   busy * 100);
	}
	out_puts(o, "</svg>\n<p class=\"note\">Dark: the targets; light: everything else.</p>\n");
	if (rp->system && !rp->o.pid)
		return;
	out_puts(o,
		 "<h3>Competing processes (on a CPU while a target thread waited for one)</h3>\n");
	out_puts(o, "<table class=\"sortable\" id=\"table-competitors\"><thead><tr><th class=\"l\">"
		    "process</th><th>pid</th><th>while target waited</th><th>on targets' CPUs</th>"
		    "</tr></thead><tbody>\n");
	for (size_t i = 0; i < lim(rp, rp->ncompetitors); i++) {
		const struct rp_proc *p = rp->competitors[i];

		out_puts(o, "<tr><td class=\"l\">");
		esc(o, p->comm);
		out_puts(o, "</td>");
		td_u(o, p->tgid);
		td_ns(o, p->contended);
		td_ns(o, p->on_target_cpus);
		out_puts(o, "</tr>\n");
	}
	out_puts(o, "</tbody></table>\n");
}

/* Only for captures with snapshots: sampled counts and long-blocked goroutines. */
static void gosnaps(struct out *o, const struct report *rp)
{
	const struct rp_gosnap *g = rp->gosnap;

	out_puts(o, "<h2 id=\"gosnaps\">Goroutine snapshots (sampled)</h2>\n"
		    "<table class=\"sortable\" id=\"table-gosnaps\"><thead><tr><th>pid</th>"
		    "<th>snapshots</th><th>max goroutines</th><th>max running</th>"
		    "<th>max runnable</th><th>max syscall</th><th>max waiting</th>"
		    "<th>appeared</th><th>ended</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < g->nprocs; i++) {
		const struct rp_gsn_proc *p = &g->procs[i];

		out_puts(o, "<tr>");
		td_u(o, p->tgid);
		td_u(o, p->snapshots);
		td_u(o, p->max_total);
		td_u(o, p->max[GSM_RUNNING]);
		td_u(o, p->max[GSM_RUNNABLE]);
		td_u(o, p->max[GSM_SYSCALL]);
		td_u(o, p->max[GSM_WAITING]);
		td_u(o, p->appeared);
		td_u(o, p->ended);
		out_puts(o, "</tr>\n");
	}
	out_printf(o,
		   "</tbody></table>\n<p class=\"note\">Counts at snapshot times only; %llu "
		   "goroutine reads dropped as implausible, %llu unreadable.</p>\n",
		   (unsigned long long)g->tot->implausible, (unsigned long long)g->tot->unreadable);
	out_puts(o, "<h3>Long-blocked goroutines (blocked in every snapshot for at least)</h3>\n"
		    "<table class=\"sortable\" id=\"table-longblocked\"><thead><tr><th>pid</th>"
		    "<th>goid</th><th>blocked</th><th class=\"l\">reason</th>"
		    "<th class=\"l\">start function</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < lim(rp, g->nlongs); i++) {
		const struct gsm_blocked *b = &g->longs[i];

		out_puts(o, "<tr>");
		td_u(o, b->tgid);
		td_u(o, b->goid);
		td_ns(o, b->waited_ns);
		out_puts(o, "<td class=\"l\">");
		esc(o, b->reason_str);
		out_puts(o, "</td><td class=\"l\">");
		esc(o, b->start_func ? b->start_func : "(unknown)");
		out_puts(o, "</td></tr>\n");
	}
	out_puts(o, "</tbody></table>\n");
}

static void go_mode_html(struct out *o, const struct report *rp)
{
	char buf[300];
	const char *m = rp_go_mode_text(rp, buf, sizeof(buf));

	if (!m)
		return;
	out_puts(o, "<p>goroutines: ");
	esc(o, m);
	out_puts(o, "</p>\n");
}

static void health(struct out *o, const struct report *rp)
{
	const struct ctr_info *in = rp->info;
	char buf[200];
	const char *stop = capture_stop_text(in, buf, sizeof(buf));

	out_printf(
	    o,
	    "<h2 id=\"health\">Health</h2>\n<p>events %llu, dropped %llu, late %llu, damaged "
	    "blocks %llu, goroutine repairs %llu, %s%s%s</p>\n",
	    (unsigned long long)in->events, (unsigned long long)in->drops_total,
	    (unsigned long long)in->late_events, (unsigned long long)in->truncated_blocks,
	    (unsigned long long)rp->repairs,
	    in->clean_end ? "complete capture" : "capture cut short (no end record)",
	    stop ? "; " : "", stop ? stop : "");
	go_mode_html(o, rp);
}

/* Click a header to sort by it; cells carry their raw value in data-v. */
static void script(struct out *o)
{
	out_puts(o, "<script>\n"
		    "document.querySelectorAll('table.sortable').forEach(function (t) {\n"
		    "  t.querySelectorAll('th').forEach(function (th, col) {\n"
		    "    th.addEventListener('click', function () {\n"
		    "      var body = t.tBodies[0], rows = Array.from(body.rows);\n"
		    "      var dir = th.dataset.dir === 'desc' ? 1 : -1;\n"
		    "      th.dataset.dir = dir === 1 ? 'asc' : 'desc';\n"
		    "      rows.sort(function (a, b) {\n"
		    "        var x = a.cells[col], y = b.cells[col];\n"
		    "        if (!x || !y) return 0;\n"
		    "        if (x.dataset.v !== undefined && y.dataset.v !== undefined)\n"
		    "          return dir * (Number(x.dataset.v) - Number(y.dataset.v));\n"
		    "        return dir * x.textContent.localeCompare(y.textContent);\n"
		    "      });\n"
		    "      rows.forEach(function (r) { body.appendChild(r); });\n"
		    "    });\n"
		    "  });\n"
		    "});\n"
		    "document.body.dataset.ready = '1';\n"
		    "</script>\n");
}

void report_html(const struct report *rp, struct out *o)
{
	head(o, rp);
	summary(o, rp);
	threads(o, rp);
	syscalls(o, rp);
	goroutines(o, rp);
	blocking(o, rp);
	causality(o, rp);
	cpus(o, rp);
	if (rp->gosnap)
		gosnaps(o, rp);
	health(o, rp);
	script(o);
	out_puts(o, "</body></html>\n");
}
