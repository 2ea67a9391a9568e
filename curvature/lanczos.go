package curvature

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
)

// breakdownTol is the relative size of a Lanczos β below which the Krylov
// space is taken to be invariant: β < breakdownTol·‖T‖.
const breakdownTol = 1e-12

// LanczosResult is the outcome of a Lanczos run of m steps, or fewer if the
// Krylov space became invariant (breakdown).
type LanczosResult struct {
	// Alpha and Beta are the diagonal (length m) and off-diagonal (length
	// m−1) of the tridiagonal matrix T = QᵀAQ.
	Alpha, Beta []float64
	// Values are the Ritz values, the eigenvalues of T, in descending order.
	Values []float64
	// Vectors are the unit-norm Ritz vectors of the largest Values, as many
	// as requested and available.
	Vectors [][]float64
}

// Lanczos runs m steps of the Lanczos process on op, with full
// reorthogonalisation: every new basis vector is orthogonalised against all
// earlier ones by classical Gram–Schmidt applied twice ("twice is enough"),
// in float64, so the basis stays orthonormal to rounding and no spurious
// copies of converged Ritz values appear. It stops early on breakdown, when
// β < 1e-12·‖T‖, since the Ritz values are then exact eigenvalues.
//
// start is the starting vector (its norm does not matter); nil means a random
// normal vector drawn from seed. wantVectors Ritz vectors are formed for the
// largest Ritz values (0 for none; more than available gives all).
//
// m > n is treated as m = n, where the Ritz values are the whole spectrum as
// seen from start: an eigenvalue with no component along start, or a repeated
// eigenvalue beyond its first copy, does not appear. Lanczos keeps all m basis
// vectors (m·n float64s). It panics if m < 1, len(start) ≠ n, or start is
// zero.
func Lanczos(op Operator, m int, start []float64, seed uint64, wantVectors int) LanczosResult {
	n := dimOf(op)
	if m < 1 {
		panic(fmt.Sprintf("curvature: Lanczos with m = %d steps, want ≥ 1", m))
	}
	m = min(m, n)
	k := newKrylov(op, m, newRand(seed), false)
	if start == nil {
		fillNormal(k.rng, k.row(0))
	} else {
		if len(start) != n {
			panic(fmt.Sprintf("curvature: Lanczos start has length %d, want %d", len(start), n))
		}
		copy(k.row(0), start)
	}
	if normalize(k.row(0)) == 0 {
		panic("curvature: Lanczos start is the zero vector")
	}
	k.extend(m)

	e := k.eigen()
	steps := len(k.alpha)
	res := LanczosResult{
		Alpha:  append([]float64(nil), k.alpha...),
		Beta:   append([]float64(nil), k.beta[:steps-1]...),
		Values: e.descending(),
	}
	wantVectors = min(max(wantVectors, 0), steps)
	res.Vectors = make([][]float64, wantVectors)
	for i := range res.Vectors {
		res.Vectors[i] = k.ritzVector(e, steps-1-i)
	}
	return res
}

