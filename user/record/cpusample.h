/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPU sampling: one cpu-clock software perf event per online CPU, each
 * running the tracer's perf_event program, which writes EV_CPU_SAMPLE.
 */
#ifndef CTRACE_CPUSAMPLE_H
#define CTRACE_CPUSAMPLE_H

#include <stddef.h>

struct cpusample;
struct bpf_program;

/* Default --freq: prime, so sampling does not beat with periodic work (as perf). */
#define CPUSAMPLE_DEFAULT_HZ 499
/* Above this the sampling itself costs more than a few percent of a CPU. */
#define CPUSAMPLE_MAX_HZ 10000

/*
 * Opens the events at hz samples a second of CPU time and attaches prog to
 * each. NULL with a one-line reason in err (naming the CPU and the errno).
 */
struct cpusample *cpusample_open(struct bpf_program *prog, unsigned int hz, char *err,
				 size_t errlen);
/* Detaches and closes every event; NULL is fine. */
void cpusample_close(struct cpusample *cs);

#endif /* CTRACE_CPUSAMPLE_H */
