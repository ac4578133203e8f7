"""The Go trace writer never writes a file `go tool trace` rejects, whatever
the capture: real captures of Go programs built here (full goroutine mode:
tests/goprogs/workerpool launched, tests/goprogs/churn launched and attached
to with -p while it runs) are mangled at the record level hundreds of times
(records dropped, duplicated, reordered, the event stream cut short, the
file cut at a byte) with fixed seeds, each mutant is converted to .gotrace
and must pass Go 1.19's `go tool trace -d` and its parser with the UI's
preconditions (the validator of test_gotrace.py), one in ten also Go
1.23+'s conversion (`-pprof=sched`); what the writer had to make up or
leave out is counted, and must be where records were lost.

A failure names the capture, the seed and the mutation; rerun one with
CTRACE_MUTATE_SEED=N (and --keep to look at the mutant).
"""

import os
import random
import re
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ctrlib
from harness import CTRACE, Fail, Recorder, check, ctrace, need_root, spawn
from test_gotrace import GO_ENV, analyze, binary, goroot, go_env, pprof_raw, run, toolchains

HEADER = 16
BLOCK = struct.Struct("<IIII")
BLOCK_MAGIC = 0x4B4C4243
# Mutants are written in blocks of this much (the collector's are up to 1 MiB,
# flushed every drain): a file cut at a byte keeps a prefix of whole blocks.
BLOCK_RAW = 32 << 10
# Records that describe the capture (meta, tasks, Go process and symbols,
# stats, watermarks, end): kept as they are. Everything else is an event.
KEEP = {64, 65, 66, 67, 68, 69, 71, 72, 73}
GO_RECORDS = set(range(32, 40)) | {70}
KINDS = ("drop-go", "drop-any", "dup", "reorder", "cut-events", "mixed", "cut-file")
MUTANTS = 170  # per capture: three captures, about 500 in all
SUMMARY = re.compile(r"go trace of pid \d+: \d+ goroutines, \d+ events, (\d+) repairs "
                     r"\((\d+) in goroutine reconstruction, (\d+) by the trace's rules\), "
                     r"(\d+) events left out")


# ---- captures as records ----

def read_records(path):
    """[bytes] of every record, in file order (the file's blocks undone)."""
    check(Path(path).read_bytes()[:8] == ctrlib.CTR_MAGIC, f"{path}: not a capture")
    recs = []
    for raw in ctrlib.capture_blocks(path)[1]:
        p = 0
        while p + 24 <= len(raw):
            size = struct.unpack_from("<H", raw, p + 10)[0]
            check(size >= 24 and p + size <= len(raw), f"{path}: bad record size {size}")
            recs.append(raw[p:p + size])
            p += size
    return recs


def write_records(path, header, recs):
    """A version 1 (zlib) capture; header: the source's, whose version is
    replaced since the blocks written here are zlib's."""
    out = bytearray(header[:8] + struct.pack("<I", 1) + header[12:])
    block = bytearray()

    def flush():
        if block:
            z = zlib.compress(bytes(block), 1)
            out.extend(BLOCK.pack(BLOCK_MAGIC, len(block), len(z), 0) + z)
            block.clear()
    for r in recs:
        if len(block) + len(r) > BLOCK_RAW:
            flush()
        block.extend(r)
    flush()
    Path(path).write_bytes(out)
    return out


def rtype(r):
    return struct.unpack_from("<H", r, 8)[0]


def rtgid(r):
    return struct.unpack_from("<I", r, 20)[0]


def with_ts(r, ts):
    return struct.pack("<Q", ts) + r[8:]


def ts_of(r):
    return struct.unpack_from("<Q", r, 0)[0]


def shrink(recs, tgid):
    """The capture without other processes' events (the machine's own
    scheduling is most of a capture and nothing the Go writer looks at):
    mutants stay small and quick."""
    out = []
    for r in recs:
        t = rtype(r)
        if t in KEEP or rtgid(r) == tgid:
            out.append(r)
        elif t == 1 and len(r) >= 48:
            prev_tgid, next_tgid = struct.unpack_from("<II", r, 28)
            if tgid in (prev_tgid, next_tgid):
                out.append(r)
    return out


def go_tgid(recs):
    for r in recs:
        if rtype(r) == 69:
            return rtgid(r)
    raise Fail("no Go process record in the capture")


