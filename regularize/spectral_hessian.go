package regularize

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/model"
)

// SpectralHessian is the Hessian of the spectral penalty
// λ·Σ_W (σ1(W)^k − 1)² as the diagnostics add it to the loss's curvature
// (it implements curvature.Term). σ1 here is the exact top singular value
// at the measured parameters, from a float64 eigendecomposition of the
// smaller Gram matrix (WWᵀ or WᵀW), not the training step's warm power
// iterate. The Hessian exists where every σ1 is simple and positive;
// Prepare reports where it is not.
//
// For one matrix with top singular triple (σ, u, v), f = λ(σ^k − 1)² and
// a = f′(σ), a′ = f″(σ), the product with a direction E is
//
//	a′·(uᵀEv)·u vᵀ + a·(du vᵀ + u dvᵀ),
//	du = (σ²I − WWᵀ)⁺ (σEv + WEᵀu),   dv = (σ²I − WᵀW)⁺ P⊥v (σEᵀu + WᵀEv),
//
// the derivatives of u and v along E, the pseudo-inverses taken on the
// complements of u and v. With W wide (rows ≤ cols) and WWᵀ = Σ λ_j u_j u_jᵀ,
// (σ²I − WWᵀ)⁺ = Σ_{j≠1} u_j u_jᵀ/(σ² − λ_j), and for y ⊥ v,
// (σ²I − WᵀW)⁺ y = (y + Wᵀ(σ²I − WWᵀ)⁺ W y)/σ², so only the small side's
// eigenvectors are needed. A tall W is handled as its transpose.
type SpectralHessian struct {
	strength, k float64
	layers      []curvedLayer
	// scratch, sized for the largest layer
	e, out            []float64 // a direction and its product, wide orientation
	ev, wy, c, du, rc []float64 // short side (rc: eigenbasis coordinates)
	etu, yv, dv       []float64 // long side
}

// curvedLayer is one weight matrix at the prepared point, in its wide
// orientation p×q (p ≤ q).
type curvedLayer struct {
	specLayer
	name       string
	trans      bool      // the stored W is the transpose of the model's (rows > cols)
	p, q       int       // wide shape
	w          []float64 // p×q, row-major
	u          []float64 // p×p: column j is WWᵀ's eigenvector for lam[j] (ascending)
	lam        []float64
	uTop, vTop []float64
	sigma      float64
	a, da      float64 // f′(σ) and f″(σ)
}

// NewSpectralHessian builds the penalty's Hessian over m's linear layers;
// call Prepare before the first product.
func NewSpectralHessian(strength, k float64, m *model.MLP) *SpectralHessian {
	h := &SpectralHessian{strength: strength, k: k}
	maxP, maxQ := 0, 0
	for i, L := range linearWeights(m) {
		p, q := min(L.rows, L.cols), max(L.rows, L.cols)
		h.layers = append(h.layers, curvedLayer{specLayer: L, name: fmt.Sprintf("weight matrix %d (%d×%d)", i+1, L.rows, L.cols),
			trans: L.rows > L.cols, p: p, q: q,
			w: make([]float64, p*q), u: make([]float64, p*p), lam: make([]float64, p),
			uTop: make([]float64, p), vTop: make([]float64, q)})
		maxP, maxQ = max(maxP, p), max(maxQ, q)
	}
	h.e, h.out = make([]float64, maxP*maxQ), make([]float64, maxP*maxQ)
	short := func() []float64 { return make([]float64, maxP) }
	long := func() []float64 { return make([]float64, maxQ) }
	h.ev, h.wy, h.c, h.du, h.rc = short(), short(), short(), short(), short()
	h.etu, h.yv, h.dv = long(), long(), long()
	return h
}

// Prepare takes each layer's eigendecomposition at params.
func (h *SpectralHessian) Prepare(params []float32) error {
	for i := range h.layers {
		L := &h.layers[i]
		src := params[L.off : L.off+L.rows*L.cols]
		for j, x := range src {
			h.e[j] = float64(x)
		}
		L.toWide(L.w, h.e[:len(src)])
		if err := L.prepare(h.strength, h.k); err != nil {
			return fmt.Errorf("spectral penalty's Hessian: %w", err)
		}
	}
	return nil
}

