// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Goroutine snapshots read from a running Go process's memory. The process
 * is never stopped, so a g may change while it is read: every g is checked
 * (gosnap_check) and what is implausible is dropped and counted, never
 * guessed at. Cost: one process_vm_readv for allgs' slice header, one for
 * the array, then one per GOSNAP_BATCH g's (a window of each g holding the
 * fields used), whatever the number of goroutines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>
#include "capture/capture.h"
#include "go/gosnap.h"
#include "lib/util.h"

/* iovecs per process_vm_readv: the kernel's UIO_MAXIOV. */
#define GOSNAP_BATCH 1024
/* Bytes one process_vm_readv reads at most, and one range. */
#define GOSNAP_BUF   (1u << 20)
#define GOSNAP_RANGE (64u << 10)
/* g windows closer than this are read as one range (a g is about 400 bytes). */
#define GOSNAP_MERGE_GAP 1024
/* The window read from each g: the fields used are within the first 400 bytes. */
#define GOSNAP_MAX_WIN 1024
/* A goid beyond this is garbage: 2^40 goroutines is centuries of creating them. */
#define GOID_MAX (1ll << 40)
/* waitsince later than the read by more than this is garbage. */
#define WAITSINCE_SLACK_NS 1000000000ll
/* allgs longer than this is a torn slice header, not a process. */
#define ALLGLEN_MAX 50000000ull

struct snapproc {
	pid_t tgid;
	uint32_t seq;
	struct gosnap_view v;
};

struct gosnap {
	struct snapproc procs[GO_MAX_PROCS];
	int nprocs;
	uint64_t *arr;		  /* allgs, GOSNAP_MAX_G entries, then sorted */
	uint32_t *goff;		  /* per g: where its window is in buf */
	uint8_t *buf;		  /* GOSNAP_BUF: what one syscall reads */
	struct go_snap_ent *ents; /* GOSNAP_MAX_G */
	struct gosnap_totals tot;
	struct iovec liov[GOSNAP_BATCH], riov[GOSNAP_BATCH];
	uint64_t rfirst[GOSNAP_BATCH + 1]; /* first g of each range */
};

struct gosnap *gosnap_new(void)
{
	struct gosnap *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* Allocated once: the collector's memory stays flat however long it runs. */
	s->arr = malloc(GOSNAP_MAX_G * sizeof(*s->arr));
	s->goff = malloc(GOSNAP_MAX_G * sizeof(*s->goff));
	s->buf = malloc(GOSNAP_BUF);
	s->ents = malloc(GOSNAP_MAX_G * sizeof(*s->ents));
	if (!s->arr || !s->goff || !s->buf || !s->ents) {
		gosnap_free(s);
		return NULL;
	}
	return s;
}

void gosnap_free(struct gosnap *s)
{
	if (!s)
		return;
	free(s->arr);
	free(s->goff);
	free(s->buf);
	free(s->ents);
	free(s);
}

void gosnap_totals(const struct gosnap *s, struct gosnap_totals *t)
{
	if (s)
		*t = s->tot;
	else
		memset(t, 0, sizeof(*t));
}

int gosnap_view_init(struct gosnap_view *v, const struct goprobe_layout *l)
{
	const struct go_offsets *o = &l->off;
	const int32_t offs[] = {o->g_atomicstatus, o->g_goid,	 o->g_waitreason,
				o->g_waitsince,	   o->g_startpc, o->g_gopc};
	const int32_t sizes[] = {4, 8, 1, 8, 8, 8};
	int32_t lo = INT32_MAX, hi = 0;

	memset(v, 0, sizeof(*v));
	v->minor = l->minor;
	v->gs = go_gstatus_for_version(l->major, l->minor);
	if (!v->gs)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		if (offs[i] < 0)
			return -EINVAL;
		if (offs[i] < lo)
			lo = offs[i];
		if (offs[i] + sizes[i] > hi)
			hi = offs[i] + sizes[i];
	}
	v->win_off = lo;
	v->win_len = (hi - lo + 7) & ~7;
	if (v->win_len > GOSNAP_MAX_WIN)
		return -EINVAL;
	v->o_status = o->g_atomicstatus - lo;
	v->o_goid = o->g_goid - lo;
	v->o_reason = o->g_waitreason - lo;
	v->o_waitsince = o->g_waitsince - lo;
	v->o_startpc = o->g_startpc - lo;
	v->o_gopc = o->g_gopc - lo;
	return 0;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return x;
}

