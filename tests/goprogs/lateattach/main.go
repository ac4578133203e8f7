// lateattach: for attaching to a running program (-p). K goroutines
// (main.waiter) block on receiving from a channel, then main prints "ready"
// and waits for a line on stdin (the trigger; EOF works too). After it, main
// starts a new goroutine (main.late) that closes the channel, the waiters
// return, and the program prints "done" and exits.
//
// usage: lateattach [K]   (default 5)
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	gate    = make(chan int)
	wg      sync.WaitGroup
	mu      sync.Mutex
	woken   int
	blocked sync.WaitGroup
)

func waiter() {
	defer wg.Done()
	blocked.Done()
	_, ok := <-gate
	mu.Lock()
	if !ok {
		woken++
	}
	mu.Unlock()
}

func late() {
	close(gate)
}

func main() {
	k := 5
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", os.Args[1])
			os.Exit(2)
		}
		k = v
	}
	wg.Add(k)
	blocked.Add(k)
	for i := 0; i < k; i++ {
		go waiter()
	}
	// Every waiter is past blocked.Done() and about to receive; the
	// tracer takes far longer than this to attach, but give them a moment
	// anyway so that "ready" means they are parked.
	blocked.Wait()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	go late()
	wg.Wait()
	fmt.Printf("done waiters=%d woken=%d\n", k, woken)
}
