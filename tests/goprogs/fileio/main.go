// fileio: one goroutine (main.fileWorker) creates a temporary file, writes
// it in N chunks with one write(2) each, fsyncs it, reads it back and checks
// it, so the test can find those syscalls on that goroutine.
//
// usage: fileio [WRITES [CHUNK_BYTES]]   (default 64 4096)
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

var (
	nwrites int
	chunk   int
	result  = make(chan string)
)

func fileWorker() {
	f, err := os.CreateTemp("", "ctrace-fileio-")
	if err != nil {
		result <- "error: " + err.Error()
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, chunk)
	var sum uint64
	for i := 0; i < nwrites; i++ {
		for j := range buf {
			buf[j] = byte(i*7 + j)
			sum += uint64(buf[j])
		}
		if _, err := f.Write(buf); err != nil {
			result <- "error: " + err.Error()
			return
		}
	}
	if err := f.Sync(); err != nil {
		result <- "error: " + err.Error()
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		result <- "error: " + err.Error()
		return
	}
	var back uint64
	n := 0
	for {
		k, err := f.Read(buf)
		for _, b := range buf[:k] {
			back += uint64(b)
		}
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
	}
	if back != sum || n != nwrites*chunk {
		result <- fmt.Sprintf("error: read back %d bytes sum %d, wrote %d sum %d", n, back, nwrites*chunk, sum)
		return
	}
	result <- fmt.Sprintf("writes=%d bytes=%d sum=%d", nwrites, n, sum)
}

func arg(i, def int) int {
	if len(os.Args) > i {
		v, err := strconv.Atoi(os.Args[i])
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", os.Args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func main() {
	nwrites = arg(1, 64)
	chunk = arg(2, 4096)
	go fileWorker()
	r := <-result
	fmt.Println(r)
	if len(r) >= 6 && r[:6] == "error:" {
		os.Exit(1)
	}
}