// TopEigenvalues returns the k largest (algebraic, not magnitude) eigenvalues
// of op in descending order, with unit eigenvectors. For the most negative
// ones, negate the operator.
//
// It runs Lanczos with full reorthogonalisation for m = min(n, 2k+20) steps,
// the usual rule of thumb (ARPACK's ncv ≥ 2k, plus room for the top of the
// spectrum to separate from the rest), then checks each of the top k Ritz
// pairs by its residual ‖Ay − θy‖ = β_m·|s_m|, which Lanczos gives without
// further operator applications. While any exceeds 1e-10·‖T‖ it doubles m,
// resuming the same run, at most twice (m ≤ min(n, 4·(2k+20)), which bounds
// both the operator applications and the m·n floats of basis kept). A
// residual ρ bounds the eigenvalue error by ρ²/gap (see PowerOptions), so
// converged values are accurate to rounding. An operator computed in float32,
// such as a Hessian-vector product, may not reach that tolerance and then
// uses the whole budget; its values are still the best Ritz estimates. To
// check a pair, apply op to its vector.
//
// When the Krylov space becomes invariant before n steps, the run continues
// from a random vector orthogonal to it, so eigenvalues of multiplicity > 1
// are found once the space from the first start is exhausted. A repeated
// eigenvalue among the top k of a large operator whose Krylov space is not
// exhausted appears only once; this is a limit of single-vector Lanczos.
//
// k > n is treated as k = n; k < 1 returns nothing.
func TopEigenvalues(op Operator, k int, seed uint64) (values []float64, vectors [][]float64) {
	n := dimOf(op)
	k = min(k, n)
	if k < 1 {
		return nil, nil
	}
	m := min(n, 2*k+20)
	limit := min(n, 4*m)
	kr := newKrylov(op, m, newRand(seed), true)
	fillNormal(kr.rng, kr.row(0))
	normalize(kr.row(0))
	var e tridiagEigen
	for {
		kr.extend(m)
		e = kr.eigen()
		if kr.done || m == limit || kr.topConverged(e, k) {
			break
		}
		m = min(limit, 2*m)
	}
	steps := len(kr.alpha)
	k = min(k, steps) // only short of k if the operator had no room left
	values = e.descending()[:k]
	vectors = make([][]float64, k)
	for i := range vectors {
		vectors[i] = kr.ritzVector(e, steps-1-i)
	}
	return values, vectors
}

// krylov is a resumable Lanczos run with full reorthogonalisation.
type krylov struct {
	op    Operator
	n     int
	basis []float64 // row j is q_j; rows 0..len(alpha)-1 are in use
	alpha []float64
	// beta[j] is ‖r_j‖, the residual after step j; beta[j] couples q_j and
	// q_{j+1} in T, and the last entry is the trailing residual β_m.
	beta  []float64
	r     []float64 // residual after the last step, β_m·q_{m+1}
	coef  []float64 // Gram–Schmidt coefficients
	tnorm float64   // Gershgorin bound on ‖T‖
	rng   *rand.Rand
	// restart continues after breakdown from a random vector orthogonal to
	// the basis, instead of stopping.
	restart bool
	done    bool // no further step is possible or wanted
}

func newKrylov(op Operator, capacity int, rng *rand.Rand, restart bool) *krylov {
	n := op.Dim()
	return &krylov{
		op:      op,
		n:       n,
		basis:   make([]float64, capacity*n),
		alpha:   make([]float64, 0, capacity),
		beta:    make([]float64, 0, capacity),
		r:       make([]float64, n),
		coef:    make([]float64, capacity),
		rng:     rng,
		restart: restart,
	}
}

// reset prepares k for a new run from a start vector written into row(0).
func (k *krylov) reset() {
	k.alpha, k.beta = k.alpha[:0], k.beta[:0]
	k.tnorm = 0
	k.done = false
}

func (k *krylov) row(j int) []float64 { return k.basis[j*k.n : (j+1)*k.n] }

// extend runs steps until there are m of them or the run is done. Storage
// grows once per call, never inside the loop.
func (k *krylov) extend(m int) {
	if len(k.basis) < m*k.n {
		k.basis = append(k.basis, make([]float64, m*k.n-len(k.basis))...)
		k.coef = make([]float64, m)
	}
	for !k.done && len(k.alpha) < m {
		if j := len(k.alpha); j > 0 && !k.advance(j) {
			k.done = true
			break
		}
		k.step(len(k.alpha))
	}
	if len(k.alpha) == k.n {
		k.done = true
	}
}

// advance forms q_j from the residual r = β_{j−1}q_j, or after breakdown
// either restarts (returning true) or reports that the run is over.
func (k *krylov) advance(j int) bool {
	if j == k.n {
		return false
	}
	q := k.row(j)
	if b := k.beta[j-1]; b >= breakdownTol*k.tnorm && b > 0 {
		floats.ScaleTo(q, 1/b, k.r)
		return true
	}
	if !k.restart {
		return false
	}
	// The span of q_0..q_{j−1} is invariant: T splits into blocks, and the
	// run goes on in its orthogonal complement.
	k.beta[j-1] = 0
	for range 4 {
		fillNormal(k.rng, q)
		before := norm2(q)
		k.orthogonalize(q, j)
		if normalize(q) > 1e-6*before {
			return true
		}
	}
	return false // the basis already spans R^n to rounding
}

