// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attaches the empty reference programs and waits for SIGINT/SIGTERM.
 * Prints "attached" once they are live.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "nullprogs.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int main(void)
{
	struct nullprogs_bpf *skel = nullprogs_bpf__open_and_load();

	if (!skel || nullprogs_bpf__attach(skel)) {
		fprintf(stderr, "nullprogs: cannot load or attach\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	nullprogs_bpf__destroy(skel);
	return 0;
}
