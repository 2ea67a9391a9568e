package regularize

import (
	"github.com/lot-toolkit/lot/internal/finitediff"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lot-toolkit/lot/model"
)

func testModel(t *testing.T) *model.MLP {
	t.Helper()
	m, err := model.New(model.Spec{Input: 5, Hidden: []int{4}, Classes: 3, BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitTorch, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	return m
}

// refValue computes either penalty in float64 from scratch, by sorting copies.
func refValue(kind string, lambda float64, m *model.MLP, p, p0 []float64) float64 {
	var sum float64
	off := 0
	for _, tn := range m.Tensors {
		a := slices.Clone(p[off : off+len(tn.Data)])
		b := slices.Clone(p0[off : off+len(tn.Data)])
		if kind == "wasserstein" {
			slices.Sort(a)
			slices.Sort(b)
		}
		for i := range a {
			sum += (a[i] - b[i]) * (a[i] - b[i])
		}
		off += len(tn.Data)
	}
	return lambda * sum
}

func TestRegularizerGradientsAgainstFloat64CentralDifferences(t *testing.T) {
	for _, kind := range []string{"wasserstein", "l2init"} {
		m := testModel(t)
		p0 := make([]float64, len(m.Params))
		for i, v := range m.Params {
			p0[i] = float64(v)
		}
		const lambda = 0.3
		reg, err := New(kind, lambda, m, m.Params)
		if err != nil {
			t.Fatal(err)
		}
		// Move away from the anchor, scrambling order so the sort matters.
		rng := rand.New(rand.NewPCG(2, 2))
		for i := range m.Params {
			m.Params[i] += float32(0.5 * rng.NormFloat64())
		}
		grad := make([]float32, len(m.Params))
		val := reg.AddGrad(m.Params, grad)
		p := make([]float64, len(m.Params))
		for i, v := range m.Params {
			p[i] = float64(v)
		}
		if ref := refValue(kind, lambda, m, p, p0); math.Abs(ref-val) > 1e-5*ref {
			t.Fatalf("%s: value %v, reference %v", kind, val, ref)
		}
		fds := finitediff.Gradient(func(q []float64) float64 { return refValue(kind, lambda, m, q, p0) }, p, 1e-7)
		for i, fd := range fds {
			if math.Abs(fd-float64(grad[i])) > 1e-4*(1+math.Abs(fd)) {
				t.Fatalf("%s: param %d: grad %v, central difference %v", kind, i, grad[i], fd)
			}
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	m := testModel(t)
	if _, err := New("elastic", 1, m, m.Params); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := New("l2init", -1, m, m.Params); err == nil {
		t.Fatal("negative strength accepted")
	}
	if r, err := New("l2", 1e-3, m, m.Params); err != nil || r != nil {
		t.Fatal("l2 must be left to the optimiser")
	}
}
