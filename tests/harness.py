"""Helpers shared by the ctrace-bpf tests (run by tests/run_tests.py).

A test is a function test_*(tmp) in a tests/test_*.py module; tmp is a fresh
pathlib.Path directory. It fails by raising (assert or Fail), skips by raising
Skip. Processes started through spawn()/Recorder and mounts made through
mount_tmpfs() are cleaned up by cleanup() after every test.
"""

import gzip
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BUILD = ROOT / "build" / "tests"
CTRACE = Path(os.environ.get("CTRACE_BPF", ROOT / "ctrace-bpf"))
PROTO_DIR = TESTS / "proto"
PROTO_FILE = "ctrace_perfetto.proto"

sys.path.insert(0, str(TESTS))


class Skip(Exception):
    pass


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


_procs = []
_mounts = []


def workload(name):
    p = BUILD / name
    if not p.exists():
        raise Fail(f"workload {p} not built (tests/run.sh builds it)")
    return str(p)


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root")


def need_ctrace():
    if not CTRACE.exists():
        raise Fail(f"{CTRACE} not built")


def spawn(argv, **kw):
    """Popen that cleanup() kills (by pid) if it is still running."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen([str(a) for a in argv], **kw)
    _procs.append(p)
    return p


def cleanup():
    while _procs:
        p = _procs.pop()
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                if f:
                    f.close()
            except Exception:
                pass
    while _mounts:
        m = _mounts.pop()
        subprocess.run(["umount", "-l", str(m)], stderr=subprocess.DEVNULL)


def mount_tmpfs(path, opts):
    need_root()
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip(f"cannot mount tmpfs: {r.stderr.strip()}")
    _mounts.append(path)
    return path


def run(argv, timeout=60, **kw):
    """Runs to completion; returns CompletedProcess with text stdout/stderr."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    try:
        return subprocess.run([str(a) for a in argv], capture_output=True,
                              text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise Fail(f"timed out after {timeout}s: {' '.join(map(str, argv))}; "
                   f"stderr: {e.stderr!r}")


def ctrace(*args, timeout=60, **kw):
    need_ctrace()
    return run([CTRACE, *args], timeout=timeout, **kw)


def died_of_signal(rc):
    return rc < 0 or rc >= 128


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def check_one_error_line(r, what):
    """The contract: an error is one line on stderr starting 'ctrace-bpf: '."""
    lines = error_lines(r.stderr)
    check(len(lines) == 1 and lines[0].startswith("ctrace-bpf: "),
          f"{what}: want one 'ctrace-bpf: ' line on stderr, got {r.stderr!r}")
    return lines[0]


class Recorder:
    """ctrace-bpf running in the background, stderr collected by a thread."""

    def __init__(self, *args, cwd=None, stdin=subprocess.DEVNULL):
        need_root()
        need_ctrace()
        self.args = [str(a) for a in args]
        self.lines = []
        self._recording = threading.Event()
        self._lock = threading.Lock()
        self.proc = spawn([CTRACE, *self.args], stdin=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=cwd, text=True, bufsize=1)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        self.recording_at = None

    def _read(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
            if "recording" in line and not self._recording.is_set():
                self.recording_at = time.monotonic()
                self._recording.set()

    @property
    def stderr(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_recording(self, timeout=30):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self._recording.wait(0.05):
                return self
            if self.proc.poll() is not None:
                self._t.join(5)
                raise Fail(f"ctrace-bpf {' '.join(self.args)} exited "
                           f"{self.proc.returncode} before recording: "
                           f"{self.stderr!r}")
        raise Fail(f"no 'recording' line within {timeout}s: {self.stderr!r}")

    def stop(self, sig=signal.SIGINT, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout=60):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._t.join(5)
            raise Fail(f"ctrace-bpf {' '.join(self.args)} did not exit within "
                       f"{timeout}s; stderr: {self.stderr!r}")
        self._t.join(10)
        self.out = self.proc.stdout.read()
        return self.proc.returncode

    def check_ok(self, rc=None):
        rc = self.proc.returncode if rc is None else rc
        check(rc == 0, f"ctrace-bpf {' '.join(self.args)} exited {rc}: "
              f"{self.stderr!r}")


def record_during(out, fn, *extra, sig=signal.SIGINT):
    """Records system-wide (or with extra args) into out while fn() runs;
    stops with sig and returns (fn's result, recorder)."""
    rec = Recorder("-o", out, *extra)
    rec.wait_recording()
    res = fn()
    time.sleep(0.1)
    rc = rec.stop(sig)
    rec.check_ok(rc)
    check(Path(out).exists() and Path(out).stat().st_size > 0,
          f"{out} missing or empty after rc 0; stderr: {rec.stderr!r}")
    return res, rec


def convert(ctr, out, *extra):
    r = ctrace("convert", ctr, "-o", out, *extra, timeout=120)
    check(r.returncode == 0, f"convert {ctr} -> {out} exited {r.returncode}: "
          f"{r.stderr!r}")
    return out


def gunzip_to(src, dst):
    with gzip.open(src, "rb") as f:
        data = f.read()
    Path(dst).write_bytes(data)
    return dst


def parse_kv(line):
    """'x pid=1 tid=2' -> {'pid': 1, 'tid': 2}"""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def unused_pid():
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(pid_max - 1, 1, -1):
        if not Path(f"/proc/{pid}").exists():
            return pid
    raise Skip("no unused pid")
