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
	groups []Group
	// Beta1 and Beta2 are the constructor's betas (torch's defaults): a
	// group uses them until SetBetas gives it its own, and again after Reset.
	Beta1, Beta2 float64
	Eps          float64
	m, v         []float32 // first and second moments, laid out as params
	own          []groupBetas
}

// groupBetas are one group's own betas, as torch's param_groups[g]["betas"].
type groupBetas struct {
	beta1, beta2 float64
	set          bool // false: the group uses Adam.Beta1, Adam.Beta2
}

// NewAdam makes an Adam optimiser over n parameters with PyTorch's defaults
// β=(0.9, 0.999), ε=1e-8.
func NewAdam(n int, groups []Group) *Adam {
	return &Adam{groups: groups, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: make([]float32, n), v: make([]float32, n), own: make([]groupBetas, len(groups))}
}

func (a *Adam) Groups() []Group         { return a.groups }
func (a *Adam) SetLR(g int, lr float64) { a.groups[g].LR = lr }
func (a *Adam) State() map[string][]float32 {
	return map[string][]float32{"exp_avg": a.m, "exp_avg_sq": a.v}
}

// Betas returns the betas group g's next Step uses.
func (a *Adam) Betas(g int) (beta1, beta2 float64) {
	if o := a.own[g]; o.set {
		return o.beta1, o.beta2
	}
	return a.Beta1, a.Beta2
}

// SetBetas gives group g its own betas from the next Step on, as assigning
// torch's param_groups[g]["betas"] does. Bias correction then uses them with
// the group's step count: 1−β1^t, 1−β2^t.
func (a *Adam) SetBetas(g int, beta1, beta2 float64) {
	a.own[g] = groupBetas{beta1: beta1, beta2: beta2, set: true}
}

// Moments returns Adam's first and second moment buffers (views).
func (a *Adam) Moments() (m, v []float32) { return a.m, a.v }

// Reset also returns every group to the constructor's betas, as a rebuilt
// torch.optim.Adam starts from its betas argument.
func (a *Adam) Reset() {
	clear(a.m)
	clear(a.v)
	clear(a.own)
	for i := range a.groups {
		a.groups[i].Steps = 0
	}
}

// Step follows torch 1.13's _single_tensor_adam: the scalar factors are
// formed in float64 from the group's betas and the elementwise work is done
// in float32.
func (a *Adam) Step(params, grad []float32) {
	for gi := range a.groups {
		g := &a.groups[gi]
		g.Steps++
		t := float64(g.Steps)
		beta1, beta2 := a.Betas(gi)
		bc1 := 1 - math.Pow(beta1, t)
		bc2 := 1 - math.Pow(beta2, t)
		adamUpdate(params[g.Offset:g.Offset+g.Len], grad[g.Offset:g.Offset+g.Len],
			a.m[g.Offset:g.Offset+g.Len], a.v[g.Offset:g.Offset+g.Len],
			float32(beta1), float32(1-beta1), float32(beta2), float32(1-beta2), float32(g.WeightDecay),
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

// ResetEntries clears every state buffer of o (Adam's moments, SGD's
// momentum) at the given indices of the parameter vector, as if those
// parameters were new; other entries and the groups' step counts are
// untouched (Adam's bias correction stays per group, where continual
// backprop's reference Adam keeps a step count per entry).
func ResetEntries(o Optimizer, idx []int) {
	for _, buf := range o.State() {
		for _, i := range idx {
			buf[i] = 0
		}
	}
}
