// churn: goroutines coming and going in every way the scheduler knows, for
// the tests that mangle captures (tests/test_gotrace_mutate.py): waves of
// short-lived goroutines that meet on channels, a mutex and a WaitGroup,
// sleep on timers, yield, make syscalls (a pipe, some of whose reads sleep
// long enough for sysmon to take the P) and allocate enough for the GC to
// run.
//
// usage: churn [WAVES [WIDTH [MS]]]   (default 40 16 0)
// Prints "ready" once the long-lived goroutines run, then does WAVES waves
// of WIDTH goroutines each; with MS > 0 it keeps doing waves until MS
// milliseconds have passed (for tests that attach with -p meanwhile).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var (
	mu      sync.Mutex
	shared  int
	sink    [][]byte
	pr, pw  int
	pipeOut = make(chan struct{})
)

// reader sleeps in read(2) on the pipe until the wave loop writes to it.
func reader() {
	buf := make([]byte, 1)
	for {
		n, _, e := syscall.Syscall(syscall.SYS_READ, uintptr(pr), uintptr(unsafe.Pointer(&buf[0])), 1)
		if e != 0 || n != 1 || buf[0] == 0 {
			close(pipeOut)
			return
		}
	}
}

func member(i int, in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	v := <-in
	mu.Lock()
	shared += v
	mu.Unlock()
	switch i % 4 {
	case 0:
		time.Sleep(time.Duration(50+i*10) * time.Microsecond)
	case 1:
		runtime.Gosched()
	case 2:
		sink = append(sink[len(sink)/2:], make([]byte, 64<<10))
	case 3:
		syscall.Getpid()
	}
	out <- v + 1
}

func wave(width int) int {
	var wg sync.WaitGroup
	in := make(chan int)
	out := make(chan int, width)
	wg.Add(width)
	for i := 0; i < width; i++ {
		go member(i, in, out, &wg)
	}
	for i := 0; i < width; i++ {
		in <- i
	}
	wg.Wait()
	sum := 0
	for i := 0; i < width; i++ {
		sum += <-out
	}
	return sum
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
	waves, width, ms := arg(1, 40), arg(2, 16), arg(3, 0)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
	pr, pw = p[0], p[1]
	go reader()
	fmt.Println("ready")
	start := time.Now()
	total := 0
	for w := 0; w < waves || time.Since(start) < time.Duration(ms)*time.Millisecond; w++ {
		total += wave(width)
		if w%8 == 7 {
			// A read that sleeps past sysmon's 10 ms before this byte comes.
			time.Sleep(15 * time.Millisecond)
			syscall.Write(pw, []byte{1})
		}
	}
	syscall.Write(pw, []byte{0})
	<-pipeOut
	fmt.Printf("total=%d shared=%d\n", total, shared)
}
