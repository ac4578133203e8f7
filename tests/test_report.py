"""`ctrace-bpf report` and `ctrace-bpf diff` (docs/report.md).

Workloads with known timing are traced in launch mode and the report's
figures are checked against what they did; pairs of runs check that `diff`
flags a real regression by the right metric and stays quiet on a repeat.
The --json output is validated against the schema of docs/report-json.md,
and the --html page is loaded in headless Chromium.
"""

import json
import os
import re
import subprocess
from pathlib import Path

from harness import (BUILD, ROOT, Fail, Skip, check, check_one_error_line,
                     ctrace, need_root, run, workload)

GO_SRC = ROOT / "tests" / "goprogs_report" / "main.go"
CHROMIUM = Path("/usr/bin/chromium")
MS = 1_000_000


# ---- helpers ----

def reportload():
    """Builds the Go workload once (rebuilt when its source changes)."""
    out = BUILD / "reportload"
    if out.exists() and out.stat().st_mtime >= GO_SRC.stat().st_mtime:
        return str(out)
    env = dict(os.environ, CGO_ENABLED="0")
    env.setdefault("GOCACHE", str(ROOT / "build" / "gocache"))
    env.setdefault("HOME", "/root")
    BUILD.mkdir(parents=True, exist_ok=True)
    r = run(["go", "build", "-o", out, GO_SRC.name], timeout=170,
            cwd=GO_SRC.parent, env=env)
    check(r.returncode == 0, f"go build reportload: {r.stderr[-800:]}")
    return str(out)


def record(tmp, name, *cmd):
    need_root()
    out = tmp / f"{name}.ctr"
    r = ctrace("-q", "--goroutines", "full", "-o", out, "--", *cmd, timeout=120)
    check(r.returncode == 0, f"recording {cmd}: exit {r.returncode}: {r.stderr!r}")
    return out


def report_json(path, *extra):
    r = ctrace("report", "--json", path, *extra, timeout=120)
    check(r.returncode == 0, f"report --json {path}: exit {r.returncode}: {r.stderr!r}")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise Fail(f"report --json {path} is not JSON: {e}")


def diff(base, new, *extra):
    return ctrace("diff", base, new, *extra, timeout=120)


def regressions(r):
    """Metric names the diff marked REGRESSION."""
    return [l.split()[0] for l in r.stdout.splitlines() if "REGRESSION" in l]


def by(items, key, value):
    for it in items:
        if it.get(key) == value:
            return it
    raise Fail(f"no entry with {key}={value!r} in {[i.get(key) for i in items]}")


def check_unchanged(tmp, name, *cmd):
    """Two runs of the same command must not gate. A shared machine can slow
    one run as a whole, so a failing pair is recorded once more before
    failing."""
    last = None
    for attempt in range(2):
        a = record(tmp, f"{name}-same{attempt}a", *cmd)
        b = record(tmp, f"{name}-same{attempt}b", *cmd)
        last = diff(a, b)
        check(last.returncode in (0, 1), f"diff exited {last.returncode}: {last.stderr!r}")
        if last.returncode == 0:
            return a
        print(f"     note: repeat of {name} flagged {regressions(last)}; recording again",
              flush=True)
    raise Fail(f"the same {name} run twice regressed twice: {regressions(last)}\n"
               f"{last.stdout}")


def check_regression(base, new, want):
    """diff exits 1 and names a metric matching the regex want."""
    r = diff(base, new)
    check(r.returncode == 1, f"diff {base.name} {new.name} exited {r.returncode}, want 1: "
          f"{r.stdout}{r.stderr}")
    names = regressions(r)
    check(any(re.fullmatch(want, n) for n in names),
          f"no regression matching {want} among {names}")
    return r


# ---- the JSON schema (docs/report-json.md) ----

INT, STR, BOOL, NUM = "int", "str", "bool", "num"
DIST = {"count": INT, "total_ns": INT, "mean_ns": INT, "min_ns": INT, "p50_ns": INT,
        "p90_ns": INT, "p99_ns": INT, "max_ns": INT,
        "log2": [{"lo_ns": INT, "count": INT}]}
THREAD = {"tid": INT, "comm": STR, "on_cpu_ns": INT, "off_cpu_ns": INT,
          "runnable_ns": INT, "switches": INT, "preemptions": INT, "wakeups": INT,
          "runqlat": DIST}
