package curvature

import (
	"math"

	"github.com/lot-toolkit/lot/model"
)

// Term is the Hessian of a penalty in the loss whose Hessian is not c·I
// (spectral regularisation), as the curvature operators add it.
type Term interface {
	// Prepare fixes the point at which AddHVP's products are taken; call
	// it whenever params changed, before the products.
	Prepare(params []float32) error
	// AddHVP adds the penalty's Hessian times v to dst, where v and dst
	// are the coordinates params[off : off+len(v)] (the rest of v's
	// direction zero).
	AddHVP(off int, v, dst []float64)
}

// Hessian is the Hessian of a model's minibatch loss as an Operator: the
// whole network, or the diagonal block of one parameter group. An in-loss
// regulariser whose Hessian is c·I (Wasserstein, L2-init) is included
// through RegScale = c, one whose Hessian is not through Term (nil for
// none). Products are exact (model.HVP's R-operator), in float32 inside,
// float64 at this interface.
type Hessian struct {
	hvp      *model.HVP
	group    int // -1 for the whole network
	off, n   int // the operator's coordinates are the parameters [off, off+n)
	RegScale float64
	Term     Term
	v, out   []float32
}

// NewHessian wraps h for the whole network (group < 0) or one group's block.
func NewHessian(h *model.HVP, m *model.MLP, group int, regScale float64) *Hessian {
	off, n := 0, len(m.Params)
	if group >= 0 {
		off, n = m.Groups[group].Offset, m.Groups[group].Len
	}
	return &Hessian{hvp: h, group: group, off: off, n: n, RegScale: regScale, v: make([]float32, n), out: make([]float32, n)}
}

func (H *Hessian) Dim() int { return H.n }

func (H *Hessian) Apply(dst, v []float64) {
	for i, x := range v {
		// Flush what would be a float32 subnormal to zero: warm-started
		// directions decay along zero-curvature coordinates (dead units)
		// to 1e-40 and below, and subnormal operands slow OpenBLAS's
		// products tenfold. Against a unit vector the change is nil.
		if math.Abs(x) < 1e-30 {
			x = 0
		}
		H.v[i] = float32(x)
	}
	if H.group < 0 {
		H.hvp.Apply(H.v, H.out)
	} else {
		H.hvp.ApplyBlock(H.group, H.v, H.out)
	}
	for i, x := range H.out {
		dst[i] = float64(x) + H.RegScale*v[i]
	}
	if H.Term != nil {
		H.Term.AddHVP(H.off, v, dst)
	}
}
