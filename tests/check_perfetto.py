#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Semantic checker for the Perfetto traces ctrace-bpf writes.

Decodes a trace (plain or gzip) with tests/proto/ctrace_perfetto.proto and
checks what trace_processor relies on but protoc cannot see:

  - SystemInfo.utsname with release and machine
  - trusted_packet_sequence_id on TrackEvent / interned-data packets,
    interned ids defined (after an incremental-state clear) before use
  - TrackEvent slices balanced per track, every flow with a source and a sink
  - FtraceEventBundle: cpu set, per-CPU timestamps non-decreasing inside each
    bundle and across the CPU's bundles in file order, prev_state a report
    value, each event's common pid (or sched_switch prev_pid) being the task
    last switched in on the bundle's CPU, CompactSched arrays consistent
  - no fields unknown to the schema

Usage:
  check_perfetto.py TRACE [--dump-json]   check; print a JSON summary
  check_perfetto.py --compare A B         A and B hold the same scheduling
                                          data (e.g. full vs compact encoding)
  check_perfetto.py --check-schema FULL.proto
                                          the subset proto agrees with the
                                          upstream schema (numbers, types)

Exit status: 0 ok, 1 problems found (the first ones are printed), 2 usage or
decoding error. As a module: summarize(path) returns the summary dict,
compare(a, b) the list of differences.

Summary keys (times in ns, as in the trace):
  ok, problems, warnings, counts, system_info, lost_event_cpus
  processes   [{ts, pid, ppid, cmdline, cmdline_is_comm, is_kthread}]
  threads     [{ts, tid, tgid, name}]                  from ProcessTree packets
  switches    [{ts, cpu, prev_pid, prev_comm, prev_prio, prev_state, next_pid,
                next_comm, next_prio, compact}]        in time order (all lists);
              compact ones get prev_* from the CPU's previous switch as TP does
              (None for the first on a CPU, prev_comm always None)
  wakings     [{ts, cpu, waker, pid, comm, prio, target_cpu, compact}]
              waker = the common pid (for compact: who runs on that CPU)
  wakeup_new  same shape as wakings
  newtasks    [{ts, cpu, parent, pid, comm, clone_flags}]
  renames     [{ts, cpu, common_pid, pid, oldcomm, newcomm}]
  exits       [{ts, cpu, pid, tgid, comm, prio}]
  syscalls    {"tid": [{id, ts, dur, ret, args, cpu}]} sys_enter paired with
              the thread's next sys_exit; dur and ret None if it never came
  unpaired_sys_exits  sys_exit with no sys_enter before it (normal at start)
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.join(HERE, "proto", "ctrace_perfetto.proto")

# sched_switch prev_state values as the tracepoint reports them (kernel >= 4.14).
PREV_STATES = {0, 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100}
MAX_CPUS = 1024  # trace_processor rejects bundles at or above this
SEQ_CLEARED, SEQ_NEEDS = 1, 2
TYPE_SLICE_BEGIN, TYPE_SLICE_END = 1, 2
MAX_REPORTED = 20


class DecodeError(Exception):
    pass


# ---------------------------------------------------------------- schema


def _compile(proto_path):
    """FileDescriptorSet of proto_path, compiled by protoc into a temp dir."""
    protoc = shutil.which("protoc")
    if not protoc:
        raise DecodeError("protoc not found (apt-get install protobuf-compiler)")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "schema.desc")
        subprocess.run(
            [protoc, "--proto_path=" + os.path.dirname(os.path.abspath(proto_path)),
             "--descriptor_set_out=" + out, "--include_imports",
             os.path.basename(proto_path)],
            check=True)
        with open(out, "rb") as f:
            return descriptor_pb2.FileDescriptorSet.FromString(f.read())


def _message_class(pool, name):
    desc = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


_classes = {}


def packet_class(proto_path=None):
    """The TracePacket class generated from the schema (cached per path)."""
    proto_path = os.path.abspath(proto_path or DEFAULT_PROTO)
    if proto_path not in _classes:
        pool = descriptor_pool.DescriptorPool()
        for f in _compile(proto_path).file:
            pool.Add(f)
        _classes[proto_path] = _message_class(pool, "perfetto.protos.TracePacket")
    return _classes[proto_path]