// prepare decomposes L.w, already filled.
func (L *curvedLayer) prepare(strength, k float64) error {
	gram := mat.NewSymDense(L.p, nil)
	gram.SymOuterK(1, mat.NewDense(L.p, L.q, L.w))
	var es mat.EigenSym
	if !es.Factorize(gram, true) {
		return fmt.Errorf("%s: the eigendecomposition of its Gram matrix failed", L.name)
	}
	es.Values(L.lam)
	vecs := mat.NewDense(L.p, L.p, L.u)
	es.VectorsTo(vecs)
	top := L.p - 1
	lt := L.lam[top]
	if !(lt > 0) || math.IsInf(lt, 0) {
		return fmt.Errorf("%s: σ1² = %v, not a positive number", L.name, lt)
	}
	if L.p > 1 && !(lt-L.lam[top-1] > 1e-12*lt) {
		return fmt.Errorf("%s: σ1 is not simple (σ1² = %v, σ2² = %v), so the penalty is not twice differentiable there", L.name, lt, L.lam[top-1])
	}
	L.sigma = math.Sqrt(lt)
	for r := range L.p {
		L.uTop[r] = L.u[r*L.p+top]
	}
	gemv(blas.Trans, L.p, L.q, 1/L.sigma, L.w, L.uTop, 0, L.vTop) // v = Wᵀu/σ
	s, d := L.sigma, math.Pow(L.sigma, k)-1
	L.a = strength * 2 * d * k * math.Pow(s, k-1)
	L.da = strength * 2 * k * (k*math.Pow(s, 2*k-2) + d*(k-1)*math.Pow(s, k-2))
	return nil
}

// toWide fills dst (p×q) from src in the model's rows×cols layout.
func (L *curvedLayer) toWide(dst, src []float64) {
	if !L.trans {
		copy(dst, src)
		return
	}
	for r := range L.rows { // dst = Wᵀ: p = cols, q = rows
		for c := range L.cols {
			dst[c*L.q+r] = src[r*L.cols+c]
		}
	}
}

// AddHVP adds the Hessian's product with v to dst over the parameters
// [off, off+len(v)); layers not wholly inside that range are skipped (the
// penalty's Hessian is block-diagonal by layer).
func (h *SpectralHessian) AddHVP(off int, v, dst []float64) {
	for i := range h.layers {
		L := &h.layers[i]
		lo, n := L.off-off, L.rows*L.cols
		if lo < 0 || lo+n > len(v) {
			continue
		}
		x, y := v[lo:lo+n], dst[lo:lo+n]
		e, out := h.e[:n], h.out[:n]
		L.toWide(e, x)
		h.product(L, e, out)
		if !L.trans {
			for i, o := range out {
				y[i] += o
			}
			continue
		}
		for r := range L.rows {
			for c := range L.cols {
				y[r*L.cols+c] += out[c*L.q+r]
			}
		}
	}
}

// product sets out = H·e for one layer, both p×q in its wide orientation.
func (h *SpectralHessian) product(L *curvedLayer, e, out []float64) {
	p, q, s := L.p, L.q, L.sigma
	u, v := L.uTop, L.vTop
	ev, etu := h.ev[:p], h.etu[:q]
	gemv(blas.NoTrans, p, q, 1, e, v, 0, ev) // Ev
	gemv(blas.Trans, p, q, 1, e, u, 0, etu)  // Eᵀu
	uEv := blas64.Dot(vec(u), vec(ev))       // uᵀEv
	du := h.du[:p]                           // du = R⁺(σEv + WEᵀu)
	copy(h.wy[:p], ev)
	gemv(blas.NoTrans, p, q, 1, L.w, etu, s, h.wy[:p])
	h.resolvent(L, h.wy[:p], du)
	yv := h.yv[:q] // y = P⊥v(σEᵀu + WᵀEv)
	copy(yv, etu)
	gemv(blas.Trans, p, q, 1, L.w, ev, s, yv)
	blas64.Axpy(-blas64.Dot(vec(v), vec(yv)), vec(v), vec(yv))
	dv := h.dv[:q] // dv = (y + WᵀR⁺Wy)/σ²
	gemv(blas.NoTrans, p, q, 1, L.w, yv, 0, h.wy[:p])
	h.resolvent(L, h.wy[:p], h.c[:p])
	copy(dv, yv)
	gemv(blas.Trans, p, q, 1, L.w, h.c[:p], 1, dv)
	for j := range dv {
		dv[j] /= s * s
	}
	// out = a′(uᵀEv)·u vᵀ + a·(du vᵀ + u dvᵀ)
	for r := range p {
		cu, cd, ca := L.da*uEv*u[r], L.a*du[r], L.a*u[r]
		row := out[r*q : (r+1)*q]
		for c := range q {
			row[c] = (cu+cd)*v[c] + ca*dv[c]
		}
	}
}

// resolvent sets dst = (σ²I − WWᵀ)⁺ y on the complement of u.
func (h *SpectralHessian) resolvent(L *curvedLayer, y, dst []float64) {
	p, top, s2 := L.p, L.p-1, L.sigma*L.sigma
	c := h.rc[:p]
	gemv(blas.Trans, p, p, 1, L.u, y, 0, c) // coordinates in the eigenbasis
	for j := range c {
		if j == top {
			c[j] = 0
		} else {
			c[j] /= s2 - L.lam[j]
		}
	}
	gemv(blas.NoTrans, p, p, 1, L.u, c, 0, dst)
}

// gemv is y = α·op(A)·x + β·y for a row-major r×c matrix a.
func gemv(t blas.Transpose, r, c int, alpha float64, a, x []float64, beta float64, y []float64) {
	blas64.Gemv(t, alpha, blas64.General{Rows: r, Cols: c, Stride: c, Data: a}, vec(x), beta, vec(y))
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }
