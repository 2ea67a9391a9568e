package regularize

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lot-toolkit/lot/model"
)

// totalKey orders float32s as the Wasserstein doc states (−NaN < −Inf < …
// < −0 < +0 < … < +Inf < +NaN), by a formula independent of sortableBits:
// two's-complement bits with the magnitude flipped for negatives.
func totalKey(f float32) int32 {
	k := int32(math.Float32bits(f))
	if k < 0 {
		k ^= 0x7fffffff
	}
	return k
}

// specAddGrad is the specification, computed from scratch: θ0 sorted once,
// ranks by a stable comparison sort (ties by index), the sum in rank order.
func specAddGrad(lambda float64, m *model.MLP, anchor, params, grad []float32) float64 {
	var sum float64
	c := float32(2 * lambda)
	for _, t := range m.Tensors {
		p, g := params[t.Offset:t.Offset+len(t.Data)], grad[t.Offset:t.Offset+len(t.Data)]
		s0 := slices.Clone(anchor[t.Offset : t.Offset+len(t.Data)])
		slices.Sort(s0)
		idx := make([]int, len(p))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(totalKey(p[a]), totalKey(p[b])) })
		for r, i := range idx {
			d := p[i] - s0[r]
			sum += float64(d) * float64(d)
			g[i] += c * d
		}
	}
	return lambda * sum
}

// sameBits fails unless a and b are equal bit for bit.
func sameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s: element %d: %v (%#x) vs %v (%#x)", what, i, a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
		}
	}
}

// checkAgainstReferences runs w, and a fresh regulariser at the same
// anchor, at params and requires the same bits as the specification,
// gradient and value.
func checkAgainstReferences(t *testing.T, what string, w *Wasserstein, m *model.MLP, anchor, params []float32) {
	t.Helper()
	n := len(params)
	grad0 := make([]float32, n)
	for i := range grad0 {
		grad0[i] = float32(i%7) - 3 // AddGrad adds to what is there
	}
	got, spec, fresh := slices.Clone(grad0), slices.Clone(grad0), slices.Clone(grad0)
	v := w.AddGrad(params, got)
	vs := specAddGrad(w.Strength, m, anchor, params, spec)
	vf := newWasserstein(w.Strength, m, anchor).AddGrad(params, fresh)
	sameBits(t, what+": gradient vs specification", got, spec)
	sameBits(t, what+": gradient vs a fresh regulariser", got, fresh)
	for _, ref := range []float64{vs, vf} {
		if math.Float64bits(v) != math.Float64bits(ref) && !(math.IsNaN(v) && math.IsNaN(ref)) {
			t.Fatalf("%s: value %v, references %v %v", what, v, vs, vf)
		}
	}
}

