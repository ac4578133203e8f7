"""A pure-Python reader of ctrace-bpf captures (.ctr) with a goroutine model.

The file format is docs/ctr-format.md; record layouts are those of
bpf/ctrace.h (little-endian, offsets spelled out below next to each struct).
Nothing here calls ctrace-bpf, so the tests check the capture independently
of the C reader.

    cap = ctrlib.load("x.ctr")
    cap.meta, cap.tasks, cap.end, cap.stats, cap.truncated
    cap.records              every record, in file order
    gp = cap.go_proc()       the (only / given) traced Go process: GoProc
    gp.goroutines            {goid: Goroutine}
    gp.blocks / unblocks / starts / scheds / creates / exits: lists, by ts
    gp.syscalls              [Syscall], each joined to the goroutine running
                             on its thread
    gp.snapshot              [GoG] goroutines alive at attach (REC_GO_G)
    gp.transition_errors()   impossible sequences (lost/duplicated events)

`python3 tests/ctrlib.py X.ctr` prints a summary (start functions, blocks by
reason, transition errors) for debugging.

Wait reason strings come from user/go/go_offsets_table.c (the generated arrays
of Go's own strings, per minor version), parsed here.
"""

import bisect
import re
import struct
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFSETS_TABLE = ROOT / "user" / "go" / "go_offsets_table.c"

CTR_MAGIC = b"CTRBPF\r\n"
BLOCK_MAGIC = 0x4B4C4243
BLOCK_RAW_MAX = 1 << 20

# enum ev_type
EV_SCHED_SWITCH = 1
EV_SCHED_WAKING = 2
EV_SCHED_WAKEUP_NEW = 3
EV_PROCESS_FORK = 4
EV_PROCESS_EXEC = 5
EV_PROCESS_EXIT = 6
EV_SYS_ENTER = 7
EV_SYS_EXIT = 8
EV_TASK_RENAME = 9
EV_GO_CREATE = 32
EV_GO_START = 33
EV_GO_BLOCK = 34
EV_GO_UNBLOCK = 35
EV_GO_SCHED = 36
EV_GO_EXIT = 37
EV_CPU_SAMPLE = 38
CPU_SAMPLE_MAX_STACK = 64
CPU_SAMPLE_F_KERNEL = 0x1
EV_KERNEL_MAX = 64
REC_META = 64
REC_TASK = 65
REC_STATS = 66
REC_WATERMARK = 67
REC_END = 68
REC_GO_PROC = 69
REC_GO_G = 70
REC_GO_SYM = 71
REC_GO_MODE = 73
EV_F_GO_TAIL = 0x8000
GO_MODE_OFF, GO_MODE_FULL, GO_MODE_SAMPLED = 0, 1, 2

GO_EVENTS = range(EV_GO_CREATE, EV_GO_EXIT + 1)
GO_EVENT_NAMES = {EV_GO_CREATE: "create", EV_GO_START: "start",
                  EV_GO_BLOCK: "block", EV_GO_UNBLOCK: "unblock",
                  EV_GO_SCHED: "sched", EV_GO_EXIT: "exit"}

GO_SCHED_YIELD, GO_SCHED_PREEMPT, GO_SCHED_PREEMPT_PARK = 1, 2, 3
GO_UNBLOCK_READY, GO_UNBLOCK_INJECT = 1, 2
GO_MAX_STACK = 32

# x86_64 syscalls that the Go runtime makes on its own behalf, never as a
# goroutine's blocking syscall (entersyscall): futex, sched_yield, nanosleep
# (usleep), epoll_wait/epoll_pwait (netpoll from the scheduler), getpid,
# gettid and tgkill (preemption signals), rt_sigreturn (end of a signal
# handler), rt_sigaction, rt_sigprocmask and sigaltstack (raw syscalls).
RUNTIME_SYSCALLS = {202, 24, 35, 232, 281, 39, 186, 234, 15, 13, 14, 131}

# Go's g.atomicstatus values (the same in every generated version).
GSTATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall",
           4: "waiting", 6: "dead", 8: "copystack", 9: "preempted"}

END_REASONS = {1: "duration", 2: "signal", 3: "target_exited",
               4: "command_exited"}

HDR = struct.Struct("<QHHHHII")  # struct ev_header, 24 bytes
assert HDR.size == 24

