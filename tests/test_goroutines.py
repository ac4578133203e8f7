"""Goroutine tracing: the Go programs of tests/goprogs, built with every Go
toolchain (tests/go/fetch-toolchains.sh) in several variants
(tests/go/build-matrix.sh), run under ctrace-bpf; facts are read back from
the capture with tests/ctrlib.py (independent of the C reader).

Tests are named test_goroutines[VERSION-VARIANT-PROGRAM]. Every program runs
on the plain build of every version; the stripped, pie and cgo builds run a
subset (workerpool and lateattach) to keep the suite within CI's budget. A
toolchain that cannot be fetched makes its tests SKIP (with the reason),
never pass.

Every traced run must: end cleanly without drops; report the right Go
version; symbolize every goroutine's start function; keep the program's
stdout and exit status identical to an untraced run; and show no lost or
doubled transition (ctrlib.GoProc.transition_errors: no goroutine started
while already running on another thread or while blocked, none unblocked
while running). Then each program has its own facts, below.

test_goroutines_ground_truth[workerpool|mutex] runs a program once under
ctrace-bpf with Go's own runtime/trace recording in the same process and
compares the two, goroutine by goroutine (tests/gotrace.py).
"""

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import ctrlib
import gotrace
from harness import (TESTS, Fail, Recorder, Skip, check, ctrace,
                     need_root, run, spawn)

FETCH = TESTS / "go" / "fetch-toolchains.sh"
BUILD_MATRIX = TESTS / "go" / "build-matrix.sh"

VARIANTS = ("plain", "stripped", "pie", "cgo")
PROGRAMS = ("workerpool", "deadlock", "cpubound", "mutex", "sleep",
            "httpserver", "fileio", "lateattach")
SUBSET = ("workerpool", "lateattach")  # on the non-plain variants

ARGS = {
    "workerpool": (4, 1000),          # workers, jobs
    "deadlock": (4, 200, 200),        # workers, jobs, timeout ms
    "cpubound": (100, 16000000),      # goroutines, iterations (~20ms each)
    "mutex": (8, 1000, 2000),         # goroutines, increments, hold
    "sleep": (4, 10),                 # goroutines, sleeps of 5ms
    "httpserver": (50, 2),            # requests, client goroutines
    "fileio": (64, 4096),             # writes, bytes per write
    "lateattach": (5,),               # goroutines blocked before attach
}

# Environment of the Go programs: nothing that changes scheduling.
GO_ENV = {k: v for k, v in os.environ.items()
          if k not in ("GOMAXPROCS", "GODEBUG", "GOGC", "GOMEMLIMIT",
                       "CTRACE_GROUND_TRUTH")}


def _versions():
    """1.19 (the host's) plus the `want` list of fetch-toolchains.sh."""
    m = re.search(r'^want="([^"]*)"', FETCH.read_text(), re.M)
    return ["1.19"] + (m.group(1).split() if m else [])


VERSIONS = _versions()

# ---- toolchains and builds ----

_toolchains = None


def toolchains():
    """{version: (goroot or None, skip reason)}, fetched once per run."""
    global _toolchains
    if _toolchains is None:
        r = run(["bash", FETCH], timeout=900)
        tc = {}
        for line in r.stdout.splitlines():
            parts = line.split(None, 1)
            if len(parts) != 2:
                continue
            if parts[1].startswith("skipped:"):
                tc[parts[0]] = (None, parts[1][len("skipped:"):].strip())
            else:
                tc[parts[0]] = (parts[1], None)
        _toolchains = tc
    return _toolchains


def goroot(ver):
    root, why = toolchains().get(ver, (None, "not listed by fetch-toolchains.sh"))
    if root is None:
        raise Skip(f"go{ver} toolchain unavailable: {why}")
    return Path(root)


def binary(ver, variant, prog):
    """Path of the program built by build-matrix.sh (cached there)."""
    goroot(ver)
    r = run(["bash", BUILD_MATRIX, ver, variant, prog], timeout=900)
    for line in r.stdout.splitlines():
        if line.startswith(f"{ver} SKIP:"):
            raise Skip(f"go{ver}: {line.split(':', 1)[1].strip()}")
        parts = line.split(None, 3)
        if parts[:3] == [ver, variant, prog]:
            if parts[3].startswith("FAIL"):
                raise Fail(f"build {ver}/{variant}/{prog}: {parts[3]}")
            return Path(parts[3])
    raise Fail(f"build-matrix.sh {ver} {variant} {prog} printed no result "
               f"(rc {r.returncode}): {r.stdout[-300:]!r} {r.stderr[-300:]!r}")


