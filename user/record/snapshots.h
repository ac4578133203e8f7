/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The recording loop's goroutine snapshots (--snapshot-interval): when they
 * are due, which Go targets get one, and the summary line. The reading
 * itself is go/gosnap.c.
 */
#ifndef CTRACE_RECORD_SNAPSHOTS_H
#define CTRACE_RECORD_SNAPSHOTS_H

#include <stdbool.h>
#include <stdint.h>
#include "go/gosnap.h"
#include "record/record.h"

struct snapshots {
	uint64_t every; /* 0: no snapshots */
	uint64_t next;
	struct gosnap *snap; /* created at the first snapshot */
	bool gone[GO_MAX_PROCS];
};

/* The interval for the options and the goroutine mode in force (0: none). */
uint64_t snapshots_interval(const struct record_opts *o, int go_mode);
/* Takes the snapshots that are due at now; -EIO when the capture failed. */
int snapshots_tick(struct snapshots *s, struct goprobe *go, struct ctr_writer *w, uint64_t now);
/* How long the loop may wait for ring data before the next snapshot, in ms. */
int snapshots_poll_ms(const struct snapshots *s, int max_ms);
/* One line on stderr when snapshots were taken. */
void snapshots_summary(const struct snapshots *s);
void snapshots_free(struct snapshots *s);

#endif /* CTRACE_RECORD_SNAPSHOTS_H */
