package optim

import (
	"math"
)

// Group is a contiguous range of the flat parameter vector with its own
// hyperparameters. Step counts are per group, as in torch where each tensor
// keeps its own step.
type Group struct {
	Name        string
	Offset, Len int
	LR          float64
	WeightDecay float64 // coupled L2: WeightDecay·θ is added to the gradient
	Steps       int64   // updates applied since the last reset
}

// Optimizer updates a flat parameter vector from its gradient.
type Optimizer interface {
	// Step applies one update to params using grad (same layout). grad is
	// not modified.
	Step(params, grad []float32)
	// Groups exposes the parameter groups; changing a group's LR takes
	// effect at the next Step.
	Groups() []Group
	SetLR(group int, lr float64)
	// Reset clears all state (moments, step counts), as rebuilding the
	// optimiser would, but keeps the learning rates.
	Reset()
	// State returns named state buffers for checkpointing (views, not copies).
	State() map[string][]float32
}

// Adam is torch.optim.Adam (amsgrad off, maximize off).
type Adam struct {
	groups       []Group
	Beta1, Beta2 float64
	Eps          float64
	m, v         []float32 // first and second moments, laid out as params
}

// NewAdam makes an Adam optimiser over n parameters with PyTorch's defaults
// β=(0.9, 0.999), ε=1e-8.
func NewAdam(n int, groups []Group) *Adam {
	return &Adam{groups: groups, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: make([]float32, n), v: make([]float32, n)}
}

func (a *Adam) Groups() []Group         { return a.groups }
func (a *Adam) SetLR(g int, lr float64) { a.groups[g].LR = lr }
func (a *Adam) State() map[string][]float32 {
	return map[string][]float32{"exp_avg": a.m, "exp_avg_sq": a.v}
}

// Moments returns Adam's first and second moment buffers (views).
func (a *Adam) Moments() (m, v []float32) { return a.m, a.v }

func (a *Adam) Reset() {
	clear(a.m)
	clear(a.v)
	for i := range a.groups {
		a.groups[i].Steps = 0
	}
}

// Step follows torch 1.13's _single_tensor_adam: the scalar factors are
// formed in float64 and the elementwise work in float32.
func (a *Adam) Step(params, grad []float32) {
	for gi := range a.groups {
		g := &a.groups[gi]
		g.Steps++
		t := float64(g.Steps)
		bc1 := 1 - math.Pow(a.Beta1, t)
		bc2 := 1 - math.Pow(a.Beta2, t)
		adamUpdate(params[g.Offset:g.Offset+g.Len], grad[g.Offset:g.Offset+g.Len],
			a.m[g.Offset:g.Offset+g.Len], a.v[g.Offset:g.Offset+g.Len],
			float32(a.Beta1), float32(1-a.Beta1), float32(a.Beta2), float32(1-a.Beta2), float32(g.WeightDecay),
			float32(g.LR/bc1), float32(math.Sqrt(bc2)), float32(a.Eps))
	}
}

// SGD is torch.optim.SGD with momentum (dampening 0, no Nesterov).
type SGD struct {
	groups   []Group
	Momentum float64
	buf      []float32
}

// NewSGD makes an SGD optimiser over n parameters.
func NewSGD(n int, groups []Group, momentum float64) *SGD {
	return &SGD{groups: groups, Momentum: momentum, buf: make([]float32, n)}
}

func (s *SGD) Groups() []Group             { return s.groups }
func (s *SGD) SetLR(g int, lr float64)     { s.groups[g].LR = lr }
func (s *SGD) State() map[string][]float32 { return map[string][]float32{"momentum_buffer": s.buf} }

func (s *SGD) Reset() {
	clear(s.buf)
	for i := range s.groups {
		s.groups[i].Steps = 0
	}
}

func (s *SGD) Step(params, grad []float32) {
	mom := float32(s.Momentum)
	for gi := range s.groups {
		g := &s.groups[gi]
		p, gr, b := params[g.Offset:g.Offset+g.Len], grad[g.Offset:g.Offset+g.Len], s.buf[g.Offset:g.Offset+g.Len]
		wd, lr := float32(g.WeightDecay), float32(g.LR)
		first := g.Steps == 0
		g.Steps++
		for i := range p {
			d := gr[i] + wd*p[i]
			if mom != 0 {
				if first {
					b[i] = d // torch seeds the buffer with the first gradient
				} else {
					b[i] = mom*b[i] + d
				}
				d = b[i]
			}
			p[i] -= lr * d
		}
	}
}
