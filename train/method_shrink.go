package train

import (
	"github.com/lot-toolkit/lot/rng"
)

// ShrinkPerturbConfig holds Shrink & Perturb's constants (Ash & Adams,
// NeurIPS 2020): at each task start after the first, θ ← λθ + σ·ε.
type ShrinkPerturbConfig struct {
	Shrink float64 `yaml:"shrink"` // λ
	Noise  float64 `yaml:"noise"`  // σ
}

// defaultShrinkPerturb: Ash & Adams tune λ and σ per experiment (their
// shrink factors lie in 0.1–0.9, their noise is small); these are lot's
// choice, every one a knob.
var defaultShrinkPerturb = ShrinkPerturbConfig{Shrink: 0.4, Noise: 0.01}

var _ = registerMethod(MethodDef{
	Name:     "shrink-perturb",
	Help:     "Shrink & Perturb, Ash & Adams 2020: at each task start θ ← λθ + σ·ε, ε ~ N(0, 1) per parameter",
	New:      func(*run) (Method, error) { return shrinkPerturb{}, nil },
	Defaults: func(c *Config) { c.ShrinkPerturb = defaultShrinkPerturb },
	Knobs: []Knob{
		{Flag: "sp-shrink", Help: "λ of Shrink & Perturb, in [0, 1]; 1 does not shrink",
			field: func(c *Config) any { return &c.ShrinkPerturb.Shrink }, check: func(c *Config) error { return within(c.ShrinkPerturb.Shrink, 0, 1) }},
		{Flag: "sp-noise", Help: "σ of Shrink & Perturb's Gaussian noise; 0 does not perturb",
			field: func(c *Config) any { return &c.ShrinkPerturb.Noise }, check: func(c *Config) error { return atLeastF(c.ShrinkPerturb.Noise, 0) }},
	},
})

// shrinkPerturb draws its noise from the stream (seed, "shrink-perturb",
// task), so it keeps no state.
type shrinkPerturb struct{ noHooks }

func (shrinkPerturb) StartTask(r *run) error {
	if r.pos.Task == 0 {
		return nil
	}
	shrinkAndPerturb(r.m.Params, r.cfg.ShrinkPerturb, rng.New(r.cfg.Seed, "shrink-perturb", r.pos.Task))
	return nil
}

// shrinkAndPerturb applies θ ← λθ + σ·ε to every trainable parameter,
// in float64 then rounded; ε are src's normal draws in parameter order.
func shrinkAndPerturb(params []float32, c ShrinkPerturbConfig, src interface{ NormFloat64() float64 }) {
	for i, p := range params {
		params[i] = float32(c.Shrink*float64(p) + c.Noise*src.NormFloat64())
	}
}
