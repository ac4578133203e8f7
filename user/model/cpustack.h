/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The frames of a CPU sample (EV_CPU_SAMPLE) as every output shows them:
 * symbolization keys, innermost first, with the ends of the frame-pointer
 * walk that are not frames left out.
 */
#ifndef CTRACE_CPUSTACK_H
#define CTRACE_CPUSTACK_H

#include <stdint.h>
#include "capture/capture.h"

/*
 * Fills out[] (at most max) with pcs to look up as return addresses
 * (ctr_go_sym(..., exact = false)): the sampled pc itself becomes pc + 1,
 * as Go's own profiles record the leaf. Returns how many.
 */
int cpu_sample_pcs(struct ctr_reader *r, const struct ev_cpu_sample *e, uint64_t *out, int max);

#endif /* CTRACE_CPUSTACK_H */
