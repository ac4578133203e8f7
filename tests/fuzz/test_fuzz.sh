#!/bin/bash
# The libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by `make fuzz-build`
# with ASan and UBSan): first every committed regression input
# (tests/fuzz/regress/HARNESS/, one per crash found), then FUZZ_SECS seconds
# of fuzzing each (default 12; `make fuzz FUZZ_SECS=N` for longer runs) from
# a seed corpus of real captures, reports and Go binaries made here, plus
# whatever earlier runs found (build/fuzz/corpus/). Any sanitizer report,
# crash, leak, timeout or memory blow-up fails, with the input kept as
# build/fuzz/crash-*.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECS:-12}
passed=0 failed=0
ok() { echo "ok    $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
finish() { echo "fuzz: $passed passed, $failed failed"; exit $((failed > 0)); }

if ! out=$(make -s -j2 all fuzz-build 2>&1); then
	bad "make fuzz-build: $(echo "$out" | grep -m3 -E 'error|Error')"
	finish
fi
work=build/fuzz/work
rm -rf "$work"
mkdir -p "$work"/seed/{capture,diff,goelf} build/fuzz/corpus/{capture,diff,goelf}
trap 'rm -rf "$work" /tmp/ctrace-fuzz-pprof.*' EXIT

# Seeds: a fresh capture (when BPF is usable), captures other tests kept,
# their reports, Go binaries the Go tests built and a C binary.
if [ "$(id -u)" = 0 ] && ./ctrace-bpf -q -d 300ms -o "$work/seed/capture/rec.ctr" \
	-- sh -c 'ls / >/dev/null; sleep 0.1' >/dev/null 2>&1; then
	ok "seed capture recorded"
fi
find build/tests/captures -name '*.ctr' -size -512k 2>/dev/null | head -6 |
	while read -r f; do cp "$f" "$work/seed/capture/"; done
# The same captures' records, uncompressed: the harness wraps raw input.
/usr/bin/python3 - "$work/seed/capture" <<'PY' || bad "raw seeds"
import sys
from pathlib import Path
sys.path.insert(0, "tests")
import ctrlib
d = Path(sys.argv[1])
for f in sorted(d.glob("*.ctr")):
    try:
        raws = b"".join(ctrlib.capture_blocks(f)[1])
    except Exception:  # kept on purpose cut or damaged by a test: seeds as is
        continue
    (d / (f.stem + ".raw")).write_bytes(raws[:256 << 10])
PY
for f in "$work"/seed/capture/*.ctr; do
	[ -e "$f" ] || continue
	./ctrace-bpf report "$f" --json >"$work/seed/diff/$(basename "$f").json" 2>/dev/null
done
find build/goprogs -path '*1.19*' -type f -name fileio 2>/dev/null | head -2 |
	while read -r f; do cp "$f" "$work/seed/goelf/$(echo "$f" | tr / _)"; done
cp "$(readlink -f /bin/true)" "$work/seed/goelf/true"

for h in capture diff goelf; do
	bin=build/fuzz/fuzz_$h
	reg=tests/fuzz/regress/$h
	# Small inputs run fast; Go binaries need their size to hold a pclntab.
	maxlen=65536
	[ "$h" = goelf ] && maxlen=$((4 << 20))
	opts=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=600 -close_fd_mask=3 -max_len=$maxlen)
	if [ -d "$reg" ] && ls "$reg"/* >/dev/null 2>&1; then
		if log=$("$bin" "${opts[@]}" "$reg"/* 2>&1); then
			ok "$h: $(ls "$reg" | wc -l) regression inputs"
		else
			bad "$h regression: $(echo "$log" | grep -m2 -E 'ERROR|SUMMARY|Running:')"
		fi
	fi
	mkdir -p "$work/seed/$h-all"
	cp "$work/seed/$h"/* "$reg"/* "$work/seed/$h-all/" 2>/dev/null
	if log=$("$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="build/fuzz/crash-$h-" build/fuzz/corpus/$h "$work/seed/$h-all" 2>&1); then
		ok "$h: fuzzed ${secs}s, $(echo "$log" | grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' | grep -oE '[0-9]+$') runs"
	else
		bad "$h: $(echo "$log" | grep -m3 -E 'ERROR|SUMMARY|artifact' | tr '\n' ' ')"
	fi
done
finish
