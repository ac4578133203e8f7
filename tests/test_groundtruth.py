"""Ground truth on a real server: Go's own execution trace and ctrace-bpf's,
of the same process over the same time, compared with Go's own parsers.

tests/goprogs/pprofserver (closures calling library functions, `go f(x)`
wrappers, WaitGroups, timers, loopback HTTP with and without keep-alive,
fsync and blocking pipe reads, goroutine churn; net/http/pprof) is built
stripped with Go 1.19 and 1.24 (build-matrix.sh). While ctrace-bpf records
it (`-p PID --goroutines full`), the test takes Go's own trace from
/debug/pprof/trace?seconds=1; the capture is converted to .gotrace and
tests/gtcompare.py compares the two over the span of Go's trace: start
functions, state sequences of the goroutines that lived their whole life in
it, and counts per event type (the targets are in gtcompare.py). Every file
must be accepted by `go tool trace -d` of Go 1.19, and of the program's
toolchain (`-d=parsed`) for 1.24; the capture must have no drops, since a
lost event would be compared as a difference. Goroutines created while the
probes went in (in the capture's walk at attach and with a create record)
must be created in the .gotrace by their creator.
"""

import re
import subprocess
import time
import urllib.request

import ctrlib
import gtcompare
from harness import Fail, Recorder, Skip, check, ctrace, need_root, run, spawn
from test_gotrace import BUILD_MATRIX, GO_ENV, convert_go, goroot

TRACE_SECONDS = 1


def build(ver):
    goroot(ver)
    r = run(["bash", BUILD_MATRIX, ver, "stripped", "pprofserver"], timeout=900)
    for line in r.stdout.splitlines():
        parts = line.split(None, 3)
        if parts[:3] == [ver, "stripped", "pprofserver"]:
            if parts[3].startswith("FAIL"):
                raise Fail(f"build pprofserver with go{ver}: {parts[3]}")
            return parts[3]
        if line.startswith(f"{ver} SKIP"):
            raise Skip(line)
    raise Fail(f"build-matrix.sh printed nothing for go{ver}: {r.stderr[-300:]!r}")


def record_pair(ver, tmp):
    """Go's own trace and ctrace-bpf's capture of one pprofserver run."""
    need_root()
    bin_ = build(ver)
    srv = spawn([bin_, tmp], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=GO_ENV, text=True)
    first = srv.stdout.readline()
    m = re.match(r"listening (\d+)$", first)
    check(m, f"pprofserver printed {first!r}")
    ctr, theirs = tmp / "ours.ctr", tmp / "go.trace"
    rec = Recorder("--goroutines", "full", "-o", ctr, "-p", srv.pid)
    rec.wait_recording()
    time.sleep(0.3)
    url = f"http://127.0.0.1:{m.group(1)}/debug/pprof/trace?seconds={TRACE_SECONDS}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        theirs.write_bytes(resp.read())
    time.sleep(0.3)
    rec.check_ok(rec.stop())
    srv.stdin.close()
    check(srv.stdout.read() == "done\n", "pprofserver did not finish")
    check(srv.wait(30) == 0, f"pprofserver exited {srv.returncode}")
    r = ctrace("report", ctr, timeout=120)
    d = re.search(r"dropped (\d+)", r.stdout)
    check(d and int(d.group(1)) == 0, f"the capture lost events: {d and d.group(0)}")
    ours = tmp / "ours.gotrace"
    convert_go(ctr, ours)
    return ctr, ours, theirs


def created_during_attach(ctr, ours):
    """Goroutines that the walk at attach listed and whose creation the
    probes also recorded (pprofserver starts 4 a millisecond that live 50 ms):
    each must be created in the .gotrace by its creator, not declared as
    alive before the trace."""
    cap = ctrlib.load(ctr)
    snap = {g.goid for g in cap.go_proc().snapshot}
    both = sorted(snap & {r.goid for r in cap.records if r.type == ctrlib.EV_GO_CREATE})
    check(both, "no goroutine was created while the probes went in: "
          "nothing to check (pprofserver's linger() should make some)")
    bad = [g for g in both if g in ours.declared or g not in ours.created
           or not ours.creator.get(g)]
    check(not bad, f"{len(bad)} of {len(both)} goroutines created during attach are "
          f"not created by a goroutine in the .gotrace: {bad[:10]}")
    return len(both)


def groundtruth(ver, tmp):
    ctr, ours_path, theirs_path = record_pair(ver, tmp)
    go119 = goroot("1.19") / "bin" / "go"
    ours = gtcompare.load_v1(go119, ours_path)
    n = created_during_attach(ctr, ours)
    if ver == "1.19":
        theirs = gtcompare.load_v1(go119, theirs_path)
    else:
        go = goroot(ver) / "bin" / "go"
        theirs = gtcompare.load_v2(go, theirs_path)
        # Our go1.19-format file through the newer toolchain's converter.
        r = run([go, "tool", "trace", "-d=parsed", ours_path], timeout=300)
        check(r.returncode == 0, f"go{ver} tool trace -d=parsed rejects ours: "
              f"{r.stderr.strip()[-300:]}")
    res = gtcompare.compare(ours, theirs)
    print(gtcompare.table(res, f"go{ver} stripped pprofserver ({n} goroutines created "
                          f"during attach): "), flush=True)
    check(not res["bad"], "; ".join(res["bad"]))


def test_groundtruth_go119(tmp):
    groundtruth("1.19", tmp)


def test_groundtruth_go124(tmp):
    groundtruth("1.24", tmp)
