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
#include <grp.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "capture/capture.h"
#include "capture/names.h"
#include "formats/convert.h"
#include "go/goprobe.h"
#include "record/cpusample.h"
#include "record/governor.h"
#include "record/privs.h"
#include "record/procfs.h"
#include "record/record.h"
#include "record/snapshots.h"
#include "formats/pprof.h"
#include "report/report.h"
#include "record/tracer.h"
#include "lib/output.h"
#include "lib/util.h"

/* Events with ts older than (drain start - this) are all in the file. */
#define WATERMARK_MARGIN_NS 5000000ull
#define POLL_MS		    100
#define EXEC_QUEUE	    256
/* How long the last drain waits for a CPU to confirm its ring is complete. */
#define FLUSH_TIMEOUT_MS 2000

static volatile sig_atomic_t stop_signal;
/* When the first stopping signal arrived (CLOCK_BOOTTIME): the cut. */
static volatile uint64_t stop_signal_ts;
static volatile sig_atomic_t converting;
/* The process converting as the invoking user, while it runs. */
static volatile pid_t convert_child;
/* Said when a signal abandons the conversion: where the capture is. */
static char *abandon_msg;

/*
 * A signal during the conversion abandons it: its temporary files go, the
 * capture stays. A converting child is told and does its own cleanup.
 */
static void on_signal(int sig)
{
	if (converting) {
		if (convert_child > 0) {
			kill(convert_child, sig);
			return;
		}
		out_unlink_pending();
		if (abandon_msg && write(STDERR_FILENO, abandon_msg, strlen(abandon_msg)) < 0)
			_exit(128 + sig);
		_exit(128 + sig);
	}
	/* clock_gettime() is async-signal-safe. */
	if (!stop_signal && !converting)
		stop_signal_ts = now_boot_ns();
	stop_signal = sig;
}

/* One recording, from the checks before it to the outputs after it. */
struct recorder {
	struct record_opts *o;
	const char *out;    /* the output file */
	char *defout;	    /* out, when named by default */
	char *capture_path; /* out for a plain .ctr, else a temporary beside it */
	struct tracer *t;
	struct ctr_writer *w;
	int werr;
	uint64_t events;
	uint64_t drops; /* lost in the kernel, as last read */
	uint64_t start, stop_ts;
	/* No event stamped later is written: the deadline, or the stop once known. */
	uint64_t cut_ts;
	uint64_t cut_events; /* drained from the rings but stamped after the cut */
	int unflushed;	     /* CPUs whose rings were not confirmed complete at the end */
	int stop_sig;	     /* END_SIGNAL: which one */
	uint32_t end_reason;
	bool tty; /* a status line on stderr */
	pid_t exec_queue[EXEC_QUEUE][2];
	int nexec;
	struct goprobe *go;
	struct cpusample *cs;		   /* CPU sampling's perf events */
	pid_t go_pending[MAX_TARGETS + 1]; /* Go processes awaiting their snapshot */
	int ngo_pending;
	uint64_t go_attach_ts;
	int go_now;			 /* the goroutine mode in force (enum go_mode) */
	pid_t go_tgids[MAX_TARGETS + 1]; /* Go processes attached */
	int ngo;
	struct governor gov; /* auto mode while still full */
	bool governed;
	uint64_t go_switch_ts;	/* auto mode: when the governor chose sampled */
	double go_share;	/* the governor's last (or deciding) estimate */
	double go_share_max;	/* its highest estimate */
	struct snapshots snaps; /* --snapshot-interval */
	struct run_as cmd_as;	/* who CMD runs as */
	struct run_as owner;	/* the invoking user: outputs, conversion, reports */
	pid_t child;
	int child_fd[2]; /* launch(): release the command; its exec errno */
	int child_status;
	bool child_done;
	bool target_alive[MAX_TARGETS];
};

/* The stop time as known so far: a deadline, a signal, or UINT64_MAX. */
static uint64_t rec_cut(const struct recorder *r)
{
	uint64_t sig = stop_signal_ts;

	return sig && sig < r->cut_ts ? sig : r->cut_ts;
}

