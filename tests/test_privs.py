"""Privileges and files: under sudo the command, the outputs, the conversion
and the reports belong to the invoking user; files are created exclusively
(never through a symlink) and renamed into place; nothing recorded is lost to
a later failure. Sudo is emulated with SUDO_UID/SUDO_GID in the environment
of a root ctrace-bpf, which is all sudo hands over."""

import json
import os
import re
import signal
import stat
import subprocess
import time

from harness import (CTRACE, check, ctrace, mount_tmpfs, need_ctrace, need_root, spawn,
                     run, workload)
import ctrlib
import traces
from test_report import synthetic

NOBODY = 65534


def sudo_env(uid=NOBODY, gid=NOBODY):
    env = dict(os.environ)
    env["SUDO_UID"] = str(uid)
    env["SUDO_GID"] = str(gid)
    return env


def open_dir(tmp):
    """tmp made writable for nobody, as a user's own directory would be."""
    os.chmod(tmp, 0o777)
    return tmp


def owned(path, uid, mode):
    st = os.lstat(path)
    check(stat.S_ISREG(st.st_mode), f"{path} is not a regular file")
    check(st.st_uid == uid, f"{path} owned by {st.st_uid}, want {uid}")
    check(stat.S_IMODE(st.st_mode) == mode,
          f"{path} mode {stat.S_IMODE(st.st_mode):o}, want {mode:o}")


def test_privs_sudo_cmd_runs_as_invoker(tmp):
    """Under sudo, `-- id -u` prints the invoking user's uid, with that user's
    groups, no blocked or ignored signal; the capture is theirs, mode 0600."""
    need_root()
    open_dir(tmp)
    out = tmp / "x.ctr"
    r = ctrace("-q", "-o", out, "--", "sh", "-c",
               "id -u; id -G; grep -E '^Sig(Blk|Ign):' /proc/self/status",
               env=sudo_env(), timeout=60)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    lines = r.stdout.split("\n")
    check(lines[0] == str(NOBODY), f"command ran as uid {lines[0]!r}, want {NOBODY}")
    check(lines[1].split() == [str(NOBODY)], f"groups {lines[1]!r}, want {NOBODY} only")
    for l in lines[2:4]:
        check(l.split()[1] == "0" * 16, f"signals not at their defaults: {l!r}")
    owned(out, NOBODY, 0o600)
    recs, truncated = ctrlib.read_records(out)
    check(not truncated and recs, "the capture does not read back")


def test_privs_sudo_outputs_owned(tmp):
    """Converted outputs, the pprof directory and its profiles belong to the
    invoking user; no temporary file is left."""
    need_root()
    open_dir(tmp)
    out = tmp / "x.pftrace"
    prof = tmp / "prof"
    r = ctrace("-q", "-o", out, "--pprof-out", prof, "--", workload("writer"), 200,
               env=sudo_env(), timeout=60)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
    owned(out, NOBODY, 0o600)
    st = os.lstat(prof)
    check(stat.S_ISDIR(st.st_mode) and st.st_uid == NOBODY,
          f"pprof dir uid {st.st_uid}, want {NOBODY}")
    profiles = list(prof.iterdir())
    check(profiles, "no profile written")
    for p in profiles:
        owned(p, NOBODY, 0o600)
    check(traces.load(out).nswitches > 0, "no sched events in the output")
    left = sorted(p.name for p in tmp.iterdir() if p.name not in ("x.pftrace", "prof"))
    check(not left, f"files left behind: {left}")


def test_privs_sudo_unwritable_for_invoker(tmp):
    """A directory the invoking user cannot write is refused (exit 6) before
    recording, although root could write it."""
    need_root()
    os.chmod(tmp, 0o755)
    r = ctrace("-q", "-o", tmp / "x.ctr", "--", "true", env=sudo_env(), timeout=60)
    check(r.returncode == 6, f"exit {r.returncode}, want 6: {r.stderr!r}")
    check(not list(tmp.iterdir()), f"left {list(tmp.iterdir())}")


def test_privs_user_option(tmp):
    """--user picks the command's user; --user root keeps root under sudo;
    without sudo the command runs as the caller."""
    need_root()
    open_dir(tmp)
    cases = (
        (["--user", "nobody"], None, str(NOBODY)),
        (["-u", str(NOBODY)], None, str(NOBODY)),
        (["--user", "root"], sudo_env(), "0"),
        ([], None, "0"),
    )
    for i, (opt, env, want) in enumerate(cases):
        r = ctrace("-q", *opt, "-o", tmp / f"u{i}.ctr", "--", "id", "-u", env=env,
                   timeout=60)
        check(r.returncode == 0, f"{opt}: exit {r.returncode}: {r.stderr!r}")
        check(r.stdout.strip() == want, f"{opt}: uid {r.stdout.strip()!r}, want {want}")
    r = ctrace("-q", "--user", "no-such-user-here", "-o", tmp / "n.ctr", "--", "true")
    check(r.returncode == 2, f"unknown user: exit {r.returncode}, want 2: {r.stderr!r}")


