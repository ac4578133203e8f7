// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loadgen SECS PAIRS STORMERS [RATE]: a sustained event load for SECS
 * seconds. PAIRS thread pairs bounce a byte over pipes (each round trip is
 * two context switches, two wake-ups and four syscalls); STORMERS threads
 * call getppid() in a loop. With RATE, each storm thread makes at most
 * RATE calls a second and each pair at most RATE / 4 round trips (the
 * same number of syscalls); 0 or absent: as fast as they can. Prints, at the end, what it did:
 *   loadgen secs=S round_trips=N getppid=G syscalls=M
 * where syscalls counts the loops' syscalls, round trips (four each)
 * included.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long round_trips, storm_calls;
static long rate;

struct pair {
	int to_b[2], to_a[2];
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Sleeps while n operations since t0 are ahead of per_s a second. */
static void pace(double t0, long n, long per_s)
{
	double ahead;

	if (per_s <= 0)
		return;
	ahead = n / (double)per_s - (now_s() - t0);
	if (ahead > 0) {
		struct timespec ts = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

static void *pair_a(void *arg)
{
	struct pair *p = arg;
	double t0 = now_s();
	long n = 0;
	char c = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (write(p->to_b[1], &c, 1) != 1 || read(p->to_a[0], &c, 1) != 1)
			break;
		if (++n % 25 == 0)
			pace(t0, n, rate / 4);
	}
	c = 1; /* tells b to finish */
	if (write(p->to_b[1], &c, 1) != 1)
		perror("loadgen: write");
	atomic_fetch_add(&round_trips, n);
	return NULL;
}

static void *pair_b(void *arg)
{
	struct pair *p = arg;
	char c;

	while (read(p->to_b[0], &c, 1) == 1 && !c)
		if (write(p->to_a[1], &c, 1) != 1)
			break;
	return NULL;
}

/* Batches of 100 calls. */
static void *stormer(void *arg)
{
	double t0 = now_s();
	long n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 100; i++)
			syscall(SYS_getppid);
		n += 100;
		pace(t0, n, rate);
	}
	atomic_fetch_add(&storm_calls, n);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs, npairs, nstorm, nt = 0;
	pthread_t *th;
	struct pair *pairs;
	double t0;

	if (argc < 4 || (secs = atoi(argv[1])) <= 0 || (npairs = atoi(argv[2])) < 0 ||
	    (nstorm = atoi(argv[3])) < 0) {
		fprintf(stderr, "usage: loadgen SECS PAIRS STORMERS [RATE]\n");
		return 2;
	}
	rate = argc > 4 ? atol(argv[4]) : 0;
	th = calloc(2 * npairs + nstorm + 1, sizeof(*th));
	pairs = calloc(npairs + 1, sizeof(*pairs));
	if (!th || !pairs)
		return 1;
	t0 = now_s();
	for (int i = 0; i < npairs; i++) {
		if (pipe(pairs[i].to_b) || pipe(pairs[i].to_a)) {
			perror("loadgen: pipe");
			return 1;
		}
		pthread_create(&th[nt++], NULL, pair_b, &pairs[i]);
		pthread_create(&th[nt++], NULL, pair_a, &pairs[i]);
	}
	for (int i = 0; i < nstorm; i++)
		pthread_create(&th[nt++], NULL, stormer, NULL);
	sleep(secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	printf("loadgen secs=%.2f round_trips=%ld getppid=%ld syscalls=%ld\n", now_s() - t0,
	       atomic_load(&round_trips), atomic_load(&storm_calls),
	       4 * atomic_load(&round_trips) + atomic_load(&storm_calls));
	return 0;
}
