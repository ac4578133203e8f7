"""Error paths: exit codes and the one-line 'ctrace-bpf: ' messages."""

import os
import re
import threading
import time

from harness import (CTRACE, Recorder, check, check_one_error_line,
                     ctrace, died_of_signal, mount_tmpfs, need_ctrace,
                     need_root, record_during, run, spawn, unused_pid,
                     workload)
import traces


def usage_error(tmp, *args):
    r = ctrace(*args, timeout=30, cwd=tmp)
    check(r.returncode == 2, f"{args}: exit {r.returncode}, want 2: {r.stderr!r}")
    check_one_error_line(r, str(args))
    check(not list(tmp.glob("ctrace-*")) and not (tmp / "x.pftrace").exists(),
          f"{args}: left a file behind")


def test_err_bad_flag(tmp):
    usage_error(tmp, "--no-such-flag", "-o", tmp / "x.pftrace")


def test_err_bad_duration(tmp):
    usage_error(tmp, "-d", "5x", "-o", tmp / "x.pftrace")


def test_err_bad_duration_empty_unit(tmp):
    usage_error(tmp, "-d", "ms", "-o", tmp / "x.pftrace")


def test_err_bad_format(tmp):
    usage_error(tmp, "--format", "xml", "-o", tmp / "x.pftrace")


def test_err_bad_pid_syntax(tmp):
    usage_error(tmp, "-p", "12abc", "-o", tmp / "x.pftrace")


def test_err_convert_bad_format(tmp):
    usage_error(tmp, "convert", tmp / "in.ctr", "-o", tmp / "x.pftrace",
                "--format", "xml")


def test_err_missing_pid(tmp):
    """-p of a pid that does not exist: exit 4."""
    pid = unused_pid()
    r = ctrace("-p", pid, "-d", "1s", "-o", tmp / "x.pftrace", timeout=60)
    check(r.returncode == 4, f"exit {r.returncode}, want 4: {r.stderr!r}")
    line = check_one_error_line(r, "missing pid")
    check(str(pid) in line, f"message does not name pid {pid}: {line!r}")
    check(not (tmp / "x.pftrace").exists(), "left an output file")


def test_err_missing_pid_in_list(tmp):
    """-p SELF,MISSING: exit 4 as well."""
    pid = unused_pid()
    r = ctrace("-p", f"{os.getpid()},{pid}", "-d", "1s", "-o", tmp / "x.pftrace",
               timeout=60)
    check(r.returncode == 4, f"exit {r.returncode}, want 4: {r.stderr!r}")
    check_one_error_line(r, "missing pid in list")


def test_err_unwritable_proc(tmp):
    r = ctrace("-d", "1s", "-o", "/proc/nonexistent/x.pftrace", timeout=60)
    check(r.returncode == 6, f"exit {r.returncode}, want 6: {r.stderr!r}")
    check_one_error_line(r, "unwritable path")


def test_err_unwritable_readonly_dir(tmp):
    """A read-only filesystem (root ignores directory modes): exit 6."""
    mnt = mount_tmpfs(tmp / "ro", "ro,size=64k")
    r = ctrace("-d", "1s", "-o", mnt / "x.json", timeout=60)
    check(r.returncode == 6, f"exit {r.returncode}, want 6: {r.stderr!r}")
    check_one_error_line(r, "read-only dir")


def test_err_unwritable_missing_dir(tmp):
    r = ctrace("-d", "1s", "-o", tmp / "no" / "such" / "x.ctr", timeout=60)
    check(r.returncode == 6, f"exit {r.returncode}, want 6: {r.stderr!r}")
    check_one_error_line(r, "missing dir")


def test_err_convert_unwritable(tmp):
    ctr = tmp / "a.ctr"
    record_during(ctr, lambda: time.sleep(0.1))
    r = ctrace("convert", ctr, "-o", "/proc/nonexistent/x.pftrace", timeout=60)
    check(r.returncode == 6, f"exit {r.returncode}, want 6: {r.stderr!r}")
    check_one_error_line(r, "convert to unwritable path")


def target_exits(tmp, reap):
    need_root()
    sl = spawn(["sleep", "1"])
    if reap:
        threading.Thread(target=sl.wait, daemon=True).start()
    out = tmp / "t.pftrace"
    rec = Recorder("-p", sl.pid, "-d", "10s", "-o", out)
    rec.wait_recording()
    rc = rec.wait(timeout=40)
    el = time.monotonic() - rec.recording_at
    rec.check_ok(rc)
    check(el < 5, f"took {el:.1f}s: did not stop when the target exited "
          f"({'reaped' if reap else 'zombie, not yet reaped'})")
    check(re.search(r"\bexited\b", rec.stderr), f"no 'exited': {rec.stderr!r}")
    check(out.exists() and out.stat().st_size > 0, "no output kept")
    t = traces.load(out)
    check(t.nswitches > 0, "no sched events kept")
    names = [c.name for c in t.calls(sl.pid)]
    check("exit_group" in names, f"sleep's exit_group missing: {names}")


def test_err_target_exits(tmp):
    """-p target exits mid-trace: exit 0, says so, keeps the data."""
    target_exits(tmp, reap=True)


def test_err_target_exits_zombie(tmp):
    """Same when the target's parent has not reaped it yet (a zombie)."""
    target_exits(tmp, reap=False)


