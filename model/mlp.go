package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Spec fixes an MLP's architecture.
type Spec struct {
	Input      int        // input features (784 for MNIST)
	Hidden     []int      // hidden widths, one per hidden layer
	Classes    int        // output classes
	Activation Activation // hidden nonlinearity
	BatchNorm  bool       // BatchNorm1d after each hidden linear layer, before the activation
}

// Validate reports the first impossible field.
func (s Spec) Validate() error {
	if s.Input < 1 || s.Classes < 2 {
		return fault("need input >= 1 and classes >= 2, got %d and %d", s.Input, s.Classes)
	}
	for _, h := range s.Hidden {
		if h < 1 {
			return fault("hidden widths must be positive, got %v", s.Hidden)
		}
	}
	return nil
}

// Tensor is a named view into a model's storage, with PyTorch's name and
// shape (a weight is [out, in], row-major).
type Tensor struct {
	Name   string
	Shape  []int
	Data   []float32
	Offset int // position of Data in Params (trainable tensors only)
}

// Group is one module's trainable parameters (fc1, bn1, ...): the contiguous
// range Params[Offset : Offset+Len].
type Group struct {
	Name        string
	Offset, Len int
}

// Init names a weight initialisation.
type Init string

const (
	// InitTorch is nn.Linear's default: weights and biases ~ U(±1/sqrt(fan_in)).
	InitTorch Init = "torch"
	// InitKaimingNormal draws weights ~ N(0, 2/fan_in) and zero biases, as
	// torch.nn.init.kaiming_normal_ with its ReLU default.
	InitKaimingNormal Init = "kaiming-normal"
	// InitKaimingUniform draws weights ~ U(±sqrt(6/fan_in)) and zero biases,
	// as torch.nn.init.kaiming_uniform_(w, nonlinearity='relu') (gain √2,
	// fan-in) followed by zeros_(bias): the authors' public code.
	InitKaimingUniform Init = "kaiming-uniform"
)

// Inits returns the valid Init values, the default first.
func Inits() []Init { return []Init{InitTorch, InitKaimingNormal, InitKaimingUniform} }

// linear is one fully connected layer; W and B are views into Params.
type linear struct {
	in, out    int
	W, B       []float32
	wOff, bOff int // offsets of W and B in Params
}

// batchNorm is BatchNorm1d over n features.
type batchNorm struct {
	n                       int
	Gamma, Beta             []float32
	RunningMean, RunningVar []float32
	gOff, bOff              int // offsets of Gamma and Beta in Params
}

// BatchNorm's constants, as in PyTorch's defaults.
const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// MLP is a multilayer perceptron: hidden layers fc_i (+ bn_i) + activation,
// then a linear classifier.
type MLP struct {
	Spec Spec
	// Params holds every trainable value, in state_dict order.
	Params []float32
	// Tensors are the trainable tensors, views into Params, in state_dict order.
	Tensors []Tensor
	// Buffers are BatchNorm's running statistics (not trained).
	Buffers []Tensor
	// Groups are the per-module parameter ranges.
	Groups []Group

	fc []linear
	bn []batchNorm
}

