// Package bench owns lot's performance figures: it times the standard step
// (MLP 784-256-10, batch 256, float32, one Adam update) and reports medians,
// the numbers `lot bench` prints and the README quotes.
package bench

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// Result holds medians in milliseconds.
type Result struct {
	TrainStepMS float64 `json:"train_step_ms"` // forward + backward + Adam update
	GradMS      float64 `json:"grad_ms"`       // forward + backward, no update
	Threads     int     `json:"threads"`
	Backend     string  `json:"blas"`
	Kernel      string  `json:"kernel"`
	Reps        int     `json:"reps"`
}

// Standard is the standard step's shape.
var Standard = struct{ Input, Hidden, Classes, Batch int }{784, 256, 10, 256}

// Run times the standard step reps times (after a warm-up) on the given
// number of threads and returns the medians.
func Run(threads, reps int) Result {
	linalg.SetThreads(threads)
	s := Standard
	m, _ := model.New(model.Spec{Input: s.Input, Hidden: []int{s.Hidden}, Classes: s.Classes})
	rng := rand.New(rand.NewPCG(1, 1))
	m.Initialize(model.InitTorch, rng)
	x := make([]float32, s.Batch*s.Input)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, s.Batch)
	for i := range y {
		y[i] = int32(rng.IntN(s.Classes))
	}
	ws := m.NewWorkspace(s.Batch)
	grad := make([]float32, len(m.Params))
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-3}
	}
	opt := optim.NewAdam(len(m.Params), groups)

	gradStep := func() {
		m.Forward(ws, x, s.Batch, true)
		m.CrossEntropy(ws, y)
		m.Backward(ws, grad)
	}
	trainStep := func() {
		gradStep()
		opt.Step(m.Params, grad)
	}
	return Result{
		TrainStepMS: median(trainStep, reps),
		GradMS:      median(gradStep, reps),
		Threads:     threads, Backend: linalg.Backend(), Kernel: linalg.Kernel(), Reps: reps,
	}
}

// median runs f a tenth of reps (at least 10) times to warm caches, then
// times each of reps calls and returns the median in milliseconds.
func median(f func(), reps int) float64 {
	for i := 0; i < max(10, reps/10); i++ {
		f()
	}
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		f()
		ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}
