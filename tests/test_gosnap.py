"""Goroutine snapshots (--snapshot-interval): every goroutine of a Go target
read from its memory at an interval, without stopping it.

Run on tests/goprogs/manyblocked (goroutines blocked on a channel, in
time.Sleep and on a mutex, whose ids the program prints) built with Go 1.19
and 1.24, plain and stripped: snapshots come at the interval, their goroutine
ids and wait reasons match what the program says, the report lists the
long-blocked ones, Perfetto gets counter tracks marked sampled, and the
program's output and exit status do not change. The validator is unit-tested
on crafted and random g bytes (tests/go/gosnap_check.c) and the capture
reader on damaged snapshot records, neither needing root. A 10,000-goroutine
program snapshotted for 10 s must keep the collector's RssAnon flat.
"""

import json
import re
import struct
import subprocess
import time
from pathlib import Path

import check_perfetto
import ctrlib
import test_goroutines
from harness import (TESTS, Fail, Recorder, check, check_one_error_line,
                     ctrace, need_root, run, spawn)

ROOT = TESTS.parent
REC_GO_PROC, REC_GO_SNAP, REC_META = 69, 72, 64
SNAP_HDR = struct.Struct("<IHHQIIIIII")  # after the 24-byte header: 64 in all
SNAP_ENT = struct.Struct("<QqqQQIHH")    # 48
FIRST, LAST = 1, 2
INTERVAL_MS = 100


def build(ver, variant, prog):
    """The program built by build-matrix.sh, as the goroutine tests build it."""
    return test_goroutines.binary(ver, variant, prog)


# ---- the capture, decoded here (independent of the C reader) ----

def blocks(path):
    """[(raw bytes)] of a capture's blocks, and its file header."""
    return ctrlib.capture_blocks(path)


def write_capture(path, header, raws):
    """header is ignored: tests write version 1 captures (ctrlib)."""
    ctrlib.write_capture(path, raws)


def records(raw):
    p = 0
    while p + 24 <= len(raw):
        ts, typ, size, cpu, flags, tid, tgid = ctrlib.HDR.unpack_from(raw, p)
        if size < 24:
            return
        yield p, ts, typ, size, flags, tgid
        p += size


def snapshots(path):
    """{tgid: [snapshot]}, each {ts, seq, mono, implausible, unreadable, ents}."""
    out = {}
    cur = {}
    for raw in blocks(path)[1]:
        for p, ts, typ, size, flags, tgid in records(raw):
            if typ != REC_GO_SNAP:
                continue
            (seq, count, chunk, mono, read_us, allglen, total, implausible,
             unreadable, skipped) = SNAP_HDR.unpack_from(raw, p + 24)
            if flags & FIRST:
                cur[tgid] = dict(ts=ts, seq=seq, mono=mono, ents=[],
                                 implausible=implausible, unreadable=unreadable,
                                 total=total, read_us=read_us)
            s = cur[tgid]
            for i in range(count):
                g, goid, since, startpc, gopc, status, reason, _ = \
                    SNAP_ENT.unpack_from(raw, p + 64 + 48 * i)
                s["ents"].append(dict(g=g, goid=goid, waitsince=since,
                                      startpc=startpc, status=status,
                                      reason=reason))
            if flags & LAST:
                check(len(s["ents"]) == s["total"],
                      f"snapshot {seq}: {len(s['ents'])} entries, header says {s['total']}")
                out.setdefault(tgid, []).append(s)
    return out


# ---- a traced run of manyblocked ----

def printed_ids(stdout):
    ids = dict(re.findall(r"^(recv|sleep|mutex) (\d+)$", stdout, re.M))
    check(set(ids) == {"recv", "sleep", "mutex"}, f"program printed {stdout!r}")
    return {k: int(v) for k, v in ids.items()}