// New allocates an MLP with zero parameters; call Initialize to draw them.
func New(spec Spec) (*MLP, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	m := &MLP{Spec: spec}
	// First pass: sizes, so that Params is allocated once.
	total, in := 0, spec.Input
	for _, h := range spec.Hidden {
		total += h*in + h
		if spec.BatchNorm {
			total += 2 * h
		}
		in = h * spec.Activation.widthFactor()
	}
	total += spec.Classes*in + spec.Classes
	m.Params = make([]float32, total)

	off := 0
	take := func(name string, shape ...int) []float32 {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := m.Params[off : off+n : off+n]
		m.Tensors = append(m.Tensors, Tensor{Name: name, Shape: shape, Data: v, Offset: off})
		off += n
		return v
	}
	addLinear := func(i, in, out int) {
		start := off
		name := fmt.Sprintf("fc%d", i)
		w := take(name+".weight", out, in)
		b := take(name+".bias", out)
		m.fc = append(m.fc, linear{in: in, out: out, W: w, B: b, wOff: start, bOff: start + in*out})
		m.Groups = append(m.Groups, Group{Name: name, Offset: start, Len: off - start})
	}
	in = spec.Input
	for i, h := range spec.Hidden {
		addLinear(i+1, in, h)
		if spec.BatchNorm {
			start := off
			name := fmt.Sprintf("bn%d", i+1)
			g := take(name+".weight", h)
			b := take(name+".bias", h)
			rm, rv := make([]float32, h), make([]float32, h)
			m.Buffers = append(m.Buffers,
				Tensor{Name: name + ".running_mean", Shape: []int{h}, Data: rm},
				Tensor{Name: name + ".running_var", Shape: []int{h}, Data: rv})
			m.bn = append(m.bn, batchNorm{n: h, Gamma: g, Beta: b, RunningMean: rm, RunningVar: rv, gOff: start, bOff: start + h})
			m.Groups = append(m.Groups, Group{Name: name, Offset: start, Len: off - start})
		}
		in = h * spec.Activation.widthFactor()
	}
	addLinear(len(spec.Hidden)+1, in, spec.Classes)
	return m, nil
}

// Initialize draws fresh parameters from rng and resets BatchNorm to
// gamma=1, beta=0, running mean 0 and running variance 1.
func (m *MLP) Initialize(init Init, rng *rand.Rand) error {
	for _, l := range m.fc {
		bound := 1 / math.Sqrt(float64(l.in))
		switch init {
		case InitTorch, "":
			for i := range l.W {
				l.W[i] = float32((2*rng.Float64() - 1) * bound)
			}
			for i := range l.B {
				l.B[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case InitKaimingNormal:
			std := math.Sqrt(2 / float64(l.in))
			for i := range l.W {
				l.W[i] = float32(rng.NormFloat64() * std)
			}
			clear(l.B)
		case InitKaimingUniform:
			// Var U(±b) = b²/3 = 2/fan_in, the same variance as kaiming-normal.
			b := math.Sqrt(6 / float64(l.in))
			for i := range l.W {
				l.W[i] = float32((2*rng.Float64() - 1) * b)
			}
			clear(l.B)
		default:
			return fault("unknown init %q (want one of %v)", init, Inits())
		}
	}
	for _, b := range m.bn {
		for i := range b.Gamma {
			b.Gamma[i], b.Beta[i], b.RunningMean[i], b.RunningVar[i] = 1, 0, 0, 1
		}
	}
	return nil
}

// StateDict lists every tensor, trainable and buffer, in PyTorch's order
// (fc1.weight, fc1.bias, bn1.weight, bn1.bias, bn1.running_mean, ...).
func (m *MLP) StateDict() []Tensor {
	out := make([]Tensor, 0, len(m.Tensors)+len(m.Buffers))
	bi := 0
	for _, t := range m.Tensors {
		out = append(out, t)
		if len(t.Name) > 2 && t.Name[:2] == "bn" && t.Name[len(t.Name)-5:] == ".bias" {
			out = append(out, m.Buffers[bi], m.Buffers[bi+1])
			bi += 2
		}
	}
	return out
}

// Linear returns layer i's weight ([out, in] row-major) and bias.
func (m *MLP) Linear(i int) (w, b []float32, in, out int) {
	l := m.fc[i]
	return l.W, l.B, l.in, l.out
}

// HiddenGroup is the index in Groups of hidden layer i's linear module
// (fc_{i+1}), the module whose output the layer's units compute.
func (m *MLP) HiddenGroup(i int) int {
	for g, grp := range m.Groups {
		if grp.Offset == m.fc[i].wOff {
			return g
		}
	}
	panic("model: no such hidden layer")
}
