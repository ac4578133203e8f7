"""Sampled goroutine mode (--goroutines sampled): the goroutine of each
context switch and syscall of a Go target thread, read from its TLS by the
kernel-event handlers (struct ev_go_tail), with no uprobe at all.

test_sampled[VERSION-VARIANT-PROGRAM], for every Go version and build form
(plain, stripped, pie, cgo) of tests/goprogs, checks that:

  - the traced program's stdout and exit status are those of an untraced
    run, and the capture says mode "sampled" (REC_GO_MODE) and holds no
    EV_GO_* transition record (no scheduler uprobe fired: they are the only
    writers of those records);
  - tails name goroutines (the TLS offset of g is right for this build form:
    a wrong one reads no g or garbage);
  - in one run with full mode AND the tails (CTRACE_TEST_GO_TAILS=1, see
    tests/README.md), both views of the same syscalls and switches agree:
    every goroutine id a tail names is one full mode knows; of the syscalls
    a tail gives to a goroutine, >= 99% are that goroutine's in full mode;
    of the switches a tail gives to a goroutine, >= 95% (a switch-out can
    land between the probe of a goroutine switch and the TLS store of g).
    Tails say "runtime" (goid 0) where the runtime works on the system
    stack (g0) on behalf of a goroutine that full mode still shows running:
    thread creation (clone, rt_sigprocmask, mmap) and futex wake-ups of
    wakep(); those are allowed up to 10% of the syscalls.

test_sampled_attach: attached with -p to a running program (lateattach,
stripped), sampled mode still walks the goroutines alive at attach, so
their tracks carry their start functions.

test_sampled_perfetto: a server-like program (httpserver) in sampled mode
converts to Perfetto with >= 3 goroutine tracks holding "Syscall:" slices,
each slice annotated "source: sampled" and each track described as bounded
by kernel events.
"""

import subprocess
from collections import Counter

import ctrlib
import check_perfetto
from harness import (Recorder, check, check_one_error_line, ctrace,
                     need_root, run, spawn)
from test_goroutines import (ARGS, GO_ENV, VARIANTS, VERSIONS, binary,
                             exit_code)

PROGRAMS = ("httpserver", "fileio")


def untraced(bin_, args):
    r = run([bin_, *args], timeout=120, env=GO_ENV)
    check(r.returncode == 0, f"{bin_.name} exited {r.returncode} untraced: "
          f"{r.stderr[-300:]!r}")
    return r


def traced(tmp, name, bin_, args, *opts, env=None):
    """Runs bin_ under ctrace-bpf; returns (stdout, capture)."""
    ctr = tmp / f"{name}.ctr"
    r = ctrace("-q", *opts, "-o", ctr, "--", bin_, *args, timeout=180,
               env=env or GO_ENV)
    check(r.returncode == 0, f"ctrace-bpf {' '.join(opts)} exited "
          f"{r.returncode}: {r.stderr[-500:]!r}")
    cap = ctrlib.load(ctr)
    check(cap.end is not None and cap.end.cmd_status >= 0,
          "capture has no end record with the command's status")
    return r.stdout, cap


def tails(cap, types):
    return [r for r in cap.records if r.type in types and "tail_goid" in r.f]


def full_running_at(gp, recs):
    """{record seq: goid full mode has running on the record's thread at it
    (None: no goroutine)}, from the same merge ctrlib uses for syscalls."""
    merged = sorted(gp.events + recs, key=lambda e: (e.ts, e.seq))
    cur, out = {}, {}
    for e in merged:
        if e.type == ctrlib.EV_GO_START:
            cur[e.tid] = e.goid
        elif e.type in (ctrlib.EV_GO_BLOCK, ctrlib.EV_GO_SCHED, ctrlib.EV_GO_EXIT):
            for tid, goid in list(cur.items()):
                if goid == e.goid:
                    del cur[tid]
        elif e.type not in ctrlib.GO_EVENTS:
            out[e.seq] = cur.get(e.tid)
    return out


def check_sampled_run(tmp, bin_, args, plain):
    out, cap = traced(tmp, "sampled", bin_, args, "--goroutines", "sampled")
    check(exit_code(cap.end.cmd_status) == plain.returncode,
          f"exit status traced {exit_code(cap.end.cmd_status)} != untraced "
          f"{plain.returncode}")
    check(out == plain.stdout, f"stdout traced {out!r} != untraced {plain.stdout!r}")
    modes = [(m.mode, m.mode_flags) for m in cap.go_modes]
    check(modes == [(ctrlib.GO_MODE_SAMPLED, 0)], f"REC_GO_MODE {modes}, want sampled")
    probed = [r for r in cap.records if r.type in ctrlib.GO_EVENTS]
    check(not probed, f"{len(probed)} goroutine transition records: a uprobe fired")
    gp = cap.go_proc()
    check(gp.version, "no REC_GO_PROC for the target")
    named = Counter(r.tail_goid for r in tails(cap, (ctrlib.EV_SYS_ENTER,))
                    if r.tail_goid > 0)
    check(named, "no syscall tail names a goroutine (TLS offset of g wrong?)")
    return cap


