// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json.h"

/* ---- strings and numbers ---- */

/* Length of a well-formed UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* Exclude overlong forms, UTF-16 surrogates and code points > 0x10ffff. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void json_put_esc(struct out *o, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	char buf[512];
	size_t k = 0, i = 0, len;

	while (i < n) {
		unsigned char c = s[i];

		if (k > sizeof(buf) - 8) {
			out_write(o, buf, k);
			k = 0;
		}
		if (c == '"' || c == '\\') {
			buf[k++] = '\\';
			buf[k++] = c;
			i++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			buf[k++] = '\\';
			buf[k++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			i++;
		} else if (c < 0x20) {
			memcpy(buf + k, "\\u00", 4);
			k += 4;
			buf[k++] = hex[c >> 4];
			buf[k++] = hex[c & 15];
			i++;
		} else if (c < 0x80) {
			buf[k++] = c;
			i++;
		} else if ((len = utf8_len(s + i, n - i))) {
			memcpy(buf + k, s + i, len);
			k += len;
			i += len;
		} else {
			memcpy(buf + k, "\\ufffd", 6);
			k += 6;
			i++;
		}
	}
	out_write(o, buf, k);
}

static void put_quoted(struct out *o, const char *s, size_t n)
{
	out_putc(o, '"');
	json_put_esc(o, s, n);
	out_putc(o, '"');
}

void json_put_str(struct out *o, const char *s)
{
	put_quoted(o, s, strlen(s));
}

void json_put_strn(struct out *o, const char *s, size_t maxlen)
{
	put_quoted(o, s, strnlen(s, maxlen));
}

const char *json_fmt_us(char *buf, size_t len, int64_t ns)
{
	uint64_t a = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;

	snprintf(buf, len, "%s%" PRIu64 ".%03u", ns < 0 ? "-" : "", a / 1000, (unsigned)(a % 1000));
	return buf;
}

/* ---- writer ---- */

void jw_init(struct jw *w, struct out *o, int indent)
{
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->indent = indent;
	w->first[0] = true;
}

static void newline(struct jw *w)
{
	if (!w->indent)
		return;
	out_printf(w->o, "\n%*s", w->depth * w->indent, "");
}

/* Comma and indentation before a value or a key. */
static void pre(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		out_putc(w->o, ',');
	if (w->depth)
		newline(w);
	w->first[w->depth] = false;
}

static void open(struct jw *w, char c)
{
	pre(w);
	out_putc(w->o, c);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth)
		w->depth--;
	if (!empty)
		newline(w);
	out_putc(w->o, c);
	if (!w->depth && w->indent)
		out_putc(w->o, '\n');
}

void jw_obj(struct jw *w)
{
	open(w, '{');
}

void jw_obj_end(struct jw *w)
{
	close_(w, '}');
}

void jw_arr(struct jw *w)
{
	open(w, '[');
}

void jw_arr_end(struct jw *w)
{
	close_(w, ']');
}

void jw_key(struct jw *w, const char *k)
{
	pre(w);
	json_put_str(w->o, k);
	out_puts(w->o, w->indent ? ": " : ":");
	w->after_key = true;
}

void jw_str(struct jw *w, const char *s)
{
	pre(w);
	json_put_str(w->o, s ? s : "");
}

void jw_u64(struct jw *w, uint64_t v)
{
	pre(w);
	out_printf(w->o, "%" PRIu64, v);
}

void jw_i64(struct jw *w, int64_t v)
{
	pre(w);
	out_printf(w->o, "%" PRId64, v);
}

void jw_dbl(struct jw *w, double v)
{
	pre(w);
	if (isfinite(v))
		out_printf(w->o, "%.6g", v);
	else
		out_puts(w->o, "null");
}

