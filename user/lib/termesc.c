// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Escaping of untrusted names for terminals (termesc.h). */
#include <stdlib.h>
#include <string.h>
#include "lib/termesc.h"

/*
 * Bytes of s that print as themselves from s[0]: the length of a valid,
 * harmless UTF-8 character, or 0 when s[0] must be escaped.
 */
static int safe_len(const unsigned char *s)
{
	int n;

	if (s[0] < 0x20 || s[0] == 0x7f)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* C1 controls (U+0080..U+009F): CSI and friends on some terminals. */
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	/* Overlong forms and surrogates are not UTF-8. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

bool term_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = safe_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

void term_escape_buf(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (!len)
		return;
	while (*p) {
		int n = safe_len(p);

		if (n) {
			if (o + n >= len)
				break;
			memcpy(buf + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (o + 4 >= len)
			break;
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[*p >> 4];
		buf[o++] = hex[*p & 15];
		p++;
	}
	buf[o] = 0;
}

char *term_escape(const char *s)
{
	/* At worst every byte becomes four. */
	size_t len = strlen(s) * 4 + 1;
	char *buf = malloc(len);

	if (buf)
		term_escape_buf(s, buf, len);
	return buf;
}

void term_fputs(const char *s, FILE *f)
{
	char *e;

	if (term_safe(s)) {
		fputs(s, f);
		return;
	}
	e = term_escape(s);
	if (e)
		fputs(e, f);
	free(e);
}