def plant(paths, victim):
    for p in paths:
        try:
            os.symlink(victim, p)
        except FileExistsError:
            pass


def run_planted(argv, names, victim, env=None, cwd=None):
    """Runs ctrace-bpf with a symlink to victim planted, just before its exec,
    at each name (formatted with its pid)."""
    need_ctrace()

    def pre():
        plant([n.format(pid=os.getpid()) for n in names], victim)
    p = subprocess.run([str(CTRACE), *map(str, argv)], capture_output=True, text=True,
                       timeout=120, preexec_fn=pre, env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    return p


def test_privs_symlinks_never_followed(tmp):
    """A symlink planted at the output, at every name a temporary file had
    (OUT.tmp.<pid>, OUT.capture.<pid>.ctr) and at the HTML report's names is
    never followed: the victim is unchanged and the outputs are real files."""
    need_root()
    victim = tmp / "victim"
    victim.write_bytes(b"precious\n")
    os.chmod(victim, 0o644)
    for ext in ("ctr", "pftrace"):
        out = tmp / f"x.{ext}"
        names = [str(out), f"{out}.tmp.{{pid}}", f"{out}.capture.{{pid}}.ctr",
                 f"{out}.capture.{{pid}}.ctr.tmp.{{pid}}"]
        r = run_planted(["-q", "-o", out, "--", workload("writer"), 100], names, victim)
        check(r.returncode == 0, f"{ext}: exit {r.returncode}: {r.stderr!r}")
        check(not out.is_symlink() and out.stat().st_size > 1000,
              f"{ext}: the output is not a new regular file")
        check(victim.read_bytes() == b"precious\n" and
              stat.S_IMODE(victim.stat().st_mode) == 0o644, f"{ext}: victim changed")
    html = tmp / "r.html"
    names = [str(html), f"{html}.tmp.{{pid}}"]
    r = run_planted(["report", tmp / "x.ctr", "--html", html], names, victim)
    check(r.returncode == 0, f"report --html: exit {r.returncode}: {r.stderr!r}")
    check(not html.is_symlink() and b"<html" in html.read_bytes(), "html not written")
    check(victim.read_bytes() == b"precious\n", "report: victim changed")
    # --pprof-out through a symlink to a directory, or into another's directory
    vdir = tmp / "vdir"
    vdir.mkdir()
    os.symlink(vdir, tmp / "plink")
    r = ctrace("convert", tmp / "x.ctr", "--pprof-out", tmp / "plink")
    check(r.returncode != 0 and not list(vdir.iterdir()),
          f"pprof followed a symlink: exit {r.returncode}, {list(vdir.iterdir())}")
    os.chown(vdir, NOBODY, NOBODY)
    r = ctrace("convert", tmp / "x.ctr", "--pprof-out", vdir)
    check(r.returncode != 0 and not list(vdir.iterdir()),
          f"pprof wrote into another user's directory: exit {r.returncode}")


def test_privs_failed_conversion_keeps_capture(tmp):
    """The output's filesystem fills during the conversion: exit 1, the
    capture is kept and named, and it converts elsewhere."""
    need_root()
    mnt = mount_tmpfs(tmp / "small", "size=96k")
    out = mnt / "x.json"
    r = ctrace("-q", "--no-goroutines", "-o", out, "--", workload("writer"), 2000,
               timeout=60)
    check(r.returncode == 1, f"exit {r.returncode}, want 1: {r.stderr!r}")
    kept = [p for p in mnt.iterdir() if ".capture." in p.name and p.name.endswith(".ctr")]
    check(len(kept) == 1, f"capture not kept: {list(mnt.iterdir())}: {r.stderr!r}")
    check(str(kept[0]) in r.stderr, f"the message does not say where: {r.stderr!r}")
    check(not out.exists(), "a partial output under the final name")
    check(not [p for p in mnt.iterdir() if ".tmp." in p.name],
          f"temporary files left: {list(mnt.iterdir())}")
    r = ctrace("convert", kept[0], "-o", tmp / "y.json")
    check(r.returncode == 0, f"the kept capture does not convert: {r.stderr!r}")
    check(traces.load(tmp / "y.json").nswitches > 0, "no events in the kept capture")


def no_raw_controls(text, what):
    bad = sorted({hex(ord(c)) for c in text if (ord(c) < 0x20 and c not in "\n")
                  or 0x7f <= ord(c) < 0xa0})
    check(not bad, f"{what}: raw control characters {bad} reach the terminal")


def test_privs_escapes_in_names(tmp):
    """A process that names itself with terminal escapes (prctl PR_SET_NAME):
    the report's text, record --report and diff show them as \\xNN."""
    need_root()
    ctr = tmp / "e.ctr"
    r = ctrace("-q", "--report", "-o", ctr, "--", workload("rename"), 10, timeout=60)
    check(r.returncode == 0, f"record: exit {r.returncode}: {r.stderr!r}")
    no_raw_controls(r.stdout + r.stderr, "record --report")
    check("e\\x1b[2J\\x1b]0;x\\x07" in r.stdout, f"the name is not shown escaped:\n{r.stdout}")
    r = ctrace("report", ctr, timeout=60)
    check(r.returncode == 0, f"report: exit {r.returncode}: {r.stderr!r}")
    no_raw_controls(r.stdout, "report")
    check("e\\x1b[2J\\x1b]0;x\\x07" in r.stdout, f"the name is not shown escaped:\n{r.stdout}")
    # JSON keeps the name exact (escaped as JSON does); diff prints it escaped.
    r = ctrace("report", ctr, "--json", timeout=60)
    json.loads(r.stdout)
    check("e\\u001b[2J\\u001b]0;x\\u0007" in r.stdout, "the JSON lost the name")
    base = synthetic(tmp, "base", syscalls=[("read", 100, 0, 100_000)])
    new = synthetic(tmp, "new", syscalls=[("read", 100, 0, 100_000),
                                          ("r\x1b[31m\x9b2J", 100, 0, 50_000)])
    d = json.loads(new.read_text())
    d["capture"]["target"] = "t\x1b]0;pwned\x07"
    new.write_text(json.dumps(d))
    r = ctrace("diff", base, new, timeout=60)
    check(r.returncode in (0, 1), f"diff: exit {r.returncode}: {r.stderr!r}")
    no_raw_controls(r.stdout, "diff")
    check("r\\x1b[31m\\xc2\\x9b2J" in r.stdout and "t\\x1b]0;pwned\\x07" in r.stdout,
          f"diff does not show the names escaped:\n{r.stdout}")


def task_cmdlines(ctr):
    recs, _ = ctrlib.read_records(ctr)
    return [(r.tgid, r.comm, r.cmdline) for r in recs if r.type == ctrlib.REC_TASK]


def test_privs_only_targets_cmdlines(tmp):
    """With a command (or -p) only the targets' command lines are recorded:
    a process running before, or exec'ing during, the recording keeps only
    its comm, and its secret argument is nowhere in the capture."""
    need_root()
    # Two commands: sh stays sh (no exec of the last one); killed by cleanup.
    before = spawn(["sh", "-c", "sleep 120; : SECRET-before-8d1f"])
    time.sleep(0.1)
    ctr = tmp / "c.ctr"
    rec = spawn([CTRACE, "-q", "-o", ctr, "--", "sh", "-c", "sleep 1; true"],
                stderr=subprocess.PIPE)
    time.sleep(0.5)
    during = run(["sh", "-c", "sleep 0.1; : SECRET-during-8d1f"], timeout=10)
    check(during.returncode == 0, "the decoy failed")
    check(rec.wait(timeout=60) == 0, f"record failed: {rec.stderr.read()!r}")
    tasks = task_cmdlines(ctr)
    leaked = [t for t in tasks if any("SECRET-" in a for a in t[2])]
    check(not leaked, f"non-target command lines recorded: {leaked}")
    mine = [t for t in tasks if t[2][:3] == ["sh", "-c", "sleep 1; true"]]
    check(mine, "the target's command line is missing")
    decoy = [t for t in tasks if t[0] == before.pid]
    check(decoy and decoy[0][1] == "sh" and not decoy[0][2],
          f"the running decoy is not named by its comm alone: {decoy}")
    # -p: the target's command line only.
    ctr = tmp / "p.ctr"
    r = ctrace("-q", "-d", "300ms", "-p", before.pid, "-o", ctr, timeout=60)
    check(r.returncode == 0, f"-p: exit {r.returncode}: {r.stderr!r}")
    tasks = task_cmdlines(ctr)
    with_cmd = {t[0] for t in tasks if t[2]}
    check(with_cmd == {before.pid}, f"-p: command lines of {with_cmd}, want {before.pid}")
    # System-wide: everyone's, as before.
    ctr = tmp / "s.ctr"
    r = ctrace("-q", "-d", "300ms", "-o", ctr, timeout=60)
    check(any("SECRET-before-8d1f" in " ".join(t[2]) for t in task_cmdlines(ctr)),
          "system-wide recording lost the command lines")


def interrupt_conversion(tmp, env):
    """Records a busy command into a JSON, signals once its conversion has
    started; returns (exit status, stderr, files left)."""
    out = tmp / "w.json"
    rec = spawn([CTRACE, "-q", "-o", out, "--", workload("writer"), 300000],
                stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60 and rec.poll() is None:
        names = [p.name for p in tmp.iterdir()]
        # The capture is complete (renamed) and the output's temporary exists.
        if any(n.startswith("w.json.tmp.") for n in names) and \
                any(n.startswith("w.json.capture.") and n.endswith(".ctr") for n in names):
            rec.send_signal(signal.SIGINT)
            break
        time.sleep(0.001)
    rc = rec.wait(timeout=60)
    return rc, rec.stderr.read(), sorted(p.name for p in tmp.iterdir())


def test_privs_signal_during_conversion(tmp):
    """A signal during the conversion abandons it: its temporary file is
    removed, the capture is kept and named, exit 128 + SIGINT. Also when the
    conversion runs as the invoking user (sudo), in a child."""
    need_root()
    open_dir(tmp)
    for env in (None, sudo_env()):
        for p in tmp.iterdir():
            p.unlink()
        rc, err, left = interrupt_conversion(tmp, env)
        who = "sudo" if env else "root"
        check(rc == 128 + signal.SIGINT, f"{who}: exit {rc}, want 130: {err!r}")
        kept = [n for n in left if ".capture." in n and n.endswith(".ctr")]
        check(len(kept) == 1 and left == kept, f"{who}: files left: {left}: {err!r}")
        check(str(tmp / kept[0]) in err and "abandoned" in err,
              f"{who}: the message does not name the capture: {err!r}")
        r = ctrace("report", tmp / kept[0], timeout=60)
        check(r.returncode == 0, f"{who}: the kept capture does not read: {r.stderr!r}")


# CAP_DAC_READ_SEARCH, CAP_KILL, CAP_SYS_PTRACE, CAP_PERFMON, CAP_BPF
COLLECTOR_CAPS = (1 << 2) | (1 << 5) | (1 << 19) | (1 << 38) | (1 << 39)


def status_fields(pid):
    out = {}
    for l in open(f"/proc/{pid}/status"):
        k, _, v = l.partition(":")
        out[k] = v.split()
    return out


def test_privs_sudo_collector_drops_after_attach(tmp):
    """Under sudo, once attached, the collector runs as the invoking user with
    only the capabilities it still uses, and what comes later still works on
    a root-owned Go program: auto mode's switch to sampled (CPU sampling
    events opened then), goroutine snapshots, symbols, pprof as the user."""
    need_root()
    from test_goroutines import binary
    prog = binary("1.19", "plain", "workerpool")
    open_dir(tmp)
    target = spawn([prog, 4, 100000000], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    rec = spawn([CTRACE, "-d", "3s", "-p", target.pid, "-o", tmp / "p.ctr",
                 "--pprof-out", tmp / "prof"], stderr=subprocess.PIPE, text=True,
                env=sudo_env())
    first = rec.stderr.readline()
    check("recording" in first, f"no 'recording' line: {first!r}")
    # The line comes just before the command is released and privileges dropped.
    time.sleep(1)
    st = status_fields(rec.pid)
    err = first + rec.stderr.read()
    check(rec.wait(timeout=60) == 0, f"record failed: {err!r}")
    check(st["Uid"] == [str(NOBODY)] * 4 and st["Gid"] == [str(NOBODY)] * 4,
          f"collector still uid {st['Uid']} gid {st['Gid']}")
    for k in ("CapEff", "CapPrm"):
        check(int(st[k][0], 16) == COLLECTOR_CAPS,
              f"collector {k} {st[k][0]}, want {COLLECTOR_CAPS:016x}")
    check(int(st["CapInh"][0], 16) == 0, f"inheritable caps {st['CapInh']}")
    check("then sampled" in err, f"auto mode did not switch: {err!r}")
    m = re.search(r"goroutine snapshots \(sampled, every [^)]*\): (\d+), (\d+) goroutines", err)
    check(m and int(m.group(1)) > 0 and int(m.group(2)) > 0, f"no snapshots: {err!r}")
    owned(tmp / "p.ctr", NOBODY, 0o600)
    cpu = tmp / "prof" / "cpu-goroutines.pb.gz"
    owned(cpu, NOBODY, 0o600)
    recs, _ = ctrlib.read_records(tmp / "p.ctr")
    syms = [r for r in recs if r.type == ctrlib.REC_GO_SYM]
    check(syms, "no Go symbols written at the end")
