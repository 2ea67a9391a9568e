package diagnostics

import (
	"fmt"
	"math/rand/v2"

	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
)

// reducedSpace is what the solvers in a layer's reduced (batch × out)
// space share: the model and its pass, the layer, their settings,
// G̃ = X̃X̃ᵀ of the layer's input, and where
// a solve starts: the last eigenvector (as the solver interface returns
// it, and whether it holds one), and the stream random starts are drawn
// from without one, whose state the checkpoint keeps (RandState) so that a
// resumed run draws what an uninterrupted one would.
type reducedSpace struct {
	solver   string // names the solver in errors
	m        *model.MLP
	hvp      *model.HVP
	ws       *model.Workspace
	layer    int // the linear layer whose block is solved
	out, in  int
	maxIter  int
	tol      float64
	regScale float64
	g        []float32 // G̃, B×B

	v64  []float64
	warm bool
	src  *rand.PCG
	rng  *rand.Rand
}

func newReducedSpace(solver string, m *model.MLP, hvp *model.HVP, ws *model.Workspace, layer, maxIter int, tol float64, seed, stream uint64) reducedSpace {
	_, _, in, out := m.Linear(layer)
	src := rand.NewPCG(seed, stream)
	return reducedSpace{solver: solver, m: m, hvp: hvp, ws: ws, layer: layer, out: out, in: in, maxIter: maxIter, tol: tol,
		g: make([]float32, ws.MaxBatch*ws.MaxBatch), v64: make([]float64, out*(in+1)), src: src, rng: rand.New(src)}
}

// input is the layer's input in the last pass, rows×in.
func (s *reducedSpace) input() []float32 { return s.ws.LayerInput(s.layer) }

// gram forms G̃ = X·Xᵀ + 1·1ᵀ of the layer's input in the last pass, rows×rows.
func (s *reducedSpace) gram(rows int) []float32 {
	x := s.input()
	g := s.g[:rows*rows]
	linalg.Gemm(false, true, rows, rows, s.in, 1, x, s.in, x, s.in, 0, g, rows)
	for i := range g {
		g[i]++
	}
	return g
}

// RandState returns the state of the stream random starts are drawn from.
func (s *reducedSpace) RandState() []byte {
	b, _ := s.src.MarshalBinary() // a PCG always marshals
	return b
}

// SetRandState restores a state from RandState.
func (s *reducedSpace) SetRandState(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s random state: %w", s.solver, err)
	}
	return nil
}

// Warm is the last eigenvector, nil before the first solve.
func (s *reducedSpace) Warm() []float64 {
	if !s.warm {
		return nil
	}
	return s.v64
}
