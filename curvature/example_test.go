package curvature_test

import (
	"fmt"

	"github.com/lot-toolkit/lot/curvature"
)

// A symmetric 3×3 matrix with eigenvalues 4, 2 and 1 (its trace is 7), seen
// only through products, as the solvers see a Hessian.
var example = curvature.Dense(3, []float64{
	3, 1, 0,
	1, 3, 0,
	0, 0, 1,
})

// The top eigenvalue by power iteration, to a relative residual of 1e-10.
func ExamplePowerIteration() {
	res := curvature.PowerIteration(example, curvature.PowerOptions{MaxIter: 1000, Tol: 1e-10, Seed: 1})
	fmt.Printf("λ = %.6f, converged: %v\n", res.Value, res.Converged)
	// Output: λ = 4.000000, converged: true
}

// Every eigenvalue, largest first, by Lanczos with full
// reorthogonalisation (exact once the Krylov space is the whole space).
func ExampleTopEigenvalues() {
	values, _ := curvature.TopEigenvalues(example, 3, 1)
	fmt.Printf("%.6f\n", values)
	// Output: [4.000000 2.000000 1.000000]
}

// Hutchinson's estimate of the trace: each Rademacher sample zᵀAz is
// 7 ± 2 here (the off-diagonal pair contributes ±2), so the mean of many
// is close to 7.
func ExampleTrace() {
	mean, stderr := curvature.Trace(example, 10000, 1)
	fmt.Printf("within three standard errors of 7: %v\n", mean-7 < 3*stderr && 7-mean < 3*stderr)
	// Output: within three standard errors of 7: true
}