SYSCALL = {"name": STR, "nr": INT, "count": INT, "errors": INT, "latency": DIST}
EDGE = {"waker": STR, "wakee": STR, "count": INT, "latency": DIST}
SCHEMA = {
    "schema_version": INT,
    "generator": STR,
    "capture": {"file": STR, "target": STR, "pid_filter": (INT, None), "system_wide": BOOL,
                "kernel": STR, "machine": STR, "hostname": STR, "ncpus": INT,
                "start_ns": INT, "duration_ns": INT},
    "health": {"events": INT, "drops": INT, "late_events": INT, "truncated_blocks": INT,
               "gostate_repairs": INT, "clean_end": BOOL,
               "stop": {"reason": STR, "text": STR, "ts_ns": INT},
               # recorded here with --goroutines full: one period, no switch
               "goroutine_mode": {"mode": STR, "text": STR, "sampled_from_ns": (INT, None),
                                  "periods": [{"mode": STR, "reason": STR, "start_ns": INT}]}},
    "processes": [{"pid": INT, "comm": STR, "nthreads": INT, "on_cpu_ns": INT,
                   "off_cpu_ns": INT, "runnable_ns": INT, "runqlat": DIST,
                   "threads": [THREAD]}],
    "thread_groups": [{"comm": STR, "nthreads": INT, "on_cpu_ns": INT, "off_cpu_ns": INT,
                       "runnable_ns": INT, "runqlat": DIST}],
    "syscalls": [SYSCALL],
    "go_runtime_syscalls": [SYSCALL],
    "goroutines": [{"start_func": STR, "count": INT,
                    "time_ns": {"running": INT, "runnable": INT, "sync_block": INT,
                                "net_wait": INT, "sleep": INT, "syscall": INT,
                                "other_block": INT},
                    "execution_ns": INT, "mean_execution_ns": INT,
                    "sched_wait": DIST, "sync_block": DIST,
                    "unblocked_by": [{"waker": STR, "count": INT}]}],
    "blocking": [{"reason": STR, "total_ns": INT, "count": INT,
                  "stacks": [{"total_ns": INT, "count": INT, "max_ns": INT, "pid": INT,
                              "frames": [STR]}]}],
    "wake_edges": {"threads": [EDGE], "goroutines": [EDGE]},
    "cpus": [{"cpu": INT, "busy_ns": INT, "utilization": NUM, "target_ns": INT}],
    "competitors": [{"pid": INT, "comm": STR, "while_target_waited_ns": INT,
                     "on_target_cpus_ns": INT, "on_cpu_ns": INT}],
}


def validate(v, schema, path="$"):
    """Every key present with its type, no key the schema lacks."""
    if isinstance(schema, tuple):
        errs = []
        for alt in schema:
            if alt is None and v is None:
                return
            if alt is not None:
                try:
                    validate(v, alt, path)
                    return
                except Fail as e:
                    errs.append(str(e))
        raise Fail("; ".join(errs) or f"{path}: unexpected null")
    if isinstance(schema, dict):
        check(isinstance(v, dict), f"{path}: want an object, got {type(v).__name__}")
        check(set(v) == set(schema), f"{path}: keys {sorted(v)} != schema "
              f"{sorted(schema)}")
        for k, s in schema.items():
            validate(v[k], s, f"{path}.{k}")
    elif isinstance(schema, list):
        check(isinstance(v, list), f"{path}: want an array")
        for i, item in enumerate(v):
            validate(item, schema[0], f"{path}[{i}]")
    elif schema == INT:
        check(isinstance(v, int) and not isinstance(v, bool) and v >= 0
              or (path.endswith(".nr") and isinstance(v, int)),
              f"{path}: want a non-negative integer, got {v!r}")
    elif schema == NUM:
        check(isinstance(v, (int, float)) and not isinstance(v, bool), f"{path}: want a number")
    elif schema == STR:
        check(isinstance(v, str), f"{path}: want a string, got {v!r}")
    elif schema == BOOL:
        check(isinstance(v, bool), f"{path}: want a boolean, got {v!r}")


def schema_keys(schema, out=None):
    out = set() if out is None else out
    if isinstance(schema, dict):
        for k, s in schema.items():
            out.add(k)
            schema_keys(s, out)
    elif isinstance(schema, list):
        schema_keys(schema[0], out)
    return out


