package curvature

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Defaults for PowerOptions, PyHessian's budget and tolerance.
const (
	DefaultPowerMaxIter = 100
	DefaultPowerTol     = 1e-3
)

// PowerOptions configures power iteration. The zero value gives the defaults.
//
// How Tol relates to eigenvalue accuracy: for a symmetric matrix, a unit
// vector v with Rayleigh quotient θ = vᵀAv and residual ρ = ‖Av − θv‖ has an
// eigenvalue λ with |λ − θ| ≤ ρ²/δ, where δ is the distance from θ to the rest
// of the spectrum (Kato–Temple). In terms of the relative residual r = ρ/|θ|
// that Tol bounds, the relative eigenvalue error is at most r²·|θ|/δ: with a
// gap δ comparable to |λ|, Tol = 1e-2 already gives about 1e-4, and the
// default 1e-3 about 1e-6. The eigenvector is only accurate to about r·|θ|/δ.
// The residual cannot fall below the operator's own rounding: about 1e-7
// relative for a Hessian-vector product computed in float32, so a smaller Tol
// there just spends MaxIter and reports Converged = false.
type PowerOptions struct {
	// MaxIter caps the operator applications per run; 0 means
	// DefaultPowerMaxIter.
	MaxIter int
	// Tol stops a run once ‖Av − λv‖ ≤ Tol·|λ|; 0 means DefaultPowerTol, and
	// a negative Tol never stops early (every run takes MaxIter iterations).
	Tol float64
	// Start is the first run's starting vector (e.g. the eigenvector of a
	// previous run); nil means a random normal vector drawn from Seed. Its
	// length must be the operator's dimension, and it must not be zero.
	Start []float64
	// Seed seeds the random start.
	Seed uint64
}

// PowerResult is the outcome of a power-iteration run. Value, Vector and
// Residual always describe the same iterate.
type PowerResult struct {
	Value      float64   // Rayleigh quotient vᵀAv at the last iterate v
	Vector     []float64 // the last iterate v, unit-norm
	Iterations int       // operator applications
	Residual   float64   // ‖Av − λv‖/|λ|; 0 if Av = 0, +Inf if λ = 0 but Av ≠ 0
	Converged  bool      // Residual ≤ Tol
}

// PowerIteration finds the eigenvalue of op of largest magnitude and its
// eigenvector. For a Hessian that is normally the top eigenvalue, but if the
// most negative eigenvalue is larger in magnitude (|λ_min| > λ_max) it is the
// one returned, with a negative Value. Convergence is geometric with ratio
// |λ₂|/|λ₁|, so a near tie in magnitude converges slowly; an exact tie (λ and
// −λ) does not converge at all and is reported as Converged = false.
//
// PowerIteration allocates its buffers on each call; use a PowerIterator to
// run repeatedly on operators of one size.
func PowerIteration(op Operator, opt PowerOptions) PowerResult {
	return NewPowerIterator(dimOf(op), opt).Run(op)
}

// PowerIterator runs power iteration repeatedly on operators of one dimension,
// as when tracking a layer's top Hessian eigenvalue during training. It owns
// its buffers, and each Run after the first warm-starts from the previous
// run's eigenvector, so a slowly changing operator needs few iterations.
// Run allocates nothing.
//
// A PowerIterator is not safe for concurrent use.
type PowerIterator struct {
	n         int
	maxIter   int
	tol       float64
	warmStart           // v: the current iterate, swapped with w each iteration
	w         []float64 // A·v
	start     []float64 // copy of PowerOptions.Start, used by the first run
	src       *rand.PCG // the random starts' stream, kept for RandState
	rng       *rand.Rand
}

// NewPowerIterator returns a PowerIterator for operators of dimension n.
// It panics if n < 1 or if opt.Start is non-nil with a length other than n
// or all zeros.
func NewPowerIterator(n int, opt PowerOptions) *PowerIterator {
	if n < 1 {
		panic(fmt.Sprintf("curvature: NewPowerIterator dimension %d, want ≥ 1", n))
	}
	p := &PowerIterator{
		n:         n,
		maxIter:   opt.MaxIter,
		tol:       opt.Tol,
		warmStart: warmStart{v: make([]float64, n)},
		w:         make([]float64, n),
		src:       rand.NewPCG(opt.Seed, pcgStream),
	}
	p.rng = rand.New(p.src)
	if p.maxIter <= 0 {
		p.maxIter = DefaultPowerMaxIter
	}
	if p.tol == 0 {
		p.tol = DefaultPowerTol
	}
	if opt.Start != nil {
		if len(opt.Start) != n {
			panic(fmt.Sprintf("curvature: PowerOptions.Start has length %d, want %d", len(opt.Start), n))
		}
		if norm2(opt.Start) == 0 {
			panic("curvature: PowerOptions.Start is the zero vector")
		}
		p.start = append([]float64(nil), opt.Start...)
	}
	return p
}

// RandState returns the state of the stream that random starts are drawn
// from, for a checkpoint: each cold start (the first run, or one after
// Reset or a non-finite result) draws from it, so a resumed run needs it to
// draw what an uninterrupted one would.
func (p *PowerIterator) RandState() []byte {
	b, _ := p.src.MarshalBinary() // a PCG always marshals
	return b
}

