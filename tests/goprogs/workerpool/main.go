// workerpool: N workers read jobs from an unbuffered channel and send results
// on an unbuffered channel; a producer goroutine feeds the jobs and closes the
// channel, a collector goroutine sums the results and hands the sum to main,
// which then waits for every goroutine of the pool to return (so that all of
// them exit before the process does).
//
// usage: workerpool [WORKERS [JOBS]]   (default 4 1000); prints a checksum.
//
// The goroutines are started without arguments (go worker(), not go worker(i))
// so that their start pc is the named function itself: since go1.17 a go
// statement with arguments starts a compiler-generated wrapper
// (main.main.func1 / main.main.gowrap1) instead. The tests rely on the start
// functions being main.producer, main.worker and main.collector.
//
// With CTRACE_GROUND_TRUTH=FILE in the environment, main also records Go's
// own execution trace (runtime/trace) into FILE.
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
)

var (
	njobs   int
	jobs    = make(chan int)
	results = make(chan int)
	done    = make(chan int)
	wg      sync.WaitGroup
)

//go:noinline
func work(j int) int {
	x := uint32(j)*2654435761 + 1
	for i := 0; i < 64; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
	}
	return int(x % 1000003)
}

func producer() {
	defer wg.Done()
	for i := 0; i < njobs; i++ {
		jobs <- i
	}
	close(jobs)
}

func worker() {
	defer wg.Done()
	for j := range jobs {
		results <- work(j)
	}
}

func collector() {
	defer wg.Done()
	sum := 0
	for i := 0; i < njobs; i++ {
		// results arrive in any order: combine them commutatively
		sum = (sum + <-results) % 1000000007
	}
	done <- sum
}

func arg(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func main() {
	if f := os.Getenv("CTRACE_GROUND_TRUTH"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := trace.Start(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer func() { trace.Stop(); out.Close() }()
	}
	workers := arg(1, 4)
	njobs = arg(2, 1000)
	wg.Add(workers + 2)
	go producer()
	for i := 0; i < workers; i++ {
		go worker()
	}
	go collector()
	sum := <-done
	wg.Wait()
	fmt.Printf("workers=%d jobs=%d checksum=%d\n", workers, njobs, sum)
}
