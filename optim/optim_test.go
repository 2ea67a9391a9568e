package optim

import (
	"math"
	"testing"
)

// Adam on one parameter, worked by hand from torch's formula
//
//	g ← g + wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
//
// Case 1: p=1, lr=0.1, wd=0, grads 0.5, −0.25, 0.125.
//
//	t=1: m=0.05, v=2.5e-4, bc1=0.1, bc2=1e-3: p = 1 − 1·0.05/(0.5+1e-8) = 0.900000002
//	t=2: m=0.02, v=3.1225e-4, bc1=0.19, bc2=1.999e-3:
//	     p = 0.9 − (0.1/0.19)·0.02/(sqrt(3.1225e-4)/sqrt(1.999e-3)+1e-8) = 0.8733663
//	t=3: m=0.0305, v=3.27586e-4, bc1=0.271, bc2=2.997e-3: p = 0.8393234
//
// Case 2: p=2, lr=0.01, wd=0.1 (coupled), same grads: the effective grads are
// 0.7, −0.051, 0.3234 (g + 0.1·p), giving 1.99000000014, 1.9838581, 1.9768715.
func TestAdamMatchesHandWorkedTorchFormula(t *testing.T) {
	for _, tc := range []struct {
		p0, lr, wd float64
		want       []float64
	}{
		{1, 0.1, 0, []float64{0.900000002, 0.8733662987, 0.8393233849}},
		{2, 0.01, 0.1, []float64{1.990000000, 1.983858142, 1.976871451}},
	} {
		params := []float32{float32(tc.p0)}
		opt := NewAdam(1, []Group{{Offset: 0, Len: 1, LR: tc.lr, WeightDecay: tc.wd}})
		for i, g := range []float32{0.5, -0.25, 0.125} {
			opt.Step(params, []float32{g})
			if d := math.Abs(float64(params[0]) - tc.want[i]); d > 2e-7*math.Abs(tc.want[i]) {
				t.Fatalf("p0=%v step %d: got %.9f want %.9f", tc.p0, i+1, params[0], tc.want[i])
			}
		}
	}
}

func TestAdamGroupsHaveTheirOwnLearningRateAndReset(t *testing.T) {
	params := []float32{1, 1}
	opt := NewAdam(2, []Group{{Name: "a", Offset: 0, Len: 1, LR: 0.1}, {Name: "b", Offset: 1, Len: 1, LR: 0.01}})
	opt.Step(params, []float32{1, 1})
	// The first Adam step moves each parameter by its group's lr (up to ε).
	if math.Abs(float64(params[0])-0.9) > 1e-6 || math.Abs(float64(params[1])-0.99) > 1e-6 {
		t.Fatalf("per-group lr not applied: %v", params)
	}
	opt.SetLR(1, 0.05)
	opt.Reset()
	if opt.Groups()[0].Steps != 0 {
		t.Fatal("Reset kept the step count")
	}
	m, v := opt.Moments()
	if m[0] != 0 || v[1] != 0 {
		t.Fatal("Reset kept the moments")
	}
	opt.Step(params, []float32{-1, -1})
	// After a reset the next step is again a "first" step of size lr.
	if math.Abs(float64(params[1])-1.04) > 1e-6 {
		t.Fatalf("after reset and SetLR(0.05): p=%v, want 1.04", params[1])
	}
}

// SGD with momentum as torch: buf=g on the first step, then buf=μ·buf+g.
func TestSGDMomentumMatchesTorch(t *testing.T) {
	params := []float32{1}
	opt := NewSGD(1, []Group{{Len: 1, LR: 0.1, WeightDecay: 0.5}}, 0.9)
	// t=1: d = 1 + 0.5·1 = 1.5, buf = 1.5, p = 1 − 0.15 = 0.85
	// t=2: d = 1 + 0.425 = 1.425, buf = 1.35 + 1.425 = 2.775, p = 0.85 − 0.2775 = 0.5725
	want := []float64{0.85, 0.5725}
	for i := range want {
		opt.Step(params, []float32{1})
		if math.Abs(float64(params[0])-want[i]) > 1e-6 {
			t.Fatalf("step %d: got %v want %v", i+1, params[0], want[i])
		}
	}
}

// BenchmarkAdam203k updates the standard model's 203,530 parameters.
func BenchmarkAdam203k(b *testing.B) {
	const n = 784*256 + 256 + 256*10 + 10
	p, g := make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%13) * 1e-3
	}
	opt := NewAdam(n, []Group{{Len: n, LR: 1e-3}})
	for b.Loop() {
		opt.Step(p, g)
	}
}

// TestResetEntriesClearsExactlyThoseEntries: after some steps, the listed
// entries of every state buffer are zero and all others are unchanged.
func TestResetEntriesClearsExactlyThoseEntries(t *testing.T) {
	groups := []Group{{Name: "a", Offset: 0, Len: 6, LR: 0.1}}
	for _, o := range []Optimizer{NewAdam(6, groups), NewSGD(6, []Group{{Name: "a", Offset: 0, Len: 6, LR: 0.1}}, 0.9)} {
		p, g := []float32{1, 2, 3, 4, 5, 6}, []float32{0.1, -0.2, 0.3, -0.4, 0.5, -0.6}
		o.Step(p, g)
		o.Step(p, g)
		before := map[string][]float32{}
		for name, buf := range o.State() {
			before[name] = append([]float32(nil), buf...)
		}
		ResetEntries(o, []int{1, 4})
		for name, buf := range o.State() {
			for i, v := range buf {
				want := before[name][i]
				if i == 1 || i == 4 {
					want = 0
				}
				if v != want || before[name][i] == 0 {
					t.Fatalf("%s[%d] = %v, want %v (before %v)", name, i, v, want, before[name][i])
				}
			}
		}
		if o.Groups()[0].Steps != 2 && o.Groups()[0].Steps != 0 {
			t.Fatal("step count changed")
		}
	}
}