def check_snap_run(tmp, ver, variant):
    need_root()
    prog = build(ver, variant, "manyblocked")
    args = [prog, 30, 1500]
    plain = run(args, timeout=60)
    out = tmp / "run.ctr"
    r = ctrace("--goroutines", "full", "--snapshot-interval", f"{INTERVAL_MS}ms", "-o", out, "--",
               *args, timeout=120)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr!r}")
    # The program's behaviour is its own: same exit status, same lines.
    check(plain.returncode == 0, f"untraced run exited {plain.returncode}")
    strip = lambda s: re.sub(r"\d+", "N", s)  # goids may differ between runs
    check(strip(r.stdout) == strip(plain.stdout),
          f"stdout changed under tracing: {r.stdout!r} vs {plain.stdout!r}")
    m = re.search(r"goroutine snapshots \(sampled, every 100 ms\): (\d+), (\d+) goroutines, "
                  r"(\d+) implausible and (\d+) unreadable dropped, (\d+) failed", r.stderr)
    check(m, f"no snapshot summary line: {r.stderr!r}")
    ids = printed_ids(r.stdout)

    cap = ctrlib.load(out)
    gp = cap.go_proc()
    snaps = snapshots(out)
    check(list(snaps) == [gp.tgid], f"snapshots of {list(snaps)}, want [{gp.tgid}]")
    ss = snaps[gp.tgid]
    # One per interval over the run (tolerance for a loaded 2-CPU machine).
    span = (ss[-1]["ts"] - ss[0]["ts"]) / 1e6
    check(span >= 1200, f"snapshots span {span:.0f} ms of a 1.5 s program")
    want = span / INTERVAL_MS + 1
    check(0.7 * want <= len(ss) <= want + 1,
          f"{len(ss)} snapshots over {span:.0f} ms at {INTERVAL_MS} ms")
    gaps = sorted((b["ts"] - a["ts"]) / 1e6 for a, b in zip(ss, ss[1:]))
    med = gaps[len(gaps) // 2]
    check(80 <= med <= 150, f"median gap {med:.1f} ms, want ~{INTERVAL_MS}")
    check([s["seq"] for s in ss] == list(range(1, len(ss) + 1)), "seq not 1, 2, ...")
    check(int(m.group(1)) == len(ss), f"summary says {m.group(1)} snapshots, capture has {len(ss)}")

    # Once "ready", every snapshot holds the printed goroutines blocked as they are.
    want_reason = {"recv": {"chan receive"}, "sleep": {"sleep"},
                   "mutex": {"sync.Mutex.Lock", "semacquire"}}
    want_func = {"recv": "main.recv", "sleep": "main.nap", "mutex": "main.lock"}
    last = ss[-1]
    by_goid = {e["goid"]: e for e in last["ents"]}
    check(len(by_goid) == len(last["ents"]), "a goid twice in one snapshot")
    check(len([e for e in last["ents"] if gp.func(e["startpc"]) in want_func.values()]) == 30,
          f"last snapshot: {len(last['ents'])} goroutines, want the 30 blocked ones among them")
    for kind, goid in ids.items():
        e = by_goid.get(goid)
        check(e, f"{kind} goroutine {goid} (printed by the program) not in the last snapshot; "
              f"goids {sorted(by_goid)[:40]}")
        check(gp.func(e["startpc"]) == want_func[kind],
              f"G{goid} starts at {gp.func(e['startpc'])}, want {want_func[kind]}")
        reason = ctrlib.reason_string(gp.minor, e["reason"])
        check(reason in want_reason[kind],
              f"G{goid} ({kind}) waits on {reason!r}, want {want_reason[kind]}")
    # The same run's full goroutine trace (probes): the goroutines alive at
    # the last snapshot are exactly those the snapshot read, blocked on the
    # same wait reason (the program is idle then).
    t = last["ts"]
    near = lambda ts: ts is not None and abs(ts - t) < 5_000_000
    alive = {g.goid for g in gp.goroutines.values()
             if (g.create_ts is None or g.create_ts < t) and (g.exit_ts is None or g.exit_ts > t)}
    fuzzy = {g.goid for g in gp.goroutines.values() if near(g.create_ts) or near(g.exit_ts)}
    diff = (alive ^ set(by_goid)) - fuzzy
    check(not diff, f"goids in the last snapshot and alive in the full trace differ: {sorted(diff)}")
    for goid in set(by_goid) & alive:
        blocks = [e for e in gp.g(goid).events if e.ts < t]
        if blocks and blocks[-1].type == ctrlib.EV_GO_BLOCK:
            check(blocks[-1].reason == by_goid[goid]["reason"],
                  f"G{goid}: full trace blocked on {blocks[-1].reason}, snapshot says "
                  f"{by_goid[goid]['reason']}")
    for s in ss:
        check(s["implausible"] == 0 and s["unreadable"] == 0,
              f"snapshot {s['seq']}: {s['implausible']} implausible, "
              f"{s['unreadable']} unreadable g's of an idle program")

    # The report: long-blocked goroutines, marked sampled.
    rep = json.loads(ctrace("report", "--json", "--top", "100", out).stdout)
    sec = rep.get("goroutine_snapshots")
    check(sec and sec["source"] == "sampled" and sec["snapshots"] == len(ss),
          f"report section: {sec!r}")
    longs = {b["goid"]: b for b in sec["long_blocked"]}
    for kind, goid in ids.items():
        b = longs.get(goid)
        check(b and b["blocked_ns"] >= 200e6 and b["reason"] in want_reason[kind]
              and b["start_function"] == want_func[kind] and b["still_blocked"],
              f"long-blocked {kind} G{goid}: {b!r}")
    text = ctrace("report", out).stdout
    check("Goroutine snapshots (sampled)" in text and "Long-blocked goroutines (sampled" in text,
          "text report lacks the sampled snapshot sections")
    check(ctrace("report", out, "--html", tmp / "r.html").returncode == 0, "report --html failed")
    check("Goroutine snapshots (sampled)" in (tmp / "r.html").read_text(),
          "HTML report lacks the snapshot section")
    txt = tmp / "run.txt"
    check(ctrace("convert", out, "-o", txt).returncode == 0, "convert to text failed")
    check(txt.read_text().count("go_snapshot #") == len(ss), "text output: one line per snapshot")

    # Perfetto: counter tracks under the process, described as sampled.
    pf = tmp / "run.pftrace"
    check(ctrace("convert", out, "-o", pf).returncode == 0, "convert to perfetto failed")
    check_counter_tracks(pf, gp.tgid, last)


def check_counter_tracks(pf, tgid, last):
    cls = check_perfetto.packet_class()
    tracks, values = {}, {}
    for _, pkt in check_perfetto.iter_packets(check_perfetto.read_trace(pf), cls):
        if pkt.HasField("track_descriptor"):
            d = pkt.track_descriptor
            if d.HasField("counter"):
                tracks[d.uuid] = (d.name, d.description, d.parent_uuid)
        elif pkt.HasField("track_event") and pkt.track_event.type == 4:
            values.setdefault(pkt.track_event.track_uuid, []).append(
                pkt.track_event.counter_value)
    names = {n: u for u, (n, _, _) in tracks.items()}
    for n in ("Goroutines running", "Goroutines runnable", "Goroutines waiting"):
        check(n in names, f"no counter track {n!r}; have {sorted(names)}")
    for u, (n, desc, parent) in tracks.items():
        check(desc.startswith("source: sampled"), f"track {n!r} description {desc!r}")
    waiting = values[names["Goroutines waiting"]]
    check(waiting[-1] == sum(1 for e in last["ents"] if e["status"] == 4),
          f"last 'Goroutines waiting' value {waiting[-1]}")
    check(any(n.startswith("Goroutines waiting: chan_recv") for n in names),
          f"no per-kind waiting track: {sorted(names)}")


def test_gosnap_1_19_plain(tmp):
    check_snap_run(tmp, "1.19", "plain")


def test_gosnap_1_19_stripped(tmp):
    check_snap_run(tmp, "1.19", "stripped")


def test_gosnap_1_24_plain(tmp):
    check_snap_run(tmp, "1.24", "plain")


def test_gosnap_1_24_stripped(tmp):
    check_snap_run(tmp, "1.24", "stripped")


def test_gosnap_attach_pid(tmp):
    """-p on a running program: goroutines blocked before the attach are in
    every snapshot, with the right reasons."""
    need_root()
    prog = build("1.24", "plain", "manyblocked")
    p = spawn([str(prog), "30", "4000"], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while "ready" not in lines:
            line = p.stdout.readline()
            check(line, "program ended before 'ready'")
            lines.append(line.strip())
        ids = printed_ids("\n".join(lines))
        out = tmp / "attach.ctr"
        r = ctrace("-p", p.pid, "-d", "1s", "--snapshot-interval", "200ms", "-o", out,
                   timeout=60)
        check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr!r}")
    finally:
        p.wait(30)
    check(p.returncode == 0, f"program exited {p.returncode} after being snapshotted")
    ss = snapshots(out)[p.pid]
    check(4 <= len(ss) <= 7, f"{len(ss)} snapshots in 1 s at 200 ms")
    for s in ss:
        goids = {e["goid"] for e in s["ents"]}
        check(set(ids.values()) <= goids, f"snapshot {s['seq']} lacks {ids}")


def test_gosnap_busy_program(tmp):
    """A program switching goroutines all the time (workerpool): snapshots
    catch goroutines running and runnable, every entry passes the checks the
    collector claims, and the program's output is unchanged."""
    need_root()
    prog = build("1.24", "plain", "workerpool")
    # Sampled mode keeps the pool at full speed: about a second of work.
    args = [prog, 4, 3000000]
    plain = run(args, timeout=120)
    out = tmp / "busy.ctr"
    r = ctrace("--goroutines", "sampled", "--snapshot-interval", "20ms", "-o", out, "--", *args,
               timeout=120)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr!r}")
    check(r.stdout == plain.stdout, f"output changed: {r.stdout!r} vs {plain.stdout!r}")
    gp = ctrlib.load(out).go_proc()
    ss = snapshots(out)[gp.tgid]
    check(len(ss) >= 5, f"only {len(ss)} snapshots of a busy program")
    seen = set()
    for s in ss:
        goids = [e["goid"] for e in s["ents"]]
        check(goids == sorted(set(goids)), f"snapshot {s['seq']}: goids not unique and sorted")
        for e in s["ents"]:
            check(e["goid"] > 0 and e["status"] in (1, 2, 3, 4, 8, 9),
                  f"snapshot {s['seq']}: implausible entry {e}")
            if gp.func(e["startpc"]) == "main.worker":
                seen.add(e["status"])
    check(seen & {1, 2}, f"main.worker never seen running or runnable (states {seen})")


