"""The end of a recording: whatever stopped it (duration, signal, the target's
exit), every record already in a ring is written, events stamped after the
stop are left out on every CPU alike, and the summary, the capture's end
record and the report name the stop time and the reason.

The captures are read back with tests/ctrlib.py, independently of the C
reader. The workload seqcalls numbers its system calls (lseek(-1, k)) and
times each one with CLOCK_BOOTTIME, the tracer's clock, so for every call
the test knows whether it certainly happened before the stop (then both of
its records must be there) or certainly after it (then neither may be)."""

import json
import re
import signal
import struct
import subprocess
import time

from harness import Recorder, check, ctrace, spawn, workload
import ctrlib

SYS_LSEEK, SYS_WRITE = 8, 1
MS = 1000000
STOP_LINE = re.compile(r"stopped at (\d+)\.(\d{9}) \(CLOCK_BOOTTIME\), ([\d.]+) s after "
                       r"the start: ([^;\n]*)")


def stop_line(stderr):
    """(stop ts, reason text) from the summary line, which must not say that
    a CPU failed to confirm its ring was read up to the stop."""
    m = STOP_LINE.search(stderr)
    check(m, f"no 'stopped at' line in the summary: {stderr!r}")
    check("did not confirm" not in stderr, f"the last drain was not confirmed: {stderr!r}")
    return int(m.group(1)) * 1000000000 + int(m.group(2)), m.group(4).strip()


def seq_times(path):
    """{tid: [(before, after)]} as seqcalls wrote them."""
    data = open(path, "rb").read()
    out, off = {}, 0
    while off < len(data):
        tid, n = struct.unpack_from("<II", data, off)
        off += 8
        out[tid] = [struct.unpack_from("<QQ", data, off + 16 * i) for i in range(n)]
        off += 16 * n
    return out


