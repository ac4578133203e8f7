/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Goroutine tracks in Perfetto output (see perfetto_go.c). */
#ifndef CTRACE_PERFETTO_GO_H
#define CTRACE_PERFETTO_GO_H

#include "capture/capture.h"
#include "lib/output.h"

struct pfgo;

/* NULL when the capture traced no Go process. */
struct pfgo *pfgo_new(struct ctr_reader *r, struct out *o);
/* Every record from ctr_next(), in order. */
void pfgo_event(struct pfgo *p, const struct ev_header *h);
/* Closes what is open at ts and frees p; -1 on an encoding error. */
int pfgo_finish(struct pfgo *p, uint64_t ts);

#endif /* CTRACE_PERFETTO_GO_H */
