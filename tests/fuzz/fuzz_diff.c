// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness: `ctrace-bpf diff` on two report JSON documents (the
 * input split at its first NUL byte; without one, the input against itself).
 */
#include <string.h>
#include "report/report.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	const uint8_t *nul = memchr(data, 0, size);
	size_t n1 = nul ? (size_t)(nul - data) : size;
	const uint8_t *d2 = nul ? nul + 1 : data;
	size_t n2 = nul ? size - n1 - 1 : size;
	char p1[64], p2[64];
	int fd1, fd2;

	if (!init) {
		fuzz_quiet_stdout();
		init = true;
	}
	fd1 = fuzz_memfd(data, n1, p1, sizeof(p1));
	fd2 = fuzz_memfd(d2, n2, p2, sizeof(p2));
	if (fd1 >= 0 && fd2 >= 0) {
		char *argv[] = {"diff", p1, p2, NULL};

		cmd_diff(3, argv);
	}
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	return 0;
}
