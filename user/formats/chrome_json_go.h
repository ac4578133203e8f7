/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Goroutine pseudo-threads in Chrome JSON output (see chrome_json_go.c). */
#ifndef CTRACE_CHROME_JSON_GO_H
#define CTRACE_CHROME_JSON_GO_H

#include <stdbool.h>
#include <stdint.h>
#include "capture/capture.h"
#include "lib/output.h"

struct cjgo;

/*
 * NULL when the capture traced no Go process. first is the writer's "no
 * event written yet" flag (each event is preceded by a comma otherwise);
 * *oom is set when memory runs out.
 */
struct cjgo *cjgo_new(struct ctr_reader *r, struct out *o, bool *first, bool *oom);
/* Every record from ctr_next(), in order, before the writer's own handling. */
void cjgo_event(struct cjgo *g, const struct ev_header *h);
/* The goroutine that entered the syscall of this sys_enter record, or 0. */
int64_t cjgo_syscall_goid(const struct cjgo *g, uint32_t tid, uint64_t ts);
/* Ends what is still open at end. */
void cjgo_finish(struct cjgo *g, uint64_t end);
/* Appends the goroutine members to the metadata object (",\n\"key\":value"...). */
void cjgo_metadata(struct cjgo *g);
/* Frees g; after an error, without writing anything more. */
void cjgo_free(struct cjgo *g);

#endif /* CTRACE_CHROME_JSON_GO_H */
