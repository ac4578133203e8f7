/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The go1.19 trace's ordering rules, enforced on every event the Go trace
 * writer (gotrace.c) writes, so that its file always parses: what Go 1.19's
 * internal/trace checks when it merges the per-P streams (order.go) and in
 * postProcessTrace (parser.go). An event that would break a rule is
 * repaired (a missing transition is written first) or dropped, and counted.
 */
#ifndef CTRACE_GOTRACE_RULES_H
#define CTRACE_GOTRACE_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* Event types of the go1.19 format. */
enum {
	EV_BATCH = 1,
	EV_FREQUENCY = 2,
	EV_STACK = 3,
	EV_GOMAXPROCS = 4,
	EV_PROC_START = 5,
	EV_PROC_STOP = 6,
	EV_GO_CREATE_T = 13,
	EV_GO_START_T = 14,
	EV_GO_END = 15,
	EV_GO_SCHED_T = 17,
	EV_GO_PREEMPT = 18,
	EV_GO_SLEEP = 19,
	EV_GO_BLOCK_T = 20,
	EV_GO_UNBLOCK_T = 21,
	EV_GO_BLOCK_SEND = 22,
	EV_GO_BLOCK_RECV = 23,
	EV_GO_BLOCK_SELECT = 24,
	EV_GO_BLOCK_SYNC = 25,
	EV_GO_BLOCK_COND = 26,
	EV_GO_BLOCK_NET = 27,
	EV_GO_SYSCALL = 28,
	EV_GO_SYSEXIT = 29,
	EV_GO_SYSBLOCK = 30,
	EV_GO_WAITING = 31,
	EV_GO_INSYSCALL = 32,
	EV_STRING = 37,
	EV_GO_BLOCK_GC = 42,
};

/* Ps the checker knows: 0 to GTC_MAX_P - 1, and -1 (no P). */
#define GTC_MAX_P 4096

/* Writes one event that passed: on P p's stream, at ts (never earlier than what it depends on). */
typedef void (*gtc_put_fn)(void *ctx, int p, int type, uint64_t ts, const uint64_t *args,
			   int nargs);

struct gtc_counts {
	uint64_t repaired; /* events written first so that the next one fits */
	uint64_t dropped;  /* events that fitted no way and were left out */
};

struct gtc;

/* t0: the trace's first timestamp, where goroutines alive at attach are declared. */
struct gtc *gtc_new(uint64_t t0, gtc_put_fn put, void *ctx);
void gtc_free(struct gtc *c);

/*
 * A goroutine alive at attach, declared at t0 in the first batch (GoCreate,
 * then GoWaiting or GoInSyscall when waiting). False, and nothing changes,
 * when goid is 0 or already in the trace: it must not be declared.
 */
bool gtc_declare(struct gtc *c, uint64_t goid, bool waiting);

/*
 * One event of P p (-1: none) at ts. goid is the goroutine it is about:
 * the one started, stopped, making a syscall, created (GoCreate), woken
 * (GoUnblock, GoSysExit). The checker sets the sequence numbers of GoStart,
 * GoUnblock and GoSysExit (args[1]). False if the event was left out.
 */
bool gtc_event(struct gtc *c, int p, int type, uint64_t ts, uint64_t goid, const uint64_t *args,
	       int nargs);

/* The goroutine running on P p per the trace so far, 0 if none. */
uint64_t gtc_running(const struct gtc *c, int p);

/* At the end: whatever still runs is stopped, every P too (the UI needs an end for each start). */
void gtc_finish(struct gtc *c, uint64_t ts);

struct gtc_counts gtc_counts(const struct gtc *c);

#endif /* CTRACE_GOTRACE_RULES_H */
