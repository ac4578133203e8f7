// Tiny target for goelf tests: a few goroutines that block and wake, so the
// runtime functions the tracer probes are linked in and reachable.
package main

import (
	"fmt"
	"os"
	"sync"
)

//go:noinline
func worker(id int, in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range in {
		out <- v * id
	}
}

func main() {
	in := make(chan int)
	out := make(chan int, 64)
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go worker(i, in, out, &wg)
	}
	for i := 0; i < 16; i++ {
		in <- i
	}
	close(in)
	wg.Wait()
	close(out)
	sum := 0
	for v := range out {
		sum += v
	}
	fmt.Fprintln(os.Stdout, "sum", sum, cfunc())
}
