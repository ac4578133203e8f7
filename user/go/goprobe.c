// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "capture/capture.h"
#include "go/go_offsets.h"
#include "go/go_x86.h"
#include "go/godwarf.h"
#include "go/goelf.h"
#include "go/gocalib.h"
#include "go/goprobe.h"
#include "go/gotls.h"
#include "goroutines.skel.h"

#define MAX_PROCS  GO_MAX_PROCS
#define PC_SET_MAX (1u << 20)

/* The runtime functions probed, and what each tells; minors bound the Go versions. */
static const struct {
	const char *func;
	enum go_probe probe;
	bool required;
	int min_minor, max_minor;
} probes[] = {
    {"runtime.execute", GP_EXECUTE, true, 0, 99},
    {"runtime.park_m", GP_PARK_M, true, 0, 99},
    {"runtime.ready", GP_READY, true, 0, 99},
    {"runtime.goexit0", GP_GOEXIT0, true, 0, 99},
    /*
     * From go1.22 newstack preempts through goschedImpl(gp, preempted)
     * directly (gopreempt_m is inlined there), so that is the one place to
     * see yields and preemptions; before, its callers are.
     */
    {"runtime.goschedImpl", GP_GOSCHEDIMPL, true, 22, 99},
    {"runtime.gosched_m", GP_GOSCHED_M, false, 0, 21},
    {"runtime.gopreempt_m", GP_GOPREEMPT_M, false, 0, 21},
    /* A mutex hand-off in starvation mode; Go's tracer calls it a preemption. */
    {"runtime.goyield_m", GP_GOPREEMPT_M, false, 0, 99},
    /* A syscall that returns to find no P: the goroutine is queued. */
    {"runtime.exitsyscall0", GP_EXITSYSCALL0, false, 0, 99},
    {"runtime.preemptPark", GP_PREEMPT_PARK, false, 0, 99},
    {"runtime.injectglist", GP_INJECTGLIST, false, 0, 99},
    /* A P leaving its M: sysmon retaking it from a syscall is Go's GoSysBlock. */
    {"runtime.handoffp", GP_HANDOFFP, false, 0, 99},
};

struct goproc {
	pid_t tgid;
	char path[256];
	struct goelf *elf;
	struct go_offsets off;
	struct godwarf_vars vars;
	uint64_t allgs_addr; /* link-time; 0 if unknown */
	uint64_t bias;
	bool bias_known;
	bool snapshot_done;
	uint64_t runtime_main; /* link-time entry, to learn a PIE's bias from G1 */
	int major, minor;
	char version[32];
	struct go_tls_cfg tls; /* tls.tgid 0: goroutine identity not readable */
	char tls_msg[128];     /* why not */
};

struct pc_ent {
	uint32_t tgid;
	uint32_t exact; /* a function entry (start pc), not a return address */
	uint64_t pc;
};

#define MAX_PROBES 16
/* Not in Debian 12's UAPI headers (Linux 6.6+). */
#define BPF_TRACE_UPROBE_MULTI_ATTACH 48

struct pending_probe {
	uint64_t off, cookie;
	const char *what;
};

struct goprobe {
	struct goroutines_bpf *skel;
	bool multi; /* handle_go_multi loaded: one uprobe-multi link per process */
	struct pending_probe pending[MAX_PROBES];
	int npending;
	int fds[MAX_PROCS]; /* uprobe-multi links */
	int nfds;
	struct bpf_link **links;
	size_t nlinks, caplinks;
	struct goproc procs[MAX_PROCS];
	int nprocs;
	unsigned int stack_depth;
	bool verbose;
	struct pc_ent *pcs;
	size_t npcs;
	uint64_t pcs_dropped;
};

