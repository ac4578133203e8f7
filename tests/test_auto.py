"""Auto goroutine mode (the default): full mode under the overhead governor,
which switches to sampled mode when the probes cost too much. A switched
capture is full until T (the REC_GO_MODE record with reason governor) and
sampled from T on; every output must show that.

test_auto_switch[VER] (Go 1.19 and 1.24, plain): the channel worker pool
(~2.5 s untraced) launched with default options
  - switches within 1 s of the capture's start, with an estimate over the
    3% limit, and the summary line says "auto: full for ..., then sampled";
  - after T the capture holds no EV_GO_* transition record (the probes are
    gone) and it holds goroutine tails;
  - the program's stdout and exit status are those of an untraced run.

test_auto_outputs[VER]: the same capture converted
  - Perfetto: one "goroutines: full -> sampled" instant at T on the Go
    process's track with reason governor and the estimated cost; goroutine
    slices that begin before T are not "source: sampled", those from T on
    all are, and both kinds exist;
  - Chrome JSON: the same instant (ph "i") at T, and the same split of the
    goroutine slices;
  - report text and JSON: the health section's mode line / goroutine_mode
    object, the goroutine section's note, goroutines_sampled_from_ns;
  - .gotrace: convert says it covers the full-mode period only; Go 1.19's
    `go tool trace -d` and its parser library accept it, no event in it is
    later than T; for 1.19 the `go tool trace` UI serves its pages.

test_auto_attach: attached with -p to a running worker pool, it switches
within 1 s of the capture's start too.

test_auto_quiet: the sleep program stays full (no governor record; the
summary says "auto: full"; the report says so too).

test_auto_full_option: --goroutines full on the busy worker pool never
switches (no governor record, transitions to the end, tails on syscall
entries only).

test_auto_max_overhead: bad --max-overhead values (0, -1, 101, abc) exit 2
with one line. --max-overhead 100 is accepted; whether the worker pool
crosses 100% depends on the machine's load, so what is asserted is that a
switch happens only with an estimate over the limit (it is, for the
default limit too).

test_auto_diff: `diff` of a full capture's report and an auto one does not
list the new fields (health.goroutine_mode, goroutines_sampled_from_ns).
"""

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import check_perfetto
import ctrlib
from harness import Recorder, check, check_one_error_line, ctrace, need_root, run, spawn
from test_goroutines import GO_ENV, binary, exit_code

JOBS = 4000000  # ~2.5 s untraced on the test machine
WP_ARGS = (4, JOBS)
MARKER = "goroutines: full -> sampled"
BY_GOVERNOR = 3
GO_MODE_F_AUTO = 0x2
CHROME_GO_TID_BASE = 0x40000000


def untraced(bin_, args):
    r = run([bin_, *args], timeout=120, env=GO_ENV)
    check(r.returncode == 0, f"{bin_.name} exited {r.returncode} untraced: {r.stderr[-300:]!r}")
    return r.stdout


def modes(cap):
    """(first mode record, governor switch record or None)."""
    check(cap.go_modes, f"{cap.path}: no REC_GO_MODE record")
    sw = [r for r in cap.go_modes if r.f["reason"] == BY_GOVERNOR]
    check(len(sw) <= 1, f"{len(sw)} governor switch records")
    return cap.go_modes[0], (sw[0] if sw else None)


def go_transitions(cap):
    return [r for r in cap.records if r.type in ctrlib.GO_EVENTS]


def check_switched(cap, stderr, limit_pct=3.0):
    """The switch facts every auto run on the worker pool must show; returns T."""
    first, sw = modes(cap)
    check(first.f["mode"] == ctrlib.GO_MODE_FULL and first.f["mode_flags"] & GO_MODE_F_AUTO,
          f"first mode record {first.f}, want full with the auto flag")
    check(sw is not None, f"no governor switch; summary: {stderr[-400:]!r}")
    check(sw.f["mode"] == ctrlib.GO_MODE_SAMPLED, f"switch record {sw.f}")
    after = (sw.ts - first.ts) / 1e9
    check(0 <= after < 1.0, f"switched {after:.3f} s after the start (want < 1 s)")
    check(sw.f["est_ppm"] > limit_pct * 1e4,
          f"switched with an estimate of {sw.f['est_ppm'] / 1e4:.1f}%, not over {limit_pct}%")
    late = [r for r in go_transitions(cap) if r.ts >= sw.ts]
    check(not late, f"{len(late)} EV_GO_* records after the switch (first at "
          f"+{(late[0].ts - sw.ts) / 1e3 if late else 0:.1f} us)")
    check(go_transitions(cap), "no EV_GO_* record before the switch")
    tails = [r for r in cap.records if r.flags & ctrlib.EV_F_GO_TAIL and r.ts >= sw.ts]
    check(tails, "no goroutine tails after the switch")
    m = re.search(r"goroutines: auto: full for [0-9.]+ s, then sampled \(probes estimated "
                  r"at [0-9.]+% of the target's CPU, over the [0-9.]+% limit\)", stderr)
    check(m, f"summary line lacks the switch: {stderr[-400:]!r}")
    return sw.ts


