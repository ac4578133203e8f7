// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sleeper N [MS] [--wait-stdin]: a second thread sleeps MS (default 50)
 * milliseconds N times with the nanosleep system call itself (glibc's
 * nanosleep() issues clock_nanosleep). The thread prints
 * "sleeper pid=P tid=T count=N ms=MS" first, and at the end
 * "slept_ns=D1,D2,..." each call's duration as measured around it with
 * CLOCK_BOOTTIME (the tracer's clock). --wait-stdin: the thread is only
 * created after a byte (or EOF) on stdin.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long count, ms = 50;

static void *sleeper(void *arg)
{
	struct timespec ts = {
	    .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000L,
	};
	struct timespec a, b;
	long long *slept;
	long i;

	slept = calloc(count ? count : 1, sizeof(*slept));
	if (!slept) {
		perror("calloc");
		exit(1);
	}
	printf("sleeper pid=%d tid=%ld count=%ld ms=%ld\n", getpid(), syscall(SYS_gettid), count,
	       ms);
	fflush(stdout);
	for (i = 0; i < count; i++) {
		clock_gettime(CLOCK_BOOTTIME, &a);
		if (syscall(SYS_nanosleep, &ts, NULL)) {
			perror("nanosleep");
			exit(1);
		}
		clock_gettime(CLOCK_BOOTTIME, &b);
		slept[i] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	}
	printf("slept_ns=");
	for (i = 0; i < count; i++)
		printf("%s%lld", i ? "," : "", slept[i]);
	printf("\n");
	free(slept);
	return NULL;
}

int main(int argc, char **argv)
{
	int wait_stdin = 0, i;
	pthread_t thr;
	char c;

	if (argc < 2) {
		fprintf(stderr, "usage: sleeper N [MS] [--wait-stdin]\n");
		return 2;
	}
	count = atol(argv[1]);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait-stdin"))
			wait_stdin = 1;
		else
			ms = atol(argv[i]);
	}
	if (wait_stdin && read(0, &c, 1) < 0) {
		perror("read");
		return 1;
	}
	if (pthread_create(&thr, NULL, sleeper, NULL)) {
		perror("pthread_create");
		return 1;
	}
	pthread_join(thr, NULL);
	return 0;
}
