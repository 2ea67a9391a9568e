package curvature

import (
	"fmt"
	"math"
)

// densityPad is how many kernel standard deviations the grid extends beyond
// the extreme nodes; the kernel mass beyond it is below 3e-7.
const densityPad = 5

// Density is a stochastic Lanczos quadrature estimate of the eigenvalue
// density of an operator, φ(t) = (1/n) Σᵢ δ(t − λᵢ), smoothed by a Gaussian.
type Density struct {
	// Nodes and Weights hold one Gauss quadrature rule per Lanczos run: the
	// Ritz values (descending) and the squared first components of the
	// corresponding eigenvectors of T. Each run's weights sum to 1, and
	// Σ weight·f(node) estimates (1/n)·tr f(A).
	Nodes, Weights [][]float64
	// Grid is evenly spaced over [min node − 5σ, max node + 5σ]; Value is the
	// broadened density averaged over runs, Value[i] being the mean over
	// the grid cell of width h centred on Grid[i]. Σ Value·h = 1 up to the
	// kernel mass beyond the padding.
	Grid, Value []float64
}

// SpectralDensity estimates the eigenvalue density of op by stochastic
// Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; PyHessian's density):
// runs independent Lanczos runs of m steps (m > n is treated as n; a run stops
// early on breakdown, where its rule is exact) from Rademacher starts, whose
// Gauss rules are averaged and broadened by a Gaussian kernel of variance
// sigma2 (σ² — a variance, not a standard deviation, and absolute: PyHessian
// instead scales its σ² by max(1, spectrum width)) onto a grid of points
// points.
//
// Each grid value is the kernel mass in the cell around the grid point
// divided by the cell width, not the kernel's value at the point. The two
// agree to O(h²/σ²) on a grid fine enough to resolve the kernel; on a coarser
// grid the cell mass still integrates to 1 where point values would miss
// narrow peaks, so no renormalisation is needed.
//
// It panics if runs < 1, m < 1, sigma2 ≤ 0 or points < 2.
func SpectralDensity(op Operator, runs, m int, sigma2 float64, points int, seed uint64) Density {
	n := dimOf(op)
	switch {
	case runs < 1, m < 1, points < 2:
		panic(fmt.Sprintf("curvature: SpectralDensity needs runs, m ≥ 1 and points ≥ 2, got %d, %d, %d", runs, m, points))
	case !(sigma2 > 0) || math.IsInf(sigma2, 0):
		panic(fmt.Sprintf("curvature: SpectralDensity needs a finite kernel variance sigma2 > 0, got %g", sigma2))
	}
	m = min(m, n)
	k := newKrylov(op, m, newRand(seed), false)
	d := Density{Nodes: make([][]float64, runs), Weights: make([][]float64, runs)}
	lo, hi := math.Inf(1), math.Inf(-1)
	for run := range runs {
		k.reset()
		fillRademacher(k.rng, k.row(0))
		normalize(k.row(0))
		k.extend(m)
		e := k.eigen()
		nodes, weights := e.descending(), make([]float64, e.m)
		for i := range weights {
			weights[e.m-1-i] = e.firstWeight(i)
		}
		d.Nodes[run], d.Weights[run] = nodes, weights
		lo, hi = min(lo, nodes[e.m-1]), max(hi, nodes[0])
	}

	sigma := math.Sqrt(sigma2)
	lo, hi = lo-densityPad*sigma, hi+densityPad*sigma
	h := (hi - lo) / float64(points-1)
	d.Grid, d.Value = make([]float64, points), make([]float64, points)
	for i := range d.Grid {
		d.Grid[i] = lo + float64(i)*h
	}
	// Each node puts its kernel mass into the cells within 9σ of it (beyond,
	// the mass is below 1e-18), reusing each cell edge's CDF for its
	// neighbour.
	scale := 1 / (float64(runs) * h)
	for run := range runs {
		for j, node := range d.Nodes[run] {
			w := d.Weights[run][j] * scale
			first := max(0, int(math.Floor((node-9*sigma-lo)/h+0.5)))
			last := min(points-1, int(math.Ceil((node+9*sigma-lo)/h+0.5)))
			below := normalCDF((d.Grid[first] - h/2 - node) / sigma)
			for i := first; i <= last; i++ {
				upTo := normalCDF((d.Grid[i] + h/2 - node) / sigma)
				d.Value[i] += w * (upTo - below)
				below = upTo
			}
		}
	}
	return d
}

// normalCDF is the standard normal distribution function.
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
