#!/bin/bash
# The kernel event path's cost (a benchmark, not a test), measured side by
# side in one run, rounds interleaved, medians printed:
#
#   pipe     `perf bench sched pipe` untraced, with the empty programs
#            attached (the floor: what any tracer on these attach points
#            costs before it records anything), under ctrace-bpf recording
#            system-wide, and under `perf record -a` on the same events;
#            ratios to untraced, collector CPU per million events/s, bytes
#            per event;
#   handler  what each attach point costs: BPF run time (bpf_stats) of our
#            handlers next to empty programs on the same attach points,
#            loaded at the same time; and what the workload pays per
#            operation (getppid() calls and a pipe ping-pong on one CPU)
#            with nothing attached, with the empty programs, with ours;
#   http     the Go net/http hello server under wrk -t2 -c32, untraced and
#            attached with `-p PID --goroutines off`.
#
# Environment: ROUNDS (5), LOOPS (100000 pipe round trips a run), CTRACE
# (./ctrace-bpf), PERF (perf), SECS (wrk seconds, 4), PORT (18081),
# PARTS ("pipe handler http").
set -u
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-100000}
CTRACE=${CTRACE:-./ctrace-bpf}
SECS=${SECS:-4}
PORT=${PORT:-18081}
PARTS=${PARTS:-pipe handler http}
B=build/bench
EVENTS=sched:sched_switch,sched:sched_waking,sched:sched_wakeup_new,raw_syscalls:sys_enter,raw_syscalls:sys_exit

die() { echo "event-path: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$CTRACE" ] || die "$CTRACE not built (run make)"
PERF=${PERF:-$(command -v perf || ls /usr/bin/perf_* 2>/dev/null | sort -V | tail -1)}
[ -n "$PERF" ] || die "perf not found (apt-get install linux-perf)"

# The reference programs and the per-operation probe, built here.
mkdir -p "$B"
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ibuild -c tests/bench/nullprogs/nullprogs.bpf.c \
	-o "$B/nullprogs.bpf.o" &&
	bpftool gen skeleton "$B/nullprogs.bpf.o" >"$B/nullprogs.skel.h" &&
	cc -O2 -I"$B" tests/bench/nullprogs/nullprogs.c -o "$B/nullprogs" -lbpf -lelf -lz &&
	cc -O2 tests/bench/nullprogs/evcost.c -o "$B/evcost" || die "cannot build the probes"

tmp=$(mktemp -d)
bg=
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$bg" ] && kill -INT $bg 2>/dev/null && wait $bg 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -g | awk '{v[NR] = $1} END { if (!NR) print "?"; else print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }'; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Starts a tracer in the background ($bg) and waits until it records.
start() {
	local what=$1
	: >"$tmp/log"
	case $what in
	none) bg= ;;
	null) "$B/nullprogs" >"$tmp/log" & bg=$! ;;
	ctrace) "$CTRACE" -o "$tmp/c.ctr" ${CTRACE_ARGS:-} 2>"$tmp/log" & bg=$! ;;
	perf) "$PERF" record -q -a -o "$tmp/p.data" -e "$EVENTS" >/dev/null 2>"$tmp/log" & bg=$! ;;
	esac
	[ -z "$bg" ] && return
	for _ in $(seq 100); do
		grep -qE "recording|attached" "$tmp/log" && return
		[ "$what" = perf ] && { sleep 1; return; } # perf says nothing
		kill -0 "$bg" 2>/dev/null || die "$what did not start: $(cat "$tmp/log")"
		sleep 0.1
	done
	die "$what did not start: $(cat "$tmp/log")"
}

stop() {
	local rc
	[ -z "$bg" ] && return
	kill -INT "$bg"
	wait "$bg"
	rc=$?
	bg=
	# perf record exits 130 after a SIGINT, having written its data.
	[ "$rc" = 0 ] || [ "$rc" = 130 ] || die "tracer exited $rc: $(cat "$tmp/log")"
}

pipe_ops() { "$PERF" bench sched pipe -l "$LOOPS" 2>/dev/null | awk '/ops\/sec/ { print $1 }'; }

