package regularize

import (
	"math"
	"testing"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rng"
)

// sigma64 is the top singular value of a rows×cols float64 matrix by
// power iteration run to convergence (an independent computation).
func sigma64(w []float64, rows, cols int) float64 {
	v := make([]float64, cols)
	for i := range v {
		v[i] = 1 + 0.1*float64(i)
	}
	var s float64
	for range 5000 {
		u := make([]float64, rows)
		for r := range rows {
			for c := range cols {
				u[r] += w[r*cols+c] * v[c]
			}
		}
		nv := make([]float64, cols)
		for r := range rows {
			for c := range cols {
				nv[c] += w[r*cols+c] * u[r]
			}
		}
		var n float64
		for _, x := range nv {
			n += x * x
		}
		n = math.Sqrt(n)
		for c := range nv {
			v[c] = nv[c] / n
		}
		s = math.Sqrt(n) // ‖WᵀWv‖ → σ²
	}
	return s
}

// TestSpectralGradientMatchesFiniteDifferences converges the warm start,
// then checks the value against σ1 from an independent float64 power
// iteration and every weight's gradient against a float64 central
// difference of λ·Σ(σ1^k − 1)².
func TestSpectralGradientMatchesFiniteDifferences(t *testing.T) {
	m, err := model.New(model.Spec{Input: 5, Hidden: []int{4}, Classes: 3, Activation: model.Activation{Kind: model.ReLU}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitKaimingNormal, rng.New(7, "init")); err != nil {
		t.Fatal(err)
	}
	const lambda, k = 0.3, 2.0
	s, err := NewSpectral(lambda, k, 1, m)
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, len(m.Params))
	for range 300 { // warm start converges
		clear(grad)
		s.AddGrad(m.Params, grad)
	}
	clear(grad)
	value := s.AddGrad(m.Params, grad)
	penalty := func(p []float64) float64 {
		var sum float64
		for _, tn := range m.Tensors {
			if len(tn.Shape) != 2 {
				continue
			}
			sg := sigma64(p[tn.Offset:tn.Offset+len(tn.Data)], tn.Shape[0], tn.Shape[1])
			sum += (math.Pow(sg, k) - 1) * (math.Pow(sg, k) - 1)
		}
		return lambda * sum
	}
	p := make([]float64, len(m.Params))
	for i, v := range m.Params {
		p[i] = float64(v)
	}
	if want := penalty(p); math.Abs(value-want) > 1e-5*math.Max(1, want) {
		t.Fatalf("value %v, independent %v", value, want)
	}
	const h = 1e-5
	for _, tn := range m.Tensors {
		for i := tn.Offset; i < tn.Offset+len(tn.Data); i++ {
			want := 0.0
			if len(tn.Shape) == 2 {
				old := p[i]
				p[i] = old + h
				up := penalty(p)
				p[i] = old - h
				down := penalty(p)
				p[i] = old
				want = (up - down) / (2 * h)
			}
			if math.Abs(float64(grad[i])-want) > 2e-4*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s entry %d: gradient %v, finite difference %v", tn.Name, i-tn.Offset, grad[i], want)
			}
		}
	}
}

// TestSpectralStateRoundTrips: a regulariser restored from another's state
// continues with the same bits.
func TestSpectralStateRoundTrips(t *testing.T) {
	m, _ := model.New(model.Spec{Input: 6, Hidden: []int{5}, Classes: 3, Activation: model.Activation{Kind: model.ReLU}})
	_ = m.Initialize(model.InitTorch, rng.New(1, "init"))
	a, _ := NewSpectral(1e-2, 2, 1, m)
	g := make([]float32, len(m.Params))
	for range 3 {
		a.AddGrad(m.Params, g)
	}
	b, _ := NewSpectral(1e-2, 2, 1, m)
	if err := b.Restore(a.State()); err != nil {
		t.Fatal(err)
	}
	ga, gb := make([]float32, len(g)), make([]float32, len(g))
	if va, vb := a.AddGrad(m.Params, ga), b.AddGrad(m.Params, gb); va != vb {
		t.Fatalf("values differ: %v vs %v", va, vb)
	}
	for i := range ga {
		if ga[i] != gb[i] {
			t.Fatal("gradients differ after restore")
		}
	}
	if err := b.Restore(map[string][]float32{}); err == nil {
		t.Fatal("want an error for missing state")
	}
	if _, err := NewSpectral(1, 0, 1, m); err == nil {
		t.Fatal("want an error for k = 0")
	}
}
