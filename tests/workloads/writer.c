// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * writer N [--wait-stdin | --wait-signal] [--exit CODE]: exactly N write()
 * system calls of one byte to /dev/null, and no other write calls (it prints
 * nothing). --wait-stdin first blocks until a byte (or EOF) on stdin;
 * --wait-signal blocks SIGUSR1 and waits for it. Exits with CODE (default 0).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int wait_stdin = 0, wait_signal = 0, code = 0, fd, i;
	long n, k;
	sigset_t set;
	char c;

	if (argc < 2)
		return 2;
	n = atol(argv[1]);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait-stdin"))
			wait_stdin = 1;
		else if (!strcmp(argv[i], "--wait-signal"))
			wait_signal = 1;
		else if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			code = atoi(argv[++i]);
		else
			return 2;
	}
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		return 1;
	if (wait_signal) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (sigwaitinfo(&set, NULL) < 0)
			return 1;
	}
	if (wait_stdin && read(0, &c, 1) < 0)
		return 1;
	for (k = 0; k < n; k++)
		if (write(fd, "x", 1) != 1)
			return 1;
	close(fd);
	return code;
}
