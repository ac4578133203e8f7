//go:build !withc

package main

func cfunc() int { return 0 }
