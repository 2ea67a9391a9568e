// Package schedule owns the paper's per-layer learning-rate controller
// (Alg. 1): every K steps, each layer whose effective step exceeds a safety
// fraction of its combined bound α̃* is cooled, and a layer far below it is
// warmed early in the task. Like a torch.optim scheduler it only adjusts the
// learning rates of the optimiser's parameter groups. The authors' public
// code runs it on other clocks (when decisions fall, what the warm horizon
// counts); those are named options (variants.go).
package schedule

import (
	"math"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/optim"
)

// Options are Alg. 1's constants. DefaultOptions gives every field its
// default; a zero is honoured where it means something (Floor, WarmHorizon,
// WarmRatio, MaxLR) and refused by Validate otherwise, never replaced.
type Options struct {
	// Gamma is the safety factor γ: cool when α > γ·α̃*. Default 0.8; it
	// must be positive (at 0 every layer would cool at every decision).
	Gamma float64
	// Cool and Warm multiply a layer's learning rate. Defaults 0.99, 1.01;
	// Cool must be in (0, 1) and Warm above 1, so 0 is refused.
	Cool, Warm float64
	// Floor: cool only while α > Floor. The paper uses 0.12; its public
	// code found the floor kept the controller from ever firing and made
	// it optional. 0 disables it.
	Floor float64
	// WarmHorizon is the fraction of each task's steps during which
	// warming is allowed (the paper's T_warm = 0.3T; the code's 0.1).
	// Default 0.3; 0 never warms.
	WarmHorizon float64
	// WarmRatio r: warm when α < r·γ·α̃* (the paper's "≪"; the code's 0.3).
	// Default 0.3; 0 never warms.
	WarmRatio float64
	// Alpha is the effective step the controller compares with the bound:
	// "code" (default), the public code's per-tensor η/((1−β1^t)(√mean v̂+ε)),
	// or "paper", App. C.1's mean over parameters. The default was chosen by
	// the "scheduler" experiment of package experiments (README: "The
	// per-layer scheduler"); the diagnostics' own Alpha, which ρ̂
	// uses, stays the paper's.
	Alpha string
	// MaxLR, if positive, is a ceiling that warming never crosses: a layer
	// whose learning rate would exceed it is held. Alg. 1 has none (0, the
	// default); at the paper's scale its warming ran a CReLU net's rates up
	// a thousandfold into collapse (README, "The paper's scale").
	MaxLR float64

	// WarmCounter is the count compared with WarmHorizon·TaskSteps (see
	// Clock): CounterTask ("task", default; the paper's T_warm and the
	// authors' single-file script) or CounterRun ("run", the authors' last
	// committed version, so warming can only happen early in the first
	// task).
	WarmCounter string
	// Every is the decision interval K in updates; 0 means the caller's
	// log interval (see Due).
	Every int
	// Phase places the decisions within each K updates: PhaseEnd ("end",
	// default) or PhaseStart ("start", the authors'); see Due.
	Phase string
}

// DefaultOptions are the paper's constants with the effective step chosen
// by the scheduler experiment and no ceiling.
func DefaultOptions() Options {
	return Options{Gamma: 0.8, Cool: 0.99, Warm: 1.01, Floor: 0.12, WarmHorizon: 0.3, WarmRatio: 0.3, Alpha: "code", WarmCounter: CounterTask, Phase: PhaseEnd}
}

// Validate names the first bad option by its config key (as under
// schedule: in a run's config.yaml) in a *keyerr.Error.
func (o Options) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !(o.Gamma > 0) || !finite(o.Gamma):
		return keyerr.Errorf("gamma", "must be a positive number (at 0 every layer would cool at every decision), got %v", o.Gamma)
	case !(o.Cool > 0 && o.Cool < 1):
		return keyerr.Errorf("cool", "must be in (0, 1), got %v", o.Cool)
	case !(o.Warm > 1) || !finite(o.Warm):
		return keyerr.Errorf("warm", "must be a number above 1, got %v", o.Warm)
	case !(o.Floor >= 0) || !finite(o.Floor):
		return keyerr.Errorf("floor", "must be a finite number >= 0, got %v", o.Floor)
	case !(o.WarmHorizon >= 0 && o.WarmHorizon <= 1):
		return keyerr.Errorf("warm_horizon", "must be in [0, 1], got %v", o.WarmHorizon)
	case !(o.WarmRatio >= 0 && o.WarmRatio <= 1):
		return keyerr.Errorf("warm_ratio", "must be in [0, 1], got %v", o.WarmRatio)
	case !(o.MaxLR >= 0) || !finite(o.MaxLR):
		return keyerr.Errorf("max_lr", "must be a finite number >= 0, got %v", o.MaxLR)
	case o.Alpha != "code" && o.Alpha != "paper":
		return keyerr.Errorf("alpha", "unknown effective step %q (want code or paper)", o.Alpha)
	case o.WarmCounter != CounterTask && o.WarmCounter != CounterRun:
		return keyerr.Errorf("warm_counter", "unknown counter %q (want %s or %s)", o.WarmCounter, CounterTask, CounterRun)
	case o.Phase != PhaseEnd && o.Phase != PhaseStart:
		return keyerr.Errorf("phase", "unknown phase %q (want %s or %s)", o.Phase, PhaseEnd, PhaseStart)
	case o.Every < 0:
		return keyerr.Errorf("every", "must be >= 0 (0: the log interval), got %d", o.Every)
	}
	return nil
}

