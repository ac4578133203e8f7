// Target for tests/go/test_offsets.sh, deliberately unlike the generator's
// probe: it parks goroutines in known ways and prints, per label, the wait
// reason the runtime itself reports ("chanrecv chan receive"), so the test
// can check the committed wait-reason strings and their classification.
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	idsMu sync.Mutex
	ids   = map[int]string{}
)

var headerRe = regexp.MustCompile(`^goroutine (\d+) \[(.*)\]:$`)

// myID parses this goroutine's id out of its own stack header; that is the
// only way user code can learn it.
func myID() int {
	buf := make([]byte, 128)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	id, _ := strconv.Atoi(f[1])
	return id
}

func park(label string, block func()) {
	started := make(chan struct{})
	go func() {
		idsMu.Lock()
		ids[myID()] = label
		idsMu.Unlock()
		close(started)
		block()
	}()
	<-started
}

// reasons maps goroutine id to the bracketed reason, minus ", N minutes"
// and ", locked to thread" suffixes (no reason string contains ", ").
func reasons() map[int]string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[int]string{}
	for _, line := range bytes.Split(buf, []byte("\n")) {
		m := headerRe.FindSubmatch(line)
		if m == nil {
			continue
		}
		id, _ := strconv.Atoi(string(m[1]))
		r := string(m[2])
		if i := strings.Index(r, ", "); i >= 0 {
			r = r[:i]
		}
		out[id] = r
	}
	return out
}

func main() {
	var mu sync.Mutex
	var rw sync.RWMutex
	cond := sync.NewCond(&sync.Mutex{})
	var wg sync.WaitGroup
	recvc := make(chan int)
	sendc := make(chan int)
	sel1, sel2 := make(chan int), make(chan string)
	var nilc chan int

	mu.Lock()
	rw.Lock()
	wg.Add(1)
	park("chanrecv", func() { <-recvc })
	park("chansend", func() { sendc <- 1 })
	park("select", func() {
		select {
		case <-sel1:
		case <-sel2:
		}
	})
	park("selectnone", func() { select {} })
	park("nilchan", func() { <-nilc })
	park("mutex", func() { mu.Lock() })
	park("rwmutex", func() { rw.RLock() })
	park("cond", func() {
		cond.L.Lock()
		cond.Wait()
	})
	park("waitgroup", func() { wg.Wait() })
	park("sleep", func() { time.Sleep(time.Hour) })
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		park("net", func() { ln.Accept() })
	} else {
		fmt.Println("net SKIP", err)
	}

	// Wait until none of them is still on its way to blocking.
	var got map[int]string
	for i := 0; i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		got = reasons()
		settled := true
		idsMu.Lock()
		for id := range ids {
			if r := got[id]; r == "" || r == "running" || r == "runnable" {
				settled = false
			}
		}
		idsMu.Unlock()
		if settled {
			break
		}
	}
	var lines []string
	idsMu.Lock()
	for id, label := range ids {
		lines = append(lines, label+" "+got[id])
	}
	idsMu.Unlock()
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	os.Exit(0)
}
