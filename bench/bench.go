// Package bench owns lot's performance figures: it times the training step
// (an MLP of the given widths and activation, batch 256, float32, one Adam
// update) against the floor of its matrix products, the curvature and
// noise products, the Wasserstein step, the cost of diagnostics in short
// real runs, and two worker processes against one, and reports medians:
// the numbers `lot bench` prints and the README quotes.
package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/regularize"
	"github.com/lot-toolkit/lot/train"
)

// Config says what to measure.
type Config struct {
	Hidden     []int  // hidden widths; nil is Standard's one layer of 256
	Activation string // as model.ParseActivation reads it; "" is relu
	Threads    int    // BLAS threads
	Reps       int    // timed repetitions of each product
	// Quick skips the slow parts: the short runs behind the diagnostics
	// overheads and the two-process measurement.
	Quick bool
	// Data is the MNIST directory of the short runs ("" is the default copy).
	Data string
	// Worker, if set, makes a command that runs Throughput(steps) of this
	// Config in a process of its own; jobs2_speedup needs it.
	Worker func(steps int) *exec.Cmd
}

// Result holds medians in milliseconds and ratios.
type Result struct {
	Hidden     []int  `json:"hidden"`
	Activation string `json:"activation"`

	TrainStepMS float64 `json:"train_step_ms"` // forward + backward + Adam update
	// GemmFloorMS is the step's matrix products alone, the same calls on
	// the same shapes, timed in the same sitting: what a step could cost
	// if everything else were free.
	GemmFloorMS   float64 `json:"gemm_floor_ms"`
	StepOverFloor float64 `json:"step_over_floor"` // train_step_ms / gemm_floor_ms
	GradMS        float64 `json:"grad_ms"`         // forward + backward, no update
	HVPMS         float64 `json:"hvp_ms"`          // one full-network Hessian-vector product, forward pass cached
	// HVPBlockMS is one diagonal-block product per parameter group (fc1,
	// fc2, ...), as the per-layer sharpness uses them.
	HVPBlockMS map[string]float64 `json:"hvp_block_ms"`
	NoiseMS    float64            `json:"noise_ms"` // exact per-layer gradient noise on top of a gradient
	// WassersteinStepMS is the training step with the Wasserstein
	// regulariser (strength 1e-3), called through the normal step.
	WassersteinStepMS float64 `json:"wasserstein_step_ms"`
	// DiagFullOverhead and DiagLightOverhead are the extra training time
	// of short runs (paper defaults, log interval 40) with diagnostics
	// full and light, as a fraction of the same run with diagnostics off:
	// medians over interleaved rounds. Absent with Quick.
	DiagFullOverhead  *float64 `json:"diag_full_overhead,omitempty"`
	DiagLightOverhead *float64 `json:"diag_light_overhead,omitempty"`
	// Jobs2Speedup is the throughput of two worker processes running at
	// once over that of one alone (2 is perfect scaling on two free
	// cores). Absent with Quick or without Config.Worker.
	Jobs2Speedup *float64 `json:"jobs2_speedup,omitempty"`
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

// stepper is one benchmarked step: model, batch and the training Stepper
// that lot run uses.
type stepper struct {
	st *train.Stepper
	x  []float32
	y  []int32
}

func (c *Config) spec() (model.Spec, error) {
	hidden := c.Hidden
	if len(hidden) == 0 {
		hidden = []int{Standard.Hidden}
	}
	name := c.Activation
	if name == "" {
		name = "relu"
	}
	act, err := model.ParseActivation(name)
	if err != nil {
		return model.Spec{}, fmt.Errorf("bench: %w", err)
	}
	spec := model.Spec{Input: Standard.Input, Hidden: hidden, Classes: Standard.Classes, Activation: act}
	if err := spec.Validate(); err != nil {
		return model.Spec{}, fmt.Errorf("bench: %w", err)
	}
	return spec, nil
}

// newStepper builds the step, with regulariser reg ("none" for none).
func newStepper(spec model.Spec, reg string) (*stepper, error) {
	m, err := model.New(spec)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	if err := m.Initialize(model.InitTorch, rng); err != nil {
		return nil, err
	}
	cfg := train.Default()
	var r regularize.Regularizer
	if reg != "none" {
		if r, err = regularize.New(reg, 1e-3, m, slices.Clone(m.Params)); err != nil {
			return nil, err
		}
	}
	s := &stepper{st: train.NewStepper(m, train.NewOptimizer(&cfg, m), r, Standard.Batch),
		x: make([]float32, Standard.Batch*spec.Input), y: make([]int32, Standard.Batch)}
	for i := range s.x {
		s.x[i] = float32(rng.NormFloat64())
	}
	for i := range s.y {
		s.y[i] = int32(rng.IntN(spec.Classes))
	}
	return s, nil
}

func newStandard(threads int) *stepper {
	linalg.SetThreads(threads)
	c := Config{}
	spec, _ := c.spec()
	s, _ := newStepper(spec, "none")
	return s
}

// sustained runs steps training steps as a run does, each on a batch
// gathered in shuffled order from a 21,000-image set, and returns steps per
// second of wall time.
func (s *stepper) sustained(steps int) float64 {
	const n = 21000
	d := s.st.Model.Spec.Input
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

func (s *stepper) gradStep()  { s.st.Gradient(s.x, s.y) }
func (s *stepper) trainStep() { s.st.Step(s.x, s.y) }

// gemmFloor returns the training step's matrix products alone: per layer
// the forward product, the weight gradient and (above the first layer) the
// product that carries the gradient down, on buffers of the step's shapes.
func gemmFloor(m *model.MLP, rows int) func() {
	rng := rand.New(rand.NewPCG(4, 4))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	L := len(m.Spec.Hidden) + 1
	type layer struct {
		in, out        int
		w, x, z, d, gw []float32
	}
	ls := make([]layer, L)
	for i := range ls {
		w, _, in, out := m.Linear(i)
		ls[i] = layer{in: in, out: out, w: w, x: fill(rows * in), z: make([]float32, rows*out), d: fill(rows * out), gw: make([]float32, in*out)}
	}
	dh := make([]float32, rows*slices.MaxFunc(ls, func(a, b layer) int { return a.in - b.in }).in)
	return func() {
		for _, l := range ls {
			linalg.Gemm(false, true, rows, l.out, l.in, 1, l.x, l.in, l.w, l.in, 0, l.z, l.out)
		}
		for i := L - 1; i >= 0; i-- {
			l := ls[i]
			linalg.Gemm(true, false, l.out, l.in, rows, 1, l.d, l.out, l.x, l.in, 0, l.gw, l.in)
			if i > 0 {
				linalg.Gemm(false, false, rows, l.in, l.out, 1, l.d, l.out, l.w, l.in, 0, dh, l.in)
			}
		}
	}
}

// Run measures everything Config asks for.
func Run(cfg Config) (Result, error) {
	spec, err := cfg.spec()
	if err != nil {
		return Result{}, err
	}
	if cfg.Threads < 1 || cfg.Reps < 1 {
		return Result{}, fmt.Errorf("bench: threads and reps must be at least 1, got %d and %d", cfg.Threads, cfg.Reps)
	}
	linalg.SetThreads(cfg.Threads)
	s, err := newStepper(spec, "none")
	if err != nil {
		return Result{}, err
	}
	ws, err := newStepper(spec, "wasserstein")
	if err != nil {
		return Result{}, err
	}
	m := s.st.Model
	// The HVP reads the training pass in the stepper's workspace, as the
	// diagnostics do, so nothing is recomputed per product. Its own
	// stepper keeps the training steps from moving it.
	hs, err := newStepper(spec, "none")
	if err != nil {
		return Result{}, err
	}
	hs.gradStep()
	hm := hs.st.Model
	hvp := hm.NewHVPOn(hs.st.WS)
	v, hv := make([]float32, len(hm.Params)), make([]float32, len(hm.Params))
	for i := range v {
		v[i] = float32(i%7-3) * 1e-2
	}
	sumSq := make([]float64, len(hm.Groups))
	noise := func() {
		hm.SampleGradSqNorms(hs.st.WS, sumSq)
		for g, grp := range hm.Groups {
			sumSq[g] = sumSq[g]/float64(Standard.Batch) - linalg.SumSquares(hs.st.Grad[grp.Offset:grp.Offset+grp.Len])
		}
	}
	fs := []func(){s.trainStep, gemmFloor(m, Standard.Batch), s.gradStep, func() { hvp.Apply(v, hv) }, noise, ws.trainStep}
	for g, grp := range hm.Groups {
		bv, bo := v[grp.Offset:grp.Offset+grp.Len], hv[grp.Offset:grp.Offset+grp.Len]
		fs = append(fs, func() { hvp.ApplyBlock(g, bv, bo) })
	}
	med := interleavedMedians(cfg.Reps, fs...)
	r := Result{
		Hidden: spec.Hidden, Activation: spec.Activation.String(),
		TrainStepMS: med[0], GemmFloorMS: med[1], StepOverFloor: med[0] / med[1], GradMS: med[2], HVPMS: med[3], NoiseMS: med[4],
		WassersteinStepMS: med[5], HVPBlockMS: map[string]float64{},
		Threads: cfg.Threads, Backend: linalg.Backend(), Kernel: linalg.Kernel(), Reps: cfg.Reps,
	}
	for g, grp := range hm.Groups {
		r.HVPBlockMS[grp.Name] = med[6+g]
	}
	r.TrainStepsPerSec = s.sustained(max(cfg.Reps, 200))
	if cfg.Quick {
		return r, nil
	}
	full, light, err := diagOverheads(cfg, spec)
	if err != nil {
		return r, err
	}
	r.DiagFullOverhead, r.DiagLightOverhead = &full, &light
	if cfg.Worker != nil {
		sp, err := jobsSpeedup(cfg.Worker, 1500)
		if err != nil {
			return r, err
		}
		r.Jobs2Speedup = &sp
	}
	return r, nil
}

// Throughput runs steps sustained training steps of cfg's net: the work of
// one worker process of the two-process measurement.
func Throughput(cfg Config, steps int) error {
	spec, err := cfg.spec()
	if err != nil {
		return err
	}
	linalg.SetThreads(max(cfg.Threads, 1))
	s, err := newStepper(spec, "none")
	if err != nil {
		return err
	}
	s.sustained(steps)
	return nil
}

// jobsSpeedup times one worker alone, then two at once, three rounds, and
// returns the median of 2·t(one)/t(two): the throughput of two jobs over
// one, as `lot reproduce --jobs 2` runs them (separate processes, nothing
// set in their environment).
func jobsSpeedup(worker func(steps int) *exec.Cmd, steps int) (float64, error) {
	timeJobs := func(n int) (float64, error) {
		cmds := make([]*exec.Cmd, n)
		t0 := time.Now()
		for i := range cmds {
			cmds[i] = worker(steps)
			if err := cmds[i].Start(); err != nil {
				return 0, fmt.Errorf("bench: worker: %w", err)
			}
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				return 0, fmt.Errorf("bench: worker: %w", err)
			}
		}
		return time.Since(t0).Seconds(), nil
	}
	var ratios []float64
	for range 3 {
		one, err := timeJobs(1)
		if err != nil {
			return 0, err
		}
		two, err := timeJobs(2)
		if err != nil {
			return 0, err
		}
		ratios = append(ratios, 2*one/two)
	}
	slices.Sort(ratios)
	return ratios[1], nil
}

// diagOverheads trains short runs (one task of 200 steps, paper defaults,
// log interval 40) with diagnostics off, light and full, interleaved over
// three rounds, and returns the median extra training time of full and
// light over off.
func diagOverheads(cfg Config, spec model.Spec) (full, light float64, err error) {
	dir, err := os.MkdirTemp("", "lot-bench-")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	levels := []string{"off", "light", "full"}
	secs := make([][]float64, len(levels))
	for round := range 3 {
		for k, level := range levels {
			c := train.Default()
			c.Hidden, c.Activation, c.Threads, c.Data = spec.Hidden, spec.Activation.String(), cfg.Threads, cfg.Data
			c.Samples, c.Tasks, c.Epochs, c.Batch, c.LogEvery = 40*Standard.Batch, 1, 5, Standard.Batch, 40
			c.Diagnostics.Level = level
			s, err := train.Run(context.Background(), c, train.Options{Out: filepath.Join(dir, fmt.Sprintf("%s-%d", level, round))})
			if err != nil {
				return 0, 0, fmt.Errorf("bench: diagnostics %s run: %w", level, err)
			}
			secs[k] = append(secs[k], s.TrainSeconds)
		}
	}
	for k := range secs {
		slices.Sort(secs[k])
	}
	off := secs[0][1]
	return secs[2][1]/off - 1, secs[1][1]/off - 1, nil
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
