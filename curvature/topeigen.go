package curvature

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
)

// TopEigenSolver finds the largest (algebraic) eigenvalue of an operator by
// Lanczos runs that start from the previous run's eigenvector and stop as
// soon as the top Ritz pair's residual β_m·|s_m| is at most Tol·|θ|.
//
// It is the cheap sharpness estimator of lot's diagnostics: Lanczos
// converges to an extreme eigenvalue like a Chebyshev-accelerated power
// iteration, so where the top of a Hessian's spectrum is crowded (as with
// random labels) it needs a dozen products where power iteration needs
// hundreds. The runs are short (at most maxIter steps), so the plain
// three-term recurrence is used without reorthogonalisation: its loss of
// orthogonality only duplicates Ritz values after they converge, and full
// reorthogonalisation against a 200,000-long basis would cost more than the
// Hessian products themselves. Note the residual bounds the distance to
// *some* eigenvalue: where the top two are close and swap between runs, a
// loose Tol can stop on the second one. At Tol 1e-3 the diagnostics' tests
// find relative errors below 1e-4 against converged solves.
type TopEigenSolver struct {
	n, maxIter  int
	tol         float64
	basis       []float64 // maxIter rows of length n
	w           []float64
	alpha, beta []float64
	ritz        *Ritz
	warmStart   // the last eigenvector, the next start
	seed        uint64
}

// NewTopEigenSolver makes a solver for operators of dimension n, with at
// most maxIter products per run (maxIter·n float64s of basis), stopping at
// relative residual tol; a tol of zero or less never stops early (every run
// takes maxIter products, or stops at an invariant subspace).
func NewTopEigenSolver(n, maxIter int, tol float64, seed uint64) *TopEigenSolver {
	if maxIter < 1 {
		panic(fmt.Sprintf("curvature: NewTopEigenSolver with maxIter %d", maxIter))
	}
	m := min(maxIter, n)
	return &TopEigenSolver{n: n, maxIter: m, tol: tol, seed: seed,
		basis: make([]float64, m*n), w: make([]float64, n), warmStart: warmStart{v: make([]float64, n)},
		alpha: make([]float64, m), beta: make([]float64, m), ritz: NewRitz(m)}
}

// Run returns the top eigenpair of op (Value, the unit Vector, the number of
// products, the relative Residual, and whether it reached tol). The Vector
// aliases the solver's storage until the next Run.
func (s *TopEigenSolver) Run(op Operator) PowerResult {
	if d := op.Dim(); d != s.n {
		panic(fmt.Sprintf("curvature: TopEigenSolver for dimension %d run on an operator of dimension %d", s.n, d))
	}
	n := s.n
	q0 := s.basis[:n]
	if s.warm {
		copy(q0, s.v)
	} else {
		fillNormal(newRand(s.seed), q0)
	}
	normalize(q0)
	var res PowerResult
	var m int
	for j := 0; j < s.maxIter; j++ {
		q := s.basis[j*n : (j+1)*n]
		op.Apply(s.w, q)
		if j > 0 {
			floats.AddScaled(s.w, -s.beta[j-1], s.basis[(j-1)*n:j*n])
		}
		a := floats.Dot(q, s.w)
		floats.AddScaled(s.w, -a, q)
		b := norm2(s.w)
		s.alpha[j], s.beta[j] = a, b
		m = j + 1
		theta, last := s.topRitz(m)
		resid := b * math.Abs(last)
		res = PowerResult{Value: theta, Iterations: m, Residual: RelativeResidual(resid, theta)}
		res.Converged = s.tol > 0 && res.Residual <= s.tol
		if res.Converged || b == 0 || j+1 == s.maxIter {
			break
		}
		floats.ScaleTo(s.basis[(j+1)*n:(j+2)*n], 1/b, s.w)
	}
	// The Ritz vector Q·s of the top pair becomes the next start.
	clear(s.v)
	for j := 0; j < m; j++ {
		floats.AddScaled(s.v, s.ritz.TopVector(j, m), s.basis[j*n:(j+1)*n])
	}
	normalize(s.v)
	s.warm = !math.IsNaN(res.Value) && !math.IsInf(res.Value, 0)
	res.Vector = s.v
	return res
}

// topRitz solves the m×m tridiagonal eigenproblem of the run so far.
func (s *TopEigenSolver) topRitz(m int) (theta, last float64) {
	return s.ritz.Top(s.alpha[:m], s.beta[:m])
}

// Ritz solves the small tridiagonal eigenproblems of a Lanczos run for its
// top pair, reusing its buffers across steps. Its zero value is not usable:
// make one with NewRitz.
type Ritz struct {
	d, e, z, work []float64
}

// NewRitz sizes a Ritz for runs of up to m steps.
func NewRitz(m int) *Ritz {
	return &Ritz{d: make([]float64, m), e: make([]float64, m), z: make([]float64, m*m), work: make([]float64, 2*m)}
}

// Top returns the largest eigenvalue θ of the tridiagonal matrix with
// diagonal alpha and off-diagonal beta[:len(alpha)−1], and the last
// component of its unit eigenvector (β_m·|last| is the Ritz residual).
func (r *Ritz) Top(alpha, beta []float64) (theta, last float64) {
	m := len(alpha)
	copy(r.d, alpha)
	copy(r.e, beta[:m-1])
	z := r.z[:m*m]
	if !(gonum.Implementation{}).Dsteqr(lapack.EVTridiag, m, r.d[:m], r.e[:max(m-1, 0)], z, m, r.work) {
		return math.NaN(), 0
	}
	return r.d[m-1], z[(m-1)*m+m-1]
}

// TopVector returns component j of the top eigenvector from the last Top
// call on an m-step run.
func (r *Ritz) TopVector(j, m int) float64 { return r.z[j*m+m-1] }
