package diagnostics

import (
	"math"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
)

// reducedPowerSolver is the power iteration on a linear layer's Hessian
// block H = AᵀMA (see firstLayerSolver for A, M and G̃ = AAᵀ, with the
// layer's input in place of the batch), run in the batch's B×out space:
// the iterates after the start are v_k ∝ Aᵀw, so only z = A·v and
// w = M·z are kept, and
//
//	λ = vᵀH v = ⟨z, w⟩,  ‖Hv‖² = ⟨w, G̃w⟩,  A·(Hv/‖Hv‖) = G̃w/‖Hv‖.
//
// Each iteration costs one B×B×out product (G̃w) and M's upper layers,
// instead of the two B×in×out products of a block product: about a third
// of the work for the first layer at 784 inputs, half for a 256-wide
// input at batch 256. The start's A·v₀, G̃ and the final eigenvector
// v = Aᵀw/‖Hv‖ cost one B×in×out product each per run. It makes the same
// number of products as curvature's power iteration with the same stopping
// rule, so a solve is the same mathematics, rounded differently (float32
// in the reduced space): options, SolverPowerReduced for the first layer
// and SolverPowerBatch for every layer where it is cheaper. The in-loss
// regulariser's c·I is added to the value at the end, as the Lanczos
// solver does; its iterates are those of H alone.
//
// With jacobians, M is applied through the rows' logit Jacobians
// (model.OutputJacobian) where a hidden-to-hidden product lies above the
// layer and the rows do not couple: the same M without those products.
type reducedPowerSolver struct {
	z, w, gw []float32             // B×out each: A·v, M·A·v (Hv = Aᵀw) and G̃·w
	u        []float32             // B×out: v = Aᵀu after the start
	v        []float32             // the eigenvector, parameter layout (W then b)
	jac      *model.OutputJacobian // M's factors; nil: M by the R-pass
	reducedSpace
}

func newReducedPowerSolver(m *model.MLP, hvp *model.HVP, ws *model.Workspace, layer, maxIter int, tol float64, seed uint64, jacobians bool) *reducedPowerSolver {
	_, _, in, out := m.Linear(layer)
	n := ws.MaxBatch * out
	if maxIter <= 0 {
		maxIter = curvature.DefaultPowerMaxIter
	}
	s := &reducedPowerSolver{z: make([]float32, n), w: make([]float32, n), gw: make([]float32, n), u: make([]float32, n),
		v: make([]float32, out*(in+1)), reducedSpace: newReducedSpace("reduced power solver", m, hvp, ws, layer, maxIter, tol, seed, 0x9e3779b97f4a7c15)}
	if jacobians && layer+2 < len(m.Spec.Hidden)+1 {
		s.jac, _ = hvp.NewOutputJacobian(layer) // nil under BatchNorm: the R-pass
	}
	return s
}

// outputHessian writes M·r into out.
func (s *reducedPowerSolver) outputHessian(r, out []float32) {
	if s.jac != nil {
		s.jac.Apply(r, out)
		return
	}
	s.hvp.ApplyOutputHessian(s.layer, r, out)
}

func (s *reducedPowerSolver) Run(curvature.Operator) curvature.PowerResult {
	rows := s.ws.Rows()
	n := rows * s.out
	x := s.input()
	g := s.gram(rows)
	if s.jac != nil {
		s.jac.Update()
	}
	if !s.warm {
		var ss float64
		for i := range s.v64 {
			s.v64[i] = s.rng.NormFloat64()
			ss += s.v64[i] * s.v64[i]
		}
		for i := range s.v64 {
			s.v64[i] /= math.Sqrt(ss)
		}
	}
	// z = A·v₀ = X·V_Wᵀ + 1·bᵀ, from the float32 start the block product
	// would see.
	for i, e := range s.v64 {
		if math.Abs(e) < 1e-30 {
			e = 0 // as curvature.Hessian flushes would-be subnormals
		}
		s.v[i] = float32(e)
	}
	z, w, gw, u := s.z[:n], s.w[:n], s.gw[:n], s.u[:n]
	linalg.Gemm(false, true, rows, s.out, s.in, 1, x, s.in, s.v[:s.out*s.in], s.in, 0, z, s.out)
	bias := s.v[s.out*s.in:]
	for r := 0; r < rows; r++ {
		zr := z[r*s.out : (r+1)*s.out]
		for o, b := range bias {
			zr[o] += b
		}
	}
	var res curvature.PowerResult
	var hvNorm float64
	for it := 1; it <= s.maxIter; it++ {
		s.outputHessian(z, w) // Hv = Aᵀw
		lambda := linalg.Dot64(z, w)
		linalg.Gemm(false, false, rows, s.out, rows, 1, g, rows, w, s.out, 0, gw, s.out)
		hv2 := linalg.Dot64(w, gw)
		hvNorm = math.Sqrt(math.Max(hv2, 0))
		last := it == s.maxIter || math.IsNaN(lambda) || math.IsInf(lambda, 0) || hvNorm == 0
		var resid float64
		if s.tol < 0 && !last {
			// No stopping rule: only the last residual is reported, and
			// its pass over the iterates is a tenth of an iteration.
			resid = math.NaN()
		} else if it == 1 {
			// v₀ need not lie in A's row space: ‖Hv − λv‖² = ‖Hv‖² − λ²
			// for a unit v (cancellation does not matter this far from
			// convergence).
			resid = math.Sqrt(math.Max(hv2-lambda*lambda, 0))
		} else {
			// v = Aᵀu: ‖Aᵀ(w − λu)‖² = ⟨w − λu, G̃w − λz⟩ (G̃u = z),
			// formed from the differences, free of cancellation.
			var r2 float64
			for i := range w {
				r2 += float64(w[i]-float32(lambda)*u[i]) * float64(gw[i]-float32(lambda)*z[i])
			}
			resid = math.Sqrt(math.Max(r2, 0))
		}
		res = curvature.PowerResult{Value: lambda, Iterations: it, Residual: curvature.RelativeResidual(resid, lambda)}
		res.Converged = res.Residual <= s.tol
		if res.Converged || last {
			break
		}
		scaleTo(z, 1/hvNorm, gw) // A·(Hv/‖Hv‖)
		scaleTo(u, 1/hvNorm, w)  // the next iterate is Aᵀu
	}
	// The eigenvector estimate v: the last iterate, Aᵀu with u = w_prev/‖Hv_prev‖,
	// is only known through z; map the last Hv = Aᵀw back and normalise
	// instead (the next iterate, as close to the top eigenvector).
	linalg.Gemm(true, false, s.out, s.in, rows, 1, w, s.out, x, s.in, 0, s.v[:s.out*s.in], s.in)
	clear(bias)
	for r := 0; r < rows; r++ {
		for o := range bias {
			bias[o] += w[r*s.out+o]
		}
	}
	nv := linalg.SumSquares(s.v)
	norm := math.Sqrt(nv) // hoisted, as in firstLayerSolver.Run
	for i := range s.v {
		s.v64[i] = float64(s.v[i]) / norm
	}
	s.warm = !math.IsNaN(res.Value) && !math.IsInf(res.Value, 0) && nv > 0
	res.Value += s.regScale
	res.Vector = s.v64
	return res
}

func (s *reducedPowerSolver) SetWarm(v []float64) {
	copy(s.v64, v)
	s.warm = true
}
