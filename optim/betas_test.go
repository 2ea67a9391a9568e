package optim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// rampRun is the protocol the tests replay: three groups of 100 parameters,
// E = 3 epochs of 4 steps per task, tasks 0 and 1 with the ramp on group 0,
// then a reset (as reset-model: Reset, and the ramp on every group) and a
// third task.
const (
	rampGroups    = 3
	rampGroupLen  = 100
	rampEpochs    = 3
	rampBatches   = 4
	rampTasks     = 3
	rampResetTask = 2
)

var (
	rampLR = [rampGroups]float64{1e-2, 3e-3, 1e-3}
	rampWD = [rampGroups]float64{0, 1e-3, 1e-2}
)

// rampInputs draws the initial parameters and every step's gradient.
func rampInputs() (p0 []float32, grads [][]float32) {
	r := rand.New(rand.NewPCG(5, 8))
	n := rampGroups * rampGroupLen
	p0 = make([]float32, n)
	bias := make([]float64, n) // a persistent component, so moments build up
	for i := range p0 {
		p0[i] = float32(2*r.Float64() - 1)
		bias[i] = 0.05 * r.NormFloat64()
	}
	for range rampTasks * rampEpochs * rampBatches {
		g := make([]float32, n)
		for i := range g {
			g[i] = float32(bias[i] + 0.02*r.NormFloat64())
		}
		grads = append(grads, g)
	}
	return p0, grads
}

// variant selects the reference's behaviour; the zero value is the one the
// docs claim, the others are plausible mistakes the test must tell apart.
type variant struct {
	rampBeforeStep   bool // set the epoch's betas before its steps
	initialBiasCorr  bool // bias correction from (0.9, 0.999) regardless
	rampAllGroups    bool // ramp every group in every task
	resetKeepsBetas  bool // Reset leaves the ramped betas in place
	noRampAfterReset bool // after the reset only group 0 is ramped
}

// referenceAdam replays rampRun in float64 with plain loops: Adam as
// torch's formula, betas per group, the ramp written as the notes state it.
func referenceAdam(p0 []float32, grads [][]float32, v variant) []float64 {
	n := len(p0)
	p, m, s := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range p {
		p[i] = float64(p0[i])
	}
	var beta1, beta2 [rampGroups]float64
	var steps [rampGroups]int
	for g := range rampGroups {
		beta1[g], beta2[g] = 0.9, 0.999
	}
	ramp := func(e int, all bool) {
		for g := range rampGroups {
			if g == 0 || all {
				f := float64(e) / (2 * rampEpochs)
				beta1[g], beta2[g] = 0.9+0.09*f, 0.999-0.249*f
			}
		}
	}
	k := 0
	for task := range rampTasks {
		all := v.rampAllGroups || (task >= rampResetTask && !v.noRampAfterReset)
		if task == rampResetTask {
			clear(m)
			clear(s)
			steps = [rampGroups]int{}
			if !v.resetKeepsBetas {
				for g := range rampGroups {
					beta1[g], beta2[g] = 0.9, 0.999
				}
			}
		}
		for e := range rampEpochs {
			if v.rampBeforeStep {
				ramp(e, all)
			}
			for range rampBatches {
				for g := range rampGroups {
					steps[g]++
					t := float64(steps[g])
					b1, b2 := beta1[g], beta2[g]
					bc1, bc2 := 1-math.Pow(b1, t), 1-math.Pow(b2, t)
					if v.initialBiasCorr {
						bc1, bc2 = 1-math.Pow(0.9, t), 1-math.Pow(0.999, t)
					}
					for i := g * rampGroupLen; i < (g+1)*rampGroupLen; i++ {
						d := float64(grads[k][i]) + rampWD[g]*p[i]
						m[i] = b1*m[i] + (1-b1)*d
						s[i] = b2*s[i] + (1-b2)*d*d
						p[i] -= rampLR[g] / bc1 * m[i] / (math.Sqrt(s[i]/bc2) + 1e-8)
					}
				}
				k++
				if !v.rampBeforeStep {
					ramp(e, all)
				}
			}
		}
	}
	return p
}

func newRampAdam(p0 []float32) (*Adam, []float32) {
	groups := make([]Group, rampGroups)
	for g := range groups {
		groups[g] = Group{Offset: g * rampGroupLen, Len: rampGroupLen, LR: rampLR[g], WeightDecay: rampWD[g]}
	}
	return NewAdam(len(p0), groups), append([]float32(nil), p0...)
}

