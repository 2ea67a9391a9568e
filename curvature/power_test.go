package curvature

import (
	"math"
	"slices"
	"testing"
)

func TestPowerIterationTopEigenvalue(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	res := PowerIteration(Dense(n, a), PowerOptions{MaxIter: 500, Tol: 1e-8, Seed: 3})
	if !res.Converged {
		t.Fatalf("not converged after %d iterations, residual %g", res.Iterations, res.Residual)
	}
	if e := relErr(res.Value, 10); e > 1e-6 {
		t.Errorf("value %.15g, want 10 (relative error %g)", res.Value, e)
	}
	t.Logf("Tol 1e-8: %d iterations, relative eigenvalue error %.2g, residual %.2g", res.Iterations, relErr(res.Value, 10), res.Residual)
	checkReportedResidual(t, n, a, res)
	if res.Residual > 1e-8 {
		t.Errorf("converged with residual %g > Tol", res.Residual)
	}
}

// checkReportedResidual recomputes ‖v‖, vᵀAv and ‖Av − λv‖/|λ| independently.
func checkReportedResidual(t *testing.T, n int, a []float64, res PowerResult) {
	t.Helper()
	v := res.Vector
	if nv := math.Sqrt(dotProduct(v, v)); math.Abs(nv-1) > 1e-12 {
		t.Errorf("‖v‖ = %.15g, want 1", nv)
	}
	if rq := dotProduct(v, matVec(n, a, v)); math.Abs(rq-res.Value) > 1e-12*math.Abs(rq) {
		t.Errorf("Value %.15g is not the Rayleigh quotient %.15g of Vector", res.Value, rq)
	}
	want := eigenResidual(n, a, v, res.Value) / math.Abs(res.Value)
	if math.Abs(res.Residual-want) > 1e-6*want+1e-14 {
		t.Errorf("reported residual %.10g, recomputed %.10g", res.Residual, want)
	}
}

func TestPowerIterationReportsNonConvergence(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	res := PowerIteration(Dense(n, a), PowerOptions{MaxIter: 5, Tol: 1e-8, Seed: 3})
	if res.Converged || res.Iterations != 5 {
		t.Fatalf("Converged = %v after %d iterations with MaxIter 5 and Tol 1e-8", res.Converged, res.Iterations)
	}
	if res.Residual <= 1e-8 {
		t.Errorf("residual %g should exceed Tol", res.Residual)
	}
	checkReportedResidual(t, n, a, res)
}

func TestPowerIterationDominantNegative(t *testing.T) {
	// |λ_min| > λ_max: the documented caveat.
	lambda := []float64{-12, 10, 7, 5, 3, 1, 0, -1, -2, -4}
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 2)
	res := PowerIteration(Dense(n, a), PowerOptions{MaxIter: 1000, Tol: 1e-10})
	if !res.Converged || math.Abs(res.Value+12) > 1e-8 {
		t.Fatalf("got %g (converged %v), want the dominant −12", res.Value, res.Converged)
	}
}

func TestPowerIterationWarmStart(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, q := symmetricWithSpectrum(lambda, 1)
	top := make([]float64, n)
	for i := range n {
		top[i] = q.At(i, 0)
	}
	exact := PowerIteration(Dense(n, a), PowerOptions{Tol: 1e-8, Start: top})
	if !exact.Converged || exact.Iterations > 2 {
		t.Errorf("from the exact eigenvector: %d iterations, converged %v; want ≤ 2", exact.Iterations, exact.Converged)
	}

	opt := PowerOptions{MaxIter: 500, Tol: 1e-8, Seed: 5}
	it := NewPowerIterator(n, opt)
	first := it.Run(Dense(n, a))
	// Perturb A by a small symmetric matrix, as one training step would.
	b, _ := symmetricWithSpectrum(lambda, 99)
	perturbed := slices.Clone(a)
	for i := range perturbed {
		perturbed[i] += 1e-4 * b[i]
	}
	warm := it.Run(Dense(n, perturbed))
	cold := PowerIteration(Dense(n, perturbed), opt)
	if !first.Converged || !warm.Converged || !cold.Converged {
		t.Fatalf("converged: first %v, warm %v, cold %v", first.Converged, warm.Converged, cold.Converged)
	}
	t.Logf("perturbed matrix: cold start %d iterations, warm start %d", cold.Iterations, warm.Iterations)
	if warm.Iterations > cold.Iterations/2 {
		t.Errorf("warm start took %d iterations, cold %d: want at most half", warm.Iterations, cold.Iterations)
	}
	if math.Abs(warm.Value-cold.Value) > 1e-10 {
		t.Errorf("warm %.15g and cold %.15g disagree", warm.Value, cold.Value)
	}

	it.Reset()
	if again := it.Run(Dense(n, perturbed)); again.Iterations < cold.Iterations/2 {
		t.Errorf("after Reset: %d iterations, looks warm (cold start %d)", again.Iterations, cold.Iterations)
	}
}

