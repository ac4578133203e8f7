#!/usr/bin/python3
"""Runs the test_* functions of tests/test_*.py (in file order; a function
taking one argument gets a fresh temporary directory as a pathlib.Path),
one line per test:

    PASS name (1.2s)
    FAIL name: reason
    SKIP name: reason

and as the last line "python: N passed, N failed, N skipped". Exit status 1
if any failed.

Usage: run_tests.py [-k SUBSTRING]... [-v] [--keep] [MODULE.py ...]
  -k      run only tests whose name contains SUBSTRING (any of them)
  -v      print a traceback for failures
  --keep  keep each test's temporary directory (printed) instead of removing it
"""

import argparse
import importlib.util
import inspect
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import harness  # noqa: E402

PER_TEST_TIMEOUT = int(os.environ.get("CTRACE_TEST_TIMEOUT", "180"))


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout(f"test took longer than {PER_TEST_TIMEOUT}s")


def discover(files):
    if not files:
        files = sorted(TESTS.glob("test_*.py"))
    tests = []
    for f in files:
        f = Path(f).resolve()
        spec = importlib.util.spec_from_file_location(f.stem, f)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:
            tests.append((f.stem, None, f"import failed: {e!r}"))
            continue
        fns = [(n, fn) for n, fn in vars(mod).items()
               if n.startswith("test_") and inspect.isfunction(fn)
               and fn.__module__ == mod.__name__]
        fns.sort(key=lambda p: p[1].__code__.co_firstlineno)
        tests += [(n, fn, None) for n, fn in fns]
    return tests


CAPTURES = TESTS.parent / "build" / "tests" / "captures"
MAX_CAPTURES = 120
MAX_CAPTURE_BYTES = 16 << 20


def keep_captures(tmp, name):
    """Copies the captures a test recorded into build/tests/captures, where
    run.sh's determinism pass (tests/determinism.py) converts them again."""
    CAPTURES.mkdir(parents=True, exist_ok=True)
    have = len(list(CAPTURES.glob("*.ctr")))
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    for f in sorted(Path(tmp).rglob("*.ctr")):
        if have >= MAX_CAPTURES:
            return
        if f.is_file() and not f.is_symlink() and f.stat().st_size <= MAX_CAPTURE_BYTES:
            shutil.copyfile(f, CAPTURES / f"{safe}-{f.name}")
            have += 1


def short(e):
    s = str(e) or type(e).__name__
    s = " ".join(s.split())
    return s if len(s) <= 600 else s[:600] + "..."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()

    signal.signal(signal.SIGALRM, _alarm)
    shutil.rmtree(CAPTURES, ignore_errors=True)
    npass = nfail = nskip = 0
    for name, fn, err in discover(a.files):
        if a.k and not any(k in name for k in a.k):
            continue
        if fn is None:
            print(f"FAIL {name}: {err}", flush=True)
            nfail += 1
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"ctrace-{name}-"))
        os.chmod(tmp, 0o755)
        t0 = time.monotonic()
        status, reason = "PASS", ""
        signal.alarm(PER_TEST_TIMEOUT)
        try:
            if inspect.signature(fn).parameters:
                fn(tmp)
            else:
                fn()
        except harness.Skip as e:
            status, reason = "SKIP", short(e)
        except Exception as e:
            status = "FAIL"
            reason = short(e) if not isinstance(e, AssertionError) or str(e) \
                else "assertion failed: " + traceback.format_exc(limit=-1).strip().splitlines()[-2].strip()
            if a.v:
                traceback.print_exc()
        finally:
            signal.alarm(0)
            harness.cleanup()
        dt = time.monotonic() - t0
        if status == "PASS":
            npass += 1
            print(f"PASS {name} ({dt:.1f}s)", flush=True)
        elif status == "SKIP":
            nskip += 1
            print(f"SKIP {name}: {reason}", flush=True)
        else:
            nfail += 1
            print(f"FAIL {name}: {reason} ({dt:.1f}s)", flush=True)
        keep_captures(tmp, name)
        if a.keep or (status == "FAIL" and os.environ.get("CTRACE_KEEP_FAILED")):
            print(f"     kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"python: {npass} passed, {nfail} failed, {nskip} skipped", flush=True)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
