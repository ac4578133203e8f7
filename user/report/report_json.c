// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `report --json`: the model as the documented schema (docs/report-json.md).
 * Sections that `diff` compares (syscalls, goroutines, thread_groups,
 * blocking totals) are always complete; --top only shortens the long lists
 * (threads of a process, stacks, wake edges, competitors).
 */
#include <stdio.h>
#include <string.h>
#include "lib/json.h"
#include "capture/names.h"
#include "report/report.h"
#include "lib/util.h"

static size_t lim(const struct report *rp, size_t n)
{
	return rp->o.top > 0 && (size_t)rp->o.top < n ? (size_t)rp->o.top : n;
}

/* {"count","total_ns","mean_ns","p50_ns","p90_ns","p99_ns","max_ns","log2":[...]} */
static void dist(struct jw *w, const char *key, const struct hist *h)
{
	uint64_t b[64];
	int top = hist_log2(h, b);

	jw_key(w, key);
	jw_obj(w);
	jw_ku64(w, "count", h->count);
	jw_ku64(w, "total_ns", h->sum);
	jw_ku64(w, "mean_ns", hist_mean(h));
	jw_ku64(w, "min_ns", h->min);
	jw_ku64(w, "p50_ns", hist_pct(h, 50));
	jw_ku64(w, "p90_ns", hist_pct(h, 90));
	jw_ku64(w, "p99_ns", hist_pct(h, 99));
	jw_ku64(w, "max_ns", h->max);
	/* Power-of-two buckets [lo, 2*lo), empty ones left out. */
	jw_key(w, "log2");
	jw_arr(w);
	for (int k = 0; k < top; k++) {
		if (!b[k])
			continue;
		jw_obj(w);
		jw_ku64(w, "lo_ns", k ? 1ull << k : 0);
		jw_ku64(w, "count", b[k]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void capture(struct jw *w, const struct report *rp)
{
	const struct ctr_info *in = rp->info;

	jw_key(w, "capture");
	jw_obj(w);
	jw_kstr(w, "file", rp->path);
	jw_kstr(w, "target", in->target ? in->target : "");
	if (rp->o.pid)
		jw_ku64(w, "pid_filter", rp->o.pid);
	else {
		jw_key(w, "pid_filter");
		jw_null(w);
	}
	jw_kbool(w, "system_wide", rp->system);
	jw_kstr(w, "kernel", in->release ? in->release : "");
	jw_kstr(w, "machine", in->machine ? in->machine : "");
	jw_kstr(w, "hostname", in->hostname ? in->hostname : "");
	jw_ku64(w, "ncpus", in->ncpus);
	jw_ku64(w, "start_ns", rp->start);
	jw_ku64(w, "duration_ns", rp->end - rp->start);
	jw_obj_end(w);
}

/* health.goroutine_mode: only in captures with mode records (docs/report-json.md). */
static void go_mode(struct jw *w, const struct report *rp)
{
	const struct ctr_go_period *sw = rp->go_switch;
	char buf[300];
	const char *text = rp_go_mode_text(rp, buf, sizeof(buf));
	const struct ctr_go_period *p0 = ctr_go_period_at(rp->r, 0);

	if (!text)
		return;
	jw_key(w, "goroutine_mode");
	jw_obj(w);
	jw_kstr(w, "mode", (p0->flags & GO_MODE_F_AUTO) ? "auto" : rp_go_mode_name(p0->mode));
	jw_kstr(w, "text", text);
	jw_key(w, "sampled_from_ns");
	if (sw)
		jw_u64(w, sw->ts);
	else
		jw_null(w);
	jw_key(w, "periods");
	jw_arr(w);
	for (size_t i = 0; i < ctr_go_period_count(rp->r); i++) {
		const struct ctr_go_period *p = ctr_go_period_at(rp->r, i);

		jw_obj(w);
		jw_kstr(w, "mode", rp_go_mode_name(p->mode));
		jw_kstr(w, "reason", rp_go_reason_name(p->reason));
		jw_ku64(w, "start_ns", p->ts);
		if (p->reason == GO_MODE_BY_GOVERNOR)
			jw_ku64(w, "estimated_probe_cost_ppm", p->est_ppm);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* When and why the recording stopped: its events were cut there. */
static void stop(struct jw *w, const struct ctr_info *in)
{
	char buf[96];

	if (!in->clean_end)
		return;
	jw_key(w, "stop");
	jw_obj(w);
	jw_kstr(w, "reason", end_reason_name(in->end_reason));
	jw_kstr(w, "text",
		end_reason_text(in->end_reason, in->stop_signal, in->cmd_status, buf, sizeof(buf)));
	jw_ku64(w, "ts_ns", in->stop_ts);
	jw_obj_end(w);
}

static void health(struct jw *w, const struct report *rp)
{
	const struct ctr_info *in = rp->info;

	jw_key(w, "health");
	jw_obj(w);
	jw_ku64(w, "events", in->events);
	jw_ku64(w, "drops", in->drops_total);
	jw_ku64(w, "late_events", in->late_events);
	jw_ku64(w, "truncated_blocks", in->truncated_blocks);
	jw_ku64(w, "gostate_repairs", rp->repairs);
	/* Only when there are some: other reports stay byte for byte the same. */
	if (in->go_tails_bad)
		jw_ku64(w, "go_tails_bad", in->go_tails_bad);
	if (in->go_modes_bad)
		jw_ku64(w, "go_modes_bad", in->go_modes_bad);
	if (rp->go_late)
		jw_ku64(w, "go_records_after_switch", rp->go_late);
	jw_kbool(w, "clean_end", in->clean_end);
	stop(w, in);
	go_mode(w, rp);
	jw_obj_end(w);
}

static void processes(struct jw *w, const struct report *rp)
{
	jw_key(w, "processes");
	jw_arr(w);
	for (size_t i = 0; i < rp->nprocs; i++) {
		const struct rp_proc *p = rp->procs[i];
		size_t nt = lim(rp, p->nthreads);

		jw_obj(w);
		jw_ku64(w, "pid", p->tgid);
		jw_kstr(w, "comm", p->comm);
		jw_ku64(w, "nthreads", p->nthreads);
		jw_ku64(w, "on_cpu_ns", p->on_cpu);
		jw_ku64(w, "off_cpu_ns", p->off_cpu);
		jw_ku64(w, "runnable_ns", p->runnable);
		dist(w, "runqlat", &p->runqlat);
		jw_key(w, "threads");
		jw_arr(w);
		for (size_t j = 0; j < nt; j++) {
			const struct rp_thread *t = p->threads[j];

			jw_obj(w);
			jw_ku64(w, "tid", t->tid);
			jw_kstr(w, "comm", t->comm);
			jw_ku64(w, "on_cpu_ns", t->on_cpu);
			jw_ku64(w, "off_cpu_ns", t->off_cpu);
			jw_ku64(w, "runnable_ns", t->runnable);
			jw_ku64(w, "switches", t->switches);
			jw_ku64(w, "preemptions", t->preempts);
			jw_ku64(w, "wakeups", t->wakeups);
			dist(w, "runqlat", &t->runqlat);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);

	jw_key(w, "thread_groups");
	jw_arr(w);
	for (size_t i = 0; i < rp->ntgroups; i++) {
		const struct rp_tgroup *g = &rp->tgroups[i];

		jw_obj(w);
		jw_kstr(w, "comm", g->comm);
		jw_ku64(w, "nthreads", g->nthreads);
		jw_ku64(w, "on_cpu_ns", g->on_cpu);
		jw_ku64(w, "off_cpu_ns", g->off_cpu);
		jw_ku64(w, "runnable_ns", g->runnable);
		dist(w, "runqlat", &g->runqlat);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void syscalls(struct jw *w, const struct report *rp, bool runtime)
{
	jw_key(w, runtime ? "go_runtime_syscalls" : "syscalls");
	jw_arr(w);
	for (size_t i = 0; i < rp->nsys; i++) {
		const struct rp_syscall *s = rp->sys[i];

		if (s->runtime != runtime)
			continue;

		jw_obj(w);
		jw_kstr(w, "name", s->name);
		jw_ki64(w, "nr", s->id);
		jw_ku64(w, "count", s->lat.count);
		jw_ku64(w, "errors", s->errors);
		dist(w, "latency", &s->lat);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void goroutines(struct jw *w, const struct report *rp)
{
	/* Only in sampled captures: other reports stay byte for byte the same. */
	if (rp->go_sampled) {
		jw_key(w, "goroutines_sampled");
		jw_bool(w, true);
	}
	if (rp->go_switch)
		jw_ku64(w, "goroutines_sampled_from_ns", rp->go_switch->ts);
	jw_key(w, "goroutines");
	jw_arr(w);
	for (size_t i = 0; i < rp->ngg; i++) {
		const struct rp_ggroup *g = rp->gg[i];

		jw_obj(w);
		jw_kstr(w, "start_func", g->func);
		jw_ku64(w, "count", g->count);
		jw_key(w, "time_ns");
		jw_obj(w);
		for (int s = 0; s < RG__COUNT; s++)
			jw_ku64(w, rp_gstate_name(s), g->t[s]);
		jw_obj_end(w);
		jw_ku64(w, "execution_ns", g->exec);
		jw_ku64(w, "mean_execution_ns", g->count ? g->exec / g->count : 0);
		dist(w, "sched_wait", &g->sched_wait);
		dist(w, "sync_block", &g->sync_block);
		jw_key(w, "unblocked_by");
		jw_arr(w);
		for (size_t j = 0; j < lim(rp, g->nwakers); j++) {
			jw_obj(w);
			jw_kstr(w, "waker", g->wakers[j].name);
			jw_ku64(w, "count", g->wakers[j].count);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void blocking(struct jw *w, const struct report *rp)
{
	jw_key(w, "blocking");
	jw_arr(w);
	for (int r = 0; r < RB__COUNT; r++) {
		const struct rp_reason_sum *s = &rp->reasons[r];

		jw_obj(w);
		jw_kstr(w, "reason", rp_reason_name(r));
		jw_ku64(w, "total_ns", s->total);
		jw_ku64(w, "count", s->count);
		jw_key(w, "stacks");
		jw_arr(w);
		for (size_t i = 0; i < lim(rp, s->nstacks); i++) {
			const struct rp_stack *st = s->stacks[i];
			const char *txt = rp_stack_text(rp, st);

			jw_obj(w);
			jw_ku64(w, "total_ns", st->total);
			jw_ku64(w, "count", st->count);
			jw_ku64(w, "max_ns", st->max);
			jw_ku64(w, "pid", st->tgid);
			jw_key(w, "frames");
			jw_arr(w);
			for (const char *l = txt; *l;) {
				const char *e = strchr(l, '\n');
				size_t len = e ? (size_t)(e - l) : strlen(l);
				char line[512];

				snprintf(line, sizeof(line), "%.*s", (int)len, l);
				jw_str(w, line);
				l += len + (e != NULL);
			}
			jw_arr_end(w);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void edges(struct jw *w, const struct report *rp, const char *key, struct rp_edge *const *e,
		  size_t n)
{
	jw_key(w, key);
	jw_arr(w);
	for (size_t i = 0; i < lim(rp, n); i++) {
		jw_obj(w);
		jw_kstr(w, "waker", e[i]->waker);
		jw_kstr(w, "wakee", e[i]->wakee);
		jw_ku64(w, "count", e[i]->count);
		dist(w, "latency", &e[i]->lat);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void cpus(struct jw *w, const struct report *rp)
{
	uint64_t span = rp->end - rp->start;

	jw_key(w, "cpus");
	jw_arr(w);
	for (uint32_t c = 0; c < rp->ncpus; c++) {
		jw_obj(w);
		jw_ku64(w, "cpu", c);
		jw_ku64(w, "busy_ns", rp->cpus[c].busy);
		jw_kdbl(w, "utilization", span ? (double)rp->cpus[c].busy / span : 0);
		jw_ku64(w, "target_ns", rp->cpus[c].target);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "competitors");
	jw_arr(w);
	for (size_t i = 0; i < lim(rp, rp->ncompetitors); i++) {
		const struct rp_proc *p = rp->competitors[i];

		jw_obj(w);
		jw_ku64(w, "pid", p->tgid);
		jw_kstr(w, "comm", p->comm);
		jw_ku64(w, "while_target_waited_ns", p->contended);
		jw_ku64(w, "on_target_cpus_ns", p->on_target_cpus);
		jw_ku64(w, "on_cpu_ns", p->on_cpu);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* Only for captures with snapshots; everything in it is sampled. */
static void gosnaps(struct jw *w, const struct report *rp)
{
	const struct rp_gosnap *g = rp->gosnap;

	jw_key(w, "goroutine_snapshots");
	jw_obj(w);
	jw_kstr(w, "source", "sampled");
	jw_ku64(w, "snapshots", g->tot->snapshots);
	jw_ku64(w, "incomplete", g->tot->incomplete);
	jw_ku64(w, "implausible", g->tot->implausible);
	jw_ku64(w, "unreadable", g->tot->unreadable);
	jw_ku64(w, "max_read_us", g->tot->max_read_us);
	jw_key(w, "processes");
	jw_arr(w);
	for (size_t i = 0; i < g->nprocs; i++) {
		const struct rp_gsn_proc *p = &g->procs[i];

		jw_obj(w);
		jw_ku64(w, "pid", p->tgid);
		jw_ku64(w, "snapshots", p->snapshots);
		jw_ku64(w, "max_total", p->max_total);
		for (int k = 0; k < GSM__COUNT; k++) {
			char key[32];

			snprintf(key, sizeof(key), "max_%s", gsm_state_name(k));
			jw_ku64(w, key, p->max[k]);
		}
		jw_ku64(w, "appeared", p->appeared);
		jw_ku64(w, "ended", p->ended);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "long_blocked");
	jw_arr(w);
	for (size_t i = 0; i < lim(rp, g->nlongs); i++) {
		const struct gsm_blocked *b = &g->longs[i];

		jw_obj(w);
		jw_ku64(w, "pid", b->tgid);
		jw_ku64(w, "goid", b->goid);
		jw_ku64(w, "blocked_ns", b->waited_ns);
		jw_kstr(w, "reason", b->reason_str);
		jw_kstr(w, "start_function", b->start_func ? b->start_func : "(unknown)");
		jw_kbool(w, "from_waitsince", b->from_waitsince);
		jw_kbool(w, "still_blocked", b->ongoing);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void report_json(const struct report *rp, struct out *o)
{
	struct jw w;

	jw_init(&w, o, 1);
	jw_obj(&w);
	jw_ku64(&w, "schema_version", REPORT_SCHEMA_VERSION);
	jw_kstr(&w, "generator", "ctrace-bpf " CTRACE_VERSION);
	capture(&w, rp);
	health(&w, rp);
	processes(&w, rp);
	syscalls(&w, rp, false);
	syscalls(&w, rp, true);
	goroutines(&w, rp);
	blocking(&w, rp);
	jw_key(&w, "wake_edges");
	jw_obj(&w);
	edges(&w, rp, "threads", rp->tedges, rp->ntedges);
	edges(&w, rp, "goroutines", rp->gedges, rp->ngedges);
	jw_obj_end(&w);
	cpus(&w, rp);
	if (rp->gosnap)
		gosnaps(&w, rp);
	jw_obj_end(&w);
}