def test_err_not_root(tmp):
    """As an unprivileged user without CAP_BPF/CAP_PERFMON: exit 3."""
    need_root()
    need_ctrace()
    os.chmod(tmp, 0o777)
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", str(CTRACE), "-d", "1s",
             "-o", str(tmp / "x.pftrace")], timeout=60)
    check(r.returncode == 3, f"exit {r.returncode}, want 3: {r.stderr!r}")
    check_one_error_line(r, "not root")
    check(not (tmp / "x.pftrace").exists(), "left an output file")


def test_caps_without_root(tmp):
    """Not root but with CAP_BPF and CAP_PERFMON: records normally."""
    need_root()
    need_ctrace()
    os.chmod(tmp, 0o777)
    out = tmp / "x.json"
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=-all,+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon",
             str(CTRACE), "-d", "500ms", "-o", str(out)], timeout=60)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    t = traces.load(out)
    check(t.nswitches > 0, "no sched events")


def test_err_convert_missing(tmp):
    r = ctrace("convert", tmp / "missing.ctr", "-o", tmp / "x.pftrace")
    check(r.returncode == 7, f"exit {r.returncode}, want 7: {r.stderr!r}")
    check_one_error_line(r, "convert missing")
    check(not (tmp / "x.pftrace").exists(), "left an output file")


def test_err_convert_garbage(tmp):
    bad = tmp / "bad.ctr"
    bad.write_bytes(os.urandom(4096))
    r = ctrace("convert", bad, "-o", tmp / "x.json")
    check(r.returncode == 7, f"exit {r.returncode}, want 7: {r.stderr!r}")
    check_one_error_line(r, "convert garbage")
    check(not (tmp / "x.json").exists(), "left an output file")


def test_err_convert_empty_and_header_only(tmp):
    ctr = tmp / "a.ctr"
    record_during(ctr, lambda: time.sleep(0.1))
    data = ctr.read_bytes()
    for name, blob in (("empty", b""), ("magic", data[:8]), ("short", data[:20])):
        f = tmp / f"{name}.ctr"
        f.write_bytes(blob)
        r = ctrace("convert", f, "-o", tmp / f"{name}.pftrace")
        check(r.returncode == 7, f"{name}: exit {r.returncode}, want 7: {r.stderr!r}")
        check_one_error_line(r, f"convert {name}")


def test_err_convert_truncated(tmp):
    """Truncated mid-block: converts what is intact (exit 0, valid output)
    or fails cleanly (exit 7, one line); never crashes."""
    ctr = tmp / "a.ctr"
    record_during(ctr, lambda: run([workload("pingpong"), 500]))
    data = ctr.read_bytes()
    check(len(data) > 4096, f"capture too small to truncate: {len(data)}")
    outcomes = []
    for frac in (0.3, 0.5, 0.77, 0.99):
        f = tmp / f"t{int(frac * 100)}.ctr"
        f.write_bytes(data[:int(len(data) * frac)])
        for ext in ("pftrace", "json"):
            out = tmp / f"{f.stem}.{ext}"
            r = ctrace("convert", f, "-o", out, timeout=60)
            check(not died_of_signal(r.returncode),
                  f"{f.name}->{ext}: crashed ({r.returncode}): {r.stderr!r}")
            check(r.returncode in (0, 7),
                  f"{f.name}->{ext}: exit {r.returncode}: {r.stderr!r}")
            if r.returncode == 7:
                check_one_error_line(r, f"truncated {frac}")
                check(not out.exists(), "left a partial output file")
            else:
                traces.load(out)  # must parse
            outcomes.append(r.returncode)


def test_err_convert_corrupt_middle(tmp):
    """Bytes flipped inside a block: exit 0 or 7, never a crash."""
    ctr = tmp / "a.ctr"
    record_during(ctr, lambda: run([workload("pingpong"), 500]))
    data = bytearray(ctr.read_bytes())
    n = len(data)
    for pos in (n // 3, n // 2, (2 * n) // 3):
        for i in range(pos, min(pos + 64, n)):
            data[i] ^= 0x5A
    f = tmp / "c.ctr"
    f.write_bytes(bytes(data))
    for ext in ("pftrace", "json"):
        out = tmp / f"c.{ext}"
        r = ctrace("convert", f, "-o", out, timeout=60)
        check(not died_of_signal(r.returncode), f"crashed ({r.returncode}): {r.stderr!r}")
        check(r.returncode in (0, 7), f"exit {r.returncode}: {r.stderr!r}")
        if r.returncode == 0:
            traces.load(out)
        else:
            check_one_error_line(r, "corrupt")


def disk_full(tmp, name):
    mnt = mount_tmpfs(tmp / "small", "size=64k")
    out = mnt / name
    rec = Recorder("-d", "4s", "-o", out)
    rec.wait_recording()
    # Plenty of events: well over 64 KiB of capture in any format.
    r = run([workload("writer"), 200000], timeout=60)
    check(r.returncode == 0, "writer failed")
    rc = rec.wait(timeout=60)
    check(rc == 1, f"{name}: exit {rc}, want 1: {rec.stderr!r}")
    errs = [l for l in rec.lines if l.startswith("ctrace-bpf: ")
            and re.search(r"space|full", l, re.I)]
    check(errs, f"{name}: no clear 'no space' message: {rec.stderr!r}")
    return out, rec


def test_err_disk_full_perfetto(tmp):
    out, _ = disk_full(tmp, "x.pftrace")
    check(not out.exists(), "a partial .pftrace was left under the final name")


def test_err_disk_full_ctr(tmp):
    disk_full(tmp, "x.ctr")