static int on_record(void *ctx, const struct ev_header *h)
{
	struct recorder *r = ctx;

	/* One cut for all CPUs: what happened after the stop is left out. */
	if (h->ts > rec_cut(r)) {
		r->cut_events++;
		return 0;
	}
	r->events++;
	if (!r->werr)
		r->werr = ctr_writer_add(r->w, h);
	if (r->go &&
	    ((h->type >= EV_GO_CREATE && h->type <= EV_GO_EXIT) || h->type == EV_CPU_SAMPLE))
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
	if (r->o->go_mode == GO_MODE_AUTO) {
		snprintf(buf, sizeof(buf), "%g", r->o->max_overhead);
		ctr_writer_meta(r->w, "go_max_overhead_pct", buf);
	}
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

/* Records lost in the kernel so far: by type into drops, and their sum. */
static uint64_t read_drops(struct tracer *t, __u64 drops[EV_KERNEL_MAX])
{
	uint64_t total = 0;

	tracer_drops(t, drops);
	for (int i = 0; i < EV_KERNEL_MAX; i++)
		total += drops[i];
	return total;
}

static void write_stats(struct recorder *r)
{
	struct rec_stats s = {0};

	s.h.type = REC_STATS;
	s.h.size = sizeof(s);
	s.h.ts = now_boot_ns();
	s.events = r->events;
	s.drops_total = read_drops(r->t, s.drops);
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

/*
 * With -p or a command only the targets' command lines are recorded (they
 * may hold secrets); other processes keep their comm.
 */
static bool want_cmdline(void *ctx, pid_t tgid)
{
	struct recorder *r = ctx;

	return (!r->o->npids && !r->o->cmd) || tracer_is_target(r->t, tgid);
}

static void flush_exec_queue(struct recorder *r)
{
	for (int i = 0; i < r->nexec && !r->werr; i++) {
		pid_t tgid = r->exec_queue[i][0];
		int rc = proc_write_task(r->w, tgid, r->exec_queue[i][1], now_boot_ns(),
					 want_cmdline(r, tgid));

		if (rc < 0 && rc != -1)
			r->werr = rc;
	}
	r->nexec = 0;
}

/*
 * The held command's last steps: its user, default signals, exec. Returns
 * only on failure, with errno (negative: changing user failed).
 */
static int become_cmd(char **cmd, const struct run_as *as)
{
	int e = privs_become(as);

	if (e)
		return e;
	privs_default_signals();
	execvp(cmd[0], cmd);
	return errno;
}

/*
 * Forks CMD held before exec; returns the pid, or -1 after one line.
 * fds[0]: write a byte to let it exec; fds[1]: yields errno if exec failed.
 */
static pid_t launch(char **cmd, const struct run_as *as, int fds[2])
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
		e = become_cmd(cmd, as);
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
	if (asprintf(&path, "ctrace-%s-%s%s", who, stamp, format_default_ext(o->format)) < 0)
		return NULL;
	return path;
}

/* Creates and removes a file beside path; 0 or an errno as exit status. */
static int try_create(void *path)
{
	char *tmp;
	int fd = out_create_tmp(path, 0600, &tmp);

	if (fd < 0)
		return -fd;
	close(fd);
	unlink(tmp);
	out_forget_tmp(tmp);
	free(tmp);
	return 0;
}

/* Proves the output can be created, by whoever will create it, before tracing. */
static int check_writable(struct recorder *r)
{
	int e = privs_run(&r->owner, try_create, (void *)r->out, NULL);

	if (e) {
		errmsg("cannot write %s: %s", r->out, strerror(e));
		return EXIT_OUTPUT;
	}
	return 0;
}

static void status_line(struct recorder *r, uint64_t elapsed, bool final)
{
	char size[32];
	double secs = elapsed / 1e9;

	fmt_bytes(size, sizeof(size), ctr_writer_bytes(r->w));
	fprintf(stderr, "\r\033[K%6.1fs  %llu events  %.0f ev/s  %llu dropped  %s%s", secs,
		(unsigned long long)r->events, secs > 0 ? r->events / secs : 0.0,
		(unsigned long long)r->drops, size, final ? "\n" : "");
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

/*
 * Goroutine identity at kernel events, in sampled mode and (for tests
 * comparing both views of the same run) in full mode with
 * CTRACE_TEST_GO_TAILS=1 in the environment.
 */
static bool go_tails(const struct recorder *r)
{
	const char *e = getenv("CTRACE_TEST_GO_TAILS");

	return r->go_now == GO_MODE_SAMPLED || (r->go_now == GO_MODE_FULL && e && *e == '1');
}

/*
 * Full mode without go_tails(): syscall entries still carry the goroutine,
 * whose status says whether the goroutine made the syscall (entersyscall,
 * what Go's trace shows) or the runtime did on its own.
 */
static int add_go_tls(struct recorder *r, struct tracer *t, pid_t tgid)
{
	struct go_tls_cfg tls;

	if (goprobe_tls_cfg(r->go, tgid, &tls))
		return 0;
	if (!go_tails(r))
		tls.flags |= GO_TLS_F_ENTER_ONLY;
	return tracer_add_go_tls(t, &tls);
}

/* Goroutine tracing of one process; a non-Go target is traced at thread level. */
static void attach_go(struct recorder *r, struct tracer *t, pid_t tgid, const char *path)
{
	char msg[512];
	int rings_fd = -1, drops_fd = -1, rc;

	if (r->go_now == GO_MODE_OFF)
		return;
	if (!r->go) {
		if (r->go_now == GO_MODE_FULL)
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
		r->go_tgids[r->ngo++] = tgid;
		if (add_go_tls(r, t, tgid))
			errmsg("pid %d: more than %d Go processes; its goroutines are not named at "
			       "kernel events",
			       tgid, GO_MAX_PROCS);
		if (r->o->verbose)
			errmsg("goroutines: %s", msg);
	} else if (rc == GOPROBE_NOT_GO) {
		if (r->o->verbose)
			errmsg("%s", msg);
	} else if (!r->o->quiet || rc < 0) {
		errmsg("%s", msg);
	}
}

/* REC_GO_MODE: how goroutines are traced from ts on (share: the governor's estimate). */
static void write_go_mode(struct recorder *r, uint64_t ts, uint32_t reason, double share)
{
	struct rec_go_mode m = {
	    .h = {.ts = ts, .type = REC_GO_MODE, .size = sizeof(m)},
	    .mode = r->go_now,
	    .reason = reason,
	    .flags = (r->go_now == GO_MODE_FULL && go_tails(r) ? GO_MODE_F_TAILS : 0) |
		     (r->o->go_mode == GO_MODE_AUTO ? GO_MODE_F_AUTO : 0),
	    .est_ppm = share * 1e6 < 4e9 ? (uint32_t)(share * 1e6) : UINT32_MAX,
	};

	if (!r->werr)
		r->werr = ctr_writer_add(r->w, &m.h);
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

/*
 * Who is who: under sudo, CMD (unless --user says otherwise), the outputs,
 * the conversion and the reports belong to the invoking user. Captures hold
 * command lines: 0600, as perf does for perf.data.
 */
static int rec_users(struct recorder *r)
{
	int e = privs_invoker(&r->owner);

	if (e)
		return e;
	if (r->o->user && !r->o->cmd) {
		errmsg("--user applies to a command (-- CMD)");
		return EXIT_USAGE;
	}
	if (r->o->user)
		e = privs_user(r->o->user, &r->cmd_as);
	else if (r->owner.change)
		e = privs_invoker(&r->cmd_as);
	if (e)
		return e;
	/* Root needs no groups of its own; the owner's apply to file access as the owner. */
	if (r->owner.change && setgroups(r->owner.ngroups, r->owner.groups)) {
		errmsg("setgroups: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (r->owner.change)
		out_set_owner(r->owner.uid, r->owner.gid);
	out_set_mode(0600);
	return 0;
}

/* Before any tracing: privileges, targets, the output's name and format. */
static int rec_prepare(struct recorder *r)
{
	struct record_opts *o = r->o;
	int e;

	/* Auto mode starts full; its governor may switch to sampled. */
	r->go_now = o->go_mode == GO_MODE_AUTO ? GO_MODE_FULL : o->go_mode;

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
		r->target_alive[i] = true;
	}
	if (o->format == FMT_NONE && o->output)
		o->format = format_from_path(o->output, &o->gzip);
	if (o->format == FMT_NONE)
		o->format = FMT_PERFETTO;
	if (o->format == FMT_GO && o->go_mode != GO_MODE_FULL && o->go_mode != GO_MODE_AUTO) {
		errmsg("a go trace needs every goroutine transition: use --goroutines full "
		       "(see docs/go-trace.md)");
		return EXIT_USAGE;
	}
	r->out = o->output ? o->output : (r->defout = default_output(o));
	if (!r->out)
		return EXIT_RUNTIME;
	e = rec_users(r);
	if (!e)
		e = check_writable(r);
	if (e)
		return e;
	/* Non-native outputs are converted from a capture kept beside them. */
	if (o->format == FMT_CTR && !o->gzip)
		r->capture_path = strdup(r->out);
	else if (asprintf(&r->capture_path, "%s.capture.%d.ctr", r->out, getpid()) < 0)
		r->capture_path = NULL;
	return r->capture_path ? 0 : EXIT_RUNTIME;
}

/* Launch mode: CMD is forked, held before its exec until tracing runs. */
static int rec_launch(struct recorder *r)
{
	char path[4096];
	int e;

	if (!r->o->cmd)
		return 0;
	e = resolve_cmd(r->o->cmd[0], path, sizeof(path));
	/* Say it before tracing starts, in one line, as a shell would. */
	if (e) {
		errmsg("cannot run %s: %s", r->o->cmd[0], strerror(-e));
		return EXIT_CMD;
	}
	r->child = launch(r->o->cmd, &r->cmd_as, r->child_fd);
	return r->child < 0 ? EXIT_CMD : 0;
}

/* On by default while goroutines are sampled, else only when --freq asks. */
static bool want_cpu_samples(const struct record_opts *o, int go_now)
{
	return o->freq_hz && (o->freq_set || go_now == GO_MODE_SAMPLED);
}

/* Loaded whenever samples may be wanted: auto mode may turn them on later. */
static bool may_cpu_sample(const struct record_opts *o)
{
	return o->freq_hz &&
	       (o->freq_set || o->go_mode == GO_MODE_SAMPLED || o->go_mode == GO_MODE_AUTO);
}

/* The perf events go in after the BPF load; failing them is a failed attach. */
static int attach_cpu_samples(struct recorder *r)
{
	char err[300];

	if (!want_cpu_samples(r->o, r->go_now) || r->cs)
		return 0;
	r->cs = cpusample_open(tracer_cpu_sample_prog(r->t), r->o->freq_hz, err, sizeof(err));
	if (!r->cs) {
		errmsg("%s", err);
		return EXIT_BPF;
	}
	return 0;
}

/* CPU time of the Go processes attached, for the governor. */
static uint64_t go_cpu_ns(const struct recorder *r)
{
	uint64_t n = 0;

	for (int i = 0; i < r->ngo; i++)
		n += proc_cpu_ns(r->go_tgids[i]);
	return n;
}

/*
 * Auto mode gives up full mode's probes: the goroutine at each kernel event
 * comes from TLS from now on, and CPU samples start.
 */
static void go_to_sampled(struct recorder *r, uint64_t now)
{
	struct go_tls_cfg tls;

	goprobe_detach(r->go);
	/*
	 * Detaching takes a while (one unregister per probe), and the probes
	 * fire until the last one is gone: full mode's records end here, not
	 * at the decision, so the switch is dated after the detach.
	 */
	now = now_boot_ns();
	r->go_now = GO_MODE_SAMPLED;
	r->governed = false;
	r->go_switch_ts = now;
	for (int i = 0; i < r->ngo; i++)
		if (!goprobe_tls_cfg(r->go, r->go_tgids[i], &tls))
			tracer_add_go_tls(r->t, &tls);
	write_go_mode(r, now, GO_MODE_BY_GOVERNOR, r->go_share);
	/* Without samples the goroutines are still named at kernel events. */
	attach_cpu_samples(r);
	if (!r->snaps.every) {
		r->snaps.every = snapshots_interval(r->o, GO_MODE_SAMPLED);
		r->snaps.next = now;
	}
}

/* -v in full mode: a probe hit and an empty uprobe here, the figures benchmarks quote. */
static void show_probe_costs(struct recorder *r, double hit_ns)
{
	char msg[300];
	double empty;

	if (!r->o->verbose || !r->go || !r->ngo || r->go_now != GO_MODE_FULL)
		return;
	if (hit_ns <= 0 && goprobe_calibrate(r->go, false, &hit_ns, msg, sizeof(msg)))
		return;
	if (!goprobe_calibrate(r->go, true, &empty, msg, sizeof(msg)))
		errmsg("probe costs here: %.0f ns a goroutine probe hit, %.0f ns an empty uprobe",
		       hit_ns, empty);
}

/* Auto mode: what a probe hit costs here, measured before judging any interval. */
static void governor_start(struct recorder *r)
{
	char msg[300];
	double ns;

	if (r->o->go_mode != GO_MODE_AUTO || !r->go || !r->ngo) {
		show_probe_costs(r, 0);
		return;
	}
	if (goprobe_calibrate(r->go, false, &ns, msg, sizeof(msg))) {
		errmsg("auto goroutine mode: %s; sampling goroutines instead", msg);
		go_to_sampled(r, now_boot_ns());
		return;
	}
	show_probe_costs(r, ns);
	gov_init(&r->gov, ns, r->o->max_overhead, now_boot_ns(), goprobe_hits(r->go), go_cpu_ns(r));
	r->governed = true;
}

/* Every loop turn while auto mode is still full. */
static void governor_tick(struct recorder *r, uint64_t now)
{
	if (!gov_over(&r->gov, now, goprobe_hits(r->go), go_cpu_ns(r))) {
		if (r->gov.last_share > r->go_share_max)
			r->go_share_max = r->gov.last_share;
		return;
	}
	r->go_share = r->go_share_max = r->gov.last_share;
	go_to_sampled(r, now);
}

/* The capture file, the BPF programs, and the targets with their goroutines. */
static int rec_attach(struct recorder *r)
{
	struct record_opts *o = r->o;
	struct tracer_opts topts = {
	    .filter_syscalls = o->npids > 0 || o->cmd,
	    .self_tgid = getpid(),
	    .sample = on_record,
	    .ctx = r,
	    .verbose = o->verbose,
	    .cpu_sample = may_cpu_sample(o),
	};
	char err[600], path[4096];

	r->w = ctr_writer_open(r->capture_path);
	if (!r->w) {
		errmsg("cannot write %s: %s", r->capture_path, strerror(errno));
		return EXIT_OUTPUT;
	}
	r->t = tracer_open(&topts, err, sizeof(err));
	if (!r->t) {
		errmsg("%s", err);
		return EXIT_BPF;
	}
	if (attach_cpu_samples(r))
		return EXIT_BPF;
	r->go_attach_ts = now_boot_ns();
	for (int i = 0; i < o->npids; i++) {
		tracer_add_target(r->t, o->pids[i]);
		attach_go(r, r->t, o->pids[i], NULL);
	}
	if (r->child > 0) {
		tracer_add_target(r->t, r->child);
		if (!resolve_cmd(o->cmd[0], path, sizeof(path)))
			attach_go(r, r->t, r->child, path);
	}
	return 0;
}

/* The capture's head: metadata, processes and goroutines as they are now. */
static void rec_begin(struct recorder *r)
{
	struct record_opts *o = r->o;

	r->start = now_boot_ns();
	if (o->duration_ns)
		r->cut_ts = r->start + o->duration_ns;
	write_meta(r, r->start);
	write_go_mode(r, r->start, r->o->go_mode_set ? GO_MODE_BY_OPTION : GO_MODE_BY_DEFAULT, 0);
	proc_snapshot(r->w, r->start, want_cmdline, r);
	if (r->go)
		go_snapshots(r);
	/* Metadata in a block of its own: even a capture cut at once converts. */
	r->werr = ctr_writer_flush(r->w);
	if (o->quiet)
		return;
	if (o->cmd)
		fprintf(stderr, "ctrace-bpf: recording %s (pid %d)%s\n", o->cmd[0], r->child,
			o->duration_ns ? "" : " until it exits or Ctrl-C");
	else
		fprintf(stderr, "ctrace-bpf: recording %s%s\n", o->npids ? "target" : "system-wide",
			o->duration_ns ? "" : " (Ctrl-C to stop)");
}

/* Releases the command, then learns whether its exec worked. */
static int rec_release(struct recorder *r)
{
	int cerr = 0;
	ssize_t n;

	if (r->child <= 0)
		return 0;
	if (write(r->child_fd[0], "g", 1) != 1) {
		errmsg("cannot start %s: %s", r->o->cmd[0], strerror(errno));
		return EXIT_CMD;
	}
	close(r->child_fd[0]);
	r->child_fd[0] = -1;
	n = read(r->child_fd[1], &cerr, sizeof(cerr));
	close(r->child_fd[1]);
	r->child_fd[1] = -1;
	if (n == sizeof(cerr)) {
		waitpid(r->child, NULL, 0);
		r->child = -1;
		if (cerr < 0)
			errmsg("cannot run %s as uid %u: %s", r->o->cmd[0], (unsigned)r->cmd_as.uid,
			       strerror(-cerr));
		else
			errmsg("cannot run %s: %s", r->o->cmd[0], strerror(cerr));
		return EXIT_CMD;
	}
	return 0;
}

/* Undoes a start that failed half-way: nothing of the capture is kept. */
static void rec_abort(struct recorder *r)
{
	cpusample_close(r->cs);
	r->cs = NULL;
	goprobe_close(r->go);
	r->go = NULL;
	tracer_close(r->t);
	r->t = NULL;
	/* Nothing was recorded; an existing output is left as it was. */
	ctr_writer_discard(r->w);
	r->w = NULL;
}

/* Everything is attached: under sudo the collector keeps only what it still uses. */
static int rec_drop(struct recorder *r)
{
	int e = privs_drop_collector(&r->owner);

	if (e) {
		errmsg("cannot drop privileges to uid %u: %s", (unsigned)r->owner.uid,
		       strerror(-e));
		return EXIT_RUNTIME;
	}
	return 0;
}

static int rec_start(struct recorder *r)
{
	int rc;

	install_signals();
	signal(SIGPIPE, SIG_IGN);
	rc = rec_launch(r);
	if (!rc)
		rc = rec_attach(r);
	if (!rc) {
		rec_begin(r);
		governor_start(r);
		rc = rec_release(r);
	}
	if (!rc)
		rc = rec_drop(r);
	if (rc)
		rec_abort(r);
	return rc;
}

/* Once a second: a stats record, a flush and the status line. */
static void rec_tick(struct recorder *r, uint64_t now)
{
	__u64 drops[EV_KERNEL_MAX] = {0};

	write_stats(r);
	/* At most a second of records is lost if we are killed. */
	if (!r->werr)
		r->werr = ctr_writer_flush(r->w);
	r->drops = read_drops(r->t, drops);
	if (r->tty)
		status_line(r, now - r->start, false);
}

/* A stop seen at now: everything drained so far was stamped before it. */
static bool stop_at(struct recorder *r, uint64_t now, uint32_t reason)
{
	r->end_reason = reason;
	if (now < r->cut_ts)
		r->cut_ts = now;
	return true;
}

/*
 * The duration is over (the cut is its end, set at the start), the command
 * exited or every -p target is gone.
 */
static bool rec_should_stop(struct recorder *r, uint64_t now)
{
	struct record_opts *o = r->o;
	int alive = 0;

	if (o->duration_ns && now >= r->start + o->duration_ns) {
		r->end_reason = END_DURATION;
		return true;
	}
	if (r->child > 0) {
		if (waitpid(r->child, &r->child_status, WNOHANG) != r->child)
			return false;
		r->child_done = true;
		return stop_at(r, now, END_COMMAND_EXITED);
	}
	if (!o->npids)
		return false;
	for (int i = 0; i < o->npids; i++) {
		if (r->target_alive[i] && !proc_alive(o->pids[i]))
			r->target_alive[i] = false;
		alive += r->target_alive[i];
	}
	if (alive)
		return false;
	return stop_at(r, now, END_TARGET_EXITED);
}

/* The poll's wait: the snapshots' next turn, and no later than the deadline. */
static int poll_ms(struct recorder *r)
{
	int ms = snapshots_poll_ms(&r->snaps, POLL_MS);
	uint64_t now, end;

	if (!r->o->duration_ns)
		return ms;
	now = now_boot_ns();
	end = r->start + r->o->duration_ns;
	if (now >= end)
		return 0;
	if (end - now < (uint64_t)ms * 1000000)
		ms = (int)((end - now + 999999) / 1000000);
	return ms;
}

/* Streams the rings into the capture until a stop; 0 or EXIT_RUNTIME. */
static int rec_loop(struct recorder *r)
{
	uint64_t last_stats = r->start;

	while (!stop_signal) {
		uint64_t now, drain_start, wm;
		int prc;

		prc = tracer_poll(r->t, poll_ms(r));
		drain_start = now_boot_ns();
		if (!prc)
			prc = tracer_drain(r->t);
		if (prc) {
			errmsg("reading ring buffers: %s", strerror(-prc));
			return EXIT_RUNTIME;
		}
		wm = drain_start - WATERMARK_MARGIN_NS;
		if (tracer_pending_ts(r->t) < wm)
			wm = tracer_pending_ts(r->t);
		write_watermark(r, wm);
		flush_exec_queue(r);
		/* Before snapshots: none is taken after the stop. */
		if (r->werr || stop_signal || rec_should_stop(r, now_boot_ns()))
			break;
		if (r->ngo_pending)
			go_snapshots(r);
		now = now_boot_ns();
		r->werr = snapshots_tick(&r->snaps, r->go, r->w, now);
		if (r->werr)
			break;
		now = now_boot_ns();
		if (r->governed)
			governor_tick(r, now);
		if (now - last_stats >= 1000000000ull) {
			last_stats = now;
			rec_tick(r, now);
		}
	}
	return 0;
}

/*
 * Everything the rings hold up to the stop belongs to the capture: once no
 * probe can still be writing a record stamped before it, read every ring
 * until it proves complete (tracer_flush). Then the end record, dated at
 * the stop.
 */
static void write_end(struct recorder *r)
{
	struct rec_end end = {0};
	int rc;

	/* Detaching waits for probe hits in flight (they can be preempted). */
	if (r->go)
		goprobe_detach(r->go);
	rc = tracer_flush(r->t, r->stop_ts, FLUSH_TIMEOUT_MS);
	if (rc < 0)
		errmsg("reading ring buffers: %s", strerror(-rc));
	r->unflushed = rc > 0 ? rc : 0;
	write_watermark(r, now_boot_ns());
	flush_exec_queue(r);
	if (r->go && !r->werr)
		r->werr = goprobe_write_symbols(r->go, r->w);
	write_stats(r);
	end.h.type = REC_END;
	end.h.size = sizeof(end);
	end.h.ts = r->stop_ts;
	end.h.flags = r->end_reason == END_SIGNAL ? r->stop_sig : 0;
	end.reason = r->end_reason;
	end.cmd_status = r->child_done ? r->child_status : -1;
	if (!r->werr)
		r->werr = ctr_writer_add(r->w, &end);
}

/* Ends and closes the capture, detaches; 0 or EXIT_RUNTIME. */
static int rec_finish(struct recorder *r)
{
	__u64 drops[EV_KERNEL_MAX] = {0};
	char *kept;
	int e;

	if (stop_signal && r->end_reason == END_SIGNAL)
		r->stop_sig = stop_signal;
	/* A stop for a write error has no time yet: it is now. */
	if (rec_cut(r) == UINT64_MAX)
		r->cut_ts = now_boot_ns();
	r->stop_ts = r->cut_ts = rec_cut(r);
	/* No samples after the end; the ones in the rings are drained below. */
	cpusample_close(r->cs);
	r->cs = NULL;
	if (!r->werr)
		write_end(r);
	r->drops = read_drops(r->t, drops);
	if (drops[DROP_TARGETS_FULL])
		errmsg("%llu processes forked by the targets were not traced: the targets table "
		       "(%d) was full",
		       (unsigned long long)drops[DROP_TARGETS_FULL], TARGETS_MAX);
	if (r->tty)
		status_line(r, now_boot_ns() - r->start, true);
	goprobe_close(r->go);
	r->go = NULL;
	tracer_close(r->t);
	r->t = NULL;
	kept = strdup(ctr_writer_tmp(r->w));
	e = ctr_writer_close(r->w);
	r->w = NULL;
	/* What reached the file is kept: every complete block converts. */
	if (r->werr || e)
		errmsg("writing %s: %s; what was written before is in %s", r->capture_path,
		       strerror(-(r->werr ? r->werr : e)), e && kept ? kept : r->capture_path);
	free(kept);
	return r->werr || e ? EXIT_RUNTIME : 0;
}

static int convert_job(void *arg)
{
	struct recorder *r = arg;

	return convert_file(r->capture_path, r->out, r->o->format, r->o->gzip, NULL);
}

/*
 * The output from the capture, as the invoking user. A signal meanwhile
 * abandons it; then, as after a failure, the capture is kept and named.
 */
static int rec_convert(struct recorder *r)
{
	int rc;

	if (asprintf(&abandon_msg, "ctrace-bpf: conversion abandoned; the capture is in %s\n",
		     r->capture_path) < 0)
		abandon_msg = NULL;
	converting = 1;
	rc = privs_run(&r->owner, convert_job, r, &convert_child);
	converting = 0;
	free(abandon_msg);
	abandon_msg = NULL;
	if (rc && rc < 128)
		errmsg("the capture is kept in %s (try: ctrace-bpf convert %s -o FILE)",
		       r->capture_path, r->capture_path);
	/* --report reads the capture after the summary. */
	if (!rc && !r->o->report)
		out_unlink(r->capture_path);
	return rc;
}

/* The goroutine mode for the summary; auto says what its governor did and why. */
static void go_mode_summary(const struct recorder *r, char *buf, size_t len)
{
	double limit = r->o->max_overhead;

	if (r->o->go_mode == GO_MODE_AUTO && r->go_switch_ts)
		snprintf(buf, len,
			 "auto: full for %.2f s, then sampled (probes estimated at %.1f%% of the "
			 "target's CPU, over the %g%% limit)",
			 (r->go_switch_ts - r->start) / 1e9, r->go_share * 100, limit);
	else if (r->o->go_mode == GO_MODE_AUTO && r->ngo)
		snprintf(buf, len,
			 "auto: full (probes estimated at most %.1f%% of the target's CPU, "
			 "under the %g%% limit)",
			 r->go_share_max * 100, limit);
	else
		snprintf(buf, len, "%s",
			 r->go_now == GO_MODE_SAMPLED ? "sampled (at kernel events)"
			 : r->go_now == GO_MODE_FULL  ? "full"
						      : "off");
}

/*
 * When and why the recording stopped: the one time after which no event
 * was kept on any CPU, and what the rings still held past it.
 */
static void stop_summary(const struct recorder *r)
{
	char why[96];
	int64_t after = (int64_t)(r->stop_ts - r->start);

	fprintf(stderr,
		"ctrace-bpf: stopped at %llu.%09llu (CLOCK_BOOTTIME), %.3f s after the start: %s",
		(unsigned long long)(r->stop_ts / 1000000000),
		(unsigned long long)(r->stop_ts % 1000000000), after > 0 ? after / 1e9 : 0.0,
		end_reason_text(r->end_reason, r->stop_sig, r->child_done ? r->child_status : -1,
				why, sizeof(why)));
	if (r->cut_events)
		fprintf(stderr, "; %llu later events left out", (unsigned long long)r->cut_events);
	fprintf(stderr, "\n");
	if (r->unflushed)
		errmsg(
		    "%d CPUs did not confirm that their ring was read up to the stop within %d ms; "
		    "events of theirs may be missing at the end",
		    r->unflushed, FLUSH_TIMEOUT_MS);
}

static void rec_summary(struct recorder *r)
{
	struct stat st = {0};
	char size[32], gm[200];

	stat(r->out, &st);
	fmt_bytes(size, sizeof(size), st.st_size);
	stop_summary(r);
	snapshots_summary(&r->snaps);
	go_mode_summary(r, gm, sizeof(gm));
	fprintf(stderr, "ctrace-bpf: %llu events, %llu dropped%s; goroutines: %s\n",
		(unsigned long long)r->events, (unsigned long long)r->drops,
		r->drops ? " (the ring buffers were full; see README: Drops)" : "", gm);
	fprintf(stderr, "ctrace-bpf: wrote %s (%s, %s); %s\n", r->out, size,
		format_name(r->o->format), format_viewer_hint(r->o->format));
}

static int report_job(void *arg)
{
	struct report_opts ro = {.top = 10};

	return report_file(arg, &ro);
}

static int pprof_job(void *arg)
{
	struct recorder *r = arg;

	return pprof_write_dir(r->capture_path, r->o->pprof_dir, r->o->quiet) ? EXIT_RUNTIME : 0;
}

/* --report: the report of the capture, which is removed afterwards. */
static int rec_report(struct recorder *r, int rc)
{
	int rrc;

	fflush(stderr);
	rrc = privs_run(&r->owner, report_job, r->capture_path, NULL);
	if (strcmp(r->capture_path, r->out))
		out_unlink(r->capture_path);
	return rc ? rc : rrc;
}

/* From the closed capture, in order: pprof, the output, the summary, the report. */
static int rec_post(struct recorder *r)
{
	struct record_opts *o = r->o;
	/* --pprof-out reads the capture before the conversion removes it. */
	bool pprof_failed = o->pprof_dir && privs_run(&r->owner, pprof_job, r, NULL);
	int rc = 0;

	if (strcmp(r->capture_path, r->out)) {
		rc = rec_convert(r);
		if (rc)
			return rc;
	}
	if (pprof_failed)
		rc = EXIT_RUNTIME;
	if (!o->quiet)
		rec_summary(r);
	if (o->report)
		rc = rec_report(r, rc);
	return rc;
}

static void rec_cleanup(struct recorder *r, int rc)
{
	if (r->child_fd[0] >= 0)
		close(r->child_fd[0]); /* EOF: the command never runs */
	if (r->child_fd[1] >= 0)
		close(r->child_fd[1]);
	if (r->child > 0 && !r->child_done) {
		/* The command keeps running after a stop by signal, as with perf. */
		if (rc)
			kill(r->child, SIGKILL);
		waitpid(r->child, &r->child_status, rc ? 0 : WNOHANG);
	}
	snapshots_free(&r->snaps);
	privs_free(&r->cmd_as);
	privs_free(&r->owner);
	free(r->capture_path);
	free(r->defout);
}

int cmd_record(struct record_opts *o)
{
	struct recorder rec = {
	    .o = o,
	    .child = -1,
	    .child_fd = {-1, -1},
	    .end_reason = END_SIGNAL,
	    .cut_ts = UINT64_MAX,
	    .tty = isatty(STDERR_FILENO) && !o->quiet,
	    .snaps.every = snapshots_interval(o, o->go_mode),
	};
	int rc, e;

	rc = rec_prepare(&rec);
	if (!rc)
		rc = rec_start(&rec);
	if (!rc) {
		rc = rec_loop(&rec);
		e = rec_finish(&rec);
		if (e)
			rc = e;
		else if (!rc)
			rc = rec_post(&rec);
	}
	rec_cleanup(&rec, rc);
	return rc;
}
