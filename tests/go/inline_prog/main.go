// Ground truth for goelf_pc_frames: records stacks through inlined calls
// with runtime.Callers and prints the runtime's own frames for them
// (runtime.CallersFrames), one line per logical frame:
//
//	base 0xADDR          run-time address of main.main (PIE load bias)
//	stack NAME
//	F<TAB>0xPC<TAB>FUNC<TAB>FILE:LINE
//
// PC is Frame.PC, the pc the runtime looked up (a call instruction, or the
// call site of an inlined call).
package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"

	"inlineprog/sub"
)

//go:noinline
func capture(name string) {
	pcs := make([]uintptr, 128)
	n := runtime.Callers(1, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	fmt.Printf("stack %s\n", name)
	for {
		f, more := frames.Next()
		fmt.Printf("F\t%#x\t%s\t%s:%d\n", f.PC, f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
}

func c1(s string) { capture(s) }
func b1(s string) { c1(s + "/b") }
func a1(s string) { b1(s + "/a") }

//go:noinline
func chain() {
	a1("chain")
	a1("chain-again")
}

func d1(s string) { capture(s) }
func d2(s string) { d1(s) }
func d3(s string) { d2(s) }
func d4(s string) { d3(s) }
func d5(s string) { d4(s) }

//go:noinline
func deep() { d5("deep") }

//go:noinline
func crossPackage() {
	sub.Apply(capture, "apply")
	sub.Twice(capture, "twice")
}

type T struct{ name string }

func (t *T) run() { capture(t.name) }

//go:noinline
func method() {
	t := &T{name: "method"}
	t.run()
}

func gcall[V any](v V, f func(V)) { f(v) }

//go:noinline
func generic() { gcall("generic", capture) }

var once sync.Once

//go:noinline
func onceDo() { once.Do(func() { capture("once") }) }

func main() {
	fmt.Printf("base %#x\n", reflect.ValueOf(main).Pointer())
	chain()
	deep()
	crossPackage()
	method()
	generic()
	onceDo()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		chain()
	}()
	wg.Wait()
	os.Stdout.Sync()
}