# ---- running ----

def exit_code(status):
    """rec_end.cmd_status (a wait status) as subprocess would report it."""
    return os.waitstatus_to_exitcode(status)


class Run:
    """A traced run: capture, the Go process model, stdout, exit status."""

    def __init__(self, ctr, stdout, rc, minor):
        self.cap = ctrlib.load(ctr)
        self.gp = self.cap.go_proc()
        self.stdout = stdout
        self.rc = rc
        self.minor = minor


def run_launched(tmp, ver, bin_, args, env=None):
    """Runs bin_ untraced, then under `ctrace-bpf -- bin_`; checks that
    stdout and exit status agree; returns the traced Run."""
    need_root()
    env = env or GO_ENV
    plain = run([bin_, *args], timeout=120, env=env)
    ctr = tmp / "go.ctr"
    r = ctrace("-q", "--goroutines", "full", "-o", ctr, "--", bin_, *args, timeout=180,
              env=env)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-500:]!r}")
    check(plain.returncode == 0, f"{bin_.name} exited {plain.returncode} "
          f"untraced: {plain.stderr[-300:]!r}")
    tr = Run(ctr, r.stdout, None, int(ver.split(".")[1]))
    check(tr.cap.end is not None and tr.cap.end.cmd_status >= 0,
          f"capture has no end record with the command's status")
    tr.rc = exit_code(tr.cap.end.cmd_status)
    check(tr.rc == plain.returncode,
          f"exit status traced {tr.rc} != untraced {plain.returncode}")
    check(tr.stdout == plain.stdout,
          f"stdout traced {tr.stdout!r} != untraced {plain.stdout!r}")
    return tr


