// A channel worker pool that reports its rate: poolrate SECONDS prints
// "t=<seconds since start> jobs=<jobs in the last 250 ms>" four times a
// second, so a benchmark can compare the rate before and while a tracer is
// attached to the same process.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func main() {
	secs, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: poolrate SECONDS")
		os.Exit(2)
	}
	var done int64
	jobs := make(chan int)
	results := make(chan int)
	for i := 0; i < 4; i++ {
		go func() {
			for j := range jobs {
				results <- j * 2
			}
		}()
	}
	go func() {
		for i := 0; ; i++ {
			jobs <- i
		}
	}()
	go func() {
		for range results {
			atomic.AddInt64(&done, 1)
		}
	}()
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	var last int64
	for now := range tick.C {
		n := atomic.LoadInt64(&done)
		fmt.Printf("t=%.3f jobs=%d\n", now.Sub(start).Seconds(), n-last)
		last = n
		if now.Sub(start) >= time.Duration(secs)*time.Second {
			return
		}
	}
}
