#!/bin/bash
# Sustained load (a benchmark, not a test): tests/workloads/loadgen (pipe
# ping-pong pairs and a getppid() storm) recorded system-wide for SECS
# seconds. Prints the event rate recorded, the drops (must be 0), the
# collector's RssAnon over the run (must stay flat) and whether the capture
# converts. The first run is unthrottled, which is the highest rate this
# machine produces with the tracer attached; if it drops events, the storm
# is paced to 80% of what it reached and the run repeated (up to 3 times),
# so the last run names the highest rate sustained without loss.
# Environment: SECS (30), PAIRS (2), STORMERS (2), CTRACE (./ctrace-bpf).
set -u
cd "$(dirname "$0")/../.."
SECS=${SECS:-30}
PAIRS=${PAIRS:-2}
STORMERS=${STORMERS:-2}
CTRACE=${CTRACE:-./ctrace-bpf}
B=build/bench
die() { echo "sustained: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$CTRACE" ] || die "$CTRACE not built (run make)"
mkdir -p "$B"
cc -O2 -pthread -Wall -o "$B/loadgen" tests/workloads/loadgen.c || die "cannot build loadgen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rss_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

run() {
	local rate=$1 ct lg rss=() t0 t1
	"$CTRACE" -o "$tmp/s.ctr" 2>"$tmp/log" &
	ct=$!
	for _ in $(seq 100); do
		grep -q recording "$tmp/log" && break
		sleep 0.1
	done
	t0=$(date +%s.%N)
	"$B/loadgen" "$SECS" "$PAIRS" "$STORMERS" "$rate" >"$tmp/lg" &
	lg=$!
	while kill -0 "$lg" 2>/dev/null; do
		rss+=("$(rss_kb "$ct")")
		sleep 1
	done
	wait "$lg"
	t1=$(date +%s.%N)
	kill -INT "$ct"
	wait "$ct" || die "ctrace-bpf exited $?: $(cat "$tmp/log")"
	ev=$(grep -oE '[0-9,]+ events' "$tmp/log" | head -1 | tr -dc 0-9)
	dr=$(grep -oE '[0-9,]+ dropped' "$tmp/log" | head -1 | tr -dc 0-9)
	conv=ok
	"$CTRACE" convert "$tmp/s.ctr" -o "$tmp/s.pftrace" 2>"$tmp/conv" || conv="FAILED: $(cat "$tmp/conv")"
	# RssAnon after the first 5 s: the collector's steady state.
	printf '%s\n' "${rss[@]:5}" | awk -v ev="$ev" -v dr="$dr" -v t0="$t0" -v t1="$t1" \
		-v rate="$rate" -v lg="$(cat "$tmp/lg")" -v conv="$conv" -v sz="$(stat -c %s "$tmp/s.ctr")" '
		$1 != "" { if (n == 0 || $1 < lo) lo = $1; if ($1 > hi) hi = $1; n++ }
		END { printf "storm rate %s: %s\n  %d events in %.1f s = %.0f events/s recorded, %d dropped, %.1f bytes/event\n  collector RssAnon %d..%d kB from 5 s on (%+d kB); convert: %s\n",
			rate ? rate "/s a thread" : "unthrottled", lg, ev, t1 - t0, ev / (t1 - t0), dr, sz / ev, lo, hi, hi - lo, conv }'
	storm=$(sed -E 's/.*syscalls=([0-9]+).*/\1/' "$tmp/lg")
}

rate=0
for try in 1 2 3; do
	run "$rate"
	[ "${dr:-1}" = 0 ] && break
	# Pace each stormer to 80% of the syscalls a second the whole run reached.
	rate=$(awk -v s="$storm" -v t="$SECS" -v n="$STORMERS" 'BEGIN { printf "%d", 0.8 * s / t / n }')
done
