package curvature

import (
	"math"
	"slices"
	"testing"
)

func TestTopEigenvaluesMatchEigenSym(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	wantVals, wantVecs := referenceEigen(t, n, a)
	op := &counting{Operator: Dense(n, a)}
	vals, vecs := TopEigenvalues(op, 5, 9)
	if len(vals) != 5 || len(vecs) != 5 {
		t.Fatalf("got %d values and %d vectors, want 5", len(vals), len(vecs))
	}
	var worst float64
	for i, v := range vals {
		e := relErr(v, wantVals[i])
		worst = max(worst, e)
		if e > 1e-8 {
			t.Errorf("value %d: %.15g, EigenSym %.15g", i, v, wantVals[i])
		}
		if align := math.Abs(dotProduct(vecs[i], wantVecs[i])); align < 1-1e-8 {
			t.Errorf("vector %d: |⟨y, u⟩| = %.12g, want 1", i, align)
		}
		if r := eigenResidual(n, a, vecs[i], v); r > 1e-8 {
			t.Errorf("vector %d: residual %g", i, r)
		}
	}
	t.Logf("top 5 of n = %d: worst relative error %.2g after %d operator applications", n, worst, op.applies)
	checkOrthonormal(t, vecs, 1e-10)
}

func checkOrthonormal(t *testing.T, vecs [][]float64, tol float64) {
	t.Helper()
	var worst float64
	for i := range vecs {
		for j := range vecs {
			want := 0.0
			if i == j {
				want = 1
			}
			worst = max(worst, math.Abs(dotProduct(vecs[i], vecs[j])-want))
		}
	}
	if worst > tol {
		t.Errorf("Ritz vectors: max |YᵀY − I| = %g", worst)
	}
}

