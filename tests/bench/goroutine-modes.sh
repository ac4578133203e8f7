#!/bin/bash
# Goroutine tracing with the default (auto) mode on running Go processes (a
# benchmark, not a test), rounds interleaved in one run, medians printed:
#
#   http   a Go net/http hello server under wrk -t2 -c32, untraced versus
#          attached with `ctrace-bpf -p PID` and default options; the
#          capture's goroutines and syscalls attributed to them;
#   pool   a channel worker pool's rate while attached with -p for 4 s,
#          against its rate in the seconds before (same process).
#
# The cost of full mode per job is tests/bench/go-workerpool.sh (MODE=full).
# Environment: ROUNDS (3), GO (go), CTRACE (./ctrace-bpf), PORT (18080),
# SECS (wrk seconds, 4).
set -u
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
GO=${GO:-go}
CTRACE=${CTRACE:-./ctrace-bpf}
PORT=${PORT:-18080}
SECS=${SECS:-4}
out=build/bench/modes
mkdir -p "$out"
command -v wrk >/dev/null || { echo "goroutine-modes: needs wrk (apt-get install wrk)" >&2; exit 1; }
for p in hello poolrate; do
	(cd tests/bench/$p && GOCACHE="$PWD/../../../build/bench/gocache" GO111MODULE=off \
		"$GO" build -o "../../../$out/$p" main.go) || exit 1
done

median() { sort -g | awk '{v[NR] = $1} END { print NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : 0 }'; }
reqs() { wrk -t2 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}'; }

# One HTTP round: untraced, then attached, on the same server process.
http_round() {
	local srv u t
	"$out/hello" "127.0.0.1:$PORT" &
	srv=$!
	sleep 0.5
	wrk -t2 -c32 -d1s "http://127.0.0.1:$PORT/" >/dev/null # warm up
	u=$(reqs)
	"$CTRACE" -q -p "$srv" -d "$((SECS + 2))s" -o "$out/http.ctr" &
	sleep 1
	t=$(reqs)
	wait $!
	kill "$srv"
	wait "$srv" 2>/dev/null
	echo "$u $t"
}

# One pool round: 3 s alone, then 4 s attached (from t=3.5 s), in one process.
pool_round() {
	local pid
	"$out/poolrate" 9 >"$out/pool.txt" &
	pid=$!
	sleep 3.5
	"$CTRACE" -q -p "$pid" -d 4s -o "$out/pool.ctr"
	wait "$pid"
	awk -F'[= ]' '$2 >= 1 && $2 < 3.5 {b += $4; nb++} $2 > 3.75 && $2 <= 7.5 {a += $4; na++}
		END { printf "%.0f %.0f\n", b / nb * 4, a / na * 4 }' "$out/pool.txt"
}

: >"$out/http.r"
: >"$out/pool.r"
for r in $(seq "$ROUNDS"); do
	read -r u t < <(http_round)
	read -r b a < <(pool_round)
	echo "round $r: http untraced $u req/s, attached $t req/s; pool before $b jobs/s, attached $a jobs/s"
	echo "$u $t" >>"$out/http.r"
	echo "$b $a" >>"$out/pool.r"
done
hu=$(cut -d' ' -f1 "$out/http.r" | median) ht=$(cut -d' ' -f2 "$out/http.r" | median)
pb=$(cut -d' ' -f1 "$out/pool.r" | median) pa=$(cut -d' ' -f2 "$out/pool.r" | median)
echo "http: median untraced $hu req/s, attached $ht req/s: ratio $(echo "$ht $hu" | awk '{printf "%.3f", $1 / $2}')x (target >= 0.90x)"
echo "pool: median before $pb jobs/s, attached $pa jobs/s: ratio $(echo "$pa $pb" | awk '{printf "%.3f", $1 / $2}')x (target >= 0.85x)"
# What the last HTTP capture shows of the goroutines.
/usr/bin/python3 - "$out/http.ctr" <<'EOF'
import sys
sys.path.insert(0, "tests")
import ctrlib
cap = ctrlib.load(sys.argv[1])
modes = [(m.mode, m.reason) for m in cap.go_modes]
tails = [r for r in cap.records if "tail_goid" in r.f and r.tail_goid > 0]
sys_g = [r for r in tails if r.type == ctrlib.EV_SYS_ENTER]
print(f"http capture: goroutine modes {modes}; {len({r.tail_goid for r in tails})} goroutines "
      f"named at kernel events, {len(sys_g)} syscalls attributed to goroutines")
EOF
