// manyblocked: N goroutines that block for the whole run, a third each on
// a channel receive (main.recv, "chan receive"), in time.Sleep (main.nap,
// "sleep") and on a locked sync.Mutex (main.lock). main prints the goid of
// the first of each kind, "ready", sleeps MS milliseconds and exits 0 with
// them still blocked: a target for goroutine snapshots.
//
// The goroutine functions are not inlined, so that each is its goroutines'
// start function (not inlined into the compiler's go wrapper).
//
// usage: manyblocked [N [MS]]   (default 30 1000)
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	gate    = make(chan int)
	mu      sync.Mutex
	started sync.WaitGroup
	ids     = make(chan string, 3)
)

// goid parses "goroutine 17 [running]:" from the goroutine's own stack.
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	n, _ := strconv.ParseInt(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return n
}

func report(kind string, first bool) {
	if first {
		ids <- fmt.Sprintf("%s %d", kind, goid())
	}
	started.Done()
}

//go:noinline
func recv(first bool) {
	report("recv", first)
	<-gate
}

//go:noinline
func nap(first bool) {
	report("sleep", first)
	time.Sleep(time.Hour)
}

//go:noinline
func lock(first bool) {
	report("mutex", first)
	mu.Lock()
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
	n := arg(1, 30)
	ms := arg(2, 1000)
	mu.Lock()
	started.Add(n)
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			go recv(i == 0)
		case 1:
			go nap(i == 1)
		default:
			go lock(i == 2)
		}
	}
	started.Wait()
	// in a fixed order: the output of a run does not depend on scheduling
	got := map[string]string{}
	for k := 0; k < 3 && k < n; k++ {
		line := <-ids
		got[line[:strings.IndexByte(line, ' ')]] = line
	}
	for _, kind := range []string{"recv", "sleep", "mutex"} {
		if line, ok := got[kind]; ok {
			fmt.Println(line)
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Println("done")
	os.Exit(0)
}