# ---- mutations ----

def mutate(recs, seed):
    """(records, kind, what) for one seed: deterministic."""
    rnd = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    ev = [i for i, r in enumerate(recs) if rtype(r) not in KEEP]
    go = [i for i in ev if rtype(recs[i]) in GO_RECORDS]
    recs = list(recs)
    p = rnd.choice((0.01, 0.03, 0.06, 0.12, 0.25))
    if kind == "drop-go":
        gone = {i for i in go if rnd.random() < p}
        return [r for i, r in enumerate(recs) if i not in gone], kind, f"{len(gone)} Go records"
    if kind == "drop-any":
        gone = {i for i in ev if rnd.random() < p}
        return [r for i, r in enumerate(recs) if i not in gone], kind, f"{len(gone)} events"
    if kind == "dup":
        return dup(recs, go if rnd.random() < 0.5 else ev, p, rnd)
    if kind == "reorder":
        return reorder(recs, go if rnd.random() < 0.5 else ev, p, rnd)
    if kind == "cut-events":
        cut = ev[int(len(ev) * rnd.uniform(0.05, 0.95))]
        return ([r for i, r in enumerate(recs) if i < cut or rtype(r) in KEEP], kind,
                f"events after #{cut}")
    if kind == "mixed":
        recs, _, a = dup(recs, ev, p / 4, rnd)
        ev = [i for i, r in enumerate(recs) if rtype(r) not in KEEP]
        recs, _, b = reorder(recs, ev, p / 4, rnd)
        gone = {i for i, r in enumerate(recs) if rtype(r) not in KEEP and rnd.random() < p / 4}
        recs = [r for i, r in enumerate(recs) if i not in gone]
        # File order shuffled in small windows too: the reader's time order must cope.
        for _ in range(int(len(recs) * p / 8)):
            i = rnd.randrange(len(recs))
            j = min(len(recs) - 1, i + rnd.randint(1, 8))
            recs[i], recs[j] = recs[j], recs[i]
        return recs, kind, f"{a}, {b}, {len(gone)} dropped, file order shuffled"
    return recs, kind, f"file cut at {rnd.uniform(0.1, 0.99):.3f}"


def dup(recs, idx, p, rnd):
    picks = sorted((i for i in idx if rnd.random() < p), reverse=True)
    for i in picks:
        recs.insert(min(len(recs), i + rnd.randint(1, 20)), recs[i])
    return recs, "dup", f"{len(picks)} duplicated"


def reorder(recs, idx, p, rnd):
    """Events swap times with a neighbour: the stream sees them the other way round."""
    n = 0
    for k in range(len(idx)):
        if rnd.random() >= p:
            continue
        j = idx[min(len(idx) - 1, k + rnd.randint(1, 30))]
        i = idx[k]
        a, b = ts_of(recs[i]), ts_of(recs[j])
        recs[i], recs[j] = with_ts(recs[i], b), with_ts(recs[j], a)
        n += 1
    return recs, "reorder", f"{n} pairs swapped"


# ---- checking one mutant ----

def newer():
    return next((v for v in ("1.24", "1.23") if toolchains().get(v)), None)


_tool = None


def trace_tool():
    """Go 1.19's trace tool itself (`go tool trace` runs it after a go command)."""
    global _tool
    if _tool is None:
        root = goroot("1.19")
        r = run([root / "bin" / "go", "env", "GOTOOLDIR"], env=go_env(root))
        _tool = Path(r.stdout.strip()) / "trace"
        check(_tool.exists(), f"no trace tool at {_tool}")
    return _tool


