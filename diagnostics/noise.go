package diagnostics

import "math"

// noiseFloor is the relative size below which a noise estimate counts as
// zero. σ² = (1/B)Σ‖g_i‖² − ‖ḡ‖² is the difference of two float32
// computations: ḡ sums B rows in float32 (relative error up to about
// B·6e-8), the per-sample norms use dot products. Where the per-sample
// gradients agree the difference is rounding and can come out negative:
// with 256 equal samples through a 784-256-256-10 net it came out between
// −2.3e-6 and −2e-8 of (1/B)Σ‖g_i‖². An estimate below
// noiseFloor·(1/B)Σ‖g_i‖² is therefore taken as zero; a real one that
// small would put α_g* above 1e4·B anyway.
const noiseFloor = 1e-4

// gradNoise returns the per-sample gradient noise σ² from Σ_i‖g_i‖²
// (sumSq), the batch size B and ‖ḡ‖² (g2), and whether the estimate was
// degenerate: below the rounding floor (or negative), clamped to 0, so
// that α_g* = B‖ĝ‖²/σ² and α̃* never turn negative (α_g* is then +Inf,
// null in JSON: no noise bound); or not a number (NaN gradients), NaN.
func gradNoise(sumSq, B, g2 float64) (sigma2 float64, clamped bool) {
	mean := sumSq / B
	s := mean - g2
	switch {
	case math.IsNaN(s):
		return math.NaN(), true
	case s <= noiseFloor*mean:
		return 0, true
	}
	return s, false
}
