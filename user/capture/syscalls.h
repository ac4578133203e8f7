/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Syscall number -> name tables, per architecture. */
#ifndef CTRACE_SYSCALLS_H
#define CTRACE_SYSCALLS_H

extern const char *const syscalls_x86_64[];
extern const unsigned int syscalls_x86_64_count;

#endif /* CTRACE_SYSCALLS_H */
