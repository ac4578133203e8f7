/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The report's CPU sample section: functions by samples (see cpuprof.c). */
#ifndef CTRACE_CPUPROF_H
#define CTRACE_CPUPROF_H

#include <stdint.h>
#include "capture/capture.h"

struct cpuprof;
struct report;

/* Counts the samples of process pid (0: all of them). NULL when out of memory. */
struct cpuprof *cpuprof_new(struct ctr_reader *r, uint32_t pid);
void cpuprof_event(struct cpuprof *c, const struct ev_header *h);
/* Fills rp's cpufns (by self samples), cpu_samples and cpu_sample_ns; -1 out of memory. */
int cpuprof_finish(struct cpuprof *c, struct report *rp);
/* Frees c and what cpuprof_finish put in rp. */
void cpuprof_free(struct cpuprof *c, struct report *rp);

#endif /* CTRACE_CPUPROF_H */
