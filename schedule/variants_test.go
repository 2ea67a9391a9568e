package schedule

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/optim"
)

// TestDuePhases: PhaseEnd decides where lot's loop logs ((step+1) % K == 0,
// step the 0-based index of the update); PhaseStart where the authors'
// loop does, written out here as their code runs it (test total_updates %
// log_interval == 0 before the step, then count the step).
func TestDuePhases(t *testing.T) {
	const logEvery, steps = 40, 201
	due := func(o Options, every int) []int64 {
		c := New(optim.NewAdam(1, []optim.Group{{Name: "a", Len: 1, LR: 1}}), o, diagnostics.Options{})
		var out []int64
		for s := range int64(steps) {
			if c.Due(s, every) {
				out = append(out, s)
			}
		}
		return out
	}
	var logged, authors []int64
	for step := range int64(steps) { // lot's loop: r.pos.Step before the update
		if (step+1)%logEvery == 0 {
			logged = append(logged, step)
		}
	}
	totalUpdates := int64(0)
	for range steps {
		if totalUpdates%logEvery == 0 {
			authors = append(authors, totalUpdates)
		}
		totalUpdates++
	}
	if got := due(filled(Options{}), logEvery); !slices.Equal(got, logged) {
		t.Errorf("phase end: %v, lot logs at %v", got, logged)
	}
	if got := due(filled(Options{Phase: PhaseStart}), logEvery); !slices.Equal(got, authors) || got[0] != 0 {
		t.Errorf("phase start: %v, the authors decide at %v", got, authors)
	}
	if got := due(filled(Options{Every: 100}), logEvery); !slices.Equal(got, []int64{99, 199}) {
		t.Errorf("Every 100: %v", got)
	}
	if got := due(filled(Options{Every: 100, Phase: PhaseStart}), logEvery); !slices.Equal(got, []int64{0, 100, 200}) {
		t.Errorf("Every 100, phase start: %v", got)
	}
	for key, o := range map[string]Options{"every": {Every: -1}, "phase": {Phase: "middle"}, "warm_counter": {WarmCounter: "epoch"}} {
		if err := filled(o).Validate(); err == nil || !strings.HasPrefix(err.Error(), key+": ") {
			t.Errorf("Validate(%+v): %v, want an error naming %s", o, err, key)
		}
	}
}

// TestWarmCounter runs two tasks with a layer always far below its bound
// (so it warms whenever the counter allows) and counts warms per task: the
// task counter warms early in every task, the run counter only early in
// the first. Both loops are simulated: lot's (decide after the update,
// phase end) and the authors' (decide before it, phase start), with a task
// length that is not a multiple of K so the authors' decisions drift.
func TestWarmCounter(t *testing.T) {
	far := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{
		"a": {Alpha: 0.01, AlphaCode: 0.01, AlphaTilde: num(1)},
	}}
	for _, tc := range []struct {
		name           string
		counter, phase string
		taskSteps      int64
		afterUpdate    bool
		want           [2]int
	}{
		// Decisions at task steps 10, 20, …, 100; horizon 0.3·100 = 30.
		{"lot, task", CounterTask, PhaseEnd, 100, true, [2]int{2, 2}},
		{"lot, run", CounterRun, PhaseEnd, 100, true, [2]int{2, 0}},
		// Decisions at run steps 0, 10, …; horizon 0.3·95 = 28.5; task 1's
		// decisions fall at its steps 5, 15, 25, ….
		{"authors, run", CounterRun, PhaseStart, 95, false, [2]int{3, 0}},
		{"authors, task", CounterTask, PhaseStart, 95, false, [2]int{3, 3}},
	} {
		opt := optim.NewAdam(1, []optim.Group{{Name: "a", Len: 1, LR: 1}})
		c := New(opt, filled(Options{WarmCounter: tc.counter, Phase: tc.phase, Every: 10}), diagnostics.Options{})
		var warms [2]int
		for step := range 2 * tc.taskSteps {
			if !c.Due(step, 40) {
				continue
			}
			task := step / tc.taskSteps
			clock := Clock{RunUpdates: step, TaskUpdates: step - task*tc.taskSteps, TaskSteps: tc.taskSteps}
			if tc.afterUpdate {
				clock.RunUpdates++
				clock.TaskUpdates++
			}
			if c.Decide(far, clock)["a"] == Warm {
				warms[task]++
			}
		}
		if warms != tc.want {
			t.Errorf("%s: warms per task %v, want %v", tc.name, warms, tc.want)
		}
		if lr := opt.Groups()[0].LR; math.Abs(lr-math.Pow(1.01, float64(warms[0]+warms[1]))) > 1e-12 {
			t.Errorf("%s: lr %v after %v warms", tc.name, lr, warms)
		}
	}
}