def check_against_full(tmp, bin_, args):
    env = dict(GO_ENV, CTRACE_TEST_GO_TAILS="1")
    _, cap = traced(tmp, "both", bin_, args, "--goroutines", "full", env=env)
    check([m.mode_flags for m in cap.go_modes] == [1],
          f"REC_GO_MODE flags {[m.f for m in cap.go_modes]}, want full + tails")
    gp = cap.go_proc()
    sys_t = tails(cap, (ctrlib.EV_SYS_ENTER,))
    sw_t = [r for r in tails(cap, (ctrlib.EV_SCHED_SWITCH,)) if r.prev_tgid == gp.tgid]
    check(sys_t and sw_t, f"{len(sys_t)} syscall and {len(sw_t)} switch tails")
    full = full_running_at(gp, sys_t + sw_t)

    ids = {r.tail_goid for r in sys_t + sw_t if r.tail_goid > 0}
    unknown = ids - set(gp.goroutines)
    check(not unknown, f"tails name goroutines full mode never saw: {sorted(unknown)[:10]}")

    def agreement(recs, what, want):
        named = [r for r in recs if r.tail_goid > 0]
        same = sum(1 for r in named if full[r.seq] == r.tail_goid)
        check(named, f"no {what} tail names a goroutine")
        bad = Counter((full[r.seq], r.tail_goid) for r in named
                      if full[r.seq] != r.tail_goid)
        check(same >= want * len(named),
              f"{what}: {same}/{len(named)} attributed as in full mode "
              f"(want >= {want:.0%}); (full, tail) differences: {bad.most_common(5)}")

    agreement(sys_t, "syscall", 0.99)
    agreement(sw_t, "switch", 0.95)
    on_g0 = [r for r in sys_t if r.tail_goid == 0 and full[r.seq]]
    check(len(on_g0) <= 0.10 * len(sys_t),
          f"{len(on_g0)}/{len(sys_t)} syscalls on the system stack while full mode "
          f"shows a goroutine: {Counter(r.id for r in on_g0).most_common(5)}")


def sampled_test(ver, variant, prog):
    def test(tmp):
        need_root()
        bin_ = binary(ver, variant, prog)
        args = ARGS[prog]
        plain = untraced(bin_, args)
        check_sampled_run(tmp, bin_, args, plain)
        check_against_full(tmp, bin_, args)
    test.__doc__ = f"{prog} built with go{ver} ({variant}) in sampled mode"
    return test


for _ver in VERSIONS:
    for _variant in VARIANTS:
        _prog = "httpserver" if _variant in ("plain", "cgo") else "fileio"
        globals()[f"test_sampled[{_ver}-{_variant}-{_prog}]"] = \
            sampled_test(_ver, _variant, _prog)


# ---- Perfetto ----

def goroutine_tracks(path):
    """{track name: {"desc", "slices": [names], "sampled": count}} for the
    tracks under each process's "Goroutines" group."""
    cls = check_perfetto.packet_class()
    groups, tracks, interned, out = set(), {}, {}, {}
    for _, pkt in check_perfetto.iter_packets(check_perfetto.read_trace(path), cls):
        seq = pkt.trusted_packet_sequence_id
        if pkt.HasField("interned_data"):
            d = interned.setdefault(seq, {"ev": {}, "str": {}})
            for e in pkt.interned_data.event_names:
                d["ev"][e.iid] = e.name
            for e in pkt.interned_data.debug_annotation_string_values:
                d["str"][e.iid] = bytes(e.str).decode()
        if pkt.HasField("track_descriptor"):
            td = pkt.track_descriptor
            if td.name == "Goroutines":
                groups.add(td.uuid)
            elif td.parent_uuid in groups:
                tracks[td.uuid] = td.name
                out[td.name] = {"desc": td.description, "slices": [], "sampled": 0}
        if pkt.HasField("track_event"):
            te = pkt.track_event
            if te.track_uuid not in tracks or te.type != te.TYPE_SLICE_BEGIN:
                continue
            d = interned.get(seq, {"ev": {}, "str": {}})
            o = out[tracks[te.track_uuid]]
            o["slices"].append(d["ev"].get(te.name_iid, te.name))
            if any(d["str"].get(a.string_value_iid) == "sampled"
                   for a in te.debug_annotations if a.HasField("string_value_iid")):
                o["sampled"] += 1
    return out


