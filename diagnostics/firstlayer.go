package diagnostics

import (
	"math"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
)

// firstLayerSolver finds the top eigenvalue of the first layer's Hessian
// block without ever forming a product in its out×(in+1) parameter space.
// With X̃ = [X 1] the batch's inputs and A: V ↦ X̃Vᵀ, the block is
// H₁₁ = AᵀMA, M the Hessian with respect to the layer's output (B×out).
// Its nonzero spectrum is that of K = M·G̃ (G̃ = X̃X̃ᵀ, B×B), self-adjoint
// in the inner product ⟨U, U'⟩ = tr(UᵀG̃U'). Lanczos on K in that inner
// product works with B×out vectors (65,536 for the standard step instead
// of 200,960) and costs per product one B×B×out matrix product and M's small
// upper layers, instead of two B×in×out products: about a third of the
// work. The eigenvector is mapped back, v = AᵀU, to warm-start the next
// run from U₀ = M·(A·v), one full-size product per run. The vectors are
// float32, as the products are; inner products sum in float64 blocks.
type firstLayerSolver struct {
	q, gq      []float32 // Lanczos basis and G̃·basis, maxIter rows of B·out
	w, gw, u   []float32
	alpha, bet []float64
	ritz       *curvature.Ritz
	v          []float32 // the last eigenvector in parameter space (W then b), unit norm
	reducedSpace
}

func newFirstLayerSolver(m *model.MLP, hvp *model.HVP, ws *model.Workspace, maxIter int, tol float64, seed uint64) *firstLayerSolver {
	_, _, in, out := m.Linear(0)
	n := ws.MaxBatch * out
	return &firstLayerSolver{q: make([]float32, maxIter*n), gq: make([]float32, maxIter*n),
		w: make([]float32, n), gw: make([]float32, n), u: make([]float32, n),
		alpha: make([]float64, maxIter), bet: make([]float64, maxIter),
		ritz: curvature.NewRitz(maxIter),
		v:    make([]float32, out*(in+1)), reducedSpace: newReducedSpace("first-layer solver", m, hvp, ws, 0, maxIter, tol, seed, 0x5eed)}
}

// firstLayerReduces reports whether the first layer's reduced space is
// smaller than its block.
func firstLayerReduces(m *model.MLP, batch int) bool {
	_, _, in, _ := m.Linear(0)
	return len(m.Spec.Hidden) > 0 && batch < in+1
}

// layerReduces reports whether a power iteration's product is cheaper in
// linear layer i's reduced space (one B×B×out product) than in its block
// (two B×in×out products); M's upper layers cost both the same.
func layerReduces(m *model.MLP, i, batch int) bool {
	_, _, in, _ := m.Linear(i)
	return batch < 2*(in+1)
}

// linearLayer is the linear layer whose weight and bias make parameter
// group g, or −1 for a BatchNorm group and for the whole network (g =
// len(m.Groups)).
func linearLayer(m *model.MLP, g int) int {
	for i := range len(m.Spec.Hidden) + 1 {
		if g < len(m.Groups) && m.HiddenGroup(i) == g {
			return i
		}
	}
	return -1
}

// gTimes writes G̃·u into dst (both B×out).
func (s *firstLayerSolver) gTimes(dst, u []float32, rows int) {
	linalg.Gemm(false, false, rows, s.out, rows, 1, s.g, rows, u, s.out, 0, dst, s.out)
}

// axpy is y += a·x; scaleTo is dst = a·x.
func axpy(y []float32, a float64, x []float32) {
	f := float32(a)
	x = x[:len(y)]
	for i := range y {
		y[i] += f * x[i]
	}
}

func scaleTo(dst []float32, a float64, x []float32) {
	f := float32(a)
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = f * x[i]
	}
}

