// Package sub holds small functions the compiler inlines into package main,
// so inlined frames cross files and packages.
package sub

// Apply calls f(s); inlined, it becomes a frame of its caller.
func Apply(f func(string), s string) {
	f(s)
}

// Twice nests one inlined call in another.
func Twice(f func(string), s string) {
	Apply(f, s+"1")
	Apply(f, s+"2")
}