// step performs Lanczos step j from q_j, appending α_j and β_j.
func (k *krylov) step(j int) {
	q, r := k.row(j), k.r
	k.op.Apply(r, q)
	var betaPrev float64
	if j > 0 {
		betaPrev = k.beta[j-1]
		floats.AddScaled(r, -betaPrev, k.row(j-1))
	}
	a := floats.Dot(q, r)
	floats.AddScaled(r, -a, q)
	a += k.orthogonalize(r, j+1)
	b := norm2(r)
	k.alpha = append(k.alpha, a)
	k.beta = append(k.beta, b)
	k.tnorm = max(k.tnorm, math.Abs(a)+betaPrev+b)
}

// orthogonalize removes from v its components along q_0..q_{rows−1} by
// classical Gram–Schmidt twice, and returns the total coefficient along the
// last of them (the correction to α when v is a Lanczos residual).
func (k *krylov) orthogonalize(v []float64, rows int) float64 {
	bl := blas64.Implementation()
	q, c := k.basis[:rows*k.n], k.coef[:rows]
	var last float64
	for range 2 {
		bl.Dgemv(blas.NoTrans, rows, k.n, 1, q, k.n, v, 1, 0, c, 1) // c = Q v
		bl.Dgemv(blas.Trans, rows, k.n, -1, q, k.n, c, 1, 1, v, 1)  // v −= Qᵀc
		last += c[rows-1]
	}
	return last
}

// tridiagEigen is the eigendecomposition of T: values ascending, and the
// eigenvectors as the columns of the row-major m×m matrix z.
type tridiagEigen struct {
	m      int
	values []float64
	z      []float64
}

func (k *krylov) eigen() tridiagEigen {
	m := len(k.alpha)
	e := tridiagEigen{
		m:      m,
		values: append([]float64(nil), k.alpha...),
		z:      make([]float64, m*m),
	}
	off := append([]float64(nil), k.beta[:m-1]...)
	work := make([]float64, max(1, 2*m-2))
	if !(gonum.Implementation{}).Dsteqr(lapack.EVTridiag, m, e.values, off, e.z, m, work) {
		panic("curvature: tridiagonal eigensolver (Dsteqr) did not converge")
	}
	return e
}

func (e tridiagEigen) descending() []float64 {
	d := make([]float64, e.m)
	for i, v := range e.values {
		d[e.m-1-i] = v
	}
	return d
}

// firstWeight returns the squared first component of eigenvector i of T, the
// Gauss quadrature weight of its Ritz value.
func (e tridiagEigen) firstWeight(i int) float64 { return e.z[i] * e.z[i] }

// topConverged reports whether the k largest Ritz pairs have residuals
// β_m·|s_{m,i}| ≤ 1e-10·‖T‖, and the run has not just broken down (an
// invariant Krylov space may hide further copies of a repeated eigenvalue).
func (k *krylov) topConverged(e tridiagEigen, want int) bool {
	m := len(k.alpha)
	betaM := k.beta[m-1]
	if betaM < breakdownTol*k.tnorm {
		return false
	}
	for i := m - 1; i >= max(0, m-want); i-- {
		if betaM*math.Abs(e.z[(m-1)*m+i]) > 1e-10*k.tnorm {
			return false
		}
	}
	return true
}

// ritzVector returns the unit Ritz vector Q·s_i for eigenvector i of T.
func (k *krylov) ritzVector(e tridiagEigen, i int) []float64 {
	y := make([]float64, k.n)
	blas64.Implementation().Dgemv(blas.Trans, e.m, k.n, 1, k.basis[:e.m*k.n], k.n, e.z[i:], e.m, 0, y, 1)
	normalize(y)
	return y
}
