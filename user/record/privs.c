// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Changing user for the command and for the work done after the attach (privs.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "record/privs.h"
#include "lib/util.h"

static bool parse_id(const char *s, unsigned long *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v < 0xffffffffu;
}

/* name's groups from the group database, the list initgroups() would set. */
static int fill(struct run_as *a, uid_t uid, gid_t gid, const char *name)
{
	int n = 32;

	a->change = true;
	a->uid = uid;
	a->gid = gid;
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
	for (;;) {
		gid_t *g = realloc(a->groups, n * sizeof(*g));
		int m = n;

		if (!g)
			return -ENOMEM;
		a->groups = g;
		if (!name) {
			g[0] = gid;
			a->ngroups = 1;
			return 0;
		}
		if (getgrouplist(name, gid, g, &m) >= 0) {
			a->ngroups = m;
			return 0;
		}
		if (n >= 65536)
			return -E2BIG;
		n = m > n ? m : n * 2;
	}
}

int privs_user(const char *user, struct run_as *a)
{
	struct passwd *pw = getpwnam(user);
	unsigned long v;

	if (!pw && parse_id(user, &v))
		pw = getpwuid(v);
	if (!pw) {
		errmsg("no such user: %s", user);
		return EXIT_USAGE;
	}
	/* --user root (or oneself) keeps the credentials we have. */
	if (pw->pw_uid == geteuid() && pw->pw_uid == getuid())
		return 0;
	if (fill(a, pw->pw_uid, pw->pw_gid, pw->pw_name)) {
		errmsg("groups of %s: %s", user, strerror(ENOMEM));
		return EXIT_USAGE;
	}
	return 0;
}

int privs_invoker(struct run_as *a)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	unsigned long uid, gid;
	struct passwd *pw;

	/* Anyone can set SUDO_UID; it only means something to a root process. */
	if (geteuid() != 0 || !su)
		return 0;
	if (!parse_id(su, &uid)) {
		errmsg("bad SUDO_UID '%s'", su);
		return EXIT_USAGE;
	}
	if (uid == 0)
		return 0;
	pw = getpwuid(uid);
	if (sg) {
		if (!parse_id(sg, &gid)) {
			errmsg("bad SUDO_GID '%s'", sg);
			return EXIT_USAGE;
		}
	} else {
		gid = pw ? pw->pw_gid : uid;
	}
	if (fill(a, uid, gid, pw ? pw->pw_name : NULL)) {
		errmsg("groups of uid %lu: %s", uid, strerror(ENOMEM));
		return EXIT_USAGE;
	}
	return 0;
}

/* Effective and permitted capabilities: exactly keep (a bit mask); none inheritable. */
static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
	    {.effective = (uint32_t)keep, .permitted = (uint32_t)keep},
	    {.effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32)},
	};

	return syscall(SYS_capset, &hdr, d) ? -errno : 0;
}

int privs_become(const struct run_as *a)
{
	if (!a->change)
		return 0;
	/* The collector already became a (privs_drop_collector): shed its capabilities. */
	if (getuid() == a->uid && geteuid() == a->uid && a->uid)
		return set_caps(0);
	if (setgroups(a->ngroups, a->groups) || setresgid(a->gid, a->gid, a->gid) ||
	    setresuid(a->uid, a->uid, a->uid))
		return -errno;
	/* Losing root must be final: a way back would be a hole. */
	if (a->uid && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	return 0;
}

/*
 * What the collector still needs once everything is attached: CAP_BPF for
 * its maps, CAP_PERFMON for the CPU sampling events that auto mode opens
 * later, CAP_SYS_PTRACE for snapshots of other users' processes and their
 * /proc entries, CAP_DAC_READ_SEARCH for their binaries' symbols at the end,
 * CAP_KILL for a command run as another user.
 */
#define KEEP_CAPS                                                                                  \
	((1ull << CAP_BPF) | (1ull << CAP_PERFMON) | (1ull << CAP_SYS_PTRACE) |                    \
	 (1ull << CAP_DAC_READ_SEARCH) | (1ull << CAP_KILL))

int privs_drop_collector(const struct run_as *a)
{
	int e;

	/* Kernels before CAP_BPF need CAP_SYS_ADMIN throughout: keep root there. */
	if (!a->change || geteuid() != 0 || prctl(PR_CAPBSET_READ, CAP_BPF) != 1)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1) || setgroups(a->ngroups, a->groups) ||
	    setresgid(a->gid, a->gid, a->gid) || setresuid(a->uid, a->uid, a->uid))
		return -errno;
	prctl(PR_SET_KEEPCAPS, 0);
	e = set_caps(KEEP_CAPS);
	if (e)
		return e;
	/* The invoking user must not reach our capabilities through ptrace or /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	if (setuid(0) == 0)
		return -EPERM;
	return 0;
}

void privs_default_signals(void)
{
	/* The kernel's struct: the C library refuses its own signals (32, 33). */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} sa = {.handler = SIG_DFL};
	sigset_t none;

	/* Fails harmlessly for SIGKILL and SIGSTOP. */
	for (int sig = 1; sig < NSIG; sig++)
		syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int privs_run(const struct run_as *a, int (*fn)(void *), void *arg, volatile pid_t *child)
{
	int status, e;
	pid_t pid;

	if (!a->change)
		return fn(arg);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		errmsg("fork: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		e = privs_become(a);
		if (e) {
			errmsg("cannot become uid %u: %s", (unsigned)a->uid, strerror(-e));
			_exit(EXIT_RUNTIME);
		}
		e = fn(arg);
		fflush(NULL);
		_exit(e);
	}
	if (child)
		*child = pid;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (child)
		*child = 0;
	if (status != -1 && WIFEXITED(status))
		return WEXITSTATUS(status);
	if (status != -1 && WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_RUNTIME;
}

int privs_chown(const struct run_as *a, int fd)
{
	if (!a->change)
		return 0;
	return fchown(fd, a->uid, a->gid) ? -errno : 0;
}

void privs_free(struct run_as *a)
{
	free(a->groups);
	a->groups = NULL;
	a->ngroups = 0;
}
