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
		it = newReducedPowerSolver(m, hvp, hvp.Workspace(), 101, -1, 1)
	}
	for b.Loop() {
		it.SetWarm(start)
		it.Run(op)
	}
}

func BenchmarkFirstLayerPower(b *testing.B)        { benchFirstLayerPower(b, false) }
func BenchmarkFirstLayerPowerReduced(b *testing.B) { benchFirstLayerPower(b, true) }
