// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * seqcalls THREADS MS OUT [--wait-stdin]: THREADS threads, thread i pinned
 * to CPU i % ncpus, each makes numbered system calls for MS milliseconds,
 * then the process exits. Call k of a thread is lseek(-1, k, SEEK_SET)
 * (EBADF at once), so a trace names it by its second argument; about 20 us
 * of computing separate two calls. Each call is timed with CLOCK_BOOTTIME
 * (the tracer's clock, read without a system call) just before and just
 * after it.
 *
 * Prints "seqcalls pid=P tids=T1,T2,..." once every thread exists, then
 * starts, and prints "seqcalls running" once every thread has made a call.
 * --wait-stdin: starts at a byte on stdin, and then stops early at EOF; or
 * starts at EOF. At the end OUT holds, per thread: u32 tid, u32 count, then
 * count pairs of u64 (before, after), little-endian.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define MAX_CALLS   (1 << 20)

struct worker {
	pthread_t thr;
	int idx;
	volatile pid_t tid;
	uint32_t n;
	uint64_t *ts; /* before, after */
};

static struct worker workers[MAX_THREADS];
static pthread_barrier_t ready, go;
static long run_ms;
static volatile int started, stop;

static uint64_t boottime(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

/* About 20 us of computing, without a system call (the vDSO reads the clock). */
static void compute(uint64_t from)
{
	while (boottime() < from + 20000)
		;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	uint64_t end;

	CPU_ZERO(&set);
	CPU_SET(w->idx % (ncpu > 0 ? ncpu : 1), &set);
	sched_setaffinity(0, sizeof(set), &set);
	w->tid = syscall(SYS_gettid);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	end = boottime() + run_ms * 1000000ull;
	while (w->n < MAX_CALLS) {
		uint64_t t0 = boottime(), t1;

		syscall(SYS_lseek, -1, (long)w->n, SEEK_SET);
		t1 = boottime();
		w->ts[2 * w->n] = t0;
		w->ts[2 * w->n + 1] = t1;
		if (!w->n++)
			__atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
		if (t1 >= end || stop)
			break;
		compute(t1);
	}
	return NULL;
}

static int dump(const char *path, int nthreads)
{
	FILE *f = fopen(path, "wb");

	if (!f) {
		perror(path);
		return 1;
	}
	for (int i = 0; i < nthreads; i++) {
		uint32_t h[2] = {(uint32_t)workers[i].tid, workers[i].n};

		fwrite(h, sizeof(h), 1, f);
		fwrite(workers[i].ts, 2 * sizeof(uint64_t), workers[i].n, f);
	}
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	int nthreads, wait_stdin;
	ssize_t n;
	char c;

	if (argc < 4 || (nthreads = atoi(argv[1])) < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "usage: seqcalls THREADS(1-%d) MS OUT [--wait-stdin]\n",
			MAX_THREADS);
		return 2;
	}
	run_ms = atol(argv[2]);
	wait_stdin = argc > 4 && !strcmp(argv[4], "--wait-stdin");
	pthread_barrier_init(&ready, NULL, nthreads + 1);
	pthread_barrier_init(&go, NULL, nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		workers[i].idx = i;
		workers[i].ts = malloc(MAX_CALLS * 2 * sizeof(uint64_t));
		if (!workers[i].ts || pthread_create(&workers[i].thr, NULL, work, &workers[i])) {
			fprintf(stderr, "seqcalls: cannot start thread %d\n", i);
			return 1;
		}
	}
	pthread_barrier_wait(&ready);
	printf("seqcalls pid=%d tids=", getpid());
	for (int i = 0; i < nthreads; i++)
		printf("%s%d", i ? "," : "", workers[i].tid);
	printf("\n");
	fflush(stdout);
	n = wait_stdin ? read(0, &c, 1) : 0;
	if (n < 0) {
		perror("read");
		return 1;
	}
	pthread_barrier_wait(&go);
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < nthreads)
		usleep(200);
	printf("seqcalls running\n");
	fflush(stdout);
	/* Started by a byte: EOF stops the calls. */
	if (n == 1) {
		while (read(0, &c, 1) == 1)
			;
		stop = 1;
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(workers[i].thr, NULL);
	return dump(argv[3], nthreads);
}