func (s *firstLayerSolver) Run(curvature.Operator) curvature.PowerResult {
	rows := s.ws.Rows()
	n := rows * s.out
	x := s.ws.Input()
	s.gram(rows) // G̃, which gTimes applies
	// Start: U₀ = M·(A·v) from the last eigenvector, else random.
	q0, gq0 := s.q[:n], s.gq[:n]
	started := false
	if s.warm {
		av := s.u[:n]
		linalg.Gemm(false, true, rows, s.out, s.in, 1, x, s.in, s.v[:s.out*s.in], s.in, 0, av, s.out)
		bias := s.v[s.out*s.in:]
		for r := 0; r < rows; r++ {
			for o, b := range bias {
				av[r*s.out+o] += b
			}
		}
		s.hvp.ApplyOutputHessian(0, av, q0)
		started = linalg.SumSquares(q0) > 0
	}
	if !started {
		for i := range q0 {
			q0[i] = float32(s.rng.NormFloat64())
		}
	}
	s.gTimes(gq0, q0, rows)
	inv := 1 / math.Sqrt(linalg.Dot64(q0, gq0))
	scaleTo(q0, inv, q0)
	scaleTo(gq0, inv, gq0)
	var res curvature.PowerResult
	var m int
	w, gw := s.w[:n], s.gw[:n]
	for j := 0; j < s.maxIter; j++ {
		q, gqj := s.q[j*n:(j+1)*n], s.gq[j*n:(j+1)*n]
		s.hvp.ApplyOutputHessian(0, gqj, w) // w = K·q_j = M·(G̃·q_j)
		if j > 0 {
			axpy(w, -s.bet[j-1], s.q[(j-1)*n:j*n])
		}
		a := linalg.Dot64(gqj, w)
		axpy(w, -a, q)
		s.gTimes(gw, w, rows)
		b := math.Sqrt(math.Max(linalg.Dot64(w, gw), 0))
		s.alpha[j], s.bet[j] = a, b
		m = j + 1
		theta, last := s.ritz.Top(s.alpha[:m], s.bet[:m])
		res = curvature.PowerResult{Value: theta, Iterations: m, Residual: math.Abs(b*last) / math.Abs(theta)}
		res.Converged = res.Residual <= s.tol
		if res.Converged || b == 0 || m == s.maxIter {
			break
		}
		scaleTo(s.q[(j+1)*n:(j+2)*n], 1/b, w)
		scaleTo(s.gq[(j+1)*n:(j+2)*n], 1/b, gw)
	}
	// The eigenvector: U* = Σ s_j q_j, v = Aᵀ·U* = (U*ᵀ·X, Σ_rows U*).
	u := s.u[:n]
	clear(u)
	for j := 0; j < m; j++ {
		axpy(u, s.ritz.TopVector(j, m), s.q[j*n:(j+1)*n])
	}
	linalg.Gemm(true, false, s.out, s.in, rows, 1, u, s.out, x, s.in, 0, s.v[:s.out*s.in], s.in)
	bias := s.v[s.out*s.in:]
	clear(bias)
	for r := 0; r < rows; r++ {
		for o := range bias {
			bias[o] += u[r*s.out+o]
		}
	}
	nv := linalg.SumSquares(s.v)
	norm := math.Sqrt(nv) // hoisted: the compiler does not, and 200,000 square roots cost 12% of the solve
	for i := range s.v {
		s.v[i] = float32(float64(s.v[i]) / norm)
		s.v64[i] = float64(s.v[i])
	}
	s.warm = !math.IsNaN(res.Value) && nv > 0
	// The block also has the null space of A (eigenvalue 0), and the
	// in-loss regulariser adds c·I.
	if res.Value < 0 {
		res.Value = 0
	}
	res.Value += s.regScale
	res.Vector = s.v64
	return res
}

func (s *firstLayerSolver) SetWarm(v []float64) {
	for i, x := range v {
		s.v[i], s.v64[i] = float32(x), float64(float32(x))
	}
	s.warm = true
}