// wassModel is a net whose tensors range from 10 to 8,000 values.
func wassModel(t testing.TB) *model.MLP {
	m, err := model.New(model.Spec{Input: 200, Hidden: []int{40, 20}, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitTorch, rand.New(rand.NewPCG(5, 5))); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWassersteinMatchesFullStableSort: on random values and on values full
// of ties, signed zeros, NaNs and infinities, the gradient and value are
// bit for bit those of a full stable sort.
func TestWassersteinMatchesFullStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	negZero, nan := float32(math.Copysign(0, -1)), float32(math.NaN())
	negNaN := float32(math.Copysign(math.NaN(), -1))
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		gen  func(i int) float32
	}{
		{"normal", func(int) float32 { return float32(rng.NormFloat64()) }},
		{"tiny spread", func(int) float32 { return 1 + float32(rng.NormFloat64())*1e-6 }},
		{"heavy tails", func(int) float32 { return float32(math.Pow(rng.NormFloat64(), 5)) }},
		{"mostly exact zeros", func(int) float32 {
			if rng.IntN(10) > 0 {
				return 0
			}
			return float32(rng.NormFloat64())
		}},
		{"signed zeros", func(int) float32 { return [...]float32{0, negZero, 1, -1}[rng.IntN(4)] }},
		{"few repeated values", func(int) float32 { return float32(rng.IntN(5)) / 4 }},
		{"all equal", func(int) float32 { return 0.25 }},
		{"dead units' frozen rows", func(i int) float32 {
			if (i/100)%3 == 0 {
				return float32(i/100) * 1e-3 // a row of one frozen value
			}
			return float32(rng.NormFloat64() * 0.01)
		}},
		{"NaNs and infinities", func(int) float32 {
			switch rng.IntN(12) {
			case 0:
				return nan
			case 1:
				return negNaN
			case 2:
				return inf
			case 3:
				return -inf
			case 4:
				return float32(math.Float32frombits(0x7fc00001)) // NaN, other payload
			}
			return float32(rng.NormFloat64())
		}},
		{"only NaNs and infinities", func(int) float32 { return [...]float32{nan, negNaN, inf, -inf}[rng.IntN(4)] }},
		{"subnormals", func(int) float32 { return math.Float32frombits(uint32(rng.IntN(50))) * float32(1-2*rng.IntN(2)) }},
		{"extremes", func(int) float32 {
			return [...]float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0}[rng.IntN(4)]
		}},
	}
	for _, tc := range cases {
		m := wassModel(t)
		anchor := slices.Clone(m.Params)
		w := newWasserstein(0.3, m, anchor)
		params := make([]float32, len(m.Params))
		for i := range params {
			params[i] = tc.gen(i)
		}
		checkAgainstReferences(t, tc.name, w, m, anchor, params)
		// The same values as anchor: the anchor's own order is the start.
		for i := range anchor {
			anchor[i] = tc.gen(i)
		}
		w = newWasserstein(0.3, m, anchor)
		checkAgainstReferences(t, tc.name+" (as anchor)", w, m, anchor, anchor)
		checkAgainstReferences(t, tc.name+" (as anchor, second call)", w, m, anchor, params)
	}
}

// TestWassersteinTrainingLikeSequence follows parameters through small
// moves (as a training step), large ones, NaNs appearing and leaving, and
// re-anchoring at a new θ0 (reset-model), checking every step against the
// references, including a fresh regulariser (what a resumed run builds).
func TestWassersteinTrainingLikeSequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	m := wassModel(t)
	anchor := slices.Clone(m.Params)
	w := newWasserstein(1e-3, m, anchor)
	params := slices.Clone(m.Params)
	for step := range 60 {
		switch {
		case step == 30: // reset-model: fresh values, fresh regulariser
			for i := range params {
				params[i] = float32(rng.NormFloat64() * 0.05)
			}
			copy(anchor, params)
			w = newWasserstein(1e-3, m, anchor)
		case step%10 == 9: // a large move: every value anywhere in the range
			for i := range params {
				params[i] = float32(rng.NormFloat64() * 0.1)
			}
		case step == 15: // a NaN appears
			params[3], params[2000] = float32(math.NaN()), float32(math.Copysign(math.NaN(), -1))
		case step == 17: // and is gone
			params[3], params[2000] = 0, 0
		default: // a training step: every value moves a little, some stay put
			for i := range params {
				if i%5 != 0 {
					params[i] += float32(rng.Float64()*2-1) * 1e-3
				}
			}
		}
		checkAgainstReferences(t, fmt.Sprintf("step %d", step), w, m, anchor, params)
	}
}

// TestSortableBitsOrders: sortableBits orders any two float32 bit
// patterns as the Wasserstein doc states, and fromSortableBits inverts it.
func TestSortableBitsOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for range 100000 {
		a, b := math.Float32frombits(rng.Uint32()), math.Float32frombits(rng.Uint32())
		if (sortableBits(a) < sortableBits(b)) != (totalKey(a) < totalKey(b)) {
			t.Fatalf("order of %#x and %#x", math.Float32bits(a), math.Float32bits(b))
		}
		if back := fromSortableBits(sortableBits(a)); math.Float32bits(back) != math.Float32bits(a) {
			t.Fatalf("fromSortableBits(sortableBits(%#x)) = %#x", math.Float32bits(a), math.Float32bits(back))
		}
	}
}