def check_dist(d, what):
    check(d["count"] == sum(b["count"] for b in d["log2"]),
          f"{what}: log2 buckets sum to {sum(b['count'] for b in d['log2'])}, count "
          f"{d['count']}")
    if d["count"]:
        check(d["min_ns"] <= d["p50_ns"] <= d["p90_ns"] <= d["p99_ns"] <= d["max_ns"],
              f"{what}: percentiles out of order: {d}")
        check(d["min_ns"] <= d["mean_ns"] <= d["max_ns"], f"{what}: mean out of range: {d}")


# ---- tests ----

def test_report_sleeper_figures_and_diff(tmp):
    """200 nanosleeps of 5 ms: the report counts 200 with p50 ~5 ms; a rerun
    does not gate; 10 ms sleeps regress syscalls.nanosleep.p50."""
    sleeper = workload("sleeper")
    base = check_unchanged(tmp, "sleeper", sleeper, 200, 5)
    d = report_json(base)
    ns = by(d["syscalls"], "name", "nanosleep")
    check(ns["count"] == 200, f"nanosleep count {ns['count']}, want 200")
    check(ns["errors"] == 0, f"nanosleep errors {ns['errors']}")
    lat = ns["latency"]
    # Sleeps never end early; timer slack and wake-up latency add a little.
    check(5 * MS <= lat["p50_ns"] <= 6.5 * MS, f"nanosleep p50 {lat['p50_ns']} ns, want ~5 ms")
    check(5 * MS <= lat["min_ns"], f"nanosleep min {lat['min_ns']} ns < 5 ms")
    check(1000 * MS <= lat["total_ns"] <= 1300 * MS,
          f"nanosleep total {lat['total_ns']} ns, want ~1 s")
    check_dist(lat, "nanosleep latency")
    tg = by(d["thread_groups"], "comm", "sleeper")
    # Each sleep ends in a wake-up, and the thread ran to make 200 calls.
    check(tg["runqlat"]["count"] >= 200, f"sleeper wake-ups {tg['runqlat']['count']} < 200")
    check(0 < tg["on_cpu_ns"] < 500 * MS, f"sleeper on-CPU {tg['on_cpu_ns']} ns")
    check(tg["off_cpu_ns"] >= 1000 * MS, f"sleeper off-CPU {tg['off_cpu_ns']} ns < 1 s")
    check(d["capture"]["duration_ns"] >= 1000 * MS, "capture shorter than the sleeps")

    slow = record(tmp, "sleeper10", sleeper, 200, 10)
    r = check_regression(base, slow, r"syscalls\.nanosleep\.p50")
    check("syscalls.nanosleep.total" in regressions(r), f"total not flagged: {r.stdout}")
    # A baseline kept as JSON compares like the capture it came from.
    bj = tmp / "base.json"
    bj.write_text(json.dumps(d))
    check_regression(bj, slow, r"syscalls\.nanosleep\.p50")
    # --metric: only the chosen metrics gate.
    r = diff(base, slow, "--metric", "threads.*.count")
    check(r.returncode == 0, f"--metric threads.*.count still gated: {r.stdout}")
    r = diff(base, slow, "--metric", "syscalls.nanosleep.p50")
    check(r.returncode == 1 and regressions(r) == ["syscalls.nanosleep.p50"],
          f"--metric syscalls.nanosleep.p50: rc {r.returncode}, {regressions(r)}")


def test_report_go_sleep_figures(tmp):
    """100 time.Sleep(5ms) in one goroutine: one main.sleeper, ~500 ms asleep,
    woken 100 times by the runtime's timers."""
    prog = reportload()
    d = report_json(record(tmp, "gosleep", prog, "sleep", 100, 5))
    g = by(d["goroutines"], "start_func", "main.sleeper")
    check(g["count"] == 1, f"main.sleeper count {g['count']}")
    sl = g["time_ns"]["sleep"]
    check(500 * MS <= sl <= 700 * MS, f"main.sleeper asleep {sl} ns, want ~500 ms")
    timer = by(g["unblocked_by"], "waker", "runtime: timer")
    check(95 <= timer["count"] <= 100, f"woken by the timer {timer['count']} times, want 100")
    b = by(d["blocking"], "reason", "sleep")
    check(b["count"] == 100, f"sleep blocks {b['count']}, want 100")
    frames = "\n".join(b["stacks"][0]["frames"]) if b["stacks"] else ""
    check("main.sleeper" in frames, f"sleep stack lacks main.sleeper: {frames!r}")
    check(g["execution_ns"] <= g["time_ns"]["running"] + 1,
          "execution (on-CPU) exceeds running time")
    for gr in d["goroutines"]:
        check_dist(gr["sched_wait"], f"{gr['start_func']} sched_wait")
    check(d["health"]["events"] > 0, "no events counted")