// runRamp replays rampRun with Adam and the authors-ramp schedule, as the
// training loop drives them, from step k0 on; checkpointAt (if ≥ 0) is
// called before step checkpointAt and may replace the optimiser.
func runRamp(t *testing.T, opt *Adam, params []float32, grads [][]float32, checkpointAt int,
	checkpoint func(*Adam) *Adam) {
	t.Helper()
	k := 0
	for task := range rampTasks {
		if task == rampResetTask {
			opt.Reset()
		}
		for e := range rampEpochs {
			for range rampBatches {
				if k == checkpointAt {
					opt = checkpoint(opt)
				}
				// Built per step: the optimiser may have been replaced.
				sched, err := NewBetaSchedule(BetasAuthorsRamp, opt, rampEpochs, task >= rampResetTask)
				if err != nil {
					t.Fatal(err)
				}
				opt.Step(params, grads[k])
				sched.AfterStep(e)
				k++
			}
		}
	}
}

// maxErr is the largest |got − want| / (1 + |want|): absolute for the
// parameters, of order one, that float32 holds to an absolute 6e-8.
func maxErr(got []float32, want []float64) float64 {
	var worst float64
	for i := range got {
		worst = max(worst, math.Abs(float64(got[i])-want[i])/(1+math.Abs(want[i])))
	}
	return worst
}

// TestAuthorsRampMatchesFloat64Reference: 36 steps over three tasks, a
// reset between the second and third, agree with the float64 reference to
// float32 accuracy, and each plausible mistake in the schedule moves the
// reference at least 30 times further than that tolerance.
func TestAuthorsRampMatchesFloat64Reference(t *testing.T) {
	p0, grads := rampInputs()
	opt, params := newRampAdam(p0)
	runRamp(t, opt, params, grads, -1, nil)

	// Each step rounds parameters of order one to float32 (6e-8) and its
	// update to a relative 1e-7: 36 steps stay inside 36·6e-8 ≈ 2e-6
	// (5e-7 measured).
	const tol = 2e-6
	if err := maxErr(params, referenceAdam(p0, grads, variant{})); err > tol {
		t.Fatalf("max error %.3g against the float64 reference, want ≤ %g", err, tol)
	}
	for name, v := range map[string]variant{
		"ramp before the step":       {rampBeforeStep: true},
		"bias correction from 0.9":   {initialBiasCorr: true},
		"ramp on every group":        {rampAllGroups: true},
		"reset keeps the betas":      {resetKeepsBetas: true},
		"group 0 only after a reset": {noRampAfterReset: true},
	} {
		err := maxErr(params, referenceAdam(p0, grads, v))
		t.Logf("%s: %.3g", name, err)
		if err < 30*tol {
			t.Errorf("the reference with %s is only %.3g away: the test cannot tell it apart", name, err)
		}
	}
	b1, b2 := opt.Betas(1)
	if f := 2.0 / 6; math.Abs(b1-(0.9+0.09*f)) > 1e-15 || math.Abs(b2-(0.999-0.249*f)) > 1e-15 {
		t.Errorf("group 1 after the last task's last step has betas (%v, %v), want the ramp at e=2", b1, b2)
	}
}

// TestAuthorsRampResumesBitExactly: saving the moments, each group's LR,
// step count and betas, and restoring them into a fresh Adam mid-epoch gives
// the same bits as the uninterrupted run.
func TestAuthorsRampResumesBitExactly(t *testing.T) {
	p0, grads := rampInputs()
	opt, want := newRampAdam(p0)
	runRamp(t, opt, want, grads, -1, nil)
	for _, at := range []int{5, 12, 13, 30} { // mid-epoch, task start, its second step, after the reset
		opt, got := newRampAdam(p0)
		runRamp(t, opt, got, grads, at, func(old *Adam) *Adam {
			fresh, _ := newRampAdam(p0)
			m, v := old.Moments()
			fm, fv := fresh.Moments()
			copy(fm, m)
			copy(fv, v)
			for g, grp := range old.Groups() {
				fresh.SetLR(g, grp.LR)
				fresh.Groups()[g].Steps = grp.Steps
				b1, b2 := old.Betas(g)
				fresh.SetBetas(g, b1, b2)
			}
			return fresh
		})
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("resumed before step %d: parameter %d = %v, uninterrupted %v", at, i, got[i], want[i])
			}
		}
	}
}

