/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What one goroutine probe hit costs on this machine, measured at start:
 * trap costs differ by 5x between hosts (page-table isolation,
 * virtualization), so no constant could stand in for it.
 */
#ifndef CTRACE_GOCALIB_H
#define CTRACE_GOCALIB_H

#include <stddef.h>

struct bpf_program;
struct bpf_link;

/*
 * Times a loop over a nop of the collector's own with prog attached there
 * as a uprobe, against an unprobed twin, and returns the median extra
 * nanoseconds per hit, or a negative errno with the reason in err. Takes
 * about 10 ms. The probe stays attached (*link) since detaching waits for a
 * grace period: destroy it when that no longer delays anything.
 */
int gocalib_hit_ns(struct bpf_program *prog, double *ns, struct bpf_link **link, char *err,
		   size_t errlen);

#endif /* CTRACE_GOCALIB_H */
