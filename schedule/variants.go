package schedule

// The authors' public code runs Alg. 1 on other clocks than the paper's
// text; each is an option with a name (Options.WarmCounter, Every, Phase).
const (
	// CounterTask compares the updates completed in the current task with
	// the warm horizon (the default).
	CounterTask = "task"
	// CounterRun compares the updates completed in the whole run (the
	// authors' total_updates).
	CounterRun = "run"

	// PhaseEnd decides at the update with 0-based run index u when
	// (u+1) % K == 0: the K-th, 2K-th, … update, where lot logs.
	PhaseEnd = "end"
	// PhaseStart decides when u % K == 0: the run's first update and every
	// K-th after, as the authors' `total_updates % log_interval == 0`
	// (total_updates counts the run's updates before the current one).
	PhaseStart = "start"
)

// Clock places a decision in the run. Counts are of training steps (one
// per batch, including a step whose update the authors' protocol discards)
// completed when the decision is taken: lot's loop decides after the
// step's update, so the step itself counts; the authors' code decides
// before it, so it does not.
type Clock struct {
	RunUpdates  int64 // steps completed in the run
	TaskUpdates int64 // steps completed in the current task
	TaskSteps   int64 // steps per task (epochs × batches per epoch)
}

// counter is the count WarmCounter names.
func (c Clock) counter(kind string) int64 {
	if kind == CounterRun {
		return c.RunUpdates
	}
	return c.TaskUpdates
}

// Due reports whether the controller decides at the step with 0-based run
// index step (the loop's step counter before the step's update), with
// decisions every Options.Every steps, or every logEvery when Every is 0.
// A decision needs full diagnostics of that step, logged or not.
func (c *Controller) Due(step int64, logEvery int) bool {
	k := int64(c.opts.Every)
	if k == 0 {
		k = int64(logEvery)
	}
	if k < 1 || step < 0 {
		return false
	}
	if c.opts.Phase == PhaseStart {
		return step%k == 0
	}
	return (step+1)%k == 0
}
