package diagnostics

import (
	"math"

	"github.com/lot-toolkit/lot/rng"
)

// The authors' public code measures sharpness differently from the paper's
// text in two ways; each is an option with a name (Options.SharpnessNorm,
// Options.SharpnessStart), and the defaults are the notes' reading.
const (
	// NormLayer normalises each layer's sharpness by its own
	// α_agg = η_ℓ/(RMS(√v̂_ℓ)+ε), v̂ bias-corrected (the default).
	NormLayer = "layer"
	// NormGlobal is the authors' code: one factor for every layer,
	// lr₀/(√(mean v + 1e-16) + ε), v Adam's raw (not bias-corrected)
	// second moment over all parameters, lr₀ and ε group 0's.
	NormGlobal = "global"

	// StartWarm starts each sharpness solve from the previous one's
	// eigenvector (the default).
	StartWarm = "warm"
	// StartCold starts each solve from a fresh random normal vector, as
	// the authors' code does (100 power iterations from torch.randn). The
	// vector is drawn from the named stream (Seed, "sharpness-start",
	// step, k), k the solver (group index; len(Groups) for the whole
	// network), so a resumed run draws the same starts and nothing needs
	// saving.
	StartCold = "cold"
)

// coldStart fills v with the solver k's start for the step: a unit vector
// of independent normal components from the stream (seed,
// "sharpness-start", step, k).
func coldStart(v []float64, seed uint64, step int64, k int) {
	r := rng.New(seed, "sharpness-start", int(step), k)
	var s float64
	for i := range v {
		v[i] = r.NormFloat64()
		s += v[i] * v[i]
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= inv
	}
}

// solverTol is the tolerance handed to the solvers: a PowerTol of zero or
// less means no tolerance (every run takes PowerMaxIter products, as the
// authors' fixed 100 iterations), which the curvature solvers spell as a
// negative Tol.
func solverTol(o Options) float64 {
	if o.PowerTol <= 0 {
		return -1
	}
	return o.PowerTol
}
