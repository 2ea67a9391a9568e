//go:build cgo && !purego

package linalg

import "testing"

// TestGemmFlushesSubnormals: a subnormal operand counts as zero inside the
// product (so OpenBLAS never takes its slow path), and the caller's
// floating-point mode is restored: Go arithmetic after the call still makes
// subnormals.
func TestGemmFlushesSubnormals(t *testing.T) {
	sub := float32(1e-39) // below float32's smallest normal, 1.18e-38
	a, b, c := []float32{sub, 1}, []float32{1, 0}, []float32{7}
	Gemm(false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1)
	if c[0] != 0 {
		t.Fatalf("subnormal·1 = %g inside the product, want 0", c[0])
	}
	x := []float32{1e-37}
	if y := x[0] / 100; y == 0 {
		t.Fatal("Go arithmetic flushes subnormals after Gemm: the MXCSR was not restored")
	}
}
