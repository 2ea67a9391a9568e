package train

import (
	"math"
	"slices"
	"testing"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/rng"
)

// tinyNet is a 2-3-2 ReLU network with hand-set weights, the batch x
// passed forward, and an Adam whose state is non-zero everywhere.
func tinyNet(t *testing.T) (*model.MLP, *model.Workspace, optim.Optimizer) {
	t.Helper()
	m, err := model.New(model.Spec{Input: 2, Hidden: []int{3}, Classes: 2, Activation: model.Activation{Kind: model.ReLU}})
	if err != nil {
		t.Fatal(err)
	}
	// fc1: unit 0 = x0, unit 1 = x1, unit 2 = 0.1·(x0+x1); zero biases.
	copy(m.Params, []float32{1, 0, 0, 1, 0.1, 0.1, 0, 0, 0, 0})
	// fc2 weights [2×3] and biases.
	w2, b2, _, _ := m.Linear(1)
	copy(w2, []float32{1, 2, 3, -1, -2, -3})
	copy(b2, []float32{0.5, -0.5})
	ws := m.NewWorkspace(2)
	m.Forward(ws, []float32{1, 2, 3, 4}, 2, true) // rows (1,2) and (3,4)
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-3}
	}
	opt := optim.NewAdam(len(m.Params), groups)
	grad := make([]float32, len(m.Params))
	for i := range grad {
		grad[i] = 1
	}
	saved := slices.Clone(m.Params)
	opt.Step(m.Params, grad) // fills the moments
	copy(m.Params, saved)
	return m, ws, opt
}

// TestCBPHandWorked: with decay 0 the utility is this batch's. Units'
// activations: unit 0 (1, 3), mean |h| 2; unit 1 (2, 4), 3; unit 2 (0.3,
// 0.7), 0.5. Mean |outgoing weight|: 1, 2, 3. Utilities 2, 6, 1.5: unit 2
// is the lowest. With rate 1/3 and every unit mature, one is due. The
// next layer's biases absorb w_k2·mean h_2 = (3, −3)·0.5; unit 2's
// outgoing weights become zero, its incoming row is redrawn, and Adam's
// moments of exactly its entries are cleared.
func TestCBPHandWorked(t *testing.T) {
	m, ws, opt := tinyNet(t)
	p := newCBPFor(m, CBPConfig{Rate: 1.0 / 3, Decay: 0, Maturity: 0}, model.InitTorch, 1)
	before := slices.Clone(m.Params)
	if err := p.generateAndTest(m, opt, ws, 0); err != nil {
		t.Fatal(err)
	}
	L := p.layers[0]
	if p.Replaced != 1 || L.Age[2] != 0 || L.Age[0] != 1 || L.Util[2] != 0 {
		t.Fatalf("replaced %d, ages %v, utils %v: want unit 2 replaced", p.Replaced, L.Age, L.Util)
	}
	for j, want := range []float64{2, 6} {
		if math.Abs(L.Util[j]-want) > 1e-6 {
			t.Fatalf("utility of unit %d = %v, want %v", j, L.Util[j], want)
		}
	}
	w2, b2, _, _ := m.Linear(1)
	if math.Abs(float64(b2[0])-2.0) > 1e-6 || math.Abs(float64(b2[1])+2.0) > 1e-6 {
		t.Fatalf("next biases %v, want (0.5+1.5, −0.5−1.5)", b2)
	}
	if w2[2] != 0 || w2[5] != 0 || w2[0] != 1 || w2[4] != -2 {
		t.Fatalf("next weights %v: want column 2 zero, others kept", w2)
	}
	w1, _, _, _ := m.Linear(0)
	if w1[4] == before[4] || w1[0] != 1 || w1[3] != 1 {
		t.Fatalf("incoming weights %v: want row 2 redrawn, rows 0 and 1 kept", w1)
	}
	mom, v := opt.(*optim.Adam).Moments()
	reset := map[int]bool{}
	for _, e := range m.UnitEntries(nil, 0, 2) {
		reset[e] = true
	}
	for i := range mom {
		if (mom[i] == 0) != reset[i] || (v[i] == 0) != reset[i] {
			t.Fatalf("moment %d = %v, %v; reset %v", i, mom[i], v[i], reset[i])
		}
	}
}

