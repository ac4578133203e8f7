// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "record/tracer.h" /* bpf/ctrace.h first: the skeleton's .bss names its types */
#include "ctrace.skel.h"
#include "lib/util.h"

/*
 * Per-CPU ring size: up to 32 MiB (about half a second of a busy CPU's
 * records), but at most 128 MiB of locked kernel memory over all CPUs, and
 * never under 4 MiB. Ring sizes are powers of two.
 */
static unsigned int ring_bytes(int ncpus)
{
	unsigned int sz = 32u << 20;

	while (sz > (4u << 20) && (unsigned long long)sz * ncpus > (128ull << 20))
		sz >>= 1;
	return sz;
}

struct tracer {
	struct ctrace_bpf *skel;
	struct ring_buffer *rb;
	int *ring_fds;
	int nrings;
	int ncpus;
	struct stage *stages; /* the stages map, mmapped: one per CPU */
	size_t stages_len;
	struct stage taken;  /* a batch copied out of a stage */
	uint64_t pending_ts; /* oldest record seen in a stage held by a handler */
	struct tracer_opts opts;
	/* tracer_flush(): CPUs that have switched after flush_after, in the rings read */
	bool flushing;
	uint64_t flush_after;
	bool *switched;
};

/* libbpf's last complaint, to name the failing program in our one line. */
static char last_log[512];
static bool log_verbose;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (log_verbose) {
		va_list aq;

		va_copy(aq, ap);
		vfprintf(stderr, fmt, aq);
		va_end(aq);
	}
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	/* Keep the line that names a program; the verifier dump follows it. */
	if (strstr(buf, "prog '") || !last_log[0])
		snprintf(last_log, sizeof(last_log), "%s", buf);
	return 0;
}

/* One record read: tracer_flush() watches for each CPU's next switch. */
static int take_record(struct tracer *t, const struct ev_header *h)
{
	if (t->flushing && h->type == EV_SCHED_SWITCH && h->ts > t->flush_after &&
	    h->cpu < t->ncpus)
		t->switched[h->cpu] = true;
	return t->opts.sample(t->opts.ctx, h);
}

/* A stage's batch: whole records back to back. */
static int each_record(struct tracer *t, const void *data, size_t size)
{
	size_t off = 0;

	while (size - off >= sizeof(struct ev_header)) {
		const struct ev_header *h = (const void *)((const char *)data + off);
		int rc;

		if (h->size < sizeof(*h) || h->size > size - off)
			break;
		rc = take_record(t, h);
		if (rc)
			return rc;
		off += (h->size + 7u) & ~7u;
	}
	return 0;
}

/*
 * One record per ring sample: a record reserved at its largest size (a Go
 * event with room for a full stack) says in h.size how much of it is valid,
 * and what follows is stale. Stage batches, which hold several, are marked
 * by nothing yet, which is one reason use_stages is off (bpf/stage.bpf.h).
 */
static int on_sample(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct ev_header *h = data;

	if (size < sizeof(*h) || h->size < sizeof(*h) || h->size > size)
		return 0;
	return take_record(t, h);
}

static int map_stages(struct tracer *t)
{
	size_t page = sysconf(_SC_PAGESIZE);
	void *p;

	t->stages_len = (t->ncpus * sizeof(struct stage) + page - 1) / page * page;
	p = mmap(NULL, t->stages_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(t->skel->maps.stages), 0);
	if (p == MAP_FAILED)
		return -errno;
	t->stages = p;
	return 0;
}

/*
 * Takes what each CPU has staged. A stage a handler holds right now is left
 * to the next drain; its oldest record bounds what the caller may call
 * complete (tracer_pending_ts).
 */
static int take_stages(struct tracer *t)
{
	t->pending_ts = UINT64_MAX;
	for (int cpu = 0; cpu < t->ncpus; cpu++) {
		struct stage *s = &t->stages[cpu];
		uint32_t len;
		int rc;

		if (__atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE)) {
			len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
			if (len >= sizeof(struct ev_header)) {
				uint64_t ts = ((const struct ev_header *)s->buf)->ts;

				if (ts < t->pending_ts)
					t->pending_ts = ts;
			}
			continue;
		}
		len = s->len < STAGE_BYTES ? s->len : STAGE_BYTES;
		memcpy(t->taken.buf, s->buf, len);
		s->len = 0;
		s->n = 0;
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		rc = each_record(t, t->taken.buf, len);
		if (rc)
			return rc;
	}
	return 0;
}