def check_schema(full_proto, subset_proto=None):
    """Differences between the subset schema and the upstream one."""
    def index(fds):
        msgs = {}

        def walk(prefix, m):
            name = prefix + "." + m.name
            msgs[name] = m
            for n in m.nested_type:
                walk(name, n)
        for f in fds.file:
            for m in f.message_type:
                walk("." + f.package, m)
        return msgs

    sub = index(_compile(subset_proto or DEFAULT_PROTO))
    full = index(_compile(full_proto))
    diffs = []
    for name, m in sorted(sub.items()):
        if name not in full:
            diffs.append("%s: not in the upstream schema" % name)
            continue
        up = {f.name: f for f in full[name].field}
        for f in m.field:
            u = up.get(f.name)
            if u is None:
                diffs.append("%s.%s: no such upstream field" % (name, f.name))
                continue
            for attr in ("number", "type", "label", "type_name"):
                if getattr(f, attr) != getattr(u, attr):
                    diffs.append("%s.%s: %s %r, upstream %r" % (
                        name, f.name, attr, getattr(f, attr), getattr(u, attr)))
            if f.options.packed != u.options.packed:
                diffs.append("%s.%s: packed %s, upstream %s" % (
                    name, f.name, f.options.packed, u.options.packed))
    return diffs


# ---------------------------------------------------------------- reading