// TestCBPReplacementCountMatchesRate: over a long run the replacements
// are the rate times the mature units summed over steps. With maturity 0
// every unit is mature after its first step, so after T steps exactly
// ⌊T·ρ·n⌋ per layer (the fractional carry). With maturity m a replaced
// unit waits m steps: in the steady state I = ρ(n−I)m units wait, so a
// layer replaces ρn/(1+ρm) per step once the first m steps are past;
// the count must match that within 1%.
func TestCBPReplacementCountMatchesRate(t *testing.T) {
	m, err := model.New(model.Spec{Input: 4, Hidden: []int{64, 32}, Classes: 3, Activation: model.Activation{Kind: model.ReLU}})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Initialize(model.InitTorch, rng.New(1, "init"))
	ws := m.NewWorkspace(8)
	x := make([]float32, 8*4)
	src := rng.New(2, "x")
	for i := range x {
		x[i] = float32(src.NormFloat64())
	}
	opt := optim.NewAdam(len(m.Params), []optim.Group{{Name: "all", Offset: 0, Len: len(m.Params), LR: 1e-3}})
	const T = 20000
	for _, tc := range []struct {
		maturity int
		lo, hi   int64
	}{
		{0, int64(T*1e-3*64) + int64(T*1e-3*32), int64(T*1e-3*64) + int64(T*1e-3*32)},
		{100, int64(0.99 * steady(T, 100, 64, 32)), int64(1.01 * steady(T, 100, 64, 32))},
	} {
		p := newCBPFor(m, CBPConfig{Rate: 1e-3, Decay: 0.99, Maturity: tc.maturity}, model.InitTorch, 1)
		for step := range int64(T) {
			m.Forward(ws, x, 8, true)
			if err := p.generateAndTest(m, opt, ws, step); err != nil {
				t.Fatal(err)
			}
		}
		if p.Replaced < tc.lo || p.Replaced > tc.hi {
			t.Fatalf("maturity %d: %d replacements, want in [%d, %d]", tc.maturity, p.Replaced, tc.lo, tc.hi)
		}
	}
}

// TestReDoScoresAndRecycle: on the tiny net's batch the mean |h| are 2, 3
// and 0.5 (mean 11/6), so the scores are 12/11, 18/11 and 3/11; τ = 0.3
// recycles unit 2 only, τ = 0.2 none.
func TestReDoScoresAndRecycle(t *testing.T) {
	m, ws, opt := tinyNet(t)
	score := dormantScores(m, ws, 0, nil)
	for j, want := range []float64{12.0 / 11, 18.0 / 11, 3.0 / 11} {
		if math.Abs(score[j]-want) > 1e-6 {
			t.Fatalf("score %d = %v, want %v", j, score[j], want)
		}
	}
	d := &redo{c: ReDoConfig{Tau: 0.2, Every: 1}, init: model.InitTorch}
	if err := d.recycle(m, opt, ws, 0); err != nil || d.Recycled != 0 {
		t.Fatalf("τ 0.2 recycled %d (%v)", d.Recycled, err)
	}
	d.c.Tau = 0.3
	if err := d.recycle(m, opt, ws, 0); err != nil || d.Recycled != 1 {
		t.Fatalf("τ 0.3 recycled %d (%v)", d.Recycled, err)
	}
	w2, _, _, _ := m.Linear(1)
	if w2[2] != 0 || w2[5] != 0 || w2[1] != 2 {
		t.Fatalf("next weights %v: want column 2 zero", w2)
	}
}

// TestShrinkPerturb: θ' = λθ + σε with ε the stream's normal draws in
// parameter order, checked in float64.
func TestShrinkPerturb(t *testing.T) {
	theta := []float32{1, -2, 0.5, 3}
	got := slices.Clone(theta)
	c := ShrinkPerturbConfig{Shrink: 0.4, Noise: 0.1}
	shrinkAndPerturb(got, c, rng.New(5, "shrink-perturb", 1))
	eps := rng.New(5, "shrink-perturb", 1)
	for i, v := range theta {
		want := 0.4*float64(v) + 0.1*eps.NormFloat64()
		if math.Abs(float64(got[i])-want) > 1e-6 {
			t.Fatalf("entry %d: %v, want %v", i, got[i], want)
		}
	}
}

// steady is the expected replacement count at rate 1e-3 for maturity m
// over layers of the given widths.
func steady(T, m float64, widths ...float64) float64 {
	const rho = 1e-3
	var sum float64
	for _, n := range widths {
		sum += (T - m) * rho * n / (1 + rho*m)
	}
	return sum
}