struct tracer *tracer_open(const struct tracer_opts *o, char *err, size_t errlen)
{
	struct tracer *t = calloc(1, sizeof(*t));
	int rc, outer;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->opts = *o;
	log_verbose = o->verbose;
	last_log[0] = 0;
	libbpf_set_print(libbpf_log);

	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-t->ncpus));
		goto fail;
	}
	t->skel = ctrace_bpf__open();
	if (!t->skel) {
		snprintf(err, errlen, "cannot open BPF object: %s", strerror(errno));
		goto fail;
	}
	t->skel->rodata->filter_syscalls = o->filter_syscalls;
	t->skel->rodata->self_tgid = o->self_tgid;
	bpf_map__set_max_entries(t->skel->maps.rings, t->ncpus);
	bpf_map__set_max_entries(t->skel->maps.stages, t->ncpus);
	/* Not verified, nor attached, unless CPU samples are wanted. */
	bpf_program__set_autoload(t->skel->progs.handle_cpu_sample, o->cpu_sample);

	rc = ctrace_bpf__load(t->skel);
	if (rc) {
		snprintf(err, errlen, "BPF load failed: %s (%s)", last_log[0] ? last_log : "-",
			 strerror(-rc));
		goto fail;
	}

	rc = map_stages(t);
	if (rc) {
		snprintf(err, errlen, "cannot map the staging buffers: %s", strerror(-rc));
		goto fail;
	}
	outer = bpf_map__fd(t->skel->maps.rings);
	t->ring_fds = calloc(t->ncpus, sizeof(int));
	if (!t->ring_fds) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int cpu = 0; cpu < t->ncpus; cpu++) {
		int fd =
		    bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, ring_bytes(t->ncpus), NULL);

		if (fd < 0) {
			snprintf(err, errlen, "cannot create ring buffer for CPU %d: %s", cpu,
				 strerror(errno));
			goto fail;
		}
		t->ring_fds[t->nrings++] = fd;
		if (bpf_map_update_elem(outer, &cpu, &fd, BPF_ANY)) {
			snprintf(err, errlen, "cannot install ring buffer for CPU %d: %s", cpu,
				 strerror(errno));
			goto fail;
		}
		if (!t->rb)
			t->rb = ring_buffer__new(fd, on_sample, t, NULL);
		else if (ring_buffer__add(t->rb, fd, on_sample, t))
			goto rb_fail;
		if (!t->rb)
			goto rb_fail;
	}

	rc = ctrace_bpf__attach(t->skel);
	if (rc) {
		snprintf(err, errlen, "BPF attach failed: %s (%s)", last_log[0] ? last_log : "-",
			 strerror(-rc));
		goto fail;
	}
	return t;
rb_fail:
	snprintf(err, errlen, "cannot set up ring buffer polling: %s", strerror(errno));
fail:
	tracer_close(t);
	return NULL;
}

int tracer_add_target(struct tracer *t, pid_t tgid)
{
	__u32 key = tgid;
	__u8 one = 1;

	return bpf_map__update_elem(t->skel->maps.targets, &key, sizeof(key), &one, sizeof(one),
				    BPF_ANY);
}

bool tracer_is_target(struct tracer *t, pid_t tgid)
{
	__u32 key = tgid;
	__u8 v;

	return !bpf_map__lookup_elem(t->skel->maps.targets, &key, sizeof(key), &v, sizeof(v), 0);
}

int tracer_poll(struct tracer *t, int timeout_ms)
{
	int rc = ring_buffer__poll(t->rb, timeout_ms);

	if (rc < 0 && rc != -EINTR)
		return rc;
	return tracer_drain(t);
}

/* Stages first: a handler that flushes one meanwhile leaves it in the ring. */
int tracer_drain(struct tracer *t)
{
	int rc = take_stages(t);

	if (rc)
		return rc;
	rc = ring_buffer__consume(t->rb);
	return rc < 0 && rc != -EINTR ? rc : 0;
}

/*
 * Makes every CPU the collector may run on switch tasks now: it moves there
 * and sleeps. Marks those CPUs in want; others (offline, outside a cpuset)
 * are left out.
 */
