// cpubound: G CPU-bound goroutines on GOMAXPROCS=2, each doing a fixed
// amount of arithmetic (about 20ms by default) without function calls that
// would yield, so the scheduler has to preempt them (sysmon asks after 10ms).
//
// usage: cpubound [GOROUTINES [ITERATIONS]]   (default 100 20000000)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

var (
	iters   int
	wg      sync.WaitGroup
	mu      sync.Mutex
	total   uint64
	started = make(chan int, 1024)
)

func spin() {
	defer wg.Done()
	id := <-started
	x := uint64(id)*0x9E3779B97F4A7C15 + 1
	for i := 0; i < iters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	mu.Lock()
	total += x >> 32
	mu.Unlock()
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
	runtime.GOMAXPROCS(2)
	n := arg(1, 100)
	iters = arg(2, 20000000)
	if n > cap(started) {
		n = cap(started)
	}
	for i := 0; i < n; i++ {
		started <- i
	}
	wg.Add(n)
	for i := 0; i < n; i++ {
		go spin()
	}
	wg.Wait()
	fmt.Printf("goroutines=%d iterations=%d total=%d\n", n, iters, total)
}