# ---- no root needed ----

def test_gosnap_validator(tmp):
    """gosnap_check on crafted g windows: each corruption has its verdict."""
    exe = tmp / "gosnap_check"
    srcs = ["tests/go/gosnap_check.c", "user/go/gosnap.c", "user/go/go_offsets_table.c",
            "user/capture/capture_write.c", "user/capture/codec.c", "user/lib/output.c",
            "user/lib/termesc.c", "user/lib/util.c"]
    r = run(["cc", "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
             "-Wno-missing-field-initializers", "-D_GNU_SOURCE", "-Iuser", "-I.", "-Ibuild",
             *srcs, "-lz", "-lzstd", "-o", exe], cwd=ROOT, timeout=120)
    check(r.returncode == 0, f"build failed: {r.stderr}")
    cap = tmp / "take.ctr"
    r = run([exe, cap, 3000], timeout=60)
    check(r.returncode == 0, "validator checks failed:\n" +
          "\n".join(l for l in r.stdout.splitlines() if not l.startswith("PASS")))
    check(re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M), r.stdout[-300:])
    # The snapshot it took of its own fake goroutines: chunked, in goid order.
    recs = [(flags, SNAP_HDR.unpack_from(raw, p + 24))
            for raw in blocks(cap)[1] for p, ts, typ, size, flags, tgid in records(raw)
            if typ == REC_GO_SNAP]
    check([(f, h[2], h[1]) for f, h in recs] == [(FIRST, 0, 1024), (0, 1, 1024), (LAST, 2, 897)],
          f"chunks (flags, chunk, count): {[(f, h[2], h[1]) for f, h in recs]}")
    check(all(h[6] == 2945 and h[7] == 33 and h[8] == 12 and h[9] == 10 for f, h in recs),
          "chunk totals (total, implausible, unreadable, skipped) differ")
    (ss,) = snapshots(cap).values()
    goids = [e["goid"] for e in ss[0]["ents"]]
    check(goids == sorted(goids) and 5 not in goids and 1 in goids,
          "entries not in goid order, or the duplicated goid 5 kept")


