// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPU samples in the report: per function, the samples where it was the
 * innermost frame (self) and those where it was anywhere on the stack
 * (cumulative, once per sample). A sample in the kernel counts as
 * "(in the kernel)" for self; frames without a symbol as "(no symbol)"
 * with the process's name, so a C program still gets one row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/cpustack.h"
#include "report/cpuprof.h"
#include "report/report.h"

#define NB	  1024
#define MAX_DEPTH (CPU_SAMPLE_MAX_STACK * 2)

struct fn_ent {
	struct rp_cpufn fn;
	uint64_t last; /* sample number that last counted it, for cumulative */
	struct fn_ent *next;
};

struct cpuprof {
	struct ctr_reader *r;
	uint32_t pid;
	struct fn_ent *fn[NB];
	size_t nfn;
	uint64_t samples, ns;
	bool oom;
};

struct cpuprof *cpuprof_new(struct ctr_reader *r, uint32_t pid)
{
	struct cpuprof *c = calloc(1, sizeof(*c));

	if (c) {
		c->r = r;
		c->pid = pid;
	}
	return c;
}

static struct rp_cpufn *fn_get(struct cpuprof *c, const char *name)
{
	unsigned int b = 5381;
	struct fn_ent *e;

	for (const char *p = name; *p; p++)
		b = b * 33 + (unsigned char)*p;
	b &= NB - 1;
	for (e = c->fn[b]; e; e = e->next)
		if (!strcmp(e->fn.func, name))
			return &e->fn;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->fn.func = strdup(name))) {
		free(e);
		c->oom = true;
		return NULL;
	}
	e->next = c->fn[b];
	c->fn[b] = e;
	c->nfn++;
	return &e->fn;
}

/* Counts name once for this sample (cumulative), and as self if asked. */
static void count(struct cpuprof *c, const char *name, bool self)
{
	struct rp_cpufn *f = fn_get(c, name);
	struct fn_ent *e = (struct fn_ent *)f;

	if (!f)
		return;
	if (self)
		f->self++;
	if (e->last != c->samples) {
		e->last = c->samples;
		f->cum++;
	}
}

void cpuprof_event(struct cpuprof *c, const struct ev_header *h)
{
	const struct ev_cpu_sample *e = (const void *)h;
	uint64_t pcs[CPU_SAMPLE_MAX_STACK];
	const struct ctr_go_sym *sym[MAX_DEPTH];
	const struct ctr_task *t;
	char unknown[48];
	bool self;
	int n;

	if (!c || h->type != EV_CPU_SAMPLE || (c->pid && h->tgid != c->pid))
		return;
	c->samples++;
	c->ns += e->period_ns;
	t = ctr_task_find(c->r, h->tgid);
	snprintf(unknown, sizeof(unknown), "(no symbol: %s)", t && t->comm[0] ? t->comm : "?");
	self = !(h->flags & CPU_SAMPLE_F_KERNEL);
	if (!self)
		count(c, "(in the kernel)", true);
	n = cpu_sample_pcs(c->r, e, pcs, CPU_SAMPLE_MAX_STACK);
	if (!n)
		count(c, "(no user stack)", self);
	for (int i = 0; i < n; i++) {
		int k = ctr_go_sym_frames(c->r, h->tgid, pcs[i], false, sym, MAX_DEPTH);

		if (!k)
			count(c, unknown, self);
		/* Inlined calls are functions of their own, as in pprof. */
		for (int j = 0; j < k; j++)
			count(c, sym[j]->func[0] ? sym[j]->func : unknown, self && !j);
		self = false;
	}
}

static int cmp_fn(const void *a, const void *b)
{
	const struct rp_cpufn *x = *(struct rp_cpufn *const *)a, *y = *(struct rp_cpufn *const *)b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	if (x->cum != y->cum)
		return x->cum < y->cum ? 1 : -1;
	return strcmp(x->func, y->func);
}

int cpuprof_finish(struct cpuprof *c, struct report *rp)
{
	size_t n = 0;

	if (!c || !c->samples)
		return c && c->oom ? -1 : 0;
	rp->cpufns = malloc(c->nfn * sizeof(*rp->cpufns));
	if (!rp->cpufns || c->oom)
		return -1;
	for (int b = 0; b < NB; b++)
		for (struct fn_ent *e = c->fn[b]; e; e = e->next)
			rp->cpufns[n++] = &e->fn;
	qsort(rp->cpufns, n, sizeof(*rp->cpufns), cmp_fn);
	rp->ncpufns = n;
	rp->cpu_samples = c->samples;
	rp->cpu_sample_ns = c->ns;
	return 0;
}

void cpuprof_free(struct cpuprof *c, struct report *rp)
{
	free(rp->cpufns);
	rp->cpufns = NULL;
	rp->ncpufns = 0;
	if (!c)
		return;
	for (int b = 0; b < NB; b++)
		while (c->fn[b]) {
			struct fn_ent *e = c->fn[b];

			c->fn[b] = e->next;
			free(e->fn.func);
			free(e);
		}
	free(c);
}
