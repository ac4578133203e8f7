#!/bin/bash
# Goroutine-tracing overhead (a benchmark, not a test): throughput of a
# channel worker pool untraced versus traced by ctrace-bpf in launch mode,
# rounds interleaved in one run. Prints the traced/untraced ratio, probe
# hits (goroutine records) per channel operation and per job, and drops.
# Environment: ROUNDS (3), JOBS (200000), GO (go), CTRACE (./ctrace-bpf),
# STACK_DEPTH (16), MODE (full: --goroutines).
set -u
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-200000}
GO=${GO:-go}
CTRACE=${CTRACE:-./ctrace-bpf}
DEPTH=${STACK_DEPTH:-16}
MODE=${MODE:-full}
bin=build/bench/workerpool
mkdir -p build/bench
(cd tests/bench/workerpool && GOCACHE="$PWD/../../../build/bench/gocache" GO111MODULE=off \
	"$GO" build -o "../../../$bin" main.go) || exit 1

ops() { sed -n 's/.*ops_per_sec \([0-9]*\).*/\1/p'; }
: >build/bench/wp.err
un_total=0 tr_total=0
for r in $(seq "$ROUNDS"); do
	u=$("$bin" "$JOBS" | ops)
	# -v prints what a probe hit and an empty uprobe cost here (full mode).
	t=$("$CTRACE" -q -v --goroutines "$MODE" --stack-depth "$DEPTH" -o build/bench/wp.ctr -- "$bin" "$JOBS" \
		2>>build/bench/wp.err | ops)
	echo "round $r: untraced $u ops/s, traced $t ops/s"
	un_total=$((un_total + u)) tr_total=$((tr_total + t))
done
"$CTRACE" convert build/bench/wp.ctr -o build/bench/wp.txt >/dev/null 2>&1
goev=$(grep -c ' go_' build/bench/wp.txt)
drops=$(sed -n 's/^# events [0-9]*, dropped \([0-9]*\).*/\1/p' build/bench/wp.txt)
# The empty uprobe measured in these runs (median): the unit of full mode's cost.
empty=$(sed -n 's/.*, \([0-9]*\) ns an empty uprobe$/\1/p' build/bench/wp.err | sort -n |
	awk '{v[NR] = $1} END { print NR ? v[int((NR + 1) / 2)] : 0 }')
# Each job is two channel operations (a send on jobs, a send on results);
# their receives are the other halves.
awk -v u="$un_total" -v t="$tr_total" -v g="$goev" -v j="$JOBS" -v d="$drops" -v n="$ROUNDS" \
	-v e="$empty" 'BEGIN {
	printf "untraced %.0f ops/s, traced %.0f ops/s: ratio %.3fx (target >= 0.15x)\n", u / n, t / n, t / u
	printf "goroutine records in the last traced run: %d = %.2f per job, %.2f per channel operation; %s dropped\n", g, g / j, g / (2 * j), d
	if (e > 0) {
		x = 1e9 * n / t - 1e9 * n / u
		printf "extra time per job %.2f us = %.1f empty-uprobe hits of %d ns measured in the same runs (full mode target <= 9)\n", x / 1000, x / e, e
	}
}'
