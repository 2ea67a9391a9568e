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
	// TrainStepsPerSec is sustained throughput, as lot run measures it:
	// steps over wall time, each gathering its batch from a 21,000-image
	// set in shuffled order, slow steps included (a mean, not a median).
	TrainStepsPerSec float64 `json:"train_steps_per_sec"`
	Threads          int     `json:"threads"`
	Backend          string  `json:"blas"`
	Kernel           string  `json:"kernel"`
	Reps             int     `json:"reps"`
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

// sustained runs steps training steps as a run does, each on a batch
// gathered in shuffled order from a 21,000-image set, and returns steps per
// second of wall time.
func (s *standard) sustained(steps int) float64 {
	const n, d = 21000, 784
	rng := rand.New(rand.NewPCG(2, 2))
	set := make([]float32, n*d)
	for i := range set {
		set[i] = float32(rng.NormFloat64())
	}
	order := rng.Perm(n)
	k := 0
	gather := func() {
		for r := 0; r < Standard.Batch; r++ {
			j := order[k%n]
			k++
			copy(s.x[r*d:(r+1)*d], set[j*d:(j+1)*d])
		}
	}
	gather()
	s.trainStep()
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		gather()
		s.trainStep()
	}
	return float64(steps) / time.Since(t0).Seconds()
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
	med := interleavedMedians(reps, s.trainStep, s.gradStep, func() { hvp.Apply(v, hv) }, noise)
	return Result{
		TrainStepMS: med[0], GradMS: med[1], HVPMS: med[2], NoiseMS: med[3],
		TrainStepsPerSec: s.sustained(max(reps, 200)),
		Threads:          threads, Backend: linalg.Backend(), Kernel: linalg.Kernel(), Reps: reps,
	}
}

// interleavedMedians warms up, then times the functions in turn, reps
// rounds, and returns each one's median in milliseconds. Interleaving puts
// every function under the same drift of a noisy machine, so their ratios
// hold even when the absolute times wander.
func interleavedMedians(reps int, fs ...func()) []float64 {
	for i := 0; i < max(10, reps/10); i++ {
		for _, f := range fs {
			f()
		}
	}
	ts := make([][]float64, len(fs))
	for r := 0; r < reps; r++ {
		for k, f := range fs {
			t0 := time.Now()
			f()
			ts[k] = append(ts[k], float64(time.Since(t0).Nanoseconds())/1e6)
		}
	}
	med := make([]float64, len(fs))
	for k := range ts {
		slices.Sort(ts[k])
		med[k] = ts[k][reps/2]
	}
	return med
}
