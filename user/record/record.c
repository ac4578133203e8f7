// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `ctrace-bpf record`: attach, stream kernel records into a capture, stop on
 * duration, signal or target exit, then convert to the requested format.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "capture/capture.h"
#include "formats/convert.h"
#include "go/goprobe.h"
#include "record/procfs.h"
#include "record/record.h"
#include "formats/pprof.h"
#include "report/report.h"
#include "record/tracer.h"
#include "lib/util.h"

/* Events with ts older than (drain start - this) are all in the file. */
#define WATERMARK_MARGIN_NS 5000000ull
#define POLL_MS		    100
#define EXEC_QUEUE	    256

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t converting;
/* Temporary files to remove if the user insists on stopping mid-convert. */
static char *cleanup_path;

static void on_signal(int sig)
{
	if (converting && stop_signal) {
		if (cleanup_path)
			unlink(cleanup_path);
		_exit(128 + sig);
	}
	stop_signal = sig;
}

struct recorder {
	struct record_opts *o;
	struct ctr_writer *w;
	int werr;
	uint64_t events;
	pid_t exec_queue[EXEC_QUEUE][2];
	int nexec;
	struct goprobe *go;
	pid_t go_pending[MAX_TARGETS + 1]; /* Go processes awaiting their snapshot */
	int ngo_pending;
	uint64_t go_attach_ts;
	pid_t child;
	int child_status;
	bool child_done;
	bool target_alive[MAX_TARGETS];
};

static int on_record(void *ctx, const struct ev_header *h)
{
	struct recorder *r = ctx;

	r->events++;
	if (!r->werr)
		r->werr = ctr_writer_add(r->w, h);
	if (r->go && h->type >= EV_GO_CREATE && h->type <= EV_GO_EXIT)
		goprobe_note(r->go, h);
	/* A target's last thread is gone (it may linger as a zombie). */
	if (h->type == EV_PROCESS_EXIT && (h->flags & EXIT_GROUP_DEAD)) {
		const struct ev_process_exit *e = (const void *)h;

		for (int i = 0; i < r->o->npids; i++)
			if (r->o->pids[i] == (pid_t)e->tgid)
				r->target_alive[i] = false;
	}
	/* Read the new image's cmdline after the drain, not per event. */
	if (h->type == EV_PROCESS_EXEC) {
		const struct ev_process_exec *e = (const void *)h;

		/* Past the queue, the exec record's filename stands in for the cmdline. */
		if (r->nexec < EXEC_QUEUE) {
			r->exec_queue[r->nexec][0] = h->tgid;
			r->exec_queue[r->nexec][1] = e->pid;
			r->nexec++;
		}
	}
	return 0;
}

static bool has_bpf_caps(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	/* CAP_PERFMON = 38, CAP_BPF = 39; older kernels need CAP_SYS_ADMIN (21). */
	return (eff & (1ull << 38) && eff & (1ull << 39)) || eff & (1ull << 21);
}

static void write_meta(struct recorder *r, uint64_t start)
{
	struct utsname u;
	char buf[4096];
	int n = 0;

	uname(&u);
	ctr_writer_meta(r->w, "sysname", u.sysname);
	ctr_writer_meta(r->w, "release", u.release);
	ctr_writer_meta(r->w, "version", u.version);
	ctr_writer_meta(r->w, "machine", u.machine);
	ctr_writer_meta(r->w, "hostname", u.nodename);
	snprintf(buf, sizeof(buf), "%ld", sysconf(_SC_NPROCESSORS_CONF));
	ctr_writer_meta(r->w, "ncpus", buf);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)start);
	ctr_writer_meta(r->w, "start_ts", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)(now_real_ns() - now_boot_ns()));
	ctr_writer_meta(r->w, "realtime_offset_ns", buf);
	ctr_writer_meta(r->w, "clock", "boottime");
	ctr_writer_meta(r->w, "ctrace_version", CTRACE_VERSION);
	buf[0] = 0;
	if (r->o->cmd) {
		for (char **a = r->o->cmd; *a && n < (int)sizeof(buf) - 1; a++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "", *a);
	} else if (r->o->npids) {
		n = snprintf(buf, sizeof(buf), "pid");
		for (int i = 0; i < r->o->npids && n < (int)sizeof(buf) - 1; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : " ",
				      r->o->pids[i]);
	} else {
		snprintf(buf, sizeof(buf), "system");
	}
	ctr_writer_meta(r->w, "target", buf);
}

