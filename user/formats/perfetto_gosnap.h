/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Goroutine snapshot counter tracks in Perfetto output (see perfetto_gosnap.c). */
#ifndef CTRACE_PERFETTO_GOSNAP_H
#define CTRACE_PERFETTO_GOSNAP_H

#include "capture/capture.h"
#include "lib/output.h"

struct pfsnap;

/* NULL when the capture traced no Go process. */
struct pfsnap *pfsnap_new(struct ctr_reader *r, struct out *o);
/* Every record from ctr_next(), in order. */
void pfsnap_event(struct pfsnap *p, const struct ev_header *h);
/* Frees p; -1 on an encoding error. */
int pfsnap_finish(struct pfsnap *p);

#endif /* CTRACE_PERFETTO_GOSNAP_H */
