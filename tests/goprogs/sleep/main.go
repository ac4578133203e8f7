// sleep: G goroutines each call time.Sleep(5ms) N times: every sleep parks
// the goroutine ("sleep") until a timer, run by the scheduler, readies it.
//
// usage: sleep [GOROUTINES [SLEEPS]]   (default 4 10)
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	nsleeps int
	wg      sync.WaitGroup
)

func sleeper() {
	defer wg.Done()
	for i := 0; i < nsleeps; i++ {
		time.Sleep(5 * time.Millisecond)
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
	n := arg(1, 4)
	nsleeps = arg(2, 10)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go sleeper()
	}
	wg.Wait()
	fmt.Printf("goroutines=%d sleeps=%d\n", n, nsleeps)
}
