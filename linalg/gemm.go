package linalg

import "errors"

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or Xᵀ as transA and transB say. op(A) is m×k, op(B) is k×n and
// C is m×n; lda, ldb and ldc are the row strides of A, B and C as stored.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SetThreads sets how many threads the matrix products may use. The same
// thread count always gives the same numbers; different counts may differ in
// the last bits, because the products then sum in a different order.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	setThreads(n)
}

// Backend names the BLAS implementation in use: "openblas", or "gonum" in
// the pure-Go build and where OpenBLAS could not be loaded (see Ready).
func Backend() string {
	if loadError() != nil {
		return "gonum"
	}
	return backend
}

// ErrNoOpenBLAS is wrapped by Ready's error when libopenblas cannot be
// loaded.
var ErrNoOpenBLAS = errors.New("cannot load OpenBLAS")

// Ready loads the BLAS back end and returns why it cannot be used (an error
// wrapping ErrNoOpenBLAS when libopenblas is missing), nil when it can.
// Products never fail: without OpenBLAS they run on gonum's pure-Go BLAS,
// many times slower and not bit-identical, so a program that wants
// OpenBLAS's numbers calls Ready first and stops on its error.
func Ready() error { return loadError() }

// Dot is Σ a_i·b_i in float32 (SIMD lanes); use it for short vectors and
// SumSquares for long ones.
func Dot(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	return dot(a, b[:len(a)])
}

// SumSquares is Σ v_i², summed in float32 blocks of 4096 (so each block's
// rounding error stays near 1e-6) and across blocks in float64.
func SumSquares(v []float32) float64 {
	var s float64
	for len(v) > 0 {
		n := min(len(v), 4096)
		s += float64(dot(v[:n], v[:n]))
		v = v[n:]
	}
	return s
}

// Gram64 writes into out (n×n, row-major) the Gram matrix of the first n
// rows of a (row length w), in float64: the rows are widened once and
// multiplied in double precision, so small singular values survive.
func Gram64(a []float32, w, n int, out []float64) {
	if n == 0 {
		return
	}
	a64 := make([]float64, n*w)
	for i, v := range a[:n*w] {
		a64[i] = float64(v)
	}
	gram64(a64, w, n, out)
}

// Dot64 is Σ a_i·b_i, summed in float32 blocks of 4096 and across blocks in
// float64, like SumSquares.
func Dot64(a, b []float32) float64 {
	var s float64
	b = b[:len(a)]
	for len(a) > 0 {
		n := min(len(a), 4096)
		s += float64(dot(a[:n], b[:n]))
		a, b = a[n:], b[n:]
	}
	return s
}