struct goprobe *goprobe_new(int rings_fd, int drops_fd, unsigned int stack_depth, bool verbose,
			    char *err, size_t errlen)
{
	struct goprobe *gp = calloc(1, sizeof(*gp));
	int rc;

	if (!gp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gp->stack_depth = stack_depth > GO_MAX_STACK ? GO_MAX_STACK : stack_depth;
	gp->verbose = verbose;
	/* Sampled mode: processes are inspected and walked, never probed. */
	if (rings_fd < 0)
		return gp;
	/* First with the uprobe-multi entry point; without it if the kernel predates it. */
	for (int multi = 1; multi >= 0; multi--) {
		gp->skel = goroutines_bpf__open();
		if (!gp->skel) {
			snprintf(err, errlen, "cannot open goroutine BPF object: %s",
				 strerror(errno));
			goto fail;
		}
		if (bpf_map__reuse_fd(gp->skel->maps.rings, rings_fd) ||
		    bpf_map__reuse_fd(gp->skel->maps.drops, drops_fd)) {
			snprintf(err, errlen,
				 "cannot share ring buffers with the goroutine probes: %s",
				 strerror(errno));
			goto fail;
		}
		if (multi)
			bpf_program__set_expected_attach_type(gp->skel->progs.handle_go_multi,
							      BPF_TRACE_UPROBE_MULTI_ATTACH);
		else
			bpf_program__set_autoload(gp->skel->progs.handle_go_multi, false);
		rc = goroutines_bpf__load(gp->skel);
		if (!rc) {
			gp->multi = multi;
			return gp;
		}
		goroutines_bpf__destroy(gp->skel);
		gp->skel = NULL;
	}
	snprintf(err, errlen, "BPF load failed for program 'handle_go': %s", strerror(-rc));
fail:
	goprobe_close(gp);
	return NULL;
}

static int add_fd(struct goprobe *gp, int fd)
{
	if (gp->nfds == MAX_PROCS) {
		close(fd);
		return -E2BIG;
	}
	gp->fds[gp->nfds++] = fd;
	return 0;
}

static int add_link(struct goprobe *gp, struct bpf_link *l)
{
	if (gp->nlinks == gp->caplinks) {
		size_t n = gp->caplinks ? gp->caplinks * 2 : 32;
		struct bpf_link **nl = realloc(gp->links, n * sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		gp->links = nl;
		gp->caplinks = n;
	}
	gp->links[gp->nlinks++] = l;
	return 0;
}

/* Queues a probe; commit_probes() attaches a process's probes together. */
static int attach_at(struct goprobe *gp, struct goproc *p, uint64_t vaddr, uint64_t cookie,
		     const char *what, char *msg, size_t len)
{
	uint64_t off;

	if (goelf_vaddr_to_offset(p->elf, vaddr, &off)) {
		snprintf(msg, len, "%s: no file offset for %s", p->path, what);
		return -EINVAL;
	}
	if (gp->npending == MAX_PROBES)
		return -E2BIG;
	gp->pending[gp->npending].off = off;
	gp->pending[gp->npending].cookie = cookie;
	gp->pending[gp->npending].what = what;
	gp->npending++;
	return 0;
}

/*
 * BPF_LINK_CREATE for uprobe-multi (Linux 6.6+), by hand: libbpf 1.1 has no
 * wrapper. One link registers every probe back to back, which is far faster
 * than one perf event each (each of those waits for an RCU grace period).
 */
static int link_uprobe_multi(int prog_fd, const char *path, const uint64_t *offs,
			     const uint64_t *cookies, uint32_t cnt, pid_t pid)
{
	struct {
		uint32_t prog_fd, target_fd, attach_type, flags;
		uint64_t path, offsets, ref_ctr_offsets, cookies;
		uint32_t cnt, umflags, pid, pad;
		uint8_t rest[64];
	} attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = BPF_TRACE_UPROBE_MULTI_ATTACH;
	attr.path = (uintptr_t)path;
	attr.offsets = (uintptr_t)offs;
	attr.cookies = (uintptr_t)cookies;
	attr.cnt = cnt;
	attr.pid = pid;
	return syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
}

static int commit_probes(struct goprobe *gp, struct goproc *p, char *msg, size_t len)
{
	uint64_t offs[MAX_PROBES], cookies[MAX_PROBES];
	int n = gp->npending;

	gp->npending = 0;
	if (gp->multi) {
		int fd;

		for (int i = 0; i < n; i++) {
			offs[i] = gp->pending[i].off;
			cookies[i] = gp->pending[i].cookie | (uint64_t)gp->nprocs << 24;
		}
		fd = link_uprobe_multi(bpf_program__fd(gp->skel->progs.handle_go_multi), p->path,
				       offs, cookies, n, p->tgid);
		if (fd >= 0)
			return add_fd(gp, fd);
		if (errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS) {
			snprintf(msg, len, "cannot attach uprobes in %s: %s", p->path,
				 strerror(errno));
			return -errno;
		}
	}
	for (int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts,
			    .bpf_cookie = gp->pending[i].cookie | (uint64_t)gp->nprocs << 24);
		struct bpf_link *l;

		l = bpf_program__attach_uprobe_opts(gp->skel->progs.handle_go, p->tgid, p->path,
						    gp->pending[i].off, &opts);
		if (!l) {
			int e = errno;

			snprintf(msg, len, "cannot attach uprobe on %s in %s: %s",
				 gp->pending[i].what, p->path, strerror(e));
			return -e;
		}
		if (add_link(gp, l))
			return -ENOMEM;
	}
	return 0;
}

static int probe_func(struct goprobe *gp, struct goproc *p, const char *func, enum go_probe probe,
		      char *msg, size_t len)
{
	struct go_probe_site site;
	uint8_t code[32];
	uint64_t addr, size;

	if (goelf_func(p->elf, func, &addr, &size))
		return -ENOENT;
	if (goelf_read_code(p->elf, addr, code, sizeof(code)))
		return -EIO;
	go_probe_site(code, size < sizeof(code) ? size : sizeof(code), &site);
	if (gp->verbose)
		fprintf(stderr, "ctrace-bpf: probe %s at +%zu%s\n", func, site.offset,
			site.emulated ? "" : " (single-stepped)");
	return attach_at(gp, p, addr + site.offset, GP_COOKIE(probe, site.guard_disp, site.cmp_r12),
			 func, msg, len);
}

/* newproc's closure calls newproc1, then runqput(pp, newg, true): BX = newg there. */
static int probe_newproc(struct goprobe *gp, struct goproc *p, char *msg, size_t len)
{
	uint64_t addr, size, rq, rqsize;
	uint8_t code[512];
	size_t off;

	if (goelf_func(p->elf, "runtime.newproc.func1", &addr, &size) ||
	    goelf_func(p->elf, "runtime.runqput", &rq, &rqsize))
		return -ENOENT;
	if (size > sizeof(code))
		size = sizeof(code);
	if (goelf_read_code(p->elf, addr, code, size) || go_find_call(code, size, addr, rq, &off))
		return -ENOENT;
	return attach_at(gp, p, addr + off, GP_COOKIE(GP_NEWPROC, 0, 0), "runtime.newproc.func1",
			 msg, len);
}

/* allgs from DWARF, else from forEachG's loads of its pointer and length. */
static uint64_t find_allgs(struct goproc *p)
{
	uint64_t addr, size, loads[32];
	uint8_t code[256];
	size_t n;

	if (p->vars.allgs_addr)
		return p->vars.allgs_addr;
	if (goelf_func(p->elf, "runtime.forEachG", &addr, &size))
		return 0;
	if (size > sizeof(code))
		size = sizeof(code);
	if (goelf_read_code(p->elf, addr, code, size))
		return 0;
	n = go_rip_loads(code, size, addr, loads, 32);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (loads[j] == loads[i] + 8)
				return loads[i];
	return 0;
}

static struct goproc *find_proc(struct goprobe *gp, pid_t tgid)
{
	for (int i = 0; i < gp->nprocs; i++)
		if (gp->procs[i].tgid == tgid)
			return &gp->procs[i];
	return NULL;
}

/* Fills a fresh slot for tgid's binary; GOPROBE_NOT_GO if it is not Go. */
static int proc_open(struct goproc *p, pid_t tgid, const char *path, char *msg, size_t len)
{
	char err[256];

	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	if (path)
		snprintf(p->path, sizeof(p->path), "%s", path);
	else
		snprintf(p->path, sizeof(p->path), "/proc/%d/exe", tgid);
	p->elf = goelf_open(p->path, err, sizeof(err));
	if (!p->elf || !goelf_version(p->elf)) {
		snprintf(msg, len, "pid %d is not a Go program (%s); tracing its threads only",
			 tgid, p->elf ? "no Go build info" : err);
		goelf_close(p->elf);
		return GOPROBE_NOT_GO;
	}
	snprintf(p->version, sizeof(p->version), "%s", goelf_version(p->elf));
	goelf_version_num(p->elf, &p->major, &p->minor);
	return 0;
}

/*
 * The runtime's struct offsets, from DWARF or else the built-in table, and
 * the addresses the snapshot needs. GOPROBE_UNSUPPORTED when a layout or the
 * wait reasons of this Go version are unknown.
 */
static int proc_layout(struct goproc *p, bool *from_dwarf, char *msg, size_t len)
{
	const struct go_offsets *tab;
	uint64_t size;
	char err[256];

	*from_dwarf = !godwarf_read(p->path, &p->off, &p->vars, err, sizeof(err));
	if (!*from_dwarf) {
		tab = go_offsets_for_version(p->major, p->minor);
		if (!tab) {
			snprintf(msg, len,
				 "pid %d runs %s, whose runtime layout is unknown without DWARF "
				 "(supported: %s); tracing its threads only",
				 p->tgid, p->version, go_offsets_supported());
			return GOPROBE_UNSUPPORTED;
		}
		p->off = *tab;
		memset(&p->vars, 0, sizeof(p->vars));
	}
	if (!go_waitreason_string(p->minor, 0) && p->major == 1) {
		snprintf(msg, len,
			 "pid %d runs %s, whose wait reasons are unknown (supported: %s); "
			 "tracing its threads only",
			 p->tgid, p->version, go_offsets_supported());
		return GOPROBE_UNSUPPORTED;
	}
	p->allgs_addr = find_allgs(p);
	if (goelf_func(p->elf, "runtime.main", &p->runtime_main, &size))
		p->runtime_main = 0;
	return 0;
}

/* The first offset the probes could not read within GO_STRUCT_READ bytes, or -1. */
static int beyond_reach(const struct go_cfg *cfg)
{
	const int16_t used[] = {
	    cfg->g_goid,      cfg->g_m,	       cfg->g_waitreason, cfg->g_startpc, cfg->g_gopc,
	    cfg->g_schedlink, cfg->g_sched_pc, cfg->g_sched_bp,	  cfg->m_curg,	  cfg->m_p,
	};

	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		if (used[i] + 8 > GO_STRUCT_READ)
			return used[i];
	return -1;
}

/* The probes' view of the process; GOPROBE_UNSUPPORTED if beyond their reach. */
static int proc_cfg(const struct goprobe *gp, const struct goproc *p, struct go_cfg *cfg, char *msg,
		    size_t len)
{
	int off;

	*cfg = (struct go_cfg){
	    .g_goid = p->off.g_goid,
	    .g_m = p->off.g_m,
	    .g_waitreason = p->off.g_waitreason,
	    .g_startpc = p->off.g_startpc,
	    .g_gopc = p->off.g_gopc,
	    .g_schedlink = p->off.g_schedlink,
	    .g_sched_pc = p->off.g_sched_pc,
	    .g_sched_bp = p->off.g_sched_bp,
	    .m_curg = p->off.m_curg,
	    .m_p = p->off.m_p,
	    .p_id = p->off.p_id,
	    .stack_depth = gp->stack_depth,
	};
	off = beyond_reach(cfg);
	if (off >= 0) {
		snprintf(msg, len,
			 "pid %d: %s runtime layout is beyond this build's "
			 "reach (offset %d); tracing its threads only",
			 p->tgid, p->version, off);
		return GOPROBE_UNSUPPORTED;
	}
	cfg->tgid = p->tgid;
	return 0;
}

/* Writes the next process slot's config; the slot number is in its cookies. */
static int set_slot_cfg(struct goprobe *gp, const struct go_cfg *cfg)
{
	__u32 key = gp->nprocs;

	return bpf_map__update_elem(gp->skel->maps.go_cfgs, &key, sizeof(key), cfg, sizeof(*cfg),
				    BPF_ANY);
}

/* Queues every probe this Go version needs, then attaches them together. */
static int attach_probes(struct goprobe *gp, struct goproc *p, char *msg, size_t len)
{
	int rc;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (p->minor < probes[i].min_minor || p->minor > probes[i].max_minor)
			continue;
		rc = probe_func(gp, p, probes[i].func, probes[i].probe, msg, len);
		if (rc == -ENOENT && !probes[i].required)
			continue;
		if (rc == -ENOENT) {
			snprintf(msg, len, "%s (pid %d): %s not found; tracing its threads only",
				 p->version, p->tgid, probes[i].func);
			rc = GOPROBE_UNSUPPORTED;
		}
		if (rc)
			return rc;
	}
	rc = probe_newproc(gp, p, msg, len);
	if (rc == -ENOENT) {
		snprintf(msg, len,
			 "%s (pid %d): go statement site not found; tracing its threads only",
			 p->version, p->tgid);
		rc = GOPROBE_UNSUPPORTED;
	}
	if (!rc)
		rc = commit_probes(gp, p, msg, len);
	return rc;
}

