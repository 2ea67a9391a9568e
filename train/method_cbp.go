package train

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/rng"
)

// CBPConfig holds Continual Backprop's constants (Dohare et al., Nature
// 2024; defaults from the paper and its code, shibhansh/loss-of-plasticity).
type CBPConfig struct {
	Rate     float64 `yaml:"rate"`     // replacements per eligible unit per step, per layer
	Decay    float64 `yaml:"decay"`    // of the utility's running average
	Maturity int     `yaml:"maturity"` // steps a unit is protected after its birth
}

var defaultCBP = CBPConfig{Rate: 1e-4, Decay: 0.99, Maturity: 100}

var _ = registerMethod(MethodDef{
	Name:     "cbp",
	Help:     "Continual Backprop, Dohare et al. 2024: after each update, per hidden layer, replace the mature units of lowest contribution utility at `--cbp-rate`",
	New:      newCBP,
	Defaults: func(c *Config) { c.CBP = defaultCBP },
	Knobs: []Knob{
		{Flag: "cbp-rate", Help: "ρ, replacements per mature unit per update in each hidden layer, accumulated fractionally; in [0, 1]",
			field: func(c *Config) any { return &c.CBP.Rate }, check: func(c *Config) error { return within(c.CBP.Rate, 0, 1) }},
		{Flag: "cbp-decay", Help: "η, decay of the running averages of utility and mean activation, in [0, 1)",
			field: func(c *Config) any { return &c.CBP.Decay }, check: func(c *Config) error {
				if !(c.CBP.Decay >= 0 && c.CBP.Decay < 1) {
					return fmt.Errorf("must be in [0, 1), got %v", c.CBP.Decay)
				}
				return nil
			}},
		{Flag: "cbp-maturity", Help: "m, updates a unit lives before it can be replaced",
			field: func(c *Config) any { return &c.CBP.Maturity }, check: func(c *Config) error { return atLeast(c.CBP.Maturity, 0) }},
	},
})

// cbp is continual backprop's generate-and-test. Per hidden layer and
// unit j it keeps u_j, the running average of the contribution utility
// |h_j| · mean_k |w_kj| (batch mean of |h_j|, mean over j's outgoing
// weights), f_j, that of the mean activation, and a_j, the unit's age.
// After each update every unit ages; of the units older than the maturity,
// rate·count more are due (a fractional remainder carries over), and the
// due number of lowest bias-corrected utility u_j/(1−η^a_j) are replaced:
// the next layer's bias absorbs their expected output
// Σ w_kj·f_j/(1−η^a_j) (the reference's bias correction), their incoming
// weights are drawn afresh (stream (seed, "cbp", step, layer)), their
// outgoing weights zeroed, and the optimiser's state of all those entries
// cleared.
type cbp struct {
	noHooks
	c      CBPConfig
	init   model.Init
	seed   uint64
	layers []cbpLayer
	// Replaced counts the replacements so far (tests read it).
	Replaced int64
	entries  []int // scratch
	order    []int // scratch
}

type cbpLayer struct {
	Util   []float64 `json:"util"`
	Mean   []float64 `json:"mean_act"` // per output column (two per unit under CReLU)
	Age    []int64   `json:"age"`
	Carry  float64   `json:"carry"` // the fractional replacements owed
	absAct []float64 // scratch per column: Σ|h|, then the utility term
	act    []float64 // scratch per column: Σh
}

func newCBP(r *run) (Method, error) {
	return newCBPFor(r.m, r.cfg.CBP, model.Init(r.cfg.Init), r.cfg.Seed), nil
}

func newCBPFor(m *model.MLP, c CBPConfig, init model.Init, seed uint64) *cbp {
	p := &cbp{c: c, init: init, seed: seed}
	for i := range m.Spec.Hidden {
		n := m.Units(i)
		w := n
		if _, _, two := m.UnitOutputs(i, 0); two {
			w = 2 * n
		}
		p.layers = append(p.layers, cbpLayer{Util: make([]float64, n), Mean: make([]float64, w), Age: make([]int64, n),
			absAct: make([]float64, w), act: make([]float64, w)})
	}
	return p
}

func (p *cbp) AfterUpdate(r *run) error {
	return p.generateAndTest(r.m, r.opt, r.st.WS, r.pos.Step)
}

