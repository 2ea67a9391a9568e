// Package regularize owns the regularisers that are terms of the training
// loss: the Wasserstein regulariser (distance of each tensor's value
// distribution from its initial one) and L2-init (distance from the initial
// values). Plain L2 is not here: as in the paper, it is coupled weight decay
// inside the optimiser.
package regularize

import (
	"fmt"
	"math"
	"slices"

	"github.com/lot-toolkit/lot/model"
)

// Regularizer is a differentiable penalty on the parameters.
type Regularizer interface {
	Name() string
	// AddGrad adds the penalty's gradient to grad (laid out as params) and
	// returns the penalty's value.
	AddGrad(params, grad []float32) float64
	// HessianScale returns c such that the penalty's Hessian is c·I wherever
	// it is twice differentiable (both penalties here are quadratic up to a
	// locally constant permutation).
	HessianScale() float64
}

// Kinds lists the accepted --reg values.
var Kinds = []string{"none", "l2", "wasserstein", "l2init"}

// New builds the in-loss regulariser of the given kind for m's parameters,
// anchored at anchor (θ0, laid out as m.Params). It returns nil for "none"
// and for "l2", which the optimiser applies as weight decay.
func New(kind string, strength float64, m *model.MLP, anchor []float32) (Regularizer, error) {
	if strength < 0 || math.IsNaN(strength) || math.IsInf(strength, 0) {
		return nil, fmt.Errorf("regularisation strength must be a finite number >= 0, got %v", strength)
	}
	switch kind {
	case "none", "l2":
		return nil, nil
	case "wasserstein":
		return newWasserstein(strength, m, anchor), nil
	case "l2init":
		return &L2Init{Strength: strength, Anchor: slices.Clone(anchor)}, nil
	}
	return nil, fmt.Errorf("unknown regulariser %q (want one of: none, l2, wasserstein, l2init)", kind)
}

// L2Init is λ·‖θ − θ0‖² (Kumar et al., 2023).
type L2Init struct {
	Strength float64
	Anchor   []float32 // θ0
}

func (r *L2Init) Name() string          { return "l2init" }
func (r *L2Init) HessianScale() float64 { return 2 * r.Strength }

func (r *L2Init) AddGrad(params, grad []float32) float64 {
	var sum float64
	c := float32(2 * r.Strength)
	for i, p := range params {
		d := p - r.Anchor[i]
		sum += float64(d) * float64(d)
		grad[i] += c * d
	}
	return r.Strength * sum
}
