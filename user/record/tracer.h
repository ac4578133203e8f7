/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Drives the ctrace BPF skeleton: load, per-CPU rings, attach, drain. */
#ifndef CTRACE_TRACER_H
#define CTRACE_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bpf/ctrace.h"

struct tracer;
struct bpf_program;

/* Called once per record, in ring order; non-zero stops the drain. */
typedef int (*tracer_sample_fn)(void *ctx, const struct ev_header *h);

struct tracer_opts {
	bool filter_syscalls; /* only targets' syscalls */
	pid_t self_tgid;
	tracer_sample_fn sample;
	void *ctx;
	bool verbose;	 /* pass libbpf's log through */
	bool cpu_sample; /* load the perf_event program (record/cpusample.c attaches it) */
};

/* Returns NULL and a one-line reason (naming the program) in err. */
struct tracer *tracer_open(const struct tracer_opts *o, char *err, size_t errlen);
int tracer_add_target(struct tracer *t, pid_t tgid);
/* tgid is a target now (given, or a descendant the kernel side followed). */
bool tracer_is_target(struct tracer *t, pid_t tgid);
/* Waits up to timeout_ms for a batch, then drains every ring. */
int tracer_poll(struct tracer *t, int timeout_ms);
int tracer_drain(struct tracer *t);
/*
 * Drains until every record stamped up to ts has been read, on every CPU
 * the collector can reach (or timeout_ms passed). Returns how many CPUs
 * were not confirmed, or a negative error.
 */
int tracer_flush(struct tracer *t, uint64_t ts, int timeout_ms);
/*
 * After a drain: the oldest timestamp of records still staged in a stage a
 * handler held at the time, UINT64_MAX if none.
 */
uint64_t tracer_pending_ts(const struct tracer *t);
/* Records lost in the kernel so far, summed over CPUs, by type. */
int tracer_drops(struct tracer *t, __u64 drops[EV_KERNEL_MAX]);
/* The ring-buffer array and drop counters, for other BPF objects to share. */
void tracer_shared_maps(struct tracer *t, int *rings_fd, int *drops_fd);
/*
 * The switch and syscall records of c->tgid get a goroutine tail (with
 * GO_TLS_F_ENTER_ONLY in c->flags, syscall entries only); a second call for
 * the same process changes its flags.
 */
int tracer_add_go_tls(struct tracer *t, const struct go_tls_cfg *c);
/* The CPU sample program (NULL unless opts.cpu_sample), to attach to perf events. */
struct bpf_program *tracer_cpu_sample_prog(struct tracer *t);
void tracer_close(struct tracer *t);

#endif /* CTRACE_TRACER_H */
