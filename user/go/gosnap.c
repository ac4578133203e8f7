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
	uint64_t *arr; /* allgs, GOSNAP_MAX_G entries */
	uint8_t *win;  /* GOSNAP_BATCH windows */
	size_t win_cap;
	struct go_snap_ent *ents; /* GOSNAP_MAX_G */
	struct gosnap_totals tot;
	struct iovec liov[GOSNAP_BATCH], riov[GOSNAP_BATCH];
	uint64_t gaddr[GOSNAP_BATCH];
};

struct gosnap *gosnap_new(void)
{
	struct gosnap *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* Allocated once: the collector's memory stays flat however long it runs. */
	s->arr = malloc(GOSNAP_MAX_G * sizeof(*s->arr));
	s->ents = malloc(GOSNAP_MAX_G * sizeof(*s->ents));
	if (!s->arr || !s->ents) {
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
	free(s->ents);
	free(s->win);
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

/* Checks windows [from, to) of the batch just read. */
static void check_batch_range(struct gosnap *s, const struct gosnap_view *v, int from, int to,
			      struct snapcount *c)
{
	for (int i = from; i < to; i++) {
		enum gosnap_verdict r =
		    gosnap_check(v, s->gaddr[i], s->win + (size_t)i * v->win_len, &s->ents[c->ok]);

		if (r == GSV_OK)
			c->ok++;
		else if (r == GSV_SKIP)
			c->skipped++;
		else
			c->implausible++;
	}
}

/*
 * Reads the windows of up to GOSNAP_BATCH g's per syscall. The kernel stops
 * at the first iovec it cannot read and never splits one, so a short read
 * says which g failed: it is counted and the batch goes on after it.
 */
static int read_gs(struct gosnap *s, pid_t tgid, const struct gosnap_view *v, uint64_t n,
		   struct snapcount *c)
{
	uint64_t i = 0;

	while (i < n) {
		int nb = 0, done = 0;

		for (; i < n && nb < GOSNAP_BATCH; i++) {
			if (!s->arr[i] || (s->arr[i] & 7)) {
				c->implausible++;
				continue;
			}
			s->gaddr[nb] = s->arr[i];
			s->liov[nb] = (struct iovec){s->win + (size_t)nb * v->win_len, v->win_len};
			s->riov[nb] =
			    (struct iovec){(void *)(uintptr_t)(s->arr[i] + v->win_off), v->win_len};
			nb++;
		}
		while (done < nb) {
			ssize_t got = process_vm_readv(tgid, s->liov + done, nb - done,
						       s->riov + done, nb - done, 0);
			int k;

			if (got < 0 && errno == ESRCH)
				return -ESRCH;
			k = got < 0 ? 0 : (int)(got / v->win_len);
			check_batch_range(s, v, done, done + k, c);
			done += k;
			if (done < nb) {
				c->unreadable++; /* the iovec at done failed */
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

static int ensure_win(struct gosnap *s, uint32_t len)
{
	size_t need = (size_t)GOSNAP_BATCH * len;

	if (need <= s->win_cap)
		return 0;
	free(s->win);
	s->win = malloc(need);
	s->win_cap = s->win ? need : 0;
	return s->win ? 0 : -ENOMEM;
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

	if (!p || ensure_win(s, p->v.win_len)) {
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
