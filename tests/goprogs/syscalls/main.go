// syscalls: goroutines whose syscalls Go's own trace shows in different ways,
// for the tests of syscall semantics:
//
//   - main.piper reads a pipe READS times with syscall.Syscall(SYS_READ);
//     main.feeder writes one byte every SLEEP ms, so each read sleeps in the
//     kernel long enough for sysmon to retake the P (10 ms and more):
//     GoSysCall, GoSysBlock, then GoSysExit and GoStart when it returns.
//   - main.quick makes ROUNDS syscall.Syscall(SYS_GETPID), each a GoSysCall
//     that does not block, and twice as many RawSyscall(SYS_GETPPID), which
//     Go does not count as a goroutine syscall (no entersyscall).
//
// usage: syscalls [READS [SLEEP_MS [ROUNDS]]]   (default 8 50 2000)
//
// With CTRACE_GROUND_TRUTH=FILE in the environment, main also records Go's
// own execution trace (runtime/trace) into FILE.
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var (
	reads, sleepMS, rounds int
	pr, pw                 int
	wg                     sync.WaitGroup
	got                    int
	pids                   uintptr
)

func piper() {
	defer wg.Done()
	buf := make([]byte, 1)
	for i := 0; i < reads; i++ {
		n, _, e := syscall.Syscall(syscall.SYS_READ, uintptr(pr), uintptr(unsafe.Pointer(&buf[0])), 1)
		if e != 0 || n != 1 {
			fmt.Fprintln(os.Stderr, "read:", e)
			os.Exit(1)
		}
		got += int(buf[0])
	}
}

func feeder() {
	defer wg.Done()
	for i := 0; i < reads; i++ {
		time.Sleep(time.Duration(sleepMS) * time.Millisecond)
		if _, err := syscall.Write(pw, []byte{1}); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
	}
}

func quick() {
	defer wg.Done()
	for i := 0; i < rounds; i++ {
		pid, _, _ := syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
		ppid, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		ppid2, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		pids += pid ^ ppid ^ ppid2
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
	if f := os.Getenv("CTRACE_GROUND_TRUTH"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := trace.Start(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer func() { trace.Stop(); out.Close() }()
	}
	reads = arg(1, 8)
	sleepMS = arg(2, 50)
	rounds = arg(3, 2000)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
	pr, pw = p[0], p[1]
	wg.Add(3)
	go piper()
	go feeder()
	go quick()
	wg.Wait()
	fmt.Printf("reads=%d got=%d rounds=%d\n", reads, got, rounds)
}