# Fixed parts after the header; offsets relative to the record start.
SCHED_SWITCH = struct.Struct("<IIIIiiq16s16s")        # @24, total 88
SCHED_WAKE = struct.Struct("<IIii16s")                # @24, total 56
PROCESS_FORK = struct.Struct("<IIIIQ16s")             # @24, total 64
PROCESS_EXEC = struct.Struct("<II16s128s")            # @24, total 176
PROCESS_EXIT = struct.Struct("<IIii16s")              # @24, total 56
SYS_ENTER = struct.Struct("<q6Q")                     # @24, total 80
SYS_EXIT = struct.Struct("<qq")                       # @24, total 40
TASK_RENAME = struct.Struct("<II16s16s")              # @24, total 64
EV_GO = struct.Struct("<QqqQQiHBB")                   # @24, total 72 + 8*nstack
REC_TASK_S = struct.Struct("<II16sI")                 # @24, cmdline @52
REC_END_S = struct.Struct("<Ii")                      # @24
REC_GO_PROC_S = struct.Struct("<iiQ32s256s")          # @24, total 328
REC_GO_G_S = struct.Struct("<QqqQQIHBB")              # @24, total 72 + 8*nstack
REC_GO_SYM_S = struct.Struct("<QiHH")                 # @24, names @40
REC_GO_MODE_S = struct.Struct("<IIII")                # @24, total 40
GO_TAIL = struct.Struct("<qIHH")                      # after the fixed part
TAIL_BASE = {1: 88, 7: 80, 8: 40}  # EV_SCHED_SWITCH, EV_SYS_ENTER, EV_SYS_EXIT
MIN_SIZE = {
    EV_SCHED_SWITCH: 88, EV_SCHED_WAKING: 56, EV_SCHED_WAKEUP_NEW: 56,
    EV_PROCESS_FORK: 64, EV_PROCESS_EXEC: 176, EV_PROCESS_EXIT: 56,
    EV_SYS_ENTER: 80, EV_SYS_EXIT: 40, EV_TASK_RENAME: 64,
    REC_TASK: 52, REC_STATS: 24 + 8 + 64 * 8 + 8 + 8 * 8, REC_END: 32,
    REC_GO_PROC: 328, REC_GO_G: 72, REC_GO_SYM: 40, REC_GO_MODE: 40, EV_CPU_SAMPLE: 40,
    **{t: 72 for t in GO_EVENTS},
}
assert SCHED_SWITCH.size == 64 and SCHED_WAKE.size == 32
assert PROCESS_FORK.size == 40 and PROCESS_EXEC.size == 152
assert SYS_ENTER.size == 56 and EV_GO.size == 48 and REC_GO_G_S.size == 48
assert REC_GO_PROC_S.size == 304 and REC_GO_SYM_S.size == 16



def woken_by_ready(reason):
    """Wait reasons that always end through runtime.ready() (so an
    EV_GO_UNBLOCK must precede the next start)."""
    if not reason:
        return False
    return (reason.startswith("chan ") or reason.startswith("select")
            or reason.startswith("sync.") or reason in ("semacquire", "sleep"))

class CtrError(Exception):
    pass


def _cstr(b):
    return bytes(b).split(b"\0", 1)[0].decode("utf-8", "replace")


class Record:
    """One record: header fields plus the type's own fields as attributes."""

    __slots__ = ("ts", "type", "size", "cpu", "flags", "tid", "tgid",
                 "seq", "f")

    def __init__(self, seq, ts, typ, size, cpu, flags, tid, tgid, f):
        self.seq, self.ts, self.type, self.size = seq, ts, typ, size
        self.cpu, self.flags, self.tid, self.tgid = cpu, flags, tid, tgid
        self.f = f

    def __getattr__(self, k):
        try:
            return self.f[k]
        except KeyError:
            raise AttributeError(k) from None

    def __repr__(self):
        name = GO_EVENT_NAMES.get(self.type, str(self.type))
        return f"<{name} ts={self.ts} tid={self.tid} tgid={self.tgid} {self.f}>"


def _decode(typ, b, size, flags=0):
    """Type-specific fields of one record (b: the whole record)."""
    d = _decode_fixed(typ, b, size)
    base = TAIL_BASE.get(typ)
    if base and flags & EV_F_GO_TAIL:
        if size < base + GO_TAIL.size:
            raise CtrError(f"record of type {typ} flagged with a goroutine "
                           f"tail in {size} bytes")
        goid, status, reason, _ = GO_TAIL.unpack_from(b, base)
        d.update(tail_goid=goid, tail_status=status, tail_reason=reason)
    return d


