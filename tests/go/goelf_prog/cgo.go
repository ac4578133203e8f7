//go:build withc

package main

// static int answer(void) { return 42; }
import "C"

func cfunc() int { return int(C.answer()) }
