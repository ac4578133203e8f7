#!/bin/bash
# Checks goelf_pc_frames() (inlined call expansion) against the Go runtime's
# own answer: tests/go/inline_prog records stacks through inlined calls
# with runtime.Callers and prints runtime.CallersFrames' frames. Callers
# gives one pc per logical frame (an inlined caller gets a pc at its call
# site), so goelf's expansion of each frame's pc must reproduce exactly
# that frame and the ones after it, up to the physical function. Done for
# every toolchain fetch-toolchains.sh provides, in several link variants,
# with and without .symtab; then a whole-text sweep and corrupted inline
# trees must neither disagree with goelf_pc_lookup nor crash.
#
# usage: test_inline.sh [-q]     -q: print only failures and the summary
# env:   CC (gcc), INLINE_FUZZ (mutated files per toolchain, default 30)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$root/build/inline-test
quiet=0
[ "${1:-}" = -q ] && quiet=1
mkdir -p "$work"
goprog=$here/inline_prog
. "$here/lib.sh"


build_goelf_check

# compare RUNTIME_OUT GOELF_OUT BIAS: checks goelf's "frames" lines against
# the program's stacks; prints "ok SUMMARY" or the first differences.
compare() {
	python3 - "$@" <<'PY'
import re, sys

# The runtime prints type arguments as "[...]" (funcNameForPrint); the
# tables hold "[go.shape.string]" or the like since 1.21.
def pname(s):
    return re.sub(r"\[.*\]", "[...]", s)

rt, ge, bias = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
stacks, cur = [], None
for ln in open(rt):
    f = ln.rstrip("\n").split("\t")
    if f[0].startswith("stack "):
        cur = (f[0][6:], [])
        stacks.append(cur)
    elif f[0] == "F" and cur:
        cur[1].append((int(f[1], 16) - bias, pname(f[2]), f[3]))
got = {}
for ln in open(ge):
    f = ln.rstrip("\n").split("\t")
    if not f[0].startswith("frames "):
        continue
    pc = int(f[0][7:], 16)
    if f[1].startswith("error:"):
        got[pc] = f[1]
        continue
    n = int(f[1])
    got[pc] = [(pname(f[2 + 2 * i]), f[3 + 2 * i]) for i in range(n)]
errs, nframes, ninl, deepest = [], 0, 0, 0
for name, frames in stacks:
    want = [(fn, fl) for _, fn, fl in frames]
    i = 0
    for j, (pc, _, _) in enumerate(frames):
        g = got.get(pc, "missing")
        if isinstance(g, str):
            errs.append("%s #%d %#x: %s" % (name, j, pc, g))
            continue
        if g != want[j:j + len(g)]:
            errs.append("%s #%d %#x: goelf %s, runtime %s" % (name, j, pc, g, want[j:j + len(g)]))
        if j == i:
            # a physical frame's expansion ends where the next one starts
            i += len(g)
            ninl += len(g) > 1
            deepest = max(deepest, len(g))
    if i != len(frames) and not errs:
        errs.append("%s: expansions do not tile the stack" % name)
    nframes += len(frames)
if errs:
    print("\n".join(errs[:6]))
elif ninl < 8 or deepest < 6:
    print("too little inlining seen: %d inlined pcs, deepest %d" % (ninl, deepest))
else:
    print("ok %d frames in %d stacks, %d pcs with inlined calls, up to %d deep"
          % (nframes, len(stacks), ninl, deepest))
PY
}

# check_binary TAG GO BIN TWIN: BIN is run, TWIN (unstripped, same code)
# gives main.main's link-time address for the PIE load bias.
check_binary() {
	local tag=$1 go=$2 bin=$3 twin=$4 base link bias pcs res flag how
	if ! "$bin" >"$bin.rt" 2>"$bin.err"; then
		bad "$tag: program failed: $(head -n 3 "$bin.err")"
		return
	fi
	base=$(awk '$1 == "base" {print $2}' "$bin.rt")
	link=$("$go" tool nm "$twin" | awk '$3 == "main.main" {print "0x" $1}' | head -n1)
	if [ -z "$base" ] || [ -z "$link" ]; then
		bad "$tag: no base address (run '$base', nm '$link')"
		return
	fi
	bias=$((base - link))
	pcs=$(perl -F'\t' -lane 'printf "0x%x\n", hex($F[1]) - '"$bias"' if $F[0] eq "F"' "$bin.rt" |
		sort -u)
	for flag in "" -P; do
		how="symtab"
		[ -n "$flag" ] && how="pclntab only"
		"$gc" $flag -F "$bin" $pcs >"$bin.ge$flag" 2>&1
		res=$(compare "$bin.rt" "$bin.ge$flag" "$bias")
		if [ "${res%% *}" = ok ]; then
			ok "$tag ($how): ${res#ok }"
		else
			bad "$tag ($how): goelf and runtime.CallersFrames differ:"
			echo "$res" | sed 's/^/      /'
		fi
	done
	# Every pc of the first 4 MiB of text: frames agree with
	# goelf_pc_lookup, no table errors, and the runtime has inlined code.
	res=$("$gc" -P -s 1:0x400000 "$bin" | awk '$1 == "sweep" {print $4, ($5 > 1000)}')
	if [ "$res" = "0 1" ]; then
		ok "$tag sweep: frame lists consistent, inlined pcs found"
	else
		bad "$tag sweep: errors and inlined-found '$res'"
	fi
}


