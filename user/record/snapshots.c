// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include "capture/capture.h"
#include "record/snapshots.h"
#include "lib/util.h"

/* Sampled goroutine mode takes them by default; other modes when asked to. */
uint64_t snapshots_interval(const struct record_opts *o, int go_mode)
{
	if (o->go_mode == GO_MODE_OFF)
		return 0;
	if (o->snapshot_set)
		return o->snapshot_interval_ns;
	return go_mode == GO_MODE_SAMPLED ? GOSNAP_DEFAULT_INTERVAL_NS : 0;
}

/* The first snapshot: the reader, and the interval in the capture's meta. */
static int start(struct snapshots *s, struct ctr_writer *w)
{
	char buf[32];

	s->snap = gosnap_new();
	if (!s->snap)
		return -ENOMEM;
	/* Only captures with snapshots carry it: others stay as they were. */
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->every);
	return ctr_writer_meta(w, "go_snapshot_interval_ns", buf) ? -EIO : 0;
}

int snapshots_tick(struct snapshots *s, struct goprobe *go, struct ctr_writer *w, uint64_t now)
{
	struct goprobe_layout l;
	int rc;

	if (!s->every || !go || now < s->next)
		return 0;
	if (!s->snap && (rc = start(s, w)))
		return rc == -EIO ? rc : 0;
	/* On the interval's grid; after a stall, the next one is a full interval away. */
	s->next += s->every;
	if (s->next <= now)
		s->next = now + s->every;
	for (int i = 0; i < GO_MAX_PROCS && (rc = goprobe_layout(go, i, &l)) != -ENOENT; i++) {
		if (rc || s->gone[i])
			continue;
		rc = gosnap_take(s->snap, go, &l, w);
		if (rc == -EIO)
			return rc;
		/* Gone, or never readable (no ptrace access, layout unknown): stop trying. */
		if (rc == -EPERM || rc == -EINVAL)
			errmsg("no goroutine snapshots of pid %d: %s", l.tgid,
			       rc == -EPERM ? "its memory cannot be read"
					    : "its layout is unknown");
		if (rc == -ESRCH || rc == -EPERM || rc == -EINVAL)
			s->gone[i] = true;
	}
	return 0;
}

int snapshots_poll_ms(const struct snapshots *s, int max_ms)
{
	uint64_t now;

	if (!s->every)
		return max_ms;
	now = now_boot_ns();
	if (s->next <= now)
		return 0;
	if (s->next - now >= (uint64_t)max_ms * 1000000)
		return max_ms;
	return (int)((s->next - now) / 1000000) + 1;
}

void snapshots_summary(const struct snapshots *s)
{
	struct gosnap_totals t;

	if (!s->snap)
		return;
	gosnap_totals(s->snap, &t);
	fprintf(stderr,
		"ctrace-bpf: goroutine snapshots (sampled, every %.0f ms): %llu, %llu goroutines, "
		"%llu implausible and %llu unreadable dropped, %llu failed; read %.1f ms avg, "
		"%.1f ms max\n",
		s->every / 1e6, (unsigned long long)t.snapshots, (unsigned long long)t.goroutines,
		(unsigned long long)t.implausible, (unsigned long long)t.unreadable,
		(unsigned long long)t.failed, t.snapshots ? t.sum_read_us / 1e3 / t.snapshots : 0.0,
		t.max_read_us / 1e3);
}

void snapshots_free(struct snapshots *s)
{
	gosnap_free(s->snap);
	s->snap = NULL;
}
