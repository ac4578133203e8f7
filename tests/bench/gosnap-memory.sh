#!/bin/bash
# Sampled mode's collector memory on a big target (a benchmark, not a test):
# tests/goprogs/manyblocked with GOROUTINES goroutines (10000), attached with
# `-p PID --goroutines sampled` for SECS seconds (60), snapshots every
# 100 ms. Prints the collector's RssAnon each 10 s and its maximum (target:
# <= 64 MB), and the snapshot summary line.
# Environment: GOROUTINES, SECS, GOVER (1.24), CTRACE (./ctrace-bpf).
set -u
cd "$(dirname "$0")/../.."
GOROUTINES=${GOROUTINES:-10000}
SECS=${SECS:-60}
GOVER=${GOVER:-1.24}
CTRACE=${CTRACE:-./ctrace-bpf}
die() { echo "gosnap-memory: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
tests/go/build-matrix.sh -q "$GOVER" plain manyblocked || die "cannot build manyblocked"
prog=build/goprogs/$GOVER/plain/manyblocked
tmp=$(mktemp -d)
trap 'kill $tgt 2>/dev/null; rm -rf "$tmp"' EXIT
: >"$tmp/out"
"$prog" "$GOROUTINES" $((SECS * 1000 + 20000)) >"$tmp/out" &
tgt=$!
for _ in $(seq 100); do grep -q ready "$tmp/out" && break; sleep 0.1; done
"$CTRACE" -p "$tgt" --goroutines sampled -d "${SECS}s" --snapshot-interval 100ms \
	-o "$tmp/m.ctr" 2>"$tmp/log" &
ct=$!
max=0
for s in $(seq "$SECS"); do
	sleep 1
	kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$ct/status" 2>/dev/null) || break
	[ -n "$kb" ] || break
	[ "$kb" -gt "$max" ] && max=$kb
	[ $((s % 10)) = 0 ] && echo "t=${s}s RssAnon ${kb} kB"
done
wait "$ct" || die "ctrace-bpf exited $?: $(cat "$tmp/log")"
grep -i "snapshots" "$tmp/log"
echo "collector RssAnon max over ${SECS} s: $max kB = $((max / 1024)) MB (target <= 64 MB), $GOROUTINES goroutines"
