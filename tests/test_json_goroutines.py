"""Goroutines in the Chrome JSON output: Go programs of tests/goprogs (built
by tests/go/build-matrix.sh) run under ctrace-bpf, the capture converted to
.json and read back with tests/check_json.py, which also validates it (flows
bound at both ends, no overlapping X on a goroutine pseudo-thread, ...).

Each goroutine is a pseudo-thread of its process named "G<goid> <start
function>" whose X slices are its states; wake-ups and go statements are
flows of cat "goroutine" from the waker's slice (or the "Go runtime"
pseudo-thread) to the wakee's next slice. Tests are named
test_json_goroutines_<program>[<go version>].
"""

import re
import subprocess
from collections import Counter

import check_json
from harness import (TESTS, Fail, Recorder, Skip, check, convert, ctrace,
                     need_root, run, spawn)

BUILD_MATRIX = TESTS / "go" / "build-matrix.sh"
VERSIONS = ("1.19", "1.24")  # the host's, and the newest fetched one

_bins = {}


def gobin(ver, prog):
    """The plain build of tests/goprogs/<prog> with go<ver>."""
    key = (ver, prog)
    if key not in _bins:
        r = run(["bash", BUILD_MATRIX, ver, "plain", prog], timeout=900)
        res = None
        for line in r.stdout.splitlines():
            if line.startswith(f"{ver} SKIP:"):
                res = Skip(f"go{ver}: {line.split(':', 1)[1].strip()}")
            parts = line.split(None, 3)
            if parts[:3] == [ver, "plain", prog]:
                res = (Fail(f"build {ver}/{prog}: {parts[3]}")
                       if parts[3].startswith("FAIL") else parts[3])
        if res is None:
            res = Fail(f"build-matrix.sh {ver} plain {prog} printed no result "
                       f"(rc {r.returncode}): {r.stderr[-300:]!r}")
        _bins[key] = res
    if isinstance(_bins[key], Exception):
        raise _bins[key]
    return _bins[key]


def minor(ver):
    return int(ver.split(".")[1])


def load(path):
    """The checker's summary; fails on any problem it reports."""
    problems, s = check_json.check(str(path))
    check(not problems, f"{path}: {len(problems)} problems, first: "
          + " | ".join(problems[:5]))
    return s


def traced_json(tmp, ver, prog, *args):
    """Runs prog under `ctrace-bpf -- `, converts the capture to JSON twice
    (the output must not change) and returns the summary."""
    need_root()
    bin_ = gobin(ver, prog)
    ctr = tmp / "go.ctr"
    r = ctrace("-q", "--goroutines", "full", "-o", ctr, "--", bin_, *args, timeout=180)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-500:]!r}")
    a = convert(ctr, tmp / "a.json")
    b = convert(ctr, tmp / "b.json")
    check(a.read_bytes() == b.read_bytes(), "two conversions of one capture differ")
    return go_view(load(a))


class GoView:
    """The goroutine side of one Go process in a summary."""

    def __init__(self, s, pid):
        self.s = s
        self.pid = pid
        self.gors = {g["goid"]: g for g in s["goroutines"].values()
                     if g["pid"] == pid and g["goid"]}
        self.wakes = [w for w in s["go_wakes"] if w["pid"] == pid]
        self.meta = s["metadata"]

    def by_func(self, func):
        """goids of the goroutines named "G<goid> <func>"."""
        return {g for g, v in self.gors.items() if v["name"] == f"G{g} {func}"}

    def func(self, goid):
        if not isinstance(goid, int):
            return goid  # the runtime: its slice's name
        g = self.gors.get(goid)
        return g["name"].split(" ", 1)[1] if g and " " in g["name"] else None

    def blocked(self, goids):
        """{reason: slices} of these goroutines' Blocked slices."""
        c = Counter()
        for g in goids:
            for label, n in self.gors[g]["slices"].items():
                if label.startswith("Blocked: "):
                    c[label[len("Blocked: "):]] += n
        return c

    def wakers_of(self, goids, was):
        """Counter of waker start functions for unblocks of these goroutines
        out of a slice named was."""
        return Counter(self.func(w["waker"]) for w in self.wakes
                       if w["name"] == "unblock" and w["wakee"] in goids
                       and w["wakee_was"] == was)


def go_view(s):
    pids = {g["pid"] for g in s["goroutines"].values()}
    check(len(pids) == 1, f"goroutine pseudo-threads in processes {sorted(pids)}, "
          f"want one Go process")
    v = GoView(s, pids.pop())
    m = v.meta
    for k in ("goroutine_wakes", "goroutine_wake_flows", "goroutine_wakes_without_flow",
              "goroutine_creates", "goroutine_create_flows", "goroutine_tid_base"):
        check(k in m, f"metadata has no {k}: {sorted(m)}")
    base = m["goroutine_tid_base"].get(str(v.pid))
    check(base == 0x40000000, f"goroutine tid base {base}, want 0x40000000 for one process")
    return v


