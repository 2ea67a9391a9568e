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
	"github.com/lot-toolkit/lot/train"
)

// Result holds medians in milliseconds.
type Result struct {
	TrainStepMS float64 `json:"train_step_ms"` // forward + backward + Adam update
	GradMS      float64 `json:"grad_ms"`       // forward + backward, no update
	HVPMS       float64 `json:"hvp_ms"`        // one full-network Hessian-vector product, forward pass cached
	NoiseMS     float64 `json:"noise_ms"`      // exact per-layer gradient noise on top of a gradient
	Threads     int     `json:"threads"`
	Backend     string  `json:"blas"`
	Kernel      string  `json:"kernel"`
	Reps        int     `json:"reps"`
}

// Standard is the standard step's shape.
var Standard = struct{ Input, Hidden, Classes, Batch int }{784, 256, 10, 256}

// standard is the standard step: model, batch and the training Stepper
// that lot run uses.
type standard struct {
	st *train.Stepper
	x  []float32
	y  []int32
}

func newStandard(threads int) *standard {
	linalg.SetThreads(threads)
	s := Standard
	m, _ := model.New(model.Spec{Input: s.Input, Hidden: []int{s.Hidden}, Classes: s.Classes})
	rng := rand.New(rand.NewPCG(1, 1))
	m.Initialize(model.InitTorch, rng)
	cfg := train.Default()
	st := &standard{st: train.NewStepper(m, train.NewOptimizer(&cfg, m), nil, s.Batch),
		x: make([]float32, s.Batch*s.Input), y: make([]int32, s.Batch)}
	for i := range st.x {
		st.x[i] = float32(rng.NormFloat64())
	}
	for i := range st.y {
		st.y[i] = int32(rng.IntN(s.Classes))
	}
	return st
}

func (s *standard) gradStep()  { s.st.Gradient(s.x, s.y) }
func (s *standard) trainStep() { s.st.Step(s.x, s.y) }

// Run times the standard step reps times (after a warm-up) on the given
// number of threads and returns the medians.
func Run(threads, reps int) Result {
	s := newStandard(threads)
	m := s.st.Model
	// The HVP reads the training pass in the stepper's workspace, as the
	// diagnostics do, so nothing is recomputed per product.
	s.gradStep()
	hvp := m.NewHVPOn(s.st.WS)
	v, hv := make([]float32, len(m.Params)), make([]float32, len(m.Params))
	for i := range v {
		v[i] = float32(i%7-3) * 1e-2
	}
	sumSq := make([]float64, len(m.Groups))
	noise := func() {
		m.SampleGradSqNorms(s.st.WS, sumSq)
		for g, grp := range m.Groups {
			sumSq[g] = sumSq[g]/float64(Standard.Batch) - linalg.SumSquares(s.st.Grad[grp.Offset:grp.Offset+grp.Len])
		}
	}
	return Result{
		TrainStepMS: median(s.trainStep, reps),
		GradMS:      median(s.gradStep, reps),
		HVPMS:       median(func() { hvp.Apply(v, hv) }, reps),
		NoiseMS:     median(noise, reps),
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
