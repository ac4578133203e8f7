// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pingpong N [DELAY_MS]: two threads bounce one byte over two pipes N round
 * trips. Prints "pingpong pid=P ping=T1 pong=T2 rounds=N" once both threads
 * exist, then waits DELAY_MS (default 0) before the first byte.
 *
 * Before each write a thread waits until the other one sleeps (state S in
 * /proc/self/task/TID/stat), i.e. blocks in its read, so every write wakes
 * it: each direction has exactly N wakeups (sched_waking with the writer as
 * waker). Without that, on several CPUs a reader that has not gone to sleep
 * yet takes the byte without a wakeup, and the count is anywhere from 0 to N.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int to_pong[2], to_ping[2];
static long rounds;
static volatile pid_t ping_tid, pong_tid;

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int open_stat(pid_t tid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	return fd;
}

/* Waits until the thread whose stat file is fd sleeps. */
static void wait_sleeping(int fd)
{
	char buf[512], *p;
	ssize_t n;

	for (;;) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			die("pread stat");
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		sched_yield();
	}
}

static void *pong(void *arg)
{
	int ping_stat;
	char c;
	long i;

	while (!ping_tid)
		sched_yield();
	ping_stat = open_stat(ping_tid);
	pong_tid = gettid_raw();
	for (i = 0; i < rounds; i++) {
		if (read(to_pong[0], &c, 1) != 1)
			die("pong read");
		wait_sleeping(ping_stat);
		if (write(to_ping[1], &c, 1) != 1)
			die("pong write");
	}
	close(ping_stat);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec delay;
	int pong_stat;
	pthread_t thr;
	long delay_ms = 0, i;
	char c = 'x';

	if (argc < 2) {
		fprintf(stderr, "usage: pingpong N [DELAY_MS]\n");
		return 2;
	}
	rounds = atol(argv[1]);
	if (argc > 2)
		delay_ms = atol(argv[2]);
	if (pipe(to_pong) || pipe(to_ping))
		die("pipe");
	ping_tid = gettid_raw();
	if (pthread_create(&thr, NULL, pong, NULL))
		die("pthread_create");
	while (!pong_tid)
		sched_yield();
	pong_stat = open_stat(pong_tid);
	printf("pingpong pid=%d ping=%d pong=%d rounds=%ld\n", getpid(), ping_tid, pong_tid,
	       rounds);
	fflush(stdout);
	if (delay_ms > 0) {
		delay.tv_sec = delay_ms / 1000;
		delay.tv_nsec = (delay_ms % 1000) * 1000000L;
		nanosleep(&delay, NULL);
	}
	for (i = 0; i < rounds; i++) {
		wait_sleeping(pong_stat);
		if (write(to_pong[1], &c, 1) != 1)
			die("ping write");
		if (read(to_ping[0], &c, 1) != 1)
			die("ping read");
	}
	pthread_join(thr, NULL);
	close(pong_stat);
	return 0;
}