static bool in_text(const struct gosnap_view *v, uint64_t pc)
{
	for (int i = 0; i < v->ntext; i++)
		if (pc >= v->text[i][0] && pc < v->text[i][1])
			return true;
	return false;
}

static bool status_known(const struct go_gstatus *gs, uint32_t st)
{
	const int32_t known[] = {gs->runnable, gs->running,   gs->syscall,
				 gs->waiting,  gs->copystack, gs->preempted};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (st == (uint32_t)known[i])
			return true;
	return false;
}

enum gosnap_verdict gosnap_check(const struct gosnap_view *v, uint64_t g, const uint8_t *win,
				 struct go_snap_ent *out)
{
	uint32_t raw, st;
	int64_t goid, since;
	uint64_t startpc, gopc;
	uint8_t reason = win[v->o_reason];

	if (!g || (g & 7))
		return GSV_BAD_G;
	memcpy(&raw, win + v->o_status, 4);
	st = raw & ~(uint32_t)v->gs->scan;
	if (st == (uint32_t)v->gs->idle || st == (uint32_t)v->gs->dead)
		return GSV_SKIP;
	if (!status_known(v->gs, st))
		return GSV_BAD_STATUS;
	goid = (int64_t)rd64(win + v->o_goid);
	if (goid <= 0 || goid > GOID_MAX)
		return GSV_BAD_GOID;
	startpc = rd64(win + v->o_startpc);
	gopc = rd64(win + v->o_gopc);
	if (!in_text(v, startpc) || (gopc && !in_text(v, gopc)))
		return GSV_BAD_PC;
	if (st == (uint32_t)v->gs->waiting && !go_waitreason_string(v->minor, reason))
		return GSV_BAD_REASON;
	since = (int64_t)rd64(win + v->o_waitsince);
	if (since < 0 || (uint64_t)since > v->mono_now + WAITSINCE_SLACK_NS)
		return GSV_BAD_WAITSINCE;
	/* Stale outside a wait: the runtime only clears it when the g runs. */
	if (st != (uint32_t)v->gs->waiting && st != (uint32_t)v->gs->syscall)
		since = 0;
	*out = (struct go_snap_ent){
	    .g = g,
	    .goid = goid,
	    .waitsince = since,
	    .startpc = startpc,
	    .gopc = gopc,
	    .status = st,
	    .reason = st == (uint32_t)v->gs->waiting ? reason : 0,
	};
	return GSV_OK;
}

/* Executable mappings of the process's binary: where start pcs may point. */
static void read_text(struct gosnap_view *v, pid_t tgid)
{
	char path[64], exe[512], line[1024];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", tgid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", tgid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && v->ntext < GOSNAP_MAX_TEXT) {
		unsigned long long lo, hi;
		char perms[8], *file = strchr(line, '/');

		if (!file || sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x')
			continue;
		file[strcspn(file, "\n")] = 0;
		if (!strcmp(file, exe)) {
			v->text[v->ntext][0] = lo;
			v->text[v->ntext][1] = hi;
			v->ntext++;
		}
	}
	fclose(f);
}

static struct snapproc *proc_get(struct gosnap *s, const struct goprobe_layout *l)
{
	struct snapproc *p;

	for (int i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == l->tgid)
			return &s->procs[i];
	if (s->nprocs == GO_MAX_PROCS)
		return NULL;
	p = &s->procs[s->nprocs];
	memset(p, 0, sizeof(*p));
	if (gosnap_view_init(&p->v, l))
		return NULL;
	read_text(&p->v, l->tgid);
	if (!p->v.ntext)
		return NULL;
	p->tgid = l->tgid;
	s->nprocs++;
	return p;
}

static int vm_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec li = {buf, len}, ri = {(void *)(uintptr_t)addr, len};
	ssize_t n = process_vm_readv(pid, &li, 1, &ri, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EFAULT;
}

