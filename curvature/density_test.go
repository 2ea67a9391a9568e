package curvature

import (
	"math"
	"math/rand/v2"
	"testing"
)

// clusteredSpectrum is n = 200 eigenvalues: half planted in a tight cluster
// at 2, the rest spread over [−1, 5].
func clusteredSpectrum() []float64 {
	rng := rand.New(rand.NewPCG(5, 5))
	lambda := make([]float64, 200)
	for i := range lambda {
		if i%2 == 0 {
			lambda[i] = 2 + 0.01*(rng.Float64()-0.5)
		} else {
			lambda[i] = -1 + 6*rng.Float64()
		}
	}
	return lambda
}

func TestSpectralDensity(t *testing.T) {
	lambda := clusteredSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 3)
	const runs, m, sigma2, points = 20, 40, 1e-3, 2000
	d := SpectralDensity(Dense(n, a), runs, m, sigma2, points, 17)
	if len(d.Nodes) != runs || len(d.Weights) != runs || len(d.Grid) != points || len(d.Value) != points {
		t.Fatalf("shapes: %d, %d runs, %d, %d points", len(d.Nodes), len(d.Weights), len(d.Grid), len(d.Value))
	}

	h := d.Grid[1] - d.Grid[0]
	var integral float64
	for _, v := range d.Value {
		integral += v * h
	}
	t.Logf("∫ density = %.9f", integral)
	if math.Abs(integral-1) > 1e-3 {
		t.Errorf("density integrates to %g", integral)
	}

	// Each run's weights sum to 1, and Σ w·θ = q₀ᵀAq₀ is a Hutchinson
	// sample of tr(A)/n.
	var trace float64
	for _, l := range lambda {
		trace += l
	}
	estimates := make([]float64, runs)
	lo, hi := math.Inf(1), math.Inf(-1)
	for r := range runs {
		if len(d.Nodes[r]) != m || len(d.Weights[r]) != m {
			t.Fatalf("run %d: %d nodes, %d weights, want %d", r, len(d.Nodes[r]), len(d.Weights[r]), m)
		}
		var sum float64
		for j, w := range d.Weights[r] {
			if w < 0 {
				t.Errorf("negative weight %g", w)
			}
			sum += w
			estimates[r] += w * d.Nodes[r][j]
			lo, hi = min(lo, d.Nodes[r][j]), max(hi, d.Nodes[r][j])
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("run %d: weights sum to %.15g", r, sum)
		}
	}
	mean, se := meanAndStderr(estimates)
	t.Logf("mean Σwθ = %.5f ± %.5f, tr(A)/n = %.5f", mean, se, trace/float64(n))
	if math.Abs(mean-trace/float64(n)) > 4*se {
		t.Errorf("Σwθ averages %g ± %g, want tr(A)/n = %g", mean, se, trace/float64(n))
	}

	// The grid spans the nodes with 5σ to spare on each side.
	sigma := math.Sqrt(sigma2)
	if math.Abs(d.Grid[0]-(lo-5*sigma)) > 1e-12 || math.Abs(d.Grid[points-1]-(hi+5*sigma)) > 1e-12 {
		t.Errorf("grid [%g, %g], nodes [%g, %g]", d.Grid[0], d.Grid[points-1], lo, hi)
	}

	// The density peaks at the planted cluster, holding about half the mass.
	peak := 0
	for i, v := range d.Value {
		if v > d.Value[peak] {
			peak = i
		}
	}
	var clusterMass float64
	for i, x := range d.Grid {
		if math.Abs(x-2) < 0.15 {
			clusterMass += d.Value[i] * h
		}
	}
	t.Logf("peak at %.4f, mass within 2 ± 0.15: %.3f", d.Grid[peak], clusterMass)
	if math.Abs(d.Grid[peak]-2) > 0.02 {
		t.Errorf("density peaks at %g, want the cluster at 2", d.Grid[peak])
	}
	if clusterMass < 0.4 || clusterMass > 0.6 {
		t.Errorf("mass near the cluster %g, want about 0.5", clusterMass)
	}
}

func TestSpectralDensityMatchesKernelSum(t *testing.T) {
	// On a grid that resolves the kernel, the cell averages equal the
	// Gaussian mixture evaluated pointwise, computed here independently.
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	const sigma2 = 0.05
	d := SpectralDensity(Dense(n, a), 4, 15, sigma2, 4000, 1)
	h := d.Grid[1] - d.Grid[0]
	if h > math.Sqrt(sigma2)/5 {
		t.Fatalf("grid too coarse for the check: h = %g", h)
	}
	var worst, peak float64
	for i, x := range d.Grid {
		var want float64
		for r := range d.Nodes {
			for j, node := range d.Nodes[r] {
				want += d.Weights[r][j] * math.Exp(-(x-node)*(x-node)/(2*sigma2)) / math.Sqrt(2*math.Pi*sigma2)
			}
		}
		want /= float64(len(d.Nodes))
		worst = max(worst, math.Abs(d.Value[i]-want))
		peak = max(peak, want)
	}
	if worst > 1e-3*peak {
		t.Errorf("max |cell average − point value| = %g (peak %g)", worst, peak)
	}
}

func TestSpectralDensityCoarseGridStillNormalised(t *testing.T) {
	// σ far below the grid spacing: point sampling would lose the peaks.
	lambda := testSpectrum()
	n := len(lambda)
	a, _ := symmetricWithSpectrum(lambda, 1)
	d := SpectralDensity(Dense(n, a), 3, 20, 1e-8, 50, 2)
	h := d.Grid[1] - d.Grid[0]
	var integral float64
	for _, v := range d.Value {
		integral += v * h
	}
	if math.Abs(integral-1) > 1e-9 {
		t.Errorf("coarse grid: density integrates to %.12g", integral)
	}
}

func TestSpectralDensityExactForFewEigenvalues(t *testing.T) {
	// Three distinct eigenvalues: each run breaks down after 3 steps and its
	// Gauss rule is exact, with weights the squared projections of the
	// normalised Rademacher start.
	d := SpectralDensity(diagonal{3, 3, 1, 1, 1, 1, -2, -2}, 5, 8, 1e-4, 100, 3)
	for r := range d.Nodes {
		if len(d.Nodes[r]) != 3 {
			t.Fatalf("run %d: %d nodes, want 3", r, len(d.Nodes[r]))
		}
		for j, want := range []float64{3, 1, -2} {
			if math.Abs(d.Nodes[r][j]-want) > 1e-12 {
				t.Errorf("run %d node %d = %g, want %g", r, j, d.Nodes[r][j], want)
			}
		}
		// Rademacher entries all have square 1/n, so the weights are the
		// multiplicities over n.
		for j, want := range []float64{2.0 / 8, 4.0 / 8, 2.0 / 8} {
			if math.Abs(d.Weights[r][j]-want) > 1e-12 {
				t.Errorf("run %d weight %d = %g, want %g", r, j, d.Weights[r][j], want)
			}
		}
	}
}

func TestSpectralDensityPanicsOnBadArguments(t *testing.T) {
	d := diagonal{1, 2}
	for name, f := range map[string]func(){
		"runs":   func() { SpectralDensity(d, 0, 2, 1e-3, 10, 0) },
		"m":      func() { SpectralDensity(d, 1, 0, 1e-3, 10, 0) },
		"sigma2": func() { SpectralDensity(d, 1, 2, 0, 10, 0) },
		"points": func() { SpectralDensity(d, 1, 2, 1e-3, 1, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func meanAndStderr(x []float64) (mean, stderr float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1) / float64(len(x)))
}