// For a symmetric matrix, the Rayleigh quotient θ of a unit v with residual
// ρ = ‖Av − θv‖ satisfies λ₁ − θ ≤ ρ²/(θ − λ₂) once θ > λ₂ (Kato–Temple):
// the eigenvalue error is quadratic in the residual. In relative terms, with
// r = ρ/θ, the error is ≤ r²·θ/(θ − λ₂), so Tol 1e-2 gives about 1e-4 relative
// accuracy when the gap is a fair fraction of λ₁ (here 3/10).
func TestResidualBoundsEigenvalueError(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	const top, second = 10.0, 7.0
	checked := 0
	for iters := 1; iters <= 60; iters++ {
		res := PowerIteration(Dense(n, a), PowerOptions{MaxIter: iters, Tol: -1, Seed: 11})
		theta := res.Value
		if theta <= second {
			continue
		}
		rho := res.Residual * math.Abs(theta)
		bound := rho * rho / (theta - second)
		if err := top - theta; err < -1e-13 || err > bound*(1+1e-9)+1e-13 {
			t.Errorf("%d iterations: error %g outside [0, ρ²/gap = %g]", iters, err, bound)
		}
		checked++
	}
	if checked < 40 {
		t.Fatalf("only %d iterates had θ > λ₂", checked)
	}

	res := PowerIteration(Dense(n, a), PowerOptions{Tol: 1e-2, Seed: 11})
	rel := relErr(res.Value, top)
	predicted := res.Residual * res.Residual * res.Value / (res.Value - second)
	t.Logf("Tol 1e-2: residual %.3g after %d iterations, relative eigenvalue error %.3g (bound %.3g)", res.Residual, res.Iterations, rel, predicted)
	if !res.Converged || rel > predicted || rel > 4e-4 {
		t.Errorf("Tol 1e-2: relative error %g, bound %g", rel, predicted)
	}
}

func TestPowerIteratorAllocatesNothing(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	op := Dense(n, a)
	dst, v := make([]float64, n), make([]float64, n)
	v[0] = 1
	if allocs := testing.AllocsPerRun(20, func() { op.Apply(dst, v) }); allocs != 0 {
		t.Errorf("Dense.Apply: %v allocations", allocs)
	}
	it := NewPowerIterator(n, PowerOptions{MaxIter: 25, Tol: -1})
	var res PowerResult
	allocs := testing.AllocsPerRun(20, func() { res = it.Run(op) })
	if allocs != 0 {
		t.Errorf("PowerIterator.Run: %v allocations per run", allocs)
	}
	if res.Iterations != 25 {
		t.Errorf("%d iterations per run, want 25", res.Iterations)
	}
}

func TestPowerIterationZeroOperator(t *testing.T) {
	res := PowerIteration(diagonal(make([]float64, 5)), PowerOptions{})
	if !res.Converged || res.Value != 0 || res.Residual != 0 || res.Iterations != 1 {
		t.Errorf("zero operator: %+v", res)
	}
}

func TestPowerIterationCountsApplications(t *testing.T) {
	op := &counting{Operator: diagonal{3, 2, 1}}
	res := PowerIteration(op, PowerOptions{MaxIter: 7, Tol: -1})
	if res.Iterations != 7 || op.applies != 7 {
		t.Errorf("Iterations %d, applications %d, want 7", res.Iterations, op.applies)
	}
}

func TestPowerIteratorPanicsOnMismatch(t *testing.T) {
	for name, f := range map[string]func(){
		"start length": func() { NewPowerIterator(3, PowerOptions{Start: []float64{1, 2}}) },
		"zero start":   func() { NewPowerIterator(2, PowerOptions{Start: []float64{0, 0}}) },
		"operator dim": func() { NewPowerIterator(3, PowerOptions{}).Run(diagonal{1, 2}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkPowerIteration measures the solver's own work per iteration on a
// large, cheap diagonal operator: ns/iter includes the operator's single
// pass, which BenchmarkDiagonalApply measures alone. The solver adds two
// fused passes per iteration (v·w with ‖w‖; then the residual with w/‖w‖),
// five vector streams against the diagonal operator's three, all
// memory-bound at this size.
func BenchmarkPowerIteration(b *testing.B) {
	const n, iters = 200_000, 10
	d := make(diagonal, n)
	for i := range d {
		d[i] = 1 / float64(i+1)
	}
	var op Operator = d // convert once: a slice in an interface is boxed
	it := NewPowerIterator(n, PowerOptions{MaxIter: iters, Tol: -1})
	it.Run(op)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		it.Run(op)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*iters), "ns/iter")
}

func BenchmarkDiagonalApply(b *testing.B) {
	const n = 200_000
	d := make(diagonal, n)
	for i := range d {
		d[i] = 1 / float64(i+1)
	}
	dst, v := make([]float64, n), make([]float64, n)
	for range b.N {
		d.Apply(dst, v)
	}
}
