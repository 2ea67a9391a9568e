package model

import (
	"math"
	"slices"
	"testing"

	"github.com/lot-toolkit/lot/rng"
)

// TestReinitUnitTouchesExactlyItsEntries re-draws one unit and checks,
// against a copy of the parameters, that exactly the entries UnitEntries
// lists changed (incoming row and bias redrawn, outgoing columns zero),
// for ReLU, CReLU (two outgoing columns) and BatchNorm.
func TestReinitUnitTouchesExactlyItsEntries(t *testing.T) {
	for _, tc := range []struct {
		act Activation
		bn  bool
	}{{Activation{Kind: ReLU}, false}, {Activation{Kind: CReLU}, false}, {Activation{Kind: ReLU}, true}} {
		m, err := New(Spec{Input: 5, Hidden: []int{4, 3}, Classes: 2, Activation: tc.act, BatchNorm: tc.bn})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Initialize(InitTorch, rng.New(1, "init", 0)); err != nil {
			t.Fatal(err)
		}
		for i := range m.Params {
			m.Params[i] += 0.5 // so that a BatchNorm reset to 1/0 shows
		}
		before := slices.Clone(m.Params)
		const layer, unit = 1, 2
		if err := m.ReinitUnit(layer, unit, InitTorch, rng.New(1, "unit", 0)); err != nil {
			t.Fatal(err)
		}
		entries := m.UnitEntries(nil, layer, unit)
		in := 4 * tc.act.widthFactor()
		wantLen := in + 1 + 2*tc.act.widthFactor() // row, bias, 2 classes × the unit's output columns
		if tc.bn {
			wantLen += 2
		}
		if len(entries) != wantLen {
			t.Fatalf("%v bn=%v: %d entries, want %d", tc.act, tc.bn, len(entries), wantLen)
		}
		touched := map[int]bool{}
		for _, e := range entries {
			touched[e] = true
		}
		for k := range m.Params {
			if !touched[k] && m.Params[k] != before[k] {
				t.Fatalf("entry %d outside the unit changed", k)
			}
		}
		// Incoming row: fc2.weight row 2 and fc2.bias[2], redrawn inside ±1/√in.
		w, b, fin, _ := m.Linear(layer)
		bound := float32(1 / math.Sqrt(float64(fin)))
		for k := range fin {
			if v := w[unit*fin+k]; v == before[m.fc[layer].wOff+unit*fin+k] || v < -bound || v > bound {
				t.Fatalf("incoming weight %d not redrawn within ±%v: %v", k, bound, v)
			}
		}
		if b[unit] < -bound || b[unit] > bound {
			t.Fatalf("bias %v outside ±%v", b[unit], bound)
		}
		nw, _, nin, nout := m.Linear(layer + 1)
		for r := range nout {
			for c := range nin {
				isOut := c == unit || (tc.act.Kind == CReLU && c == unit+3)
				if isOut && nw[r*nin+c] != 0 {
					t.Fatalf("outgoing weight (%d,%d) = %v, want 0", r, c, nw[r*nin+c])
				}
				if !isOut && nw[r*nin+c] == 0 {
					t.Fatalf("weight (%d,%d) zeroed", r, c)
				}
			}
		}
		if tc.bn && (m.bn[layer].Gamma[unit] != 1 || m.bn[layer].Beta[unit] != 0) {
			t.Fatal("BatchNorm not reset")
		}
	}
	m, _ := New(Spec{Input: 2, Hidden: []int{2}, Classes: 2})
	if err := m.ReinitUnit(1, 0, InitTorch, rng.New(0, "x")); err == nil {
		t.Fatal("want an error for a layer that does not exist")
	}
}

// TestReinitUnitDrawsTheInitDistribution: kaiming-normal rows have the
// variance 2/fan_in Initialize gives, measured over many redraws.
func TestReinitUnitDrawsTheInitDistribution(t *testing.T) {
	m, _ := New(Spec{Input: 50, Hidden: []int{8}, Classes: 2, Activation: Activation{Kind: ReLU}})
	r := rng.New(3, "unit")
	var sum, sq float64
	n := 0
	for range 400 {
		if err := m.ReinitUnit(0, 3, InitKaimingNormal, r); err != nil {
			t.Fatal(err)
		}
		w, b, in, _ := m.Linear(0)
		if b[3] != 0 {
			t.Fatal("kaiming-normal bias not zero")
		}
		for _, v := range w[3*in : 4*in] {
			sum += float64(v)
			sq += float64(v) * float64(v)
			n++
		}
	}
	mean, vr := sum/float64(n), sq/float64(n)-(sum/float64(n))*(sum/float64(n))
	if math.Abs(mean) > 0.005 || math.Abs(vr-2.0/50)/(2.0/50) > 0.03 {
		t.Fatalf("mean %v var %v, want 0 and %v", mean, vr, 2.0/50)
	}
}
