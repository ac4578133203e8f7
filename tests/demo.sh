#!/bin/bash
# `make demo`: traces two bundled workloads and says how to open the results.
#  1. a C program bouncing a byte between two threads over pipes;
#  2. the Go worker pool (tests/goprogs/workerpool), goroutines included.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/demo
gcc -O2 -pthread -Wall -o build/demo/pingpong tests/workloads/pingpong.c
echo "== tracing a C ping-pong (2 threads, 2000 round trips)"
./ctrace-bpf -o demo-pingpong.pftrace -- build/demo/pingpong 2000 >/dev/null

if command -v go >/dev/null 2>&1; then
	(cd tests/goprogs/workerpool && GOCACHE="$PWD/../../../build/demo/gocache" \
		GOFLAGS=-mod=mod go build -o ../../../build/demo/workerpool .)
	echo "== tracing the Go worker pool (4 workers, 2000 jobs)"
	./ctrace-bpf -o demo-workerpool.pftrace -- build/demo/workerpool 4 2000
fi
echo
echo "Open demo-pingpong.pftrace and demo-workerpool.pftrace at https://ui.perfetto.dev"
echo "(Open trace file). Look for the \"Goroutines\" group under the workerpool process."