# fuzz_inltree GO DIR: random bytes in the inline trees (go:func.*), which
# the pclntab fuzzing of test_goelf.sh does not reach.
fuzz_inltree() {
	local go=$1 d=$2 base=$2/plain f gf off crashes=0 results= rc
	local n=${INLINE_FUZZ:-30} checker=${gca:-$gc}
	gf=$("$go" tool nm "$base" | awk '$3 == "go:func.*" || $3 == "go.func.*" {print $1}')
	off=$(readelf -lW "$base" | perl -lane '
		BEGIN { $a = hex shift @ARGV }
		print $a - hex($F[2]) + hex($F[1]) if $F[0] eq "LOAD" &&
			$a >= hex($F[2]) && $a < hex($F[2]) + hex($F[4])' "$gf")
	if [ -z "$gf" ] || [ -z "$off" ]; then
		bad "$(basename "$d") fuzz: go:func.* not found"
		return
	fi
	pcs=$(awk -F'\t' '$1 == "F" {print $2}' "$base.rt" | sort -u)
	for i in $(seq 1 "$n"); do
		f=$d/fuzz
		cp "$base" "$f"
		perl -e 'srand($ARGV[0]); open(F, "+<", $ARGV[1]) or die;
			for (1 .. 64) { seek(F, $ARGV[2] + int(rand(0x40000)), 0);
				print F chr(int(rand(256))) }' "$i" "$f" "$off"
		"$checker" -P -F -s 7:0x100000 "$f" $pcs >"$f.out" 2>&1
		rc=$?
		results="$results $rc"
		if [ $rc -gt 1 ]; then
			crashes=$((crashes + 1))
			cp "$f" "$d/crash-$i"
			echo "      mutation $i: exit $rc, kept as $d/crash-$i: $(tail -n 2 "$f.out")"
		fi
	done
	if [ $crashes = 0 ]; then
		ok "$(basename "$d") $n corrupted inline trees${gca:+ (ASan+UBSan)}: no crash"
	else
		bad "$(basename "$d") corrupted inline trees: $crashes crashes"
	fi
}

have_lld=0
command -v ld.lld >/dev/null && have_lld=1
toolchains=$("$here/fetch-toolchains.sh")
while read -r v groot rest; do
	if [ "$groot" = skipped: ]; then
		skp "go$v: $rest"
		continue
	fi
	go=$groot/bin/go
	d=$work/go$v
	rm -rf "$d"
	mkdir -p "$d"
	# name twin cgo args ("-" as cgo: strip a copy of twin); args are
	# separated by "|", "~" stands for a space inside one
	variants=(
		"plain plain 0"
		"stripped plain -"
		"pie pie 0 -buildmode=pie"
		"pie-strip pie -"
		"external external 1 -ldflags=-linkmode=external"
		"external-strip external -"
	)
	if [ $have_lld = 1 ]; then
		# lld leaves relocated words zero: moduledata is found by addend
		variants+=("pie-lld pie-lld 1 -buildmode=pie|-ldflags=-linkmode=external~-extldflags=-fuse-ld=lld"
			"pie-lld-strip pie-lld -")
	else
		skp "go$v pie-lld: ld.lld not installed"
	fi
	for spec in "${variants[@]}"; do
		read -r name twin cgo args <<<"$spec"
		IFS='|' read -r -a argv <<<"${args//\~/ }"
		tag=go$v/$name
		bin=$d/$name
		if [ "$cgo" = - ]; then
			cp "$d/$twin" "$bin" && strip "$bin" || {
				bad "$tag: strip failed"
				continue
			}
		elif ! gobuild "$groot" "$bin" "$cgo" "${argv[@]}"; then
			bad "$tag: go build failed: $(tail -n 3 "$bin.log")"
			continue
		fi
		check_binary "$tag" "$go" "$bin" "$d/$twin"
	done
	fuzz_inltree "$go" "$d"
done <<<"$toolchains"

echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