# ---- one launched run per Go version, shared by the switch and output tests ----

_runs = {}
_work = None


def workdir():
    """Kept for the whole run: the output tests convert the switch tests' captures."""
    global _work
    if _work is None:
        _work = Path(tempfile.mkdtemp(prefix="ctrace-auto-"))
        os.chmod(_work, 0o755)
        atexit.register(shutil.rmtree, _work, True)
    return _work


class AutoRun:
    def __init__(self, ver):
        need_root()
        tmp = workdir()
        self.bin = binary(ver, "plain", "workerpool")
        self.want = untraced(self.bin, WP_ARGS)
        self.ctr = tmp / f"wp-{ver}.ctr"
        r = ctrace("-o", self.ctr, "--", self.bin, *WP_ARGS, timeout=180, env=GO_ENV)
        self.stdout, self.stderr, self.rc = r.stdout, r.stderr, r.returncode
        self.cap = ctrlib.load(self.ctr)


def auto_run(tmp, ver):
    if ver not in _runs:
        _runs[ver] = AutoRun(ver)
    return _runs[ver]


def switch_test(ver):
    def test(tmp):
        a = auto_run(tmp, ver)
        check(a.rc == 0, f"ctrace-bpf exited {a.rc}: {a.stderr[-400:]!r}")
        check(a.stdout == a.want, f"stdout {a.stdout!r}, untraced {a.want!r}")
        check(exit_code(a.cap.end.f["cmd_status"]) == 0,
              f"command status {a.cap.end.f['cmd_status']:#x}")
        check_switched(a.cap, a.stderr)
    return test


# ---- Perfetto ----

def perfetto_view(path):
    """(markers [(ts, track, {annotation: value})], goroutine slice begins
    [(ts, sampled)]) of a .pftrace."""
    cls = check_perfetto.packet_class()
    groups, gtracks, interned, markers, slices = set(), set(), {}, [], []
    for _, pkt in check_perfetto.iter_packets(check_perfetto.read_trace(path), cls):
        seq = pkt.trusted_packet_sequence_id
        d = interned.setdefault(seq, {"ev": {}, "an": {}, "str": {}})
        if pkt.HasField("interned_data"):
            for e in pkt.interned_data.event_names:
                d["ev"][e.iid] = e.name
            for e in pkt.interned_data.debug_annotation_names:
                d["an"][e.iid] = e.name
            for e in pkt.interned_data.debug_annotation_string_values:
                d["str"][e.iid] = bytes(e.str).decode()
        if pkt.HasField("track_descriptor"):
            td = pkt.track_descriptor
            if td.name == "Goroutines":
                groups.add(td.uuid)
            elif td.parent_uuid in groups:
                gtracks.add(td.uuid)
        if not pkt.HasField("track_event"):
            continue
        te = pkt.track_event
        ann = {}
        for a in te.debug_annotations:
            k = d["an"].get(a.name_iid, a.name)
            if a.HasField("string_value_iid"):
                ann[k] = d["str"].get(a.string_value_iid)
            elif a.HasField("int_value"):
                ann[k] = a.int_value
        name = d["ev"].get(te.name_iid, te.name)
        if te.type == te.TYPE_INSTANT and name == MARKER:
            markers.append((pkt.timestamp, te.track_uuid, ann))
        elif te.type == te.TYPE_SLICE_BEGIN and te.track_uuid in gtracks:
            slices.append((pkt.timestamp, ann.get("source") == "sampled"))
    return markers, slices


