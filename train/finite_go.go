//go:build !cgo || purego

package train

// allFinite reports whether every value of x is finite.
func allFinite(x []float32) bool { return allFiniteGo(x) }