func TestLanczosFullSpectrum(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	want, _ := referenceEigen(t, n, a)
	res := Lanczos(Dense(n, a), n, nil, 4, n)
	if len(res.Values) != n || len(res.Alpha) != n || len(res.Beta) != n-1 {
		t.Fatalf("lengths: values %d, alpha %d, beta %d", len(res.Values), len(res.Alpha), len(res.Beta))
	}
	var worst float64
	for i := range want {
		worst = max(worst, math.Abs(res.Values[i]-want[i]))
	}
	t.Logf("m = n = %d: max |θ − λ| = %.2g", n, worst)
	if worst > 1e-8*10 {
		t.Errorf("m = n does not reproduce the spectrum: max error %g", worst)
	}
	if !slices.IsSortedFunc(res.Values, func(x, y float64) int { return -cmpFloat(x, y) }) {
		t.Error("Values not descending")
	}
	// With m = n the Ritz vectors form a whole orthonormal basis, which only
	// holds if the Lanczos basis stayed orthogonal.
	checkOrthonormal(t, res.Vectors, 1e-10)
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func TestLanczosTridiagonalIsProjection(t *testing.T) {
	// Without reorthogonalisation, T would drift from QᵀAQ; here check T's
	// trace and Frobenius norm against A's for m = n (similarity invariants).
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	res := Lanczos(Dense(n, a), n, nil, 8, 0)
	var trT, frobT, trA, frobA float64
	for i, x := range res.Alpha {
		trT += x
		frobT += x * x
		trA += lambda[i]
		frobA += lambda[i] * lambda[i]
	}
	for _, b := range res.Beta {
		frobT += 2 * b * b
	}
	if math.Abs(trT-trA) > 1e-10 || math.Abs(frobT-frobA) > 1e-9*frobA {
		t.Errorf("tr T = %.15g (A: %.15g), ‖T‖²_F = %.15g (A: %.15g)", trT, trA, frobT, frobA)
	}
}

func TestLanczosStopsOnBreakdown(t *testing.T) {
	// Three distinct eigenvalues: the Krylov space is invariant after 3 steps.
	d := diagonal{4, 4, 4, 2, 2, 1, 1, 1, 1, 1}
	res := Lanczos(d, 8, nil, 1, 3)
	if len(res.Alpha) != 3 || len(res.Beta) != 2 {
		t.Fatalf("ran %d steps, want 3", len(res.Alpha))
	}
	for i, want := range []float64{4, 2, 1} {
		if math.Abs(res.Values[i]-want) > 1e-12 {
			t.Errorf("Ritz value %d = %.15g, want %g", i, res.Values[i], want)
		}
	}
	checkOrthonormal(t, res.Vectors, 1e-12)

	// TopEigenvalues goes on past the breakdown and finds the copies.
	vals, vecs := TopEigenvalues(d, 4, 1)
	for i, want := range []float64{4, 4, 4, 2} {
		if math.Abs(vals[i]-want) > 1e-12 {
			t.Errorf("TopEigenvalues[%d] = %.15g, want %g", i, vals[i], want)
		}
	}
	checkOrthonormal(t, vecs, 1e-12)
}

func TestLanczosStartAndLimits(t *testing.T) {
	d := diagonal{5, 3, 1}
	// Starting on an eigenvector breaks down at once, with the exact value.
	res := Lanczos(d, 3, []float64{0, 2, 0}, 0, 1)
	if len(res.Values) != 1 || res.Values[0] != 3 || math.Abs(res.Vectors[0][1]) != 1 {
		t.Errorf("from e₂: %+v", res)
	}
	// m > n is clamped.
	if res := Lanczos(d, 10, nil, 0, 0); len(res.Values) != 3 {
		t.Errorf("m = 10 on n = 3 gave %d values", len(res.Values))
	}
	// k > n is clamped; k < 1 returns nothing.
	if vals, _ := TopEigenvalues(d, 7, 0); !slices.EqualFunc(vals, []float64{5, 3, 1}, func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }) {
		t.Errorf("TopEigenvalues(k = 7) on n = 3: %v", vals)
	}
	if vals, vecs := TopEigenvalues(d, 0, 0); vals != nil || vecs != nil {
		t.Error("k = 0 returned values")
	}
	if vals, _ := TopEigenvalues(diagonal{0, 0, 0}, 2, 0); len(vals) != 2 || vals[0] != 0 || vals[1] != 0 {
		t.Errorf("zero operator: %v", vals)
	}
	for name, f := range map[string]func(){
		"m = 0":        func() { Lanczos(d, 0, nil, 0, 0) },
		"start length": func() { Lanczos(d, 2, []float64{1, 1}, 0, 0) },
		"zero start":   func() { Lanczos(d, 2, []float64{0, 0, 0}, 0, 0) },
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

func TestTopEigenvaluesLargeSparseSpectrum(t *testing.T) {
	// n = 2000 diagonal with a few outliers above a bulk, like a Hessian:
	// TopEigenvalues should converge well before m = n.
	const n = 2000
	d := make(diagonal, n)
	for i := range d {
		d[i] = math.Sin(float64(i)) // bulk in [−1, 1]
	}
	d[17], d[900], d[1500] = 30, 20, 12
	op := &counting{Operator: d}
	vals, vecs := TopEigenvalues(op, 3, 2)
	for i, want := range []float64{30, 20, 12} {
		if relErr(vals[i], want) > 1e-12 {
			t.Errorf("value %d = %.15g, want %g", i, vals[i], want)
		}
	}
	if math.Abs(vecs[0][17]) < 1-1e-10 {
		t.Errorf("top vector is not e₁₇: component %g", vecs[0][17])
	}
	t.Logf("n = %d, k = 3: %d operator applications", n, op.applies)
	if op.applies > 2*(2*3+20) {
		t.Errorf("%d applications, expected at most one doubling", op.applies)
	}
}

// float32Operator rounds its input and output to float32, like a
// Hessian-vector product computed in single precision.
type float32Operator struct{ Operator }

func (f float32Operator) Apply(dst, v []float64) {
	rounded := make([]float64, len(v))
	for i, x := range v {
		rounded[i] = float64(float32(x))
	}
	f.Operator.Apply(dst, rounded)
	for i, x := range dst {
		dst[i] = float64(float32(x))
	}
}

func TestTopEigenvaluesFloat32OperatorStaysInBudget(t *testing.T) {
	const n, k = 3000, 4
	d := make(diagonal, n)
	for i := range d {
		d[i] = math.Sin(float64(i))
	}
	d[5], d[50], d[500], d[2500] = 9, 8, 7.9, 5
	op := &counting{Operator: float32Operator{d}}
	vals, _ := TopEigenvalues(op, k, 1)
	var worst float64
	for i, want := range []float64{9, 8, 7.9, 5} {
		worst = max(worst, relErr(vals[i], want))
	}
	t.Logf("float32 operator, n = %d: %d applications, worst relative error %.2g", n, op.applies, worst)
	if op.applies > 4*(2*k+20) || worst > 1e-6 {
		t.Errorf("%d applications (budget %d), relative error %g", op.applies, 4*(2*k+20), worst)
	}
}