// SetRandState restores a state from RandState.
func (p *PowerIterator) SetRandState(b []byte) error {
	if err := p.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("curvature: power iteration random state: %w", err)
	}
	return nil
}

// Reset drops the warm start: the next Run starts again from
// PowerOptions.Start if one was given, else from a fresh random vector.
func (p *PowerIterator) Reset() { p.warm = false }

// Run performs power iteration on op, whose dimension must be the
// iterator's, starting from the previous run's eigenvector if there is one.
// The returned Vector is the iterator's own storage: it stays valid until the
// next Run, which overwrites it; copy it to keep it.
func (p *PowerIterator) Run(op Operator) PowerResult {
	if d := op.Dim(); d != p.n {
		panic(fmt.Sprintf("curvature: PowerIterator for dimension %d run on an operator of dimension %d", p.n, d))
	}
	if !p.warm {
		if p.start != nil {
			copy(p.v, p.start)
		} else {
			fillNormal(p.rng, p.v)
		}
		normalize(p.v)
	}
	// A warm vector is already unit-norm: it is a previous iterate.

	var res PowerResult
	for it := 1; it <= p.maxIter; it++ {
		op.Apply(p.w, p.v)
		lambda, wNorm := rayleighAndNorm(p.v, p.w)
		// One fused pass: the residual of (λ, v), computed directly rather
		// than as ‖w‖² − λ² so that it stays accurate when tiny, and the next
		// iterate w/‖w‖ written in place of w.
		var inv float64
		if wNorm > 0 {
			inv = 1 / wNorm
		}
		resid := residualAndScale(p.w, p.v, lambda, inv)
		res = PowerResult{Value: lambda, Vector: p.v, Iterations: it, Residual: RelativeResidual(resid, lambda)}
		res.Converged = res.Residual <= p.tol
		if res.Converged || it == p.maxIter || math.IsNaN(lambda) || math.IsInf(lambda, 0) {
			break
		}
		p.v, p.w = p.w, p.v
	}
	p.warm = !math.IsNaN(res.Value) && !math.IsInf(res.Value, 0)
	return res
}

// RelativeResidual returns resid/|lambda| with the conventions of PowerResult.Residual.
func RelativeResidual(resid, lambda float64) float64 {
	switch {
	case resid == 0:
		return 0
	case lambda == 0:
		return math.Inf(1)
	}
	return resid / math.Abs(lambda)
}

// rayleighAndNorm returns v·w and ‖w‖ in one pass; v is unit-norm, so v·w is
// the Rayleigh quotient. Four accumulators break the add dependency chain.
func rayleighAndNorm(v, w []float64) (dot, norm float64) {
	w = w[:len(v)]
	var d0, d1, d2, d3, s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		v0, v1, v2, v3 := v[i], v[i+1], v[i+2], v[i+3]
		w0, w1, w2, w3 := w[i], w[i+1], w[i+2], w[i+3]
		d0 += v0 * w0
		d1 += v1 * w1
		d2 += v2 * w2
		d3 += v3 * w3
		s0 += w0 * w0
		s1 += w1 * w1
		s2 += w2 * w2
		s3 += w3 * w3
	}
	for ; i < len(v); i++ {
		d0 += v[i] * w[i]
		s0 += w[i] * w[i]
	}
	return (d0 + d1) + (d2 + d3), math.Sqrt((s0 + s1) + (s2 + s3))
}

// residualAndScale returns ‖w − λv‖ and, in the same pass, scales w by inv.
func residualAndScale(w, v []float64, lambda, inv float64) float64 {
	v = v[:len(w)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		r0 := w[i] - lambda*v[i]
		r1 := w[i+1] - lambda*v[i+1]
		r2 := w[i+2] - lambda*v[i+2]
		r3 := w[i+3] - lambda*v[i+3]
		s0 += r0 * r0
		s1 += r1 * r1
		s2 += r2 * r2
		s3 += r3 * r3
		w[i] *= inv
		w[i+1] *= inv
		w[i+2] *= inv
		w[i+3] *= inv
	}
	for ; i < len(w); i++ {
		r := w[i] - lambda*v[i]
		s0 += r * r
		w[i] *= inv
	}
	return math.Sqrt((s0 + s1) + (s2 + s3))
}

// warmStart holds a solver's start vector: the last run's eigenvector once
// warm. Checkpoints save it so that a resumed run iterates exactly as an
// uninterrupted one.
type warmStart struct {
	v    []float64
	warm bool // v holds the last run's eigenvector
}

// Warm returns the vector the next run starts from, or nil before any run.
// It aliases the solver's storage.
func (w *warmStart) Warm() []float64 {
	if !w.warm {
		return nil
	}
	return w.v
}

// SetWarm makes v (copied; unit norm expected) the next run's start.
func (w *warmStart) SetWarm(v []float64) {
	if len(v) != len(w.v) {
		panic(fmt.Sprintf("curvature: SetWarm with length %d, want %d", len(v), len(w.v)))
	}
	copy(w.v, v)
	w.warm = true
}
