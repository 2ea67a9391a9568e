package curvature

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Operator is a symmetric linear operator on R^n, such as a Hessian or one
// diagonal block of it. The solvers assume symmetry; they do not check it.
type Operator interface {
	// Dim returns n.
	Dim() int
	// Apply sets dst = A v. dst and v have length n and do not alias.
	Apply(dst, v []float64)
}

// Dense wraps a symmetric row-major n×n matrix as an Operator, for tests and
// small problems. It keeps a, not a copy, and applies it as given: a that is
// not symmetric breaks the solvers' assumptions. Dense panics unless n ≥ 1
// and len(a) == n*n.
func Dense(n int, a []float64) Operator {
	if n < 1 || len(a) != n*n {
		panic(fmt.Sprintf("curvature: Dense needs n ≥ 1 and len(a) = n², got n = %d, len(a) = %d", n, len(a)))
	}
	return dense{n: n, a: a}
}

type dense struct {
	n int
	a []float64
}

func (d dense) Dim() int { return d.n }

func (d dense) Apply(dst, v []float64) {
	if len(dst) != d.n || len(v) != d.n {
		panic(fmt.Sprintf("curvature: Dense.Apply on vectors of length %d and %d, want %d", len(dst), len(v), d.n))
	}
	blas64.Implementation().Dgemv(blas.NoTrans, d.n, d.n, 1, d.a, d.n, v, 1, 0, dst, 1)
}

// dimOf returns op.Dim(), panicking on an operator with no dimensions: every
// solver needs n ≥ 1.
func dimOf(op Operator) int {
	n := op.Dim()
	if n < 1 {
		panic(fmt.Sprintf("curvature: operator dimension %d, want ≥ 1", n))
	}
	return n
}
