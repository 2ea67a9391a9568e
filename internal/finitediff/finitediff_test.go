package finitediff

import (
	"math"
	"testing"
)

// f(x, y) = x³y + 2y²: ∇ = (3x²y, x³ + 4y), H = [[6xy, 3x²], [3x², 4]].
func TestAgainstHandDerivatives(t *testing.T) {
	f := func(p []float64) float64 { return p[0]*p[0]*p[0]*p[1] + 2*p[1]*p[1] }
	p := []float64{1.5, -0.5}
	g := Gradient(f, p, 1e-6)
	H := Hessian(f, p, 1e-4)
	want := []float64{3 * 2.25 * -0.5, 3.375 - 2}
	wantH := []float64{6 * 1.5 * -0.5, 3 * 2.25, 3 * 2.25, 4}
	for i := range want {
		if math.Abs(g[i]-want[i]) > 1e-8 {
			t.Fatalf("gradient %v, want %v", g, want)
		}
	}
	for i := range wantH {
		if math.Abs(H[i]-wantH[i]) > 1e-6 {
			t.Fatalf("Hessian %v, want %v", H, wantH)
		}
	}
	if p[0] != 1.5 || p[1] != -0.5 {
		t.Fatal("p not restored")
	}
}