def check_perfetto_switch(path, T):
    summary = check_perfetto.summarize(path)
    check(summary["ok"], f"check_perfetto: {summary['problems'][:5]}")
    markers, slices = perfetto_view(path)
    check(len(markers) == 1, f"{len(markers)} '{MARKER}' instants, want 1 (one Go process)")
    ts, _, ann = markers[0]
    check(ts == T, f"marker at {ts}, switch at {T}")
    check(ann.get("reason") == "governor", f"marker annotations {ann}")
    check("%" in str(ann.get("estimated probe cost", "")), f"marker annotations {ann}")
    check(ann.get("estimated probe cost ppm", 0) > 30000, f"marker annotations {ann}")
    before = [s for s in slices if s[0] < T]
    after = [s for s in slices if s[0] >= T]
    check(before and after, f"goroutine slices: {len(before)} before T, {len(after)} after")
    bad_b = sum(1 for s in before if s[1])
    bad_a = sum(1 for s in after if not s[1])
    check(not bad_b, f"{bad_b} of {len(before)} slices before T say source: sampled")
    check(not bad_a, f"{bad_a} of {len(after)} slices from T on lack source: sampled")


# ---- Chrome JSON ----

def check_chrome_switch(path, T, t0):
    doc = json.loads(path.read_text())
    ev = doc["traceEvents"]
    inst = [e for e in ev if e.get("name") == MARKER]
    check(len(inst) == 1, f"{len(inst)} '{MARKER}' events, want 1")
    i = inst[0]
    check(i["ph"] == "i", f"marker {i}")
    check(i["args"].get("reason") == "governor" and
          i["args"].get("estimated_probe_cost_pct", 0) > 3, f"marker {i}")
    Tus = i["ts"]
    check(abs(Tus - (T - t0) / 1e3) < 0.01, f"marker at {Tus} us, switch at {(T - t0) / 1e3}")
    gs = [e for e in ev if e.get("ph") == "X" and e.get("tid", 0) > CHROME_GO_TID_BASE]
    eps = 0.0015  # ts and dur are printed to the ns (3 decimals of a us)
    before = [e for e in gs if e["ts"] + e["dur"] <= Tus + eps]
    after = [e for e in gs if e["ts"] >= Tus - eps]
    across = [e for e in gs if e["ts"] < Tus - eps and e["ts"] + e["dur"] > Tus + eps]
    check(before and after, f"goroutine slices: {len(before)} before T, {len(after)} after")
    check(not across, f"{len(across)} goroutine slices run across the switch: {across[:2]}")
    check(not [e for e in before if e["args"].get("source") == "sampled"],
          "slices before the switch say source: sampled")
    bad = [e for e in after if e["args"].get("source") != "sampled"]
    check(not bad, f"{len(bad)} of {len(after)} slices after the switch lack source: "
          f"sampled: {bad[:2]}")


# ---- report ----

def check_report_switch(ctr):
    r = ctrace("report", ctr, timeout=120)
    check(r.returncode == 0, f"report exited {r.returncode}: {r.stderr[-300:]!r}")
    m = re.search(r"^  goroutines: auto — full for ([0-9.]+) s, then sampled \(probes "
                  r"estimated at [0-9.]+% of the target's CPU, over the 3% limit\)$",
                  r.stdout, re.M)
    check(m, f"report's health section lacks the mode: {r.stdout[-600:]!r}")
    check("[full, then sampled]" in r.stdout and "auto mode: every transition for" in r.stdout,
          "goroutine section does not say which part is sampled")
    j = ctrace("report", "--json", ctr, timeout=120)
    check(j.returncode == 0, f"report --json exited {j.returncode}")
    doc = json.loads(j.stdout)
    gm = doc["health"].get("goroutine_mode")
    check(gm and gm["mode"] == "auto", f"health.goroutine_mode {gm}")
    p = gm["periods"]
    check([x["mode"] for x in p] == ["full", "sampled"] and p[1]["reason"] == "governor" and
          p[1]["estimated_probe_cost_ppm"] > 30000, f"periods {p}")
    check(gm["sampled_from_ns"] == p[1]["start_ns"] == doc.get("goroutines_sampled_from_ns"),
          f"sampled_from_ns {gm['sampled_from_ns']}, goroutines_sampled_from_ns "
          f"{doc.get('goroutines_sampled_from_ns')}")
    check("goroutines_sampled" not in doc, "a switched capture is not sampled throughout")
    return p[1]["start_ns"]


# ---- .gotrace ----

