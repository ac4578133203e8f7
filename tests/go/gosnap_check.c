// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit test of the goroutine snapshot validator (user/go/gosnap.c's
 * gosnap_check) on crafted g windows: plausible ones pass with their fields,
 * each kind of corruption is rejected with its verdict, and random bytes
 * never pass as a goroutine unless every field is plausible. No root, no
 * target process. Prints one line per check and "N passed, N failed".
 *
 * build: cc -Iuser -I. -Ibuild tests/go/gosnap_check.c user/go/gosnap.c
 *        user/go/go_offsets_table.c user/capture/capture_write.c user/lib/util.c -lz
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "go/gosnap.h"

static int npass, nfail;

/* gosnap.c notes pcs for symbolization; nothing to symbolize here. */
void goprobe_note(struct goprobe *gp, const struct ev_header *h)
{
	(void)gp;
	(void)h;
}

static void expect(const char *what, int got, int want)
{
	if (got == want) {
		npass++;
		printf("PASS %s\n", what);
	} else {
		nfail++;
		printf("FAIL %s: verdict %d, want %d\n", what, got, want);
	}
}

#define TEXT_LO	 0x400000ull
#define TEXT_HI	 0x800000ull
#define MONO_NOW 5000000000000ull

static void put64(uint8_t *w, uint32_t off, uint64_t v)
{
	memcpy(w + off, &v, 8);
}

static void put32(uint8_t *w, uint32_t off, uint32_t v)
{
	memcpy(w + off, &v, 4);
}

/* A waiting goroutine 42 blocked on "chan receive" since a GC 2 s ago. */
static void good(const struct gosnap_view *v, uint8_t *w, int minor)
{
	int chanrecv = -1;

	for (int c = 0; c < 64; c++) {
		const char *s = go_waitreason_string(minor, c);

		if (s && !strcmp(s, "chan receive"))
			chanrecv = c;
	}
	memset(w, 0, v->win_len);
	put32(w, v->o_status, v->gs->waiting);
	put64(w, v->o_goid, 42);
	w[v->o_reason] = chanrecv;
	put64(w, v->o_waitsince, MONO_NOW - 2000000000ull);
	put64(w, v->o_startpc, TEXT_LO + 0x1000);
	put64(w, v->o_gopc, TEXT_LO + 0x2345);
}

static void check_version(int minor)
{
	const struct go_offsets *off = go_offsets_for_version(1, minor);
	struct goprobe_layout l = {.tgid = 1, .major = 1, .minor = minor};
	struct gosnap_view v;
	struct go_snap_ent e;
	uint8_t w[1024];
	char what[128];
	uint64_t g = 0xc000001000ull;

	if (!off) {
		printf("SKIP go1.%d: not in the offsets table\n", minor);
		return;
	}
	l.off = *off;
	if (gosnap_view_init(&v, &l) || v.win_len > sizeof(w)) {
		expect("view of a known version", 1, 0);
		return;
	}
	v.mono_now = MONO_NOW;
	v.text[0][0] = TEXT_LO;
	v.text[0][1] = TEXT_HI;
	v.ntext = 1;

#define CASE(name, mutate, want)                                                                   \
	do {                                                                                       \
		good(&v, w, minor);                                                                \
		mutate;                                                                            \
		snprintf(what, sizeof(what), "go1.%d %s", minor, name);                            \
		expect(what, gosnap_check(&v, g, w, &e), want);                                    \
	} while (0)

	CASE("plausible waiting g", (void)0, GSV_OK);
	snprintf(what, sizeof(what), "go1.%d fields of a plausible g", minor);
	expect(what,
	       e.goid == 42 && e.g == g && e.status == (uint32_t)v.gs->waiting &&
		   e.waitsince == (int64_t)(MONO_NOW - 2000000000ull) &&
		   e.startpc == TEXT_LO + 0x1000,
	       1);
	CASE("scan bit is cleared", put32(w, v.o_status, v.gs->waiting | v.gs->scan), GSV_OK);
	CASE("running g drops a stale waitsince and reason", put32(w, v.o_status, v.gs->running),
	     GSV_OK);
	snprintf(what, sizeof(what), "go1.%d running g has no waitsince", minor);
	expect(what, e.waitsince == 0 && e.reason == 0, 1);
	CASE("dead g is skipped", put32(w, v.o_status, v.gs->dead), GSV_SKIP);
	CASE("idle g is skipped", put32(w, v.o_status, v.gs->idle), GSV_SKIP);
	CASE("unknown status", put32(w, v.o_status, 0x77), GSV_BAD_STATUS);
	CASE("goid 0", put64(w, v.o_goid, 0), GSV_BAD_GOID);
	CASE("negative goid", put64(w, v.o_goid, (uint64_t)-5), GSV_BAD_GOID);
	CASE("absurd goid", put64(w, v.o_goid, 1ull << 50), GSV_BAD_GOID);
	CASE("start pc outside text", put64(w, v.o_startpc, 0x10), GSV_BAD_PC);
	CASE("start pc at text end", put64(w, v.o_startpc, TEXT_HI), GSV_BAD_PC);
	CASE("go pc outside text", put64(w, v.o_gopc, TEXT_HI + 8), GSV_BAD_PC);
	CASE("go pc 0 is allowed", put64(w, v.o_gopc, 0), GSV_OK);
	CASE("unknown wait reason", w[v.o_reason] = 250, GSV_BAD_REASON);
	CASE("waitsince in the future", put64(w, v.o_waitsince, MONO_NOW + 60000000000ull),
	     GSV_BAD_WAITSINCE);
	CASE("negative waitsince", put64(w, v.o_waitsince, (uint64_t)-1), GSV_BAD_WAITSINCE);
	CASE("waitsince 0 is unknown, not bad", put64(w, v.o_waitsince, 0), GSV_OK);
	good(&v, w, minor);
	snprintf(what, sizeof(what), "go1.%d misaligned g", minor);
	expect(what, gosnap_check(&v, g + 4, w, &e), GSV_BAD_G);
	snprintf(what, sizeof(what), "go1.%d null g", minor);
	expect(what, gosnap_check(&v, 0, w, &e), GSV_BAD_G);

	/* Garbage: whatever passes must be plausible in every field. */
	{
		unsigned int seed = 12345 + minor, ok = 0, bad = 0;

		for (int i = 0; i < 200000; i++) {
			enum gosnap_verdict r;

			for (uint32_t k = 0; k < v.win_len; k++)
				w[k] = rand_r(&seed);
			/* half the time, keep a valid status so later checks are reached */
			if (i & 1)
				put32(w, v.o_status, v.gs->waiting);
			r = gosnap_check(&v, g, w, &e);
			if (r != GSV_OK)
				continue;
			if (e.goid <= 0 || e.startpc < TEXT_LO || e.startpc >= TEXT_HI ||
			    e.waitsince < 0 || (uint64_t)e.waitsince > MONO_NOW + 1000000000ull)
				bad++;
			ok++;
		}
		snprintf(what, sizeof(what), "go1.%d random windows: %u accepted, all plausible",
			 minor, ok);
		expect(what, bad, 0);
	}
}

int main(void)
{
	check_version(19);
	check_version(24);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
