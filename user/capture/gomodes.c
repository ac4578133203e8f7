// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine mode periods. A capture in auto mode is full until the governor
 * gives up the probes, then sampled; readers need to know which records
 * came from which mode. The records come from the file, so anything odd
 * (an unknown mode, too many changes) is dropped and counted rather than
 * trusted.
 */
#include "capture/gomodes.h"

void gomodes_add(struct gomodes *m, const struct rec_go_mode *rec)
{
	struct ctr_go_period *p;

	if (rec->mode > GO_MODE_SAMPLED || m->n >= CTR_GO_MAX_PERIODS) {
		m->bad++;
		return;
	}
	p = &m->p[m->n++];
	p->ts = rec->h.ts;
	p->mode = rec->mode;
	p->reason = rec->reason;
	p->flags = rec->flags;
	p->est_ppm = rec->est_ppm;
}

/* Insertion sort: a handful of periods, and ties keep file order. */
static void sort_periods(struct gomodes *m)
{
	for (size_t i = 1; i < m->n; i++) {
		struct ctr_go_period p = m->p[i];
		size_t j = i;

		for (; j && m->p[j - 1].ts > p.ts; j--)
			m->p[j] = m->p[j - 1];
		m->p[j] = p;
	}
}

void gomodes_finish(struct gomodes *m)
{
	size_t out = 0;

	/* The collector writes them in order; a damaged file may not. */
	sort_periods(m);
	for (size_t i = 0; i < m->n; i++) {
		/* A repeat says nothing new: the period goes on. */
		if (out && m->p[out - 1].mode == m->p[i].mode)
			continue;
		m->p[out++] = m->p[i];
	}
	m->n = out;
}

const struct ctr_go_period *gomodes_at(const struct gomodes *m, uint64_t ts)
{
	size_t i = 0;

	if (!m->n)
		return NULL;
	/* Before the first record (events of the attach itself): the first mode. */
	while (i + 1 < m->n && m->p[i + 1].ts <= ts)
		i++;
	return &m->p[i];
}

const struct ctr_go_period *gomodes_switch(const struct gomodes *m)
{
	for (size_t i = 1; i < m->n; i++)
		if (m->p[i].mode == GO_MODE_SAMPLED && m->p[i - 1].mode == GO_MODE_FULL)
			return &m->p[i];
	return NULL;
}
