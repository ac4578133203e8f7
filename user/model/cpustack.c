// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "model/cpustack.h"

/* No code is mapped in the first page: such a "pc" is the end of the chain. */
#define MIN_PC 4096

int cpu_sample_pcs(struct ctr_reader *r, const struct ev_cpu_sample *e, uint64_t *out, int max)
{
	int n = 0, known;

	for (int i = 0; i < e->nstack && i < CPU_SAMPLE_MAX_STACK && n < max; i++) {
		if (e->stack[i] < MIN_PC)
			break;
		out[n++] = e->stack[i] + (i == 0);
	}
	/*
	 * A Go thread's outermost frame pointer may be stale (a g0 stack's
	 * base, a reused stack slot), so the walk can run past the real
	 * outermost frame into data: in a Go process, trailing frames that
	 * are not code the collector could symbolize are left out.
	 */
	if (!ctr_go_proc_find(r, e->h.tgid))
		return n;
	for (known = n; known > 0; known--)
		if (ctr_go_sym(r, e->h.tgid, out[known - 1], false))
			break;
	return known ? known : n;
}
