// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * threadstate on hand-built records: two threads on two CPUs and one
 * inferred from a syscall on a third, a fork, one wake-up, syscalls that
 * return, one that ends at an exit and one still open at the end. Every
 * callback is written as a line with all its fields and compared with the
 * expected lines in order. Prints one PASS/FAIL line per check.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/threadstate.h"

#define MAX_LINES 64

static char got[MAX_LINES][512];
static int ngot;
static int npass, nfail;

static void check(bool ok, const char *what, const char *detail)
{
	if (ok)
		npass++;
	else
		nfail++;
	printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what, detail ? ": " : "", detail ? detail : "");
}

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...)
{
	va_list ap;

	if (ngot >= MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(got[ngot++], sizeof(got[0]), fmt, ap);
	va_end(ap);
}

static const char *wake_str(const struct kt_wake *w, char *buf, size_t len)
{
	static const char *const st[] = {"pending",   "ran",	"redundant", "superseded",
					 "no_effect", "exited", "unfinished"};

	if (!w)
		return "-";
	snprintf(buf, len,
		 "{waker=%u/%u cpu=%u comm=%s wakee=%u/%u new=%d ts=%" PRIu64
		 " in_waker_run=%d waker_seq=%" PRIu64 " %s run_ts=%" PRIu64 " run_seq=%" PRIu64
		 " run_cpu=%u}",
		 w->waker_tid, w->waker_tgid, w->waker_cpu, w->waker_comm, w->tid, w->tgid,
		 w->new_task, w->ts, w->in_waker_run, w->waker_seq, st[w->state], w->run_ts,
		 w->run_seq, w->run_cpu);
	return buf;
}

static void run_line(const char *what, const struct kt_run *r)
{
	static const char *const how[] = {"switch", "lost", "capture"};
	char wb[256];

	add("%s tid=%u tgid=%u cpu=%u seq=%" PRIu64 " start=%" PRIu64 " end=%" PRIu64
	    " inferred=%d no_start=%d how=%s state=%#" PRIx64 " comm=%s thread=%u wake=%s",
	    what, r->tid, r->tgid, r->cpu, r->seq, r->start, r->end, r->inferred, r->no_start,
	    !strcmp(what, "run_end") ? how[r->how] : "-",
	    !strcmp(what, "run_end") ? (uint64_t)r->state : 0, r->comm,
	    r->thread ? r->thread->tid : 0, wake_str(r->wake, wb, sizeof(wb)));
}

static void on_run_begin(void *ctx, const struct kt_run *r)
{
	run_line("run_begin", r);
}

static void on_run_end(void *ctx, const struct kt_run *r)
{
	run_line("run_end", r);
}

static void on_wake(void *ctx, const struct kt_wake *w)
{
	char wb[256];

	add("wake %s", wake_str(w, wb, sizeof(wb)));
}

static void on_wake_end(void *ctx, const struct kt_wake *w)
{
	char wb[256];

	add("wake_end %s", wake_str(w, wb, sizeof(wb)));
}

static void on_sys_begin(void *ctx, struct kt_sys *sc)
{
	add("sys_begin tid=%u tgid=%u id=%" PRId64 " enter=%" PRIu64 " args=%" PRIu64 ",%" PRIu64,
	    sc->tid, sc->tgid, sc->id, sc->enter_ts, sc->args[0], sc->args[5]);
	sc->user = 1000 + sc->enter_ts;
}

static void on_sys_end(void *ctx, const struct kt_sys *sc)
{
	static const char *const end[] = {"ret", "lost_exit", "exited", "unfinished"};

	add("sys_end tid=%u tgid=%u id=%" PRId64 " exit_id=%" PRId64 " enter=%" PRIu64
	    " exit=%" PRIu64 " ret=%" PRId64 " end=%s user=%" PRIu64,
	    sc->tid, sc->tgid, sc->id, sc->exit_id, sc->enter_ts, sc->exit_ts, sc->ret,
	    end[sc->end], sc->user);
}

static void on_reuse(void *ctx, const struct kt_thread *t, uint32_t tgid, uint64_t ts)
{
	add("reuse tid=%u tgid=%u->%u ts=%" PRIu64, t->tid, t->tgid, tgid, ts);
}

static void on_thread_end(void *ctx, const struct kt_thread *t)
{
	add("thread_end tid=%u tgid=%u comm=%s in_sys=%d", t->tid, t->tgid, t->comm, t->in_sys);
}

static const struct kt_ops ops = {
    .run_begin = on_run_begin,
    .run_end = on_run_end,
    .wake = on_wake,
    .wake_end = on_wake_end,
    .sys_begin = on_sys_begin,
    .sys_end = on_sys_end,
    .reuse = on_reuse,
    .thread_end = on_thread_end,
};

/* ---- records ---- */

static struct ev_header hdr(uint16_t type, size_t size, uint64_t ts, uint16_t cpu, uint32_t tid,
			    uint32_t tgid)
{
	return (struct ev_header){
	    .ts = ts, .type = type, .size = size, .cpu = cpu, .tid = tid, .tgid = tgid};
}

static void sw(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t prev, uint32_t prev_tgid,
	       const char *pcomm, int64_t state, uint32_t next, uint32_t next_tgid,
	       const char *ncomm)
{
	struct ev_sched_switch e = {.h = hdr(EV_SCHED_SWITCH, sizeof(e), ts, cpu, prev, prev_tgid)};

	e.prev_pid = prev;
	e.prev_tgid = prev_tgid;
	e.next_pid = next;
	e.next_tgid = next_tgid;
	e.prev_state = state;
	strncpy(e.prev_comm, pcomm, TASK_COMM_LEN - 1);
	strncpy(e.next_comm, ncomm, TASK_COMM_LEN - 1);
	threadstate_event(s, &e.h);
}

static void waking(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t waker,
		   uint32_t waker_tgid, uint32_t pid, uint32_t tgid, const char *comm)
{
	struct ev_sched_wake e = {.h = hdr(EV_SCHED_WAKING, sizeof(e), ts, cpu, waker, waker_tgid)};

	e.pid = pid;
	e.tgid = tgid;
	e.target_cpu = 1;
	strncpy(e.comm, comm, TASK_COMM_LEN - 1);
	threadstate_event(s, &e.h);
}

static void sys_enter(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t tid, uint32_t tgid,
		      int64_t id)
{
	struct ev_sys_enter e = {.h = hdr(EV_SYS_ENTER, sizeof(e), ts, cpu, tid, tgid), .id = id};

	e.args[0] = id + 1;
	e.args[5] = id + 6;
	threadstate_event(s, &e.h);
}

static void sys_exit(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t tid, uint32_t tgid,
		     int64_t id, int64_t ret)
{
	struct ev_sys_exit e = {
	    .h = hdr(EV_SYS_EXIT, sizeof(e), ts, cpu, tid, tgid), .id = id, .ret = ret};

	threadstate_event(s, &e.h);
}

static void fork_ev(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t tid, uint32_t tgid,
		    uint32_t child, uint32_t child_tgid, const char *comm)
{
	struct ev_process_fork e = {.h = hdr(EV_PROCESS_FORK, sizeof(e), ts, cpu, tid, tgid)};

	e.parent_pid = tid;
	e.parent_tgid = tgid;
	e.child_pid = child;
	e.child_tgid = child_tgid;
	strncpy(e.child_comm, comm, TASK_COMM_LEN - 1);
	threadstate_event(s, &e.h);
}

static void exit_ev(struct threadstate *s, uint64_t ts, uint16_t cpu, uint32_t tid, uint32_t tgid,
		    const char *comm)
{
	struct ev_process_exit e = {.h = hdr(EV_PROCESS_EXIT, sizeof(e), ts, cpu, tid, tgid)};

	e.h.flags = EXIT_GROUP_DEAD;
	e.pid = tid;
	e.tgid = tgid;
	strncpy(e.comm, comm, TASK_COMM_LEN - 1);
	threadstate_event(s, &e.h);
}

/* ---- the scenario ---- */

#define WAKE_B "{waker=10/10 cpu=0 comm=a wakee=20/20 new=0 ts=170 in_waker_run=1 waker_seq=1 "
static const char *const expected[] = {
    "run_begin tid=10 tgid=10 cpu=0 seq=1 start=100 end=0 inferred=0 no_start=0 how=- state=0 "
    "comm=a thread=10 wake=-",
    "run_begin tid=20 tgid=20 cpu=1 seq=2 start=110 end=0 inferred=0 no_start=0 how=- state=0 "
    "comm=b thread=20 wake=-",
    "run_begin tid=30 tgid=30 cpu=2 seq=3 start=115 end=0 inferred=1 no_start=0 how=- state=0 "
    "comm= thread=30 wake=-",
    "sys_begin tid=30 tgid=30 id=0 enter=115 args=1,6",
    "sys_end tid=30 tgid=30 id=0 exit_id=0 enter=115 exit=116 ret=0 end=ret user=1115",
    "sys_begin tid=10 tgid=10 id=0 enter=120 args=1,6",
    "sys_end tid=10 tgid=10 id=0 exit_id=0 enter=120 exit=130 ret=5 end=ret user=1120",
    "sys_begin tid=20 tgid=20 id=1 enter=150 args=2,7",
    "run_end tid=20 tgid=20 cpu=1 seq=2 start=110 end=160 inferred=0 no_start=0 how=switch "
    "state=0x1 comm=b thread=20 wake=-",
    "wake " WAKE_B "pending run_ts=0 run_seq=0 run_cpu=0}",
    "wake_end " WAKE_B "ran run_ts=180 run_seq=4 run_cpu=1}",
    "run_begin tid=20 tgid=20 cpu=1 seq=4 start=180 end=0 inferred=0 no_start=0 how=- state=0 "
    "comm=b thread=20 wake=" WAKE_B "ran run_ts=180 run_seq=4 run_cpu=1}",
    "sys_end tid=20 tgid=20 id=1 exit_id=1 enter=150 exit=190 ret=-11 end=ret user=1150",
    "sys_begin tid=10 tgid=10 id=231 enter=200 args=232,237",
    "sys_end tid=10 tgid=10 id=231 exit_id=231 enter=200 exit=210 ret=0 end=exited user=1200",
    "run_end tid=10 tgid=10 cpu=0 seq=1 start=100 end=220 inferred=0 no_start=0 how=switch "
    "state=0x20 comm=a thread=10 wake=-",
    "run_begin tid=11 tgid=10 cpu=0 seq=5 start=220 end=0 inferred=0 no_start=0 how=- state=0 "
    "comm=c thread=11 wake=-",
    "sys_begin tid=20 tgid=20 id=7 enter=230 args=8,13",
    /* threadstate_finish(300): slices by CPU, then threads by tid */
    "run_end tid=11 tgid=10 cpu=0 seq=5 start=220 end=300 inferred=0 no_start=0 how=capture "
    "state=0 comm=c thread=11 wake=-",
    "run_end tid=20 tgid=20 cpu=1 seq=4 start=180 end=300 inferred=0 no_start=0 how=capture "
    "state=0 comm=b thread=20 wake=" WAKE_B "ran run_ts=180 run_seq=4 run_cpu=1}",
    "run_end tid=30 tgid=30 cpu=2 seq=3 start=115 end=300 inferred=1 no_start=0 how=capture "
    "state=0 comm= thread=30 wake=-",
    "thread_end tid=10 tgid=10 comm=a in_sys=0",
    "thread_end tid=11 tgid=10 comm=c in_sys=0",
    "sys_end tid=20 tgid=20 id=7 exit_id=7 enter=230 exit=300 ret=0 end=unfinished user=1230",
    "thread_end tid=20 tgid=20 comm=b in_sys=0",
    "thread_end tid=30 tgid=30 comm= in_sys=0",
};

static void scenario(void)
{
	struct threadstate *s = threadstate_new(NULL, &ops, NULL);
	const struct kt_stats *st;
	size_t n = sizeof(expected) / sizeof(expected[0]);
	char what[64];

	sw(s, 100, 0, 0, 0, "swapper/0", 0, 10, 10, "a");
	sw(s, 110, 1, 0, 0, "swapper/1", 0, 20, 20, "b");
	sys_enter(s, 115, 2, 30, 30, 0); /* CPU 2: no switch seen, inferred */
	sys_exit(s, 116, 2, 30, 30, 0, 0);
	sys_enter(s, 120, 0, 10, 10, 0);
	sys_exit(s, 130, 0, 10, 10, 0, 5);
	fork_ev(s, 140, 0, 10, 10, 11, 10, "c");
	sys_enter(s, 150, 1, 20, 20, 1);
	sw(s, 160, 1, 20, 20, "b", 1, 0, 0, "swapper/1");
	waking(s, 170, 0, 10, 10, 20, 20, "b");
	sw(s, 180, 1, 0, 0, "swapper/1", 0, 20, 20, "b");
	sys_exit(s, 190, 1, 20, 20, 1, -11);
	sys_enter(s, 200, 0, 10, 10, 231);
	exit_ev(s, 210, 0, 10, 10, "a");
	sw(s, 220, 0, 10, 10, "a", 0x20, 11, 10, "c");
	sys_enter(s, 230, 1, 20, 20, 7); /* still open at the end */
	threadstate_finish(s, 300);

	for (size_t i = 0; i < n || i < (size_t)ngot; i++) {
		snprintf(what, sizeof(what), "callback %zu", i + 1);
		if (i >= n) {
			check(false, what, got[i]);
		} else if (i >= (size_t)ngot) {
			check(false, what, "missing");
		} else if (strcmp(got[i], expected[i])) {
			printf("  got:  %s\n  want: %s\n", got[i], expected[i]);
			check(false, what, "differs");
		} else {
			check(true, what, expected[i]);
		}
	}
	check(ngot == (int)n, "callback count", NULL);
	st = threadstate_stats(s);
	check(st->wakeups == 1 && st->sys_lost_exit == 0 && st->sys_exit_unmatched == 0, "stats",
	      NULL);
	check(threadstate_find(s, 11) && threadstate_find(s, 11)->tgid == 10, "find fork child",
	      NULL);
	threadstate_free(s);
}

/*
 * A waking while the wakee is still on its CPU, which then leaves sleeping
 * (the dequeue race): it counts with KT_WAKES_LATEST, not KT_WAKES_OFF_CPU.
 */
static void policy(enum kt_wake_policy p, const char *want_wake, const char *want_run)
{
	struct threadstate *s = threadstate_new(NULL, &ops, NULL);
	char what[64];

	threadstate_set_wake_policy(s, p);
	ngot = 0;
	sw(s, 10, 0, 0, 0, "swapper/0", 0, 40, 40, "x");
	waking(s, 20, 1, 0, 0, 40, 40, "x");
	sw(s, 30, 0, 40, 40, "x", 1, 0, 0, "swapper/0");
	sw(s, 45, 1, 0, 0, "swapper/1", 0, 40, 40, "x");
	snprintf(what, sizeof(what), "policy %s: waking",
		 p == KT_WAKES_LATEST ? "latest" : "off_cpu");
	check(ngot >= 2 && strstr(got[1], want_wake), what, ngot >= 2 ? got[1] : "missing");
	snprintf(what, sizeof(what), "policy %s: switch-in",
		 p == KT_WAKES_LATEST ? "latest" : "off_cpu");
	check(ngot >= 1 && strstr(got[ngot - 1], want_run), what, ngot ? got[ngot - 1] : "missing");
	threadstate_free(s);
}

int main(void)
{
	scenario();
	policy(KT_WAKES_LATEST,
	       "wake {waker=0/0 cpu=1 comm= wakee=40/40 new=0 ts=20 "
	       "in_waker_run=0 waker_seq=0 pending",
	       "run_begin tid=40 tgid=40 cpu=1 seq=2 start=45 end=0 inferred=0 no_start=0 how=- "
	       "state=0 comm=x thread=40 wake={waker=0/0 cpu=1 comm= wakee=40/40 new=0 ts=20 "
	       "in_waker_run=0 waker_seq=0 ran run_ts=45 run_seq=2 run_cpu=1}");
	policy(KT_WAKES_OFF_CPU,
	       "wake {waker=0/0 cpu=1 comm= wakee=40/40 new=0 ts=20 "
	       "in_waker_run=0 waker_seq=0 redundant",
	       "run_begin tid=40 tgid=40 cpu=1 seq=2 start=45 end=0 inferred=0 no_start=0 how=- "
	       "state=0 comm=x thread=40 wake=-");
	printf("threadstate: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
