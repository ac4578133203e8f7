// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "lib/idmap.h"

#define IDMAP_MIN 64

static size_t slot_of(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: consecutive ids spread over the table. */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static size_t probe(const struct idmap *m, uint64_t key)
{
	size_t i = slot_of(key, m->cap);

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : IDMAP_MIN;
	struct idmap t = {.cap = cap, .n = m->n};

	t.keys = malloc(cap * sizeof(*t.keys));
	t.vals = malloc(cap * sizeof(*t.vals));
	t.used = calloc(cap, sizeof(*t.used));
	if (!t.keys || !t.vals || !t.used) {
		idmap_free(&t);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->used[i])
			continue;
		j = probe(&t, m->keys[i]);
		t.used[j] = true;
		t.keys[j] = m->keys[i];
		t.vals[j] = m->vals[i];
	}
	idmap_free(m);
	*m = t;
	return 0;
}

void idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	*m = (struct idmap){0};
}

size_t idmap_count(const struct idmap *m)
{
	return m->n;
}

uint64_t *idmap_find(const struct idmap *m, uint64_t key)
{
	size_t i;

	if (!m->n)
		return NULL;
	i = probe(m, key);
	return m->used[i] ? &m->vals[i] : NULL;
}

uint64_t *idmap_slot(struct idmap *m, uint64_t key, bool *added)
{
	uint64_t *v = idmap_find(m, key);
	size_t i;

	if (added)
		*added = !v;
	if (v)
		return v;
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return NULL;
	i = probe(m, key);
	m->used[i] = true;
	m->keys[i] = key;
	m->vals[i] = 0;
	m->n++;
	return &m->vals[i];
}

int idmap_put(struct idmap *m, uint64_t key, uint64_t val)
{
	uint64_t *v = idmap_slot(m, key, NULL);

	if (!v)
		return -1;
	*v = val;
	return 0;
}

void *idmap_get_ptr(const struct idmap *m, uint64_t key)
{
	uint64_t *v = idmap_find(m, key);

	return v ? (void *)(uintptr_t)*v : NULL;
}

int idmap_put_ptr(struct idmap *m, uint64_t key, void *p)
{
	return idmap_put(m, key, (uintptr_t)p);
}

bool idmap_next(const struct idmap *m, size_t *it, uint64_t *key, uint64_t *val)
{
	for (; *it < m->cap; (*it)++) {
		if (!m->used[*it])
			continue;
		if (key)
			*key = m->keys[*it];
		if (val)
			*val = m->vals[*it];
		(*it)++;
		return true;
	}
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t *idmap_sorted_keys(const struct idmap *m)
{
	uint64_t *v = malloc((m->n + 1) * sizeof(*v));
	size_t n = 0, it = 0;

	if (!v)
		return NULL;
	while (idmap_next(m, &it, &v[n], NULL))
		n++;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	return v;
}