def synthetic_capture(path, chunks):
    """A minimal capture: meta, a Go process (go1.24), then chunks, each
    (flags, seq, chunk, entries) or raw bytes for a damaged record."""
    def hdr(ts, typ, size, flags=0, tgid=4242):
        return ctrlib.HDR.pack(ts, typ, size, 0, flags, tgid, tgid)

    raw = bytearray()
    for k, v in (("release", "6.1.0"), ("ncpus", "2"), ("machine", "x86_64"),
                 ("target", "pid 4242"),
                 ("start_ts", "1000")):
        body = k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0" * (-(24 + len(body)) % 8)
        raw += hdr(1000, REC_META, 24 + len(body)) + body
    body = struct.pack("<iiQ32s256s", 1, 24, 0, b"go1.24.4", b"/bin/x")
    raw += hdr(1000, REC_GO_PROC, 24 + len(body)) + body
    ts = 2000
    for c in chunks:
        if isinstance(c, (bytes, bytearray)):
            raw += c
            continue
        flags, seq, chunk, ents = c
        body = SNAP_HDR.pack(seq, len(ents), chunk, 5_000_000_000, 10, 40, len(ents), 1, 0, 2)
        for goid, status, reason in ents:
            body += SNAP_ENT.pack(0xc000000000 + goid * 512, goid, 0, 0x401000, 0x402000,
                                  status, reason, 0)
        raw += hdr(ts, REC_GO_SNAP, 24 + len(body), flags) + body
        ts += 100_000_000 if flags & LAST else 0
    write_capture(path, ctrlib.CTR_MAGIC + struct.pack("<II", 1, 16), [raw])
    return raw


