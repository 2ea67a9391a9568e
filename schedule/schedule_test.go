package schedule

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/optim"
)

// with returns the default options changed by set.
func with(set func(*Options)) Options {
	o := DefaultOptions()
	set(&o)
	return o
}

// signals returns the default diagnostics options changed by set.
func signals(set func(*diagnostics.Options)) diagnostics.Options {
	o := diagnostics.DefaultOptions()
	set(&o)
	return o
}

func num(v float64) *diagnostics.Num { n := diagnostics.Num(v); return &n }

// TestAlgorithm1 walks each branch of Alg. 1 with γ = 0.8, r = 0.3.
func TestAlgorithm1(t *testing.T) {
	opt := optim.NewAdam(5, []optim.Group{
		{Name: "a", Offset: 0, Len: 1, LR: 1}, {Name: "b", Offset: 1, Len: 1, LR: 1},
		{Name: "c", Offset: 2, Len: 1, LR: 1}, {Name: "d", Offset: 3, Len: 1, LR: 1},
		{Name: "e", Offset: 4, Len: 1, LR: 1},
	})
	c := New(opt, with(func(o *Options) { o.Alpha = "paper" }), diagnostics.DefaultOptions())
	row := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{
		"a": {Alpha: 0.9, AlphaTilde: num(1)},   // 0.9 > 0.8·1 and > floor: cool
		"b": {Alpha: 0.1, AlphaTilde: num(0.1)}, // above γ·α̃* = 0.08 but below the floor, and not below r·γ·α̃*: hold
		"c": {Alpha: 0.01, AlphaTilde: num(1)},  // 0.01 < 0.3·0.8·1: warm, if early
		"d": {Alpha: 0.5, AlphaTilde: nil},      // no bound yet: hold
		// No α (before the layer's first Adam update): hold, neither
		// cooling nor warming on an undefined step.
		"e": {Alpha: diagnostics.Num(math.NaN()), AlphaTilde: num(1)},
	}}
	got := c.Step(row, 10, 100) // early: 10 < 0.3·100
	want := map[string]Decision{"a": Cool, "b": Hold, "c": Warm, "d": Hold, "e": Hold}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("early, layer %s: %s, want %s", k, got[k], v)
		}
	}
	lr := []float64{0.99, 1, 1.01, 1, 1}
	for i, g := range opt.Groups() {
		if math.Abs(g.LR-lr[i]) > 1e-15 {
			t.Errorf("layer %s: lr %v, want %v", g.Name, g.LR, lr[i])
		}
	}
	// Late in the task nobody warms.
	if d := c.Step(row, 50, 100)["c"]; d != Hold {
		t.Errorf("late, layer c: %s, want hold", d)
	}
}

// TestComparesTheConfiguredSignals: the controller compares its own choice
// of effective step (code by default, whatever the diagnostics' variant)
// with the diagnostics' bound (α̃*, or α_crit with --threshold code).
func TestComparesTheConfiguredSignals(t *testing.T) {
	layer := &diagnostics.Layer{Alpha: 10, AlphaCode: 0.01, AlphaTilde: num(1), AlphaCrit: num(0.5)}
	for _, tc := range []struct {
		alpha   string
		signals diagnostics.Options
		want    Decision
	}{
		{"code", signals(func(o *diagnostics.Options) {}), Warm},                                     // code: 0.01 < 0.3·0.8·1
		{"code", signals(func(o *diagnostics.Options) { o.Alpha = "paper" }), Warm},                  // the diagnostics' variant does not matter
		{"paper", signals(func(o *diagnostics.Options) { o.Alpha = "code" }), Cool},                  // 10 > 0.8·1
		{"paper", signals(func(o *diagnostics.Options) { o.Threshold = "code" }), Cool},              // 10 > 0.8·0.5
		{"code", signals(func(o *diagnostics.Options) { o.Threshold = "code" }), Warm},               // 0.01 < 0.3·0.8·0.5
		{"paper", signals(func(o *diagnostics.Options) { o.Threshold, o.Beta = "code", 0.5 }), Cool}, // other constants are irrelevant here
	} {
		opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
		c := New(opt, with(func(o *Options) { o.Alpha = tc.alpha }), tc.signals)
		if got := c.Step(&diagnostics.Row{Layers: map[string]*diagnostics.Layer{"a": layer}}, 0, 100)["a"]; got != tc.want {
			t.Errorf("alpha %q, %+v: %s, want %s", tc.alpha, tc.signals, got, tc.want)
		}
	}
	// A bound of the code's kind that is missing holds the layer.
	opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
	c := New(opt, with(func(o *Options) { o.Alpha = "paper" }), signals(func(o *diagnostics.Options) { o.Threshold = "code" }))
	if got := c.Step(&diagnostics.Row{Layers: map[string]*diagnostics.Layer{"a": {Alpha: 10, AlphaTilde: num(1)}}}, 0, 100)["a"]; got != Hold {
		t.Errorf("no α_crit: %s, want hold", got)
	}
	// A zero α_crit holds the layer (the authors' `if tau == 0.0`); a zero
	// α̃* cools it, as Alg. 1 reads.
	if got := c.Step(&diagnostics.Row{Layers: map[string]*diagnostics.Layer{"a": {Alpha: 10, AlphaCrit: num(0)}}}, 0, 100)["a"]; got != Hold {
		t.Errorf("α_crit = 0: %s, want hold", got)
	}
	c = New(opt, with(func(o *Options) { o.Alpha = "paper" }), diagnostics.DefaultOptions())
	if got := c.Step(&diagnostics.Row{Layers: map[string]*diagnostics.Layer{"a": {Alpha: 10, AlphaTilde: num(0)}}}, 0, 100)["a"]; got != Cool {
		t.Errorf("α̃* = 0: %s, want cool", got)
	}
	if err := with(func(o *Options) { o.Alpha = "mean" }).Validate(); err == nil || !strings.HasPrefix(err.Error(), "alpha: ") {
		t.Errorf("Validate of an unknown α: %v", err)
	}
}