def run_attached(tmp, ver, bin_, args):
    """Starts bin_ (lateattach), waits for "ready", attaches with -p, then
    triggers it through stdin and waits for both to exit."""
    need_root()
    plain = run([bin_, *args], timeout=60, env=GO_ENV)  # stdin at EOF
    p = spawn([bin_, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              env=GO_ENV, text=True)
    first = p.stdout.readline()
    check(first == "ready\n", f"{bin_.name} printed {first!r}, want 'ready'")
    ctr = tmp / "go.ctr"
    rec = Recorder("--goroutines", "full", "-o", ctr, "-p", p.pid)
    rec.wait_recording()
    p.stdin.write("go\n")
    p.stdin.close()
    out = first + p.stdout.read()
    rc = p.wait(60)
    rrc = rec.wait(60)
    rec.check_ok(rrc)
    check(rc == plain.returncode == 0,
          f"exit status traced {rc}, untraced {plain.returncode}, want 0")
    check(out == plain.stdout, f"stdout traced {out!r} != untraced {plain.stdout!r}")
    tr = Run(ctr, out, rc, int(ver.split(".")[1]))
    check(tr.cap.end is not None and tr.cap.end.reason == 3,
          f"capture end {tr.cap.end and tr.cap.end.f}, want target_exited (3)")
    return tr


# ---- checks ----

def mutex_reason(minor):
    return "semacquire" if minor < 21 else "sync.Mutex.Lock"


def waitgroup_reason(minor):
    return "semacquire" if minor < 24 else "sync.WaitGroup.Wait"


def name_of(gp, goid):
    if goid == 0:
        return "runtime"
    return gp.g(goid).start_func


def goids(gp, func):
    return {g.goid for g in gp.by_start(func)}


def count(events, goids_):
    return sum(1 for e in events if e.goid in goids_)


def check_common(tr, program):
    cap, gp = tr.cap, tr.gp
    check(not cap.truncated, "capture truncated")
    check(cap.drops == 0, f"{cap.drops} events dropped: the transition checks "
          f"need a complete capture")
    check(gp.minor == tr.minor and gp.version.startswith(f"go1.{tr.minor}"),
          f"capture says {gp.version} (minor {gp.minor}), built with 1.{tr.minor}")
    unnamed = [g for g in gp.goroutines.values() if not g.start_func]
    check(not unnamed, f"{len(unnamed)} goroutines without a symbolized start "
          f"function, e.g. {unnamed[:3]} start pc "
          f"{[hex(g.start_pc or 0) for g in unnamed[:3]]}")
    for g in gp.goroutines.values():
        if g.start_func.startswith("main.") and not g.at_attach:
            check(g.create_ts is not None, f"{g} has no go_create")
    n, errs = gp.transition_errors()
    check(n == 0, f"{n} impossible transitions (lost or doubled events), "
          f"first: " + " | ".join(errs[:4]))


def check_finished(gp, goid):
    """The goroutine exited, or was still running or runnable when the
    process exited (main can return between a goroutine's last wg.Done and
    its goexit). An exit lost while its thread went on to run another
    goroutine is caught by transition_errors."""
    g = gp.g(goid)
    if g.exit_ts is not None:
        return
    last = g.events[-1] if g.events else None
    check(last is not None and last.type in (ctrlib.EV_GO_START, ctrlib.EV_GO_UNBLOCK,
                                             ctrlib.EV_GO_SCHED, ctrlib.EV_GO_CREATE),
          f"{g} has no go_exit and its last event is {last}")


def check_restarts(gp, ids, what):
    """Every stop (block, sched) of these goroutines is followed by exactly
    one start, except for those still waiting to run when the process
    exited: starts = first starts + stops - pending."""
    starts = count(gp.starts, ids)
    stops = count(gp.scheds, ids) + count(gp.blocks, ids)
    pending = sum(1 for g in ids if gp.g(g).events and gp.g(g).events[-1].type
                  in (ctrlib.EV_GO_SCHED, ctrlib.EV_GO_UNBLOCK))
    want = len(ids) + stops - pending
    check(starts == want, f"{starts} starts of {what}, want {want} = {len(ids)} "
          f"+ {stops} blocks and scheds - {pending} runnable at exit: a "
          f"goroutine stopped or started without its event")


def check_wakers(gp, wakee_func, reason, waker_funcs):
    """Every unblock of a wakee_func goroutine blocked on reason comes from a
    goroutine whose start function is in waker_funcs; returns how many."""
    wakees = goids(gp, wakee_func)
    n = 0
    bad = Counter()
    for e, r in gp.wake_pairs():
        if e.goid in wakees and r == reason:
            n += 1
            w = name_of(gp, e.other_goid)
            if w not in waker_funcs:
                bad[w] += 1
    check(not bad, f"{wakee_func} blocked on {reason!r} unblocked by "
          f"{dict(bad)}, want only {sorted(waker_funcs)}")
    return n


def check_funcs(gp, want):
    have = gp.start_funcs()
    for f, n in want.items():
        check(have.get(f, 0) == n, f"{have.get(f, 0)} goroutines start at {f}, "
              f"want {n}; all: {have}")


def check_workerpool(tr, args):
    gp = tr.gp
    workers, jobs = args
    check_funcs(gp, {"main.worker": workers, "main.producer": 1,
                     "main.collector": 1})
    mains = set().union(*(goids(gp, f) for f in
                          ("main.worker", "main.producer", "main.collector")))
    for g in mains:
        check(gp.g(g).creator == 1, f"{gp.g(g)} created by G{gp.g(g).creator}, want G1")
        check_finished(gp, g)
    reasons = gp.blocks_by_reason(mains)
    check(set(reasons) == {"chan receive", "chan send"},
          f"blocks of the pool's goroutines by reason {reasons}, want chan "
          f"receive and chan send only")
    # One goroutine parks per rendezvous on an unbuffered channel: jobs
    # and results give `jobs` parks each, done gives at most one, and
    # close(jobs) wakes at most one parked receive per worker.
    nb = sum(reasons.values())
    check(2 * jobs - 1 <= nb <= 2 * jobs + workers + 1,
          f"{nb} channel blocks, want {2 * jobs}..{2 * jobs + workers + 1} "
          f"for {jobs} jobs through two unbuffered channels")
    check(count(gp.unblocks, mains) == nb,
          f"{count(gp.unblocks, mains)} unblocks of the pool's goroutines for "
          f"{nb} blocks (none stays blocked)")
    n1 = check_wakers(gp, "main.worker", "chan send", {"main.collector"})
    n2 = check_wakers(gp, "main.worker", "chan receive", {"main.producer"})
    n3 = check_wakers(gp, "main.producer", "chan send", {"main.worker"})
    n4 = check_wakers(gp, "main.collector", "chan receive", {"main.worker"})
    check(n1 + n2 + n3 + n4 >= nb - 1, f"only {n1 + n2 + n3 + n4} of {nb} blocks "
          f"matched to the waker the program's structure implies")
    check(n1 and n2 and n3 + n4, f"waker pairs seen: worker<-collector {n1}, "
          f"worker<-producer {n2}, producer<-worker {n3}, collector<-worker {n4}")


def check_deadlock(tr, args):
    gp = tr.gp
    workers, jobs, _ = args
    check(tr.stdout.strip().endswith("deadlocked"), f"stdout {tr.stdout!r}")
    check_funcs(gp, {"main.worker": workers, "main.producer": 1,
                     "main.collector": 1, "main.waiter": 1})
    for g in goids(gp, "main.worker"):
        gr = gp.g(g)
        check(gr.exit_ts is None, f"{gr} exited; the workers must stay blocked")
        last = gr.events[-1]
        check(last.type == ctrlib.EV_GO_BLOCK and gp.reason(last.reason) == "chan receive",
              f"{gr}'s last event is {last}, want a block on 'chan receive'")
    for f in ("main.producer", "main.collector"):
        for g in goids(gp, f):
            check_finished(gp, g)
    (w,) = goids(gp, "main.waiter")
    last = gp.g(w).events[-1]
    want = waitgroup_reason(tr.minor)
    check(last.type == ctrlib.EV_GO_BLOCK and gp.reason(last.reason) == want,
          f"main.waiter's last event {last}, want a block on {want!r}")
    check_wakers(gp, "main.worker", "chan receive", {"main.producer"})
    check_wakers(gp, "main.worker", "chan send", {"main.collector"})


def check_cpubound(tr, args):
    gp = tr.gp
    n, _ = args
    check_funcs(gp, {"main.spin": n})
    spin = goids(gp, "main.spin")
    for g in spin:
        check_finished(gp, g)
    pre = sum(1 for e in gp.scheds if e.goid in spin and e.kind == ctrlib.GO_SCHED_PREEMPT)
    check(pre >= n // 4, f"{pre} preemptions of {n} goroutines spinning ~20ms "
          f"each (sysmon preempts after 10ms), want >= {n // 4}")
    check_restarts(gp, spin, "the spinners")
    ps = Counter(e.p for e in gp.starts if e.goid in spin)
    check(set(ps) <= {0, 1}, f"spinners started on Ps {dict(ps)}, GOMAXPROCS is 2")
    # Never more spinners running at once than Ps.
    running, peak = set(), 0
    for e in gp.events:
        if e.goid not in spin:
            continue
        if e.type == ctrlib.EV_GO_START:
            running.add(e.goid)
            peak = max(peak, len(running))
        elif e.type in (ctrlib.EV_GO_BLOCK, ctrlib.EV_GO_SCHED, ctrlib.EV_GO_EXIT):
            running.discard(e.goid)
    check(peak <= 2, f"{peak} spinners running at once on GOMAXPROCS=2")
    check(len(gp.starts) >= n + pre, f"only {len(gp.starts)} starts")


def check_mutex(tr, args):
    gp = tr.gp
    n, incs, _ = args
    check_funcs(gp, {"main.incrementer": n})
    inc = goids(gp, "main.incrementer")
    for g in inc:
        check_finished(gp, g)
    reasons = gp.blocks_by_reason(inc)
    want = mutex_reason(tr.minor)
    check(set(reasons) <= {want} and reasons.get(want, 0) >= 10,
          f"incrementers' blocks by reason {reasons}, want >= 10 on {want!r} only")
    nw = check_wakers(gp, "main.incrementer", want, {"main.incrementer"})
    check(nw == reasons[want], f"{nw} unblocks for {reasons[want]} blocks")
    for e, r in gp.wake_pairs():
        if e.goid in inc:
            check(e.other_goid != e.goid, f"G{e.goid} unblocked itself")
    check_restarts(gp, inc, "the incrementers")
    check_wakers(gp, "runtime.main", waitgroup_reason(tr.minor), {"main.incrementer"})


def check_sleep(tr, args):
    gp = tr.gp
    n, sleeps = args
    check_funcs(gp, {"main.sleeper": n})
    sl = goids(gp, "main.sleeper")
    reasons = gp.blocks_by_reason(sl)
    check(reasons == {"sleep": n * sleeps},
          f"sleepers' blocks by reason {reasons}, want {{'sleep': {n * sleeps}}}")
    last = {}
    nwake = 0
    for e in gp.events:
        if e.goid not in sl:
            continue
        if e.type == ctrlib.EV_GO_BLOCK:
            last[e.goid] = e.ts
        elif e.type == ctrlib.EV_GO_UNBLOCK:
            nwake += 1
            check(e.other_goid == 0 and e.kind == ctrlib.GO_UNBLOCK_READY,
                  f"sleeper G{e.goid} unblocked by G{e.other_goid} kind {e.kind}, "
                  f"want the runtime's timer (G0, ready)")
            dt = e.ts - last.pop(e.goid)
            check(dt >= 4.9e6, f"sleeper G{e.goid} woke after {dt / 1e6:.2f} ms "
                  f"of a 5 ms sleep")
    check(nwake == n * sleeps, f"{nwake} unblocks of sleepers, want {n * sleeps}")


def check_httpserver(tr, args):
    gp = tr.gp
    nreq, clients = args
    check_funcs(gp, {"main.serve": 1, "main.fetcher": clients})
    funcs = gp.start_funcs()
    check(funcs.get("net/http.(*conn).serve", 0) >= 1,
          f"no server connection goroutine: {funcs}")
    io = [(e, r) for e, r in gp.wake_pairs() if r == "IO wait"]
    nio = gp.blocks_by_reason().get("IO wait", 0)
    check(nio >= nreq, f"{nio} blocks on 'IO wait' for {nreq} requests")
    # The netpoller's wakeups come from the runtime, not through ready()
    # (injectglist, kind 2, today); closes and deadlines set by goroutines
    # go through ready() with that goroutine as the waker.
    kinds = Counter((e.kind, e.other_goid == 0) for e, _ in io)
    npoll = sum(c for (k, rt), c in kinds.items() if rt and k != ctrlib.GO_UNBLOCK_READY)
    check(npoll >= 1, f"no netpoller wakeup (by the runtime, not ready()) among "
          f"the IO wait unblocks (kind, by runtime): {dict(kinds)}")
    # Every IO wait ends: with an unblock (injectglist, or ready() for
    # closes and deadlines), with the scheduler starting the goroutine the
    # netpoller handed it directly (findRunnable runs the first one without
    # ready()), or the goroutine stays parked until exit.
    direct = 0
    for g in gp.goroutines.values():
        parked = False
        for e in g.events:
            if e.type == ctrlib.EV_GO_BLOCK:
                parked = gp.reason(e.reason) == "IO wait"
            elif e.type == ctrlib.EV_GO_UNBLOCK:
                parked = False
            elif e.type == ctrlib.EV_GO_START and parked:
                direct += 1
                parked = False
    stay = sum(1 for g in gp.goroutines.values()
               if g.exit_ts is None and gp.last_block_reason(g.goid) == "IO wait"
               and g.events and g.events[-1].type == ctrlib.EV_GO_BLOCK)
    check(len(io) + direct + stay >= nio, f"{nio} IO waits, {len(io)} unblocked, "
          f"{direct} started by the scheduler, {stay} still parked at exit")


def check_fileio(tr, args):
    gp = tr.gp
    nwrites, chunk = args
    check_funcs(gp, {"main.fileWorker": 1})
    (fw,) = goids(gp, "main.fileWorker")
    writes = [s for s in gp.syscalls if s.nr == 1 and s.args[2] == chunk]
    check(len(writes) == nwrites, f"{len(writes)} write({chunk}) syscalls, "
          f"want {nwrites}")
    who = Counter(name_of(gp, s.goid) if s.goid is not None else None for s in writes)
    check(who == {"main.fileWorker": nwrites},
          f"write syscalls joined to goroutines {dict(who)}, want all "
          f"{nwrites} on main.fileWorker")
    check(all(s.ret == chunk for s in writes), "a write returned short or failed")
    fsync = [s for s in gp.syscalls if s.nr == 74]
    check(len(fsync) == 1 and fsync[0].goid == fw,
          f"fsync syscalls {fsync}, want one on G{fw}")
    reads = [s for s in gp.syscalls_of(fw, 0) if s.args[2] == chunk]
    check(len(reads) >= nwrites, f"{len(reads)} read({chunk}) syscalls on "
          f"main.fileWorker, want >= {nwrites}")
    check(sum(s.ret for s in reads if s.ret and s.ret > 0) == nwrites * chunk,
          "bytes read back on main.fileWorker differ from bytes written")


def check_lateattach(tr, args):
    gp = tr.gp
    (k,) = args
    snap = {r.goid: r for r in gp.snapshot}
    check(1 in snap, f"main goroutine missing from the attach snapshot "
          f"({sorted(snap)})")
    waiters = [r for r in gp.snapshot if gp.func(r.startpc) == "main.waiter"]
    check(len(waiters) == k, f"{len(waiters)} main.waiter goroutines in the "
          f"snapshot, want {k}; snapshot: "
          f"{[(r.goid, gp.func(r.startpc)) for r in gp.snapshot]}")
    for r in waiters:
        check(r.status == 4 and gp.reason(r.reason) == "chan receive",
              f"waiter G{r.goid} at attach: status {ctrlib.GSTATUS.get(r.status)} "
              f"reason {gp.reason(r.reason)!r}, want waiting on 'chan receive'")
        check(not any(e.type == ctrlib.EV_GO_CREATE for e in gp.g(r.goid).events),
              f"waiter G{r.goid} existed before attach but has a go_create")
    lates = gp.by_start("main.late")
    check(len(lates) == 1, f"{len(lates)} main.late goroutines, want 1 "
          f"(created after attach)")
    late = lates[0]
    check(late.create_ts is not None and late.create_ts > gp.attach_ts,
          f"{late}: no go_create after attach (create ts {late.create_ts}, "
          f"attach {gp.attach_ts})")
    check(late.creator == 1, f"main.late created by G{late.creator}, want G1")
    check_finished(gp, late.goid)
    for r in waiters:
        evs = gp.g(r.goid).events
        ub = [e for e in evs if e.type == ctrlib.EV_GO_UNBLOCK]
        check(len(ub) == 1 and ub[0].other_goid == late.goid,
              f"waiter G{r.goid} unblocks {ub}, want one by main.late G{late.goid}")
        check_finished(gp, r.goid)


CHECKS = {
    "workerpool": check_workerpool, "deadlock": check_deadlock,
    "cpubound": check_cpubound, "mutex": check_mutex, "sleep": check_sleep,
    "httpserver": check_httpserver, "fileio": check_fileio,
    "lateattach": check_lateattach,
}


def goroutine_test(ver, variant, prog):
    def test(tmp):
        need_root()
        bin_ = binary(ver, variant, prog)
        args = ARGS[prog]
        if prog == "lateattach":
            tr = run_attached(tmp, ver, bin_, args)
        else:
            tr = run_launched(tmp, ver, bin_, args)
        check_common(tr, prog)
        CHECKS[prog](tr, args)
    test.__doc__ = f"{prog} built with go{ver} ({variant}) under ctrace-bpf"
    return test


for _ver in VERSIONS:
    for _variant in VARIANTS:
        for _prog in PROGRAMS:
            if _variant == "plain" or _prog in SUBSET:
                globals()[f"test_goroutines[{_ver}-{_variant}-{_prog}]"] = \
                    goroutine_test(_ver, _variant, _prog)


# ---- ground truth: Go's own execution trace of the same run ----

GROUND_TRUTH_VERSION = "1.19"
GROUND_TRUTH = {
    "workerpool": ("main.worker", "main.producer", "main.collector"),
    "mutex": ("main.incrementer",),
}


def ground_truth_test(prog):
    """One run of prog under ctrace-bpf with runtime/trace on in the process
    (CTRACE_GROUND_TRUTH), then, per start function of the program's own
    goroutines, ours against Go's.

    Tolerance: both observe the same run, so the goroutine ids and every
    transition are the same runtime calls (Go's trace emits GoCreate in
    newproc1, GoStart in execute, GoBlock* in park_m, GoUnblock in ready,
    GoSched/GoPreempt in gosched_m/gopreempt_m/goyield_m, GoEnd in goexit0,
    where ctrace-bpf probes). The only legitimate difference is the window:
    Go traces from trace.Start (first thing in main, before the goroutines
    exist) to trace.Stop (after main has its result), ctrace-bpf the whole
    process. So ours must never be below Go's count (that would be a lost
    event) and may exceed it only by what the goroutines do after
    trace.Stop: at most one block, unblock, sched and exit and two starts
    per goroutine (e.g. a worker parked on the jobs channel that close()
    wakes after Stop). Counts run in the hundreds or thousands, so this is
    close to exact.
    """
    def test(tmp):
        need_root()
        ver = GROUND_TRUTH_VERSION
        go = goroot(ver) / "bin" / "go"
        bin_ = binary(ver, "plain", prog)
        trace_file = tmp / "go.trace"
        env = dict(GO_ENV, CTRACE_GROUND_TRUTH=str(trace_file))
        tr = run_launched(tmp, ver, bin_, ARGS[prog], env=env)
        check(tr.cap.drops == 0, f"{tr.cap.drops} events dropped")
        gt = gotrace.load(go, trace_file)
        gp = tr.gp
        known = set(gotrace.BLOCK_REASON.values())
        problems = []
        for func in GROUND_TRUTH[prog]:
            theirs = set(gt.goids(func))
            ours = goids(gp, func)
            if theirs != ours:
                problems.append(f"{func}: goroutines ours {sorted(ours)}, "
                                f"Go's {sorted(theirs)}")
                continue
            n = len(ours)
            ob = Counter()
            for e in gp.blocks:
                if e.goid in ours:
                    r = gp.reason(e.reason)
                    ob[r if r in known else "other"] += 1
            tb = Counter()
            for g in theirs:
                tb.update(gt.blocks[g])
            ow = Counter((name_of(gp, e.other_goid), func) for e in gp.unblocks
                         if e.goid in ours)
            tw = Counter()
            for (waker, wakee), c in gt.wakes.items():
                if wakee in theirs:
                    tw[("runtime" if waker == 0 else gt.start_func.get(waker),
                        func)] += c
            metrics = [(f"blocks {r!r}", ob[r], tb[r], n) for r in sorted(set(ob) | set(tb))]
            metrics += [(f"unblocks by {w}", ow[(w, func)], tw[(w, func)], n)
                        for w, _ in sorted(set(ow) | set(tw), key=str)]
            metrics += [
                ("starts", count(gp.starts, ours), sum(gt.starts[g] for g in theirs), 2 * n),
                ("unblocks", count(gp.unblocks, ours), sum(gt.unblocks[g] for g in theirs), n),
                ("scheds", count(gp.scheds, ours), sum(gt.scheds[g] for g in theirs), n),
                ("exits", count(gp.exits, ours), sum(gt.ends[g] for g in theirs), n),
            ]
            for what, o, t, slack in metrics:
                if not t <= o <= t + slack:
                    problems.append(f"{func} {what}: ours {o}, Go's {t} "
                                    f"(want {t}..{t + slack})")
        check(not problems, "ctrace-bpf vs runtime/trace: " + "; ".join(problems))
    test.__doc__ = f"{prog} (go{GROUND_TRUTH_VERSION}) against runtime/trace"
    return test


for _prog in GROUND_TRUTH:
    globals()[f"test_goroutines_ground_truth[{_prog}]"] = ground_truth_test(_prog)


def test_go_unsupported_version(tmp):
    """A stripped binary of a Go version without a table entry (go1.20
    here: made by rewriting the version string in .go.buildinfo of a go1.19
    build) gets one line naming the version and the supported range, and is
    still traced at thread level: its syscalls are recorded, no goroutines."""
    need_root()
    src = binary("1.19", "stripped", "fileio")
    data = src.read_bytes()
    check(b"go1.19." in data, "no go1.19 version string in the binary")
    # .go.buildinfo and runtime.buildVersion both carry it.
    prog = Path(tmp) / "fileio120"
    prog.write_bytes(data.replace(b"go1.19.", b"go1.20."))
    prog.chmod(0o755)
    out = Path(tmp) / "u.ctr"
    nwrites, chunk = ARGS["fileio"]
    r = ctrace("--goroutines", "full", "-o", out, "--", prog, nwrites, chunk, timeout=120,
              env=GO_ENV)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    lines = [l for l in r.stderr.splitlines() if "go1.20" in l]
    check(len(lines) == 1 and "supported: go1.19" in lines[0]
          and "threads only" in lines[0],
          f"want one line naming go1.20 and the supported range: {r.stderr!r}")
    cap = ctrlib.load(out)
    check(not cap.go, f"goroutines recorded for an unsupported version: "
          f"{sorted(cap.go)}")
    writes = [e for e in cap.records if e.type == ctrlib.EV_SYS_ENTER
              and e.id == 1 and e.args[2] == chunk]
    check(len(writes) == nwrites, f"{len(writes)} write({chunk}) syscalls recorded, "
          f"want {nwrites}")


def test_go_in_other_mount_namespace(tmp):
    """A Go program running from a path that only its own mount namespace
    has (as in a container) is found and probed through /proc/PID/exe: the
    goroutines blocked at attach, and the one created after, are recorded."""
    need_root()
    src = binary("1.22", "stripped", "lateattach")
    hidden = Path(tmp) / "ns"
    hidden.mkdir()
    # In a private mount namespace, a tmpfs over `hidden` holds the binary;
    # outside, `hidden` stays empty.
    script = (f"mount -t tmpfs none {hidden} && cp {src} {hidden}/prog && "
              f"exec {hidden}/prog 5")
    p = spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=GO_ENV, text=True)
    first = p.stdout.readline()
    check(first == "ready\n", f"printed {first!r}, want 'ready'")
    check(not (hidden / "prog").exists(), "the binary is visible outside its namespace")
    ctr = Path(tmp) / "ns.ctr"
    rec = Recorder("--goroutines", "full", "-o", ctr, "-p", p.pid)
    rec.wait_recording()
    p.stdin.write("go\n")
    p.stdin.close()
    p.stdout.read()
    check(p.wait(60) == 0, "program failed")
    rec.check_ok(rec.wait(60))
    gp = ctrlib.load(ctr).go_proc()
    waiters = [r for r in gp.snapshot if gp.func(r.startpc) == "main.waiter"]
    check(len(waiters) == 5, f"{len(waiters)} main.waiter goroutines declared at attach, want 5")
    check(len(gp.by_start("main.late")) == 1, "main.late (created after attach) not recorded")


