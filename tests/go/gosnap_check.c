// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit test of the goroutine snapshot validator (user/go/gosnap.c's
 * gosnap_check) on crafted g windows: plausible ones pass with their fields,
 * each kind of corruption is rejected with its verdict, and random bytes
 * never pass as a goroutine unless every field is plausible. With a path,
 * also the whole read path (process_vm_readv, ranges, unreadable g's, goid
 * dedup, chunks) on fake goroutines in this process's own memory, into a
 * capture there. No root, no Go. Prints one line per check and
 * "N passed, N failed".
 *
 * usage: gosnap_check [CAPTURE [NGOROUTINES]]
 *
 * build: cc -Iuser -I. -Ibuild tests/go/gosnap_check.c user/go/gosnap.c
 *        user/go/go_offsets_table.c user/capture/capture_write.c user/capture/codec.c
 *        user/lib/output.c user/lib/termesc.c user/lib/util.c -lz -lzstd
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "capture/capture.h"
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

/* Garbage: whatever passes must be plausible in every field. */
static void check_random(const struct gosnap_view *vp, uint8_t *w, int minor)
{
	const struct gosnap_view v = *vp;
	uint64_t g = 0xc000001000ull;
	struct go_snap_ent e;
	char what[128];
	unsigned int seed = 12345 + minor, ok = 0, bad = 0;

	for (int i = 0; i < 200000; i++) {
		enum gosnap_verdict r;

		for (uint32_t k = 0; k < v.win_len; k++)
			w[k] = rand_r(&seed);
		/* half the time, keep the fields checked first plausible, so that
		 * the later checks meet random values too */
		if (i & 1) {
			put32(w, v.o_status, v.gs->waiting);
			put64(w, v.o_goid, 1 + rand_r(&seed) % 100000);
			put64(w, v.o_startpc, TEXT_LO + rand_r(&seed) % (TEXT_HI - TEXT_LO));
			put64(w, v.o_gopc, 0);
			put64(w, v.o_waitsince, (uint64_t)rand_r(&seed) * 4000 - 4000000000ull);
		}
		r = gosnap_check(&v, g, w, &e);
		if (r != GSV_OK)
			continue;
		if (e.goid <= 0 || e.startpc < TEXT_LO || e.startpc >= TEXT_HI || e.waitsince < 0 ||
		    (uint64_t)e.waitsince > MONO_NOW + 1000000000ull)
			bad++;
		ok++;
	}
	snprintf(what, sizeof(what), "go1.%d random windows: %u accepted, all plausible", minor,
		 ok);
	expect(what, bad, 0);
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

	check_random(&v, w, minor);
}

/*
 * The whole read path on this very process: a fake allgs of n g's laid out
 * as go1.24 lays them, with corrupted, duplicated, dead, null and unmapped
 * ones mixed in, snapshotted through process_vm_readv into a capture at
 * path (which the Python test decodes). The totals must count each kind.
 */
static void check_take(const char *path, uint32_t n)
{
	const struct go_offsets *off = go_offsets_for_version(1, 24);
	struct goprobe_layout l = {.tgid = getpid(), .major = 1, .minor = 24};
	uint64_t allgs[3], *arr = calloc(n, 8);
	uint8_t *gs = calloc(n, off->g_size);
	uint32_t want_ok = 0, want_bad = 0, want_unread = 0, want_skip = 0;
	uint64_t pc = (uint64_t)(uintptr_t)&check_take; /* in this binary's text */
	void *hole = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct gosnap *s = gosnap_new();
	struct ctr_writer *w = ctr_writer_open(path);
	struct gosnap_totals t;
	char what[160];

	munmap(hole, 4096); /* now an address nobody can read */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *g = gs + (size_t)i * off->g_size;

		arr[i] = (uint64_t)(uintptr_t)g;
		put32(g, off->g_atomicstatus, 4); /* _Gwaiting */
		put64(g, off->g_goid, i + 1);
		g[off->g_waitreason] = 14; /* go1.24: "chan receive" */
		put64(g, off->g_startpc, pc);
		put64(g, off->g_gopc, pc + 4);
		if (i % 100 == 7) {
			put64(g, off->g_goid, 0), want_bad++;
		} else if (i % 250 == 11) {
			arr[i] = (uint64_t)(uintptr_t)hole + 64, want_unread++;
		} else if (i % 300 == 13) {
			put32(g, off->g_atomicstatus, 6), want_skip++; /* _Gdead */
		} else if (i == 5) {
			arr[i] = 0, want_bad++;
		} else if (i == 6) {
			put64(g, off->g_goid, 5), want_bad += 2; /* same goid as g 4: both go */
			want_ok--;
		} else {
			want_ok++;
		}
	}
	/* the wait reason used must be one this version knows */
	if (!go_waitreason_string(24, 14)) {
		expect("take: go1.24 knows wait reason 14", 0, 1);
		return;
	}
	allgs[0] = (uint64_t)(uintptr_t)arr;
	allgs[1] = allgs[2] = n;
	l.allgs = (uint64_t)(uintptr_t)allgs;
	l.off = *off;
	snprintf(what, sizeof(what), "take: snapshot of %u fake g's", n);
	expect(what, s && w ? gosnap_take(s, NULL, &l, w) : -1, 0);
	gosnap_totals(s, &t);
	snprintf(what, sizeof(what),
		 "take: %llu ok, %llu implausible, %llu unreadable (want %u, %u, %u; %u dead)",
		 (unsigned long long)t.goroutines, (unsigned long long)t.implausible,
		 (unsigned long long)t.unreadable, want_ok, want_bad, want_unread, want_skip);
	expect(what,
	       t.goroutines == want_ok && t.implausible == want_bad && t.unreadable == want_unread,
	       1);
	expect("take: capture written", ctr_writer_close(w), 0);
	gosnap_free(s);
	free(arr);
	free(gs);
}

int main(int argc, char **argv)
{
	check_version(19);
	check_version(24);
	if (argc > 1)
		check_take(argv[1], argc > 2 ? atoi(argv[2]) : 3000);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