// TestMaxLRStopsWarming: with a ceiling, a layer warms until one more warm
// would cross it, then holds; cooling is unaffected; without one (Alg. 1)
// it warms on.
func TestMaxLRStopsWarming(t *testing.T) {
	row := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{
		"a": {Alpha: 0.01, AlphaCode: 0.01, AlphaTilde: num(1)}, // always far below: warm
	}}
	for _, tc := range []struct {
		maxLR  float64
		warms  int
		finalL float64
	}{
		{0, 100, math.Pow(1.01, 100)},
		{1.05, 4, math.Pow(1.01, 4)}, // 1.01^5 = 1.051 > 1.05
	} {
		opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
		c := New(opt, with(func(o *Options) { o.MaxLR = tc.maxLR }), diagnostics.DefaultOptions())
		warms := 0
		for range 100 {
			if c.Step(row, 0, 100)["a"] == Warm {
				warms++
			}
		}
		if lr := opt.Groups()[0].LR; warms != tc.warms || math.Abs(lr-tc.finalL) > 1e-12 {
			t.Errorf("max-lr %v: %d warms, lr %v; want %d, %v", tc.maxLR, warms, lr, tc.warms, tc.finalL)
		}
	}
	opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
	hot := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{"a": {Alpha: 5, AlphaCode: 5, AlphaTilde: num(1)}}}
	if d := New(opt, with(func(o *Options) { o.MaxLR = 0.5 }), diagnostics.DefaultOptions()).Step(hot, 0, 100)["a"]; d != Cool {
		t.Errorf("above the bound with a ceiling: %s, want cool", d)
	}
	if err := with(func(o *Options) { o.MaxLR = -1 }).Validate(); err == nil || !strings.HasPrefix(err.Error(), "max_lr: ") {
		t.Errorf("negative max-lr: %v", err)
	}
}

// TestZeroIsHonouredOrRefused: a zero is never replaced by a default. A warm
// horizon or warm ratio of 0 never warms; a zero γ, cooling or warming
// factor, or a bad value, is refused naming its key.
func TestZeroIsHonouredOrRefused(t *testing.T) {
	far := &diagnostics.Row{Layers: map[string]*diagnostics.Layer{
		"a": {Alpha: 0.01, AlphaCode: 0.01, AlphaTilde: num(1)}, // far below the bound: warm when allowed
	}}
	for name, set := range map[string]func(*Options){
		"warm_horizon 0": func(o *Options) { o.WarmHorizon = 0 },
		"warm_ratio 0":   func(o *Options) { o.WarmRatio = 0 },
	} {
		o := with(set)
		if err := o.Validate(); err != nil {
			t.Fatalf("%s refused: %v", name, err)
		}
		opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
		if d := New(opt, o, diagnostics.DefaultOptions()).Step(far, 0, 100)["a"]; d != Hold {
			t.Errorf("%s: %s at the task's first step, want hold", name, d)
		}
	}
	opt := optim.NewAdam(1, []optim.Group{{Name: "a", Offset: 0, Len: 1, LR: 1}})
	if d := New(opt, DefaultOptions(), diagnostics.DefaultOptions()).Step(far, 0, 100)["a"]; d != Warm {
		t.Errorf("defaults: %s at the task's first step, want warm", d)
	}
	for key, set := range map[string]func(*Options){
		"gamma":        func(o *Options) { o.Gamma = 0 },
		"cool":         func(o *Options) { o.Cool = 0 },
		"warm":         func(o *Options) { o.Warm = 0 },
		"floor":        func(o *Options) { o.Floor = math.NaN() },
		"warm_horizon": func(o *Options) { o.WarmHorizon = 1.5 },
		"warm_ratio":   func(o *Options) { o.WarmRatio = -0.1 },
		"alpha":        func(o *Options) { o.Alpha = "" },
	} {
		err := with(set).Validate()
		var ke *keyerr.Error
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("%s: got %v, want a key error naming %s", key, err, key)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}