/*
 * Sampled mode's view of the process: the TLS offset of g and a window over
 * g.goid, g.atomicstatus and g.waitreason that one read covers.
 */
static void proc_tls(struct goproc *p)
{
	int16_t lo = p->off.g_goid, hi;
	int32_t off;

	memset(&p->tls, 0, sizeof(p->tls));
	if (go_tls_offset(p->elf, &off, p->tls_msg, sizeof(p->tls_msg)))
		return;
	if (p->off.g_atomicstatus < lo)
		lo = p->off.g_atomicstatus;
	if (p->off.g_waitreason < lo)
		lo = p->off.g_waitreason;
	hi = p->off.g_goid + 8;
	if (p->off.g_atomicstatus + 4 > hi)
		hi = p->off.g_atomicstatus + 4;
	if (p->off.g_waitreason + 1 > hi)
		hi = p->off.g_waitreason + 1;
	/* 8-aligned, so goid and atomicstatus stay aligned in the window (BPF needs it). */
	lo &= ~7;
	if (lo < 0 || hi - lo > GO_TLS_WINDOW || (p->off.g_goid - lo) % 8 ||
	    (p->off.g_atomicstatus - lo) % 4) {
		snprintf(p->tls_msg, sizeof(p->tls_msg),
			 "g.goid, g.atomicstatus and g.waitreason span more than %d bytes "
			 "or are misaligned",
			 GO_TLS_WINDOW);
		return;
	}
	p->tls = (struct go_tls_cfg){
	    .tgid = p->tgid,
	    .tls_off = off,
	    .win_off = lo,
	    .goid = p->off.g_goid - lo,
	    .status = p->off.g_atomicstatus - lo,
	    .reason = p->off.g_waitreason - lo,
	};
}