def check_gotrace_switch(tmp, ctr, T_trace, t_rel, ui):
    import test_gotrace

    out = tmp / "wp.gotrace"
    r = ctrace("convert", ctr, "-o", out, timeout=120)
    check(r.returncode == 0, f"convert to .gotrace exited {r.returncode}: {r.stderr!r}")
    notes = [ln for ln in r.stderr.splitlines() if "covers the full-mode period only" in ln]
    check(len(notes) == 1, f"convert's stderr lacks the full-mode note: {r.stderr!r}")
    m = re.search(r"\(0 to ([0-9.]+) s of the capture\); goroutines were sampled after", notes[0])
    check(m and abs(float(m.group(1)) - t_rel) < 0.002, f"note {notes[0]!r}, switch at {t_rel}")
    d = test_gotrace.go_tool("1.19", "trace", "-d", out)
    check(d.returncode == 0 and "failed to parse" not in d.stderr,
          f"go tool trace -d: {d.stderr.strip()[-300:]!r}")
    ts = [int(ln.split()[0]) for ln in d.stdout.splitlines() if ln[:1].isdigit()]
    check(ts, "go tool trace -d printed no events")
    a = test_gotrace.analyze(out)
    check(a["groups"], f"no goroutine groups in the .gotrace: {a}")
    check(max(ts) <= T_trace + 1000,
          f"an event {max(ts)} ns into the trace, past the switch at {T_trace}")
    if ui:
        test_gotrace.check_ui(out, tmp / "ui.log")


def outputs_test(ver):
    def test(tmp):
        a = auto_run(tmp, ver)
        check(a.rc == 0, f"ctrace-bpf exited {a.rc}: {a.stderr[-400:]!r}")
        T = check_switched(a.cap, a.stderr)
        start = a.cap.go_modes[0].ts
        pf, js = tmp / "wp.pftrace", tmp / "wp.json"
        for out in (pf, js):
            r = ctrace("convert", a.ctr, "-o", out, timeout=120)
            check(r.returncode == 0, f"convert {out.name}: {r.stderr[-300:]!r}")
        check_perfetto_switch(pf, T)
        check_chrome_switch(js, T, chrome_t0(js))
        check(check_report_switch(a.ctr) == T, "report's switch time differs")
        # The .gotrace's clock starts at the Go process's first record.
        t0 = min(r.ts for r in a.cap.records if r.tgid == a.cap.go_proc().tgid and r.ts)
        check_gotrace_switch(tmp, a.ctr, T - t0, (T - start) / 1e9, ui=ver == "1.19")
    return test


def chrome_t0(path):
    """The Chrome trace's time origin: the capture's start (metadata)."""
    return int(json.loads(path.read_text())["metadata"]["start_ts_boottime_ns"])


for _ver in ("1.19", "1.24"):
    globals()[f"test_auto_switch[{_ver}]"] = switch_test(_ver)
    globals()[f"test_auto_outputs[{_ver}]"] = outputs_test(_ver)


def test_auto_attach(tmp):
    """-p to a worker pool that is already running: switches within 1 s."""
    need_root()
    bin_ = binary("1.19", "plain", "workerpool")
    p = spawn([bin_, 4, JOBS * 2], stdout=subprocess.PIPE, env=GO_ENV, text=True)
    time.sleep(0.3)
    check(p.poll() is None, "the worker pool ended before ctrace-bpf could attach")
    ctr = tmp / "att.ctr"
    rec = Recorder("-o", ctr, "-p", p.pid)
    rec.wait_recording()
    out = p.stdout.read()
    check(p.wait(60) == 0, f"workerpool exited {p.returncode}")
    rec.check_ok(rec.wait(60))
    check(out.startswith("workers=4 "), f"workerpool printed {out!r}")
    check_switched(ctrlib.load(ctr), rec.stderr)


def check_full_tails(cap):
    """Full mode: only syscall entries carry the goroutine (whether it made the
    syscall itself, as Go's trace counts them), switches and exits none."""
    tails = [x for x in cap.records if x.flags & ctrlib.EV_F_GO_TAIL]
    check(tails, "no syscall entry of the Go target carries its goroutine in full mode")
    other = {x.type for x in tails} - {ctrlib.EV_SYS_ENTER}
    check(not other, f"full mode: goroutine tails on record types {sorted(other)}")