void jw_bool(struct jw *w, bool v)
{
	pre(w);
	out_puts(w->o, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	pre(w);
	out_puts(w->o, "null");
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void jw_ku64(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

void jw_ki64(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_i64(w, v);
}

void jw_kdbl(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_dbl(w, v);
}

void jw_kbool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

/* ---- parser ---- */

struct jp {
	const char *s, *end;
	char *err;
	size_t errlen;
	int depth;
};

static void jp_fail(struct jp *p, const char *what)
{
	if (p->err && !p->err[0])
		snprintf(p->err, p->errlen, "%s", what);
}

static void ws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static void put_utf8(char **o, unsigned int cp)
{
	char *q = *o;

	if (cp < 0x80) {
		*q++ = cp;
	} else if (cp < 0x800) {
		*q++ = 0xc0 | cp >> 6;
		*q++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*q++ = 0xe0 | cp >> 12;
		*q++ = 0x80 | (cp >> 6 & 0x3f);
		*q++ = 0x80 | (cp & 0x3f);
	} else {
		*q++ = 0xf0 | cp >> 18;
		*q++ = 0x80 | (cp >> 12 & 0x3f);
		*q++ = 0x80 | (cp >> 6 & 0x3f);
		*q++ = 0x80 | (cp & 0x3f);
	}
	*o = q;
}

static int hex4(const char *s, unsigned int *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static char *parse_string(struct jp *p)
{
	const char *s = ++p->s; /* past the quote */
	char *out, *o;

	while (p->s < p->end && *p->s != '"') {
		if (*p->s == '\\')
			p->s++;
		p->s++;
	}
	if (p->s >= p->end) {
		jp_fail(p, "unterminated string");
		return NULL;
	}
	/* Escapes only shrink, so the raw length is enough. */
	out = o = malloc(p->s - s + 1);
	if (!out)
		return NULL;
	for (const char *q = s; q < p->s; q++) {
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		q++;
		switch (*q) {
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'u': {
			unsigned int cp;

			if (p->s - q < 5 || hex4(q + 1, &cp)) {
				free(out);
				jp_fail(p, "bad \\u escape");
				return NULL;
			}
			q += 4;
			put_utf8(&o, cp);
			break;
		}
		default:
			*o++ = *q;
		}
	}
	*o = 0;
	p->s++;
	return out;
}

static struct jval *parse_value(struct jp *p);

static struct jval *parse_container(struct jp *p, struct jval *v, char close)
{
	struct jval **tail = &v->kids;

	p->s++;
	ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jval *kid;

		ws(p);
		if (close == '}') {
			if (p->s >= p->end || *p->s != '"') {
				jp_fail(p, "expected a member name");
				return NULL;
			}
			key = parse_string(p);
			if (!key)
				return NULL;
			ws(p);
			if (p->s >= p->end || *p->s != ':') {
				free(key);
				jp_fail(p, "expected ':'");
				return NULL;
			}
			p->s++;
		}
		kid = parse_value(p);
		if (!kid) {
			free(key);
			return NULL;
		}
		kid->key = key;
		*tail = kid;
		tail = &kid->next;
		ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return v;
		}
		jp_fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		return NULL;
	}
}

static struct jval *parse_value(struct jp *p)
{
	struct jval *v;

	ws(p);
	if (p->s >= p->end) {
		jp_fail(p, "unexpected end");
		return NULL;
	}
	if (++p->depth > 200) {
		jp_fail(p, "nested too deeply");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	switch (*p->s) {
	case '{':
	case '[':
		v->type = *p->s == '{' ? J_OBJ : J_ARR;
		if (!parse_container(p, v, *p->s == '{' ? '}' : ']')) {
			json_free(v);
			return NULL;
		}
		break;
	case '"':
		v->type = J_STR;
		v->str = parse_string(p);
		if (!v->str) {
			free(v);
			return NULL;
		}
		break;
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = {"true", "false", "null"};
		int i = *p->s == 't' ? 0 : *p->s == 'f' ? 1 : 2;
		size_t n = strlen(words[i]);

		if ((size_t)(p->end - p->s) < n || strncmp(p->s, words[i], n)) {
			free(v);
			jp_fail(p, "bad literal");
			return NULL;
		}
		p->s += n;
		v->type = i == 2 ? J_NULL : J_BOOL;
		v->b = i == 0;
		break;
	}
	default: {
		char buf[64], *end;
		size_t n = 0;

		while (p->s + n < p->end && n < sizeof(buf) - 1 &&
		       strchr("+-0123456789.eE", p->s[n]))
			n++;
		memcpy(buf, p->s, n);
		buf[n] = 0;
		v->num = strtod(buf, &end);
		if (!n || *end) {
			free(v);
			jp_fail(p, "unexpected character");
			return NULL;
		}
		/* 1e999: readers convert numbers to integers, which infinity breaks. */
		if (!isfinite(v->num)) {
			free(v);
			jp_fail(p, "number out of range");
			return NULL;
		}
		v->type = J_NUM;
		p->s += n;
	}
	}
	p->depth--;
	return v;
}

struct jval *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct jp p = {.s = text, .end = text + len, .err = err, .errlen = errlen};
	const char *start = text;
	struct jval *v;

	if (err && errlen)
		err[0] = 0;
	v = parse_value(&p);
	if (v) {
		ws(&p);
		if (p.s != p.end) {
			json_free(v);
			v = NULL;
			if (err && errlen)
				snprintf(err, errlen, "trailing data at byte %td", p.s - start);
		}
	} else if (err && errlen) {
		char what[160];

		snprintf(what, sizeof(what), "%s", err[0] ? err : "invalid JSON");
		snprintf(err, errlen, "%s at byte %td", what, p.s - start);
	}
	return v;
}

void json_free(struct jval *v)
{
	while (v) {
		struct jval *next = v->next;

		json_free(v->kids);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct jval *json_get(const struct jval *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (const struct jval *k = obj->kids; k; k = k->next)
		if (k->key && !strcmp(k->key, key))
			return k;
	return NULL;
}

double json_num(const struct jval *obj, const char *key, double def)
{
	const struct jval *v = json_get(obj, key);

	return v && v->type == J_NUM ? v->num : def;
}

const char *json_str(const struct jval *obj, const char *key)
{
	const struct jval *v = json_get(obj, key);

	return v && v->type == J_STR ? v->str : NULL;
}