def test_diff_go_mutex_hold(tmp):
    """Two workers on one mutex: holding it 200 µs instead of 50 µs makes
    main.worker block longer on it; the same hold twice does not gate."""
    prog = reportload()
    base = check_unchanged(tmp, "mutex", prog, "mutex", 2, 200, 50)
    d = report_json(base)
    g = by(d["goroutines"], "start_func", "main.worker")
    check(g["count"] == 2, f"main.worker count {g['count']}")
    check(g["sync_block"]["count"] > 0, "main.worker never blocked on the mutex")
    mutex = by(d["blocking"], "reason", "mutex")
    check(any("main.worker" in "\n".join(s["frames"]) for s in mutex["stacks"]),
          "no mutex stack through main.worker")
    slow = record(tmp, "mutex200", prog, "mutex", 2, 200, 200)
    check_regression(base, slow, r"goroutines\.main\.worker\.(sync_block\.(total|p50)|"
                     r"execution\.(total|mean))")


def test_diff_go_channel_pressure(tmp):
    """A slower consumer keeps the producer blocked on a full channel:
    main.producer's sync block regresses, measured in chan blocking."""
    prog = reportload()
    base = record(tmp, "chan200", prog, "chan", 300, 4, 200)
    d = report_json(base)
    p = by(d["goroutines"], "start_func", "main.producer")
    # 300 items through a 4-slot channel at 200 µs each: the producer waits
    # for most of the consumer's 60 ms.
    check(p["time_ns"]["sync_block"] >= 20 * MS,
          f"main.producer blocked {p['time_ns']['sync_block']} ns, want most of 60 ms")
    check(by(p["unblocked_by"], "waker", "main.consumer")["count"] > 0,
          "main.producer not woken by main.consumer")
    edge = by([e for e in d["wake_edges"]["goroutines"] if e["waker"] == "main.consumer"],
              "wakee", "main.producer")
    check(edge["count"] > 0 and edge["latency"]["count"] > 0, f"wake edge {edge}")
    slow = record(tmp, "chan800", prog, "chan", 300, 4, 800)
    check_regression(base, slow, r"goroutines\.main\.producer\.sync_block\.(total|p50)")


def test_report_json_schema(tmp):
    """report --json matches the documented schema, every documented field
    exists and the text report shows the same sections."""
    prog = reportload()
    ctr = record(tmp, "schema", prog, "chan", 100, 2, 100)
    d = report_json(ctr)
    validate(d, SCHEMA)
    check(d["schema_version"] == 1, f"schema_version {d['schema_version']}")
    check(d["goroutines"] and d["syscalls"] and d["processes"], "empty sections")
    for p in d["processes"]:
        check_dist(p["runqlat"], f"process {p['pid']} runqlat")
    doc = (ROOT / "docs" / "report-json.md").read_text()
    missing = sorted(k for k in schema_keys(SCHEMA) if f"`{k}`" not in doc)
    check(not missing, f"docs/report-json.md does not document {missing}")
    # --top limits the long lists, --pid restricts to one process.
    small = report_json(ctr, "--top", "1")
    check(all(len(p["threads"]) <= 1 for p in small["processes"]), "--top 1 not applied")
    pid = d["processes"][0]["pid"]
    one = report_json(ctr, "--pid", pid)
    check([p["pid"] for p in one["processes"]] == [pid], "--pid kept other processes")
    text = ctrace("report", ctr, timeout=60)
    check(text.returncode == 0, f"report exited {text.returncode}: {text.stderr!r}")
    for section in ("Threads", "Run-queue latency", "Syscalls", "Goroutines by start function",
                    "Blocking", "Wake-ups", "CPUs", "Health"):
        check(section in text.stdout, f"text report lacks {section!r}")
    width = max(len(l) for l in text.stdout.splitlines())
    check(width <= 100, f"text report is {width} columns wide off a terminal, want <= 100")
    check("\033[" not in text.stdout, "colour codes without a terminal")


