// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPU samples: the kernel's cpu-clock software event, in frequency mode, on
 * every online CPU. cpu-clock is an hrtimer, so it works in VMs and
 * containers without a PMU; in frequency mode the kernel turns the rate
 * into a fixed period of 1e9/hz ns, which each sample carries as its weight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "record/cpusample.h"

struct cpusample {
	struct bpf_link **links;
	int nlinks;
};

static int perf_open(int cpu, unsigned int hz)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.freq = 1;
	a.sample_freq = hz;
	/* Counts every task on the CPU; the program picks the wanted ones. */
	return syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

struct cpusample *cpusample_open(struct bpf_program *prog, unsigned int hz, char *err,
				 size_t errlen)
{
	int ncpus = libbpf_num_possible_cpus();
	struct cpusample *cs;

	cs = calloc(1, sizeof(*cs));
	if (!cs || ncpus <= 0 || !(cs->links = calloc(ncpus, sizeof(*cs->links)))) {
		snprintf(err, errlen, "CPU sampling: out of memory");
		goto fail;
	}
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct bpf_link *l;
		int fd = perf_open(cpu, hz);

		/* A possible CPU that is offline has nothing to sample. */
		if (fd < 0 && errno == ENODEV)
			continue;
		if (fd < 0) {
			snprintf(
			    err, errlen, "cannot open the cpu-clock perf event on CPU %d: %s%s",
			    cpu, strerror(errno),
			    errno == EACCES || errno == EPERM
				? " (needs root or CAP_PERFMON; see kernel.perf_event_paranoid)"
				: "");
			goto fail;
		}
		l = bpf_program__attach_perf_event(prog, fd);
		if (!l) {
			snprintf(err, errlen, "BPF attach failed: handle_cpu_sample on CPU %d: %s",
				 cpu, strerror(errno));
			close(fd);
			goto fail;
		}
		/* The link owns fd from here and closes it when destroyed. */
		cs->links[cs->nlinks++] = l;
	}
	return cs;
fail:
	cpusample_close(cs);
	return NULL;
}

void cpusample_close(struct cpusample *cs)
{
	if (!cs)
		return;
	for (int i = 0; i < cs->nlinks; i++)
		bpf_link__destroy(cs->links[i]);
	free(cs->links);
	free(cs);
}
