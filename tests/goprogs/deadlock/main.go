// deadlock: the worker pool of ../workerpool with a bug: the producer never
// closes the jobs channel, so once the jobs run out the workers block forever
// on "chan receive" and the goroutine waiting for them (wg.Wait) never
// returns. main notices with a timeout, prints "deadlocked" and exits 0 with
// the workers still blocked.
//
// usage: deadlock [WORKERS [JOBS [TIMEOUT_MS]]]   (default 4 200 200)
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	njobs   int
	jobs    = make(chan int)
	results = make(chan int)
	sums    = make(chan int)
	wg      sync.WaitGroup
	allDone = make(chan struct{})
)

func producer() {
	for i := 0; i < njobs; i++ {
		jobs <- i
	}
	// BUG: close(jobs) is missing.
}

func worker() {
	defer wg.Done()
	for j := range jobs {
		results <- j * j
	}
}

func collector() {
	sum := 0
	for i := 0; i < njobs; i++ {
		sum += <-results
	}
	sums <- sum
}

func waiter() {
	wg.Wait()
	close(allDone)
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
	workers := arg(1, 4)
	njobs = arg(2, 200)
	timeout := time.Duration(arg(3, 200)) * time.Millisecond
	wg.Add(workers)
	go producer()
	for i := 0; i < workers; i++ {
		go worker()
	}
	go collector()
	go waiter()
	sum := <-sums
	fmt.Printf("workers=%d jobs=%d sum=%d\n", workers, njobs, sum)
	select {
	case <-allDone:
		fmt.Println("finished")
	case <-time.After(timeout):
		fmt.Println("deadlocked")
	}
}