static void write_stats(struct recorder *r, struct tracer *t)
{
	struct rec_stats s = {0};

	s.h.type = REC_STATS;
	s.h.size = sizeof(s);
	s.h.ts = now_boot_ns();
	s.events = r->events;
	tracer_drops(t, s.drops);
	for (int i = 0; i < EV_KERNEL_MAX; i++)
		s.drops_total += s.drops[i];
	if (!r->werr)
		r->werr = ctr_writer_add(r->w, &s);
}

static void write_watermark(struct recorder *r, uint64_t ts)
{
	struct ev_header h = {0};

	h.type = REC_WATERMARK;
	h.size = sizeof(h);
	h.ts = ts;
	if (!r->werr)
		r->werr = ctr_writer_add(r->w, &h);
}

static void flush_exec_queue(struct recorder *r)
{
	for (int i = 0; i < r->nexec && !r->werr; i++) {
		int rc =
		    proc_write_task(r->w, r->exec_queue[i][0], r->exec_queue[i][1], now_boot_ns());

		if (rc < 0 && rc != -1)
			r->werr = rc;
	}
	r->nexec = 0;
}

/*
 * Forks CMD held before exec; returns the pid, or -1 after one line.
 * fds[0]: write a byte to let it exec; fds[1]: yields errno if exec failed.
 */