// generateAndTest runs one step of the algorithm on the activations in ws
// (the batch just trained on) and the weights after the update. Under
// CReLU a unit's two outputs (its columns) each have their utility term
// and mean activation; the unit's utility is their sum.
func (p *cbp) generateAndTest(m *model.MLP, opt optim.Optimizer, ws *model.Workspace, step int64) error {
	eta := p.c.Decay
	rows := ws.Rows()
	for i := range p.layers {
		L := &p.layers[i]
		n := len(L.Util)
		h := ws.Hidden(i)
		width := len(h) / rows
		clear(L.absAct)
		clear(L.act)
		for r := range rows {
			for c, v := range h[r*width : (r+1)*width] {
				L.absAct[c] += math.Abs(float64(v))
				L.act[c] += float64(v)
			}
		}
		_, _, _, nout := m.Linear(i + 1)
		eligible := 0
		for c := range width {
			var out float64
			for k := range nout {
				out += math.Abs(float64(m.OutgoingWeight(i, k, c)))
			}
			L.absAct[c] = out / float64(nout) * L.absAct[c] / float64(rows) // the column's utility term
			L.Mean[c] = eta*L.Mean[c] + (1-eta)*L.act[c]/float64(rows)
		}
		for j := range n {
			c0, c1, two := m.UnitOutputs(i, j)
			util := L.absAct[c0]
			if two {
				util += L.absAct[c1]
			}
			L.Age[j]++
			L.Util[j] = eta*L.Util[j] + (1-eta)*util
			if L.Age[j] > int64(p.c.Maturity) {
				eligible++
			}
		}
		if eligible == 0 {
			continue
		}
		L.Carry += p.c.Rate * float64(eligible)
		due := int(L.Carry)
		if due == 0 {
			continue
		}
		L.Carry -= float64(due)
		// The due units: the eligible ones of lowest bias-corrected utility
		// (ties to the lower index).
		p.order = p.order[:0]
		for j := range n {
			if L.Age[j] > int64(p.c.Maturity) {
				p.order = append(p.order, j)
			}
		}
		corrected := func(j int) float64 { return L.Util[j] / (1 - math.Pow(eta, float64(L.Age[j]))) }
		sort.SliceStable(p.order, func(a, b int) bool { return corrected(p.order[a]) < corrected(p.order[b]) })
		var src *rand.Rand
		nextB := m.NextBias(i)
		for _, j := range p.order[:due] {
			if src == nil {
				src = rng.New(p.seed, "cbp", int(step), i)
			}
			correction := 1 - math.Pow(eta, float64(L.Age[j]))
			c0, c1, two := m.UnitOutputs(i, j)
			for k := range nout {
				b := float64(m.OutgoingWeight(i, k, c0)) * L.Mean[c0]
				if two {
					b += float64(m.OutgoingWeight(i, k, c1)) * L.Mean[c1]
				}
				nextB[k] += float32(b / correction)
			}
			if err := m.ReinitUnit(i, j, p.init, src); err != nil {
				return err
			}
			p.entries = m.UnitEntries(p.entries[:0], i, j)
			optim.ResetEntries(opt, p.entries)
			L.Util[j], L.Age[j], L.Mean[c0] = 0, 0, 0
			if two {
				L.Mean[c1] = 0
			}
			p.Replaced++
		}
	}
	return nil
}

type cbpState struct {
	Layers   []cbpLayer `json:"layers"`
	Replaced int64      `json:"replaced"`
}

// State is JSON: Go writes each float64 in its shortest exact form, so
// the state round-trips bit for bit.
func (p *cbp) State() (string, map[string][]float32) {
	b, _ := json.Marshal(cbpState{Layers: p.layers, Replaced: p.Replaced})
	return string(b), nil
}

func (p *cbp) Restore(js string, _ map[string][]float32) error {
	if js == "" {
		return nil // a checkpoint from before the run's first update
	}
	var s cbpState
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return fmt.Errorf("cbp: %w", err)
	}
	if len(s.Layers) != len(p.layers) {
		return fmt.Errorf("cbp: %d layers saved, the model has %d", len(s.Layers), len(p.layers))
	}
	for i, L := range s.Layers {
		n := len(p.layers[i].Util)
		if len(L.Util) != n || len(L.Mean) != len(p.layers[i].Mean) || len(L.Age) != n {
			return fmt.Errorf("cbp: layer %d saved with %d units, the model has %d", i, len(L.Util), n)
		}
		p.layers[i].Util, p.layers[i].Mean, p.layers[i].Age, p.layers[i].Carry = L.Util, L.Mean, L.Age, L.Carry
	}
	p.Replaced = s.Replaced
	return nil
}