def _decode_fixed(typ, b, size):
    if typ in GO_EVENTS:
        g, goid, other, pc, pc2, p, reason, kind, nstack = EV_GO.unpack_from(b, 24)
        if nstack > GO_MAX_STACK or 72 + 8 * nstack > size:
            raise CtrError(f"go event with nstack {nstack} in {size} bytes")
        stack = list(struct.unpack_from(f"<{nstack}Q", b, 72))
        return dict(g=g, goid=goid, other_goid=other, pc=pc, pc2=pc2, p=p,
                    reason=reason, kind=kind, stack=stack)
    if typ == EV_CPU_SAMPLE:
        goid, period, nstack = struct.unpack_from("<qIH", b, 24)
        if nstack > CPU_SAMPLE_MAX_STACK or 40 + 8 * nstack > size:
            raise CtrError(f"cpu sample with nstack {nstack} in {size} bytes")
        return dict(goid=goid, period_ns=period,
                    stack=list(struct.unpack_from(f"<{nstack}Q", b, 40)))
    if typ == EV_SYS_ENTER:
        nr, *args = SYS_ENTER.unpack_from(b, 24)
        return dict(id=nr, args=args)
    if typ == EV_SYS_EXIT:
        nr, ret = SYS_EXIT.unpack_from(b, 24)
        return dict(id=nr, ret=ret)
    if typ == EV_SCHED_SWITCH:
        (pp, ptg, np_, ntg, pprio, nprio, pstate, pcomm,
         ncomm) = SCHED_SWITCH.unpack_from(b, 24)
        return dict(prev_pid=pp, prev_tgid=ptg, next_pid=np_, next_tgid=ntg,
                    prev_prio=pprio, next_prio=nprio, prev_state=pstate,
                    prev_comm=_cstr(pcomm), next_comm=_cstr(ncomm))
    if typ in (EV_SCHED_WAKING, EV_SCHED_WAKEUP_NEW):
        pid, tgid, prio, cpu, comm = SCHED_WAKE.unpack_from(b, 24)
        return dict(pid=pid, wtgid=tgid, prio=prio, target_cpu=cpu,
                    comm=_cstr(comm))
    if typ == EV_PROCESS_FORK:
        pp, ptg, cp, ctg, flags, comm = PROCESS_FORK.unpack_from(b, 24)
        return dict(parent_pid=pp, parent_tgid=ptg, child_pid=cp,
                    child_tgid=ctg, clone_flags=flags, child_comm=_cstr(comm))
    if typ == EV_PROCESS_EXEC:
        pid, old, comm, fn = PROCESS_EXEC.unpack_from(b, 24)
        return dict(pid=pid, old_pid=old, comm=_cstr(comm), filename=_cstr(fn))
    if typ == EV_PROCESS_EXIT:
        pid, tgid, prio, code, comm = PROCESS_EXIT.unpack_from(b, 24)
        return dict(pid=pid, xtgid=tgid, prio=prio, exit_code=code,
                    comm=_cstr(comm))
    if typ == EV_TASK_RENAME:
        pid, _, old, new = TASK_RENAME.unpack_from(b, 24)
        return dict(pid=pid, oldcomm=_cstr(old), newcomm=_cstr(new))
    if typ == REC_META:
        parts = bytes(b[24:size]).split(b"\0")
        return dict(kv=[(parts[i].decode("utf-8", "replace"),
                         parts[i + 1].decode("utf-8", "replace"))
                        for i in range(0, len(parts) - 1, 2) if parts[i]])
    if typ == REC_TASK:
        ppid, tflags, comm, clen = REC_TASK_S.unpack_from(b, 24)
        cmd = bytes(b[52:52 + min(clen, size - 52)])
        return dict(ppid=ppid, task_flags=tflags, comm=_cstr(comm),
                    cmdline=[a.decode("utf-8", "replace")
                             for a in cmd.split(b"\0") if a])
    if typ == REC_STATS:
        events = struct.unpack_from("<Q", b, 24)[0]
        drops = list(struct.unpack_from("<64Q", b, 32))
        total = struct.unpack_from("<Q", b, 32 + 64 * 8)[0]
        return dict(events=events, drops=drops, drops_total=total)
    if typ == REC_END:
        reason, status = REC_END_S.unpack_from(b, 24)
        return dict(reason=reason, cmd_status=status)
    if typ == REC_GO_PROC:
        major, minor, bias, ver, path = REC_GO_PROC_S.unpack_from(b, 24)
        return dict(major=major, minor=minor, load_bias=bias,
                    version=_cstr(ver), path=_cstr(path))
    if typ == REC_GO_G:
        (g, goid, parent, startpc, gopc, status, reason, _pad,
         nstack) = REC_GO_G_S.unpack_from(b, 24)
        if nstack > GO_MAX_STACK or 72 + 8 * nstack > size:
            raise CtrError(f"go g record with nstack {nstack} in {size} bytes")
        return dict(g=g, goid=goid, parent_goid=parent, startpc=startpc,
                    gopc=gopc, status=status, reason=reason,
                    stack=list(struct.unpack_from(f"<{nstack}Q", b, 72)))
    if typ == REC_GO_MODE:
        mode, reason, flags, est_ppm = REC_GO_MODE_S.unpack_from(b, 24)
        return dict(mode=mode, reason=reason, mode_flags=flags, est_ppm=est_ppm)
    if typ == REC_GO_SYM:
        pc, line, flen, filelen = REC_GO_SYM_S.unpack_from(b, 24)
        if 40 + flen + filelen > size:
            raise CtrError("go sym record names overflow it")
        return dict(pc=pc, line=line, func=_cstr(b[40:40 + flen]),
                    file=_cstr(b[40 + flen:40 + flen + filelen]))
    return {}


