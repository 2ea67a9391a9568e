// Package curvature owns the eigen-solvers that lot runs over a
// Hessian-vector-product operator: power iteration, Lanczos, stochastic
// Lanczos quadrature for the spectral density, and Hutchinson's trace
// estimator, in the spirit of PyHessian's compact API.
//
// Every solver sees the matrix only through [Operator], so the same code runs
// on a whole Hessian, on one layer's diagonal block of it, or on a [Dense]
// test matrix. [Hessian] is that operator for a model's loss; an in-loss
// penalty whose Hessian is not c·I joins it as a [Term]. All arithmetic and accumulation is in float64 whatever the
// precision of the model behind the operator.
//
// Costs, counted in operator applications (Hessian-vector products):
//
//   - [PowerIteration] and [PowerIterator]: one per iteration; a
//     [PowerIterator] reuses its buffers and warm-starts from its last
//     eigenvector, so calling it every few training steps allocates nothing.
//   - [Lanczos] and [TopEigenvalues]: one per step; full reorthogonalisation
//     keeps all m basis vectors (m·n float64s) and costs O(m²n) flops.
//   - [SpectralDensity]: runs·m.
//   - [Trace]: one per sample.
//
// Randomness comes from math/rand/v2's PCG seeded by the caller, so every
// result is reproducible from its seed.
package curvature
