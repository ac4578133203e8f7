// pprofserver: a server with the goroutine shapes of real programs, and
// net/http/pprof, so that Go's own execution trace of it
// (/debug/pprof/trace) can be taken while ctrace-bpf traces it
// (tests/test_groundtruth.py):
//
//   - closures started with `go func() {...}()` whose only calls are library
//     functions (a ticker, a WaitGroup, an HTTP client);
//   - `go f(x)` and `go obj.M(x)` (compiler-made wrappers), and an interface
//     method `go r.Run(x)` (a wrapper that names no function);
//   - WaitGroup batches, timers (time.AfterFunc, tickers, Sleep), a mutex;
//   - network I/O: clients hitting this server over loopback, with
//     keep-alive and with a new connection per request;
//   - blocking syscalls: write+fsync of a file, reads of a pipe whose writer
//     sleeps between writes;
//   - goroutine churn: short-lived goroutines created all the time;
//   - goroutines that live 50 ms each, four started every millisecond, so
//     that some are always created while ctrace-bpf attaches and live on
//     until its goroutine walk reads them.
//
// It prints "listening PORT" once serving and runs until its stdin closes
// (at most 120 s), then prints "done" and exits.
//
// usage: pprofserver DIR   (DIR: where the fsync file goes)
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	stop    = make(chan struct{})
	mu      sync.Mutex
	counter int
	base    string
)

func hash(n int) [32]byte {
	b := make([]byte, 256+n%512)
	for i := range b {
		b[i] = byte(i * n)
	}
	return sha256.Sum256(b)
}

func workHandler(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	sum := hash(n)
	json.NewEncoder(w).Encode(map[string]interface{}{"n": n, "sum": fmt.Sprintf("%x", sum[:4])})
}

func sleepHandler(w http.ResponseWriter, r *http.Request) {
	time.Sleep(2 * time.Millisecond)
	io.WriteString(w, "slept\n")
}

func stopped() bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// client requests path in a loop over c until stop.
func client(c *http.Client, path string, pause time.Duration) {
	for n := 0; !stopped(); n++ {
		resp, err := c.Get(base + path + "?n=" + strconv.Itoa(n))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(pause)
	}
}

// worker is started with `go worker(id, jobs, results)`: a wrapper.
func worker(id int, jobs <-chan int, results chan<- [32]byte) {
	for j := range jobs {
		results <- hash(j + id)
	}
}

type fsyncer struct{ path string }

// loop is started with `go f.loop(interval)`: a method wrapper.
func (f *fsyncer) loop(interval time.Duration) {
	file, err := os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer file.Close()
	buf := make([]byte, 4096)
	for !stopped() {
		file.Write(buf)
		file.Sync()
		time.Sleep(interval)
	}
}

// pipeReader blocks in read(2) on a blocking pipe (not the netpoller).
func pipeReader(fd int) {
	buf := make([]byte, 64)
	for {
		n, err := syscall.Read(fd, buf)
		if n <= 0 || err != nil {
			return
		}
	}
}

func pipeWriter(fd int) {
	for !stopped() {
		time.Sleep(5 * time.Millisecond)
		syscall.Write(fd, []byte("tick"))
	}
	syscall.Close(fd)
}

type runner interface{ Run(n int) }

type adder struct{}

func (adder) Run(n int) {
	mu.Lock()
	counter += n
	mu.Unlock()
}

func short(i int, done chan<- int) {
	mu.Lock()
	counter++
	mu.Unlock()
	done <- i
}

func churn() {
	done := make(chan int, 16)
	var r runner = adder{}
	for !stopped() {
		for i := 0; i < 8; i++ {
			go short(i, done)
		}
		go r.Run(1)
		for i := 0; i < 8; i++ {
			<-done
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func batches() {
	for !stopped() {
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				hash(i)
			}(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Millisecond)
		}()
		wg.Wait()
		time.Sleep(10 * time.Millisecond)
	}
}

func timers() {
	var fired sync.WaitGroup
	for !stopped() {
		fired.Add(1)
		time.AfterFunc(2*time.Millisecond, func() {
			mu.Lock()
			counter++
			mu.Unlock()
			fired.Done()
		})
		t := time.NewTimer(4 * time.Millisecond)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
		}
		fired.Wait()
	}
}

func linger() {
	for !stopped() {
		for i := 0; i < 4; i++ {
			go time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Millisecond)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pprofserver DIR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	base = "http://" + ln.Addr().String()
	http.HandleFunc("/work", workHandler)
	http.HandleFunc("/sleep", sleepHandler)
	go http.Serve(ln, nil)

	keep := &http.Client{Timeout: 5 * time.Second}
	fresh := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}}
	go func() { client(keep, "/work", 2*time.Millisecond) }()
	go func() { client(keep, "/sleep", 3*time.Millisecond) }()
	go client(fresh, "/work", 8*time.Millisecond)

	jobs, results := make(chan int), make(chan [32]byte)
	for id := 0; id < 3; id++ {
		go worker(id, jobs, results)
	}
	go func() {
		for n := 0; !stopped(); n++ {
			jobs <- n
			time.Sleep(time.Millisecond)
		}
		close(jobs)
	}()
	go func() {
		for range results {
		}
	}()
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for !stopped() {
			<-tick.C
		}
	}()

	f := &fsyncer{path: filepath.Join(os.Args[1], "fsync.dat")}
	go f.loop(10 * time.Millisecond)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go pipeReader(p[0])
	go pipeWriter(p[1])
	go churn()
	go batches()
	go timers()
	go linger()

	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(120 * time.Second):
	}
	close(stop)
	time.Sleep(20 * time.Millisecond)
	fmt.Println("done")
}