/* Reads allgs: its length (capped) into *n, the g pointers into s->arr. */
static int read_allgs(struct gosnap *s, const struct goprobe_layout *l, uint64_t *n, bool *capped)
{
	uint64_t hdr[2];
	int rc = vm_read(l->tgid, l->allgs, hdr, sizeof(hdr));

	if (rc)
		return rc;
	if (hdr[1] > ALLGLEN_MAX || (hdr[1] && !hdr[0]))
		return -EFAULT;
	*capped = hdr[1] > GOSNAP_MAX_G;
	*n = *capped ? GOSNAP_MAX_G : hdr[1];
	return *n ? vm_read(l->tgid, hdr[0], s->arr, *n * 8) : 0;
}

struct snapcount {
	uint32_t ok, implausible, unreadable, skipped;
};

static void check_one(struct gosnap *s, const struct gosnap_view *v, uint64_t g, const uint8_t *win,
		      struct snapcount *c)
{
	enum gosnap_verdict r = gosnap_check(v, g, win, &s->ents[c->ok]);

	if (r == GSV_OK)
		c->ok++;
	else if (r == GSV_SKIP)
		c->skipped++;
	else
		c->implausible++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Drops null and misaligned pointers (counted), sorts the rest by address. */
static uint64_t sort_gs(struct gosnap *s, uint64_t n, struct snapcount *c)
{
	uint64_t k = 0;

	for (uint64_t i = 0; i < n; i++) {
		if (!s->arr[i] || (s->arr[i] & 7))
			c->implausible++;
		else
			s->arr[k++] = s->arr[i];
	}
	qsort(s->arr, k, sizeof(*s->arr), cmp_u64);
	return k;
}

/*
 * Plans one process_vm_readv from g i on: g's allocated next to each other
 * (the runtime takes them from the same spans) are read as one range, so a
 * syscall covers thousands of g's in a few iovecs. Returns the next g.
 */
static uint64_t plan_batch(struct gosnap *s, const struct gosnap_view *v, uint64_t i, uint64_t n,
			   int *nranges)
{
	uint32_t used = 0;
	int nr = 0;

	while (i < n && nr < GOSNAP_BATCH && used + v->win_len <= GOSNAP_BUF) {
		uint64_t lo = s->arr[i] + v->win_off, hi = lo + v->win_len, j = i;

		for (; j < n; j++) {
			uint64_t a = s->arr[j] + v->win_off;

			if (j > i &&
			    (a > hi + GOSNAP_MERGE_GAP || a + v->win_len - lo > GOSNAP_RANGE ||
			     used + (a + v->win_len - lo) > GOSNAP_BUF))
				break;
			s->goff[j] = used + (uint32_t)(a - lo);
			if (a + v->win_len > hi)
				hi = a + v->win_len;
		}
		s->rfirst[nr] = i;
		s->liov[nr] = (struct iovec){s->buf + used, hi - lo};
		s->riov[nr] = (struct iovec){(void *)(uintptr_t)lo, hi - lo};
		used += hi - lo;
		nr++;
		i = j;
	}
	s->rfirst[nr] = i;
	*nranges = nr;
	return i;
}

/* A range the kernel could not read (a g freed and unmapped?): its g's one by one. */
static void read_singly(struct gosnap *s, pid_t tgid, const struct gosnap_view *v, uint64_t from,
			uint64_t to, struct snapcount *c)
{
	uint8_t win[GOSNAP_MAX_WIN];

	for (uint64_t k = from; k < to; k++) {
		if (vm_read(tgid, s->arr[k] + v->win_off, win, v->win_len))
			c->unreadable++;
		else
			check_one(s, v, s->arr[k], win, c);
	}
}

/*
 * Reads the g's: a few syscalls of up to GOSNAP_BATCH ranges each. The
 * kernel stops at the first range it cannot read, so a short read says
 * which one failed; its g's are read singly and the batch goes on after it.
 */
static int read_gs(struct gosnap *s, pid_t tgid, const struct gosnap_view *v, uint64_t n,
		   struct snapcount *c)
{
	uint64_t i = 0;