def test_gosnap_reader_damaged_records(tmp):
    """Snapshot records cut short, with a count past their size, chunks
    missing or out of order: readers skip or drop them, never crash, and
    count the snapshots they had to drop."""
    ok = [(FIRST | LAST, 1, 0, [(1, 4, 19), (7, 4, 14), (8, 2, 0)])]
    bad_count = bytearray(ctrlib.HDR.pack(2500, REC_GO_SNAP, 64 + 48, 0, FIRST | LAST, 4242, 4242)
                          + SNAP_HDR.pack(3, 1000, 0, 0, 0, 0, 1000, 0, 0, 0) + b"\0" * 48)
    short = bytearray(ctrlib.HDR.pack(2600, REC_GO_SNAP, 32, 0, FIRST | LAST, 4242, 4242)
                      + b"\0" * 8)
    chunks = ok + [
        bytes(bad_count), bytes(short),
        (FIRST, 4, 0, [(1, 4, 19)]),          # its LAST chunk never comes
        (FIRST, 5, 0, [(1, 4, 19)]),          # chunk 1 missing, then chunk 2
        (LAST, 5, 2, [(9, 4, 19)]),
        (FIRST | LAST, 6, 0, [(1, 4, 19), (9, 1, 0)]),
    ]
    cap = tmp / "damaged.ctr"
    synthetic_capture(cap, chunks)
    r = ctrace("report", "--json", cap)
    check(r.returncode == 0, f"report exited {r.returncode}: {r.stderr!r}")
    sec = json.loads(r.stdout).get("goroutine_snapshots")
    check(sec and sec["snapshots"] == 2 and sec["incomplete"] == 2,
          f"want 2 complete and 2 incomplete snapshots: {sec!r}")
    check(sec["implausible"] == 2, f"implausible counts not summed: {sec!r}")
    p = sec["processes"][0]
    check(p["appeared"] == 1 and p["ended"] == 2, f"appeared/ended: {p!r}")
    for fmt in ("pftrace", "json", "txt", "gotrace"):
        r = ctrace("convert", cap, "-o", tmp / f"d.{fmt}")
        check(r.returncode == 0 and r.returncode < 128,
              f"convert to {fmt} exited {r.returncode}: {r.stderr!r}")
    # Random damage to the snapshot records' bytes and sizes: no reader crashes.
    header, (raw,) = blocks(cap)
    offs = [p for p, ts, typ, size, flags, tgid in records(raw) if typ == REC_GO_SNAP]
    import random
    rnd = random.Random(7)
    for i in range(40):
        b = bytearray(raw)
        at = rnd.choice(offs)
        for _ in range(8):
            b[at + rnd.randrange(10, 120)] = rnd.randrange(256)
        if i % 4 == 0:  # also cut the block short inside a snapshot record
            b = b[:at + rnd.randrange(1, 100)]
        fuzz = tmp / f"fuzz{i}.ctr"
        write_capture(fuzz, header, [b])
        for args in (("report", "--json", fuzz), ("convert", fuzz, "-o", tmp / "f.pftrace")):
            r = ctrace(*args)
            check(r.returncode in (0, 1, 7), f"{args[0]} of fuzzed capture {i} exited "
                  f"{r.returncode}: {r.stderr[-300:]!r}")