def check_flows_bound(v, slack=0.01):
    """Nearly every wake-up and go statement got its flow."""
    m = v.meta
    check(m["goroutine_wakes_without_flow"] <= slack * m["goroutine_wakes"] + 1,
          f"{m['goroutine_wakes_without_flow']} of {m['goroutine_wakes']} "
          f"goroutine wake-ups without a flow")
    check(m["goroutine_creates_without_flow"] <= slack * m["goroutine_creates"] + 1,
          f"{m['goroutine_creates_without_flow']} of {m['goroutine_creates']} "
          f"go statements without a flow")
    n = sum(1 for w in v.wakes if w["name"] == "unblock")
    check(n == m["goroutine_wake_flows"],
          f"{n} unblock flows read back, metadata says {m['goroutine_wake_flows']}")


def workerpool(ver):
    def test(tmp):
        workers, jobs = 4, 400
        v = traced_json(tmp, ver, "workerpool", workers, jobs)
        wk = v.by_func("main.worker")
        (prod,) = v.by_func("main.producer") or {None}
        (coll,) = v.by_func("main.collector") or {None}
        check(len(wk) == workers, f"{len(wk)} main.worker pseudo-threads, want "
              f"{workers}: {sorted(g['name'] for g in v.gors.values())}")
        check(prod and coll, f"no main.producer/main.collector pseudo-thread: "
              f"{sorted(g['name'] for g in v.gors.values())}")
        # States: the pool only ever parks on its channels.
        b = v.blocked(wk)
        check(set(b) == {"chan receive", "chan send"},
              f"workers' Blocked slices by reason {dict(b)}")
        check(set(v.blocked({prod})) == {"chan send"},
              f"producer's Blocked slices {dict(v.blocked({prod}))}")
        check(set(v.blocked({coll})) == {"chan receive"},
              f"collector's Blocked slices {dict(v.blocked({coll}))}")
        nb = sum(b.values()) + sum(v.blocked({prod, coll}).values())
        check(nb >= 2 * jobs - 1, f"{nb} channel Blocked slices for {jobs} jobs "
              f"through two unbuffered channels")
        for g in wk | {prod, coll}:
            sl = v.gors[g]["slices"]
            check(sl.get("Running", 0) >= 1 and sl.get("Runnable", 0) >= 1,
                  f"G{g}: slices {sl}")
        # Flows: who unblocked whom, by what the wakee was blocked on.
        send = v.wakers_of(wk, "Blocked: chan send")
        recv = v.wakers_of(wk, "Blocked: chan receive")
        check(send and set(send) == {"main.collector"},
              f"workers blocked on chan send unblocked by {dict(send)}, want "
              f"main.collector only")
        check(recv and set(recv) == {"main.producer"},
              f"workers blocked on chan receive unblocked by {dict(recv)}, want "
              f"main.producer only")
        to_coll = v.wakers_of({coll}, "Blocked: chan receive")
        check(set(to_coll) <= {"main.worker", "runtime.main"} and to_coll,
              f"collector unblocked by {dict(to_coll)}")
        # Every unblock flow ends where a Blocked slice of the wakee ended.
        bad = [w for w in v.wakes if w["name"] == "unblock"
               and not (w["wakee_was"] or "").startswith("Blocked: ")]
        check(not bad, f"{len(bad)} unblock flows not out of a Blocked slice: {bad[:3]}")
        # go statements: main created the pool.
        made = {w["wakee"] for w in v.wakes
                if w["name"] == "create" and v.func(w["waker"]) == "runtime.main"}
        check(wk | {prod, coll} <= made, f"create flows from runtime.main to "
              f"{sorted(made)}, want the pool {sorted(wk | {prod, coll})}")
        check_flows_bound(v)
    test.__doc__ = f"workerpool (go{ver}): worker pseudo-threads, channel states, flows"
    return test


def sleep(ver):
    def test(tmp):
        n, sleeps = 3, 8
        v = traced_json(tmp, ver, "sleep", n, sleeps)
        sl = v.by_func("main.sleeper")
        check(len(sl) == n, f"{len(sl)} main.sleeper pseudo-threads, want {n}")
        b = v.blocked(sl)
        check(b == {"sleep": n * sleeps}, f"sleepers' Blocked slices {dict(b)}, "
              f"want {{'sleep': {n * sleeps}}}")
        # The timer wakes them: flows out of the "Go runtime" pseudo-thread.
        w = v.wakers_of(sl, "Blocked: sleep")
        check(w == {"runtime: timer": n * sleeps},
              f"sleepers woken by {dict(w)}, want the runtime's timer {n * sleeps} times")
        rt = [g for g in v.s["goroutines"].values() if g["pid"] == v.pid and not g["goid"]]
        check(len(rt) == 1 and rt[0]["name"] == "Go runtime",
              f"runtime pseudo-thread {rt}")
        check(rt[0]["slices"].get("runtime: timer", 0) >= 1,
              f"Go runtime slices {rt[0]['slices']}")
        check_flows_bound(v)
    test.__doc__ = f"sleep (go{ver}): timer wake-ups from the Go runtime pseudo-thread"
    return test


