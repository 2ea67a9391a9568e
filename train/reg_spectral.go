package train

import (
	"fmt"
	"math"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/regularize"
)

// SpectralConfig holds the spectral regulariser's constants (--reg
// spectral; λ is reg_strength).
type SpectralConfig struct {
	K     float64 `yaml:"k"`     // the penalty is λ·Σ(σ1^k − 1)²
	Iters int     `yaml:"iters"` // warm-started power iterations per step
}

// defaultSpectral: k = 2 and one power iteration per step, as the authors'
// public code (which draws a fresh random start each step; lot warm-starts).
var defaultSpectral = SpectralConfig{K: 2, Iters: 1}

var _ = registerKnobs(
	Knob{Flag: "spectral-k", Help: "k of `--reg spectral`'s penalty λ·Σ_W (σ1(W)^k − 1)²; positive",
		field: func(c *Config) any { return &c.Spectral.K }, check: func(c *Config) error {
			if !(c.Spectral.K > 0) || math.IsInf(c.Spectral.K, 0) {
				return fmt.Errorf("must be a positive number, got %v", c.Spectral.K)
			}
			return nil
		}},
	Knob{Flag: "spectral-iters", Help: "power iterations on WᵀW per update for `--reg spectral`, warm-started at the last step's vector",
		field: func(c *Config) any { return &c.Spectral.Iters }, check: func(c *Config) error { return atLeast(c.Spectral.Iters, 1) }},
)

// regTerm is the Hessian of the config's in-loss penalty for the
// diagnostics where it is not c·I (spectral), else nil.
func (r *run) regTerm() curvature.Term {
	if r.cfg.Reg == "spectral" {
		return regularize.NewSpectralHessian(r.cfg.RegStrength, r.cfg.Spectral.K, r.m)
	}
	return nil
}

// newReg builds the config's in-loss regulariser anchored at r.anchor.
func (r *run) newReg() (regularize.Regularizer, error) {
	if r.cfg.Reg == "spectral" {
		return regularize.NewSpectral(r.cfg.RegStrength, r.cfg.Spectral.K, r.cfg.Spectral.Iters, r.m)
	}
	return regularize.New(r.cfg.Reg, r.cfg.RegStrength, r.m, r.anchor)
}
