/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The capture reader's goroutine mode periods, from REC_GO_MODE records
 * (internal to user/capture; consumers use capture.h's ctr_go_* calls).
 */
#ifndef CTRACE_GOMODES_H
#define CTRACE_GOMODES_H

#include "capture/capture.h"

/* A capture switches at most once today; room for a few more, then counted. */
#define CTR_GO_MAX_PERIODS 16

struct gomodes {
	struct ctr_go_period p[CTR_GO_MAX_PERIODS];
	size_t n;
	uint64_t bad; /* unknown modes, or past CTR_GO_MAX_PERIODS */
};

/* One record from the first pass, in file order. */
void gomodes_add(struct gomodes *m, const struct rec_go_mode *rec);
/* After the first pass: time order, repeats of the same mode merged. */
void gomodes_finish(struct gomodes *m);
const struct ctr_go_period *gomodes_at(const struct gomodes *m, uint64_t ts);
const struct ctr_go_period *gomodes_switch(const struct gomodes *m);

#endif /* CTRACE_GOMODES_H */