// TestDecideBoundariesAndThreeLayers: Alg. 1's comparisons are strict (α
// equal to γ·bound does not cool, equal to r·γ·bound does not warm, a
// counter equal to the horizon does not warm), and a three-layer net's
// layers (fc1, fc2, fc3) are each decided from their own signals.
func TestDecideBoundariesAndThreeLayers(t *testing.T) {
	groups := []optim.Group{{Name: "fc1", Offset: 0, Len: 1, LR: 1}, {Name: "fc2", Offset: 1, Len: 1, LR: 2}, {Name: "fc3", Offset: 2, Len: 1, LR: 4}}
	row := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{
		"fc1": {AlphaCode: 0.5, AlphaTilde: num(1)},   // α = γ·bound (γ = 0.5): not above, hold
		"fc2": {AlphaCode: 0.15, AlphaTilde: num(1)},  // 0.15 = r·γ·1 = 0.3·0.5: not below, hold
		"fc3": {AlphaCode: 0.149, AlphaTilde: num(1)}, // below r·γ·1: warm while early
	}}
	want := map[string]Decision{"fc1": Hold, "fc2": Hold, "fc3": Warm}
	opt := optim.NewAdam(3, slices.Clone(groups))
	c := New(opt, filled(Options{Gamma: 0.5, WarmHorizon: 0.25}), diagnostics.Options{})
	got := c.Decide(row, Clock{TaskUpdates: 24, TaskSteps: 100})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if lrs := []float64{opt.Groups()[0].LR, opt.Groups()[1].LR, opt.Groups()[2].LR}; !slices.Equal(lrs, []float64{1, 2, 4 * 1.01}) {
		t.Errorf("learning rates %v", lrs)
	}
	// At the horizon itself (25 = 0.25·100) nobody warms.
	if d := c.Decide(row, Clock{TaskUpdates: 25, TaskSteps: 100})["fc3"]; d != Hold {
		t.Errorf("counter at the horizon: %s, want hold", d)
	}
	// Just above γ·bound fc1 cools; fc2 and fc3 are untouched.
	row.Layers["fc1"].AlphaCode = 0.5000001
	if d := c.Decide(row, Clock{TaskUpdates: 50, TaskSteps: 100}); d["fc1"] != Cool || d["fc2"] != Hold || d["fc3"] != Hold {
		t.Errorf("late: %v", d)
	}
}

// filled gives o's zero fields the defaults, so that a test names only the
// options it is about.
func filled(o Options) Options {
	d := DefaultOptions()
	for _, f := range []struct {
		dst *float64
		src float64
	}{{&o.Gamma, d.Gamma}, {&o.Cool, d.Cool}, {&o.Warm, d.Warm}, {&o.WarmHorizon, d.WarmHorizon}, {&o.WarmRatio, d.WarmRatio}} {
		if *f.dst == 0 {
			*f.dst = f.src
		}
	}
	for _, f := range []struct {
		dst *string
		src string
	}{{&o.Alpha, d.Alpha}, {&o.WarmCounter, d.WarmCounter}, {&o.Phase, d.Phase}} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	if o.Floor == 0 {
		o.Floor = d.Floor
	}
	return o
}
