/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Output formats derived from a capture. */
#ifndef CTRACE_FORMATS_H
#define CTRACE_FORMATS_H

#include "capture/capture.h"
#include "lib/output.h"

enum out_format {
	FMT_NONE = 0,
	FMT_CTR,
	FMT_PERFETTO,
	FMT_JSON,
	FMT_TEXT,
	FMT_GO, /* go1.19 execution trace for `go tool trace` (gotrace.c) */
};

/*
 * Each writer streams the reader's events (from ctr_rewind()) into o.
 * Returns 0, or -1 after printing one line to stderr. Output must be a pure
 * function of the capture: the same .ctr gives byte-identical files.
 */
int perfetto_write(struct ctr_reader *r, struct out *o);
/*
 * Writes sched_switch/sched_waking as CompactSched (default off). Without a
 * call, CTRACE_PERFETTO_COMPACT=1 in the environment turns it on.
 */
void perfetto_set_compact(int on);
int chrome_json_write(struct ctr_reader *r, struct out *o);
int text_write(struct ctr_reader *r, struct out *o);
/* One Go process's goroutines (the busiest if several); gotrace.h has its counts. */
int gotrace_write(struct ctr_reader *r, struct out *o);

#endif /* CTRACE_FORMATS_H */