def test_go_two_processes(tmp):
    """-p A,B on two Go programs: each gets its own goroutines, declared at
    attach and created after, with no mixing between the two."""
    need_root()
    bin_ = binary("1.21", "plain", "lateattach")
    procs = []
    for _ in range(2):
        p = spawn([bin_, 3], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=GO_ENV,
                  text=True)
        check(p.stdout.readline() == "ready\n", "lateattach did not start")
        procs.append(p)
    ctr = Path(tmp) / "two.ctr"
    rec = Recorder("--goroutines", "full", "-o", ctr, "-p", f"{procs[0].pid},{procs[1].pid}")
    rec.wait_recording()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.close()
        p.stdout.read()
        check(p.wait(60) == 0, "lateattach failed")
    rec.check_ok(rec.wait(60))
    cap = ctrlib.load(ctr)
    check(sorted(cap.go) == sorted(p.pid for p in procs),
          f"Go processes {sorted(cap.go)}, want {[p.pid for p in procs]}")
    for p in procs:
        gp = cap.go_proc(p.pid)
        waiters = [r for r in gp.snapshot if gp.func(r.startpc) == "main.waiter"]
        check(len(waiters) == 3, f"pid {p.pid}: {len(waiters)} waiters at attach, want 3")
        check(len(gp.by_start("main.late")) == 1, f"pid {p.pid}: main.late not recorded")
        n, errs = gp.transition_errors()
        check(not errs, f"pid {p.pid}: {n} transition errors: {errs[:3]}")
