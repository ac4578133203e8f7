#!/usr/bin/python3
"""Checks that user/ keeps the shape docs/architecture.md describes.

- Layers: a folder includes headers from, and links against, only the
  folders below it (LAYERS), at the level of #include lines and of the
  symbols each object file uses (build/user/**/*.o, from `make`).
- No writer in formats/ includes another writer's files.
- No two object files use each other's symbols (no dependency cycle).
- No function outside generated files is longer than MAX_FUNC lines.
- docs/architecture.md names every folder of user/.

Prints PASS/FAIL per check and last "layout: N passed, N failed".
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
USER = ROOT / "user"
OBJ = ROOT / "build" / "user"
MAX_FUNC = 120

# folder -> folders it may use besides itself (main.c, at the top, uses all)
LAYERS = {
    "lib": [],
    "capture": ["lib"],
    "go": ["lib", "capture"],
    "model": ["lib", "capture", "go"],
    "formats": ["lib", "capture", "go", "model"],
    "report": ["lib", "capture", "go", "model"],
    "record": ["lib", "capture", "go", "model", "formats", "report"],
}
# formats/ files that are not writers: the format table and the convert command
FORMATS_SHARED = {"formats", "convert"}

results = []


def report(name, problems):
    results.append(not problems)
    if problems:
        print(f"FAIL layout[{name}]: " + "; ".join(problems[:8]) +
              (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))
    else:
        print(f"PASS layout[{name}]")


def folder(path):
    rel = path.relative_to(USER)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def allowed(src, dst):
    if src == "" or src == dst:
        return True
    return dst in LAYERS.get(src, [])


def sources():
    return sorted(p for p in USER.rglob("*.[ch]"))


def includes(p):
    return re.findall(r'^#include "([^"]+)"', p.read_text(), re.M)


# Suffixes of a writer's parts: perfetto_go.c and perfetto_gosnap.c are perfetto's.


def writer(p):
    """The writer a formats/ file belongs to: perfetto_go.c -> perfetto,
    perfetto_cpu.c -> perfetto: <writer>_<part> is a part of the writer
    whose own file is <writer>.c."""
    stem = p.stem
    parts = stem.split("_")
    for i in range(1, len(parts)):
        if (USER / "formats" / ("_".join(parts[:i]) + ".c")).exists():
            return "_".join(parts[:i])
    return stem


def check_tree():
    bad = [str(p.relative_to(ROOT)) for p in USER.iterdir()
           if p.is_file() and p.name != "main.c"]
    bad += [f"unknown folder user/{p.name}" for p in USER.iterdir()
            if p.is_dir() and p.name not in LAYERS]
    report("tree", bad)


def check_includes():
    bad, wbad = [], []
    for p in sources():
        src = folder(p)
        for inc in includes(p):
            parts = inc.split("/")
            if len(parts) != 2 or parts[0] not in LAYERS:
                continue  # bpf/, generated headers in build/
            if not allowed(src, parts[0]):
                bad.append(f"{p.relative_to(USER)} includes {inc}")
            if src == "formats" == parts[0] and writer(p) not in FORMATS_SHARED:
                other = writer(Path(parts[1]))
                if other != writer(p) and other not in FORMATS_SHARED:
                    wbad.append(f"{p.relative_to(USER)} includes {inc}")
    report("includes follow the layers", bad)
    report("no writer includes another writer", wbad)


def symbols(o):
    out = subprocess.run(["nm", str(o)], capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDRB":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            used.add(f[1])
    return defined, used


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def check_objects():
    objs = sorted(OBJ.rglob("*.o"))
    if not objs:
        report("objects follow the layers", ["no objects in build/user: run make"])
        return
    syms = {o: symbols(o) for o in objs}
    owner = {s: o for o, (d, _) in syms.items() for s in d}
    graph = {o: {owner[s] for s in syms[o][1] if owner.get(s, o) != o} for o in objs}
    name = {o: str(o.relative_to(OBJ).with_suffix(".c")) for o in objs}
    bad = []
    for o, deps in graph.items():
        for d in deps:
            src, dst = name[o].split("/")[0], name[d].split("/")[0]
            src = "" if src == name[o] else src
            if not allowed(src, dst):
                bad.append(f"{name[o]} uses {name[d]}")
    report("objects follow the layers", sorted(bad))
    report("no dependency cycle between files",
           [" <-> ".join(name[o] for o in c) for c in cycles(graph)])


def generated(p):
    head = "\n".join(p.read_text().splitlines()[:15]).lower()
    return "generated by" in head


def long_functions(p, limit):
    lines = p.read_text().split("\n")
    out, start = [], None
    for i, line in enumerate(lines):
        if start is None and line.startswith("{") and i > 0:
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            start = j
        elif start is not None and line.startswith("}"):
            n = i - start + 1
            if n > limit:
                m = re.search(r"(\w+)\s*\(", lines[start])
                out.append(f"{p.relative_to(USER)}:{start + 1} "
                           f"{m.group(1) if m else '?'} ({n} lines)")
            start = None
    return out


def check_functions():
    bad = []
    for p in sources():
        if p.suffix == ".c" and not generated(p):
            bad += long_functions(p, MAX_FUNC)
    report(f"no function over {MAX_FUNC} lines", bad)


def check_doc():
    doc = ROOT / "docs" / "architecture.md"
    if not doc.exists():
        report("docs/architecture.md names every folder", ["docs/architecture.md missing"])
        return
    text = doc.read_text()
    report("docs/architecture.md names every folder",
           [f"user/{d.name}/ not described" for d in USER.iterdir()
            if d.is_dir() and f"{d.name}/" not in text])


def main():
    check_tree()
    check_includes()
    check_objects()
    check_functions()
    check_doc()
    npass = sum(results)
    print(f"layout: {npass} passed, {len(results) - npass} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
