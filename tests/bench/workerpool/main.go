// Channel worker pool for the goroutine-tracing benchmark: jobs flow over
// an unbuffered channel to workers, results back over another. Prints the
// number of jobs and the throughput.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func worker(jobs <-chan int, results chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		results <- j * 2
	}
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	start := time.Now()
	jobs := make(chan int)
	results := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go worker(jobs, results, &wg)
	}
	go func() {
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()
	sum := 0
	for r := range results {
		sum += r
	}
	el := time.Since(start)
	fmt.Printf("jobs %d sum %d ops_per_sec %.0f\n", n, sum, float64(n)/el.Seconds())
}