def decode_block(version, payload):
    """A block's raw bytes: zlib in version 1 captures, zstd in version 2."""
    if version == 1:
        return zlib.decompress(payload)
    import zstandard  # python3-zstandard; imported only where needed
    return zstandard.ZstdDecompressor().decompress(payload)


def capture_blocks(path):
    """(16-byte file header, [raw bytes of each block]) of a whole capture."""
    data = Path(path).read_bytes()
    version, hsize = struct.unpack_from("<II", data, 8)
    off, out = hsize, []
    while off + 16 <= len(data):
        magic, raw_len, z_len, crc = struct.unpack_from("<IIII", data, off)
        out.append(decode_block(version, data[off + 16:off + 16 + z_len]))
        off += 16 + z_len
    return data[:hsize], out


def write_capture(path, raws):
    """A version 1 (zlib) capture of these blocks: what tests write, since
    Python's standard library has zlib and every reader still takes it."""
    with open(path, "wb") as f:
        f.write(CTR_MAGIC + struct.pack("<II", 1, 16))
        for raw in raws:
            z = zlib.compress(bytes(raw))
            f.write(struct.pack("<IIII", BLOCK_MAGIC, len(raw), len(z),
                                zlib.crc32(raw) & 0xFFFFFFFF))
            f.write(z)


def read_records(path):
    """(records in file order, truncated?) -- stops at the first bad block."""
    data = Path(path).read_bytes()
    if len(data) < 16 or data[:8] != CTR_MAGIC:
        raise CtrError(f"{path}: not a ctrace-bpf capture (bad magic)")
    version, hsize = struct.unpack_from("<II", data, 8)
    if version not in (1, 2):
        raise CtrError(f"{path}: capture version {version}, reader knows 1 and 2")
    off = hsize
    recs = []
    truncated = False
    seq = 0
    while off < len(data):
        if off + 16 > len(data):
            truncated = True
            break
        magic, raw_len, z_len, crc = struct.unpack_from("<IIII", data, off)
        if magic != BLOCK_MAGIC or raw_len > BLOCK_RAW_MAX or \
                off + 16 + z_len > len(data):
            truncated = True
            break
        try:
            raw = decode_block(version, data[off + 16:off + 16 + z_len])
        except Exception:  # zlib.error or zstandard.ZstdError
            truncated = True
            break
        if len(raw) != raw_len or (crc and (zlib.crc32(raw) & 0xFFFFFFFF) != crc):
            truncated = True
            break
        off += 16 + z_len
        mv = memoryview(raw)
        p = 0
        while p + 24 <= len(raw):
            ts, typ, size, cpu, flags, tid, tgid = HDR.unpack_from(raw, p)
            if size < 24 or p + size > len(raw):
                raise CtrError(f"{path}: record of type {typ} with size "
                               f"{size} at block offset {p} overflows its block")
            if size < MIN_SIZE.get(typ, 24):
                raise CtrError(f"{path}: record of type {typ} has size {size}"
                               f" < {MIN_SIZE[typ]}")
            f = _decode(typ, mv[p:p + size], size, flags)
            recs.append(Record(seq, ts, typ, size, cpu, flags, tid, tgid, f))
            seq += 1
            p += size
        if p != len(raw):
            raise CtrError(f"{path}: {len(raw) - p} stray bytes at block end")
    return recs, truncated