def one(src_header, recs, seed, work, label):
    """Converts one mutant and checks it: (kind, what, repairs, rules' repairs and drops,
    refused)."""
    muts, kind, what = mutate(recs, seed)
    ctr, out = work / f"m{seed}.ctr", work / f"m{seed}.gotrace"
    data = write_records(ctr, src_header, muts)
    if kind == "cut-file":
        frac = float(what.split()[-1])
        ctr.write_bytes(bytes(data[:max(HEADER, int(len(data) * frac))]))
    where = f"{label} seed {seed} ({kind}: {what})"
    try:
        r = subprocess.run([str(CTRACE), "convert", str(ctr), "-o", str(out)],
                           capture_output=True, text=True, timeout=120)
        if kind == "cut-file" and r.returncode != 0:
            # Nothing of the Go process left: one clear line, no crash.
            lines = [x for x in r.stderr.splitlines() if x.strip()]
            check(r.returncode in (1, 7) and len(lines) == 1
                  and lines[0].startswith("ctrace-bpf: "),
                  f"{where}: convert exited {r.returncode}: {r.stderr.strip()[-300:]!r}")
            return kind, what, 0, 0, True
        check(r.returncode == 0, f"{where}: convert exited {r.returncode}: "
              f"{r.stderr.strip()[-300:]!r}")
        m = SUMMARY.search(r.stderr)
        check(m, f"{where}: no go trace summary: {r.stderr[-300:]!r}")
        d = subprocess.run([str(trace_tool()), "-d", str(out)], capture_output=True, text=True,
                           timeout=120, env=go_env(goroot("1.19")))
        check(d.returncode == 0 and "failed to parse" not in d.stderr,
              f"{where}: go tool trace -d: {d.stderr.strip()[-300:]!r}")
        analyze(out)
        # Go 1.23+ convert the old format with checks of their own: a sample.
        if seed % 10 == 0 and newer():
            try:
                pprof_raw(newer(), "sched", out)
            except Fail as e:
                raise Fail(f"{where}: {e}") from None
        return kind, what, int(m.group(1)), int(m.group(3)) + int(m.group(4)), False
    finally:
        if not os.environ.get("CTRACE_MUTATE_KEEP"):
            ctr.unlink(missing_ok=True)
            out.unlink(missing_ok=True)


