// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <inttypes.h>
#include <stdio.h>
#include "capture/capture.h"
#include "capture/names.h"

const char *sched_state_name(int64_t state, char *buf, size_t len)
{
	static const struct {
		int64_t v;
		const char *name;
	} names[] = {
	    {0, "R"}, {0x100, "R+"}, {1, "S"},	  {2, "D"},    {4, "T"},
	    {8, "t"}, {0x10, "X"},   {0x20, "Z"}, {0x40, "P"}, {0x80, "I"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == state)
			return names[i].name;
	if (!buf || !len)
		return NULL;
	snprintf(buf, len, "0x%" PRIx64, (uint64_t)state);
	return buf;
}

bool sched_state_running(int64_t state)
{
	return state == 0 || state == 0x100;
}

const char *syscall_name_buf(const char *machine, long id, char *buf, size_t len)
{
	const char *name = syscall_name(machine, id);

	if (name)
		return name;
	snprintf(buf, len, "sys_%ld", id);
	return buf;
}
