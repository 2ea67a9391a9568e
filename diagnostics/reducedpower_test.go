package diagnostics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
)

// TestReducedPowerMatchesFullPower: from the same cold start and with the
// same number of products, the reduced-space power iteration gives the
// top eigenvalue of every linear layer's block that curvature's power
// iteration on the parameter-space block gives, to float32 rounding, for ReLU and CReLU,
// with one to three hidden layers, with M by the R-pass and (where the
// layer has them) through the rows' Jacobians; both reach the dense reference's top
// eigenvalue where the iteration converged. A wrong identity (a missing
// G̃, the bias column, a mis-scaled iterate) changes the value at the
// first iteration.
func TestReducedPowerMatchesFullPower(t *testing.T) {
	for _, tc := range []struct {
		act    string
		hidden []int
	}{{"relu", []int{12}}, {"relu", []int{10, 8}}, {"crelu", []int{7, 5}}, {"relu", []int{9, 7, 6}}} {
		act, _ := model.ParseActivation(tc.act)
		m, err := model.New(model.Spec{Input: 40, Hidden: tc.hidden, Classes: 4, Activation: act})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 5))
		m.Initialize(model.InitTorch, rng)
		const rows = 24 // < 41 inputs: the reduced space is smaller
		x := make([]float32, rows*40)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := make([]int32, rows)
		for i := range y {
			y[i] = int32(rng.IntN(4))
		}
		hvp := m.NewHVP(rows)
		hvp.Prepare(x, y)
		for layer := range len(tc.hidden) + 1 {
			g := m.HiddenGroup(layer)
			op := curvature.NewHessian(hvp, m, g, 0)
			start := make([]float64, op.Dim())
			coldStart(start, 7, 3, g)
			for _, iters := range []int{1, 2, 5, 200, 201} {
				full := curvature.NewPowerIterator(op.Dim(), curvature.PowerOptions{MaxIter: iters, Tol: -1})
				full.SetWarm(start)
				want := full.Run(op)
				jacobians := iters%2 == 0 // M through the rows' Jacobians, where the layer has them
				red := newReducedPowerSolver(m, hvp, hvp.Workspace(), layer, iters, -1, 1, jacobians)
				if hasJac := layer+2 < len(tc.hidden)+1; jacobians && (red.jac != nil) != hasJac {
					t.Fatalf("%s %v fc%d: Jacobians %v, want %v", tc.act, tc.hidden, layer+1, red.jac != nil, hasJac)
				}
				red.SetWarm(start)
				got := red.Run(nil)
				name := fmt.Sprintf("%s %v fc%d, %d iterations, Jacobians %v", tc.act, tc.hidden, layer+1, iters, red.jac != nil)
				if got.Iterations != want.Iterations {
					t.Errorf("%s: %d products, want %d", name, got.Iterations, want.Iterations)
				}
				if math.Abs(got.Value-want.Value) > 1e-4*math.Abs(want.Value) {
					t.Errorf("%s: λ %.7g, full power iteration %.7g", name, got.Value, want.Value)
				}
				if iters >= 200 && math.Abs(got.Residual-want.Residual) > 1e-2*want.Residual+1e-4 {
					t.Errorf("%s: residual %.3g, full %.3g", name, got.Residual, want.Residual)
				}
				// The returned vector is a unit eigenvector estimate: its
				// Rayleigh quotient is the value.
				hv := make([]float64, op.Dim())
				op.Apply(hv, got.Vector)
				var rq, nn float64
				for i, v := range got.Vector {
					rq += v * hv[i]
					nn += v * v
				}
				if iters >= 200 && (math.Abs(nn-1) > 1e-5 || math.Abs(rq-got.Value) > 1e-3*math.Abs(got.Value)) {
					t.Errorf("%s: vector norm² %v, Rayleigh quotient %v against λ %v", name, nn, rq, got.Value)
				}
			}
		}
	}
}
