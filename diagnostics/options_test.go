package diagnostics

import (
	"errors"
	"testing"

	"github.com/lot-toolkit/lot/internal/keyerr"
)

// TestOptionsZeroIsHonouredOrRefused: Validate checks the values as given
// (no zero is replaced by its default): zeros that mean something pass,
// the others are refused naming their config key.
func TestOptionsZeroIsHonouredOrRefused(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for name, set := range map[string]func(*Options){
		"beta 0":   func(o *Options) { o.Beta = 0 },
		"code_c 0": func(o *Options) { o.CodeC = 0 },
	} {
		o := DefaultOptions()
		set(&o)
		if err := o.Validate(); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for key, set := range map[string]func(*Options){
		"window":         func(o *Options) { o.Window = 0 },
		"kappa":          func(o *Options) { o.Kappa = 0 },
		"power_tol":      func(o *Options) { o.PowerTol = -1 },
		"power_iters":    func(o *Options) { o.PowerMaxIter = 0 },
		"fisher_samples": func(o *Options) { o.FisherSamples = 0 },
		"vol_stat":       func(o *Options) { o.VolStat = "" },
		"code_s":         func(o *Options) { o.CodeS = "" },
		"solver":         func(o *Options) { o.Solver = "" },
		"beta":           func(o *Options) { o.Beta = 1.5 },
		"code_c":         func(o *Options) { o.CodeC = -1 },
	} {
		o := DefaultOptions()
		set(&o)
		var ke *keyerr.Error
		if err := o.Validate(); !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("%s: got %v, want a key error naming %s", key, err, key)
		}
	}
}