pipe_part() {
	local r u e c p t0 t1 k0 k1 ev
	: >"$tmp/pipe"
	for r in $(seq "$ROUNDS"); do
		u=$(pipe_ops)
		start null
		e=$(pipe_ops)
		stop
		start ctrace
		t0=$(date +%s.%N) k0=$(cpu_ticks "$bg")
		c=$(pipe_ops)
		t1=$(date +%s.%N) k1=$(cpu_ticks "$bg")
		stop
		ev=$(grep -oE '[0-9,]+ events' "$tmp/log" | head -1 | tr -dc 0-9)
		dr=$(grep -oE '[0-9,]+ dropped' "$tmp/log" | head -1 | tr -dc 0-9)
		start perf
		p=$(pipe_ops)
		stop
		# Collector CPU share over the benchmark window, per million events/s.
		awk -v u="$u" -v e="$e" -v c="$c" -v p="$p" -v t0="$t0" -v t1="$t1" -v k0="$k0" -v k1="$k1" \
			-v hz="$(getconf CLK_TCK)" -v ev="${ev:-0}" -v sz="$(stat -c %s "$tmp/c.ctr")" -v dr="${dr:-?}" -v r="$r" '
			BEGIN { cpu = (k1 - k0) / hz / (t1 - t0); rate = ev / (t1 - t0)
				printf "pipe round %d: untraced %d ops/s, empty programs %d (%.3fx), ctrace-bpf %d (%.3fx), perf record %d (%.3fx); %d events, %d dropped, %.1f bytes/event, collector %.1f%% CPU = %.1f%% per M events/s\n",
					r, u, e, e / u, c, c / u, p, p / u, ev, dr, sz / ev, 100 * cpu, 100 * cpu / (rate / 1e6)
				print c / u, p / u, 100 * cpu / (rate / 1e6), sz / ev, e / u > "/dev/stderr" }' 2>>"$tmp/pipe"
	done
	printf 'pipe medians: ctrace-bpf %.3fx, perf record %.3fx, empty programs %.3fx of untraced (target >= 0.90x and >= perf); collector %.1f%% of a CPU per M events/s (target <= 10%%); %.1f bytes/event\n' \
		"$(cut -d' ' -f1 "$tmp/pipe" | median)" "$(cut -d' ' -f2 "$tmp/pipe" | median)" \
		"$(cut -d' ' -f5 "$tmp/pipe" | median)" \
		"$(cut -d' ' -f3 "$tmp/pipe" | median)" "$(cut -d' ' -f4 "$tmp/pipe" | median)"
}

# "name ns/run" of every BPF program that ran since stats were reset.
bpf_runs() {
	bpftool -j prog show 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("run_cnt", 0) > 1000:
        print(p.get("name", "?"), round(p["run_time_ns"] / p["run_cnt"], 1))'
}

# One operation's cost, best of 5 runs, pinned to CPU 1.
op_ns() { taskset -c 1 "$B/evcost" "$1" "$2"; }

handler_part() {
	local r what s n
	# bpf_stats: ours and the empty programs attached together.
	sysctl -qw kernel.bpf_stats_enabled=1
	start null
	nullbg=$bg
	start ctrace
	pipe_ops >/dev/null
	op_ns syscalls 300000 >/dev/null
	bpf_runs >"$tmp/runs"
	stop
	bg=$nullbg
	stop
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	for ap in sched_switch sched_waking sys_enter sys_exit; do
		awk -v ap="$ap" '$1 == "handle_" ap { h = $2 } $1 == "null_" ap { n = $2 }
			END { printf "bpf_stats %-13s ours %6.1f ns/run, empty %5.1f ns/run: %.2fx\n", ap, h, n, h / n }' "$tmp/runs"
	done
	# What the workload pays per operation, rounds interleaved.
	: >"$tmp/ops"
	for r in $(seq "$ROUNDS"); do
		for what in none null ctrace; do
			start "$what"
			s=$(op_ns syscalls 200000)
			n=$(op_ns pingpong 20000)
			stop
			echo "$what $s $n" >>"$tmp/ops"
		done
	done
	for col in 2 3; do
		for what in none null ctrace; do
			grep "^$what " "$tmp/ops" | cut -d' ' -f"$col" | median >"$tmp/m.$what"
		done
		awk -v op="$([ $col = 2 ] && echo "getppid() syscall" || echo "ping-pong round trip")" \
			-v n0="$(cat "$tmp/m.none")" -v n1="$(cat "$tmp/m.null")" -v n2="$(cat "$tmp/m.ctrace")" 'BEGIN {
			printf "per %s: %.0f ns untraced, +%.0f ns with empty programs, +%.0f ns with ctrace-bpf: %.2fx the empty programs (target <= 2x)\n",
				op, n0, n1 - n0, n2 - n0, (n2 - n0) / (n1 - n0) }'
	done
}

http_part() {
	local r srv u t
	command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
	(cd tests/bench/hello && GOCACHE="$PWD/../../../$B/gocache" GO111MODULE=off \
		go build -o "../../../$B/hello" main.go) || die "cannot build the hello server"
	: >"$tmp/http"
	for r in $(seq "$ROUNDS"); do
		"$B/hello" "127.0.0.1:$PORT" &
		srv=$!
		for _ in $(seq 50); do
			(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
			sleep 0.1
		done
		wrk -t2 -c32 -d1s "http://127.0.0.1:$PORT/" >/dev/null
		u=$(wrk -t2 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
		"$CTRACE" -q -p "$srv" --goroutines off -d "$((SECS + 2))s" -o "$tmp/h.ctr" &
		sleep 1
		t=$(wrk -t2 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
		wait $!
		kill "$srv"
		wait "$srv" 2>/dev/null
		echo "http round $r: untraced $u req/s, attached (--goroutines off) $t req/s ($(ratio "$t" "$u")x)"
		echo "$u $t" >>"$tmp/http"
	done
	u=$(cut -d' ' -f1 "$tmp/http" | median) t=$(cut -d' ' -f2 "$tmp/http" | median)
	printf 'http medians: untraced %.0f req/s, attached %.0f req/s: %sx (target >= 0.93x)\n' "$u" "$t" "$(ratio "$t" "$u")"
}

for part in $PARTS; do
	"${part}_part"
done