# ---- wait reasons ----

_reasons_cache = None


def wait_reasons():
    """{minor: [reason string by code]} parsed from go_offsets_table.c."""
    global _reasons_cache
    if _reasons_cache is not None:
        return _reasons_cache
    src = OFFSETS_TABLE.read_text()
    arrays = {}
    for m in re.finditer(r"static const struct go_waitreason (\w+)\[\] = \{(.*?)\n\};",
                         src, re.S):
        tab = {}
        for e in re.finditer(r'\[(\d+)\] = \{"((?:[^"\\]|\\.)*)",', m.group(2)):
            tab[int(e.group(1))] = e.group(2)
        arrays[m.group(1)] = [tab.get(i) for i in range(max(tab) + 1)] if tab else []
    vm = re.search(r"static const struct go_version versions\[\] = \{(.*?)\n\};",
                   src, re.S)
    if not vm:
        raise CtrError(f"{OFFSETS_TABLE}: no versions[] table")
    out = {}
    # Each version entry names .minor before its .wr array.
    for m in re.finditer(r"\.minor = (\d+),.*?\.wr = (\w+),", vm.group(1), re.S):
        out[int(m.group(1))] = arrays[m.group(2)]
    if not out:
        raise CtrError(f"{OFFSETS_TABLE}: no wait reason tables parsed")
    _reasons_cache = out
    return out


def reason_string(minor, code):
    tab = wait_reasons().get(minor)
    if tab is None or not 0 <= code < len(tab) or tab[code] is None:
        return f"reason#{code}"
    return tab[code]


# ---- the model ----

class Goroutine:
    def __init__(self, goid):
        self.goid = goid
        self.g = None
        self.start_pc = None
        self.start_func = None
        self.go_pc = None
        self.creator = None        # creator goid (0: runtime)
        self.create_ts = None
        self.exit_ts = None
        self.at_attach = None      # GoG if it was in the snapshot
        self.events = []           # its go events (as subject), by ts

    def __repr__(self):
        return (f"<G{self.goid} {self.start_func} by G{self.creator}"
                f"{' attach' if self.at_attach else ''}>")


class Syscall:
    __slots__ = ("tid", "goid", "nr", "args", "enter_ts", "exit_ts", "ret",
                 "tail_goid")

    def __init__(self, tid, goid, nr, args, enter_ts, tail_goid=None):
        self.tid, self.goid, self.nr, self.args = tid, goid, nr, args
        self.enter_ts, self.exit_ts, self.ret = enter_ts, None, None
        # sampled mode: the goroutine read from TLS at sys_enter
        self.tail_goid = tail_goid

    def __repr__(self):
        return (f"<sys {self.nr} tid={self.tid} G{self.goid} "
                f"{self.enter_ts}-{self.exit_ts} ret={self.ret}>")


