"""CPU samples (`--freq HZ`): a cpu-clock perf event per CPU runs a BPF
program that records the sampled thread's goroutine and user stack
(EV_CPU_SAMPLE). Facts are read back from the capture with tests/ctrlib.py,
from cpu-goroutines.pb.gz (decoded with tests/proto/profile.proto and read
by `go tool pprof`) and from the Perfetto trace (decoded with
tests/proto/ctrace_perfetto.proto, each PerfSample's callstack resolved
through the sequence's interned data).

- test_cpusample_go: tests/goprogs/cpubound (Go 1.19, plain) launched with
  `--freq 499 --pprof-out`: samples of its threads only, each weighing
  1e9/499 ns; as many as its on-CPU time (from sched_switch) allows, within
  a wide tolerance; `go tool pprof -top` opens the profile and names
  main.spin first; the Perfetto trace has PerfSample packets whose
  callstacks resolve, main.spin the leaf of most; the report's CPU samples
  section (labelled sampled) lists main.spin first.
- test_cpusample_goids: the same with `--goroutines sampled`, where the
  goroutine is read from the thread's TLS: main.spin's samples carry the
  goid of a real goroutine (pprof label `goid`, usable with -tagfocus).
  SKIPs while the binary has no --goroutines option.
- test_cpusample_c: a C program (tests/workloads/spinner.c) gets samples
  too, with goid -1 and no goid label.
- test_cpusample_off: --freq 0 records no sample and writes no
  cpu-goroutines.pb.gz.
- test_cpusample_bad_freq: bad values exit 2 with one line.
"""

from collections import Counter

import check_perfetto
import ctrlib
from harness import (TESTS, Skip, check, check_one_error_line, ctrace,
                     need_root, run, workload)

HZ = 499
PERIOD_NS = 10**9 // HZ
GOROUTINES = 20
CPUBOUND_ARGS = (GOROUTINES, 20000000)  # about 20 ms of CPU each


def _binary(prog):
    """tests/goprogs/PROG built with the host's Go 1.19 (build-matrix.sh)."""
    import test_gotrace
    return test_gotrace.binary(prog)


def _record(tmp, argv, *extra):
    ctr = tmp / "s.ctr"
    prof = tmp / "prof"
    r = ctrace("-q", "-o", ctr, "--pprof-out", prof, *extra, "--", *argv, timeout=180)
    check(r.returncode == 0, f"ctrace-bpf exited {r.returncode}: {r.stderr[-500:]!r}")
    return ctr, prof


def _samples(cap, tgid):
    return [r for r in cap.records if r.type == ctrlib.EV_CPU_SAMPLE and r.tgid == tgid]


def _target_tgid(cap, binary):
    """The launched command: the process that exec'd it."""
    name = str(binary).rsplit("/", 1)[-1]
    execs = [r for r in cap.records if r.type == ctrlib.EV_PROCESS_EXEC
             and r.filename.rsplit("/", 1)[-1] == name]
    check(len(execs) == 1, f"{len(execs)} exec records of {name}")
    return execs[0].tgid


def _syms(cap, tgid):
    """{pc: innermost function} from the capture's REC_GO_SYM records."""
    out = {}
    for r in cap.records:
        if r.type == ctrlib.REC_GO_SYM and r.tgid == tgid and not r.flags & 1 \
                and not (r.flags >> 8) & 0xff:
            out[r.pc] = r.func
    return out


def _on_cpu_ns(cap, tgid):
    """Time tgid's threads ran, from sched_switch: per CPU, from a switch
    into one of them to the next switch out of it."""
    since, total = {}, 0
    for r in sorted((r for r in cap.records if r.type == ctrlib.EV_SCHED_SWITCH),
                    key=lambda r: r.ts):
        if r.prev_tgid == tgid and r.cpu in since:
            total += r.ts - since.pop(r.cpu)
        if r.next_tgid == tgid:
            since[r.cpu] = r.ts
    return total


def _profile(path):
    """cpu-goroutines.pb.gz as a Profile message (tests/proto/profile.proto)."""
    import gzip
    fds = check_perfetto._compile(str(TESTS / "proto" / "profile.proto"))
    pool = check_perfetto.descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    cls = check_perfetto._message_class(pool, "perftools.profiles.Profile")
    return cls.FromString(gzip.decompress(path.read_bytes()))


def _labels(prof):
    """[(value ns, {key: str or num})] per sample."""
    st = prof.string_table
    out = []
    for s in prof.sample:
        lab = {st[l.key]: (st[l.str] if l.str else l.num) for l in s.label}
        out.append((s.value[1], lab))
    return out


