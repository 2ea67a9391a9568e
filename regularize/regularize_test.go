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

func TestRadixSortMatchesComparisonSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	vals := make([]float32, 1000)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	vals[3], vals[4] = 0, float32(math.Copysign(0, -1))
	keys, tmp := make([]uint64, len(vals)), make([]uint64, len(vals))
	for i, v := range vals {
		keys[i] = uint64(sortableBits(v))<<32 | uint64(i)
	}
	keys = radixSortHigh32(keys, tmp)
	got := make([]float32, len(vals))
	for i, k := range keys {
		got[i] = vals[uint32(k)]
	}
	want := slices.Clone(vals)
	slices.Sort(want)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("position %d: %v want %v", i, got[i], want[i])
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

// TestRadixSortSharedBytes: values whose keys share digits (all in [1, 2),
// say, or all equal, so that passes are skipped) come back sorted, and
// stably.
func TestRadixSortSharedBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, gen := range []func() float32{
		func() float32 { return 1 + float32(rng.IntN(4))/4 },        // mantissa bits 21, 22 vary: two passes
		func() float32 { return 1 + float32(rng.Float64()) },        // all three digits vary
		func() float32 { return 3 },                                 // no pass at all
		func() float32 { return float32(rng.NormFloat64() * 1e-3) }, // all three
	} {
		vals := make([]float32, 500)
		for i := range vals {
			vals[i] = gen()
		}
		keys, tmp := make([]uint64, len(vals)), make([]uint64, len(vals))
		for i, v := range vals {
			keys[i] = uint64(sortableBits(v))<<32 | uint64(i)
		}
		keys = radixSortHigh32(keys, tmp)
		for i := 1; i < len(keys); i++ {
			a, b := keys[i-1], keys[i]
			if a>>32 > b>>32 || (a>>32 == b>>32 && uint32(a) > uint32(b)) {
				t.Fatalf("keys %d and %d out of order or unstable: %x %x", i-1, i, a, b)
			}
		}
	}
}
