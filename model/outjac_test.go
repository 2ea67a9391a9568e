package model

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestOutputJacobianMatchesRPass: for every linear layer of nets with one
// to three hidden layers and each activation, M·r through the per-row
// Jacobians equals the R-pass's M·r (ApplyOutputHessian, itself checked
// against dense Hessians) on random directions, to float32 rounding. A
// wrong Jacobian (a missing mask, W untransposed, a row's z taken from
// another row) changes M·r at that layer.
func TestOutputJacobianMatchesRPass(t *testing.T) {
	for _, act := range []string{"relu", "crelu", "leaky_relu:0.1", "linear"} {
		for _, hidden := range [][]int{{6}, {6, 5}, {7, 5, 4}} {
			a, err := ParseActivation(act)
			if err != nil {
				t.Fatal(err)
			}
			spec := Spec{Input: 9, Hidden: hidden, Classes: 4, Activation: a}
			const rows = 11
			m, x, y := randomProblem(t, spec, rows, 21)
			hv := m.NewHVP(rows)
			hv.Prepare(x, y)
			rng := rand.New(rand.NewPCG(4, 4))
			for layer := range len(hidden) + 1 {
				_, _, _, out := m.Linear(layer)
				oj, err := hv.NewOutputJacobian(layer)
				if err != nil {
					t.Fatal(err)
				}
				oj.Update()
				r := make([]float32, rows*out)
				for i := range r {
					r[i] = float32(rng.NormFloat64())
				}
				got, want := make([]float32, rows*out), make([]float32, rows*out)
				oj.Apply(r, got)
				hv.ApplyOutputHessian(layer, r, want)
				w64 := make([]float64, len(want))
				for i, v := range want {
					w64[i] = float64(v)
				}
				if err := relErr(got, w64); err > 1e-5 {
					t.Errorf("%s %v fc%d: M·r through the Jacobians differs from the R-pass by %.2g", act, hidden, layer+1, err)
				}
			}
		}
	}
}

// TestOutputJacobianRefusesBatchNorm: BatchNorm couples the rows, so there
// are no per-row Jacobians to form.
func TestOutputJacobianRefusesBatchNorm(t *testing.T) {
	m, err := New(Spec{Input: 5, Hidden: []int{4}, Classes: 3, BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewHVP(4).NewOutputJacobian(0); !errors.Is(err, ErrRowsCoupled) {
		t.Fatalf("BatchNorm: error %v, want ErrRowsCoupled", err)
	}
}
