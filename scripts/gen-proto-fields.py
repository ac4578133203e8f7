#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Writes a C header naming the field numbers and enum values of a .proto.

The writers encode protobuf by hand (user/lib/pbwriter.h); this keeps their
field numbers tied to the schema the tests decode with, instead of literals.

  gen-proto-fields.py --prefix PF -o build/perfetto_fields.h some.proto

Names, with P the prefix:
  field                     P_<Message>[_<Nested>...]_<field>
  enum value in a message   P_<Message>[_<Nested>...]_<VALUE>
  top-level enum value      P_<VALUE>
Enum values sit beside their enum, not inside it: that is protobuf's own
scoping, so it cannot make two names clash. Any clash (e.g. a field and an
enum value spelled alike) is an error rather than a silent redefinition.

Only what the names need is parsed: package, messages (nested), fields
(including oneof members and maps), enums and their values. Options,
reserved ranges, imports, services and extensions are skipped.
"""
import argparse
import os
import re
import sys
import tempfile

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
  | (?P<ident>\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<sym>[{}\[\]()<>;=,:])
""", re.X | re.S)

LABELS = {"optional", "required", "repeated"}


class ProtoError(Exception):
    pass


def tokenize(text):
    toks, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise ProtoError(f"line {line}: unexpected {text[pos]!r}")
        if m.lastgroup not in ("ws", "comment"):
            toks.append((m.group(), text.count("\n", 0, pos) + 1))
        pos = m.end()
    return toks


class Parser:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0
        self.package = ""
        # Scopes in declaration order, each {"title", "path", "items"}:
        # a message's fields, or an enum's values (path: where they live).
        self.scopes = []

    def scope(self, title, path):
        s = {"title": title, "path": path, "items": []}
        self.scopes.append(s)
        return s["items"]

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def next(self):
        if self.i >= len(self.toks):
            raise ProtoError("unexpected end of file")
        self.i += 1
        return self.toks[self.i - 1][0]

    def expect(self, want):
        line = self.toks[self.i][1] if self.i < len(self.toks) else "EOF"
        got = self.next()
        if got != want:
            raise ProtoError(f"line {line}: expected {want!r}, got {got!r}")

    def number(self):
        line = self.toks[self.i][1] if self.i < len(self.toks) else "EOF"
        tok = self.next()
        try:
            return int(tok, 0)
        except ValueError:
            raise ProtoError(f"line {line}: expected a number, got {tok!r}") from None

    def skip_statement(self):
        """Skips to the end of a statement: its ';' or its balanced block."""
        depth = 0
        while True:
            tok = self.next()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return
            elif tok == ";" and depth == 0:
                return

    def skip_options(self):
        """Skips a field's [...] options, if any."""
        if self.peek() != "[":
            return
        depth = 0
        while True:
            tok = self.next()
            depth += tok == "["
            depth -= tok == "]"
            if depth == 0:
                return

    def parse_file(self):
        while self.peek() is not None:
            tok = self.peek()
            if tok == "package":
                self.next()
                self.package = self.next()
                self.expect(";")
            elif tok == "message":
                self.next()
                self.parse_message([self.next()])
            elif tok == "enum":
                self.next()
                self.parse_enum([], self.next())
            elif tok == ";":
                self.next()
            else:  # syntax, import, option, service, extend
                self.skip_statement()

    def parse_message(self, path):
        items = self.scope(".".join(path), path)
        self.expect("{")
        while True:
            tok = self.peek()
            if tok == "}":
                self.next()
                return
            if tok == "message":
                self.next()
                self.parse_message(path + [self.next()])
            elif tok == "enum":
                self.next()
                self.parse_enum(path, self.next())
            elif tok == "oneof":
                self.next()
                oneof = self.next()  # members are the message's own fields
                self.expect("{")
                while self.peek() != "}":
                    if self.peek() == "option":
                        self.skip_statement()
                    else:
                        self.parse_field(items, f"oneof {oneof}")
                self.next()
            elif tok in ("option", "reserved", "extensions", "extend"):
                self.skip_statement()
            elif tok == ";":
                self.next()
            else:
                self.parse_field(items)

    def parse_field(self, items, oneof=None):
        label = self.next() if self.peek() in LABELS else ""
        if self.peek() == "map":
            self.next()
            self.expect("<")
            key = self.next()
            self.expect(",")
            val = self.next()
            self.expect(">")
            ftype = f"map<{key}, {val}>"
        else:
            ftype = self.next()
        if ftype == "group":
            raise ProtoError("groups are not supported")
        name = self.next()
        self.expect("=")
        num = self.number()
        self.skip_options()
        self.expect(";")
        detail = f"{label} {ftype}".strip() + (f", {oneof}" if oneof else "")
        items.append((name, num, detail))

    def parse_enum(self, path, enum):
        items = self.scope(".".join(path + [enum]) + " (enum)", path)
        self.expect("{")
        while self.peek() != "}":
            if self.peek() in ("option", "reserved"):
                self.skip_statement()
                continue
            if self.peek() == ";":
                self.next()
                continue
            name = self.next()
            self.expect("=")
            num = self.number()
            self.skip_options()
            self.expect(";")
            items.append((name, num, None))
        self.next()


def constants(scopes, prefix):
    """[(title, [(C name, number, comment)])], one group per non-empty scope."""
    groups, seen = [], {}
    for s in scopes:
        consts = []
        for name, num, detail in s["items"]:
            cname = "_".join([prefix] + s["path"] + [name])
            where = f"{name} in {s['title']}"
            if cname in seen:
                raise ProtoError(f"{cname} would name both {seen[cname]} and {where}")
            seen[cname] = where
            consts.append((cname, num, detail))
        if consts:
            groups.append((s["title"], consts))
    return groups


def render(src, package, groups, guard):
    out = [
        "/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */",
        f"/* Generated by scripts/gen-proto-fields.py from {src}: do not edit. */",
        f"#ifndef {guard}",
        f"#define {guard}",
    ]
    if package:
        out.append(f"\n/* package {package} */")
    for title, consts in groups:
        width = max(len(c[0]) for c in consts)
        nwidth = max(len(str(c[1])) for c in consts)
        out.append("")
        out.append(f"/* {title} */")
        for cname, num, comment in consts:
            line = f"#define {cname:<{width}} {num}"
            if comment:
                line = f"{line:<{len('#define ') + width + 1 + nwidth}} /* {comment} */"
            out.append(line.rstrip())
    out.append(f"\n#endif /* {guard} */")
    return "\n".join(out) + "\n"


def write_atomic(path, text):
    """Writes via a rename so make never sees a half-written header."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".gen-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("proto")
    ap.add_argument("--prefix", required=True, help="leading part of every name, e.g. PF")
    ap.add_argument("-o", "--output", help="header to write (default: stdout)")
    args = ap.parse_args()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.prefix):
        ap.error(f"--prefix {args.prefix!r} is not a C identifier")
    try:
        with open(args.proto) as f:
            p = Parser(tokenize(f.read()))
        p.parse_file()
        groups = constants(p.scopes, args.prefix)
    except (OSError, ProtoError) as e:
        sys.exit(f"gen-proto-fields: {args.proto}: {e}")
    base = os.path.basename(args.output or args.proto)
    guard = "CTRACE_" + re.sub(r"[^A-Za-z0-9]", "_", base).upper()
    text = render(args.proto, p.package, groups, guard)
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