class GoProc:
    """Goroutine model of one traced Go process (tgid)."""

    def __init__(self, cap, tgid, proc_rec):
        self.cap = cap
        self.tgid = tgid
        self.proc = proc_rec
        self.major = proc_rec.major if proc_rec else None
        self.minor = proc_rec.minor if proc_rec else None
        self.version = proc_rec.version if proc_rec else None
        self.attach_ts = proc_rec.ts if proc_rec else None
        self.sym_exact = {}
        self.sym_ret = {}
        self.snapshot = []
        self.events = []
        self.goroutines = {}
        self.creates, self.starts, self.blocks = [], [], []
        self.unblocks, self.scheds, self.exits = [], [], []
        self.syscalls = []

    def reason(self, code):
        return reason_string(self.minor, code)

    def func(self, pc, exact=True):
        """Function name of pc: exact (function entry) or a return address."""
        d = self.sym_exact if exact else self.sym_ret
        s = d.get(pc) or (self.sym_ret if exact else self.sym_exact).get(pc)
        return s[0] if s else None

    def stack_funcs(self, stack):
        return [self.func(pc, exact=False) for pc in stack]

    def g(self, goid):
        gr = self.goroutines.get(goid)
        if gr is None:
            gr = self.goroutines[goid] = Goroutine(goid)
        return gr

    def by_start(self, func):
        return [g for g in self.goroutines.values() if g.start_func == func]

    def start_funcs(self):
        """{start function: number of goroutines}."""
        out = defaultdict(int)
        for g in self.goroutines.values():
            out[g.start_func] += 1
        return dict(out)

    def _build(self, go_events, sys_events):
        for r in self.snapshot:
            gr = self.g(r.goid)
            gr.at_attach = r
            gr.g = r.g
            gr.start_pc = r.startpc
            gr.start_func = self.func(r.startpc)
            gr.go_pc = r.gopc
            gr.creator = r.parent_goid
        # Stable sort by ts: the file is only roughly ordered.
        self.events = sorted(go_events, key=lambda e: e.ts)
        for e in self.events:
            gr = self.g(e.goid)
            gr.events.append(e)
            if e.type == EV_GO_CREATE:
                gr.g = e.g
                gr.start_pc = e.pc
                gr.start_func = self.func(e.pc)
                gr.go_pc = e.pc2
                gr.creator = e.other_goid
                gr.create_ts = e.ts
                self.creates.append(e)
            elif e.type == EV_GO_START:
                self.starts.append(e)
            elif e.type == EV_GO_BLOCK:
                self.blocks.append(e)
            elif e.type == EV_GO_UNBLOCK:
                self.unblocks.append(e)
            elif e.type == EV_GO_SCHED:
                self.scheds.append(e)
            elif e.type == EV_GO_EXIT:
                gr.exit_ts = e.ts
                self.exits.append(e)
        self._join_syscalls(sys_events)

    def _join_syscalls(self, sys_events):
        """Each syscall gets the goroutine running on its thread: the last
        START on that tid, unless that goroutine has since blocked, yielded
        or exited, or another goroutine started on that tid."""
        merged = sorted(self.events + sys_events, key=lambda e: e.ts)
        cur = {}      # tid -> goid
        open_ = {}    # tid -> Syscall
        for e in merged:
            if e.type == EV_GO_START:
                cur[e.tid] = e.goid
            elif e.type in (EV_GO_BLOCK, EV_GO_SCHED, EV_GO_EXIT):
                for tid, goid in list(cur.items()):
                    if goid == e.goid:
                        del cur[tid]
            elif e.type == EV_SYS_ENTER:
                s = Syscall(e.tid, cur.get(e.tid), e.id, e.args, e.ts,
                            e.f.get("tail_goid"))
                self.syscalls.append(s)
                open_[e.tid] = s
            elif e.type == EV_SYS_EXIT:
                s = open_.pop(e.tid, None)
                if s is not None and s.nr == e.id:
                    s.exit_ts, s.ret = e.ts, e.ret

    def syscalls_of(self, goid, nr=None):
        return [s for s in self.syscalls
                if s.goid == goid and (nr is None or s.nr == nr)]

    def blocks_by_reason(self, goids=None):
        out = defaultdict(int)
        for e in self.blocks:
            if goids is None or e.goid in goids:
                out[self.reason(e.reason)] += 1
        return dict(out)

    def last_block_reason(self, goid):
        """Reason of the goroutine's last BLOCK, or None."""
        for e in reversed(self.g(goid).events):
            if e.type == EV_GO_BLOCK:
                return self.reason(e.reason)
        return None

    def wake_pairs(self):
        """[(unblock event, reason string the wakee blocked with)], where the
        reason is that of the wakee's preceding BLOCK (None if not seen)."""
        last = {}
        out = []
        for e in self.events:
            if e.type == EV_GO_BLOCK:
                last[e.goid] = self.reason(e.reason)
            elif e.type == EV_GO_UNBLOCK:
                out.append((e, last.pop(e.goid, None)))
        return out

    def transition_errors(self, limit=20):
        """Sequences that cannot happen if no transition is lost or doubled.

        A goroutine is 'running on tid T' from its START on T until its
        BLOCK/SCHED/EXIT, or until another goroutine STARTs on T. "A syscall"
        below is one a goroutine can make through entersyscall, i.e. not one
        of RUNTIME_SYSCALLS, which only the scheduler itself makes (futex
        wakeups in wakep, netpoll, usleep, preemption signals): those happen
        on a thread right when a transition was missed, so they excuse
        nothing. Flagged:
          - START of a goroutine running on another thread T, unless T
            entered a syscall since (the runtime can then move it off T
            through exitsyscall without any probed transition)
          - START of a goroutine running on the same thread with no syscall
            on it in between (a doubled START)
          - START of a blocked goroutine (a lost UNBLOCK)
          - UNBLOCK of a running goroutine (ready() wants _Gwaiting)
          - UNBLOCK of a goroutine that is runnable after a SCHED or an
            UNBLOCK (doubled wakeup)
          - START on a thread where another goroutine is running, unless
            that thread entered a syscall since (a lost BLOCK/SCHED/EXIT)
          - BLOCK/SCHED/EXIT on a thread where the goroutine is not running
            (a lost START), unless its state is unknown (alive at attach)
          - any event for a goroutine after its EXIT, other than a CREATE
            (goids are never reused)
        Returns (count, first `limit` descriptions)."""
        sysin = defaultdict(list)  # tid -> sorted syscall enter ts
        for s in self.syscalls:
            if s.nr not in RUNTIME_SYSCALLS:
                sysin[s.tid].append(s.enter_ts)
        for v in sysin.values():
            v.sort()

        def syscall_between(tid, t0, t1):
            v = sysin.get(tid, ())
            i = bisect.bisect_right(v, t0)
            return i < len(v) and v[i] <= t1

        state = {}      # goid -> "running" | "runnable" | "waiting" | "dead"
        where = {}      # goid -> (tid, start ts) while running
        oncpu = {}      # tid -> goid
        blocked_on = {}  # goid -> reason of its last block
        for r in self.snapshot:
            state[r.goid] = {1: "runnable", 4: "waiting"}.get(r.status)
            if r.status == 4:
                blocked_on[r.goid] = self.reason(r.reason)
        errs = []
        n = 0

        def bad(e, msg):
            nonlocal n
            n += 1
            if len(errs) < limit:
                errs.append(f"ts={e.ts} tid={e.tid} G{e.goid} "
                            f"({self.g(e.goid).start_func}): {msg}")

        def stop(goid):
            w = where.pop(goid, None)
            if w and oncpu.get(w[0]) == goid:
                del oncpu[w[0]]

        for e in self.events:
            st = state.get(e.goid)
            if st == "dead" and e.type != EV_GO_CREATE:
                bad(e, f"{GO_EVENT_NAMES[e.type]} after exit")
            if e.type == EV_GO_CREATE:
                state[e.goid] = "runnable"
            elif e.type == EV_GO_START:
                # The scheduler starts a goroutine the netpoller returned,
                # and GC/runtime workers, without ready(): that start is
                # their wake-up. Waits that always end in ready() must not.
                if st == "waiting" and woken_by_ready(blocked_on.get(e.goid)):
                    bad(e, f"start while blocked ({blocked_on.get(e.goid)}): "
                           f"no unblock")
                if st == "running":
                    tid, t0 = where[e.goid]
                    if not syscall_between(tid, t0, e.ts):
                        bad(e, f"start while running on tid {tid} since "
                               f"{t0}" + (" (same thread)" if tid == e.tid else ""))
                    stop(e.goid)
                prev = oncpu.get(e.tid)
                if prev is not None and prev != e.goid:
                    # prev left the thread without an event: only possible
                    # through a syscall (exitsyscall0 queues it); it is
                    # runnable then, or in an unknown state.
                    _, t0 = where.pop(prev)
                    if not syscall_between(e.tid, t0, e.ts):
                        n += 1
                        if len(errs) < limit:
                            errs.append(f"ts={e.ts} tid={e.tid}: G{e.goid} starts "
                                        f"where G{prev} ran since {t0} without a "
                                        f"block/sched/exit or syscall")
                    state[prev] = None
                state[e.goid] = "running"
                where[e.goid] = (e.tid, e.ts)
                oncpu[e.tid] = e.goid
            elif e.type == EV_GO_UNBLOCK:
                if st == "running":
                    bad(e, f"unblocked by G{e.other_goid} while running on "
                           f"tid {where[e.goid][0]}")
                    stop(e.goid)
                elif st == "runnable":
                    bad(e, f"unblocked by G{e.other_goid} while runnable")
                state[e.goid] = "runnable"
            elif e.type in (EV_GO_BLOCK, EV_GO_SCHED, EV_GO_EXIT):
                if st is not None and (st != "running" or where[e.goid][0] != e.tid):
                    bad(e, f"{GO_EVENT_NAMES[e.type]} while {st}" +
                        (f" on tid {where[e.goid][0]}" if st == "running" else ""))
                stop(e.goid)
                state[e.goid] = {EV_GO_BLOCK: "waiting", EV_GO_SCHED: "runnable",
                                 EV_GO_EXIT: "dead"}[e.type]
                if e.type == EV_GO_BLOCK:
                    blocked_on[e.goid] = self.reason(e.reason)
        return n, errs


