#!/bin/bash
# `make demo`: traces two bundled workloads and says how to open the results.
#  1. a C program bouncing a byte between two threads over pipes;
#  2. the Go worker pool (tests/goprogs/workerpool), goroutines included,
#     written for Perfetto and for `go tool trace`.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/demo
gcc -O2 -pthread -Wall -o build/demo/pingpong tests/workloads/pingpong.c
echo "== tracing a C ping-pong (2 threads, 2000 round trips)"
./ctrace-bpf -o demo-pingpong.pftrace -- build/demo/pingpong 2000 >/dev/null

echo
echo "== tracing the Go worker pool (4 workers, 2000 jobs)"
(cd tests/goprogs/workerpool && GOCACHE="$PWD/../../../build/demo/gocache" GO111MODULE=off \
	go build -o ../../../build/demo/workerpool main.go)
./ctrace-bpf --goroutines full -o build/demo/workerpool.ctr -- build/demo/workerpool 4 2000
./ctrace-bpf convert build/demo/workerpool.ctr -o demo-workerpool.pftrace
./ctrace-bpf convert build/demo/workerpool.ctr -o demo-workerpool.gotrace
echo
echo "Open demo-pingpong.pftrace and demo-workerpool.pftrace at https://ui.perfetto.dev"
echo "(Open trace file); the worker pool's goroutines are in its \"Goroutines\" group."
echo "For Go's own trace viewer:  go tool trace demo-workerpool.gotrace"
echo "A summary in the terminal:  ./ctrace-bpf report build/demo/workerpool.ctr"
