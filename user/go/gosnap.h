/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Goroutine state snapshots (sampled mode): every goroutine of a Go process
 * read from its memory through allgs with process_vm_readv, without
 * stopping it, validated, and written as REC_GO_SNAP records.
 */
#ifndef CTRACE_GOSNAP_H
#define CTRACE_GOSNAP_H

#include <stdint.h>
#include <linux/types.h>
#include "bpf/ctrace.h"
#include "go/goprobe.h"

/* Goroutines read per snapshot at most; the rest of allgs is left (flagged). */
#define GOSNAP_MAX_G 100000
/* --snapshot-interval's default, and its smallest accepted value. */
#define GOSNAP_DEFAULT_INTERVAL_NS 100000000ull
#define GOSNAP_MIN_INTERVAL_NS	   10000000ull

struct gosnap;
struct ctr_writer;

/* Totals over every snapshot taken, for the summary. */
struct gosnap_totals {
	uint64_t snapshots, goroutines;
	uint64_t implausible, unreadable; /* g's dropped */
	uint64_t failed;		  /* snapshots that could not be read at all */
	uint64_t capped;		  /* snapshots cut at GOSNAP_MAX_G */
	uint64_t max_read_us, sum_read_us;
};

struct gosnap *gosnap_new(void);
/*
 * Reads l->tgid's goroutines now and writes one snapshot into w; their pcs
 * are noted in gp for the symbols written at the end. Returns 0,
 * -ESRCH when the process is gone, another -errno when this one failed.
 */
int gosnap_take(struct gosnap *s, struct goprobe *gp, const struct goprobe_layout *l,
		struct ctr_writer *w);
void gosnap_totals(const struct gosnap *s, struct gosnap_totals *t);
void gosnap_free(struct gosnap *s);

/* ---- validation of one g, separate so that it can be tested on crafted bytes ---- */

#define GOSNAP_MAX_TEXT 8
/* What a g read from the process is checked against. */
struct gosnap_view {
	int minor;
	const struct go_gstatus *gs;
	/* offsets inside the window read from each g (g + win_off) */
	uint32_t win_off, win_len;
	uint32_t o_status, o_goid, o_reason, o_waitsince, o_startpc, o_gopc;
	uint64_t mono_now; /* CLOCK_MONOTONIC at the read */
	uint64_t text[GOSNAP_MAX_TEXT][2];
	int ntext;
};

enum gosnap_verdict {
	GSV_OK = 0,
	GSV_SKIP,	   /* idle or dead: no goroutine there now */
	GSV_BAD_STATUS,	   /* not a status Go defines */
	GSV_BAD_GOID,	   /* zero, negative or absurd */
	GSV_BAD_PC,	   /* start or go-statement pc outside the text */
	GSV_BAD_REASON,	   /* waiting with a wait reason this Go lacks */
	GSV_BAD_WAITSINCE, /* negative or in the future */
	GSV_BAD_G,	   /* g address null or misaligned */
};

/* Fills the view's window offsets from l; -EINVAL if a field is missing. */
int gosnap_view_init(struct gosnap_view *v, const struct goprobe_layout *l);
/* Checks the window read at g; fills out on GSV_OK. */
enum gosnap_verdict gosnap_check(const struct gosnap_view *v, uint64_t g, const uint8_t *win,
				 struct go_snap_ent *out);

#endif /* CTRACE_GOSNAP_H */