def start_seqcalls(tmp, threads, ms):
    """seqcalls, its threads created and waiting: for a byte (calls until
    EOF, at most ms) or for EOF (calls for ms)."""
    w = spawn([workload("seqcalls"), threads, ms, tmp / "times.bin", "--wait-stdin"],
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = w.stdout.readline()
    check(line.startswith("seqcalls pid="), f"seqcalls said {line!r}")
    return w


def go_seqcalls(w):
    """Starts the calls; returns once every thread has made one."""
    w.stdin.write("g")
    w.stdin.flush()
    line = w.stdout.readline()
    check(line.startswith("seqcalls running"), f"seqcalls said {line!r}")


def finish_seqcalls(w):
    """Stops the calls (after one more on each thread) or starts them."""
    w.stdin.close()
    check(w.wait(timeout=60) == 0, "seqcalls failed")


def lseeks(cap, tid):
    """The thread's numbered calls in the capture: {k: enter ts}, [exit ts]."""
    enters, exits = {}, []
    for r in cap.records:
        if r.tid != tid or r.type not in (ctrlib.EV_SYS_ENTER, ctrlib.EV_SYS_EXIT):
            continue
        if r.id != SYS_LSEEK:
            continue
        if r.type == ctrlib.EV_SYS_ENTER:
            check(r.args[1] not in enters, f"tid {tid}: call {r.args[1]} recorded twice")
            enters[r.args[1]] = r.ts
        else:
            exits.append(r.ts)
    return enters, sorted(exits)


def check_cut(cap, times, cut, start, every_thread):
    """Every call made between the start and the cut is there, enter and
    exit; none that began after the cut is. Calls must straddle the cut on
    every thread (CPU), or with every_thread False on one at least: a thread
    the scheduler kept off its CPU for the whole recording made none in it
    (seen once here, behind a pipe benchmark)."""
    straddled = 0
    for tid, calls in times.items():
        enters, exits = lseeks(cap, tid)
        before = [k for k, (t0, t1) in enumerate(calls) if t0 > start and t1 <= cut]
        after = [k for k, (t0, _) in enumerate(calls) if t0 > cut]
        check(after, f"tid {tid}: no call after the stop; the workload should outlast it")
        check(before or not every_thread, f"tid {tid}: no call between the start and the "
              f"stop; the workload should straddle it")
        straddled += bool(before)
        missing = [k for k in before if k not in enters]
        check(not missing, f"tid {tid}: {len(missing)} of the {len(before)} calls made "
              f"before the stop are missing, first ones {missing[:5]}")
        late = [k for k in after if k in enters]
        check(not late, f"tid {tid}: calls {late[:5]} began after the stop, yet are recorded")
        n_exits = sum(1 for t in exits if t <= cut)
        check(n_exits >= len(before), f"tid {tid}: {n_exits} call exits up to the stop, "
              f"want >= {len(before)}")
    check(straddled, "no thread made a call between the start and the stop")


def check_nothing_after(cap, cut):
    """No kernel record on any CPU is stamped after the end record's time."""
    later = [r for r in cap.records if r.type < ctrlib.REC_META and r.ts > cut]
    check(not later, f"{len(later)} records after the stop at {cut}, e.g. type "
          f"{later[0].type} cpu {later[0].cpu} ts {later[0].ts}" if later else "")


def check_report(path, reason, cut):
    r = ctrace("report", "--json", path, timeout=120)
    check(r.returncode == 0, f"report exited {r.returncode}: {r.stderr!r}")
    stop = json.loads(r.stdout)["health"].get("stop")
    check(stop and stop["reason"] == reason and stop["ts_ns"] == cut,
          f"report's health.stop {stop}, want reason {reason} at {cut}")


def test_duration_cut_on_every_cpu(tmp):
    """-d: the stop is the start plus the duration exactly; calls on both
    CPUs up to it are all recorded, none after it."""
    w = start_seqcalls(tmp, 2, 30000)
    go_seqcalls(w)
    out = tmp / "d.ctr"
    rec = Recorder("-p", w.pid, "-d", "700ms", "-o", out)
    rec.wait_recording()
    rec.check_ok(rec.wait(timeout=60))
    finish_seqcalls(w)
    cap = ctrlib.load(out)
    check(cap.end is not None and cap.end.reason == 1,
          f"end record {cap.end!r}, want reason 1 (duration)")
    cut = cap.end.ts
    want = int(cap.meta["start_ts"]) + 700 * MS
    check(cut == want, f"stop at {cut}, want the start plus 700 ms: {want}")
    ts, why = stop_line(rec.stderr)
    check(ts == cut and why == "duration", f"summary names {ts} '{why}', want {cut} "
          f"'duration'")
    check_nothing_after(cap, cut)
    check_cut(cap, seq_times(tmp / "times.bin"), cut, int(cap.meta["start_ts"]), False)
    check_report(out, "duration", cut)


def test_signal_cut_on_every_cpu(tmp):
    """SIGINT: the stop is when the signal came; the same cut on both CPUs,
    and the end record and the summary name the signal."""
    w = start_seqcalls(tmp, 2, 30000)
    out = tmp / "s.ctr"
    rec = Recorder("-p", w.pid, "-o", out)
    rec.wait_recording()
    go_seqcalls(w)
    time.sleep(0.3)
    sent = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    rec.check_ok(rec.stop(signal.SIGINT))
    finish_seqcalls(w)
    cap = ctrlib.load(out)
    check(cap.end is not None and cap.end.reason == 2 and cap.end.flags == signal.SIGINT,
          f"end record {cap.end!r} flags {cap.end.flags if cap.end else None}, want "
          f"reason 2 (signal) with SIGINT in its flags")
    cut = cap.end.ts
    check(sent <= cut <= sent + 5000 * MS, f"stop at {cut}, the signal was sent at {sent}")
    ts, why = stop_line(rec.stderr)
    check(ts == cut and why == "SIGINT", f"summary names {ts} '{why}', want {cut} 'SIGINT'")
    check_nothing_after(cap, cut)
    check_cut(cap, seq_times(tmp / "times.bin"), cut, 0, True)
    check_report(out, "signal", cut)


def test_pid_tail_complete(tmp):
    """-p: the recording ends because the target exits; every call it made,
    up to its last one right before exiting, is in the capture."""
    w = start_seqcalls(tmp, 2, 300)
    out = tmp / "p.ctr"
    rec = Recorder("-p", w.pid, "-o", out)
    rec.wait_recording()
    finish_seqcalls(w)
    rec.check_ok(rec.wait(timeout=60))
    cap = ctrlib.load(out)
    check(cap.end is not None and cap.end.reason == 3,
          f"end record {cap.end!r}, want reason 3 (target exited)")
    ts, why = stop_line(rec.stderr)
    check(ts == cap.end.ts and why == "the target exited",
          f"summary names {ts} '{why}', want {cap.end.ts} 'the target exited'")
    check_nothing_after(cap, cap.end.ts)
    for tid, calls in seq_times(tmp / "times.bin").items():
        enters, exits = lseeks(cap, tid)
        check(sorted(enters) == list(range(len(calls))) and len(exits) == len(calls),
              f"tid {tid}: {len(enters)} calls and {len(exits)} exits recorded, the "
              f"thread made {len(calls)}; missing {sorted(set(range(len(calls))) - set(enters))[-5:]}")
        check(any(r.type == ctrlib.EV_PROCESS_EXIT and r.pid == tid for r in cap.records),
              f"tid {tid}: its exit is not recorded")
    check_report(out, "target_exited", cap.end.ts)


def test_launch_tail_wakeups(tmp):
    """-- CMD: the wake-ups and writes of the last rounds, right before the
    command exits, are all there: exactly N each way."""
    n = 2000
    out = tmp / "l.ctr"
    r = ctrace("-o", out, "--", workload("pingpong"), n, timeout=120)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    ids = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", r.stdout.splitlines()[0]))
    ping, pong = ids["ping"], ids["pong"]
    cap = ctrlib.load(out)
    check(cap.end is not None and cap.end.reason == 4 and cap.end.cmd_status == 0,
          f"end record {cap.end!r}, want reason 4 (command exited), status 0")
    ts, why = stop_line(r.stderr)
    check(ts == cap.end.ts and why == "the command exited with status 0",
          f"summary names {ts} '{why}'")
    check_nothing_after(cap, cap.end.ts)
    for a, b in ((ping, pong), (pong, ping)):
        wakes = sum(1 for x in cap.records
                    if x.type == ctrlib.EV_SCHED_WAKING and x.tid == a and x.pid == b)
        writes = sum(1 for x in cap.records if x.type == ctrlib.EV_SYS_ENTER and x.tid == a
                     and x.id == SYS_WRITE and x.args[2] == 1)
        # A rare extra wake-up (a lock both threads took) is not a loss.
        check(n <= wakes <= n + 2 and writes == n, f"{a} -> {b}: {wakes} wake-ups and "
              f"{writes} one-byte writes, want {n} of each")
    check_report(out, "command_exited", cap.end.ts)
