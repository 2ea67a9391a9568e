//go:build !cgo || purego

package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

const backend = "gonum"

var impl gonum.Implementation

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// setThreads is a no-op: gonum's Sgemm parallelises on its own, in a fixed
// block order, so its results do not depend on the thread count.
func setThreads(int) {}

// Kernel names the kernel in use.
func Kernel() string { return "gonum (pure Go)" }

func dot(a, b []float32) float32 { return impl.Sdot(len(a), a, 1, b, 1) }

func gram64(a []float64, w, n int, out []float64) {
	impl.Dgemm(blas.NoTrans, blas.Trans, n, n, w, 1, a, w, a, w, 0, out[:n*n], n)
}