/* Full mode: the scheduler probes, configured for this process's slot. */
static int probe_proc(struct goprobe *gp, struct goproc *p, char *msg, size_t len)
{
	struct go_cfg cfg;
	int rc;

	rc = proc_cfg(gp, p, &cfg, msg, len);
	if (!rc && set_slot_cfg(gp, &cfg)) {
		rc = -errno;
		snprintf(msg, len, "cannot configure goroutine probes: %s", strerror(-rc));
	}
	if (rc)
		return rc;
	rc = attach_probes(gp, p, msg, len);
	if (rc) {
		gp->npending = 0;
		set_slot_cfg(gp, &(struct go_cfg){0});
	}
	return rc;
}

int goprobe_attach(struct goprobe *gp, pid_t tgid, const char *path, char *msg, size_t len)
{
	struct goproc *p;
	bool from_dwarf;
	int rc;

	if (gp->nprocs == MAX_PROCS) {
		snprintf(msg, len, "too many Go processes (at most %d)", MAX_PROCS);
		return -E2BIG;
	}
	p = &gp->procs[gp->nprocs];
	rc = proc_open(p, tgid, path, msg, len);
	if (rc)
		return rc;
	rc = proc_layout(p, &from_dwarf, msg, len);
	if (!rc)
		proc_tls(p);
	if (!rc && !gp->skel && !p->tls.tgid) {
		snprintf(msg, len, "pid %d: %s: %s; tracing its threads only", tgid, p->version,
			 p->tls_msg);
		rc = GOPROBE_UNSUPPORTED;
	}
	if (!rc && gp->skel)
		rc = probe_proc(gp, p, msg, len);
	if (rc) {
		goelf_close(p->elf);
		return rc;
	}
	gp->nprocs++;
	snprintf(msg, len, "pid %d: %s, offsets from %s, %s, g at FS%+d", tgid, p->version,
		 from_dwarf ? "DWARF" : "the built-in table", goelf_pclntab_source(p->elf),
		 p->tls.tgid ? p->tls.tls_off : 0);
	return GOPROBE_ATTACHED;
}