def mutate_test(label, ctr, seeds):
    recs = read_records(ctr)
    header = Path(ctr).read_bytes()[:HEADER]
    recs = shrink(recs, go_tgid(recs))
    # The capture as recorded: nothing to repair against the trace's rules.
    work = Path(tempfile.mkdtemp(prefix="ctrace-mutants-"))
    try:
        base = work / "base.gotrace"
        r = ctrace("convert", ctr, "-o", base, timeout=120)
        m = SUMMARY.search(r.stderr)
        check(r.returncode == 0 and m, f"{label}: convert: {r.stderr[-300:]!r}")
        check(m.group(3) == "0" and m.group(4) == "0",
              f"{label}: the capture as recorded breaks the trace's rules: {m.group(0)}")
        analyze(base)
        newer()  # the toolchains, looked up once, before the threads
        one_seed = os.environ.get("CTRACE_MUTATE_SEED")
        if one_seed:
            seeds = [int(one_seed)]
        with ThreadPoolExecutor(max_workers=2) as ex:
            res = list(ex.map(lambda s: one(header, recs, s, work, label), seeds))
    finally:
        if not os.environ.get("CTRACE_MUTATE_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    by_kind = {}
    for (kind, what, repairs, rules, refused), seed in zip(res, seeds):
        by_kind.setdefault(kind, []).append((seed, what, repairs + rules, rules, refused))
    if os.environ.get("CTRACE_MUTATE_STATS"):
        for kind, v in by_kind.items():
            print(f"     {label} {kind}: {len(v)} mutants ({sum(x[4] for x in v)} refused), "
                  f"{sum(x[2] for x in v)} repaired or left out, {sum(x[3] for x in v)} by "
                  "the rules", flush=True)
    # Cut at a byte: the blocks before the cut convert, once the Go process is
    # known (a short launched program has its record only at the end).
    cut = by_kind.get("cut-file", ())
    early = next(i for i, r in enumerate(recs) if rtype(r) == 69) < len(recs) // 2
    check(not cut or not early or sum(x[4] for x in cut) < len(cut),
          f"{label}: every capture cut at a byte was refused: {cut[:3]}")
    # Lost Go records always leave transitions to make up (or to leave out).
    missed = [(s, w) for s, w, n, _, _ in by_kind.get("drop-go", ())
              if n == 0 and int(w.split()[0]) >= 20]
    check(not missed, f"{label}: Go records dropped, nothing repaired: {missed[:4]}")
    for kind in ("drop-go", "dup", "reorder", "mixed"):
        if kind in by_kind and len(seeds) > 1:
            check(sum(x[2] for x in by_kind[kind]) > 0,
                  f"{label}: no repair in any '{kind}' mutant")
    return res


# ---- the captures ----

def record_launched(tmp, prog, *args):
    need_root()
    ctr = tmp / f"{prog}.ctr"
    r = ctrace("-q", "--goroutines", "full", "-o", ctr, "--", binary(prog), *args,
               timeout=180, env=GO_ENV)
    check(r.returncode == 0, f"recording {prog}: {r.returncode} {r.stderr[-300:]!r}")
    return ctr


def record_attached(tmp):
    """churn already running (its goroutines declared at attach), for 0.2 s of waves."""
    need_root()
    ctr = tmp / "churn-attached.ctr"
    p = spawn([binary("churn"), 0, 16, 4000], stdout=subprocess.PIPE, env=GO_ENV, text=True)
    check(p.stdout.readline() == "ready\n", "churn did not start")
    time.sleep(0.3)
    rec = Recorder("--goroutines", "full", "-d", "200ms", "-o", ctr, "-p", p.pid)
    rec.check_ok(rec.wait(60))
    p.kill()
    p.wait(10)
    return ctr


def test_gotrace_exitsyscall_without_p(tmp):
    """A goroutine declared waiting at attach whose first event is
    exitsyscall0 on an M without a P (p = -1), the case a stripped server
    showed: the trace has its syscall exit where it next runs, not a GoSched
    on P -1 (which made Go's parser find "no consistent ordering"), and the
    contradiction is counted as a repair."""
    ctr = record_attached(tmp)
    recs = read_records(ctr)
    tgid = go_tgid(recs)
    at = next((i for i, r in enumerate(recs) if rtype(r) == 70 and rtgid(r) == tgid
               and struct.unpack_from("<I", r, 64)[0] == 4), None)
    check(at is not None, "no goroutine was waiting at attach")
    g, goid = struct.unpack_from("<Qq", recs[at], 24)
    tid = next(struct.unpack_from("<I", r, 16)[0] for r in recs
               if rtype(r) == 7 and rtgid(r) == tgid)
    sched = struct.pack("<QHHHHII", ts_of(recs[at]) + 1, 36, 72, 0, 0, tid, tgid)
    sched += struct.pack("<QqqQQiHBB", g, goid, 0, 0, 0, -1, 0, 4, 0)  # GO_SCHED_SYSCALL
    recs.insert(at + 1, sched)
    bad, out = tmp / "bad.ctr", tmp / "bad.gotrace"
    write_records(bad, Path(ctr).read_bytes()[:HEADER], recs)
    r = ctrace("convert", bad, "-o", out, timeout=120)
    m = SUMMARY.search(r.stderr)
    check(r.returncode == 0 and m, f"convert: {r.returncode} {r.stderr[-300:]!r}")
    check(int(m.group(1)) >= 1, f"G{goid}'s contradiction not counted: {m.group(0)}")
    d = subprocess.run([str(trace_tool()), "-d", str(out)], capture_output=True, text=True,
                       timeout=120, env=go_env(goroot("1.19")))
    check(d.returncode == 0, f"go tool trace -d: {d.stderr.strip()[-300:]!r}")
    evs = [ln.split()[1] for ln in d.stdout.splitlines()
           if re.match(rf"^\d+ \w+ p=-?\d+ g={goid} ", ln)]
    check("GoSysExit" in evs or not [e for e in evs if e == "GoStart"],
          f"G{goid}: {evs[:8]}, want its syscall exit before it runs")
    analyze(out)


def test_gotrace_mutate_workerpool(tmp):
    """workerpool (launched): 170 mutants, each a valid trace; repairs counted."""
    mutate_test("workerpool", record_launched(tmp, "workerpool", 4, 300), range(0, MUTANTS))


def test_gotrace_mutate_churn(tmp):
    """churn (launched: goroutine churn, timers, syscalls that lose their P,
    GC): 170 mutants, each a valid trace; repairs counted."""
    mutate_test("churn", record_launched(tmp, "churn", 40, 16), range(1000, 1000 + MUTANTS))


def test_gotrace_mutate_attached(tmp):
    """churn attached with -p (goroutines declared at attach, some in
    syscalls): 170 mutants, each a valid trace; repairs counted."""
    mutate_test("churn -p", record_attached(tmp), range(2000, 2000 + MUTANTS))