def test_report_html_in_chromium(tmp):
    """The --html page loads in headless Chromium without console errors,
    and its charts are there."""
    if not CHROMIUM.exists():
        raise Skip("no /usr/bin/chromium (scripts/deps.sh installs it)")
    prog = reportload()
    ctr = record(tmp, "html", prog, "chan", 200, 4, 100)
    page = tmp / "report.html"
    r = ctrace("report", ctr, "--html", page, timeout=60)
    check(r.returncode == 0 and page.exists(), f"report --html: {r.returncode} {r.stderr!r}")
    html = page.read_text()
    check(not re.search(r"(src|href)=\"(https?:)?//", html), "the page references the network")
    base = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={tmp / 'chromium'}", "--enable-logging=stderr", "--v=0"]
    url = page.as_uri()
    dom = run([CHROMIUM, *base, "--dump-dom", url], timeout=90)
    check(dom.returncode == 0, f"chromium --dump-dom exited {dom.returncode}: "
          f"{dom.stderr[-600:]}")
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    check(not console, f"console messages: {console}")
    out = dom.stdout
    check('data-ready="1"' in out, "the page's script did not run")
    for cid in ("chart-runqlat-0", "chart-goroutine-states", "chart-wake-graph-go",
                "chart-wake-graph-threads", "chart-cpu"):
        check(f'id="{cid}"' in out, f"no #{cid} in the rendered page")
    states = out[out.index('id="chart-goroutine-states"'):]
    states = states[:states.index("</svg>")]
    check("state-running" in states and "state-sync_block" in states,
          "goroutine state chart lacks running or sync_block segments")
    graph = out[out.index('id="chart-wake-graph-go"'):]
    graph = graph[:graph.index("</svg>")]
    check('class="edge"' in graph and "main.producer" in graph,
          "wake graph lacks edges or main.producer")
    hist = out[out.index('id="chart-runqlat-0"'):]
    check('class="bar"' in hist[:hist.index("</svg>")], "runqlat histogram has no bars")
    png = tmp / "report.png"
    shot = run([CHROMIUM, *base, "--window-size=1280,2000", f"--screenshot={png}", url],
               timeout=90)
    check(shot.returncode == 0 and png.exists(), f"screenshot failed: {shot.stderr[-600:]}")
    data = png.read_bytes()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000,
          f"screenshot is not a sizeable PNG ({len(data)} bytes)")


def test_record_report_flag(tmp):
    """record --report prints the report after writing the output and leaves
    no temporary capture behind."""
    need_root()
    out = tmp / "t.pftrace"
    r = ctrace("-q", "--report", "-o", out, "--", workload("sleeper"), 20, 5, timeout=120,
               cwd=tmp)
    check(r.returncode == 0, f"record --report exited {r.returncode}: {r.stderr!r}")
    check(out.exists(), "no output written")
    check("ctrace-bpf report:" in r.stdout and "nanosleep" in r.stdout,
          f"no report on stdout: {r.stdout[:500]!r}")
    left = [p.name for p in tmp.iterdir() if ".capture." in p.name]
    check(not left, f"temporary captures left: {left}")


def synthetic(tmp, name, syscalls=(), goroutines=(), duration_ms=1000):
    """A minimal report --json document for deterministic diff tests."""
    def dist(count, p50, p99=None, total=None):
        p99 = p99 or p50
        return {"count": count, "total_ns": total or count * p50, "mean_ns": p50,
                "min_ns": p50, "p50_ns": p50, "p90_ns": p99, "p99_ns": p99,
                "max_ns": p99, "log2": []}
    doc = {"schema_version": 1, "generator": "test",
           "capture": {"file": name, "target": "test", "pid_filter": None,
                       "system_wide": False, "kernel": "", "machine": "x86_64",
                       "hostname": "", "ncpus": 2, "start_ns": 0,
                       "duration_ns": duration_ms * MS},
           "health": {"events": 1, "drops": 0, "late_events": 0, "truncated_blocks": 0,
                      "gostate_repairs": 0, "clean_end": True},
           "processes": [], "thread_groups": [], "go_runtime_syscalls": [],
           "syscalls": [{"name": n, "nr": 0, "count": c, "errors": e,
                         "latency": dist(c, p50)} for n, c, e, p50 in syscalls],
           "goroutines": [{"start_func": f, "count": 1,
                           "time_ns": {"running": 0, "runnable": 0, "sync_block": sb,
                                       "net_wait": 0, "sleep": 0, "syscall": 0,
                                       "other_block": 0},
                           "execution_ns": 0, "mean_execution_ns": 0,
                           "sched_wait": dist(0, 0), "sync_block": dist(0, 0),
                           "unblocked_by": []} for f, sb in goroutines],
           "blocking": [], "wake_edges": {"threads": [], "goroutines": []},
           "cpus": [], "competitors": []}
    p = tmp / f"{name}.json"
    p.write_text(json.dumps(doc))
    return p


