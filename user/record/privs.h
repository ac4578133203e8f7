/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Who runs what. Under sudo (SUDO_UID, honoured only when running as root)
 * the launched command, the conversion and the reports run as the invoking
 * user with that user's groups; only the collector stays privileged.
 * --user picks the command's user, as strace -u does.
 */
#ifndef CTRACE_PRIVS_H
#define CTRACE_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

struct run_as {
	bool change; /* false: stay who we are */
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t *groups; /* the user's groups, as initgroups() would set them */
	char name[64];
};

/* --user USER (a name or a uid). 0, or EXIT_USAGE after one line. */
int privs_user(const char *user, struct run_as *a);
/* The user behind sudo, if any. 0, or EXIT_USAGE after one line. */
int privs_invoker(struct run_as *a);
/* In a child: the groups, gid and uid of a, irrevocably. 0 or -errno. */
int privs_become(const struct run_as *a);
/*
 * After the attach, under sudo: the collector becomes a's user, keeping only
 * the capabilities it still uses (privs.c says which). 0 or -errno.
 */
int privs_drop_collector(const struct run_as *a);
/* Every signal unblocked and at its default disposition (for exec). */
void privs_default_signals(void);
/*
 * fn(arg) as a's user, in a child process when a changes user; returns its
 * exit status (EXIT_RUNTIME if the child could not be made or died).
 * *child holds the child's pid while it runs, for signal handlers.
 */
int privs_run(const struct run_as *a, int (*fn)(void *), void *arg, volatile pid_t *child);
/* Gives fd to a's user (files created for the invoking user). 0 or -errno. */
int privs_chown(const struct run_as *a, int fd);
void privs_free(struct run_as *a);

#endif /* CTRACE_PRIVS_H */
