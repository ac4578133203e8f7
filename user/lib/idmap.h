/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small map from 64-bit ids (tids, tgids, ...) to a 64-bit value or a
 * pointer: open addressing with linear probing, grown at half full. No
 * removal: the tables it serves only gain entries while a capture is read.
 */
#ifndef CTRACE_IDMAP_H
#define CTRACE_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap {
	uint64_t *keys;
	uint64_t *vals;
	bool *used;
	size_t cap, n;
};

/* A zeroed struct idmap is an empty map; idmap_free() makes it one again. */
void idmap_free(struct idmap *m);
size_t idmap_count(const struct idmap *m);
/* The value slot of key, or NULL if key is absent. */
uint64_t *idmap_find(const struct idmap *m, uint64_t key);
/*
 * The value slot of key, added with value 0 if absent (*added tells, may be
 * NULL). NULL when memory runs out. Slots move when the map grows.
 */
uint64_t *idmap_slot(struct idmap *m, uint64_t key, bool *added);
/* Sets key to val; -1 when memory runs out. */
int idmap_put(struct idmap *m, uint64_t key, uint64_t val);

/* Pointer values. */
void *idmap_get_ptr(const struct idmap *m, uint64_t key);
int idmap_put_ptr(struct idmap *m, uint64_t key, void *p);

/*
 * Iteration in slot order (not key order): start with *it = 0; returns
 * false at the end. The map must not change meanwhile.
 */
bool idmap_next(const struct idmap *m, size_t *it, uint64_t *key, uint64_t *val);

/*
 * The keys in ascending order, in a new array of idmap_count() entries for
 * the caller to free; NULL when memory runs out. For walks whose order shows
 * in an output: slot order depends on the table's history.
 */
uint64_t *idmap_sorted_keys(const struct idmap *m);

#endif /* CTRACE_IDMAP_H */
