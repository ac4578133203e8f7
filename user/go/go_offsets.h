/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Go runtime layout knowledge (amd64): struct field offsets, goroutine status
 * values and wait reasons, per Go version. Offsets come from the target's
 * DWARF when it has some (godwarf.c) and otherwise from the table that
 * scripts/gen-go-offsets.sh generated into go_offsets_table.c.
 */
#ifndef CTRACE_GO_OFFSETS_H
#define CTRACE_GO_OFFSETS_H

#include <stdint.h>

/*
 * X(field, go struct, member path). A path "a.b" adds the offset of b inside
 * a's (struct) type; the path "" stands for the struct's byte size. One list
 * so that the struct, the DWARF reader, the generator and the test agree.
 */
#define GO_OFFSET_FIELDS(X)                                                                        \
	X(g_size, "runtime.g", "")                                                                 \
	X(g_stack_lo, "runtime.g", "stack.lo")                                                     \
	X(g_stack_hi, "runtime.g", "stack.hi")                                                     \
	X(g_m, "runtime.g", "m")                                                                   \
	X(g_sched, "runtime.g", "sched")                                                           \
	X(g_sched_sp, "runtime.g", "sched.sp")                                                     \
	X(g_sched_pc, "runtime.g", "sched.pc")                                                     \
	X(g_sched_bp, "runtime.g", "sched.bp")                                                     \
	X(g_param, "runtime.g", "param")                                                           \
	X(g_atomicstatus, "runtime.g", "atomicstatus")                                             \
	X(g_goid, "runtime.g", "goid")                                                             \
	X(g_schedlink, "runtime.g", "schedlink")                                                   \
	X(g_waitreason, "runtime.g", "waitreason")                                                 \
	X(g_parent_goid, "runtime.g", "parentGoid")                                                \
	X(g_gopc, "runtime.g", "gopc")                                                             \
	X(g_startpc, "runtime.g", "startpc")                                                       \
	X(g_waiting, "runtime.g", "waiting")                                                       \
	X(g_waitsince, "runtime.g", "waitsince")                                                   \
	X(m_g0, "runtime.m", "g0")                                                                 \
	X(m_procid, "runtime.m", "procid")                                                         \
	X(m_curg, "runtime.m", "curg")                                                             \
	X(m_p, "runtime.m", "p")                                                                   \
	X(m_id, "runtime.m", "id")                                                                 \
	X(p_id, "runtime.p", "id")                                                                 \
	X(p_status, "runtime.p", "status")                                                         \
	X(p_m, "runtime.p", "m")                                                                   \
	X(p_runqhead, "runtime.p", "runqhead")                                                     \
	X(p_runqtail, "runtime.p", "runqtail")                                                     \
	X(sudog_g, "runtime.sudog", "g")                                                           \
	X(sudog_elem, "runtime.sudog", "elem")                                                     \
	X(sudog_is_select, "runtime.sudog", "isSelect")                                            \
	X(sudog_c, "runtime.sudog", "c")                                                           \
	X(hchan_qcount, "runtime.hchan", "qcount")                                                 \
	X(hchan_dataqsiz, "runtime.hchan", "dataqsiz")                                             \
	X(hchan_elemsize, "runtime.hchan", "elemsize")                                             \
	X(hchan_closed, "runtime.hchan", "closed")

/* Byte offsets (or sizes) in the target; -1 when the version lacks the field. */
struct go_offsets {
	int32_t major, minor;
#define GO_OFFSET_MEMBER(f, s, p) int32_t f;
	GO_OFFSET_FIELDS(GO_OFFSET_MEMBER)
#undef GO_OFFSET_MEMBER
};

/* g.atomicstatus values; the same for every version generated so far. */
struct go_gstatus {
	int32_t idle, runnable, running, syscall, waiting, dead, copystack, preempted;
	int32_t scan; /* bit or'ed into the above while the GC scans the stack */
};

/*
 * Why a parked goroutine waits, coarsely. The runtime never reports
 * GB_SYSCALL through a wait reason (that is the _Gsyscall status); it is here
 * so the tracer can use one vocabulary. Before go1.24 sync.WaitGroup.Wait
 * parks as "semacquire", so it shows up as GB_MUTEX there.
 */
enum go_block_kind {
	GB_OTHER = 0,
	GB_CHAN_RECV,
	GB_CHAN_SEND,
	GB_SELECT,
	GB_SELECT_NO_CASES,
	GB_CHAN_NIL,  /* send/receive on a nil channel: blocks forever */
	GB_MUTEX,     /* sync.Mutex, sync.RWMutex, plain semacquire */
	GB_COND,      /* sync.Cond.Wait */
	GB_WAITGROUP, /* sync.WaitGroup.Wait (go1.24+) */
	GB_SLEEP,     /* time.Sleep */
	GB_NET,	      /* netpoller: "IO wait" */
	GB_GC,	      /* GC workers, assists, sweep/scavenge, mark termination */
	GB_SYSCALL,
	GB_PREEMPTED,
	GB_FORCEGC,   /* the forcegc helper idling */
	GB_RUNTIME,   /* other runtime-internal waits: finalizer, tracer, STW... */
	GB_COROUTINE, /* iter.Pull coroutine switch (go1.23+) */
	GB_SYNCTEST,  /* testing/synctest bubble (go1.24+) */
	GB__COUNT,
};

/* NULL when the version was not generated into the table. */
const struct go_offsets *go_offsets_for_version(int major, int minor);
const struct go_gstatus *go_gstatus_for_version(int major, int minor);
/* For error messages, e.g. "go1.19, go1.21-go1.24". */
const char *go_offsets_supported(void);

/* Go's own string for a wait reason ("chan receive"); NULL if unknown. */
const char *go_waitreason_string(int minor, int code);
enum go_block_kind go_waitreason_kind(int minor, int code);
/* Short stable name for a kind ("chan_recv"), for output formats. */
const char *go_block_kind_name(enum go_block_kind kind);

#endif /* CTRACE_GO_OFFSETS_H */