def test_diff_noise_policy(tmp):
    """Thresholds, floors, sample counts and one-sided metrics, on made-up
    reports so every boundary is exact."""
    base = synthetic(tmp, "base", syscalls=[("read", 100, 0, 100_000),
                                            ("write", 5, 0, 100_000),
                                            ("gone", 100, 0, 50_000)],
                     goroutines=[("main.worker", 20 * MS)])
    # read p50 +50 µs (+50%): under the 100 µs floor. write p50 doubled but 5 samples.
    new = synthetic(tmp, "new", syscalls=[("read", 100, 0, 150_000),
                                          ("write", 5, 0, 200_000),
                                          ("fresh", 100, 0, 50_000)],
                    goroutines=[("main.worker", 21 * MS)])
    r = diff(base, new)
    check(r.returncode == 0, f"noise gated: {regressions(r)}\n{r.stdout}")
    check("only in base" in r.stdout and "syscalls.gone.p50" in r.stdout,
          f"a metric only in BASE is not reported:\n{r.stdout}")
    check("only in new" in r.stdout and "syscalls.fresh.count" in r.stdout,
          f"a metric only in NEW is not reported:\n{r.stdout}")
    # Lower floors: a regression by p50, and the new syscall's total (5 ms)
    # counts as a cost that was zero.
    r = diff(base, new, "--min-abs", "10us", "--min-share", "0.1")
    names = regressions(r)
    check(r.returncode == 1 and "syscalls.read.p50" in names
          and "syscalls.fresh.total" in names
          and "syscalls.write.p50" not in names, f"--min-abs 10us: {names}\n{r.stdout}")
    # A threshold above the change: quiet again.
    r = diff(base, new, "--min-abs", "10us", "--threshold", "60", "--min-share", "100")
    check(r.returncode == 0, f"--threshold 60: {regressions(r)}")
    # Totals: 20 ms -> 40 ms of blocking is +100% and above 1% of 1 s.
    new2 = synthetic(tmp, "new2", syscalls=[("read", 100, 0, 100_000)],
                     goroutines=[("main.worker", 40 * MS)])
    r = diff(base, new2)
    check(r.returncode == 1 and "goroutines.main.worker.sync_block.total" in regressions(r),
          f"sync_block total doubled: {regressions(r)}")
    # An improvement is reported and passes.
    r = diff(new2, base)
    check(r.returncode == 0 and "improved" in r.stdout, f"improvement: {r.stdout}")


def test_diff_and_report_errors(tmp):
    """Bad inputs: one error line and the documented status."""
    good = synthetic(tmp, "good")
    r = diff(good, tmp / "missing.ctr")
    check(r.returncode == 2, f"missing input: exit {r.returncode}")
    check_one_error_line(r, "diff with a missing input")
    bad = tmp / "bad.json"
    bad.write_text('{"schema_version": 1, "syscalls": [')
    r = diff(good, bad)
    check(r.returncode == 2, f"truncated JSON: exit {r.returncode}")
    check_one_error_line(r, "diff with truncated JSON")
    future = tmp / "future.json"
    future.write_text('{"schema_version": 99}')
    r = diff(good, future)
    check(r.returncode == 2 and "schema_version" in r.stderr, f"schema 99: {r.stderr!r}")
    r = ctrace("diff", good)
    check(r.returncode == 2, f"one input: exit {r.returncode}")
    r = diff(good, good, "--threshold", "x")
    check(r.returncode == 2, f"bad --threshold: exit {r.returncode}")
    r = diff(good, good, "--metric", "no.such.*")
    check(r.returncode == 2, f"--metric matching nothing: exit {r.returncode}")
    r = diff(good, good)
    check(r.returncode == 0, f"identical: exit {r.returncode}: {r.stdout}")
    r = ctrace("report", tmp / "missing.ctr")
    check(r.returncode == 7, f"report of a missing file: exit {r.returncode}")
    check_one_error_line(r, "report of a missing file")
    r = ctrace("report", good)
    check(r.returncode == 7, f"report of a non-capture: exit {r.returncode}")
    r = ctrace("report", "--top", "x", good)
    check(r.returncode == 2, f"bad --top: exit {r.returncode}")
