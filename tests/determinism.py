#!/usr/bin/python3
"""Same input, same bytes: converts captures to every output and compares.

    determinism.py DIR_OR_CTR...               each capture twice with ./ctrace-bpf
    determinism.py --against OLD_BIN DIR...    ./ctrace-bpf against OLD_BIN

Every output that ctrace-bpf derives from a capture is produced twice, by
separate processes, and compared byte for byte, together with the exit status
and stderr: Perfetto (compact and full), Chrome JSON (plain and .gz), text,
go tool trace, the pprof profiles, report as text, JSON and HTML, and diff of
the capture against itself. With --against the two runs use different
binaries, which checks that a refactoring changed no output. run.sh runs the
first form on the captures that the Python tests kept (run_tests.py copies
them into build/tests/captures); the last line is "determinism: N passed,
N failed", one per capture.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, argv after the binary, env overrides, files whose bytes count).
# IN is the capture, OUT the output directory of one run.
OUTPUTS = [
    ("perfetto", ["convert", "IN", "-o", "OUT/t.pftrace"], {}, ["t.pftrace"]),
    ("perfetto-full", ["convert", "IN", "-o", "OUT/f.pftrace"],
     {"CTRACE_PERFETTO_COMPACT": "0"}, ["f.pftrace"]),
    ("json", ["convert", "IN", "-o", "OUT/t.json"], {}, ["t.json"]),
    ("json.gz", ["convert", "IN", "-o", "OUT/t.json.gz"], {}, ["t.json.gz"]),
    ("text", ["convert", "IN", "-o", "OUT/t.txt"], {}, ["t.txt"]),
    ("gotrace", ["convert", "IN", "-o", "OUT/t.gotrace"], {}, ["t.gotrace"]),
    ("pprof", ["convert", "IN", "--pprof-out", "OUT/pp"], {}, ["pp/*"]),
    ("report", ["report", "IN", "--top", "0"], {}, []),
    ("report-json", ["report", "IN", "--json"], {}, []),
    ("report-html", ["report", "IN", "--html", "OUT/r.html"], {}, ["r.html"]),
    ("diff", ["diff", "IN", "IN", "--all"], {}, []),
]


def run_one(binary, cap, outdir, argv, env):
    outdir.mkdir(parents=True, exist_ok=True)
    args = [str(cap) if a == "IN" else a.replace("OUT", str(outdir)) for a in argv]
    e = dict(os.environ)
    e.pop("CTRACE_PERFETTO_COMPACT", None)
    e.update(env)
    p = subprocess.run([str(binary)] + args, env=e, capture_output=True, timeout=300,
                       cwd=outdir)
    # Paths differ between the two runs; everything else must not.
    err = p.stderr.replace(str(outdir).encode(), b"OUT")
    return p.returncode, p.stdout.replace(str(outdir).encode(), b"OUT"), err


def digest(outdir, patterns):
    h = hashlib.sha256()
    for pat in patterns:
        for f in sorted(outdir.glob(pat)):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def compare(cap, bin_a, bin_b, work):
    """Returns the list of outputs that differ between the two runs."""
    bad = []
    for name, argv, env, files in OUTPUTS:
        res = []
        for i, b in enumerate((bin_a, bin_b)):
            d = work / f"{name}.{i}"
            rc, out, err = run_one(b, cap, d, argv, env)
            res.append((rc, out, err, digest(d, files)))
        if res[0] != res[1]:
            what = [k for k, x, y in zip(("status", "stdout", "stderr", "files"),
                                         res[0], res[1]) if x != y]
            bad.append(f"{name} ({', '.join(what)})")
        for i in (0, 1):
            shutil.rmtree(work / f"{name}.{i}", ignore_errors=True)
    return bad


def captures(paths):
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(p.glob("*.ctr"))
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "ctrace-bpf"))
    ap.add_argument("--against", help="the other binary (default: --bin again)")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    a.bin = str(Path(a.bin).resolve())
    other = str(Path(a.against).resolve()) if a.against else a.bin
    npass = nfail = 0
    with tempfile.TemporaryDirectory(prefix="ctrace-determinism-") as t:
        for cap in captures(a.paths):
            bad = compare(cap.resolve(), other, a.bin, Path(t))
            if bad:
                nfail += 1
                print(f"FAIL determinism[{cap.name}]: differs: {'; '.join(bad)}", flush=True)
            else:
                npass += 1
                print(f"PASS determinism[{cap.name}]", flush=True)
    print(f"determinism: {npass} passed, {nfail} failed")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