int goprobe_tls_cfg(struct goprobe *gp, pid_t tgid, struct go_tls_cfg *cfg)
{
	struct goproc *p = find_proc(gp, tgid);

	if (!p || !p->tls.tgid)
		return -ENOENT;
	*cfg = p->tls;
	return 0;
}

/* The exe mapping at file offset 0 gives the PIE load bias. */
static int find_bias(struct goproc *p, uint64_t *bias)
{
	char path[64], line[512], exe[256];
	ssize_t n;
	FILE *f;
	int rc = -ENOENT;

	struct stat want, have;

	snprintf(path, sizeof(path), "/proc/%d/exe", p->tgid);
	/* Launch mode: until its exec, the process still runs ctrace-bpf. */
	if (stat(p->path, &want) || stat(path, &have))
		return -errno;
	if (want.st_dev != have.st_dev || want.st_ino != have.st_ino)
		return -EAGAIN;
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = 0;
	/* Launch mode: until exec, the process still runs ctrace-bpf. */
	snprintf(path, sizeof(path), "/proc/%d/maps", p->tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		uint64_t link;
		char *file = strchr(line, '/');

		if (!file || sscanf(line, "%llx-%llx %*s %llx", &start, &end, &off) != 3)
			continue;
		file[strcspn(file, "\n")] = 0;
		if (strcmp(file, exe))
			continue;
		/* bias = where this mapping loaded - where the ELF says it loads. */
		if (!goelf_offset_to_vaddr(p->elf, off, &link)) {
			*bias = goelf_is_pie(p->elf) ? start - link : 0;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int read_mem(int fd, uint64_t addr, void *buf, size_t len)
{
	return pread(fd, buf, len, addr) == (ssize_t)len ? 0 : -1;
}

static uint64_t mem_u64(int fd, uint64_t addr)
{
	uint64_t v = 0;

	read_mem(fd, addr, &v, sizeof(v));
	return v;
}

static void walk_allgs(struct goprobe *gp, struct goproc *p, struct ctr_writer *w, uint64_t ts)
{
	const struct go_gstatus *st = go_gstatus_for_version(p->major, p->minor);
	char path[64];
	uint64_t arr, n;
	int fd;

	if (!p->allgs_addr)
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", p->tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	arr = mem_u64(fd, p->allgs_addr + p->bias);
	n = mem_u64(fd, p->allgs_addr + p->bias + 8);
	if (n > 10000000)
		n = 0;
	for (uint64_t i = 0; i < n; i++) {
		union {
			struct rec_go_g r;
			char buf[sizeof(struct rec_go_g) + GO_MAX_STACK * 8];
		} u;
		uint64_t g = mem_u64(fd, arr + i * 8), pc, bp;
		uint32_t status = 0;
		uint8_t reason = 0;

		if (!g)
			continue;
		memset(&u.r, 0, sizeof(u.r));
		read_mem(fd, g + p->off.g_atomicstatus, &status, sizeof(status));
		status &= ~(uint32_t)(st ? st->scan : 0x1000);
		if (st && (status == (uint32_t)st->dead || status == (uint32_t)st->idle))
			continue;
		read_mem(fd, g + p->off.g_waitreason, &reason, 1);
		u.r.h.type = REC_GO_G;
		u.r.h.ts = ts;
		u.r.h.tgid = p->tgid;
		u.r.g = g;
		u.r.goid = mem_u64(fd, g + p->off.g_goid);
		u.r.parent_goid =
		    p->off.g_parent_goid >= 0 ? mem_u64(fd, g + p->off.g_parent_goid) : 0;
		u.r.startpc = mem_u64(fd, g + p->off.g_startpc);
		u.r.gopc = mem_u64(fd, g + p->off.g_gopc);
		u.r.status = status;
		u.r.reason = reason;
		/* Parked goroutines have their resume point saved in g.sched. */
		pc = mem_u64(fd, g + p->off.g_sched_pc);
		bp = mem_u64(fd, g + p->off.g_sched_bp);
		for (unsigned int d = 0; d < gp->stack_depth && pc; d++) {
			u.r.stack[u.r.nstack++] = pc;
			if (!bp)
				break;
			pc = mem_u64(fd, bp + 8);
			bp = mem_u64(fd, bp);
		}
		u.r.h.size = sizeof(u.r) + u.r.nstack * 8;
		ctr_writer_add(w, &u);
		goprobe_note(gp, &u.r.h);
	}
	close(fd);
}

int goprobe_snapshot(struct goprobe *gp, pid_t tgid, struct ctr_writer *w, uint64_t attach_ts,
		     bool walk)
{
	struct goproc *p = find_proc(gp, tgid);
	struct rec_go_proc r = {0};
	uint64_t ts;

	if (!p)
		return -ENOENT;
	if (p->snapshot_done)
		return 1;
	if (!p->bias_known) {
		int rc = find_bias(p, &p->bias);

		/*
		 * Not exec'd yet, or (full mode) G1's create record will tell.
		 * Sampled mode has no such record: a process already gone is
		 * declared without its bias, which only symbols would need.
		 */
		if (rc == -EAGAIN || (rc && gp->skel))
			return 0;
		if (rc) {
			r.h.flags = GO_PROC_NO_BIAS;
			p->bias = 0;
		}
		p->bias_known = true;
	}
	{
		struct timespec t;

		clock_gettime(CLOCK_BOOTTIME, &t);
		ts = (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
	}
	r.h.type = REC_GO_PROC;
	r.h.size = sizeof(r);
	r.h.ts = ts;
	r.h.tid = tgid;
	r.h.tgid = tgid;
	r.major = p->major;
	r.minor = p->minor;
	r.load_bias = p->bias;
	snprintf(r.version, sizeof(r.version), "%s", p->version);
	snprintf(r.path, sizeof(r.path), "%s", p->path);
	ctr_writer_add(w, &r);
	if (walk)
		walk_allgs(gp, p, w, attach_ts);
	p->snapshot_done = true;
	return 1;
}

static void note_pc(struct goprobe *gp, uint32_t tgid, uint64_t pc, bool exact)
{
	size_t i;

	if (!pc)
		return;
	if (!gp->pcs) {
		gp->pcs = calloc(PC_SET_MAX, sizeof(*gp->pcs));
		if (!gp->pcs)
			return;
	}
	if (gp->npcs >= PC_SET_MAX / 2) {
		gp->pcs_dropped++;
		return;
	}
	i = ((pc * 0x9e3779b97f4a7c15ull) ^ tgid ^ exact) & (PC_SET_MAX - 1);
	while (gp->pcs[i].pc) {
		if (gp->pcs[i].pc == pc && gp->pcs[i].tgid == tgid && gp->pcs[i].exact == exact)
			return;
		i = (i + 1) & (PC_SET_MAX - 1);
	}
	gp->pcs[i] = (struct pc_ent){tgid, exact, pc};
	gp->npcs++;
}

void goprobe_note(struct goprobe *gp, const struct ev_header *h)
{
	/*
	 * A short-lived launched PIE can exit before its maps are read: the
	 * main goroutine's start pc (runtime.main) gives the load bias too.
	 */
	if (h->type == EV_GO_CREATE) {
		const struct ev_go *e = (const void *)h;
		struct goproc *p = find_proc(gp, h->tgid);

		if (p && !p->bias_known && e->goid == 1 && p->runtime_main) {
			p->bias = goelf_is_pie(p->elf) ? e->pc - p->runtime_main : 0;
			p->bias_known = true;
		}
	}
	if (h->type == EV_CPU_SAMPLE) {
		const struct ev_cpu_sample *e = (const void *)h;

		if (!find_proc(gp, h->tgid) || sizeof(*e) + e->nstack * 8u > h->size)
			return;
		/* The sampled pc is noted as if it were the return address pc + 1. */
		for (int i = 0; i < e->nstack && i < CPU_SAMPLE_MAX_STACK; i++)
			note_pc(gp, h->tgid, e->stack[i] + (i == 0), false);
		return;
	}
	if (h->type == REC_GO_G) {
		const struct rec_go_g *r = (const void *)h;

		note_pc(gp, h->tgid, r->startpc, true);
		note_pc(gp, h->tgid, r->gopc, false);
		for (int i = 0; i < r->nstack && i < GO_MAX_STACK; i++)
			note_pc(gp, h->tgid, r->stack[i], false);
		return;
	}
	if (h->type == REC_GO_SNAP) {
		const struct rec_go_snap *r = (const void *)h;

		for (int i = 0; i < r->count && i < GO_SNAP_MAX_CHUNK; i++) {
			note_pc(gp, h->tgid, r->ent[i].startpc, true);
			note_pc(gp, h->tgid, r->ent[i].gopc, false);
		}
		return;
	}
	if (h->type >= EV_GO_CREATE && h->type <= EV_GO_EXIT) {
		const struct ev_go *e = (const void *)h;

		if (h->type == EV_GO_CREATE) {
			note_pc(gp, h->tgid, e->pc, true);
			note_pc(gp, h->tgid, e->pc2, false);
		}
		for (int i = 0; i < e->nstack && i < GO_MAX_STACK; i++)
			note_pc(gp, h->tgid, e->stack[i], false);
	}
}

/*
 * Go's trace names a goroutine after the frame at startPCforTrace(startpc):
 * the wrapped f of a `go f(x)` wrapper, else the start pc itself; at that
 * one pc, the innermost function (code inlined at an entry names it). Since
 * go1.21 the runtime prints generic names with "[...]" for the shapes.
 */
static int trace_start_frame(struct goproc *p, uint64_t startpc, struct goelf_frame *out, char *buf,
			     size_t len)
{
	struct goelf_frame fr[GO_SYM_MAX_FRAMES];
	const char *open, *close;
	uint64_t pc;
	int n;

	if (goelf_trace_start(p->elf, startpc, &pc))
		pc = startpc;
	n = goelf_pc_frames(p->elf, pc, fr, GO_SYM_MAX_FRAMES);
	if (n < 1 || !fr[0].func)
		return -1;
	*out = fr[0];
	open = strchr(fr[0].func, '[');
	close = strrchr(fr[0].func, ']');
	if ((p->major > 1 || p->minor >= 21) && open && close > open) {
		snprintf(buf, len, "%.*s[...]%s", (int)(open - fr[0].func), fr[0].func, close + 1);
		out->func = buf;
	}
	return 0;
}

/* One REC_GO_SYM: a frame of pc; flags carry exact and the inline depth. */
static int write_sym(struct ctr_writer *w, uint32_t tgid, uint64_t pc, uint16_t flags,
		     const char *func, const char *file, int line)
{
	union {
		struct rec_go_sym r;
		char buf[sizeof(struct rec_go_sym) + 1024];
	} u;
	size_t fl = func ? strlen(func) + 1 : 1, fil = file ? strlen(file) + 1 : 1;

	if (fl > 512)
		fl = 512;
	if (fil > 511)
		fil = 511;
	memset(&u.r, 0, sizeof(u.r));
	u.r.h.type = REC_GO_SYM;
	u.r.h.tgid = tgid;
	u.r.h.flags = flags;
	u.r.pc = pc;
	u.r.line = line;
	u.r.func_len = fl;
	u.r.file_len = fil;
	memcpy(u.r.names, func ? func : "", fl - 1);
	u.r.names[fl - 1] = 0;
	memcpy(u.r.names + fl, file ? file : "", fil - 1);
	u.r.names[fl + fil - 1] = 0;
	u.r.h.size = sizeof(u.r) + fl + fil;
	return ctr_writer_add(w, &u);
}

int goprobe_write_symbols(struct goprobe *gp, struct ctr_writer *w)
{
	/* Processes that exited before their snapshot still need their record. */
	for (int i = 0; i < gp->nprocs; i++) {
		struct goproc *p = &gp->procs[i];

		if (p->snapshot_done)
			continue;
		if (!p->bias_known && !goelf_is_pie(p->elf))
			p->bias_known = true;
		if (p->bias_known)
			goprobe_snapshot(gp, p->tgid, w, 0, false);
	}
	if (!gp->pcs)
		return 0;
	for (size_t i = 0; i < PC_SET_MAX; i++) {
		const struct pc_ent *e = &gp->pcs[i];
		struct goelf_frame fr[GO_SYM_MAX_FRAMES];
		char name[520];
		struct goproc *p;
		int n, rc;

		if (!e->pc || !(p = find_proc(gp, e->tgid)))
			continue;
		/* A start pc: one frame, the one Go's trace names the goroutine after. */
		if (e->exact)
			n = trace_start_frame(p, e->pc - p->bias, fr, name, sizeof(name)) ? 0 : 1;
		else /* A return address belongs to the call before it. */
			n = goelf_pc_frames(p->elf, e->pc - p->bias - 1, fr, GO_SYM_MAX_FRAMES);
		if (n < 1)
			continue;
		/* Innermost first; old readers keep the first record of a pc. */
		for (int d = 0; d < n; d++) {
			rc = write_sym(w, e->tgid, e->pc,
				       (e->exact ? GO_SYM_EXACT : 0) | d << GO_SYM_DEPTH_SHIFT,
				       fr[d].func, fr[d].file, fr[d].line);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int goprobe_layout(const struct goprobe *gp, int i, struct goprobe_layout *out)
{
	const struct goproc *p;

	if (!gp || i < 0 || i >= gp->nprocs)
		return -ENOENT;
	p = &gp->procs[i];
	if (!p->snapshot_done || !p->allgs_addr)
		return -EAGAIN;
	*out =
	    (struct goprobe_layout){p->tgid, p->major, p->minor, p->allgs_addr + p->bias, p->off};
	return 0;
}

void goprobe_detach(struct goprobe *gp)
{
	for (size_t i = 0; i < gp->nlinks; i++)
		bpf_link__destroy(gp->links[i]);
	for (int i = 0; i < gp->nfds; i++)
		close(gp->fds[i]);
	free(gp->links);
	gp->links = NULL;
	gp->nlinks = gp->caplinks = 0;
	gp->nfds = 0;
}

uint64_t goprobe_hits(const struct goprobe *gp)
{
	uint64_t n = 0;

	/* Summed over processes: the governor weighs them against their CPU time together. */
	for (int i = 0; i < GO_MAX_PROCS; i++)
		n += __atomic_load_n(&gp->skel->bss->go_hits[i], __ATOMIC_RELAXED);
	return n;
}

int goprobe_calibrate(struct goprobe *gp, bool empty, double *ns_per_hit, char *err, size_t errlen)
{
	struct bpf_program *prog =
	    empty ? gp->skel->progs.go_calib_empty : gp->skel->progs.go_calib;
	struct bpf_link *l = NULL;
	int rc = gocalib_hit_ns(prog, ns_per_hit, &l, err, errlen);

	/* Kept with the probes, so it goes with them at the end. */
	if (!rc && add_link(gp, l)) {
		bpf_link__destroy(l);
		return -ENOMEM;
	}
	return rc;
}

void goprobe_close(struct goprobe *gp)
{
	if (!gp)
		return;
	goprobe_detach(gp);
	for (int i = 0; i < gp->nprocs; i++)
		goelf_close(gp->procs[i].elf);
	goroutines_bpf__destroy(gp->skel);
	free(gp->pcs);
	free(gp);
}
