package curvature

import (
	"math"
	"testing"
)

func TestTrace(t *testing.T) {
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	var trace, offDiag2 float64
	for i := range n {
		trace += a[i*n+i]
		for j := range n {
			if i != j {
				offDiag2 += a[i*n+j] * a[i*n+j]
			}
		}
	}
	// One Rademacher sample has variance 2·Σ_{i≠j} a_ij².
	sampleSD := math.Sqrt(2 * offDiag2)

	mean, se := Trace(Dense(n, a), 100, 1)
	mean16, se16 := Trace(Dense(n, a), 1600, 2)
	t.Logf("tr A = %.4f; 100 samples: %.4f ± %.4f; 1600 samples: %.4f ± %.4f (theory ± %.4f, ± %.4f)",
		trace, mean, se, mean16, se16, sampleSD/10, sampleSD/40)
	if math.Abs(mean-trace) > 4*se || math.Abs(mean16-trace) > 4*se16 {
		t.Errorf("estimates %g ± %g and %g ± %g, trace %g", mean, se, mean16, se16, trace)
	}
	if ratio := se / se16; ratio < 3 || ratio > 5.3 {
		t.Errorf("16× the samples shrank stderr by %g, want about 4", ratio)
	}
	if math.Abs(se16/(sampleSD/40)-1) > 0.15 {
		t.Errorf("stderr %g, theory %g", se16, sampleSD/40)
	}
}

func TestTraceExactForDiagonal(t *testing.T) {
	mean, se := Trace(diagonal{1, -2, 3.5, 4}, 10, 3)
	if mean != 6.5 || se != 0 {
		t.Errorf("diagonal: %g ± %g, want exactly 6.5 ± 0", mean, se)
	}
	if _, se := Trace(diagonal{1}, 1, 0); !math.IsNaN(se) {
		t.Errorf("one sample: stderr %g, want NaN", se)
	}
}
