package optim

import (
	"fmt"
	"strings"
)

// The beta schedules: how Adam's betas move during a run.
const (
	// BetasFixed keeps the constructor's betas throughout (the paper).
	BetasFixed = "fixed"
	// BetasAuthorsRamp is the ramp the authors' public code applies after
	// every step; see BetaRamp.
	BetasAuthorsRamp = "authors-ramp"
)

// BetaSchedules returns the valid beta schedule names, the default first.
func BetaSchedules() []string { return []string{BetasFixed, BetasAuthorsRamp} }

// BetaSchedule adjusts Adam's betas between steps, as a torch scheduler
// adjusts a group hyperparameter.
type BetaSchedule interface {
	// AfterStep is called after every Step with the 0-based epoch, within
	// the task, of the step just taken.
	AfterStep(epoch int)
}

// NewBetaSchedule builds the named schedule over opt. epochsPerTask and
// allGroups configure BetaRamp and are ignored by "fixed"; "authors-ramp"
// needs Adam.
func NewBetaSchedule(name string, opt Optimizer, epochsPerTask int, allGroups bool) (BetaSchedule, error) {
	switch name {
	case BetasFixed, "":
		return fixedBetas{}, nil
	case BetasAuthorsRamp:
		adam, ok := opt.(*Adam)
		if !ok {
			return nil, fmt.Errorf("optim: beta schedule %q needs Adam, not %T", name, opt)
		}
		if len(adam.groups) == 0 {
			return nil, fmt.Errorf("optim: beta schedule %q needs at least one parameter group", name)
		}
		if epochsPerTask < 1 {
			return nil, fmt.Errorf("optim: beta schedule %q needs at least 1 epoch per task, got %d", name, epochsPerTask)
		}
		return &BetaRamp{Adam: adam, EpochsPerTask: epochsPerTask, AllGroups: allGroups}, nil
	}
	return nil, fmt.Errorf("optim: unknown beta schedule %q (valid: %s)", name, strings.Join(BetaSchedules(), ", "))
}

type fixedBetas struct{}

func (fixedBetas) AfterStep(int) {}

// The ramp's end points, reached at epoch 2E (so never within a task).
const (
	rampBeta1End = 0.99
	rampBeta2End = 0.75
)

// BetaRamp is the authors' code's beta schedule. After every step it sets
// the betas of group 0 — of every group when AllGroups is set, as under
// their reset-model baseline, whose rebuilt Adam has a single group — to
//
//	β1 = B1 + (0.99 − B1)·e/(2E),  β2 = B2 + (0.75 − B2)·e/(2E)
//
// with (B1, B2) the constructor's betas (0.9, 0.999), e the epoch of the
// step just taken and E the epochs per task: β1 = 0.9 + 0.09·e/(2E), β2 =
// 0.999 − 0.249·e/(2E). Being set after the step, each epoch's first step
// runs with the previous epoch's betas, a task's first step with the
// previous task's last, and a run's first step (or the first after Reset)
// with (B1, B2). By a task's end the ramp is about halfway: (0.945, 0.875).
type BetaRamp struct {
	Adam          *Adam
	EpochsPerTask int
	AllGroups     bool
}

// At returns the ramp's betas after a step taken in epoch e.
func (r *BetaRamp) At(epoch int) (beta1, beta2 float64) {
	// Evaluated as the authors' code does, e/(2E) first, so the float64
	// betas are the same bits.
	f := float64(epoch) / float64(2*r.EpochsPerTask)
	b1, b2 := r.Adam.Beta1, r.Adam.Beta2
	// The conversions forbid fusing into an FMA, which Python never does.
	return b1 + float64((rampBeta1End-b1)*f), b2 + float64((rampBeta2End-b2)*f)
}

// AfterStep sets the ramp's betas for the epoch of the step just taken.
func (r *BetaRamp) AfterStep(epoch int) {
	b1, b2 := r.At(epoch)
	n := 1
	if r.AllGroups {
		n = len(r.Adam.groups)
	}
	for g := range n {
		r.Adam.SetBetas(g, b1, b2)
	}
}
