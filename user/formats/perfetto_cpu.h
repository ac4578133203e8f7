/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* CPU samples in Perfetto output: PerfSample callstacks (see perfetto_cpu.c). */
#ifndef CTRACE_PERFETTO_CPU_H
#define CTRACE_PERFETTO_CPU_H

#include "capture/capture.h"
#include "lib/output.h"

struct pfcpu;

/* NULL only when out of memory. */
struct pfcpu *pfcpu_new(struct ctr_reader *r, struct out *o);
/* Every record from ctr_next(); writes a packet for each EV_CPU_SAMPLE. -1 on error. */
int pfcpu_event(struct pfcpu *p, const struct ev_header *h);
/* Frees p; the number of samples written in *nsamples if not NULL. */
void pfcpu_free(struct pfcpu *p, uint64_t *nsamples);

#endif /* CTRACE_PERFETTO_CPU_H */