def mutex(ver):
    def test(tmp):
        n = 6
        v = traced_json(tmp, ver, "mutex", n, 300, 2000)
        inc = v.by_func("main.incrementer")
        check(len(inc) == n, f"{len(inc)} main.incrementer pseudo-threads, want {n}")
        want = "semacquire" if minor(ver) < 21 else "sync.Mutex.Lock"
        b = v.blocked(inc)
        check(set(b) == {want} and b[want] >= 10,
              f"incrementers' Blocked slices {dict(b)}, want >= 10 on {want!r}")
        w = v.wakers_of(inc, f"Blocked: {want}")
        check(set(w) == {"main.incrementer"},
              f"incrementers unblocked by {dict(w)}, want other incrementers")
        check_flows_bound(v)
    test.__doc__ = f"mutex (go{ver}): lock hand-offs between pseudo-threads"
    return test


def lateattach(ver):
    # Goroutines alive at attach (the runtime's snapshot) get pseudo-threads
    # too, starting in the state they were found in.
    def test(tmp):
        need_root()
        k = 4
        bin_ = gobin(ver, "lateattach")
        p = spawn([bin_, k], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = p.stdout.readline()
        check(first == "ready\n", f"lateattach printed {first!r}")
        ctr = tmp / "go.ctr"
        rec = Recorder("--goroutines", "full", "-o", ctr, "-p", p.pid)
        rec.wait_recording()
        p.stdin.write("go\n")
        p.stdin.close()
        p.stdout.read()
        check(p.wait(60) == 0, "lateattach failed")
        rec.check_ok(rec.wait(60))
        v = go_view(load(convert(ctr, tmp / "la.json")))
        ws = v.by_func("main.waiter")
        (late,) = v.by_func("main.late") or {None}
        check(len(ws) == k and late, f"pseudo-threads {sorted(g['name'] for g in v.gors.values())}")
        check(v.blocked(ws) == {"chan receive": k},
              f"waiters' Blocked slices {dict(v.blocked(ws))}")
        w = v.wakers_of(ws, "Blocked: chan receive")
        check(w == {"main.late": k}, f"waiters unblocked by {dict(w)}, want main.late")
        check_flows_bound(v)
    test.__doc__ = f"lateattach (go{ver}): goroutines found at attach"
    return test


def args(ver):
    # Slice args: Running has the tid/cpu/P of a thread of the process,
    # Blocked a symbolized stack; syscalls made by a goroutine name it.
    def test(tmp):
        v = traced_json(tmp, ver, "workerpool", 2, 50)
        doc = check_json.load(str(tmp / "a.json"))
        evs = doc["traceEvents"]
        tids = {t for t, th in v.s["threads"].items()
                if th["pid"] == v.pid and t < 0x40000000}
        wk = {0x40000000 + g for g in v.by_func("main.worker")}
        run_ = [e for e in evs if e["ph"] == "X" and e["tid"] in wk
                and e["name"] == "Running"]
        check(run_, "no Running slices on the workers")
        for e in run_:
            a = e.get("args") or {}
            check(a.get("tid") in tids and "cpu" in a and a.get("P", -1) >= 0,
                  f"Running args {a}, want a tid of {sorted(tids)}, cpu and P")
        blk = [e for e in evs if e["ph"] == "X" and e["tid"] in wk
               and e["name"].startswith("Blocked")]
        with_stack = [e for e in blk if re.search(r"main\.worker \S+:\d+",
                                                  (e.get("args") or {}).get("stack", ""))]
        check(len(with_stack) >= len(blk) * 0.9,
              f"{len(with_stack)} of {len(blk)} Blocked slices have a stack "
              f"through main.worker, e.g. {blk[:1]}")
        gsys = [c for t in tids for c in v.s["syscalls"].get(t, ()) if c.get("goroutine")]
        check(gsys and all(c["goroutine"] in v.gors for c in gsys),
              f"{len(gsys)} syscalls of the process name a goroutine")
    test.__doc__ = f"workerpool (go{ver}): Running/Blocked args, syscall goroutine arg"
    return test


for _ver in VERSIONS:
    for _name, _mk in (("workerpool", workerpool), ("sleep", sleep), ("mutex", mutex),
                       ("lateattach", lateattach), ("args", args)):
        globals()[f"test_json_goroutines_{_name}[{_ver}]"] = _mk(_ver)