func TestWassersteinAddGradAllocatesNothing(t *testing.T) {
	m := wassModel(t)
	w := newWasserstein(1e-3, m, m.Params)
	grad := make([]float32, len(m.Params))
	if a := testing.AllocsPerRun(10, func() { w.AddGrad(m.Params, grad) }); a != 0 {
		t.Fatalf("AddGrad allocates %v times per call", a)
	}
}

// benchNets are the shapes the Wasserstein runs train: the paper's
// 784-256-10 and the authors' 784-256-256-10, each also with CReLU.
var benchNets = []struct {
	name string
	spec model.Spec
	init model.Init
}{
	{"784-256-10", model.Spec{Input: 784, Hidden: []int{256}, Classes: 10}, model.InitTorch},
	{"784-256-256-10", model.Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10}, model.InitKaimingNormal},
	{"784-256-10-crelu", model.Spec{Input: 784, Hidden: []int{256}, Classes: 10, Activation: model.Activation{Kind: model.CReLU}}, model.InitTorch},
	{"784-256-256-10-crelu", model.Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: model.Activation{Kind: model.CReLU}}, model.InitKaimingNormal},
}

// benchMoves are how far parameters move between calls, as the mean number
// of ranks a value passes. Measured on fc1 of 784-256-10 training on random
// labels with this regulariser: at lr 1e-3 (the paper) 1,200–2,800 in the
// first steps, 150–290 from a task's 2,000th step on; at lr 2e-2 (the quick
// preset) 1,600–3,300 throughout. "jump" is a fresh draw every call, the
// worst case, met by the first call after a resume (whose order starts
// from θ0's).
var benchMoves = []struct {
	name  string
	ranks float64 // mean rank displacement; 0: independent draws
}{
	{"paper", 200},
	{"quick", 2000},
	{"jump", 0},
}

// benchTrajectory returns parameter states to visit in turn: a random walk
// from the initialisation with the given mean rank displacement per step,
// walked forth and back so that every transition is one step.
func benchTrajectory(b *testing.B, m *model.MLP, ranks float64) [][]float32 {
	rng := rand.New(rand.NewPCG(11, 11))
	const steps = 8
	states := [][]float32{slices.Clone(m.Params)}
	for s := 1; s < steps; s++ {
		next := slices.Clone(states[s-1])
		for _, t := range m.Tensors {
			p := next[t.Offset : t.Offset+len(t.Data)]
			// Values lie in about ±a, n/(2a) per unit; a uniform move in ±δ
			// passes n·δ/(4a) ranks on average.
			a := 0.0
			for _, v := range states[0][t.Offset : t.Offset+len(t.Data)] {
				a = max(a, math.Abs(float64(v)))
			}
			delta := 4 * ranks * a / float64(len(p))
			for i := range p {
				if ranks == 0 {
					p[i] = float32((2*rng.Float64() - 1) * a)
				} else {
					p[i] += float32((2*rng.Float64() - 1) * delta)
				}
			}
		}
		states = append(states, next)
	}
	for s := steps - 2; s > 0; s-- {
		states = append(states, states[s])
	}
	if ranks == 0 {
		states = states[:2]
	}
	return states
}

func benchModel(b *testing.B, spec model.Spec, init model.Init) *model.MLP {
	m, err := model.New(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Initialize(init, rand.New(rand.NewPCG(1, 1))); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkWassersteinAddGrad is the regulariser's cost per training step
// on the networks Wasserstein runs train, with the parameters moving
// between calls as in training (benchMoves).
func BenchmarkWassersteinAddGrad(b *testing.B) {
	for _, net := range benchNets {
		for _, move := range benchMoves {
			b.Run(net.name+"/"+move.name, func(b *testing.B) {
				m := benchModel(b, net.spec, net.init)
				states := benchTrajectory(b, m, move.ranks)
				w, err := New("wasserstein", 1e-3, m, slices.Clone(m.Params))
				if err != nil {
					b.Fatal(err)
				}
				grad := make([]float32, len(m.Params))
				b.ReportAllocs()
				k := 0
				for b.Loop() {
					w.AddGrad(states[k], grad)
					k = (k + 1) % len(states)
				}
			})
		}
	}
}
