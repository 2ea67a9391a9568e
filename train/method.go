package train

import (
	"slices"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rng"
	"github.com/lot-toolkit/lot/schedule"
)

// A Method is a continual-learning method: what the training loop does
// besides the optimiser's update. The loop calls its hooks at fixed points,
// and the checkpoint keeps its state, so that a resumed run continues it
// bit for bit.
type Method interface {
	// StartTask runs before the first update of every task, task 0 too.
	StartTask(r *run) error
	// AfterUpdate runs after each applied update, before any diagnostics;
	// r.st.WS still holds the batch's forward pass.
	AfterUpdate(r *run) error
	// Due reports whether the method acts at the step of 0-based run index
	// step (as AtLog) besides the logged steps; its diagnostics are then
	// measured too.
	Due(step int64) bool
	// AtLog runs at logged and due steps, after the diagnostics: row.Diag
	// holds them where measured. due is Due(step). (A method deciding layer
	// by layer during the diagnostics implements layerDeciding too.)
	AtLog(r *run, row *MetricsRow, clock schedule.Clock, due bool) error
	// State is the method's own state for the checkpoint: a JSON document
	// and named vectors ("" and nil for none); Restore puts it back.
	State() (string, map[string][]float32)
	Restore(js string, vecs map[string][]float32) error
}

// A MethodDef registers a method under its --method name.
type MethodDef struct {
	Name string
	Help string // README's and --help's description (backquotes mark literals)
	// New builds the method for a run whose model and optimiser exist
	// (a resumed run restores its state afterwards).
	New func(r *run) (Method, error)
	// RebuildsOptimizer marks a method that rebuilds the optimiser each
	// task: the authors' beta ramp then reaches every group.
	RebuildsOptimizer bool
	// FullDiagnostics marks a method that reads the sharpness: its runs
	// default to full diagnostics and refuse anything less.
	FullDiagnostics bool
	// Knobs are its constants' settings (Config fields in its nested map),
	// and Defaults sets their defaults in Default's config.
	Knobs    []Knob
	Defaults func(c *Config)
	// Validate checks its constants, as faults keyed by config key.
	Validate func(c *Config) error
}

// methodDefs holds the methods in --help's order: the built-in ones here,
// then each baseline from its own file (registered by registerMethod
// during package initialisation, before the knobs' init reads them).
var methodDefs = []MethodDef{
	{Name: "vanilla", Help: "plain training",
		New: func(*run) (Method, error) { return noHooks{}, nil }},
	{Name: "reset-optimizer", Help: "fresh optimiser state each task",
		New: func(*run) (Method, error) { return resetOptimizer{}, nil }},
	{Name: "reset-model", Help: "fresh weights and optimiser each task", RebuildsOptimizer: true,
		New: func(*run) (Method, error) { return resetModel{}, nil }},
	{Name: "scheduled", Help: "the per-layer controller, below; its diagnostics default to `full`", FullDiagnostics: true,
		New: newScheduled,
		Validate: func(c *Config) error {
			return keyerr.Under("schedule", c.Schedule.Options().Validate())
		}},
}

// registerMethod adds a method; each baseline's file calls it in a
// package-level declaration.
func registerMethod(d MethodDef) bool {
	if slices.ContainsFunc(methodDefs, func(o MethodDef) bool { return o.Name == d.Name }) {
		panic("train: method " + d.Name + " registered twice")
	}
	methodDefs = append(methodDefs, d)
	return true
}

// extraKnobs are knobs declared beside what they configure (a method's or
// a regulariser's constants); the knobs' init appends them to the table.
var extraKnobs []Knob

// registerKnobs adds knobs from a package-level declaration.
func registerKnobs(ks ...Knob) bool {
	extraKnobs = append(extraKnobs, ks...)
	return true
}

// methodDef returns the registered method of that name.
func methodDef(name string) (MethodDef, bool) {
	i := slices.IndexFunc(methodDefs, func(d MethodDef) bool { return d.Name == name })
	if i < 0 {
		return MethodDef{}, false
	}
	return methodDefs[i], true
}

// MethodDefs lists the registered methods, in order.
func MethodDefs() []MethodDef { return slices.Clone(methodDefs) }

// newMethod builds the run's method.
func newMethod(r *run) (Method, error) {
	d, ok := methodDef(r.cfg.Method)
	if !ok {
		return nil, keyerr.Errorf("method", "unknown value %q", r.cfg.Method)
	}
	return d.New(r)
}

// noHooks is a Method that does nothing; methods embed it and override
// the hooks they use.
type noHooks struct{}

func (noHooks) StartTask(*run) error                                { return nil }
func (noHooks) AfterUpdate(*run) error                              { return nil }
func (noHooks) Due(int64) bool                                      { return false }
func (noHooks) AtLog(*run, *MetricsRow, schedule.Clock, bool) error { return nil }
func (noHooks) State() (string, map[string][]float32)               { return "", nil }
func (noHooks) Restore(string, map[string][]float32) error          { return nil }

// resetOptimizer clears the optimiser's state at each task start after
// the first.
type resetOptimizer struct{ noHooks }

func (resetOptimizer) StartTask(r *run) error {
	if r.pos.Task > 0 {
		r.opt.Reset()
	}
	return nil
}

// resetModel draws fresh weights (stream "init", task) and clears the
// optimiser at each task start after the first; the in-loss regulariser
// is re-anchored at the new weights.
type resetModel struct{ noHooks }

func (resetModel) StartTask(r *run) error {
	if r.pos.Task == 0 {
		return nil
	}
	if err := r.m.Initialize(model.Init(r.cfg.Init), rng.New(r.cfg.Seed, "init", r.pos.Task)); err != nil {
		return err
	}
	r.opt.Reset()
	copy(r.anchor, r.m.Params)
	var err error
	r.reg, err = r.newReg()
	return err
}

// scheduled is Alg. 1: the controller decides each layer's learning rate
// from the full diagnostics at its decision steps. It keeps no state of
// its own: the learning rates are the optimiser's.
type scheduled struct {
	noHooks
	ctrl     *schedule.Controller
	logEvery int
}

func newScheduled(r *run) (Method, error) {
	signals, err := r.cfg.Diagnostics.Options()
	if err != nil {
		return nil, err
	}
	opts := r.cfg.Schedule.Options()
	opts.Phase = r.cfg.LogPhase // decisions fall where logging does
	return &scheduled{ctrl: schedule.New(r.opt, opts, signals), logEvery: r.cfg.LogEvery}, nil
}

func (s *scheduled) Due(step int64) bool { return s.ctrl.Due(step, s.logEvery) }

func (s *scheduled) Deciding(clock schedule.Clock, out map[string]schedule.Decision) func(int, *diagnostics.Layer) {
	return s.ctrl.Deciding(clock, out)
}

// A layerDeciding method decides each layer as soon as the monitor has
// completed its signals (diagnostics.Monitor.AfterEach), so that a rate it
// changes reaches the later layers' signals of the same step, as in the
// authors' loop.
type layerDeciding interface {
	Deciding(clock schedule.Clock, out map[string]schedule.Decision) func(g int, L *diagnostics.Layer)
}
