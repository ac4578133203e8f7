/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal JSON: the string escaping every JSON writer uses, a streaming
 * writer that tracks commas and nesting (the report), and a small tree
 * parser for `diff` to read reports back.
 */
#ifndef CTRACE_JSON_H
#define CTRACE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/output.h"

/*
 * The first n bytes of s as the inside of a JSON string. Strings come from
 * the kernel and user space (comm, argv, paths) and may hold any byte:
 * control characters are escaped, and each byte that does not start a
 * well-formed UTF-8 sequence becomes \ufffd.
 */
void json_put_esc(struct out *o, const void *s, size_t n);
/* s as a quoted JSON string; _strn: at most maxlen bytes of it. */
void json_put_str(struct out *o, const char *s);
void json_put_strn(struct out *o, const char *s, size_t maxlen);
/* ns as microseconds with exactly three decimals, "-1.500"; returns buf. */
const char *json_fmt_us(char *buf, size_t len, int64_t ns);

#define JW_MAX_DEPTH 32

struct jw {
	struct out *o;
	int depth;
	bool first[JW_MAX_DEPTH];
	bool after_key;
	int indent; /* spaces per level, 0: compact */
};

void jw_init(struct jw *w, struct out *o, int indent);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_dbl(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* key + value shorthands */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_ku64(struct jw *w, const char *k, uint64_t v);
void jw_ki64(struct jw *w, const char *k, int64_t v);
void jw_kdbl(struct jw *w, const char *k, double v);
void jw_kbool(struct jw *w, const char *k, bool v);

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num;
	bool b;
	char *str;	   /* J_STR */
	char *key;	   /* member name when inside an object */
	struct jval *kids; /* J_ARR, J_OBJ: first child */
	struct jval *next; /* sibling */
};

/* Parses a whole document; NULL with a message in err on a syntax error. */
struct jval *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct jval *v);
/* Member of an object, or NULL. */
const struct jval *json_get(const struct jval *obj, const char *key);
/* The member's number, or def if missing or not a number. */
double json_num(const struct jval *obj, const char *key, double def);
const char *json_str(const struct jval *obj, const char *key);

#endif /* CTRACE_JSON_H */
