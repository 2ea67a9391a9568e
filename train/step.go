package train

import (
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
)

// Stepper performs training updates: forward, loss, backward, the in-loss
// regulariser's gradient, and the optimiser step. It owns the buffers, so a
// step allocates nothing.
type Stepper struct {
	Model *model.MLP
	Opt   optim.Optimizer
	Reg   regularize.Regularizer // nil for none (and for L2, which lives in Opt)
	WS    *model.Workspace
	Grad  []float32 // the last step's gradient, laid out as Model.Params
	// DataGrad, when not nil, receives the data loss's gradient alone
	// before Reg adds its own to Grad (per-sample statistics need it).
	DataGrad []float32
}

// NewStepper sizes the buffers for batches of up to maxBatch rows.
func NewStepper(m *model.MLP, opt optim.Optimizer, reg regularize.Regularizer, maxBatch int) *Stepper {
	return &Stepper{Model: m, Opt: opt, Reg: reg, WS: m.NewWorkspace(maxBatch), Grad: make([]float32, len(m.Params))}
}

// Gradient computes the batch's loss and the full gradient (data loss plus
// regulariser) into s.Grad without updating anything but BatchNorm's
// running statistics.
func (s *Stepper) Gradient(x []float32, y []int32) (loss, regLoss float64, correct int) {
	rows := len(y)
	s.Model.Forward(s.WS, x, rows, true)
	loss, correct = s.Model.CrossEntropy(s.WS, y)
	s.Model.Backward(s.WS, s.Grad)
	if s.Reg != nil {
		if s.DataGrad != nil {
			copy(s.DataGrad, s.Grad)
		}
		regLoss = s.Reg.AddGrad(s.Model.Params, s.Grad)
	}
	return loss, regLoss, correct
}

// Step is Gradient followed by one optimiser update.
func (s *Stepper) Step(x []float32, y []int32) (loss, regLoss float64, correct int) {
	loss, regLoss, correct = s.Gradient(x, y)
	s.Opt.Step(s.Model.Params, s.Grad)
	return loss, regLoss, correct
}