	n = sort_gs(s, n, c);
	while (i < n) {
		int nr, done = 0;

		i = plan_batch(s, v, i, n, &nr);
		while (done < nr) {
			ssize_t got = process_vm_readv(tgid, s->liov + done, nr - done,
						       s->riov + done, nr - done, 0);
			int k = done;

			if (got < 0 && errno == ESRCH)
				return -ESRCH;
			while (k < nr && got >= (ssize_t)s->riov[k].iov_len)
				got -= s->riov[k++].iov_len;
			for (uint64_t g = s->rfirst[done]; g < s->rfirst[k]; g++)
				check_one(s, v, s->arr[g], s->buf + s->goff[g], c);
			done = k;
			if (done < nr) {
				read_singly(s, tgid, v, s->rfirst[done], s->rfirst[done + 1], c);
				done++;
			}
		}
	}
	return 0;
}

static int cmp_goid(const void *a, const void *b)
{
	const struct go_snap_ent *x = a, *y = b;

	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

/*
 * Goid order (stable output), and a goid seen twice is a g caught while
 * being reused: both copies are dropped as implausible.
 */
static void sort_dedup(struct gosnap *s, struct snapcount *c)
{
	uint32_t k = 0;

	qsort(s->ents, c->ok, sizeof(*s->ents), cmp_goid);
	for (uint32_t i = 0; i < c->ok;) {
		uint32_t j = i + 1;

		while (j < c->ok && s->ents[j].goid == s->ents[i].goid)
			j++;
		if (j - i == 1)
			s->ents[k++] = s->ents[i];
		else
			c->implausible += j - i;
		i = j;
	}
	c->ok = k;
}

/* One snapshot as chunks of at most GO_SNAP_MAX_CHUNK entries. */
static int write_chunks(struct gosnap *s, struct goprobe *gp, struct rec_go_snap *hdr,
			struct ctr_writer *w)
{
	static union {
		struct rec_go_snap r;
		char buf[sizeof(struct rec_go_snap) +
			 GO_SNAP_MAX_CHUNK * sizeof(struct go_snap_ent)];
	} u;
	uint32_t off = 0;
	uint16_t chunk = 0;

	do {
		uint32_t n = hdr->total - off;

		if (n > GO_SNAP_MAX_CHUNK)
			n = GO_SNAP_MAX_CHUNK;
		u.r = *hdr;
		u.r.count = n;
		u.r.chunk = chunk++;
		u.r.h.flags |=
		    (off == 0 ? GO_SNAP_FIRST : 0) | (off + n == hdr->total ? GO_SNAP_LAST : 0);
		u.r.h.size = sizeof(u.r) + n * sizeof(struct go_snap_ent);
		memcpy(u.r.ent, s->ents + off, n * sizeof(struct go_snap_ent));
		if (ctr_writer_add(w, &u))
			return -EIO;
		/* their start functions are symbolized at the end, like probe records */
		goprobe_note(gp, &u.r.h);
		off += n;
	} while (off < hdr->total);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

int gosnap_take(struct gosnap *s, struct goprobe *gp, const struct goprobe_layout *l,
		struct ctr_writer *w)
{
	struct snapproc *p = proc_get(s, l);
	struct rec_go_snap hdr = {0};
	struct snapcount c = {0};
	uint64_t n = 0, t0;
	bool capped = false;
	int rc;

	if (!p) {
		s->tot.failed++;
		return -EINVAL;
	}
	hdr.h.ts = now_boot_ns();
	p->v.mono_now = t0 = mono_ns();
	rc = read_allgs(s, l, &n, &capped);
	if (!rc)
		rc = read_gs(s, l->tgid, &p->v, n, &c);
	if (rc) {
		/* A process that exited is not a failed read. */
		s->tot.failed += rc != -ESRCH;
		return rc;
	}
	sort_dedup(s, &c);
	hdr.h.type = REC_GO_SNAP;
	hdr.h.tid = hdr.h.tgid = l->tgid;
	hdr.h.flags = capped ? GO_SNAP_CAPPED : 0;
	hdr.seq = ++p->seq;
	hdr.mono_ts = t0;
	hdr.read_us = (mono_ns() - t0) / 1000;
	hdr.allglen = n;
	hdr.total = c.ok;
	hdr.implausible = c.implausible;
	hdr.unreadable = c.unreadable;
	hdr.skipped = c.skipped;
	s->tot.snapshots++;
	s->tot.goroutines += c.ok;
	s->tot.implausible += c.implausible;
	s->tot.unreadable += c.unreadable;
	s->tot.capped += capped;
	s->tot.sum_read_us += hdr.read_us;
	if (hdr.read_us > s->tot.max_read_us)
		s->tot.max_read_us = hdr.read_us;
	return write_chunks(s, gp, &hdr, w);
}
