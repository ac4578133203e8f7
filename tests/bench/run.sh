#!/bin/bash
# Overhead benchmark (not a test): `perf bench sched pipe` throughput with
# and without ctrace-bpf recording system-wide, rounds interleaved
# (untraced, traced, untraced, ...). Prints per-round figures, the
# traced/untraced ratio (target >= 0.85), and for the traced runs the
# capture's events/s, bytes/event and drops.
# Environment: ROUNDS (3), LOOPS (200000 pipe round trips per run),
# OUT (/tmp/bench.ctr), CTRACE (./ctrace-bpf), BPF_STATS=1 (also print
# each BPF program's mean run time, via kernel.bpf_stats_enabled, which
# itself costs a little), EXTRA_ARGS (more ctrace-bpf options, e.g.
# "-p 1" to record sched events only), PIN=CPU (run the benchmark's two
# processes on that one CPU: steadier numbers on a small VM).
set -u
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
LOOPS=${LOOPS:-200000}
OUT=${OUT:-/tmp/bench.ctr}
CTRACE=${CTRACE:-./ctrace-bpf}

PERF=$(command -v perf 2>/dev/null)
if [ -z "$PERF" ] || ! "$PERF" version >/dev/null 2>&1; then
	PERF=$(ls /usr/bin/perf_* 2>/dev/null | sort -V | tail -1)
fi
if [ -z "$PERF" ]; then
	echo "bench: perf not found (install linux-perf)" >&2
	exit 1
fi
if [ ! -x "$CTRACE" ]; then
	echo "bench: $CTRACE not built (run make)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root" >&2
	exit 1
fi

log=$(mktemp)
stats_was=
if [ "${BPF_STATS:-0}" = 1 ]; then
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
fi
cleanup() {
	rm -f "$log"
	[ -n "${ct:-}" ] && kill -INT "$ct" 2>/dev/null
	[ -n "$stats_was" ] && sysctl -qw kernel.bpf_stats_enabled="$stats_was"
}
trap cleanup EXIT

# ids of the loaded BPF programs
prog_ids() {
	bpftool -j prog show 2>/dev/null | /usr/bin/python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))'
}

# "name ns/run (runs)" of the BPF programs loaded since prog ids $1
bpf_stats() {
	bpftool -j prog show 2>/dev/null | /usr/bin/python3 -c '
import json, sys
old = set(sys.argv[1].split())
for p in json.load(sys.stdin):
    if str(p["id"]) not in old and p.get("run_cnt"):
        print("    bpf %-28s %6.0f ns/run  %9d runs" % (
            p.get("name", "?"), p["run_time_ns"] / p["run_cnt"], p["run_cnt"]))
' "$1"
}

# ops/sec of one `perf bench sched pipe` run
pipe_ops() {
	${PIN:+taskset -c "$PIN"} "$PERF" bench sched pipe -l "$LOOPS" 2>/dev/null |
		awk '/ops\/sec/ { print $1 }'
}

now() { date +%s.%N; }

# user+system CPU seconds of a process so far
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

untraced=() traced=() evrate=() bpe=() drops=() cpus=()
for r in $(seq 1 "$ROUNDS"); do
	u=$(pipe_ops)
	untraced+=("$u")

	rm -f "$OUT"
	: >"$log"
	[ -n "$stats_was" ] && before=$(prog_ids)
	"$CTRACE" -o "$OUT" ${EXTRA_ARGS:-} 2>"$log" &
	ct=$!
	for _ in $(seq 1 300); do
		grep -q recording "$log" && break
		kill -0 "$ct" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q recording "$log"; then
		echo "bench: ctrace-bpf did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	t0=$(now)
	c0=$(cpu_s "$ct")
	t=$(pipe_ops)
	c1=$(cpu_s "$ct")
	t1=$(now)
	stats=
	[ -n "$stats_was" ] && stats=$(bpf_stats "$before")
	cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * (b - a) / (e - s) }')
	kill -INT "$ct"
	wait "$ct"
	rc=$?
	ct=
	if [ "$rc" -ne 0 ]; then
		echo "bench: ctrace-bpf exited $rc:" >&2
		cat "$log" >&2
		exit 1
	fi
	traced+=("$t")
	size=$(stat -c %s "$OUT")
	# The summary's event and drop counts ("N events", "N drops"/"dropped N").
	ev=$(grep -oiE '[0-9][0-9,]* events' "$log" | head -1 | tr -dc 0-9)
	dr=$(grep -oiE '[0-9][0-9,]* (drops|dropped|lost)|(drops|dropped|lost)[: =]+[0-9][0-9,]*' "$log" |
		head -1 | tr -dc 0-9)
	ev=${ev:-0} dr=${dr:-?}
	# Events over the whole recording, rate over the benchmark's window.
	rate=$(awk -v e="$ev" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", e / (b - a) }')
	per=$(awk -v s="$size" -v e="$ev" 'BEGIN { if (e > 0) printf "%.1f", s / e; else print "?" }')
	evrate+=("$rate") bpe+=("$per") drops+=("$dr") cpus+=("$cpu")
	printf 'round %d: untraced %s ops/s, traced %s ops/s (ratio %s); %s events, %s/s, %s bytes, %s bytes/event, drops %s, collector CPU %s%%\n' \
		"$r" "$u" "$t" "$(awk -v t="$t" -v u="$u" 'BEGIN { printf "%.3f", t / u }')" \
		"$ev" "$rate" "$size" "$per" "$dr" "$cpu"
	[ -n "$stats" ] && echo "$stats"
done

mean() { printf '%s\n' "$@" | awk '$1 ~ /^[0-9.]+$/ { s += $1; n++ } END { if (n) printf "%.1f", s / n; else print "?" }'; }
mu=$(mean "${untraced[@]}")
mt=$(mean "${traced[@]}")
ratio=$(awk -v t="$mt" -v u="$mu" 'BEGIN { printf "%.3f", t / u }')
echo "untraced mean: $mu ops/s"
echo "traced mean:   $mt ops/s"
echo "ratio traced/untraced: $ratio (target >= 0.85)"
echo "events/s (traced): $(mean "${evrate[@]}"), bytes/event: $(mean "${bpe[@]}"), collector CPU: $(mean "${cpus[@]}")% of one CPU"
rm -f "$OUT"
