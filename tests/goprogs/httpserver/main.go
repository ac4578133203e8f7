// httpserver: a net/http server on 127.0.0.1:0 and a client in the same
// process making N requests to it over loopback with keep-alive. Both sides
// park in the netpoller ("IO wait") between requests.
//
// usage: httpserver [REQUESTS [CLIENTS]]   (default 50 2)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
)

var (
	ln       net.Listener
	server   *http.Server
	nreq     int
	client   *http.Client
	base     string
	reqs     = make(chan int)
	wg       sync.WaitGroup
	mu       sync.Mutex
	total    int
	failures int
)

func handler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil {
		http.Error(w, "bad n", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "response %d %d\n", n, n*n%997)
}

func serve() {
	server.Serve(ln)
}

func fetcher() {
	defer wg.Done()
	for n := range reqs {
		resp, err := client.Get(base + "/?n=" + strconv.Itoa(n))
		ok := err == nil
		var body []byte
		if ok {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			ok = err == nil && resp.StatusCode == 200
		}
		mu.Lock()
		if ok {
			total += len(body)
		} else {
			failures++
		}
		mu.Unlock()
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
	nreq = arg(1, 50)
	clients := arg(2, 2)
	var err error
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	base = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/", handler)
	server = &http.Server{Handler: mux}
	client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: clients}}
	go serve()
	wg.Add(clients)
	for i := 0; i < clients; i++ {
		go fetcher()
	}
	for i := 0; i < nreq; i++ {
		reqs <- i
	}
	close(reqs)
	wg.Wait()
	server.Close()
	fmt.Printf("requests=%d bytes=%d failures=%d\n", nreq, total, failures)
	if failures != 0 {
		os.Exit(1)
	}
}
