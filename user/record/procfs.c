// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture/capture.h"
#include "record/procfs.h"

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len && (n = read(fd, buf + total, len - total)) > 0)
		total += n;
	close(fd);
	return total;
}

/* Fields of /proc/.../status we need. */
static int read_status(const char *dir, pid_t *tgid, pid_t *ppid, char *comm)
{
	char path[96], buf[4096], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/status", dir);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if ((p = strstr(buf, "Name:\t"))) {
		size_t i = 0;

		p += 6;
		while (*p && *p != '\n' && i < TASK_COMM_LEN - 1)
			comm[i++] = *p++;
		comm[i] = 0;
	}
	if ((p = strstr(buf, "\nTgid:\t")))
		*tgid = atoi(p + 7);
	if ((p = strstr(buf, "\nPPid:\t")))
		*ppid = atoi(p + 7);
	return 0;
}

bool proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* The state follows the parenthesised comm, which may hold spaces. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	static long hz;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* After the comm: state, then fields 4..13, then utime and stime (14, 15). */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return 0;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	return (utime + stime) * (1000000000ull / (hz > 0 ? hz : 100));
}

pid_t proc_tgid(pid_t pid)
{
	char dir[64], comm[TASK_COMM_LEN];
	pid_t tgid = -1, ppid = 0;

	if (pid <= 0)
		return -1;
	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (read_status(dir, &tgid, &ppid, comm))
		return -1;
	return tgid;
}

/*
 * Kernel threads have an empty cmdline and descend from kthreadd (pid 2).
 * keep: the cmdline goes into the capture, else only the comm does.
 */
static int write_task(struct ctr_writer *w, const char *dir, pid_t tid, pid_t tgid_hint,
		      const char *cmdline, size_t cmdlen, bool keep, uint64_t ts)
{
	union {
		struct rec_task t;
		char buf[sizeof(struct rec_task) + 4096];
	} u;
	pid_t tgid = tgid_hint, ppid = 0;

	memset(&u.t, 0, sizeof(u.t));
	if (read_status(dir, &tgid, &ppid, u.t.comm))
		return -1;
	if (cmdlen > 4096)
		cmdlen = 4096;
	u.t.h.ts = ts;
	u.t.h.type = REC_TASK;
	u.t.h.tid = tid;
	u.t.h.tgid = tgid;
	u.t.ppid = ppid;
	u.t.task_flags = (!cmdlen && (ppid == 2 || tgid == 2)) ? TASK_IS_KTHREAD : 0;
	if (!keep)
		cmdlen = 0;
	u.t.h.size = sizeof(u.t) + cmdlen;
	u.t.cmdline_len = cmdlen;
	memcpy(u.t.cmdline, cmdline, cmdlen);
	return ctr_writer_add(w, &u);
}

static size_t read_cmdline(const char *dir, char *buf, size_t len)
{
	char path[96];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/cmdline", dir);
	n = read_file(path, buf, len);
	return n > 0 ? n : 0;
}

int proc_write_task(struct ctr_writer *w, pid_t tgid, pid_t tid, uint64_t ts, bool cmdline)
{
	char dir[64], cmd[4096];
	size_t n;

	snprintf(dir, sizeof(dir), "/proc/%d", tgid);
	n = read_cmdline(dir, cmd, sizeof(cmd));
	if (tid != tgid)
		snprintf(dir, sizeof(dir), "/proc/%d/task/%d", tgid, tid);
	return write_task(w, dir, tid, tgid, cmd, n, cmdline, ts);
}

static bool numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int proc_snapshot(struct ctr_writer *w, uint64_t ts, proc_cmdline_fn want, void *ctx)
{
	DIR *d = opendir("/proc"), *td;
	struct dirent *de, *te;
	char dir[64], path[64], cmd[4096];
	int count = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid;
		size_t n;
		bool keep;

		if (!numeric(de->d_name))
			continue;
		pid = atoi(de->d_name);
		snprintf(dir, sizeof(dir), "/proc/%d", pid);
		n = read_cmdline(dir, cmd, sizeof(cmd));
		keep = !want || want(ctx, pid);
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		td = opendir(path);
		if (!td)
			continue;
		while ((te = readdir(td))) {
			pid_t tid;

			if (!numeric(te->d_name))
				continue;
			tid = atoi(te->d_name);
			snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
			if (write_task(w, path, tid, pid, cmd, n, keep, ts) == 0)
				count++;
		}
		closedir(td);
	}
	closedir(d);
	return count;
}
