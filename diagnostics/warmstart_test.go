package diagnostics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// TestWarmStartedSharpnessAgainstConvergedSolve trains a small net with
// Adam and, at every logged step, compares the monitor's cheap per-layer
// sharpness (warm start, residual 1e-2, at most 20 iterations) with a cold,
// converged solve (residual 1e-7) of the same operator. This is the accuracy
// the README quotes for --diagnostics full.
func TestWarmStartedSharpnessAgainstConvergedSolve(t *testing.T) {
	m, err := model.New(model.Spec{Input: 100, Hidden: []int{64}, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m.Initialize(model.InitTorch, rng)
	const rows, n = 64, 1024
	xs := make([]float32, n*100)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	ys := make([]int32, n)
	for i := range ys {
		ys[i] = int32(rng.IntN(10))
	}
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-3}
	}
	opt := optim.NewAdam(len(m.Params), groups)
	ws := m.NewWorkspace(rows)
	o := DefaultOptions()
	o.Level, o.FisherSamples = Full, 10
	mon := New(m, opt, ws, nil, o)
	grad := make([]float32, len(m.Params))
	hvp := m.NewHVPOn(ws)
	var worst, sumIters float64
	logs := 0
	for step := 1; step <= 600; step++ {
		b := (step * rows) % n
		x, y := xs[b*100:(b+rows)*100], ys[b:b+rows]
		m.Forward(ws, x, rows, true)
		m.CrossEntropy(ws, y)
		m.Backward(ws, grad)
		if step%20 == 0 {
			mon.Before(grad)
			for g := range m.Groups {
				ref := curvature.PowerIteration(curvature.NewHessian(hvp, m, g, 0),
					curvature.PowerOptions{Tol: 1e-7, MaxIter: 5000, Seed: 99})
				got := float64(*mon.layers[g].Sharpness)
				e := math.Abs(got-ref.Value) / math.Abs(ref.Value)
				if e > 1e-3 {
					t.Logf("step %d group %d: got %v (iters %d) ref %v (iters %d conv %v res %.1e)", step, g, got, mon.layers[g].PowerIters, ref.Value, ref.Iterations, ref.Converged, ref.Residual)
				}
				worst = math.Max(worst, e)
				sumIters += float64(mon.layers[g].PowerIters)
			}
			logs++
		}
		opt.Step(m.Params, grad)
		if step%20 == 0 {
			mon.After()
		}
	}
	t.Logf("worst relative sharpness error %.1e over %d logs, mean %.1f iterations per layer", worst, logs, sumIters/float64(logs*len(m.Groups)))
	if worst > 1e-2 {
		t.Fatalf("warm-started sharpness off by %.1e relative", worst)
	}
}
