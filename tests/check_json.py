#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Validate and summarize a Chrome JSON trace written by ctrace-bpf.

    check_json.py TRACE.json[.gz] [--dump-json]

Checks the rules Trace Processor and the Perfetto UI rely on: the file
parses; B/E events balance and nest per (pid, tid) in the order TP reads
them; X events have dur >= 0 and do not partially overlap on a track;
every flow "s" has exactly one "f" with the same id/cat/name (and vice
versa), no earlier than it, and both sit in a slice they can bind to;
every pid/tid used has process_name/thread_name metadata.

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
        the CPU slices each end binds to
    woken_by: {wakee_tid: [waker_tid, ...]} from the CPU slices' args
    counts: {ph: n}; metadata: the file's metadata object
    """
    evs = [e for e in events_of(doc) if isinstance(e, dict) and "ph" in e]
    out = {
        "processes": {}, "threads": {}, "cpu_pid": None, "syscalls": defaultdict(list),
        "instants": defaultdict(list), "running": {}, "flows": [],
        "woken_by": defaultdict(list), "counts": dict(Counter(e["ph"] for e in evs)),
        "metadata": doc.get("metadata", {}) if isinstance(doc, dict) else {},
    }
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
    cpu_pid = out["cpu_pid"]

    slices, _ = _slices([e for e in evs if e["ph"] in ("B", "E", "X")])
    running = defaultdict(lambda: {"slices": 0, "dur": 0})
    for (pid, tid), lst in slices.items():
        for start, end, b, e in lst:
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
            })
    out["running"] = dict(running)
    for e in sorted((e for e in evs if e["ph"] in ("i", "I")), key=lambda e: ns(e["ts"])):
        out["instants"][e["tid"]].append(e.get("name"))

    pairs = defaultdict(dict)
    for e in evs:
        if e["ph"] in ("s", "f"):
            pairs[(str(e.get("id")), e.get("cat"), e.get("name"))][e["ph"]] = e
    flows = []
    for key, sf in pairs.items():
        if "s" not in sf or "f" not in sf:
            continue
        s, f = sf["s"], sf["f"]
        ws = slices.enclosing((s["pid"], s["tid"]), ns(s["ts"]), False)
        fs = slices.enclosing((f["pid"], f["tid"]), ns(f["ts"]), f.get("bp") == "e")
        waker = (ws[2].get("args") or {}).get("tid") if ws else None
        wakee = (fs[2].get("args") or {}).get("tid") if fs else None
        flows.append((ns(s["ts"]), key[0], waker, wakee))
    flows.sort(key=lambda t: (t[0], t[1]))
    out["flows"] = [(w, k) for _, _, w, k in flows]
    out["syscalls"] = dict(out["syscalls"])
    out["instants"] = dict(out["instants"])
    out["woken_by"] = dict(out["woken_by"])
    return out


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
        print("%s: %d events (%s), %d processes, %d threads, %d syscall slices, "
              "%d flows%s" % (a.trace, sum(c.values()),
                              " ".join("%s=%d" % kv for kv in sorted(c.items())),
                              len(summary["processes"]), len(summary["threads"]),
                              sum(len(v) for v in summary["syscalls"].values()),
                              len(summary["flows"]),
                              ", %d problems" % len(problems) if problems else ", ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
