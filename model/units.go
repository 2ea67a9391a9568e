package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Units returns hidden layer i's unit count (its linear output width).
func (m *MLP) Units(i int) int { return m.fc[i].out }

// UnitOutputs returns the columns of hidden layer i's activation output
// that unit j feeds forward: j alone, or j and j+n under CReLU (its
// positive and negative halves).
func (m *MLP) UnitOutputs(i, j int) (first, second int, two bool) {
	if m.Spec.Activation.widthFactor() == 2 {
		return j, j + m.fc[i].out, true
	}
	return j, 0, false
}

// UnitEntries appends to dst the indices in Params of every trainable
// value of hidden layer i's unit j: its incoming weights and bias, its
// BatchNorm scale and shift, and its outgoing weights in the next linear
// layer (the columns of UnitOutputs).
func (m *MLP) UnitEntries(dst []int, i, j int) []int {
	l, next := m.fc[i], m.fc[i+1]
	for k := range l.in {
		dst = append(dst, l.wOff+j*l.in+k)
	}
	dst = append(dst, l.bOff+j)
	if m.Spec.BatchNorm {
		b := m.bn[i]
		dst = append(dst, b.gOff+j, b.bOff+j)
	}
	c0, c1, two := m.UnitOutputs(i, j)
	for r := range next.out {
		dst = append(dst, next.wOff+r*next.in+c0)
		if two {
			dst = append(dst, next.wOff+r*next.in+c1)
		}
	}
	return dst
}

// OutgoingWeight returns the weight from unit j's output column c of
// hidden layer i to unit r of the next linear layer.
func (m *MLP) OutgoingWeight(i, r, c int) float32 {
	next := m.fc[i+1]
	return next.W[r*next.in+c]
}

// NextBias returns the bias of the linear layer after hidden layer i.
func (m *MLP) NextBias(i int) []float32 { return m.fc[i+1].B }

// ReinitUnit draws hidden layer i's unit j afresh: its incoming weights
// and bias from init's distribution (as Initialize draws the layer), its
// BatchNorm back to γ=1, β=0, running mean 0 and variance 1, and its
// outgoing weights zeroed, so that the network's output does not change
// until training moves them.
func (m *MLP) ReinitUnit(i, j int, init Init, rng *rand.Rand) error {
	if i < 0 || i >= len(m.Spec.Hidden) || j < 0 || j >= m.fc[i].out {
		return fmt.Errorf("model: no unit %d in hidden layer %d", j, i)
	}
	l := m.fc[i]
	row := l.W[j*l.in : (j+1)*l.in]
	bound := 1 / math.Sqrt(float64(l.in))
	switch init {
	case InitTorch, "":
		for k := range row {
			row[k] = float32((2*rng.Float64() - 1) * bound)
		}
		l.B[j] = float32((2*rng.Float64() - 1) * bound)
	case InitKaimingNormal:
		std := math.Sqrt(2 / float64(l.in))
		for k := range row {
			row[k] = float32(rng.NormFloat64() * std)
		}
		l.B[j] = 0
	case InitKaimingUniform:
		b := math.Sqrt(6 / float64(l.in))
		for k := range row {
			row[k] = float32((2*rng.Float64() - 1) * b)
		}
		l.B[j] = 0
	default:
		return fmt.Errorf("model: unknown init %q (want one of %v)", init, Inits())
	}
	if m.Spec.BatchNorm {
		b := m.bn[i]
		b.Gamma[j], b.Beta[j], b.RunningMean[j], b.RunningVar[j] = 1, 0, 0, 1
	}
	next := m.fc[i+1]
	c0, c1, two := m.UnitOutputs(i, j)
	for r := range next.out {
		next.W[r*next.in+c0] = 0
		if two {
			next.W[r*next.in+c1] = 0
		}
	}
	return nil
}
