// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Calibration of a uprobe hit: see gocalib.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "go/gocalib.h"

#define HITS   400 /* per round: a few ms even where a hit costs 20 us */
#define ROUNDS 5

/*
 * The probed instruction is a nop, which the kernel emulates as the real
 * probes' conditional jumps are, rather than single-stepping it.
 */
__attribute__((noinline, used)) void gocalib_site(void)
{
	asm volatile(".globl gocalib_nop\n"
		     "gocalib_nop:\n\t"
		     "nop\n" ::
			 : "memory");
}

/* The same function, never probed: the baseline, timed in the same rounds. */
__attribute__((noinline, used)) void gocalib_plain(void)
{
	asm volatile("nop\n" ::: "memory");
}

extern char gocalib_nop[];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t time_loop(void (*fn)(void))
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < HITS; i++)
		fn();
	return now_ns() - t0;
}

/* The file offset of addr in the collector's own executable, from its maps. */
static int self_offset(uintptr_t addr, uint64_t *off)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		uint64_t pgoff;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %" SCNx64, &lo, &hi, &pgoff) != 3)
			continue;
		if (addr >= lo && addr < hi) {
			*off = addr - lo + pgoff;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int gocalib_hit_ns(struct bpf_program *prog, double *ns, struct bpf_link **link, char *err,
		   size_t errlen)
{
	double per_hit[ROUNDS];
	struct bpf_link *l;
	uint64_t off;
	int rc;

	rc = self_offset((uintptr_t)gocalib_nop, &off);
	if (rc) {
		snprintf(err, errlen, "cannot find the calibration site: %s", strerror(-rc));
		return rc;
	}
	/* Attaching costs more than the rounds: once, with a plain twin as the baseline. */
	l = bpf_program__attach_uprobe(prog, false, getpid(), "/proc/self/exe", off);
	if (!l) {
		rc = -errno;
		snprintf(err, errlen, "cannot attach the calibration uprobe: %s", strerror(-rc));
		return rc;
	}
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t base = time_loop(gocalib_plain), probed = time_loop(gocalib_site);

		per_hit[r] = probed > base ? (double)(probed - base) / HITS : 0;
	}
	/* Detaching waits for a grace period (~100 ms): the caller does it later. */
	*link = l;
	qsort(per_hit, ROUNDS, sizeof(per_hit[0]), cmp_double);
	*ns = per_hit[ROUNDS / 2];
	return 0;
}