def _varint(buf, pos):
    shift = value = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DecodeError("truncated varint at byte %d" % pos)
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def read_trace(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def iter_packets(data, cls):
    """Yields (offset, TracePacket) for each Trace.packet, in file order."""
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        if tag != (1 << 3 | 2):
            raise DecodeError("byte %d: top-level tag %#x is not Trace.packet" % (start, tag))
        n, pos = _varint(data, pos)
        if pos + n > len(data):
            raise DecodeError("byte %d: packet of %d bytes runs past the end" % (start, n))
        try:
            pkt = cls.FromString(data[pos:pos + n])
        except Exception as e:  # the C++ backend raises its own DecodeError
            raise DecodeError("byte %d: packet does not parse: %s" % (start, e))
        yield start, pkt
        pos += n


def _s64(v):
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


# ---------------------------------------------------------------- analysis


class Analysis:
    def __init__(self):
        self.problems = []
        self.warnings = []
        self.sysinfo = None
        self.processes = []
        self.threads = []
        self.counts = {"packets": 0, "bundles": 0, "ftrace_events": 0,
                       "compact_switches": 0, "compact_wakings": 0,
                       "track_events": 0, "process_tree_packets": 0}
        self.lost_cpus = set()
        # per cpu: last ts, task last switched in, list of sched events
        self.cpu_last_ts = {}
        self.cpu_cur = {}
        self.switches = []
        self.wakings = []
        self.wakeup_new = []
        self.newtasks = []
        self.renames = []
        self.exits = []
        self.sys_events = []  # (ts, seq, tid, kind, id, value, cpu)
        # (cpu, pid switched in) -> [events there by another pid, first messages]
        self.mismatch = {}
        self.authors = set()  # pids seen doing something (common pid, prev_pid)
        self.seq = 0
        # track events
        self.seq_state = {}  # seq id -> dict of interned tables, or None
        self.seq_defaults = {}
        self.slice_events = []  # (ts, order, track, type, name)
        self.flows = {}  # id -> list of (ts, order, terminating)
        self.descriptors = set()
        self.bundle_before_sysinfo = False

    def problem(self, msg):
        self.problems.append(msg)

    def unknown(self, msg, where):
        try:
            if len(msg.UnknownFields()):
                self.problem("%s: fields unknown to the schema" % where)
        except (AttributeError, NotImplementedError):
            pass

    # ---- packets

    def packet(self, off, pkt):
        self.counts["packets"] += 1
        where = "packet at byte %d" % off
        self.unknown(pkt, where)
        kind = pkt.WhichOneof("data")
        seq = pkt.trusted_packet_sequence_id
        if kind == "system_info":
            self.system_info(pkt.system_info, where)
        elif kind == "process_tree":
            self.process_tree(pkt, where)
        elif kind == "ftrace_events":
            if self.sysinfo is None:
                self.bundle_before_sysinfo = True
            self.bundle(pkt.ftrace_events, where)
        elif kind == "track_descriptor":
            self.descriptors.add(pkt.track_descriptor.uuid)
        if pkt.HasField("trace_packet_defaults") and seq:
            d = pkt.trace_packet_defaults
            if d.HasField("track_event_defaults") and \
                    d.track_event_defaults.HasField("track_uuid"):
                self.seq_defaults[seq] = d.track_event_defaults.track_uuid
        uses_seq = kind == "track_event" or pkt.HasField("interned_data")
        if uses_seq and not seq:
            self.problem("%s: %s without trusted_packet_sequence_id" % (
                where, "TrackEvent" if kind == "track_event" else "interned_data"))
            return
        if seq:
            self.incremental(pkt, seq, where)
        if kind == "track_event":
            self.track_event(pkt, seq, where)

    def system_info(self, si, where):
        u = si.utsname
        self.unknown(si, where)
        self.unknown(u, where)
        self.sysinfo = {"sysname": u.sysname, "release": u.release,
                        "version": u.version, "machine": u.machine,
                        "num_cpus": si.num_cpus if si.HasField("num_cpus") else None}
        if not u.release:
            self.problem("%s: SystemInfo.utsname.release missing" % where)
        if not u.machine:
            self.problem("%s: SystemInfo.utsname.machine missing" % where)

    def process_tree(self, pkt, where):
        self.counts["process_tree_packets"] += 1
        ts = pkt.timestamp if pkt.HasField("timestamp") else None
        if ts is None:
            self.warnings.append("%s: ProcessTree without timestamp" % where)
        self.unknown(pkt.process_tree, where)
        for p in pkt.process_tree.processes:
            self.unknown(p, where)
            if not p.cmdline:
                self.warnings.append("%s: process %d has no cmdline (ignored by TP)" % (
                    where, p.pid))
            self.processes.append({"ts": ts, "pid": p.pid, "ppid": p.ppid,
                                   "cmdline": list(p.cmdline),
                                   "cmdline_is_comm": p.cmdline_is_comm,
                                   "is_kthread": p.is_kthread})
        for t in pkt.process_tree.threads:
            self.unknown(t, where)
            self.threads.append({"ts": ts, "tid": t.tid, "tgid": t.tgid, "name": t.name})

    # ---- ftrace

    def bundle(self, b, where):
        self.counts["bundles"] += 1
        self.unknown(b, where)
        if not b.HasField("cpu"):
            self.problem("%s: FtraceEventBundle without cpu" % where)
            return
        cpu = b.cpu
        if cpu >= MAX_CPUS:
            self.problem("%s: cpu %d >= %d" % (where, cpu, MAX_CPUS))
            return
        if b.lost_events:
            self.lost_cpus.add(cpu)
        where = "%s (cpu %d)" % (where, cpu)
        evs = []  # (ts, group, index, kind, data)
        if b.HasField("compact_sched"):
            evs += self.compact(b.compact_sched, where)
        last = None
        for i, e in enumerate(b.event):
            self.counts["ftrace_events"] += 1
            self.unknown(e, where)
            if not e.HasField("timestamp"):
                self.problem("%s: event %d without timestamp" % (where, i))
                continue
            if last is not None and e.timestamp < last:
                self.problem("%s: event %d at %d goes back in time (after %d)" % (
                    where, i, e.timestamp, last))
            last = e.timestamp
            kind = e.WhichOneof("event")
            if kind is None:
                self.problem("%s: event %d at %d has no known payload" % (
                    where, i, e.timestamp))
                continue
            self.unknown(getattr(e, kind), where)
            evs.append((e.timestamp, 2, i, kind, e))
        # trace_processor queues a bundle's compact events before its full
        # ones and orders by timestamp: mirror that to know who is running.
        evs.sort(key=lambda x: (x[0], x[1], x[2]))
        if evs:
            prev = self.cpu_last_ts.get(cpu)
            if prev is not None and evs[0][0] < prev:
                self.problem("%s: starts at %d, before the end of the previous "
                             "bundle of this cpu (%d)" % (where, evs[0][0], prev))
            self.cpu_last_ts[cpu] = evs[-1][0]
        for ts, group, _, kind, e in evs:
            self.sched_event(cpu, ts, kind, e, group < 2, where)

    def compact(self, cs, where):
        self.unknown(cs, where)
        out = []
        table = list(cs.intern_table)
        sw = [cs.switch_timestamp, cs.switch_prev_state, cs.switch_next_pid,
              cs.switch_next_prio, cs.switch_next_comm_index]
        wk = [cs.waking_timestamp, cs.waking_pid, cs.waking_target_cpu,
              cs.waking_prio, cs.waking_comm_index]
        if len({len(a) for a in sw}) > 1:
            self.problem("%s: compact_sched switch arrays differ in length %s" % (
                where, [len(a) for a in sw]))
            return out
        if len({len(a) for a in wk}) > 1:
            self.problem("%s: compact_sched waking arrays differ in length %s" % (
                where, [len(a) for a in wk]))
            return out
        if len(cs.waking_common_flags) not in (0, len(cs.waking_pid)):
            self.problem("%s: compact_sched waking_common_flags length" % where)
        acc = 0
        for i in range(len(sw[0])):
            acc = _s64(acc + sw[0][i])
            if sw[0][i] >> 63:
                self.problem("%s: compact switch %d has a negative delta" % (where, i))
            idx = sw[4][i]
            if idx >= len(table):
                self.problem("%s: compact switch %d comm index %d out of range" % (
                    where, i, idx))
                return out
            out.append((acc, 0, i, "compact_switch",
                        (sw[1][i], sw[2][i], sw[3][i], table[idx])))
            self.counts["compact_switches"] += 1
        acc = 0
        for i in range(len(wk[0])):
            acc = _s64(acc + wk[0][i])
            if wk[0][i] >> 63:
                self.problem("%s: compact waking %d has a negative delta" % (where, i))
            idx = wk[4][i]
            if idx >= len(table):
                self.problem("%s: compact waking %d comm index %d out of range" % (
                    where, i, idx))
                return out
            out.append((acc, 1, i, "compact_waking",
                        (wk[1][i], wk[2][i], wk[3][i], table[idx])))
            self.counts["compact_wakings"] += 1
        return out

    def check_state(self, state, ts, where):
        if state not in PREV_STATES:
            self.problem("%s: prev_state %#x at %d is not a report value" % (
                where, state, ts))

    def not_current(self, cpu, ts, who, what, where):
        cur = self.cpu_cur.get(cpu)
        if cur is None or cur[0] == who:
            return
        m = self.mismatch.setdefault((cpu, cur[0]), [0, []])
        m[0] += 1
        if len(m[1]) < 3:
            m[1].append("%s: %s at %d by pid %d, but pid %d runs there" % (
                where, what, ts, who, cur[0]))

    def sched_event(self, cpu, ts, kind, e, compact, where):
        self.seq += 1
        if kind == "compact_switch":
            state, npid, nprio, ncomm = e
            self.check_state(state, ts, where)
            cur = self.cpu_cur.get(cpu)
            sw = {"ts": ts, "cpu": cpu, "prev_pid": cur[0] if cur else None,
                  "prev_comm": None, "prev_prio": cur[1] if cur else None,
                  "prev_state": state, "next_pid": npid, "next_comm": ncomm,
                  "next_prio": nprio, "compact": True}
            self.switches.append(sw)
            self.cpu_cur[cpu] = (npid, nprio)
            return
        if kind == "compact_waking":
            pid, tcpu, prio, comm = e
            cur = self.cpu_cur.get(cpu)
            if cur is None:
                self.warnings.append("%s: compact waking at %d before any switch "
                                     "(dropped by TP)" % (where, ts))
                return
            self.wakings.append({"ts": ts, "cpu": cpu, "waker": cur[0], "pid": pid,
                                 "comm": comm, "prio": prio, "target_cpu": tcpu,
                                 "compact": True})
            return
        common = e.pid
        p = getattr(e, kind)
        if kind == "sched_switch":
            self.check_state(p.prev_state, ts, where)
            if e.HasField("pid") and common != p.prev_pid:
                self.problem("%s: sched_switch at %d: common pid %d != prev_pid %d" % (
                    where, ts, common, p.prev_pid))
            self.not_current(cpu, ts, p.prev_pid, "sched_switch out", where)
            self.authors.add(p.prev_pid)
            self.switches.append({"ts": ts, "cpu": cpu, "prev_pid": p.prev_pid,
                                  "prev_comm": p.prev_comm, "prev_prio": p.prev_prio,
                                  "prev_state": p.prev_state, "next_pid": p.next_pid,
                                  "next_comm": p.next_comm, "next_prio": p.next_prio,
                                  "compact": False})
            self.cpu_cur[cpu] = (p.next_pid, p.next_prio)
            return
        self.not_current(cpu, ts, common, kind, where)
        self.authors.add(common)
        if kind in ("sched_waking", "sched_wakeup_new"):
            rec = {"ts": ts, "cpu": cpu, "waker": common, "pid": p.pid, "comm": p.comm,
                   "prio": p.prio, "target_cpu": p.target_cpu, "compact": False}
            (self.wakings if kind == "sched_waking" else self.wakeup_new).append(rec)
        elif kind == "task_newtask":
            self.newtasks.append({"ts": ts, "cpu": cpu, "parent": common, "pid": p.pid,
                                  "comm": p.comm, "clone_flags": p.clone_flags})
        elif kind == "task_rename":
            self.renames.append({"ts": ts, "cpu": cpu, "common_pid": common, "pid": p.pid,
                                 "oldcomm": p.oldcomm if p.HasField("oldcomm") else None,
                                 "newcomm": p.newcomm})
        elif kind == "sched_process_exit":
            self.exits.append({"ts": ts, "cpu": cpu, "pid": p.pid, "tgid": p.tgid,
                               "comm": p.comm, "prio": p.prio})
        elif kind == "sys_enter":
            self.sys_events.append((ts, self.seq, common, 0, p.id, list(p.args), cpu))
        elif kind == "sys_exit":
            self.sys_events.append((ts, self.seq, common, 1, p.id, p.ret, cpu))

    # ---- track events

    def incremental(self, pkt, seq, where):
        flags = pkt.sequence_flags
        if flags & SEQ_CLEARED or pkt.incremental_state_cleared:
            self.seq_state[seq] = {"names": set(), "cats": set(), "annot": set(),
                                   "strings": set()}
        st = self.seq_state.get(seq)
        if flags & SEQ_NEEDS and st is None:
            self.problem("%s: SEQ_NEEDS_INCREMENTAL_STATE on sequence %d before any "
                         "SEQ_INCREMENTAL_STATE_CLEARED (TP skips it)" % (where, seq))
        if pkt.HasField("interned_data"):
            if st is None:
                self.problem("%s: interned_data on sequence %d before a clear" % (
                    where, seq))
                return
            d = pkt.interned_data
            for key, entries in (("names", d.event_names), ("cats", d.event_categories),
                                 ("annot", d.debug_annotation_names),
                                 ("strings", d.debug_annotation_string_values)):
                for x in entries:
                    if not x.iid:
                        self.problem("%s: interned entry with iid 0" % where)
                    st[key].add(x.iid)

    def need_iid(self, seq, key, iid, what, where):
        st = self.seq_state.get(seq)
        if st is None or iid not in st[key]:
            self.problem("%s: %s iid %d used before it is defined on sequence %d" % (
                where, what, iid, seq))

    def annotations(self, seq, anns, where):
        for a in anns:
            if a.HasField("name_iid"):
                self.need_iid(seq, "annot", a.name_iid, "debug annotation name", where)
            if a.HasField("string_value_iid"):
                self.need_iid(seq, "strings", a.string_value_iid,
                              "debug annotation string", where)
            self.annotations(seq, a.dict_entries, where)
            self.annotations(seq, a.array_values, where)

    def track_event(self, pkt, seq, where):
        self.counts["track_events"] += 1
        te = pkt.track_event
        self.unknown(te, where)
        if not pkt.HasField("timestamp"):
            self.problem("%s: TrackEvent without timestamp" % where)
        ts = pkt.timestamp
        uses_iids = False
        if te.HasField("name_iid"):
            uses_iids = True
            self.need_iid(seq, "names", te.name_iid, "event name", where)
        for c in te.category_iids:
            uses_iids = True
            self.need_iid(seq, "cats", c, "category", where)
        self.annotations(seq, te.debug_annotations, where)
        if uses_iids and not pkt.sequence_flags & SEQ_NEEDS:
            self.warnings.append("%s: uses interned ids without "
                                 "SEQ_NEEDS_INCREMENTAL_STATE" % where)
        track = te.track_uuid if te.HasField("track_uuid") else self.seq_defaults.get(seq, 0)
        order = self.counts["packets"]
        if te.type in (TYPE_SLICE_BEGIN, TYPE_SLICE_END):
            self.slice_events.append((ts, order, track, te.type, where))
        for f in te.flow_ids:
            self.flows.setdefault(f, []).append((ts, order, False))
        for f in te.terminating_flow_ids:
            self.flows.setdefault(f, []).append((ts, order, True))
        if track and track not in self.descriptors:
            self.warnings.append("%s: track %d has no TrackDescriptor yet" % (where, track))

    # ---- end

    def finish(self):
        if self.sysinfo is None:
            self.problem("no SystemInfo packet")
        elif self.bundle_before_sysinfo:
            self.warnings.append("SystemInfo comes after ftrace data")
        # Events not from the task last switched in on their CPU: a writer
        # putting events in the wrong bundle, or data loss. A task switched in
        # that never shows up doing anything means its own events were never
        # recorded (some sandboxes hide their agent), not a writer bug.
        for (cpu, pid), (n, msgs) in sorted(self.mismatch.items()):
            msg = "cpu %d: %d events while pid %d should be running there" % (cpu, n, pid)
            if cpu in self.lost_cpus:
                self.warnings.append(msg + " (cpu has lost events)")
            elif pid not in self.authors:
                self.warnings.append(msg + " (pid %d never appears running: "
                                     "its events are missing)" % pid)
            else:
                self.problems.append(msg)
                self.problems.extend(msgs)
        # slices, in the order TP sees them (timestamp, then file order)
        depth = {}
        for ts, _, track, typ, where in sorted(self.slice_events, key=lambda x: x[:2]):
            d = depth.get(track, 0)
            if typ == TYPE_SLICE_END:
                if d == 0:
                    self.problem("%s: SLICE_END at %d on track %d with no open slice" % (
                        where, ts, track))
                    continue
                depth[track] = d - 1
            else:
                depth[track] = d + 1
        for track, d in sorted(depth.items()):
            if d:
                self.problem("track %d: %d slice(s) never ended" % (track, d))
        for fid, uses in sorted(self.flows.items()):
            uses.sort(key=lambda x: x[:2])
            if uses[0][2]:
                self.problem("flow %#x: terminated at %d without a source" % (fid, uses[0][0]))
            elif len(uses) < 2:
                self.problem("flow %#x: source at %d has no sink" % (fid, uses[0][0]))
        self.pair_syscalls()

    def pair_syscalls(self):
        self.syscalls = {}
        pending = {}
        unpaired_exits = 0
        for ts, _, tid, kind, sid, val, cpu in sorted(self.sys_events, key=lambda x: x[:2]):
            calls = self.syscalls.setdefault(str(tid), [])
            if kind == 0:
                # an enter while one is pending (lost sys_exit) leaves that
                # one open-ended
                calls.append({"id": sid, "ts": ts, "dur": None, "ret": None,
                              "args": val, "cpu": cpu})
                pending[tid] = calls[-1]
                continue
            c = pending.pop(tid, None)
            if c is None:
                unpaired_exits += 1
                continue
            if c["id"] != sid:
                self.warnings.append("tid %d: sys_exit(%d) at %d closes sys_enter(%d)" % (
                    tid, sid, ts, c["id"]))
            c["dur"] = ts - c["ts"]
            c["ret"] = val
        self.unpaired_exits = unpaired_exits

    def summary(self):
        # gathered bundle by bundle; tests want plain time order
        for lst in (self.switches, self.wakings, self.wakeup_new, self.newtasks,
                    self.renames, self.exits):
            lst.sort(key=lambda x: x["ts"])
        return {
            "ok": not self.problems,
            "problems": self.problems,
            "warnings": self.warnings,
            "counts": self.counts,
            "system_info": self.sysinfo,
            "lost_event_cpus": sorted(self.lost_cpus),
            "processes": self.processes,
            "threads": self.threads,
            "switches": self.switches,
            "wakings": self.wakings,
            "wakeup_new": self.wakeup_new,
            "newtasks": self.newtasks,
            "renames": self.renames,
            "exits": self.exits,
            "syscalls": self.syscalls,
            "unpaired_sys_exits": self.unpaired_exits,
        }


def summarize(path, proto=None):
    """Checks the trace at path; returns the summary dict (see --dump-json)."""
    cls = packet_class(proto)
    a = Analysis()
    for off, pkt in iter_packets(read_trace(path), cls):
        a.packet(off, pkt)
    a.finish()
    return a.summary()


def _without_first_switch(switches):
    seen, out = set(), []
    for s in switches:
        if s["cpu"] in seen:
            out.append(s)
        seen.add(s["cpu"])
    return out


SWITCH_KEYS = ("ts", "cpu", "prev_pid", "prev_prio", "prev_state", "next_pid",
               "next_comm", "next_prio")
WAKING_KEYS = ("ts", "cpu", "waker", "pid", "comm", "prio", "target_cpu")


def compare(a, b, proto=None):
    """Differences in scheduling data between traces a and b (paths or summaries).

    The first switch per cpu is skipped on both sides: a compact one only
    seeds trace_processor's state. prev_comm is not compared (compact
    switches do not carry it); the encoding flag neither.
    """
    sa = a if isinstance(a, dict) else summarize(a, proto)
    sb = b if isinstance(b, dict) else summarize(b, proto)
    diffs = []

    def cmp_list(name, la, lb, keys):
        ta = [tuple(x[k] for k in keys) for x in la]
        tb = [tuple(x[k] for k in keys) for x in lb]
        if ta == tb:
            return
        if len(ta) != len(tb):
            diffs.append("%s: %d vs %d" % (name, len(ta), len(tb)))
        for i, (x, y) in enumerate(zip(ta, tb)):
            if x != y:
                diffs.append("%s[%d]: %s vs %s" % (name, i, dict(zip(keys, x)),
                                                   dict(zip(keys, y))))
                break

    def by_cpu_ts(lst):
        return sorted(lst, key=lambda s: (s["cpu"], s["ts"]))

    cmp_list("switches", by_cpu_ts(_without_first_switch(sa["switches"])),
             by_cpu_ts(_without_first_switch(sb["switches"])), SWITCH_KEYS)
    cmp_list("wakings", by_cpu_ts(sa["wakings"]), by_cpu_ts(sb["wakings"]), WAKING_KEYS)
    for name in ("wakeup_new", "newtasks", "renames", "exits", "processes", "threads"):
        if sa[name] != sb[name]:
            diffs.append("%s differ" % name)
    if sa["syscalls"] != sb["syscalls"]:
        diffs.append("syscalls differ")
    for name, s in (("A", sa), ("B", sb)):
        if s["problems"]:
            diffs.append("%s has problems: %s" % (name, s["problems"][0]))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", nargs="?")
    ap.add_argument("--dump-json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    ap.add_argument("--check-schema", metavar="FULL_PROTO")
    ap.add_argument("--proto", help="schema to decode with (default: the subset)")
    args = ap.parse_args()
    try:
        if args.check_schema:
            diffs = check_schema(args.check_schema, args.proto)
            for d in diffs[:MAX_REPORTED]:
                print(d, file=sys.stderr)
            return 1 if diffs else 0
        if args.compare:
            diffs = compare(args.compare[0], args.compare[1], args.proto)
            for d in diffs[:MAX_REPORTED]:
                print(d, file=sys.stderr)
            return 1 if diffs else 0
        if not args.trace:
            ap.error("a trace, --compare or --check-schema is needed")
        s = summarize(args.trace, args.proto)
    except (DecodeError, OSError, EOFError, subprocess.CalledProcessError) as e:
        print("check_perfetto: %s" % e, file=sys.stderr)
        return 2
    if args.dump_json:
        json.dump(s, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    for p in s["problems"][:MAX_REPORTED]:
        print("problem: %s" % p, file=sys.stderr)
    if len(s["problems"]) > MAX_REPORTED:
        print("... %d more problems" % (len(s["problems"]) - MAX_REPORTED), file=sys.stderr)
    return 1 if s["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
