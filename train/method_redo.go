package train

import (
	"math"
	"math/rand/v2"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/rng"
)

// ReDoConfig holds ReDo's constants (Sokar et al., ICML 2023).
type ReDoConfig struct {
	Tau   float64 `yaml:"tau"`   // τ: a unit with score s_i ≤ τ is dormant
	Every int     `yaml:"every"` // F: updates between recycles
}

// defaultReDo: τ = 0.1 and F = 1000 updates, the paper's settings.
var defaultReDo = ReDoConfig{Tau: 0.1, Every: 1000}

var _ = registerMethod(MethodDef{
	Name:     "redo",
	Help:     "ReDo, Sokar et al. 2023: every `--redo-every` updates, re-initialise each hidden layer's τ-dormant units, s_i = E|h_i| / mean_j E|h_j| ≤ τ on the batch",
	Defaults: func(c *Config) { c.ReDo = defaultReDo },
	New: func(r *run) (Method, error) {
		return &redo{c: r.cfg.ReDo, init: model.Init(r.cfg.Init), seed: r.cfg.Seed}, nil
	},
	Knobs: []Knob{
		{Flag: "redo-tau", Help: "τ of ReDo's dormancy test, at least 0 (0 recycles only units that never fire on the batch)",
			field: func(c *Config) any { return &c.ReDo.Tau }, check: func(c *Config) error { return atLeastF(c.ReDo.Tau, 0) }},
		{Flag: "redo-every", Help: "F, updates between ReDo's recycles",
			field: func(c *Config) any { return &c.ReDo.Every }, check: func(c *Config) error { return atLeast(c.ReDo.Every, 1) }},
	},
})

// redo recycles dormant units after every F-th update, scoring them on the
// batch just trained on (its forward pass, before the update): a dormant
// unit's incoming weights are drawn afresh (stream (seed, "redo", step,
// layer)), its outgoing weights zeroed and the optimiser's state of those
// entries cleared. Its decisions follow from the step count and the
// batch, so it keeps no state.
type redo struct {
	noHooks
	c        ReDoConfig
	init     model.Init
	seed     uint64
	score    []float64 // scratch
	entries  []int     // scratch
	Recycled int64     // units recycled so far in this process (tests read it)
}

func (d *redo) AfterUpdate(r *run) error {
	if (r.pos.Step+1)%int64(d.c.Every) != 0 {
		return nil
	}
	return d.recycle(r.m, r.opt, r.st.WS, r.pos.Step)
}

// dormantScores fills score with s_i = E|h_i| / ((1/n)Σ_j E|h_j|) for
// hidden layer i from the batch in ws (a CReLU unit's |h| is the sum over
// its two outputs). A layer silent on the whole batch scores 0 everywhere.
func dormantScores(m *model.MLP, ws *model.Workspace, i int, score []float64) []float64 {
	n, rows := m.Units(i), ws.Rows()
	if cap(score) < n {
		score = make([]float64, n)
	}
	score = score[:n]
	clear(score)
	h := ws.Hidden(i)
	width := len(h) / rows
	for r := range rows {
		hr := h[r*width : (r+1)*width]
		for j := range n {
			c0, c1, two := m.UnitOutputs(i, j)
			a := math.Abs(float64(hr[c0]))
			if two {
				a += math.Abs(float64(hr[c1]))
			}
			score[j] += a
		}
	}
	var mean float64
	for _, s := range score {
		mean += s
	}
	mean /= float64(n)
	for j := range score {
		if mean == 0 {
			score[j] = 0
		} else {
			score[j] /= mean // the batch size cancels
		}
	}
	return score
}

func (d *redo) recycle(m *model.MLP, opt optim.Optimizer, ws *model.Workspace, step int64) error {
	for i := range m.Spec.Hidden {
		d.score = dormantScores(m, ws, i, d.score)
		var src *rand.Rand
		for j, s := range d.score {
			if s > d.c.Tau {
				continue
			}
			if src == nil {
				src = rng.New(d.seed, "redo", int(step), i)
			}
			if err := m.ReinitUnit(i, j, d.init, src); err != nil {
				return err
			}
			d.entries = m.UnitEntries(d.entries[:0], i, j)
			optim.ResetEntries(opt, d.entries)
			d.Recycled++
		}
	}
	return nil
}