// TestFixedBetasAreTodaysAdam: with the "fixed" schedule Adam's scalars are
// bit for bit those Step formed before betas became per group — β as
// float32, 1−β formed in float64 then rounded, bias correction from (0.9,
// 0.999) — across a Reset, and giving a group (0.9, 0.999) explicitly
// changes nothing.
func TestFixedBetasAreTodaysAdam(t *testing.T) {
	p0, grads := rampInputs()
	opt, got := newRampAdam(p0)
	explicit, gotExplicit := newRampAdam(p0)
	for g := range rampGroups {
		explicit.SetBetas(g, 0.9, 0.999)
	}
	sched, err := NewBetaSchedule(BetasFixed, opt, rampEpochs, false)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), p0...)
	m, v := make([]float32, len(p0)), make([]float32, len(p0))
	var steps [rampGroups]int64
	for k, grad := range grads {
		if k == 20 {
			opt.Reset()
			explicit.Reset()
			clear(m)
			clear(v)
			steps = [rampGroups]int64{}
		}
		opt.Step(got, grad)
		sched.AfterStep(k / rampBatches % rampEpochs)
		explicit.Step(gotExplicit, grad)
		for g := range rampGroups {
			steps[g]++
			n := float64(steps[g])
			lo, hi := g*rampGroupLen, (g+1)*rampGroupLen
			adamUpdate(want[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi],
				float32(0.9), float32(1-0.9), float32(0.999), float32(1-0.999), float32(rampWD[g]),
				float32(rampLR[g]/(1-math.Pow(0.9, n))), float32(math.Sqrt(1-math.Pow(0.999, n))), float32(1e-8))
		}
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(gotExplicit[i]) != math.Float32bits(want[i]) {
			t.Fatalf("parameter %d: fixed %v, explicit (0.9, 0.999) %v, want %v", i, got[i], gotExplicit[i], want[i])
		}
	}
}

func TestBetaRampValues(t *testing.T) {
	opt, _ := newRampAdam(make([]float32, rampGroups*rampGroupLen))
	s, err := NewBetaSchedule(BetasAuthorsRamp, opt, 250, false)
	if err != nil {
		t.Fatal(err)
	}
	r := s.(*BetaRamp)
	if b1, b2 := r.At(0); b1 != 0.9 || b2 != 0.999 {
		t.Errorf("At(0) = (%v, %v), want exactly (0.9, 0.999)", b1, b2)
	}
	// The authors' evaluation order, in Python: 0.9 + (0.99 - 0.9) * (249 / 500).
	if b1, b2 := r.At(249); b1 != 0.9+(0.99-0.9)*(249.0/500) || math.Abs(b1-0.94482) > 1e-12 || math.Abs(b2-0.874998) > 1e-12 {
		t.Errorf("At(249) of 250 = (%.17g, %.17g), want (0.94482, 0.874998)", b1, b2)
	}
	s.AfterStep(100)
	b1, b2 := r.At(100)
	if g0, g0b := opt.Betas(0); g0 != b1 || g0b != b2 {
		t.Errorf("group 0 has (%v, %v), want (%v, %v)", g0, g0b, b1, b2)
	}
	if g1, g1b := opt.Betas(1); g1 != 0.9 || g1b != 0.999 {
		t.Errorf("group 1 has (%v, %v) without AllGroups, want the defaults", g1, g1b)
	}
	r.AllGroups = true
	s.AfterStep(100)
	if g2, _ := opt.Betas(2); g2 != b1 {
		t.Errorf("group 2 has β1 %v with AllGroups, want %v", g2, b1)
	}
	opt.Reset()
	if g0, g0b := opt.Betas(0); g0 != 0.9 || g0b != 0.999 {
		t.Errorf("after Reset group 0 has (%v, %v), want the defaults", g0, g0b)
	}
}

func TestNewBetaScheduleErrors(t *testing.T) {
	adam, _ := newRampAdam(make([]float32, rampGroups*rampGroupLen))
	sgd := NewSGD(1, []Group{{Len: 1, LR: 1}}, 0)
	for _, c := range []struct {
		name   string
		opt    Optimizer
		epochs int
		want   string
	}{
		{"cosine", adam, 3, "fixed, authors-ramp"},
		{BetasAuthorsRamp, sgd, 3, "needs Adam"},
		{BetasAuthorsRamp, adam, 0, "at least 1 epoch"},
		{BetasAuthorsRamp, NewAdam(0, nil), 3, "at least one parameter group"},
	} {
		if _, err := NewBetaSchedule(c.name, c.opt, c.epochs, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s over %T with %d epochs: got %v, want an error containing %q", c.name, c.opt, c.epochs, err, c.want)
		}
	}
	if s, err := NewBetaSchedule(BetasFixed, sgd, 0, false); err != nil {
		t.Errorf("fixed over SGD: %v", err)
	} else {
		s.AfterStep(0)
	}
}
