#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Validate and summarize a Chrome JSON trace written by ctrace-bpf.

    check_json.py TRACE.json[.gz] [--dump-json]

Checks the rules Trace Processor and the Perfetto UI rely on: the file
parses; B/E events balance and nest per (pid, tid) in the order TP reads
them; X events have dur >= 0 and do not partially overlap on a track;
every flow "s" has exactly one "f" with the same id/cat/name (and vice
versa), no earlier than it, and both sit in a slice they can bind to;
every pid/tid used has process_name/thread_name metadata; goroutine
pseudo-threads (tid >= 0x40000000) hold only X slices, none overlapping.

Exits 0 when clean, 1 listing the problems, 2 if the file cannot be read.
--dump-json prints the summary (see summarize()) for tests to assert on.

As a module: load(path), validate(doc) -> [problems], summarize(doc) ->
dict, check(path) -> (problems, summary).
"""
import argparse
import bisect
import gzip
import json
import sys
from collections import Counter, defaultdict

PHASES = set("BEXiIMsftCbenPORNDcT")

# Goroutine pseudo-threads: tid = base + goid, base 0x40000000 unless the
# metadata's goroutine_tid_base says otherwise; base + 0 is "Go runtime".
GO_TID_BASE = 0x40000000
GO_FLOW_CAT = "goroutine"


class CheckError(Exception):
    pass


def load(path):
    """The parsed document (object or bare array form), .gz or not."""
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return json.load(f)


def events_of(doc):
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        return doc["traceEvents"]
    raise CheckError("neither an array nor an object with a traceEvents array")


def ns(ts):
    """µs float -> integer ns, as Trace Processor rounds it."""
    return int(round(ts * 1000))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _slices(evs):
    """Per (pid, tid): list of (start_ns, end_ns, begin_event, end_event).

    B/E are paired the way Trace Processor does: sorted by ts with E first
    among equal ts, then file order. Returns (slices, problems).
    """
    problems = []
    per_track = defaultdict(list)
    for i, e in enumerate(evs):
        ph = e.get("ph")
        if ph in ("B", "E", "X"):
            per_track[(e["pid"], e["tid"])].append((i, e))
    slices = defaultdict(list)
    for key, lst in per_track.items():
        be = [(ns(e["ts"]), 0 if e["ph"] == "E" else 1, i, e)
              for i, e in lst if e["ph"] != "X"]
        be.sort(key=lambda t: t[:3])
        stack = []
        for ts, _, i, e in be:
            if e["ph"] == "B":
                stack.append((ts, e))
                continue
            if not stack:
                problems.append("pid %s tid %s: E at %.3f closes nothing"
                                % (key[0], key[1], e["ts"]))
                continue
            bts, b = stack.pop()
            slices[key].append((bts, ts, b, e))
        for bts, b in stack:
            problems.append("pid %s tid %s: B %r at %.3f never ends"
                            % (key[0], key[1], b.get("name"), b["ts"]))
        xs = []
        for i, e in lst:
            if e["ph"] != "X":
                continue
            start, dur = ns(e["ts"]), ns(e["dur"])
            xs.append((start, -dur, i, e))
            slices[key].append((start, start + dur, e, None))
        # X events must nest or be disjoint, else TP spills them elsewhere.
        xs.sort(key=lambda t: t[:3])
        ends = []
        for start, mdur, i, e in xs:
            while ends and ends[-1][0] <= start:
                ends.pop()
            end = start - mdur
            if ends and end > ends[-1][0]:
                problems.append("pid %s tid %s: X %r at %.3f overlaps X %r partially"
                                % (key[0], key[1], e.get("name"), e["ts"],
                                   ends[-1][1].get("name")))
            ends.append((end, e))
    for key in slices:
        slices[key].sort(key=lambda s: (s[0], -s[1]))
    return Slices(slices), problems


class Slices(dict):
    """(pid, tid) -> slices sorted by start, with a start index for lookups."""

    def __init__(self, d):
        super().__init__(d)
        self.starts = {k: [s[0] for s in v] for k, v in d.items()}

    def enclosing(self, key, t, allow_start):
        """Innermost slice on key holding t (strictly after its start unless
        allow_start), or None."""
        lst = self.get(key)
        if not lst:
            return None
        i = bisect.bisect_right(self.starts[key], t) - 1
        # the first holder walking back has the latest start: the innermost
        while i >= 0:
            s = lst[i]
            if (s[0] < t or (allow_start and s[0] == t)) and t < s[1]:
                return s
            i -= 1
        return None


def validate(doc):
    """List of problems (strings); empty when the trace is good."""
    problems = []
    try:
        evs = events_of(doc)
    except CheckError as e:
        return [str(e)]
    ok = []
    for i, e in enumerate(evs):
        if not isinstance(e, dict) or not isinstance(e.get("ph"), str):
            problems.append("event %d: not an object with a ph" % i)
            continue
        ph = e["ph"]
        if ph not in PHASES:
            problems.append("event %d: unknown ph %r" % (i, ph))
            continue
        if not is_int(e.get("pid")) or not is_int(e.get("tid")):
            problems.append("event %d (%s): pid/tid missing or not integers" % (i, ph))
            continue
        if ph != "M" and not is_num(e.get("ts")):
            problems.append("event %d (%s): ts missing or not a number" % (i, ph))
            continue
        if ph == "X" and not (is_num(e.get("dur")) and e["dur"] >= 0):
            problems.append("event %d: X %r has dur %r" % (i, e.get("name"), e.get("dur")))
            continue
        if ph in ("B", "X", "i", "I", "s", "f") and not isinstance(e.get("name"), str):
            problems.append("event %d (%s): no name" % (i, ph))
            continue
        ok.append(e)
    evs = ok

    slices, p = _slices(evs)
    problems += p

    # Flows: exactly one s and one f per (id, cat, name), f not before s.
    flows = defaultdict(lambda: {"s": [], "f": []})
    for e in evs:
        if e["ph"] in ("s", "f"):
            flows[(str(e.get("id")), e.get("cat"), e.get("name"))][e["ph"]].append(e)
    for key, sf in flows.items():
        if len(sf["s"]) != 1 or len(sf["f"]) != 1:
            problems.append("flow id %s cat %r name %r: %d s and %d f events"
                            % (key[0], key[1], key[2], len(sf["s"]), len(sf["f"])))
            continue
        s, f = sf["s"][0], sf["f"][0]
        if ns(f["ts"]) < ns(s["ts"]):
            problems.append("flow id %s: f at %.3f before s at %.3f"
                            % (key[0], f["ts"], s["ts"]))
        if not slices.enclosing((s["pid"], s["tid"]), ns(s["ts"]), False):
            problems.append("flow id %s: s at %.3f is not strictly inside a slice of "
                            "pid %s tid %s" % (key[0], s["ts"], s["pid"], s["tid"]))
        if f.get("bp") == "e":
            if not slices.enclosing((f["pid"], f["tid"]), ns(f["ts"]), True):
                problems.append("flow id %s: f at %.3f has no enclosing slice on "
                                "pid %s tid %s" % (key[0], f["ts"], f["pid"], f["tid"]))

    # Goroutine pseudo-threads: consecutive states, so nothing overlaps.
    gx = defaultdict(list)
    for e in evs:
        if e["tid"] < GO_TID_BASE or e["ph"] not in ("B", "E", "X"):
            continue
        if e["ph"] != "X":
            problems.append("pid %s tid %s: %s %r on a goroutine pseudo-thread"
                            % (e["pid"], e["tid"], e["ph"], e.get("name")))
            continue
        gx[(e["pid"], e["tid"])].append((ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e))
    for (pid, tid), xs in sorted(gx.items()):
        xs.sort(key=lambda t: t[:2])
        for a, b in zip(xs, xs[1:]):
            if b[0] < a[1]:
                problems.append("pid %s tid %s: goroutine X %r at %.3f overlaps %r at %.3f"
                                % (pid, tid, b[2].get("name"), b[2]["ts"],
                                   a[2].get("name"), a[2]["ts"]))

    # Metadata for every track used.
    pnames, tnames = set(), set()
    for e in evs:
        if e["ph"] != "M":
            continue
        name = e.get("name")
        args = e.get("args") if isinstance(e.get("args"), dict) else {}
        if name in ("process_name", "thread_name"):
            if not isinstance(args.get("name"), str):
                problems.append("%s for pid %s tid %s has no args.name"
                                % (name, e["pid"], e["tid"]))
            elif name == "process_name":
                pnames.add(e["pid"])
            else:
                tnames.add((e["pid"], e["tid"]))
    used = {(e["pid"], e["tid"]) for e in evs if e["ph"] != "M"}
    for pid, tid in sorted(used - tnames):
        problems.append("pid %s tid %s is used but has no thread_name" % (pid, tid))
    for pid in sorted({p for p, _ in used} - pnames):
        problems.append("pid %s is used but has no process_name" % pid)
    return problems


def summarize(doc):
    """What a test wants to assert on, with integer keys:

    processes: {pid: name}; threads: {tid: {"pid", "name"}}
    cpu_pid: pid of the "CPUs" pseudo process (None if absent)
    syscalls: {tid: [{"name", "ts", "dur", "args", "end"}]} (µs; "end" holds
        the E args: ret, lost_exit, unfinished, exited, ...)
    instants: {tid: [name, ...]}
    running: {tid: {"slices": n, "dur": µs}} from the CPU tracks
    flows: [(waker_tid, wakee_tid), ...] in s order, read from the args of
        the CPU slices each end binds to (flows of cat "sched")
    goroutines: {tid: {"pid", "goid", "name", "slices": {label: n},
        "dur": {label: µs}}} for the goroutine pseudo-threads ("Go runtime"
        included, goid 0; its slices are named by the waker)
    go_flows: [(waker, wakee), ...] in s order, for flows of cat "goroutine":
        goids, or for the runtime the name of its slice ("runtime: timer")
    go_wakes: the same as dicts: {"name" ("unblock"/"create"), "pid", "waker",
        "wakee", "ts" (µs), "wakee_was": name of the wakee's slice that ends
        where the flow's slice starts (what it was blocked on), or None}
    woken_by: {wakee_tid: [waker_tid, ...]} from the CPU slices' args
    counts: {ph: n}; metadata: the file's metadata object
    """
    evs = [e for e in events_of(doc) if isinstance(e, dict) and "ph" in e]
    out = {
        "processes": {}, "threads": {}, "cpu_pid": None, "syscalls": defaultdict(list),
        "instants": defaultdict(list), "running": {}, "flows": [],
        "woken_by": defaultdict(list), "counts": dict(Counter(e["ph"] for e in evs)),
        "metadata": doc.get("metadata", {}) if isinstance(doc, dict) else {},
        "goroutines": {}, "go_flows": [], "go_wakes": [],
    }
    bases = {}
    for pid, base in (out["metadata"].get("goroutine_tid_base") or {}).items():
        bases[int(pid)] = base
    for e in evs:
        if e["ph"] != "M":
            continue
        name = (e.get("args") or {}).get("name")
        if e.get("name") == "process_name":
            out["processes"][e["pid"]] = name
            if name == "CPUs":
                out["cpu_pid"] = e["pid"]
        elif e.get("name") == "thread_name":
            out["threads"][e["tid"]] = {"pid": e["pid"], "name": name}
            if e["tid"] >= GO_TID_BASE:
                out["goroutines"][e["tid"]] = {
                    "pid": e["pid"], "goid": e["tid"] - bases.get(e["pid"], GO_TID_BASE),
                    "name": name, "slices": Counter(), "dur": defaultdict(float)}
    cpu_pid = out["cpu_pid"]

    slices, _ = _slices([e for e in evs if e["ph"] in ("B", "E", "X")])
    running = defaultdict(lambda: {"slices": 0, "dur": 0})
    for (pid, tid), lst in slices.items():
        for start, end, b, e in lst:
            if tid >= GO_TID_BASE:
                g = out["goroutines"].setdefault(tid, {
                    "pid": pid, "goid": tid - bases.get(pid, GO_TID_BASE), "name": None,
                    "slices": Counter(), "dur": defaultdict(float)})
                g["slices"][b.get("name")] += 1
                g["dur"][b.get("name")] = round(g["dur"][b.get("name")]
                                                + (end - start) / 1000.0, 3)
                continue
            if pid == cpu_pid:
                a = b.get("args") or {}
                if "tid" in a:
                    r = running[a["tid"]]
                    r["slices"] += 1
                    r["dur"] = round(r["dur"] + (end - start) / 1000.0, 3)
                    if "woken_by_tid" in a:
                        out["woken_by"][a["tid"]].append(a["woken_by_tid"])
                continue
            bargs = b.get("args") or {}
            end_args = (e.get("args") if e is not None else
                        {k: v for k, v in bargs.items() if k != "args"}) or {}
            out["syscalls"][tid].append({
                "name": b.get("name"), "ts": round(start / 1000.0, 3),
                "dur": round((end - start) / 1000.0, 3),
                "args": bargs.get("args"), "end": end_args,
                "goroutine": bargs.get("goroutine"),
            })
    out["running"] = dict(running)
    for e in sorted((e for e in evs if e["ph"] in ("i", "I")), key=lambda e: ns(e["ts"])):
        out["instants"][e["tid"]].append(e.get("name"))

    pairs = defaultdict(dict)
    for e in evs:
        if e["ph"] in ("s", "f"):
            pairs[(str(e.get("id")), e.get("cat"), e.get("name"))][e["ph"]] = e
    flows, go_flows = [], []
    for key, sf in pairs.items():
        if "s" not in sf or "f" not in sf:
            continue
        s, f = sf["s"], sf["f"]
        ws = slices.enclosing((s["pid"], s["tid"]), ns(s["ts"]), False)
        fs = slices.enclosing((f["pid"], f["tid"]), ns(f["ts"]), f.get("bp") == "e")
        if key[1] == GO_FLOW_CAT:
            go_flows.append((ns(s["ts"]), key[0], _go_wake(out, slices, key[2], s, f, ws, fs)))
            continue
        waker = (ws[2].get("args") or {}).get("tid") if ws else None
        wakee = (fs[2].get("args") or {}).get("tid") if fs else None
        flows.append((ns(s["ts"]), key[0], waker, wakee))
    flows.sort(key=lambda t: (t[0], t[1]))
    out["flows"] = [(w, k) for _, _, w, k in flows]
    go_flows.sort(key=lambda t: (t[0], t[1]))
    out["go_wakes"] = [w for _, _, w in go_flows]
    out["go_flows"] = [(w["waker"], w["wakee"]) for w in out["go_wakes"]]
    for g in out["goroutines"].values():
        g["slices"] = dict(g["slices"])
        g["dur"] = dict(g["dur"])
    out["syscalls"] = dict(out["syscalls"])
    out["instants"] = dict(out["instants"])
    out["woken_by"] = dict(out["woken_by"])
    return out


def _go_wake(out, slices, name, s, f, ws, fs):
    """One goroutine flow as a go_wakes entry."""
    def goid(tid):
        g = out["goroutines"].get(tid)
        return g["goid"] if g else None

    waker = goid(s["tid"])
    if waker == 0 and ws:  # the runtime: its slice names the waker
        waker = ws[2].get("name")
    was = None
    if fs:
        lst = slices.get((f["pid"], f["tid"]), [])
        i = bisect.bisect_left(slices.starts[(f["pid"], f["tid"])], fs[0])
        for prev in reversed(lst[:i]):
            if prev[1] == fs[0]:
                was = prev[2].get("name")
                break
    return {"name": name, "pid": f["pid"], "waker": waker, "wakee": goid(f["tid"]),
            "ts": round(ns(s["ts"]) / 1000.0, 3), "wakee_was": was}


def check(path):
    """(problems, summary) for a file; raises CheckError if unreadable."""
    try:
        doc = load(path)
    except (OSError, ValueError, EOFError) as e:
        raise CheckError("%s: %s" % (path, e))
    problems = validate(doc)
    return problems, summarize(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--dump-json", action="store_true",
                    help="print the summary as JSON on stdout")
    ap.add_argument("--max-problems", type=int, default=50)
    a = ap.parse_args()
    try:
        problems, summary = check(a.trace)
    except CheckError as e:
        print("check_json: %s" % e, file=sys.stderr)
        return 2
    for p in problems[:a.max_problems]:
        print("check_json: %s" % p, file=sys.stderr)
    if len(problems) > a.max_problems:
        print("check_json: ... %d more problems" % (len(problems) - a.max_problems),
              file=sys.stderr)
    if a.dump_json:
        json.dump(summary, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
    else:
        c = summary["counts"]
        gors = summary["goroutines"]
        go = ""
        if gors:
            labels = Counter()
            for g in gors.values():
                if g["goid"]:
                    labels.update(g["slices"])
            go = (", %d goroutine pseudo-threads (%s), %d goroutine flows"
                  % (len(gors), " ".join("%r=%d" % kv for kv in sorted(labels.items())),
                     len(summary["go_flows"])))
        print("%s: %d events (%s), %d processes, %d threads, %d syscall slices, "
              "%d flows%s%s" % (a.trace, sum(c.values()),
                                " ".join("%s=%d" % kv for kv in sorted(c.items())),
                                len(summary["processes"]), len(summary["threads"]),
                                sum(len(v) for v in summary["syscalls"].values()),
                                len(summary["flows"]), go,
                                ", %d problems" % len(problems) if problems else ", ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
