// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What one traced operation costs the workload, for the event-path
 * benchmark:
 *   evcost syscalls N   N getppid() calls: ns per syscall (a sys_enter and
 *                       a sys_exit event each)
 *   evcost pingpong N   N round trips between two processes over pipes, to
 *                       be pinned to one CPU: ns per round trip (two
 *                       switches, two wake-ups and four syscalls each)
 * Prints the best of 5 runs: the floor is what the events cost, the rest is
 * noise from other work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static double syscalls(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / n;
}

static double pingpong(long n)
{
	int a[2], b[2];
	char c = 0;
	double t0;
	pid_t pid;

	if (pipe(a) || pipe(b))
		exit(1);
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		while (read(a[0], &c, 1) == 1 && write(b[1], &c, 1) == 1)
			;
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			exit(1);
	t0 = (now_ns() - t0) / n;
	close(a[1]);
	waitpid(pid, NULL, 0);
	close(b[0]);
	return t0;
}

int main(int argc, char **argv)
{
	double best = 0;
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: evcost syscalls|pingpong N\n");
		return 2;
	}
	for (int i = 0; i < 5; i++) {
		double v = !strcmp(argv[1], "syscalls") ? syscalls(n) : pingpong(n);

		if (!i || v < best)
			best = v;
	}
	printf("%.1f\n", best);
	return 0;
}