def test_gosnap_bad_interval(tmp):
    for bad in ("5ms", "abc", "-1s", ""):
        r = ctrace("--snapshot-interval", bad, "-o", tmp / "x.ctr", "--", "true")
        check(r.returncode == 2, f"--snapshot-interval {bad!r} exited {r.returncode}")
        check_one_error_line(r, f"--snapshot-interval {bad!r}")


# ---- memory ----

def rss_anon_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise Fail(f"no RssAnon for {pid}")


def test_gosnap_memory_10k(tmp):
    """10,000 goroutines snapshotted every 100 ms for 10 s: the collector's
    anonymous memory stays flat once the first snapshots are taken."""
    need_root()
    prog = build("1.24", "plain", "manyblocked")
    p = spawn([str(prog), "10000", "14000"], stdout=subprocess.PIPE, text=True)
    try:
        while "ready" not in p.stdout.readline():
            check(p.poll() is None, "program ended before 'ready'")
        rec = Recorder("-p", p.pid, "-d", "10s", "--snapshot-interval", "100ms",
                       "-o", tmp / "big.ctr").wait_recording()
        time.sleep(2)
        early = rss_anon_kb(rec.proc.pid)
        samples = []
        for _ in range(6):
            time.sleep(1)
            if rec.proc.poll() is None:
                samples.append(rss_anon_kb(rec.proc.pid))
        rec.wait(60)
        rec.check_ok()
    finally:
        p.kill()
        p.wait(30)
    grow = max(samples) - early
    m = re.search(r"goroutine snapshots \(sampled, every 100 ms\): (\d+), (\d+) goroutines.*"
                  r"read ([\d.]+) ms avg, ([\d.]+) ms max", rec.stderr)
    check(m, f"no snapshot summary: {rec.stderr!r}")
    n, total = int(m.group(1)), int(m.group(2))
    print(f"    RssAnon {early} kB after 2 s, max {max(samples)} kB later (+{grow} kB); "
          f"{n} snapshots of {total // max(n, 1)} goroutines, read {m.group(3)} ms avg, "
          f"{m.group(4)} ms max")
    check(n >= 70, f"{n} snapshots in 10 s at 100 ms")
    check(total // n >= 10000, f"{total // n} goroutines per snapshot, want >= 10000")
    check(grow < 4096, f"collector RssAnon grew {grow} kB from {early} kB while snapshotting")