def test_auto_quiet(tmp):
    """sleep: a few hundred transitions; the governor keeps full mode."""
    need_root()
    bin_ = binary("1.19", "plain", "sleep")
    want = untraced(bin_, (4, 10))
    ctr = tmp / "sl.ctr"
    r = ctrace("-o", ctr, "--", bin_, 4, 10, timeout=120, env=GO_ENV)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-400:]!r}")
    check(r.stdout == want, f"stdout {r.stdout!r}, untraced {want!r}")
    cap = ctrlib.load(ctr)
    first, sw = modes(cap)
    check(sw is None, f"switched on the quiet program: {sw and sw.f}")
    check(first.f["mode_flags"] & GO_MODE_F_AUTO, f"first mode record {first.f}")
    check("goroutines: auto: full (" in r.stderr, f"summary: {r.stderr[-400:]!r}")
    check_full_tails(cap)
    rep = ctrace("report", ctr, timeout=60)
    check("goroutines: auto — full for the whole capture" in rep.stdout,
          f"report: {rep.stdout[-400:]!r}")
    check("full, then sampled" not in rep.stdout, "report claims a switch")


def test_auto_full_option(tmp):
    """--goroutines full on the busy worker pool: no governor."""
    need_root()
    bin_ = binary("1.19", "plain", "workerpool")
    args = (4, 300000)  # busy: auto mode switches on it within 0.3 s
    want = untraced(bin_, args)
    ctr = tmp / "full.ctr"
    r = ctrace("--goroutines", "full", "-o", ctr, "--", bin_, *args, timeout=180, env=GO_ENV)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-400:]!r}")
    check(r.stdout == want, f"stdout {r.stdout!r}, untraced {want!r}")
    cap = ctrlib.load(ctr)
    first, sw = modes(cap)
    check(sw is None and len(cap.go_modes) == 1, f"mode records {[m.f for m in cap.go_modes]}")
    check(not first.f["mode_flags"] & GO_MODE_F_AUTO, "full by option has the auto flag")
    gos = go_transitions(cap)
    check(len(gos) > 300000, f"only {len(gos)} goroutine transitions")
    # Transitions go on to the end: the last one is in the capture's last 10%.
    span = cap.end.ts - first.ts
    check(gos[-1].ts - first.ts > 0.9 * span if span else True,
          "goroutine transitions stop before the end")
    check_full_tails(cap)
    summary = [ln for ln in r.stderr.splitlines() if " events, " in ln and "goroutines:" in ln]
    check(len(summary) == 1 and summary[0].endswith("goroutines: full"),
          f"summary: {r.stderr[-300:]!r}")


def test_auto_max_overhead(tmp):
    for bad in ("0", "-1", "101", "abc"):
        r = ctrace("--max-overhead", bad, "-o", tmp / "x.ctr", "--", "true", timeout=30)
        check(r.returncode == 2, f"--max-overhead {bad}: exit {r.returncode}, want 2")
        check_one_error_line(r, f"--max-overhead {bad}")
    need_root()
    bin_ = binary("1.19", "plain", "workerpool")
    ctr = tmp / "m100.ctr"
    r = ctrace("--max-overhead", "100", "-o", ctr, "--", bin_, 4, 300000, timeout=180,
               env=GO_ENV)
    check(r.returncode == 0, f"--max-overhead 100 exited {r.returncode}: {r.stderr[-300:]!r}")
    _, sw = modes(ctrlib.load(ctr))
    if sw is not None:
        check(sw.f["est_ppm"] > 1000000,
              f"switched at {sw.f['est_ppm'] / 1e4:.1f}%, under the 100% limit")
        check("over the 100% limit" in r.stderr, f"summary: {r.stderr[-300:]!r}")
    else:
        check("under the 100% limit" in r.stderr, f"summary: {r.stderr[-300:]!r}")


def test_auto_diff(tmp):
    """diff between a full run and an auto run: the mode fields are not metrics."""
    need_root()
    bin_ = binary("1.19", "plain", "workerpool")
    a, b = tmp / "a.ctr", tmp / "b.ctr"
    for ctr, opts in ((a, ("--goroutines", "full")), (b, ())):
        r = ctrace(*opts, "-q", "-o", ctr, "--", bin_, 4, 300000, timeout=180, env=GO_ENV)
        check(r.returncode == 0, f"recording {ctr.name}: {r.stderr[-300:]!r}")
    r = ctrace("diff", a, b, "--all", timeout=120)
    check(r.returncode in (0, 1), f"diff exited {r.returncode}: {r.stderr[-300:]!r}")
    for word in ("goroutine_mode", "sampled_from", "estimated_probe_cost", "periods"):
        check(word not in r.stdout, f"diff lists {word}: {r.stdout[-600:]!r}")