class Capture:
    def __init__(self, path):
        self.path = Path(path)
        self.records, self.truncated = read_records(path)
        self.meta = {}
        self.tasks = {}      # tid -> rec_task fields + tgid
        self.stats = None
        self.end = None
        self.go = {}         # tgid -> GoProc
        self.go_modes = []   # REC_GO_MODE records
        procs = {}
        go_ev = defaultdict(list)
        sys_ev = defaultdict(list)
        snap = defaultdict(list)
        syms = []
        for r in self.records:
            t = r.type
            if t in GO_EVENTS:
                go_ev[r.tgid].append(r)
            elif t in (EV_SYS_ENTER, EV_SYS_EXIT):
                sys_ev[r.tgid].append(r)
            elif t == REC_META:
                self.meta.update(r.kv)
            elif t == REC_TASK:
                self.tasks[r.tid] = r
            elif t == REC_STATS:
                self.stats = r
            elif t == REC_END:
                self.end = r
            elif t == REC_GO_PROC:
                procs[r.tgid] = r
            elif t == REC_GO_G:
                snap[r.tgid].append(r)
            elif t == REC_GO_SYM:
                syms.append(r)
            elif t == REC_GO_MODE:
                self.go_modes.append(r)
        for tgid in set(procs) | set(go_ev):
            gp = GoProc(self, tgid, procs.get(tgid))
            for s in syms:
                if s.tgid == tgid:
                    (gp.sym_exact if s.flags & 1 else gp.sym_ret)[s.pc] = \
                        (s.func, s.file, s.line)
            gp.snapshot = snap.get(tgid, [])
            gp._build(go_ev.get(tgid, []), sys_ev.get(tgid, []))
            self.go[tgid] = gp

    @property
    def drops(self):
        return self.stats.drops_total if self.stats else None

    @property
    def clean_end(self):
        return self.end is not None

    def go_proc(self, tgid=None):
        if tgid is not None:
            if tgid not in self.go:
                raise CtrError(f"{self.path}: no Go process {tgid} "
                               f"(have {sorted(self.go)})")
            return self.go[tgid]
        if len(self.go) != 1:
            raise CtrError(f"{self.path}: {len(self.go)} Go processes "
                           f"({sorted(self.go)}), want exactly one")
        return next(iter(self.go.values()))


def load(path):
    return Capture(path)


if __name__ == "__main__":
    # A summary, for debugging: python3 tests/ctrlib.py X.ctr
    import sys
    cap = load(sys.argv[1])
    print(f"records {len(cap.records)} truncated={cap.truncated} "
          f"drops={cap.drops} end={cap.end and cap.end.f}")
    for tgid, gp in cap.go.items():
        print(f"go process {tgid}: {gp.version} (1.{gp.minor}), "
              f"snapshot {len(gp.snapshot)}, goroutines {len(gp.goroutines)}")
        for f, c in sorted(gp.start_funcs().items(), key=lambda x: str(x[0])):
            print(f"  start {f}: {c}")
        for r, c in sorted(gp.blocks_by_reason().items()):
            print(f"  block {r!r}: {c}")
        print(f"  starts {len(gp.starts)} unblocks {len(gp.unblocks)} "
              f"scheds {len(gp.scheds)} (preempt "
              f"{sum(1 for e in gp.scheds if e.kind == GO_SCHED_PREEMPT)}) "
              f"exits {len(gp.exits)} syscalls {len(gp.syscalls)}")
        n, errs = gp.transition_errors()
        print(f"  transition errors: {n}")
        for e in errs:
            print("    " + e)