def _perfetto_samples(path):
    """[(tid, [function names, outermost first])] of every PerfSample, each
    callstack resolved through the interned data of its sequence, which
    must define every id before it is used."""
    cls = check_perfetto.packet_class()
    tables, out = {}, []
    for off, pkt in check_perfetto.iter_packets(check_perfetto.read_trace(path), cls):
        seq = pkt.trusted_packet_sequence_id
        if pkt.sequence_flags & 1:
            tables[seq] = {"fn": {}, "frame": {}, "stack": {}, "map": {}}
        if pkt.HasField("interned_data"):
            t = tables.get(seq)
            d = pkt.interned_data
            if d.function_names or d.frames or d.callstacks or d.mappings:
                check(t is not None, f"byte {off}: interned callstacks before a clear")
                t["fn"].update((x.iid, x.str.decode()) for x in d.function_names)
                t["map"].update((x.iid, x) for x in d.mappings)
                t["frame"].update((x.iid, x) for x in d.frames)
                t["stack"].update((x.iid, list(x.frame_ids)) for x in d.callstacks)
        if not pkt.HasField("perf_sample"):
            continue
        ps = pkt.perf_sample
        t = tables.get(seq)
        check(t and ps.callstack_iid in t["stack"],
              f"byte {off}: PerfSample callstack {ps.callstack_iid} undefined")
        names = []
        for fid in t["stack"][ps.callstack_iid]:
            fr = t["frame"].get(fid)
            check(fr is not None, f"byte {off}: frame {fid} undefined")
            check(fr.mapping_id in t["map"], f"byte {off}: mapping {fr.mapping_id} undefined")
            check(fr.function_name_id in t["fn"],
                  f"byte {off}: function name {fr.function_name_id} undefined")
            names.append(t["fn"][fr.function_name_id])
        out.append((ps.tid, names))
    return out


