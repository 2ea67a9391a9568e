package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ActivationKind is the family of a hidden-layer nonlinearity.
type ActivationKind int

const (
	ReLU ActivationKind = iota
	CReLU
	LeakyReLU
	Linear
)

// Activation is a hidden-layer nonlinearity. Slope is used by LeakyReLU only.
// The zero value is ReLU.
type Activation struct {
	Kind  ActivationKind
	Slope float32
}

// ActivationNames lists the accepted spellings, for help texts and errors.
const ActivationNames = "relu, crelu, leaky_relu:<slope>, linear"

// ParseActivation reads "relu", "crelu", "linear" or "leaky_relu:<slope>"
// ("leaky_relu" alone means PyTorch's default slope 0.01).
func ParseActivation(s string) (Activation, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(strings.ToLower(s)), ":")
	switch name {
	case "relu", "crelu", "linear":
		if hasArg {
			return Activation{}, fmt.Errorf("activation %q takes no parameter", name)
		}
		return Activation{Kind: map[string]ActivationKind{"relu": ReLU, "crelu": CReLU, "linear": Linear}[name]}, nil
	case "leaky_relu", "leakyrelu":
		slope := 0.01
		if hasArg {
			var err error
			slope, err = strconv.ParseFloat(arg, 64)
			if err != nil || slope < 0 || slope >= 1 {
				return Activation{}, fmt.Errorf("leaky_relu slope %q: want a number in [0, 1)", arg)
			}
		}
		return Activation{Kind: LeakyReLU, Slope: float32(slope)}, nil
	}
	return Activation{}, fmt.Errorf("unknown activation %q (want one of: %s)", s, ActivationNames)
}

// String gives the spelling that ParseActivation reads back.
func (a Activation) String() string {
	switch a.Kind {
	case CReLU:
		return "crelu"
	case LeakyReLU:
		return "leaky_relu:" + strconv.FormatFloat(float64(a.Slope), 'g', -1, 32)
	case Linear:
		return "linear"
	}
	return "relu"
}

// widthFactor is how many outputs each unit feeds forward: CReLU emits
// [relu(z), relu(-z)] and so doubles the next layer's input.
func (a Activation) widthFactor() int {
	if a.Kind == CReLU {
		return 2
	}
	return 1
}

// apply writes act(z) for a B×n block z into h (B×n, or B×2n for CReLU).
func (a Activation) apply(z, h []float32, rows, n int) {
	switch a.Kind {
	case ReLU:
		for i, v := range z[:rows*n] {
			h[i] = max(v, 0)
		}
	case Linear:
		copy(h, z[:rows*n])
	case LeakyReLU:
		s := a.Slope
		for i, v := range z[:rows*n] {
			if v < 0 {
				v *= s
			}
			h[i] = v
		}
	case CReLU:
		for r := 0; r < rows; r++ {
			zr, hr := z[r*n:(r+1)*n], h[r*2*n:(r+1)*2*n]
			pos, neg := hr[:n], hr[n:]
			for j, v := range zr {
				pos[j] = max(v, 0)
				neg[j] = max(-v, 0)
			}
		}
	}
}

// backward writes dz = dh·act'(z) for a B×n block.
func (a Activation) backward(z, dh, dz []float32, rows, n int) {
	switch a.Kind {
	case ReLU:
		reluBack(z[:rows*n], dh, dz)
	case Linear:
		copy(dz, dh[:rows*n])
	case LeakyReLU:
		s := a.Slope
		dh = dh[:rows*n]
		for i, v := range z[:rows*n] {
			k := positiveMask(v)
			// dh where v > 0, s·dh elsewhere, chosen without a branch.
			dz[i] = math.Float32frombits(math.Float32bits(dh[i])&k | math.Float32bits(s*dh[i])&^k)
		}
	case CReLU:
		creluBack(z, dh, dz, rows, n)
	}
}

// jvp writes rh = act'(z)·rz for a B×n block z (B×2n output for CReLU): the
// forward-mode derivative. The activations are piecewise linear, so their
// second derivative is zero almost everywhere and nothing else is needed.
func (a Activation) jvp(z, rz, rh []float32, rows, n int) {
	if a.Kind != CReLU {
		a.backward(z, rz, rh, rows, n) // elementwise: the same product
		return
	}
	for r := 0; r < rows; r++ {
		zr, rr := z[r*n:(r+1)*n], rz[r*n:(r+1)*n]
		pos, neg := rh[r*2*n:r*2*n+n], rh[r*2*n+n:(r+1)*2*n]
		for j, v := range zr {
			pos[j] = math.Float32frombits(math.Float32bits(rr[j]) & positiveMask(v))
			neg[j] = math.Float32frombits(math.Float32bits(-rr[j]) & positiveMask(-v))
		}
	}
}
