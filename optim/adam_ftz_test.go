//go:build cgo && !purego && amd64

package optim

import "testing"

// TestAdamFlushesSubnormals: a parameter in the subnormal range leaves the
// C kernel as zero (the step is zero here: no gradient, no decay), so that
// decayed weights never slow later products; a normal one is untouched.
func TestAdamFlushesSubnormals(t *testing.T) {
	p := []float32{1e-39, 1e-30}
	g, m, v := make([]float32, 2), make([]float32, 2), make([]float32, 2)
	adamUpdate(p, g, m, v, 0.9, 0.1, 0.999, 0.001, 0, 1e-3, 1, 1e-8)
	if p[0] != 0 || p[1] != 1e-30 {
		t.Fatalf("after the update p = %g, want [0 1e-30]", p)
	}
}
