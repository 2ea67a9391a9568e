package experiments

import (
	"math"
	"testing"
)

// TestMeanCI: [1, 2, 3] has mean 2, sample sd 1, so the 95% half-width is
// t(0.975, 2 dof)·1/√3 = 4.303/√3; one value has no interval.
func TestMeanCI(t *testing.T) {
	m, h := meanCI([]float64{1, 2, 3})
	if m != 2 || math.Abs(h-4.303/math.Sqrt(3)) > 1e-12 {
		t.Fatalf("mean %v half %v", m, h)
	}
	if _, h := meanCI([]float64{5}); !math.IsNaN(h) {
		t.Fatal("one seed gave an interval")
	}
	// Beyond the table t approaches 1.96: at 30 seeds t = 2.045.
	if math.Abs(tCrit(30)-2.045) > 0.01 {
		t.Fatalf("t(30) = %v", tCrit(30))
	}
}

// TestBaselineRunsCoverEveryMethod: each stream × method × seed once, with
// full diagnostics, and the spectral one regularised spectrally.
func TestBaselineRunsCoverEveryMethod(t *testing.T) {
	runs := baselineRuns(Setup{Scale: "smoke", Seeds: 3, Protocol: "paper"})
	if len(runs) != len(baselineStreams)*len(baselineMethods)*3 {
		t.Fatalf("%d runs", len(runs))
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if seen[r.Name] {
			t.Fatalf("run %s twice", r.Name)
		}
		seen[r.Name] = true
		if err := r.Config.Validate(); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if r.Config.Diagnostics.Level != "full" {
			t.Fatalf("%s: diagnostics %s", r.Name, r.Config.Diagnostics.Level)
		}
	}
	for _, r := range runs {
		if r.Name == "baselines-permuted-spectral-s2" {
			if c := r.Config; c.Reg != "spectral" || c.Method != "vanilla" || c.Stream != "permuted" || c.Seed != 2 {
				t.Fatalf("spectral run: method %s reg %s stream %s seed %d", c.Method, c.Reg, c.Stream, c.Seed)
			}
			return
		}
	}
	t.Fatal("no spectral run")
}

// TestTrackCell: a signal that follows the accuracy tracks it, one that
// moves against it tracks it too (|r|), one unrelated does not, and one
// that never moves says so instead of a correlation.
func TestTrackCell(t *testing.T) {
	acc := []float64{0.5, 0.4, 0.3, 0.35, 0.2}
	for _, c := range []struct {
		signal []float64
		cell   string
		tracks bool
	}{
		{[]float64{5, 4, 3, 3.5, 2}, "r = +1.00", true},
		{[]float64{-5, -4, -3, -3.5, -2}, "r = -1.00", true},
		{[]float64{1, 3, 2, 1, 3}, "r = -0.56", false}, // by hand: −0.25/√(0.05·4)
		{[]float64{1, 1, 1, 1, 1}, "constant, 1.00", false},
		{[]float64{1, math.NaN(), 1, 1, 1}, "constant, 1.00", false},
	} {
		cell, tracks := trackCell(c.signal, acc)
		if cell != c.cell || tracks != c.tracks {
			t.Errorf("signal %v: %q %v, want %q %v", c.signal, cell, tracks, c.cell, c.tracks)
		}
	}
}
