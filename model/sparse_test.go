package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/linalg"
)

// killUnits makes a share of each hidden layer's units dead on every
// input: their bias is far below anything the weights can reach.
func killUnits(m *MLP, share float64, rng *rand.Rand) {
	for i := range m.Spec.Hidden {
		l := m.fc[i]
		for j := range l.out {
			if rng.Float64() < share {
				l.B[j] = -1e4
			}
		}
	}
}

// TestSparseGradMatchesDense: with SparseGrad the gradient is the dense
// one, whatever share of units is dead, for one and two hidden layers at
// the paper's and the authors' shapes and small ones: every entry written,
// a dead unit's row exactly zero, the others equal to float32 rounding.
// Under OpenBLAS's SkylakeX kernel they are equal bit for bit; under its
// Haswell kernel they are not (its edge kernels round differently), which
// is why SparseGrad is an option.
func TestSparseGradMatchesDense(t *testing.T) {
	bitExact := strings.HasPrefix(linalg.Kernel(), "SkylakeX")
	for _, tc := range []struct {
		hidden []int
		act    string
		rows   int
	}{
		{[]int{256}, "relu", 256}, {[]int{256, 256}, "relu", 256}, {[]int{37, 19}, "relu", 50},
		{[]int{64}, "relu", 7}, {[]int{48, 32}, "crelu", 64}, {[]int{48}, "leaky_relu:0.1", 64},
	} {
		for _, share := range []float64{0, 0.3, 0.8, 1} {
			act, _ := ParseActivation(tc.act)
			spec := Spec{Input: 784, Hidden: tc.hidden, Classes: 10, Activation: act}
			m, x, y := randomProblem(t, spec, tc.rows, 3)
			rng := rand.New(rand.NewPCG(9, uint64(share*100)))
			killUnits(m, share, rng)
			grads := [2][]float32{}
			for k, sparse := range []bool{false, true} {
				ws := m.NewWorkspace(tc.rows)
				ws.SparseGrad = sparse
				m.Forward(ws, x, tc.rows, true)
				m.CrossEntropy(ws, y)
				grads[k] = make([]float32, len(m.Params))
				for i := range grads[k] {
					grads[k][i] = float32(math.NaN()) // every entry must be written
				}
				m.Backward(ws, grads[k])
			}
			diff := 0
			for i, a := range grads[0] {
				b := grads[1][i]
				if math.Float32bits(a) != math.Float32bits(b) {
					diff++
				}
				if !(math.Abs(float64(a-b)) <= 1e-6*(1+math.Abs(float64(a)))) {
					t.Fatalf("%v %s, %.0f%% dead: entry %d is %g, dense %g", tc.hidden, tc.act, 100*share, i, b, a)
				}
			}
			for i := range tc.hidden {
				l := m.fc[i]
				for j := range l.out {
					if l.B[j] != -1e4 || tc.act != "relu" {
						continue
					}
					for _, v := range grads[1][l.wOff+j*l.in : l.wOff+(j+1)*l.in] {
						if math.Float32bits(v) != 0 {
							t.Fatalf("%v: dead unit %d of layer %d has gradient %g", tc.hidden, j, i, v)
						}
					}
				}
			}
			if diff > 0 && bitExact {
				t.Errorf("%v %s, %.0f%% dead: %d of %d gradient entries differ from the dense path under %s", tc.hidden, tc.act, 100*share, diff, len(grads[0]), linalg.Kernel())
			}
			if diff > 0 {
				t.Logf("%v %s, %.0f%% dead: %d of %d entries differ in the last bits under %s", tc.hidden, tc.act, 100*share, diff, len(grads[0]), linalg.Kernel())
			}
		}
	}
}

// TestSparseGradAllocatesOnlyOnce: after the first step the sparse path
// allocates nothing.
func TestSparseGradAllocatesOnlyOnce(t *testing.T) {
	if linalg.Backend() != "openblas" {
		t.Skip("gonum's GEMM (the pure-Go build) allocates inside its own calls")
	}
	spec := Spec{Input: 784, Hidden: []int{64, 32}, Classes: 10}
	m, x, y := randomProblem(t, spec, 32, 4)
	killUnits(m, 0.5, rand.New(rand.NewPCG(1, 1)))
	ws := m.NewWorkspace(32)
	ws.SparseGrad = true
	g := make([]float32, len(m.Params))
	step := func() {
		m.Forward(ws, x, 32, true)
		m.CrossEntropy(ws, y)
		m.Backward(ws, g)
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Fatalf("%v allocations per step", n)
	}
}

// TestSparseGradBlockProducts: with SparseGrad the first layer's block
// product skips the dead units' rows and gives the dense product's values
// (bit for bit under SkylakeX), dead rows exactly zero.
func TestSparseGradBlockProducts(t *testing.T) {
	bitExact := strings.HasPrefix(linalg.Kernel(), "SkylakeX")
	for _, hidden := range [][]int{{256}, {256, 256}, {37, 19}} {
		spec := Spec{Input: 784, Hidden: hidden, Classes: 10, Activation: Activation{Kind: ReLU}}
		m, x, y := randomProblem(t, spec, 128, 5)
		killUnits(m, 0.6, rand.New(rand.NewPCG(4, 4)))
		n := m.Groups[0].Len
		v := make([]float32, n)
		rng := rand.New(rand.NewPCG(8, 8))
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		outs := [2][]float32{}
		for k, sparse := range []bool{false, true} {
			h := m.NewHVP(128)
			h.Workspace().SparseGrad = sparse
			h.Prepare(x, y)
			outs[k] = make([]float32, n)
			for i := range outs[k] {
				outs[k][i] = float32(math.NaN())
			}
			h.ApplyBlock(0, v, outs[k])
		}
		diff := 0
		for i, a := range outs[0] {
			b := outs[1][i]
			if math.Float32bits(a) != math.Float32bits(b) {
				diff++
			}
			if !(math.Abs(float64(a-b)) <= 1e-6*(1+math.Abs(float64(a)))) {
				t.Fatalf("%v: entry %d is %g, dense %g", hidden, i, b, a)
			}
		}
		l := m.fc[0]
		for j := range l.out {
			if l.B[j] == -1e4 {
				for _, w := range outs[1][j*l.in : (j+1)*l.in] {
					if math.Float32bits(w) != 0 {
						t.Fatalf("%v: dead unit %d has a block product row entry %g", hidden, j, w)
					}
				}
			}
		}
		if diff > 0 && bitExact {
			t.Errorf("%v: %d of %d entries differ from the dense product under %s", hidden, diff, n, linalg.Kernel())
		}
	}
}