// Decision is what the controller did to one layer.
type Decision string

const (
	Hold Decision = "hold"
	Cool Decision = "cool"
	Warm Decision = "warm"
)

// Controller applies Alg. 1 to an optimiser's groups.
type Controller struct {
	opts    Options
	opt     optim.Optimizer
	signals diagnostics.Options
}

// New makes a controller over opt's parameter groups. It compares its own
// choice of effective step (opts.Alpha) with the bound that signals selects
// (α̃* by default, α_crit with Threshold "code"). Both are used as given:
// start from the packages' DefaultOptions.
func New(opt optim.Optimizer, opts Options, signals diagnostics.Options) *Controller {
	signals.Alpha = opts.Alpha
	return &Controller{opts: opts, opt: opt, signals: signals}
}

// Step is Decide with the task's counter only: stepInTask updates
// completed in a task of taskSteps (enough for WarmCounter task).
func (c *Controller) Step(row *diagnostics.Row, stepInTask, taskSteps int) map[string]Decision {
	return c.Decide(row, Clock{TaskUpdates: int64(stepInTask), TaskSteps: int64(taskSteps)})
}

// Decide decides every layer from one row of full diagnostics, taken at
// clock, applies the new learning rates, and returns the decisions by layer
// name. Per layer (Alg. 1): cool (×Cool) if α > Floor and α > γ·bound;
// else warm (×Warm) if the WarmCounter count is below WarmHorizon·TaskSteps
// and α < r·γ·bound (and the ceiling allows); else hold. A layer without a
// finite bound (no sharpness yet, say) is held, and so is one whose α_crit
// is exactly 0 (a layer with no gradient), as the authors' controller
// holds at a zero target; a zero α̃* cools, as Alg. 1 reads.
func (c *Controller) Decide(row *diagnostics.Row, clock Clock) map[string]Decision {
	out := make(map[string]Decision, len(row.Layers))
	for _, grp := range c.opt.Groups() {
		out[grp.Name] = Hold
	}
	each := c.Deciding(clock, out)
	for g, grp := range c.opt.Groups() {
		if L, ok := row.Layers[grp.Name]; ok {
			each(g, L)
		}
	}
	return out
}

// Deciding returns the per-layer form of Decide, for
// diagnostics.Monitor.AfterEach: called with group g's signals, it
// decides that layer, applies its new rate at once and records the
// decision in out under the group's name.
func (c *Controller) Deciding(clock Clock, out map[string]Decision) func(g int, L *diagnostics.Layer) {
	o := c.opts
	early := float64(clock.counter(o.WarmCounter)) < o.WarmHorizon*float64(clock.TaskSteps)
	return func(g int, L *diagnostics.Layer) {
		grp := c.opt.Groups()[g]
		d := Hold
		alpha, safe, bounded := c.signals.Compared(L)
		switch {
		case !bounded: // no volatility yet: hold
		case safe == 0 && c.signals.Threshold == "code": // the authors' `if tau == 0.0: return`
		case alpha > o.Gamma*safe && alpha > o.Floor:
			d = Cool
			c.opt.SetLR(g, grp.LR*o.Cool)
		case early && alpha < o.WarmRatio*o.Gamma*safe && (o.MaxLR == 0 || grp.LR*o.Warm <= o.MaxLR):
			d = Warm
			c.opt.SetLR(g, grp.LR*o.Warm)
		}
		out[grp.Name] = d
	}
}
