"""Hostile captures (issue 12): crafted files that once crashed the reader or
made it allocate hundreds of MiB. Each must give exit 7 (2 for diff) or a
valid output, no crash, and a max RSS under 100 MB."""

import os
import re
import struct
import zlib

from harness import CTRACE, check, check_one_error_line, died_of_signal, need_ctrace, run
import ctrlib
from ctrlib import HDR, PROCESS_FORK, REC_TASK_S, SCHED_SWITCH

# Under ASan (tests/fuzz/test_asan.sh) the shadow memory and quarantine
# dominate RSS: only the plain build's RSS is checked.
RSS_MAX_KB = 100 * 1024 if not os.environ.get("CTRACE_SANITIZED") else 1 << 40
FORMATS = ("pftrace", "json", "txt", "gotrace")


def rec(rtype, body, ts=1, cpu=0, tid=0, tgid=0, flags=0, pad=True):
    size = HDR.size + len(body)
    if pad:
        body += b"\0" * (-size % 8)
        size = HDR.size + len(body)
    return HDR.pack(ts, rtype, size, cpu, flags, tid, tgid) + body


def meta(ncpus=2):
    out = b""
    for k, v in (("sysname", "Linux"), ("release", "6.1"), ("machine", "x86_64"),
                 ("ncpus", str(ncpus)), ("start_ts", "1"), ("target", "system")):
        out += rec(ctrlib.REC_META, k.encode() + b"\0" + v.encode() + b"\0")
    return out


def switch(ts, cpu, prev, nxt):
    return rec(ctrlib.EV_SCHED_SWITCH,
               SCHED_SWITCH.pack(prev, prev, nxt, nxt, 120, 120, 1, b"a", b"b"),
               ts=ts, cpu=cpu, tid=prev, tgid=prev)


def fork(ts, parent, child):
    return rec(ctrlib.EV_PROCESS_FORK,
               PROCESS_FORK.pack(parent, parent, child, child, 0, b"child"),
               ts=ts, tid=parent, tgid=parent)


def write(tmp, name, raws):
    p = tmp / name
    ctrlib.write_capture(p, raws)
    return p


def timed(args, timeout=120):
    """run() under /usr/bin/time -v: (result, max RSS in kB)."""
    r = run(["/usr/bin/time", "-v", CTRACE, *args], timeout=timeout)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    check(m, f"no RSS from time -v: {r.stderr[-500:]!r}")
    r.stderr = "".join(l for l in r.stderr[:r.stderr.find("\tCommand being timed")]
                       .splitlines(True) if not l.startswith("Command "))
    return r, int(m.group(1))


def check_hostile(tmp, cap, want_fail=False):
    """Every converter, report and diff on cap: a clean outcome and bounded RSS."""
    need_ctrace()
    runs = [("convert", cap, "-o", tmp / f"o.{ext}") for ext in FORMATS]
    runs += [("convert", cap, "--pprof-out", tmp / "pp", "-o", tmp / "o2.json"),
             ("report", cap, "--json"), ("diff", cap, cap)]
    for args in runs:
        r, rss = timed(args)
        what = f"{cap.name}: {args[0]} {args[-1]}"
        check(not died_of_signal(r.returncode), f"{what}: crashed ({r.returncode}) {r.stderr!r}")
        check("Sanitizer" not in r.stderr, f"{what}: sanitizer report {r.stderr!r}")
        bad = 2 if args[0] == "diff" else 7
        ok = (bad,) if want_fail else (0, 1, bad)
        check(r.returncode in ok, f"{what}: exit {r.returncode}, want {ok}: {r.stderr!r}")
        if r.returncode == bad:
            check_one_error_line(r, what)
        check(rss < RSS_MAX_KB, f"{what}: max RSS {rss} kB (limit {RSS_MAX_KB})")
    return rss


def test_hostile_fork_cmdline_bomb(tmp):
    """One 64 KiB command line, then thousands of forks of its owner: each
    child used to get its own copy (189 MiB from an 18.8 KB file)."""
    cmd = (b"x" * 1000 + b"\0") * 65
    task = rec(ctrlib.REC_TASK, REC_TASK_S.pack(0, 0, b"big", len(cmd)) + cmd, tid=100, tgid=100)
    forks = b"".join(fork(10 + i, 100, 1000 + i) for i in range(3000))
    check_hostile(tmp, write(tmp, "forkbomb.ctr", [meta() + task, forks]))


def test_hostile_fork_parent_across_insert(tmp):
    """Fork records whose parent is new and whose child's insert grows the
    task table (the use-after-free ASan found), a parent forking itself, and
    a child of tid 0."""
    cmd = b"parent\0arg\0"
    body = rec(ctrlib.REC_TASK, REC_TASK_S.pack(0, 0, b"p", len(cmd)) + cmd, tid=7, tgid=7)
    body += fork(5, 7, 7) + fork(6, 0, 9)
    body += b"".join(fork(10 + i, 20000 + i, 40000 + i) for i in range(5000))
    check_hostile(tmp, write(tmp, "forkuaf.ctr", [meta() + body]))


