// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * spinner [MS]: an unrelated process that calls getppid() every ~200 us for
 * MS milliseconds (default: until killed), so a -p test can check that its
 * syscalls stay out of a filtered trace. Prints "spinner pid=P" first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	struct timespec nap = {.tv_nsec = 200000};
	long ms = argc > 1 ? atol(argv[1]) : 0, end;

	printf("spinner pid=%d\n", getpid());
	fflush(stdout);
	end = now_ms() + ms;
	while (!ms || now_ms() < end) {
		syscall(SYS_getppid);
		nanosleep(&nap, NULL);
	}
	return 0;
}