static void switch_everywhere(struct tracer *t, bool *want)
{
	struct timespec nap = {0, 20000};
	cpu_set_t old, one;

	if (sched_getaffinity(0, sizeof(old), &old))
		return;
	for (int cpu = 0; cpu < t->ncpus && cpu < CPU_SETSIZE; cpu++) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		want[cpu] = true;
		nanosleep(&nap, NULL);
	}
	sched_setaffinity(0, sizeof(old), &old);
}

/*
 * The kernel handlers run with preemption off, so no context switch
 * happens on a CPU between a handler's timestamp and its commit: once a
 * CPU's stage or ring yields a sched_switch stamped after ts, every record
 * of that CPU stamped up to ts has been read (a drain takes the stages
 * before the ring, and a record moves from stage to ring, never back).
 * Uprobe handlers can be preempted; the caller detaches them first, which
 * waits for those in flight.
 */
int tracer_flush(struct tracer *t, uint64_t ts, int timeout_ms)
{
	uint64_t deadline = now_boot_ns() + (uint64_t)timeout_ms * 1000000;
	struct timespec nap = {0, 1000000};
	bool *want = calloc(t->ncpus, sizeof(bool));
	int missing = 0, rc = 0;

	t->switched = calloc(t->ncpus, sizeof(bool));
	if (!want || !t->switched) {
		free(want);
		free(t->switched);
		t->switched = NULL;
		return tracer_drain(t) ? -1 : t->ncpus;
	}
	t->flush_after = ts;
	t->flushing = true;
	switch_everywhere(t, want);
	for (;;) {
		rc = tracer_drain(t);
		missing = 0;
		for (int cpu = 0; cpu < t->ncpus; cpu++)
			missing += want[cpu] && !t->switched[cpu];
		if (!missing || rc || now_boot_ns() >= deadline)
			break;
		nanosleep(&nap, NULL);
	}
	t->flushing = false;
	free(t->switched);
	t->switched = NULL;
	free(want);
	return rc ? rc : missing;
}

uint64_t tracer_pending_ts(const struct tracer *t)
{
	return t->pending_ts;
}

int tracer_drops(struct tracer *t, __u64 drops[EV_KERNEL_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.drops);
	__u64 *vals = calloc(t->ncpus, sizeof(__u64));

	if (!vals)
		return -ENOMEM;
	for (__u32 type = 0; type < EV_KERNEL_MAX; type++) {
		drops[type] = 0;
		if (bpf_map_lookup_elem(fd, &type, vals))
			continue;
		for (int c = 0; c < t->ncpus; c++)
			drops[type] += vals[c];
	}
	free(vals);
	return 0;
}

void tracer_shared_maps(struct tracer *t, int *rings_fd, int *drops_fd)
{
	*rings_fd = bpf_map__fd(t->skel->maps.rings);
	*drops_fd = bpf_map__fd(t->skel->maps.drops);
}

int tracer_add_go_tls(struct tracer *t, const struct go_tls_cfg *c)
{
	__u32 n = t->skel->bss->go_tls_n;

	/* Full mode's entry-only tails become sampled mode's: only the flags change. */
	for (__u32 i = 0; i < n; i++) {
		if (t->skel->bss->go_tls[i].tgid == c->tgid) {
			__atomic_store_n(&t->skel->bss->go_tls[i].flags, c->flags,
					 __ATOMIC_RELEASE);
			return 0;
		}
	}
	if (n >= GO_MAX_PROCS)
		return -E2BIG;
	t->skel->bss->go_tls[n] = *c;
	/* The handlers scan up to go_tls_n: the slot must be complete first. */
	__atomic_store_n(&t->skel->bss->go_tls_n, n + 1, __ATOMIC_RELEASE);
	return 0;
}

struct bpf_program *tracer_cpu_sample_prog(struct tracer *t)
{
	return t->opts.cpu_sample ? t->skel->progs.handle_cpu_sample : NULL;
}

void tracer_close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	if (t->stages)
		munmap(t->stages, t->stages_len);
	ctrace_bpf__destroy(t->skel);
	for (int i = 0; i < t->nrings; i++)
		close(t->ring_fds[i]);
	free(t->ring_fds);
	free(t);
}
