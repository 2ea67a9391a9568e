package diagnostics

import (
	"math/rand/v2"
	"testing"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
)

// benchFirstLayerPower times one cold 101-product power solve of fc1's
// block on the authors' net (784-256-256-10, batch 256).
func benchFirstLayerPower(b *testing.B, reduced bool) {
	linalg.SetThreads(1)
	m, _ := model.New(model.Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10})
	rng := rand.New(rand.NewPCG(3, 3))
	m.Initialize(model.InitKaimingUniform, rng)
	x := make([]float32, 256*784)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, 256)
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	hvp := m.NewHVP(256)
	hvp.Prepare(x, y)
	op := curvature.NewHessian(hvp, m, 0, 0)
	start := make([]float64, op.Dim())
	coldStart(start, 1, 0, 0)
	var it topSolver = curvature.NewPowerIterator(op.Dim(), curvature.PowerOptions{MaxIter: 101, Tol: -1})
	if reduced {
		it = newReducedPowerSolver(m, hvp, hvp.Workspace(), 0, 101, -1, 1, false)
	}
	for b.Loop() {
		it.SetWarm(start)
		it.Run(op)
	}
}

func BenchmarkFirstLayerPower(b *testing.B)        { benchFirstLayerPower(b, false) }
func BenchmarkFirstLayerPowerReduced(b *testing.B) { benchFirstLayerPower(b, true) }

// benchAuthorsSharpness times a logged step's diagnostics with the authors'
// sharpness (a cold start and 101 products per layer, no stopping rule) on
// their net at batch 256, under the given solver.
func benchAuthorsSharpness(b *testing.B, act, solver string) {
	linalg.SetThreads(1)
	a, _ := model.ParseActivation(act)
	opts := filled(Options{Level: Full, Solver: solver, PowerMaxIter: 101, SharpnessStart: StartCold})
	opts.PowerTol = 0 // no stopping rule (filled would set the default)
	p := newNetProblem(b, model.Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: a}, 256, 1, opts)
	for b.Loop() {
		p.mon.BeforeAt(0, p.grad, nil)
	}
}

func BenchmarkAuthorsSharpness(b *testing.B) {
	for _, act := range []string{"relu", "crelu"} {
		for _, solver := range []string{"power", SolverPowerReduced, SolverPowerBatch} {
			b.Run(act+"/"+solver, func(b *testing.B) { benchAuthorsSharpness(b, act, solver) })
		}
	}
}