def test_cpusample_go(tmp):
    need_root()
    bin_ = _binary("cpubound")
    ctr, prof = _record(tmp, [bin_, *CPUBOUND_ARGS], "--freq", HZ)
    cap = ctrlib.load(ctr)
    tgid = _target_tgid(cap, bin_)
    all_samples = [r for r in cap.records if r.type == ctrlib.EV_CPU_SAMPLE]
    mine = _samples(cap, tgid)
    check(mine, "no CPU sample of the Go program")
    others = Counter(r.tgid for r in all_samples if r.tgid != tgid)
    check(not others, f"samples of processes that are not targets: {dict(others)}")
    periods = Counter(r.period_ns for r in mine)
    check(all(abs(p - PERIOD_NS) <= PERIOD_NS // 100 for p in periods),
          f"sample periods {dict(periods)}, want about {PERIOD_NS} ns")
    # Plausible for the CPU time: sampling is statistical, so a wide band.
    on_cpu = _on_cpu_ns(cap, tgid)
    want = on_cpu / PERIOD_NS
    check(want >= 50, f"the program ran only {on_cpu / 1e6:.0f} ms: too little to judge")
    check(0.5 * want <= len(mine) <= 1.5 * want,
          f"{len(mine)} samples for {on_cpu / 1e6:.0f} ms on CPU (want about {want:.0f})")
    # The leaf of most samples is the busy function.
    syms = _syms(cap, tgid)
    leaves = Counter(syms.get(r.stack[0] + 1, "?") for r in mine if r.stack)
    check(leaves and leaves.most_common(1)[0][0] == "main.spin",
          f"sampled leaf functions: {leaves.most_common(5)}")
    # go tool pprof reads the profile; its top function is the busy one.
    path = prof / "cpu-goroutines.pb.gz"
    check(path.exists(), f"no {path}")
    r = run(["go", "tool", "pprof", "-top", path], timeout=120)
    check(r.returncode == 0, f"go tool pprof -top: {r.stderr[-300:]!r}")
    lines = r.stdout.splitlines()
    head = [i for i, l in enumerate(lines) if l.split()[:2] == ["flat", "flat%"]]
    check(head and len(lines) > head[0] + 1 and lines[head[0] + 1].split()[-1] == "main.spin",
          f"pprof -top:\n{r.stdout[-1500:]}")
    check("sampled" in r.stdout, f"the profile does not say it is sampled:\n{r.stdout[:400]}")
    p = _profile(path)
    st = p.string_table
    check([(st[t.type], st[t.unit]) for t in p.sample_type] ==
          [("samples", "count"), ("cpu", "nanoseconds")],
          f"sample types {[(st[t.type], st[t.unit]) for t in p.sample_type]}")
    total = sum(s.value[0] for s in p.sample)
    check(total == len(mine), f"profile has {total} samples, the capture {len(mine)}")
    # The report: a CPU samples section, labelled sampled, main.spin first.
    r = ctrace("report", ctr, "--top", "5")
    check(r.returncode == 0, f"report: {r.stderr!r}")
    sec = r.stdout.split("CPU samples (sampled: ", 1)
    check(len(sec) == 2, f"no CPU samples section in the report:\n{r.stdout[-1500:]}")
    rows = [l.split() for l in sec[1].splitlines()[1:4]]
    check(rows[0][0] == "FUNCTION" and rows[1][0] == "main.spin",
          f"report's CPU samples section:\n{sec[1][:600]}")
    # Perfetto: a PerfSample per sample, callstacks that resolve.
    pf = tmp / "s.pftrace"
    r = ctrace("convert", ctr, "-o", pf)
    check(r.returncode == 0, f"convert: {r.stderr!r}")
    summary = check_perfetto.summarize(str(pf))
    check(summary["ok"], f"check_perfetto: {summary['problems'][:5]}")
    ps = _perfetto_samples(pf)
    check(len(ps) == len(all_samples), f"{len(ps)} PerfSamples for {len(all_samples)} samples")
    leaf = Counter(names[-1] for _, names in ps)
    check(leaf.most_common(1)[0][0] == "main.spin", f"Perfetto leaves: {leaf.most_common(5)}")


def _has_sampled_mode():
    r = ctrace("--help")
    return "--goroutines" in r.stdout


def test_cpusample_goids(tmp):
    need_root()
    if not _has_sampled_mode():
        raise Skip("no --goroutines option in this build: goids come from the TLS "
                   "configuration that sampled mode writes")
    bin_ = _binary("cpubound")
    ctr, prof = _record(tmp, [bin_, *CPUBOUND_ARGS], "--freq", HZ,
                        "--goroutines", "sampled")
    cap = ctrlib.load(ctr)
    tgid = _target_tgid(cap, bin_)
    syms = _syms(cap, tgid)
    spin = [r for r in _samples(cap, tgid)
            if r.stack and syms.get(r.stack[0] + 1) == "main.spin"]
    check(len(spin) >= 20, f"only {len(spin)} samples in main.spin")
    goids = Counter(r.goid for r in spin)
    # main is goroutine 1, runtime goroutines take a few ids: the spinners'
    # are just above, one each.
    check(all(0 < g <= GOROUTINES + 64 for g in goids),
          f"main.spin sampled on goids {sorted(goids)}")
    check(len(goids) >= GOROUTINES // 2,
          f"main.spin samples on {len(goids)} goroutines, want most of {GOROUTINES}")
    labelled = Counter(lab.get("goid") for _, lab in _labels(_profile(prof / "cpu-goroutines.pb.gz")))
    check(set(goids) <= set(labelled), f"goid labels {sorted(labelled, key=str)} lack {sorted(goids)}")
    g = goids.most_common(1)[0][0]
    r = run(["go", "tool", "pprof", f"-tagfocus=goid={g}", "-top",
             prof / "cpu-goroutines.pb.gz"], timeout=120)
    check(r.returncode == 0 and "main.spin" in r.stdout,
          f"pprof -tagfocus=goid={g}: {r.stdout[-800:]} {r.stderr[-300:]}")


def test_cpusample_c(tmp):
    need_root()
    spinner = workload("spinner")
    ctr, prof = _record(tmp, [spinner, "1500"], "--freq", HZ)
    cap = ctrlib.load(ctr)
    tgid = _target_tgid(cap, spinner)
    mine = _samples(cap, tgid)
    check(len(mine) >= 3, f"{len(mine)} samples of the spinner")
    check(all(r.goid == -1 for r in mine),
          f"goids of a C program: {Counter(r.goid for r in mine)}")
    check(any(r.stack for r in mine), "no sample has a user stack")
    labs = _labels(_profile(prof / "cpu-goroutines.pb.gz"))
    check(labs and all("goid" not in lab and lab.get("pid") == tgid for _, lab in labs),
          f"profile labels {labs[:5]}")


def test_cpusample_off(tmp):
    need_root()
    ctr, prof = _record(tmp, [workload("spinner"), "300"], "--freq", "0")
    cap = ctrlib.load(ctr)
    n = sum(r.type == ctrlib.EV_CPU_SAMPLE for r in cap.records)
    check(n == 0, f"{n} samples with --freq 0")
    check(not (prof / "cpu-goroutines.pb.gz").exists(), "cpu profile without samples")


def test_cpusample_bad_freq(tmp):
    for bad in ("abc", "-1", "10001", "", "5x"):
        r = ctrace("--freq", bad, "-o", tmp / "x.ctr", "--", "true")
        check(r.returncode == 2, f"--freq {bad!r}: exit {r.returncode}, want 2")
        line = check_one_error_line(r, f"--freq {bad!r}")
        check("frequency" in line, f"--freq {bad!r}: {line!r}")
    r = ctrace("-o", tmp / "x.ctr", "--freq")
    check(r.returncode == 2, f"--freq without a value: exit {r.returncode}")
    check_one_error_line(r, "--freq without a value")
    check(not (tmp / "x.ctr").exists(), "a capture was written anyway")
