"""Go's own execution trace (runtime/trace), version 1.19 format, as ground
truth for the goroutine tests.

Events come from `go tool trace -d FILE` of Go 1.19, which prints one
parsed, ordered event a line:

    2618360 GoBlockRecv p=0 g=1 off=200
    2668243 GoUnblock p=0 g=8 off=230 g=7 seq=0     (g=8 readies g=7)
    2578763 GoCreate p=0 g=1 off=140 g=6 stack=8    (g=1 creates g=6)

-d prints stack ids but not the stacks, so the stack table (EvStack and
EvString records) is read here from the binary trace to name each
goroutine's start function (the one frame of its GoCreate stack).
"""

import re
import subprocess
from collections import defaultdict
from pathlib import Path

# Go 1.19 runtime/trace.go event types that matter here.
EV_STACK = 3
EV_STRING = 37
EV_USER_LOG = 48
EV_COUNT = 50

# Blocking events and the wait reason (Go 1.19) the runtime parks with.
BLOCK_REASON = {
    "GoBlockRecv": "chan receive",
    "GoBlockSend": "chan send",
    "GoBlockSelect": "select",
    "GoBlockSync": "semacquire",
    "GoBlockCond": "sync.Cond.Wait",
    "GoBlockNet": "IO wait",
    "GoSleep": "sleep",
    "GoBlockGC": "GC assist wait",
    "GoBlock": "other",
    "GoStop": "other",
}
START = {"GoStart", "GoStartLocal", "GoStartLabel"}
UNBLOCK = {"GoUnblock", "GoUnblockLocal"}
SCHED = {"GoSched", "GoPreempt"}


def _uvarint(b, off):
    v = shift = 0
    while True:
        c = b[off]
        off += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, off
        shift += 7


def read_stacks(path):
    """{stack id: [function name of each frame]} from a go1.19 trace file."""
    b = Path(path).read_bytes()
    if not b.startswith(b"go 1.19 trace\0"):
        raise ValueError(f"{path}: not a go 1.19 trace ({b[:16]!r})")
    off = 16
    strings, stacks = {}, {}
    while off < len(b):
        typ = b[off] & 0x3F
        narg = (b[off] >> 6) + 1
        off += 1
        if typ == 0 or typ >= EV_COUNT:
            raise ValueError(f"{path}: unknown event type {typ} at {off - 1}")
        if typ == EV_STRING:
            sid, off = _uvarint(b, off)
            n, off = _uvarint(b, off)
            strings[sid] = b[off:off + n].decode("utf-8", "replace")
            off += n
            continue
        args = []
        if narg < 4:
            for _ in range(narg):
                v, off = _uvarint(b, off)
                args.append(v)
        else:
            n, off = _uvarint(b, off)
            end = off + n
            while off < end:
                v, off = _uvarint(b, off)
                args.append(v)
        if typ == EV_USER_LOG:
            n, off = _uvarint(b, off)
            off += n
        if typ == EV_STACK:
            sid, nframes = args[0], args[1]
            stacks[sid] = [args[2 + 4 * i + 1] for i in range(nframes)]
    return {sid: [strings.get(f, f"?{f}") for f in frames]
            for sid, frames in stacks.items()}


LINE = re.compile(r"^(\d+) (\w+) p=(\d+) g=(\d+) off=\d+(.*)$")


class GoTrace:
    """Per goroutine: start function, and counts of its transitions."""

    def __init__(self):
        self.start_func = {}                  # goid -> function
        self.creator = {}                     # goid -> creator goid
        self.blocks = defaultdict(lambda: defaultdict(int))  # goid -> reason -> n
        self.starts = defaultdict(int)
        self.unblocks = defaultdict(int)      # by wakee
        self.wakes = defaultdict(int)         # (waker goid, wakee goid) -> n
        self.scheds = defaultdict(int)
        self.ends = defaultdict(int)

    def goids(self, func):
        return sorted(g for g, f in self.start_func.items() if f == func)


def load(go_binary, trace_file, timeout=120):
    """Parses trace_file with `go_binary tool trace -d` (Go 1.19)."""
    r = subprocess.run([str(go_binary), "tool", "trace", "-d", str(trace_file)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"go tool trace -d exited {r.returncode}: "
                           f"{r.stderr[-500:]}")
    stacks = read_stacks(trace_file)
    t = GoTrace()
    nlines = 0
    for line in r.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        nlines += 1
        _, name, _, g, rest = m.groups()
        g = int(g)
        args = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", rest))
        if name == "GoCreate":
            ng = args["g"]
            frames = stacks.get(args["stack"], [])
            t.start_func[ng] = frames[0] if frames else None
            t.creator[ng] = g
        elif name in START:
            t.starts[g] += 1
        elif name in UNBLOCK:
            t.unblocks[args["g"]] += 1
            t.wakes[(g, args["g"])] += 1
        elif name in BLOCK_REASON:
            t.blocks[g][BLOCK_REASON[name]] += 1
        elif name in SCHED:
            t.scheds[g] += 1
        elif name == "GoEnd":
            t.ends[g] += 1
    if nlines == 0:
        raise RuntimeError(f"go tool trace -d printed no events: {r.stdout[:300]!r}"
                           f" {r.stderr[-300:]!r}")
    return t
