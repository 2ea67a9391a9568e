package linalg

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gonum's pure-Go BLAS: the purego build's back end, and the OpenBLAS
// build's fallback where libopenblas cannot be loaded.

var impl gonum.Implementation

func gonumGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gonumDot(a, b []float32) float32 { return impl.Sdot(len(a), a, 1, b, 1) }

func gonumGram64(a []float64, w, n int, out []float64) {
	impl.Dgemm(blas.NoTrans, blas.Trans, n, n, w, 1, a, w, a, w, 0, out[:n*n], n)
}
