package diagnostics

import (
	"fmt"
	"math/rand/v2"
)

// solverStart is where a reduced-space sharpness solver starts: its last
// eigenvector (as the solver interface returns it, and whether it holds
// one), and the stream random starts are drawn from without one, whose
// state the checkpoint keeps (RandState) so that a resumed run draws what
// an uninterrupted one would.
type solverStart struct {
	solver string // names the solver in errors
	v64    []float64
	warm   bool
	src    *rand.PCG
	rng    *rand.Rand
}

func newSolverStart(solver string, n int, seed, stream uint64) solverStart {
	src := rand.NewPCG(seed, stream)
	return solverStart{solver: solver, v64: make([]float64, n), src: src, rng: rand.New(src)}
}

// RandState returns the state of the stream random starts are drawn from.
func (s *solverStart) RandState() []byte {
	b, _ := s.src.MarshalBinary() // a PCG always marshals
	return b
}

// SetRandState restores a state from RandState.
func (s *solverStart) SetRandState(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s random state: %w", s.solver, err)
	}
	return nil
}

// Warm is the last eigenvector, nil before the first solve.
func (s *solverStart) Warm() []float64 {
	if !s.warm {
		return nil
	}
	return s.v64
}
