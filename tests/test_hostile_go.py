"""Hostile targets (issue 12): Go binaries damaged in the places the tracer
reads. Each is traced as a launched command: the target must run exactly as
untraced, the tracer must not crash or stall, and either goroutines are
traced correctly or the fallback to thread level is said in one line."""

import re
import struct
import time
from pathlib import Path

import ctrlib
from harness import check, ctrace, died_of_signal, need_root, run
from test_goroutines import ARGS, GO_ENV, binary

ELF64_SYM = struct.Struct("<IBBHQQ")
STATUS = re.compile(r"ctrace-bpf: (recording |command exited |\d+ events, |wrote |stopped at )")


def sections(data):
    """{name: (offset, size, sh_link, entsize)} of a little-endian ELF64 file."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    out = {}
    for h in hdrs:
        name = data[stroff + h[0]:data.index(b"\0", stroff + h[0])].decode()
        out[name] = (h[4], h[5], h[6], h[9])
    return out


def shift_symbol(data, name, delta):
    """data with .symtab's value of name moved by delta bytes."""
    data = bytearray(data)
    secs = sections(data)
    off, size, _, ent = secs[".symtab"]
    stroff = secs[".strtab"][0]
    want = name.encode() + b"\0"
    for o in range(off, off + size, ent):
        st_name, info, other, shndx, value, sz = ELF64_SYM.unpack_from(data, o)
        if data[stroff + st_name:stroff + st_name + len(want)] == want:
            ELF64_SYM.pack_into(data, o, st_name, info, other, shndx, value + delta, sz)
            return bytes(data)
    raise AssertionError(f"{name} not in .symtab")


def trace_damaged(tmp, name, data):
    """Runs the damaged fileio traced; returns (capture, lines on stderr)."""
    need_root()
    prog = Path(tmp) / name
    prog.write_bytes(data)
    prog.chmod(0o755)
    nwrites, chunk = ARGS["fileio"]
    plain = run([prog, nwrites, chunk], timeout=60, env=GO_ENV)
    out = Path(tmp) / f"{name}.ctr"
    t0 = time.monotonic()
    r = ctrace("--goroutines", "full", "-o", out, "--", prog, nwrites, chunk, timeout=120,
               env=GO_ENV)
    took = time.monotonic() - t0
    check(not died_of_signal(r.returncode), f"{name}: tracer crashed ({r.returncode}): "
          f"{r.stderr[-500:]!r}")
    check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr[-500:]!r}")
    check(took < 30, f"{name}: traced run took {took:.1f} s")
    cap = ctrlib.load(out)
    check(cap.end is not None and cap.end.cmd_status >= 0, f"{name}: no end record")
    check(cap.end.cmd_status == 0 and plain.returncode == 0,
          f"{name}: target status traced {cap.end.cmd_status:#x}, untraced {plain.returncode}")
    writes = [e for e in cap.records if e.type == ctrlib.EV_SYS_ENTER
              and e.id == 1 and e.args[2] == chunk]
    check(len(writes) == nwrites, f"{name}: {len(writes)} writes recorded, want {nwrites}")
    # Without -q (which would hide the fallback line too): drop the status lines.
    lines = [l for l in r.stderr.splitlines() if l.strip() and not STATUS.match(l)]
    return cap, lines


def check_fallback(name, cap, lines, why):
    check(not cap.go, f"{name}: goroutines recorded from a damaged binary")
    check(len(lines) == 1 and lines[0].startswith("ctrace-bpf: ")
          and "threads only" in lines[0] and why in lines[0],
          f"{name}: want one line saying '{why}' and 'threads only': {lines!r}")


def test_go_symtab_shifted(tmp):
    """runtime.execute's .symtab value off by 1 (mid-instruction) and by 9:
    a uprobe there used to kill the target. Probe sites come from the
    pclntab now, and the disagreement is said in one line."""
    src = binary("1.19", "plain", "fileio").read_bytes()
    for delta in (1, 9):
        name = f"shift{delta}"
        cap, lines = trace_damaged(tmp, name, shift_symbol(src, "runtime.execute", delta))
        check_fallback(name, cap, lines, ".symtab puts runtime.execute")


def test_go_pclntab_header_corrupt(tmp):
    """.gopclntab's section header pointing at the wrong bytes (the runtime
    finds its table through moduledata and runs fine): a bad pclntab magic
    for the tracer, no longer a silent 'not a Go program'."""
    src = bytearray(binary("1.19", "plain", "fileio").read_bytes())
    shoff, = struct.unpack_from("<Q", src, 0x28)
    shentsize, shnum, _ = struct.unpack_from("<HHH", src, 0x3A)
    pcln_off, text_off = sections(src)[".gopclntab"][0], sections(src)[".text"][0]
    for i in range(shnum):
        o = shoff + i * shentsize + 0x18
        if struct.unpack_from("<Q", src, o)[0] == pcln_off:
            struct.pack_into("<Q", src, o, text_off)
    cap, lines = trace_damaged(tmp, "pcln", bytes(src))
    check_fallback("pcln", cap, lines, "damaged Go binary")


def test_go_buildinfo_corrupt(tmp):
    """No readable build info (stripped, magic overwritten): one line."""
    src = binary("1.19", "stripped", "fileio").read_bytes()
    magic = b"\xff Go buildinf:"
    check(magic in src, "no build info magic")
    data = src.replace(magic, b"\xff Go XXXXXXXX:", 1).replace(b"go1.19.", b"gq1.19.")
    cap, lines = trace_damaged(tmp, "binfo", data)
    check_fallback("binfo", cap, lines, "without readable build info")


def test_go_section_table_corrupt(tmp):
    """Section headers pointing past the end of the file: either traced
    fully (segments suffice) or one line; never a crash."""
    src = bytearray(binary("1.19", "plain", "fileio").read_bytes())
    struct.pack_into("<Q", src, 0x28, len(src) + 4096)
    cap, lines = trace_damaged(tmp, "shdr", bytes(src))
    if cap.go:
        check(not lines, f"goroutines traced, yet stderr says {lines!r}")
    else:
        check(len(lines) == 1 and "threads only" in lines[0], f"want one line: {lines!r}")
