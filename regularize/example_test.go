package regularize_test

import (
	"fmt"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/regularize"
)

// The spectral penalty's curvature along its own top singular direction:
// with fc1's weight diag(2, 1), σ1 = 2 with u = v = e1, and along
// E = u vᵀ the derivatives of u and v vanish, so EᵀHE = f″(σ1) for
// f(σ) = λ(σ^k − 1)²: with λ = 1 and k = 2, f″(σ) = 4(3σ² − 1) = 44.
func ExampleSpectralHessian() {
	m, err := model.New(model.Spec{Input: 2, Hidden: []int{2}, Classes: 2})
	if err != nil {
		panic(err)
	}
	w, _, _, _ := m.Linear(0)
	copy(w, []float32{2, 0, 0, 1})
	out, _, _, _ := m.Linear(1)
	copy(out, []float32{1, 0.5, 0.25, 1})

	h := regularize.NewSpectralHessian(1, 2, m)
	if err := h.Prepare(m.Params); err != nil {
		panic(err)
	}
	e := make([]float64, len(m.Params))
	e[0] = 1 // E = e1 e1ᵀ in fc1's weight, the first parameters
	he := make([]float64, len(e))
	h.AddHVP(0, e, he)
	fmt.Printf("EᵀHE = %.6f\n", he[0])
	// Output: EᵀHE = 44.000000
}
