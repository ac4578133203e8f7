// reportload: Go workloads with known timing for the report and diff tests.
//
//	reportload sleep N MS            main.sleeper: N time.Sleep(MS ms)
//	reportload mutex G N HOLD_US     G main.worker goroutines share one mutex: one
//	                                 holds it N times for HOLD_US µs (spinning), and
//	                                 each time another one waits for it
//	reportload chan N BUF WORK_US    main.producer sends N items into a channel
//	                                 of BUF; main.consumer works WORK_US µs (spinning)
//	                                 on each, so the producer blocks on a full channel
//
// It prints one line "reportload MODE ..." with what it did.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var sink uint64

// spin busy-waits d without yielding, so the goroutine stays running.
//
//go:noinline
func spin(d time.Duration) {
	end := time.Now().Add(d)
	x := sink
	for time.Now().Before(end) {
		for i := 0; i < 50; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
}

func sleeper(n int, d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < n; i++ {
		time.Sleep(d)
	}
}

// worker 0 holds the mutex n times for hold; each time, once it holds it,
// it lets one other worker try to take it, which therefore blocks for about
// hold: the contention is the same from run to run, not left to timing.
func worker(id int, mu *sync.Mutex, n int, hold time.Duration, turn chan struct{},
	done chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	if id == 0 {
		for i := 0; i < n; i++ {
			mu.Lock()
			turn <- struct{}{}
			spin(hold)
			mu.Unlock()
			<-done
		}
		close(turn)
		return
	}
	for range turn {
		mu.Lock()
		mu.Unlock()
		done <- struct{}{}
	}
}

func producer(ch chan<- int, n int) {
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
}

func consumer(ch <-chan int, work time.Duration, done chan<- int) {
	sum := 0
	for v := range ch {
		spin(work)
		sum += v
	}
	done <- sum
}

func num(args []string, i int) int {
	if i >= len(args) {
		fmt.Fprintln(os.Stderr, "missing argument; see the comment at the top of main.go")
		os.Exit(2)
	}
	v, err := strconv.Atoi(args[i])
	if err != nil || v < 0 {
		fmt.Fprintf(os.Stderr, "bad argument %q\n", args[i])
		os.Exit(2)
	}
	return v
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reportload sleep|mutex|chan ...")
		os.Exit(2)
	}
	a := os.Args[1:]
	var wg sync.WaitGroup
	switch a[0] {
	case "sleep":
		n, ms := num(a, 1), num(a, 2)
		wg.Add(1)
		go sleeper(n, time.Duration(ms)*time.Millisecond, &wg)
		wg.Wait()
		fmt.Printf("reportload sleep n=%d ms=%d\n", n, ms)
	case "mutex":
		g, n, us := num(a, 1), num(a, 2), num(a, 3)
		var mu sync.Mutex
		turn, done := make(chan struct{}), make(chan struct{})
		wg.Add(g)
		for i := 0; i < g; i++ {
			go worker(i, &mu, n, time.Duration(us)*time.Microsecond, turn, done, &wg)
		}
		wg.Wait()
		fmt.Printf("reportload mutex g=%d n=%d hold_us=%d\n", g, n, us)
	case "chan":
		n, buf, us := num(a, 1), num(a, 2), num(a, 3)
		ch := make(chan int, buf)
		done := make(chan int)
		go producer(ch, n)
		go consumer(ch, time.Duration(us)*time.Microsecond, done)
		sum := <-done
		fmt.Printf("reportload chan n=%d buf=%d work_us=%d sum=%d\n", n, buf, us, sum)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", a[0])
		os.Exit(2)
	}
}
