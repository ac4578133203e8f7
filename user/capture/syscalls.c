// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "capture/capture.h"
#include "capture/syscalls.h"

const char *syscall_name(const char *machine, long id)
{
	/* The capture names its machine, so a trace converts the same anywhere. */
	if (machine && !strcmp(machine, "x86_64") && id >= 0 &&
	    (unsigned long)id < syscalls_x86_64_count)
		return syscalls_x86_64[id];
	return NULL;
}
