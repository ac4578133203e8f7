// Probe for scripts/gen-go-offsets.sh: a small program whose DWARF carries
// the runtime types the tracer reads (g, m, p, sudog, hchan). Running it is
// not needed; it only has to link the channel and scheduler code.
package main

import "fmt"

func main() {
	c := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		c <- 1
		close(done)
	}()
	<-done
	fmt.Println(<-c)
}