def test_sampled_perfetto(tmp):
    """httpserver (go1.19, plain) in sampled mode, straight to .pftrace."""
    need_root()
    bin_ = binary("1.19", "plain", "httpserver")
    pf = tmp / "s.pftrace"
    r = ctrace("--goroutines", "sampled", "-o", pf, "--", bin_,
               *ARGS["httpserver"], timeout=180, env=GO_ENV)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-500:]!r}")
    check("goroutines: sampled" in r.stderr, f"summary lacks the mode: {r.stderr!r}")
    summary = check_perfetto.summarize(pf)
    check(summary["ok"], f"check_perfetto: {summary['problems'][:5]}")
    gt = goroutine_tracks(pf)
    with_sys = {n: t for n, t in gt.items()
                if any(s.startswith("Syscall: ") for s in t["slices"])}
    check(len(with_sys) >= 3, f"{len(with_sys)} goroutine tracks with Syscall: slices "
          f"(want >= 3): {sorted(gt)[:10]}")
    for name, t in gt.items():
        check(t["sampled"] == len(t["slices"]),
              f"{name}: {t['sampled']} of {len(t['slices'])} slices say source: sampled")
        check("kernel events" in t["desc"], f"{name}: description {t['desc']!r}")


def test_sampled_attach(tmp):
    """lateattach (go1.22, stripped) attached in sampled mode: the K
    waiters blocked before attach are named main.waiter."""
    need_root()
    k = 5
    bin_ = binary("1.22", "stripped", "lateattach")
    p = spawn([bin_, k], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              env=GO_ENV, text=True)
    first = p.stdout.readline()
    check(first == "ready\n", f"lateattach printed {first!r}, want 'ready'")
    ctr = tmp / "a.ctr"
    rec = Recorder("--goroutines", "sampled", "-o", ctr, "-p", p.pid)
    rec.wait_recording()
    p.stdin.write("go\n")
    p.stdin.close()
    out = first + p.stdout.read()
    check(p.wait(60) == 0, "lateattach failed under sampled tracing")
    rec.check_ok(rec.wait(60))
    check(out.startswith("ready\ndone"), f"lateattach printed {out!r}")
    cap = ctrlib.load(ctr)
    check(not [r for r in cap.records if r.type in ctrlib.GO_EVENTS],
          "goroutine transition records in sampled mode")
    gp = cap.go_proc()
    waiters = [r for r in gp.snapshot if gp.func(r.startpc) == "main.waiter"]
    check(len(waiters) == k, f"{len(waiters)} main.waiter goroutines walked at attach, want {k}")
    pf = tmp / "a.pftrace"
    r = ctrace("convert", ctr, "-o", pf)
    check(r.returncode == 0, f"convert exited {r.returncode}: {r.stderr!r}")
    named = [n for n in goroutine_tracks(pf) if n.endswith(" main.waiter")]
    check(len(named) == k, f"{len(named)} 'G<n> main.waiter' tracks, want {k}")


def test_sampled_report_and_gotrace(tmp):
    """The report marks the goroutine sections sampled; a .gotrace of a
    sampled capture is refused with one line and exit 7, leaving no file."""
    need_root()
    bin_ = binary("1.19", "plain", "fileio")
    _, cap = traced(tmp, "s", bin_, ARGS["fileio"], "--goroutines", "sampled")
    rep = ctrace("report", cap.path)
    check(rep.returncode == 0, f"report exited {rep.returncode}: {rep.stderr!r}")
    check("[sampled]" in rep.stdout, "report does not mark goroutines as sampled")
    out = tmp / "x.gotrace"
    r = ctrace("convert", cap.path, "-o", out)
    check(r.returncode == 7, f"convert to .gotrace exited {r.returncode}, want 7")
    check("--goroutines full" in check_one_error_line(r, "gotrace refusal"),
          "the refusal does not say what to do")
    check(not out.exists(), "a .gotrace was written anyway")


def test_sampled_bad_mode(tmp):
    """--goroutines with a bad value: one line, exit 2."""
    r = ctrace("--goroutines", "fast", "--", "true")
    check(r.returncode == 2, f"exit {r.returncode}, want 2")
    check("fast" in check_one_error_line(r, "--goroutines fast"), "line does not name the value")
    r = ctrace("--goroutines", "sampled", "-o", tmp / "x.gotrace", "--", "true")
    check(r.returncode == 2, f"sampled with a .gotrace output: exit {r.returncode}, want 2")
    check_one_error_line(r, "--goroutines sampled -o x.gotrace")
