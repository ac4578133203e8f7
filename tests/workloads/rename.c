// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rename N: names itself (prctl PR_SET_NAME) with terminal escape
 * sequences, "e\033[2J\033]0;x\007" (clear the screen, set the window
 * title), then sleeps 10 ms N times so the renamed thread has run, slept
 * and made syscalls under that name.
 */
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec ts = {.tv_nsec = 10000000L};
	long n = argc > 1 ? atol(argv[1]) : 10;

	if (prctl(PR_SET_NAME, "e\033[2J\033]0;x\007", 0, 0, 0))
		return 1;
	for (long i = 0; i < n; i++)
		nanosleep(&ts, NULL);
	return 0;
}