static pid_t launch(char **cmd, int fds[2])
{
	int go[2], report[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		errmsg("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		errmsg("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char c;
		int e;

		close(go[1]);
		close(report[0]);
		/* Wait until the tracer is attached; EOF without a byte means abort. */
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(cmd[0], cmd);
		e = errno;
		if (write(report[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(report[1]);
	fds[0] = go[1];
	fds[1] = report[0];
	return pid;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static char *default_output(struct record_opts *o)
{
	char stamp[32], *path = NULL, who[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (o->cmd)
		snprintf(who, sizeof(who), "%s", base_name(o->cmd[0]));
	else if (o->npids)
		snprintf(who, sizeof(who), "%d", o->pids[0]);
	else
		snprintf(who, sizeof(who), "system");
	for (char *c = who; *c; c++)
		if (*c == '/' || *c == ' ')
			*c = '_';
	if (asprintf(&path, "ctrace-%s-%s.%s", who, stamp,
		     o->format == FMT_JSON  ? "json"
		     : o->format == FMT_CTR ? "ctr"
		     : o->format == FMT_GO  ? "gotrace"
					    : "pftrace") < 0)
		return NULL;
	return path;
}

/* Proves the output can be created before any tracing starts. */
static int check_writable(const char *path)
{
	char *tmp;
	int fd;

	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;

		free(tmp);
		return -e;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}

static void status_line(struct recorder *r, uint64_t elapsed, uint64_t drops, bool final)
{
	char size[32];
	double secs = elapsed / 1e9;

	fmt_bytes(size, sizeof(size), ctr_writer_bytes(r->w));
	fprintf(stderr, "\r\033[K%6.1fs  %llu events  %.0f ev/s  %llu dropped  %s%s", secs,
		(unsigned long long)r->events, secs > 0 ? r->events / secs : 0.0,
		(unsigned long long)drops, size, final ? "\n" : "");
}

/* The file execvp would run for cmd, so its uprobes go in before the exec. */
static int resolve_cmd(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int rc = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", cmd);
		if (!access(out, X_OK)) {
			rc = 0;
			break;
		}
	}
	free(copy);
	return rc;
}

/* Goroutine probes for one process; a non-Go target is traced at thread level. */
static void attach_go(struct recorder *r, struct tracer *t, pid_t tgid, const char *path)
{
	char msg[512];
	int rings_fd, drops_fd, rc;

	if (r->o->no_goroutines)
		return;
	if (!r->go) {
		tracer_shared_maps(t, &rings_fd, &drops_fd);
		r->go = goprobe_new(rings_fd, drops_fd, r->o->stack_depth, r->o->verbose, msg,
				    sizeof(msg));
		if (!r->go) {
			errmsg("goroutine tracing unavailable: %s", msg);
			return;
		}
	}
	rc = goprobe_attach(r->go, tgid, path, msg, sizeof(msg));
	if (rc == GOPROBE_ATTACHED) {
		r->go_pending[r->ngo_pending++] = tgid;
		if (r->o->verbose)
			errmsg("goroutines: %s", msg);
	} else if (rc == GOPROBE_NOT_GO) {
		if (r->o->verbose)
			errmsg("%s", msg);
	} else if (!r->o->quiet || rc < 0) {
		errmsg("%s", msg);
	}
}

/* Snapshots Go processes that have reached their binary; keeps the rest. */
static void go_snapshots(struct recorder *r)
{
	int keep = 0;

	for (int i = 0; i < r->ngo_pending; i++)
		/* A launched command has no goroutines from before the probes. */
		if (goprobe_snapshot(r->go, r->go_pending[i], r->w, r->go_attach_ts,
				     r->go_pending[i] != r->child) == 0)
			r->go_pending[keep++] = r->go_pending[i];
	r->ngo_pending = keep;
}

static void install_signals(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int cmd_record(struct record_opts *o)
{
	struct recorder rec = {.o = o, .child = -1};
	struct tracer_opts topts = {0};
	struct tracer *t = NULL;
	char err[600], *capture_path = NULL, *defout = NULL;
	const char *out = o->output;
	uint64_t start, last_stats, stop_ts, drops_total = 0;
	__u64 drops[EV_KERNEL_MAX] = {0};
	int go_fd[2] = {-1, -1}, rc = EXIT_OK, e;
	bool tty = isatty(STDERR_FILENO) && !o->quiet;
	uint32_t end_reason = END_SIGNAL;
	bool target_gone = false;

	if (!has_bpf_caps()) {
		errmsg("need root, or CAP_BPF and CAP_PERFMON, to load BPF programs (try sudo)");
		return EXIT_PRIV;
	}
	for (int i = 0; i < o->npids; i++) {
		pid_t tg = proc_tgid(o->pids[i]);

		if (tg < 0) {
			errmsg("no such process: %d", o->pids[i]);
			return EXIT_NOPROC;
		}
		o->pids[i] = tg;
		rec.target_alive[i] = true;
	}
	if (!out) {
		out = defout = default_output(o);
		if (!out)
			return EXIT_RUNTIME;
	}
	if (o->format == FMT_NONE) {
		o->format = format_from_path(out, &o->gzip);
		if (o->format == FMT_NONE)
			o->format = FMT_PERFETTO;
	}
	e = check_writable(out);
	if (e) {
		errmsg("cannot write %s: %s", out, strerror(-e));
		rc = EXIT_OUTPUT;
		goto out_free;
	}
	/* Non-native outputs are converted from a capture kept beside them. */
	if (o->format == FMT_CTR && !o->gzip) {
		capture_path = strdup(out);
	} else if (asprintf(&capture_path, "%s.capture.%d.ctr", out, getpid()) < 0) {
		capture_path = NULL;
	}
	if (!capture_path) {
		rc = EXIT_RUNTIME;
		goto out_free;
	}

	install_signals();
	signal(SIGPIPE, SIG_IGN);
	if (o->cmd) {
		char path[4096];
		int e2 = resolve_cmd(o->cmd[0], path, sizeof(path));

		/* Say it before tracing starts, in one line, as a shell would. */
		if (e2) {
			errmsg("cannot run %s: %s", o->cmd[0], strerror(-e2));
			rc = EXIT_CMD;
			goto out_free;
		}
		rec.child = launch(o->cmd, go_fd);
		if (rec.child < 0) {
			rc = EXIT_CMD;
			goto out_free;
		}
	}

	topts.filter_syscalls = o->npids > 0 || o->cmd;
	topts.self_tgid = getpid();
	topts.sample = on_record;
	topts.ctx = &rec;
	topts.verbose = o->verbose;
	rec.w = ctr_writer_open(capture_path);
	if (!rec.w) {
		errmsg("cannot write %s: %s", capture_path, strerror(errno));
		rc = EXIT_OUTPUT;
		goto out_child;
	}
	t = tracer_open(&topts, err, sizeof(err));
	if (!t) {
		errmsg("%s", err);
		rc = EXIT_BPF;
		goto out_capture;
	}
	rec.go_attach_ts = now_boot_ns();
	for (int i = 0; i < o->npids; i++) {
		tracer_add_target(t, o->pids[i]);
		attach_go(&rec, t, o->pids[i], NULL);
	}
	if (rec.child > 0) {
		char path[4096];

		tracer_add_target(t, rec.child);
		if (!resolve_cmd(o->cmd[0], path, sizeof(path)))
			attach_go(&rec, t, rec.child, path);
	}

	start = now_boot_ns();
	write_meta(&rec, start);
	proc_snapshot(rec.w, start);
	if (rec.go)
		go_snapshots(&rec);
	/* Metadata in a block of its own: even a capture cut at once converts. */
	rec.werr = ctr_writer_flush(rec.w);
	if (!o->quiet) {
		if (o->cmd)
			fprintf(stderr, "ctrace-bpf: recording %s (pid %d)%s\n", o->cmd[0],
				rec.child, o->duration_ns ? "" : " until it exits or Ctrl-C");
		else
			fprintf(stderr, "ctrace-bpf: recording %s%s\n",
				o->npids ? "target" : "system-wide",
				o->duration_ns ? "" : " (Ctrl-C to stop)");
	}
	if (rec.child > 0) {
		int cerr = 0;
		ssize_t n;

		/* Release the command, then learn whether its exec worked. */
		if (write(go_fd[0], "g", 1) != 1) {
			errmsg("cannot start %s: %s", o->cmd[0], strerror(errno));
			rc = EXIT_CMD;
			goto out_tracer;
		}
		close(go_fd[0]);
		go_fd[0] = -1;
		n = read(go_fd[1], &cerr, sizeof(cerr));
		close(go_fd[1]);
		go_fd[1] = -1;
		if (n == sizeof(cerr)) {
			waitpid(rec.child, NULL, 0);
			rec.child = -1;
			errmsg("cannot run %s: %s", o->cmd[0], strerror(cerr));
			rc = EXIT_CMD;
			goto out_tracer;
		}
	}

	last_stats = start;
	while (!stop_signal) {
		uint64_t now, drain_start;
		int prc;

		prc = tracer_poll(t, POLL_MS);
		drain_start = now_boot_ns();
		if (!prc)
			prc = tracer_drain(t);
		if (prc) {
			errmsg("reading ring buffers: %s", strerror(-prc));
			rc = EXIT_RUNTIME;
			break;
		}
		write_watermark(&rec, drain_start - WATERMARK_MARGIN_NS);
		flush_exec_queue(&rec);
		if (rec.ngo_pending)
			go_snapshots(&rec);
		if (rec.werr)
			break;
		now = now_boot_ns();
		if (now - last_stats >= 1000000000ull) {
			last_stats = now;
			write_stats(&rec, t);
			/* At most a second of records is lost if we are killed. */
			if (!rec.werr)
				rec.werr = ctr_writer_flush(rec.w);
			tracer_drops(t, drops);
			drops_total = 0;
			for (int i = 0; i < EV_KERNEL_MAX; i++)
				drops_total += drops[i];
			if (tty)
				status_line(&rec, now - start, drops_total, false);
		}
		if (o->duration_ns && now - start >= o->duration_ns) {
			end_reason = END_DURATION;
			break;
		}
		if (rec.child > 0) {
			if (waitpid(rec.child, &rec.child_status, WNOHANG) == rec.child) {
				rec.child_done = true;
				end_reason = END_COMMAND_EXITED;
				break;
			}
		} else if (o->npids) {
			int alive = 0;

			for (int i = 0; i < o->npids; i++) {
				if (rec.target_alive[i] && !proc_alive(o->pids[i]))
					rec.target_alive[i] = false;
				alive += rec.target_alive[i];
			}
			if (!alive) {
				target_gone = true;
				end_reason = END_TARGET_EXITED;
				break;
			}
		}
	}

	stop_ts = now_boot_ns();
	/* What is still in the rings belongs to the capture. */
	if (!rec.werr) {
		struct rec_end end = {0};
		uint64_t now = now_boot_ns();

		tracer_drain(t);
		write_watermark(&rec, now);
		flush_exec_queue(&rec);
		if (rec.go && !rec.werr)
			rec.werr = goprobe_write_symbols(rec.go, rec.w);
		write_stats(&rec, t);
		end.h.type = REC_END;
		end.h.size = sizeof(end);
		end.h.ts = now;
		end.reason = end_reason;
		end.cmd_status = rec.child_done ? rec.child_status : -1;
		if (!rec.werr)
			rec.werr = ctr_writer_add(rec.w, &end);
	}
	tracer_drops(t, drops);
	drops_total = 0;
	for (int i = 0; i < EV_KERNEL_MAX; i++)
		drops_total += drops[i];
	if (tty)
		status_line(&rec, now_boot_ns() - start, drops_total, true);
	goprobe_close(rec.go);
	rec.go = NULL;
	tracer_close(t);
	t = NULL;

	e = ctr_writer_close(rec.w);
	rec.w = NULL;
	if (rec.werr || e) {
		errmsg("writing %s: %s", capture_path, strerror(-(rec.werr ? rec.werr : e)));
		rc = EXIT_RUNTIME;
		if (strcmp(capture_path, out))
			unlink(capture_path);
		goto out_child;
	}
	if (rc)
		goto out_child;

	/* --pprof-out reads the capture before the conversion removes it. */
	bool pprof_failed = o->pprof_dir && pprof_write_dir(capture_path, o->pprof_dir, o->quiet);

	if (strcmp(capture_path, out)) {
		cleanup_path = capture_path;
		converting = 1;
		stop_signal = 0;
		rc = convert_file(capture_path, out, o->format, o->gzip);
		/* --report reads the capture after the summary. */
		if (rc || !o->report)
			unlink(capture_path);
		converting = 0;
		if (rc)
			goto out_child;
	}
	if (pprof_failed)
		rc = EXIT_RUNTIME;

	if (!o->quiet) {
		struct stat st = {0};
		char size[32];

		stat(out, &st);
		fmt_bytes(size, sizeof(size), st.st_size);
		if (target_gone)
			fprintf(
			    stderr,
			    "ctrace-bpf: the target exited after %.2f s; kept what was recorded\n",
			    (stop_ts - start) / 1e9);
		if (rec.child_done) {
			if (WIFEXITED(rec.child_status))
				fprintf(stderr, "ctrace-bpf: command exited with status %d\n",
					WEXITSTATUS(rec.child_status));
			else if (WIFSIGNALED(rec.child_status))
				fprintf(stderr, "ctrace-bpf: command killed by signal %d (%s)\n",
					WTERMSIG(rec.child_status),
					strsignal(WTERMSIG(rec.child_status)));
		}
		fprintf(stderr, "ctrace-bpf: %llu events, %llu dropped%s\n",
			(unsigned long long)rec.events, (unsigned long long)drops_total,
			drops_total ? " (the ring buffers were full; see README: Drops)" : "");
		fprintf(stderr, "ctrace-bpf: wrote %s (%s, %s); %s\n", out, size,
			format_name(o->format), format_viewer_hint(o->format));
	}
	if (o->report) {
		struct report_opts ro = {.top = 10};
		int rrc;

		fflush(stderr);
		rrc = report_file(capture_path, &ro);
		if (!rc)
			rc = rrc;
		if (strcmp(capture_path, out))
			unlink(capture_path);
	}
	goto out_child;

out_tracer:
	goprobe_close(rec.go);
	tracer_close(t);
	t = NULL;
out_capture:
	if (rec.w)
		ctr_writer_close(rec.w);
	unlink(capture_path);
out_child:
	if (go_fd[0] >= 0)
		close(go_fd[0]); /* EOF: the command never runs */
	if (go_fd[1] >= 0)
		close(go_fd[1]);
	if (rec.child > 0 && !rec.child_done) {
		/* The command keeps running after a stop by signal, as with perf. */
		if (rc)
			kill(rec.child, SIGKILL);
		waitpid(rec.child, &rec.child_status, rc ? 0 : WNOHANG);
	}
out_free:
	free(capture_path);
	free(defout);
	return rc;
}
