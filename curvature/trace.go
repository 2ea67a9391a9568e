package curvature

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// Trace estimates tr(A) by Hutchinson's method: the mean of zᵀAz over samples
// independent Rademacher vectors z, each an unbiased estimate of the trace,
// with the standard error of that mean (sample standard deviation /
// √samples). The variance of one sample is 2·Σ_{i≠j} a_ij², so the estimate
// is exact for a diagonal A. stderr is NaN when samples = 1. Trace panics if
// samples < 1.
func Trace(op Operator, samples int, seed uint64) (mean, stderr float64) {
	n := dimOf(op)
	if samples < 1 {
		panic(fmt.Sprintf("curvature: Trace with %d samples, want ≥ 1", samples))
	}
	rng := newRand(seed)
	z, az := make([]float64, n), make([]float64, n)
	// Welford's update keeps the variance accurate when the spread is small
	// next to the mean.
	var m2 float64
	for s := 1; s <= samples; s++ {
		fillRademacher(rng, z)
		op.Apply(az, z)
		x := floats.Dot(z, az)
		delta := x - mean
		mean += delta / float64(s)
		m2 += delta * (x - mean)
	}
	if samples == 1 {
		return mean, math.NaN()
	}
	return mean, math.Sqrt(m2 / float64(samples-1) / float64(samples))
}
