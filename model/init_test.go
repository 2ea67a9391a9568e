package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestKaimingUniformInit checks the authors' init on 784→256→256→10 with
// CReLU, whose hidden layers are 256 wide and feed 512 inputs onward: every
// weight lies in ±sqrt(6/fan_in) with fan_in = 784, 512, 512, the extremes
// come near both bounds, the variance is 2/fan_in and half the weights lie
// within half the bound (uniform; a normal of that variance puts 61% there),
// and every bias is zero.
func TestKaimingUniformInit(t *testing.T) {
	crelu, err := ParseActivation("crelu")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: crelu})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(InitKaimingUniform, rand.New(rand.NewPCG(4, 2))); err != nil {
		t.Fatal(err)
	}
	wantShapes := map[string][]int{
		"fc1.weight": {256, 784}, "fc1.bias": {256},
		"fc2.weight": {256, 512}, "fc2.bias": {256},
		"fc3.weight": {10, 512}, "fc3.bias": {10},
	}
	if len(m.Tensors) != len(wantShapes) {
		t.Fatalf("%d tensors, want %d", len(m.Tensors), len(wantShapes))
	}
	for _, tn := range m.Tensors {
		if !slices.Equal(tn.Shape, wantShapes[tn.Name]) {
			t.Fatalf("%s has shape %v, want %v", tn.Name, tn.Shape, wantShapes[tn.Name])
		}
		if strings.HasSuffix(tn.Name, ".bias") {
			for i, v := range tn.Data {
				if v != 0 {
					t.Fatalf("%s[%d] = %v, want 0", tn.Name, i, v)
				}
			}
			continue
		}
		fanIn := tn.Shape[1]
		bound := math.Sqrt(6 / float64(fanIn))
		n := float64(len(tn.Data))
		var lo, hi, sumSq float64
		inner := 0
		for _, v := range tn.Data {
			w := float64(v)
			lo, hi = min(lo, w), max(hi, w)
			sumSq += w * w
			if math.Abs(w) < bound/2 {
				inner++
			}
		}
		// With n draws the extremes fall short of the bound by about b/n;
		// 20/n leaves a failure chance near e^-20.
		if lo < -bound || hi > bound || lo > -bound*(1-20/n) || hi < bound*(1-20/n) {
			t.Errorf("%s: range [%.5f, %.5f], want just inside ±%.5f", tn.Name, lo, hi, bound)
		}
		// w² of U(±b) has mean b²/3 and variance 4b⁴/45: five standard errors.
		variance, want := sumSq/n, 2/float64(fanIn)
		if tol := 5 * math.Sqrt(4.0/45) * bound * bound / math.Sqrt(n); math.Abs(variance-want) > tol {
			t.Errorf("%s: mean square %.6g, want 2/fan_in = %.6g ± %.2g", tn.Name, variance, want, tol)
		}
		if frac, tol := float64(inner)/n, 5*math.Sqrt(0.25/n); math.Abs(frac-0.5) > tol {
			t.Errorf("%s: %.4f of the weights within half the bound, want 0.5 ± %.4f", tn.Name, frac, tol)
		}
	}
}

// TestInitResetsBatchNormAndIsDeterministic: every init leaves BatchNorm at
// γ=1, β=0, running mean 0, running variance 1, and draws the same weights
// from the same generator state.
func TestInitResetsBatchNormAndIsDeterministic(t *testing.T) {
	relu, _ := ParseActivation("relu")
	spec := Spec{Input: 5, Hidden: []int{4}, Classes: 3, Activation: relu, BatchNorm: true}
	for _, init := range Inits() {
		a, _ := New(spec)
		b, _ := New(spec)
		for i := range a.Params {
			a.Params[i] = 7
		}
		for _, buf := range a.Buffers {
			for i := range buf.Data {
				buf.Data[i] = 7
			}
		}
		if err := a.Initialize(init, rand.New(rand.NewPCG(1, 1))); err != nil {
			t.Fatal(err)
		}
		b.Initialize(init, rand.New(rand.NewPCG(1, 1)))
		if !slices.Equal(a.Params, b.Params) {
			t.Errorf("%s: the same generator drew different parameters", init)
		}
		for _, tn := range append(slices.Clone(a.Tensors), a.Buffers...) {
			var want float32
			switch tn.Name {
			case "bn1.weight", "bn1.running_var":
				want = 1
			case "bn1.bias", "bn1.running_mean":
			default:
				continue
			}
			for _, v := range tn.Data {
				if v != want {
					t.Fatalf("%s: %s = %v, want %v", init, tn.Name, v, want)
				}
			}
		}
	}
}

func TestUnknownInit(t *testing.T) {
	relu, _ := ParseActivation("relu")
	m, _ := New(Spec{Input: 2, Classes: 2, Activation: relu})
	err := m.Initialize("xavier", rand.New(rand.NewPCG(1, 1)))
	if err == nil || !strings.Contains(err.Error(), "kaiming-uniform") || !strings.Contains(err.Error(), `"xavier"`) {
		t.Fatalf("got %v, want an error naming xavier and the valid inits", err)
	}
}