def test_hostile_no_watermarks(tmp):
    """Many 1 MiB blocks and no watermark: the reorder heap once kept every
    block (201 MiB from a 214 KB file); it is now bounded."""
    raws = [meta()]
    n = ctrlib.BLOCK_RAW_MAX // 88
    for b in range(150):
        # Each block's last event is older than everything after it, so no
        # block can be released early by time alone.
        raws.append(switch(10**9 + b, 1, 1, 2) * (n - 1) + switch(100 + b, 0, 2, 1))
    cap = write(tmp, "nowm.ctr", raws)
    check(cap.stat().st_size < 1 << 20, f"crafted file {cap.stat().st_size} bytes")
    r, rss = timed(("convert", cap, "-o", tmp / "o.json"))
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    check(rss < RSS_MAX_KB, f"max RSS {rss} kB")


def test_hostile_ncpus(tmp):
    """A 200-byte capture that claims 4M CPUs sized report arrays (1.4 GB)."""
    cap = write(tmp, "cpus.ctr", [meta(ncpus=4 << 20) + switch(5, 0, 1, 2)])
    check_hostile(tmp, cap, want_fail=True)
    r = run([CTRACE, "report", cap])
    check("CPUs" in r.stderr, f"reason does not name the CPU count: {r.stderr!r}")


def test_hostile_misaligned_record(tmp):
    """A record whose size is not a multiple of 8 misaligned all after it."""
    odd = rec(ctrlib.EV_SCHED_SWITCH, SCHED_SWITCH.pack(1, 1, 2, 2, 0, 0, 1, b"a", b"b") + b"\1\2\3",
              ts=4, pad=False)
    cap = write(tmp, "odd.ctr", [meta() + switch(3, 0, 1, 2) + odd + switch(6, 1, 2, 1)])
    check_hostile(tmp, cap)


def test_hostile_many_tasks_and_cpus(tmp):
    """Records on every CPU number and many distinct tasks: linear lookups
    per record made these quadratic."""
    evs = b"".join(switch(10 + i, i % 65536, 1 + i, 2 + i) for i in range(40000))
    cap = write(tmp, "wide.ctr", [meta(ncpus=4096), evs])
    r, rss = timed(("convert", cap, "-o", tmp / "o.pftrace"), timeout=60)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    check(rss < RSS_MAX_KB, f"max RSS {rss} kB")


def test_hostile_cut_block_counted_once(tmp):
    """One damaged block is one truncated block, not two (the second pass
    used to count it again)."""
    raws = [meta() + switch(3, 0, 1, 2), switch(9, 0, 2, 1)]
    cap = write(tmp, "cut.ctr", raws)
    data = cap.read_bytes()
    cap.write_bytes(data[:-5])
    r = run([CTRACE, "report", cap, "--json"])
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    m = re.search(r'"truncated_blocks": *(\d+)', r.stdout)
    check(m and m.group(1) == "1", f"truncated_blocks: {m and m.group(1)}")


def test_hostile_zlib_bomb_block(tmp):
    """A block header that claims more than a block may hold is damage."""
    z = zlib.compress(b"\0" * 4096)
    data = ctrlib.CTR_MAGIC + struct.pack("<II", 1, 16)
    raw = meta()
    zr = zlib.compress(raw)
    data += struct.pack("<IIII", ctrlib.BLOCK_MAGIC, len(raw), len(zr), 0) + zr
    data += struct.pack("<IIII", ctrlib.BLOCK_MAGIC, 1 << 30, len(z), 0) + z
    cap = tmp / "bomb.ctr"
    cap.write_bytes(data)
    check_hostile(tmp, cap)


def test_hostile_many_syscall_processes(tmp):
    """Syscalls of 150,000 distinct processes: pprof looked each record's
    process up in a list (quadratic: minutes); now a set."""
    import time
    evs = b"".join(rec(ctrlib.EV_SYS_ENTER, ctrlib.SYS_ENTER.pack(0, 0, 0, 0, 0, 0, 0),
                       ts=10 + i, tid=100 + i, tgid=100 + i) for i in range(150000))
    per = ctrlib.BLOCK_RAW_MAX // 80 * 80
    cap = write(tmp, "sysprocs.ctr", [meta()] + [evs[i:i + per] for i in range(0, len(evs), per)])
    t0 = time.monotonic()
    r, rss = timed(("convert", cap, "--pprof-out", tmp / "pp", "-o", tmp / "o.txt"))
    took = time.monotonic() - t0
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    check(took < 8, f"took {took:.1f} s (quadratic: about 15 s here)")
    check(rss < RSS_MAX_KB, f"max RSS {rss} kB")


def test_hostile_many_go_processes(tmp):
    """More Go processes than a reader keeps: refused in one line."""
    procs = b"".join(rec(ctrlib.REC_GO_PROC, ctrlib.REC_GO_PROC_S.pack(1, 19, 0, b"go1.19", b"/x"),
                         tgid=1000 + i) for i in range(2000))
    check_hostile(tmp, write(tmp, "goprocs.ctr", [meta() + procs]), want_fail=True)
