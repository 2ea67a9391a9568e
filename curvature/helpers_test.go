package curvature

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// symmetricWithSpectrum returns the row-major matrix Q·diag(lambda)·Qᵀ for a
// random orthogonal Q (from the QR factorisation of a Gaussian matrix),
// symmetrised exactly, and Q's columns as the eigenvectors.
func symmetricWithSpectrum(lambda []float64, seed uint64) (a []float64, q *mat.Dense) {
	n := len(lambda)
	rng := rand.New(rand.NewPCG(seed, 7))
	g := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	q = new(mat.Dense)
	qr.QTo(q)
	var qd, full mat.Dense
	qd.Mul(q, mat.NewDiagDense(n, lambda))
	full.Mul(&qd, q.T())
	a = make([]float64, n*n)
	for i := range n {
		for j := range n {
			a[i*n+j] = (full.At(i, j) + full.At(j, i)) / 2
		}
	}
	return a, q
}

// testSpectrum is the n = 60 spectrum most tests use: a top eigenvalue 10
// with a clear gap to 7, and 58 eigenvalues spread over [−6, 6], so the
// negative ones are smaller in magnitude than the top one.
func testSpectrum() []float64 {
	rng := rand.New(rand.NewPCG(42, 1))
	lambda := []float64{10, 7}
	for range 58 {
		lambda = append(lambda, -6+12*rng.Float64())
	}
	return lambda
}

// referenceEigen returns the eigenvalues of the row-major symmetric a
// (descending) and the matching unit eigenvectors, by gonum's EigenSym.
func referenceEigen(t *testing.T, n int, a []float64) ([]float64, [][]float64) {
	t.Helper()
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(n, slices.Clone(a)), true) {
		t.Fatal("EigenSym failed")
	}
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	vals := es.Values(nil)
	outVals := make([]float64, n)
	outVecs := make([][]float64, n)
	for i := range n { // EigenSym is ascending
		outVals[i] = vals[n-1-i]
		outVecs[i] = mat.Col(nil, n-1-i, &vecs)
	}
	return outVals, outVecs
}

// matVec computes a·v directly, independently of Dense.
func matVec(n int, a, v []float64) []float64 {
	out := make([]float64, n)
	for i := range n {
		var s float64
		for j := range n {
			s += a[i*n+j] * v[j]
		}
		out[i] = s
	}
	return out
}

func dotProduct(x, y []float64) float64 {
	var s float64
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

// eigenResidual returns ‖Av − θv‖ for unit v.
func eigenResidual(n int, a, v []float64, theta float64) float64 {
	av := matVec(n, a, v)
	var s float64
	for i := range av {
		d := av[i] - theta*v[i]
		s += d * d
	}
	return math.Sqrt(s)
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }

// diagonal is a cheap operator diag(d).
type diagonal []float64

func (d diagonal) Dim() int { return len(d) }
func (d diagonal) Apply(dst, v []float64) {
	v, dst = v[:len(d)], dst[:len(d)]
	for i, di := range d {
		dst[i] = di * v[i]
	}
}

// counting counts operator applications.
type counting struct {
	Operator
	applies int
}

func (c *counting) Apply(dst, v []float64) { c.applies++; c.Operator.Apply(dst, v) }
