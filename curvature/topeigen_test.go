package curvature

import (
	"math"
	"testing"
)

// TestTopEigenSolverCrowdedSpectrum: with the top eigenvalues crowded
// (1, 0.997, 0.994, ...) power iteration needs hundreds of products to reach a
// 1e-3 residual; the Lanczos solver needs a few dozen, and a warm start
// after a small perturbation fewer still.
func TestTopEigenSolverCrowdedSpectrum(t *testing.T) {
	const n = 300
	spectrum := make([]float64, n)
	for i := range spectrum {
		spectrum[i] = 1 - 0.003*float64(i)
	}
	a, _ := symmetricWithSpectrum(spectrum, 7)
	s := NewTopEigenSolver(n, 80, 1e-3, 1)
	res := s.Run(Dense(n, a))
	if !res.Converged || math.Abs(res.Value-1) > 1e-4 {
		t.Fatalf("Lanczos: %+v", res)
	}
	pw := PowerIteration(Dense(n, a), PowerOptions{Tol: 1e-3, MaxIter: 5000, Seed: 1})
	t.Logf("residual 1e-3: Lanczos %d products (λ error %.1e), power %d (λ error %.1e)",
		res.Iterations, math.Abs(res.Value-1), pw.Iterations, math.Abs(pw.Value-1))
	if res.Iterations*3 > pw.Iterations {
		t.Fatalf("Lanczos took %d products, power iteration %d", res.Iterations, pw.Iterations)
	}
	// Residual reported = residual of the returned pair.
	w := make([]float64, n)
	Dense(n, a).Apply(w, res.Vector)
	var r float64
	for i := range w {
		r += (w[i] - res.Value*res.Vector[i]) * (w[i] - res.Value*res.Vector[i])
	}
	if math.Abs(math.Sqrt(r)/res.Value-res.Residual) > 1e-6 {
		t.Fatalf("reported residual %v, actual %v", res.Residual, math.Sqrt(r)/res.Value)
	}
	cold := res.Iterations
	for i := range a {
		a[i] *= 1.0001
	}
	warm := s.Run(Dense(n, a))
	if !warm.Converged || warm.Iterations >= cold {
		t.Fatalf("warm start took %d products, cold %d", warm.Iterations, cold)
	}
}
