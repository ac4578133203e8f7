// mutex: G goroutines increment a shared counter N times each under one
// sync.Mutex, spinning a little while holding it, so the others park in
// Lock ("sync.Mutex.Lock" since go1.21, "semacquire" before).
//
// usage: mutex [GOROUTINES [INCREMENTS [HOLD_ITERATIONS]]]   (default 8 1000 2000)
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
	mu      sync.Mutex
	counter int
	sink    uint64
	incs    int
	hold    int
	wg      sync.WaitGroup
)

//go:noinline
func busy(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func incrementer() {
	defer wg.Done()
	for i := 0; i < incs; i++ {
		mu.Lock()
		counter++
		sink = busy(hold, sink)
		mu.Unlock()
	}
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
	n := arg(1, 8)
	incs = arg(2, 1000)
	hold = arg(3, 2000)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go incrementer()
	}
	wg.Wait()
	fmt.Printf("goroutines=%d increments=%d counter=%d\n", n, incs, counter)
}
